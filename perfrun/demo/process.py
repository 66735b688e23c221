"""DemoTarget: run the demo target as a child process for the length of a run.

The child is started by `perfrun.demo.launch.spawn`, like a scenario's `target:`: in its
own session, so a Ctrl-C in the terminal reaches only perfrun, which then stops its process
group itself (SIGTERM, then SIGKILL), and killed by the kernel if perfrun dies. Its stderr
goes to a temporary file that is only read when something went wrong; a file can never
fill up and block the child the way an unread pipe can.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from perfrun.demo import launch
from perfrun.errors import TargetError

LISTENING_PREFIX = "PERFRUN_DEMO_LISTENING"
"""The child's one line on stdout is this, a space, and its base URL."""

_STOP_TIMEOUT = 5.0


class DemoTarget:
    """The demo target as a child process; a context manager that always stops it."""

    def __init__(self, startup_timeout: float = 15.0, command: Sequence[str] | None = None) -> None:
        """`command` replaces `python -m perfrun.demo ...`; tests use it to simulate failures."""
        self.startup_timeout = startup_timeout
        self._command = list(command) if command is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, once started."""
        if self._base_url is None:
            raise RuntimeError("DemoTarget is not started")
        return self._base_url

    @property
    def pid(self) -> int:
        """The child's process id, once started (still readable after stop)."""
        if self._process is None:
            raise RuntimeError("DemoTarget is not started")
        return self._process.pid

    def start(self) -> None:
        """Start the child and wait until it answers `GET /health` with 200.

        Raises TargetError (after stopping the child) if it exits, does not announce its
        URL or does not become healthy within `startup_timeout` seconds.
        """
        if self._process is not None:
            raise RuntimeError("DemoTarget can be started once")
        deadline = time.monotonic() + self.startup_timeout
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives until stop()
        try:
            self._process = launch.spawn(
                self._command or self._default_command(),
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=self._child_env(),
            )
        except OSError as exc:
            self.stop()
            raise TargetError(f"demo target could not be started: {exc}") from exc
        try:
            url = self._read_listening_line(deadline)
            self._wait_healthy(url, deadline)
        except BaseException:
            self.stop()
            raise
        self._base_url = url

    def stop(self) -> None:
        """SIGTERM the child's group, SIGKILL it after 5 s; safe to call twice or after a
        failed start."""
        process = self._process
        if process is not None:
            launch.stop_group(process, grace=_STOP_TIMEOUT)
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._base_url = None

    def __enter__(self) -> DemoTarget:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @staticmethod
    def _default_command() -> list[str]:
        # --parent-pid: in its own session the child would otherwise outlive a perfrun
        # that was SIGKILLed, crashed, or interrupted inside Popen before it could stop it.
        # -P: not the current directory first on sys.path, where another perfrun (a source
        # checkout) would win over the one _child_env puts on PYTHONPATH.
        parent = str(os.getpid())
        module = [sys.executable, "-P", "-m", "perfrun.demo"]
        return [*module, "--port", "0", "--parent-pid", parent]

    def _child_env(self) -> dict[str, str] | None:
        if self._command is not None:
            return None
        # The child must import the same perfrun as this process, also from a source
        # checkout that is not installed and not the current directory.
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        return env

    def _read_listening_line(self, deadline: float) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._failure(
                        f"demo target did not announce its URL within {self.startup_timeout:g} s"
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = process.wait()
                    raise self._failure(
                        f"demo target exited with code {code} before it was listening"
                    )
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode(errors="replace").strip()
        prefix, _, url = line.partition(" ")
        if prefix != LISTENING_PREFIX or not url.startswith("http://"):
            raise self._failure(f"demo target printed {line!r} instead of its URL")
        # Nothing else is expected on stdout; closing it means stray output fails loudly in
        # the child instead of filling a pipe nobody reads.
        process.stdout.close()
        return url

    def _wait_healthy(self, url: str, deadline: float) -> None:
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        process = self._process
        assert process is not None

        def probe(timeout: float) -> str | None:
            return launch.http_ok(address, "/health", parts.netloc, timeout)

        ready, problem = launch.wait_until(probe, process, deadline)
        if ready:
            return
        if problem.startswith("exited"):
            raise self._failure(f"demo target {problem} during startup")
        raise self._failure(
            f"demo target at {url} was not healthy within {self.startup_timeout:g} s ({problem})"
        )

    def _failure(self, message: str) -> TargetError:
        tail = self._stderr_tail()
        if tail:
            message += "\n--- demo target stderr (last lines) ---\n" + tail
        return TargetError(message)

    def _stderr_tail(self) -> str:
        return "" if self._stderr is None else launch.tail(self._stderr)
