"""The service under test as perfrun launches it (`target:`, `--target-cmd`): frozen specs.

Only the loader (`_target.py`) and `with_command` build them; `perfrun.execution.target`
starts, watches and stops the process they describe.
"""

from __future__ import annotations

import enum
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

PORT = "{port}"
"""In `command`, `env` values and `base_url`: a free loopback port chosen at launch."""
LAUNCHED_BASE_URL = f"http://127.0.0.1:{PORT}"
"""The base_url of a scenario with a `target:` and no base_url of its own."""


class ReadyKind(enum.StrEnum):
    HTTP = "http"
    """`GET path` on the base URL answers 2xx."""
    TCP = "tcp"
    """The base URL's host and port accept a connection."""
    LOG = "log"
    """The target's output contains this text."""


class TargetScope(enum.StrEnum):
    RUN = "run"
    """One process for the whole run, shared by every scenario with the same target."""
    SCENARIO = "scenario"
    """A fresh process for each scenario."""


@dataclass(frozen=True)
class Ready:
    kind: ReadyKind = ReadyKind.TCP
    value: str = ""
    """The path (http) or the text (log); empty for tcp."""
    timeout: float = 30.0


@dataclass(frozen=True)
class TargetSpec:
    """How to launch, wait for and stop the service under test."""

    command: tuple[str, ...]
    cwd: Path | None = None
    """Resolved against the scenario file's directory; None: perfrun's working directory."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to perfrun's own environment."""
    ready: Ready = field(default_factory=Ready)
    stop_signal: signal.Signals = signal.SIGTERM
    grace: float = 10.0
    """Seconds between `stop_signal` and SIGKILL to the process group."""
    scope: TargetScope = TargetScope.RUN

    @property
    def uses_port(self) -> bool:
        return any(PORT in part for part in (*self.command, *self.env.values()))


def with_command(spec: TargetSpec | None, command: tuple[str, ...]) -> TargetSpec:
    """`--target-cmd`: replaces the command of a scenario's own `target:` (its ready,
    stop, cwd, env and scope stay), or is a target of its own with the defaults."""
    return TargetSpec(command=command) if spec is None else replace(spec, command=command)
