"""The service under test, launched from a scenario's `target:` (or `--target-cmd`).

`LaunchedTarget` starts the command with `{port}` filled in (a free loopback port),
its stdout and stderr into a log file, waits until it is ready (http, tcp or a log
line), watches for its exit, and stops its whole process group. `Targets` owns the
run-scoped ones (one process per distinct `target:` for the whole run) and stops
them all on every way out. See perfrun.demo.launch for why no target outlives perfrun.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

from perfrun.demo import launch
from perfrun.errors import TargetError
from perfrun.scenario.target import PORT, ReadyKind, TargetScope, TargetSpec


@dataclass(frozen=True)
class TargetExit:
    """The launched target ended by itself: its exit code (negative: killed by that
    signal) and when (a time.perf_counter() value)."""

    code: int
    at: float


class LaunchedTarget:
    """One launched process; a context manager that always stops its process group."""

    def __init__(self, spec: TargetSpec, base_url: str, log: Path) -> None:
        """`base_url` may hold `{port}`; `log` receives the target's stdout and stderr."""
        self.spec = spec
        self.log = log
        self.port = launch.free_port() if PORT in base_url or spec.uses_port else None
        self.base_url = self._filled(base_url)
        self.command = tuple(self._filled(part) for part in spec.command)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._exit: TargetExit | None = None
        self._stopping = False
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the target is not started")
        return self._process.pid

    @property
    def started(self) -> bool:
        return self._process is not None

    @property
    def exit(self) -> TargetExit | None:
        """How it ended, when it ended by itself (not stopped by perfrun)."""
        return self._exit

    def start(self) -> None:
        """Launch and wait until ready; TargetError (exit 3) with the log's last lines
        when it cannot be run, exits first, or is not ready within the timeout."""
        try:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log.open("w+b")
        except OSError as exc:
            raise TargetError(f"target log {self.log} could not be written: {exc}") from exc
        env = dict(os.environ)
        env.update({name: self._filled(value) for name, value in self.spec.env.items()})
        try:
            self._process = launch.spawn(
                self.command, stdout=self._log, stderr=subprocess.STDOUT,
                cwd=self.spec.cwd, env=env,
            )  # fmt: skip
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the command or env
            self.stop()
            raise TargetError(f"target could not be started: {exc}") from exc
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self._watcher = threading.Thread(target=self._watch, name="perfrun-target", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop signal to the process group, SIGKILL after the grace; safe to call twice."""
        self._stopping = True
        if self._process is not None:
            launch.stop_group(self._process, self.spec.stop_signal, self.spec.grace)
        if self._watcher is not None:
            self._watcher.join()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LaunchedTarget:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _filled(self, text: str) -> str:
        return text if self.port is None else text.replace(PORT, str(self.port))

    def _watch(self) -> None:
        process = self._process
        assert process is not None
        code = process.wait()
        if not self._stopping:
            self._exit = TargetExit(code, time.perf_counter())

    def _wait_ready(self) -> None:
        process, ready = self._process, self.spec.ready
        assert process is not None
        parts = urlsplit(self.base_url)
        default_port = 443 if parts.scheme == "https" else 80
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)

        wanted, seen = ready.value.encode(), 0

        def probe(timeout: float) -> str | None:
            nonlocal seen
            if ready.kind is ReadyKind.LOG:
                # Read only what is new (and the line's length back, for a line written
                # in two parts): a chatty service's log is not read again every 20 ms.
                with self.log.open("rb") as file:
                    file.seek(max(0, seen - len(wanted)))
                    found = wanted in file.read()
                    seen = file.tell()
                return None if found else "not in its log"
            if ready.kind is ReadyKind.HTTP:
                return launch.http_ok(address, ready.value, parts.netloc, timeout)
            if ready.kind is ReadyKind.TCP:
                return launch.tcp_open(address, timeout)

        what = {
            ReadyKind.HTTP: f"GET {self.base_url}{ready.value} answering 2xx",
            ReadyKind.TCP: f"{address[0]}:{address[1]} accepting connections",
            ReadyKind.LOG: f"{ready.value!r} in its log",
        }[ready.kind]
        deadline = time.monotonic() + ready.timeout
        ok, problem = launch.wait_until(probe, process, deadline)
        if ok:
            return
        if problem.startswith("exited"):
            message = f"target {problem} before it was ready ({what})"
        else:
            message = f"target was not ready within {ready.timeout:g} s: no {what} ({problem})"
        raise TargetError(f"{message}\n{self._tail()}")

    def _tail(self) -> str:
        assert self._log is not None
        self._log.flush()
        text = launch.tail(self._log)
        heading = f"--- {self.log} (last lines) ---"
        return f"{heading}\n{text}" if text else f"{heading}\n(empty)"


class Targets:
    """The launched targets of a run: run-scoped ones shared by scenarios with the
    same `target:` and stopped when the run ends; scenario-scoped ones handed out
    fresh (their owner stops them). Log files: `<stem>.target.log`, then
    `<stem>.target-2.log`, … beside `log` (the report's name with `.target.log`)."""

    def __init__(self, log: Path) -> None:
        self._log = log
        self._count = 0
        self._shared: dict[str, LaunchedTarget] = {}
        self._failed: dict[str, TargetError] = {}
        """A run-scoped target that did not start is not tried again for each scenario."""
        self._stack = contextlib.ExitStack()

    def launch(self, spec: TargetSpec, base_url: str) -> tuple[LaunchedTarget, bool]:
        """A started target for a scenario, and whether the caller owns (must stop) it."""
        # The same target: the same fields (env is a mapping: not hashable) and URL.
        key = repr((spec, sorted(spec.env.items()), base_url))
        if spec.scope is TargetScope.RUN and key in self._shared:
            return self._shared[key], False
        if key in self._failed:
            raise self._failed[key]
        self._count += 1
        suffix = "" if self._count == 1 else f"-{self._count}"
        log = self._log.with_name(self._log.name.replace(".target.log", f".target{suffix}.log"))
        target = LaunchedTarget(spec, base_url, log)
        if spec.scope is TargetScope.SCENARIO:
            target.start()
            return target, True
        try:
            self._stack.enter_context(target)
        except TargetError as exc:
            self._failed[key] = exc
            raise
        self._shared[key] = target
        return target, False

    def close(self) -> None:
        """Stop every run-scoped target (in reverse order of start)."""
        self._stack.close()
        self._shared.clear()

    def __enter__(self) -> Targets:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
