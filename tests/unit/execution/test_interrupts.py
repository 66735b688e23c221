"""Stop signals counted, not raised, while the parent collects its workers' figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from multiprocessing.connection import wait

import pytest

from perfrun.execution.interrupts import Held, Interrupts


def test_signals_are_counted_wake_a_wait_and_the_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    with Interrupts() as interrupts:
        assert wait([interrupts.fileno()], timeout=0) == []
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt
        assert wait([interrupts.fileno()], timeout=5) == [interrupts.fileno()]
        interrupts.drain()
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert wait([interrupts.fileno()], timeout=5) == [interrupts.fileno()]
        assert interrupts.count == 3
        assert interrupts.abandon
    assert signal.getsignal(signal.SIGINT) is before


def test_a_signal_ignored_when_perfrun_started_stays_ignored() -> None:
    # In a child: SIGINT ignored there must stay ignored inside, and not be counted.
    code = (
        "import os, signal\n"
        "from perfrun.execution.interrupts import Interrupts\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "with Interrupts() as i:\n"
        "    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    print(i.count)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_held_counts_from_hold_to_release_and_only_then() -> None:
    before = signal.getsignal(signal.SIGINT)
    held = Held()
    with pytest.raises(KeyboardInterrupt):  # not held yet: raised as ever
        signal.raise_signal(signal.SIGINT)
    held.hold()
    held.hold()  # holds once: a second install would keep its own handler as "previous"
    signal.raise_signal(signal.SIGINT)
    signal.raise_signal(signal.SIGTERM)
    held.release()
    assert held.count == 2
    assert signal.getsignal(signal.SIGINT) is before
    held.release()  # released once
    assert held.count == 2


def test_held_never_held_releases_nothing() -> None:
    before = signal.getsignal(signal.SIGINT)
    held = Held()
    held.release()
    assert held.count == 0
    assert signal.getsignal(signal.SIGINT) is before
