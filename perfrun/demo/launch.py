"""Child processes that never outlive perfrun: spawn, readiness probes, group stop.

Used for the demo target and for a scenario's `target:`. A child is started through a
tiny Python launcher that, on Linux, asks the kernel to SIGKILL it when perfrun dies
(`prctl(PR_SET_PDEATHSIG)`, which survives the `exec` of the real command; the launcher
then checks that perfrun did not die before the request took effect) and then `exec`s
the command, so the child's pid is the command's. The child leads its own session and
process group (`start_new_session`): a Ctrl-C in the terminal reaches only perfrun,
which stops the whole group itself (`stop_group`: the stop signal, a grace period, then
SIGKILL). A launcher rather than `preexec_fn`: that one is unsafe with threads, and the
monitor's and workers' threads may be running. The death signal reaches the command
only, not what it started (a server's workers): a reaper beside it, outside its group,
SIGKILLs the whole group when perfrun dies (`REAPER`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

LAUNCHER = """\
import os, sys
parent, command = int(sys.argv[1]), sys.argv[2:]
if sys.platform.startswith("linux"):
    import ctypes, signal
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit(1)
try:
    os.execvp(command[0], command)
except OSError as exc:
    print(f"perfrun: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr, flush=True)
    os._exit(127)
"""
"""argv: perfrun's pid, then the command. Exit 127 when the command cannot be run."""

REAPER = """\
import os, signal, sys
parent, group = int(sys.argv[1]), int(sys.argv[2])
def reap(*_):
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, reap)
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
if os.getppid() != parent:
    reap()
while True:
    signal.pause()
"""
"""argv: perfrun's pid, the child's process group. Outside the child's group (so it is
not in the target's process tree, nor its memory): when perfrun dies, even by SIGKILL,
the kernel sends it SIGTERM (Linux) and it SIGKILLs the whole group, the children the
command started included, which the command's own death signal would not reach."""

_reapers: dict[int, subprocess.Popen[bytes]] = {}
"""The reaper of each spawned child, by the child's pid."""

POLL_INTERVAL = 0.02
TAIL_LINES = 20
_TAIL_BYTES = 64 * 1024


def spawn(
    command: Sequence[str],
    *,
    stdout: int | IO[bytes],
    stderr: int | IO[bytes],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` in its own session, to be SIGKILLed with its whole process group
    if perfrun dies (Linux), by the command's death signal and a reaper's."""
    launcher = [sys.executable, "-S", "-c", LAUNCHER, str(os.getpid())]
    process = subprocess.Popen(
        [*launcher, *command],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=None if env is None else dict(env),
        start_new_session=True,
    )
    _reapers[process.pid] = subprocess.Popen(
        [sys.executable, "-S", "-c", REAPER, str(os.getpid()), str(process.pid)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    return process


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send this process `sig` when its parent dies, even by SIGKILL
    (Linux: `prctl(PR_SET_PDEATHSIG)`; elsewhere nothing is asked). False when `parent`
    (its pid) is already gone: it died before the request took effect, which then never
    fires. The signal follows the parent *thread* that started this process: start it
    from a thread that outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    return os.getppid() == parent


def stop_group(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 5.0
) -> None:
    """`sig` to the child's process group, SIGKILL to the group after `grace` seconds
    (or at once once the child itself ended: what it started must not stay behind).
    Safe to call twice and after the child exited."""
    pgid = process.pid  # the child leads its group (start_new_session)
    try:
        if process.poll() is None:
            _killpg(pgid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
    finally:  # also when a second Ctrl-C ends the grace early
        _killpg(pgid, signal.SIGKILL)
        process.wait()
        reaper = _reapers.pop(process.pid, None)
        if reaper is not None:  # the group is gone: its reaper has nothing to do
            reaper.kill()
            reaper.wait()


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the OS's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status_line(address: tuple[str, int], path: str, host: str, timeout: float) -> bytes:
    """The status line `GET path` gets; OSError when nothing answers."""
    # A raw socket rather than httpx: this runs while waiting for a start, and httpx would
    # cost the import and an SSL context for a single plain-text GET.
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(request.encode())
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(1024)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0]


def http_ok(address: tuple[str, int], path: str, host: str, timeout: float) -> str | None:
    """None when `GET path` answers 2xx, else what went wrong."""
    try:
        line = http_status_line(address, path, host, timeout)
    except OSError as exc:
        return str(exc) or type(exc).__name__
    if line.split(b" ")[1:2] and line.split(b" ")[1].startswith(b"2"):
        return None
    return f"GET {path} answered {line.decode(errors='replace')!r}"


def tcp_open(address: tuple[str, int], timeout: float) -> str | None:
    """None when `address` accepts a connection, else why not."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return None
    except OSError as exc:
        return str(exc) or type(exc).__name__


def wait_until(
    probe: Callable[[float], str | None],
    process: subprocess.Popen[bytes],
    deadline: float,
) -> tuple[bool, str]:
    """Call `probe(timeout)` until it returns None (ready: True, ""); False and the
    reason when the process exits ("exited with code N") or `deadline` passes."""
    problem = "no answer"
    while True:
        code = process.poll()
        if code is not None:
            return False, f"exited with code {code}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, problem
        found = probe(min(remaining, 2.0))
        if found is None:
            return True, ""
        problem = found
        time.sleep(POLL_INTERVAL)


def tail(file: IO[bytes], lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of an open binary file."""
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - _TAIL_BYTES))
    text = file.read().decode(errors="replace").splitlines()
    return "\n".join(text[-lines:])
