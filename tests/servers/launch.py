"""Run tests/servers/target.py as a child: `with start_target("--delay-ms", "50") as t:`;
or a third-party server's command (`start_server`), ready once a URL answers."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

TARGET_SCRIPT = Path(__file__).with_name("target.py")
_LISTENING_PREFIX = "LISTENING "


class TargetProcess:
    """A running target.py; stopping it (SIGTERM, then SIGKILL) is idempotent."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr: IO[bytes]) -> None:
        self.process = process
        self.url = url
        self._stderr = stderr
        self._final_stderr: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 5.0) -> int:
        """Stop the process and return its exit code."""
        _stop(self.process, timeout)
        if self._final_stderr is None:
            self._final_stderr = self.stderr_text()
            self._stderr.close()
        return self.process.returncode

    def stderr_text(self) -> str:
        """Everything the target wrote to stderr so far (also after stop)."""
        if self._final_stderr is not None:
            return self._final_stderr
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def __enter__(self) -> TargetProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_target(*args: str, timeout: float = 15.0, script: Path = TARGET_SCRIPT) -> TargetProcess:
    """Run target.py (or another server `script` of tests/servers that prints its URL the
    same way) with these options; return once it has printed its URL."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the TargetProcess
    process = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        start_new_session=True,
    )
    try:
        url = _read_url(process, time.monotonic() + timeout)
    except BaseException as exc:
        _stop(process, 5.0)
        stderr.seek(0)
        detail = stderr.read().decode(errors="replace")
        stderr.close()
        if not isinstance(exc, Exception):  # KeyboardInterrupt: no wrapping
            raise
        name = f"{script.name} {' '.join(args)}"
        raise RuntimeError(f"{name} did not start ({exc}):\n{detail}") from exc
    return TargetProcess(process, url, stderr)


def start_server(
    command: Callable[[int], Sequence[str]], ready_path: str = "/", timeout: float = 30.0
) -> TargetProcess:
    """Run a server that takes a listening socket's descriptor (`command(fd)` gives its
    command line, e.g. gunicorn's `-b fd://FD`): bound here on a free 127.0.0.1 port, so
    no other process can take the port between choosing and binding it. Returns once
    `ready_path` answers (any HTTP status). The server leads its own process group, and
    stopping it kills the whole group if it lingers: no worker is left behind."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the TargetProcess
    with socket.create_server(("127.0.0.1", 0)) as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        argv = list(command(sock.fileno()))
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            pass_fds=(sock.fileno(),),
        )
    try:
        _wait_ready(process, url + ready_path, time.monotonic() + timeout)
    except BaseException as exc:
        _stop(process, 5.0)
        stderr.seek(0)
        detail = stderr.read().decode(errors="replace")
        stderr.close()
        if not isinstance(exc, Exception):
            raise
        raise RuntimeError(f"{' '.join(argv)} did not start ({exc}):\n{detail}") from exc
    return TargetProcess(process, url, stderr)


def _wait_ready(process: subprocess.Popen[bytes], url: str, deadline: float) -> None:
    while True:
        if process.poll() is not None:
            raise EOFError(f"exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{url} did not answer") from None
            time.sleep(0.05)


def _read_url(process: subprocess.Popen[bytes], deadline: float) -> str:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no LISTENING line")
            if selector.select(remaining):
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise EOFError(f"exited with code {process.wait()}")
                buffer += chunk
    line = buffer.split(b"\n", 1)[0].decode()
    if not line.startswith(_LISTENING_PREFIX):
        raise ValueError(f"unexpected first line {line!r}")
    process.stdout.close()
    return line[len(_LISTENING_PREFIX) :].strip()


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Each server leads its own process group (start_new_session): whatever it forked
        # and left behind (a worker whose master was killed) goes with it. Only now, just
        # after it ended: its group id cannot have been reused yet.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    if process.stdout is not None:
        process.stdout.close()
