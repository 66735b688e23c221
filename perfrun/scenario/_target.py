"""`target:` of a scenario -> `TargetSpec`: the loader's half for the launched service."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path
from typing import Any

from perfrun.scenario._yaml import (
    LineDict,
    LineList,
    Loc,
    choice,
    mapping,
    optional,
    require,
    seconds,
    shown,
    string,
)
from perfrun.scenario.schema import READY, STOP, TARGET
from perfrun.scenario.target import Ready, ReadyKind, TargetScope, TargetSpec

# From the language's one declaration (schema.py).
_TARGET_KEYS = TARGET.allowed
_READY_KEYS = READY.allowed
_STOP_KEYS = STOP.allowed


def parse_target(value: Any, loc: Loc) -> TargetSpec | None:
    """`target: {command, cwd, env, ready, stop, scope}`; `cwd` relative to the file."""
    if value is None:
        return None
    fields = mapping(value, loc, _TARGET_KEYS)
    require(fields, ("command",), loc)
    cwd = optional(fields, "cwd")
    directory = None
    if cwd is not None:
        directory = (Path(loc.file).parent / string(cwd, loc.at(fields, "cwd"))).resolve()
        if not directory.is_dir():
            raise loc.at(fields, "cwd").error(f"{directory}: no such directory")
    stop_signal, grace = _stop(optional(fields, "stop"), loc.at(fields, "stop"))
    return TargetSpec(
        command=parse_command(fields["command"], loc.at(fields, "command")),
        cwd=directory,
        env=_env(optional(fields, "env"), loc.at(fields, "env")),
        ready=_ready(optional(fields, "ready"), loc.at(fields, "ready")),
        stop_signal=stop_signal,
        grace=grace,
        scope=choice(optional(fields, "scope", "run"), TargetScope, loc.at(fields, "scope")),
    )


def parse_command(value: Any, loc: Loc) -> tuple[str, ...]:
    """A non-empty list of strings, or one string split as a shell would (no shell runs)."""
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise loc.error(f"cannot split {shown(value)}: {exc}") from None
    elif isinstance(value, LineList):
        parts = [
            string(str(item) if isinstance(item, int) else item, loc.at(value, index))
            for index, item in enumerate(value)
        ]
    else:
        raise loc.error(f"must be a list of strings or a command line, got {shown(value)}")
    if not parts:
        raise loc.error("must name a program to run")
    if any("\0" in part for part in parts):
        raise loc.error("holds a NUL character, which no command line can carry")
    return tuple(parts)


def _env(value: Any, loc: Loc) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, LineDict):
        raise loc.error(f"must be a mapping of variable name to value, got {shown(value)}")
    env = {}
    for key, item in value.items():
        name = string(key, loc.key_line(value, key))
        if "=" in name or "\0" in name:
            raise loc.key_line(value, key).error(
                f"{shown(name)} is no environment variable name (no '=' or NUL in one)"
            )
        text = str(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item
        env[name] = string(text, loc.at(value, key), allow_empty=True)
        if "\0" in env[name]:
            raise loc.at(value, key).error("holds a NUL character: no environment can carry it")
    return env


def _ready(value: Any, loc: Loc) -> Ready:
    """`{http: /health}`, `{tcp: true}` or `{log: "text"}`, each with an optional timeout."""
    if value is None:
        return Ready()
    fields = mapping(value, loc, _READY_KEYS)
    kinds = [key for key in ("http", "tcp", "log") if key in fields]
    if len(kinds) != 1:
        raise loc.error("takes one of http: /path, tcp: true or log: TEXT (and a timeout)")
    kind = ReadyKind(kinds[0])
    raw, at = fields[kind.value], loc.at(fields, kind.value)
    text = ""
    if kind is ReadyKind.TCP:
        if raw is not True:
            raise at.error(f"must be true, got {shown(raw)}")
    else:
        text = string(raw, at)
        if kind is ReadyKind.HTTP and not text.startswith("/"):
            raise at.error(f"must be a path starting with '/', got {shown(raw)}")
    timeout = seconds(optional(fields, "timeout", 30), loc.at(fields, "timeout"), False)
    return Ready(kind, text, timeout)


def _stop(value: Any, loc: Loc) -> tuple[signal.Signals, float]:
    if value is None:
        return signal.SIGTERM, 10.0
    fields = mapping(value, loc, _STOP_KEYS)
    name = optional(fields, "signal", "SIGTERM")
    at = loc.at(fields, "signal")
    text = string(name, at).upper()
    try:
        sig = signal.Signals[text if text.startswith("SIG") else "SIG" + text]
    except KeyError:
        raise at.error(f"unknown signal {shown(name)}; e.g. SIGTERM, SIGINT, SIGQUIT") from None
    return sig, seconds(optional(fields, "grace", 10), loc.at(fields, "grace"), True)
