"""YAML scenario files -> `Scenario` objects: the one place raw scenario data is validated.

Every error names the file and line (`scenarios/a.yaml:12`) and the path inside the
scenario (`health_load -> load -> users`), so a user can fix it without guessing.
"""

from __future__ import annotations

import difflib
import enum
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from perfrun.errors import ScenarioError
from perfrun.scenario._yaml import LineDict, LineList, Loc, plain, read_yaml, shown, substitute
from perfrun.scenario.model import (
    DEMO_TARGET,
    LoadSpec,
    MonitorSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
    Threshold,
)
from perfrun.scenario.units import parse_duration
from perfrun.thresholds import THRESHOLD_KEYS, threshold_from_key

SCENARIO_SUFFIXES = (".yaml", ".yml")

_FILE_KEYS = ("scenarios",)
_SCENARIO_KEYS = (
    "description", "type", "severity", "base_url", "requests", "load", "thresholds", "monitor"
)  # fmt: skip
_REQUEST_KEYS = ("name", "method", "path", "weight", "headers", "json", "body", "expect_status")
_LOAD_KEYS = ("users", "requests_per_user", "duration", "ramp_up", "think_time", "timeout")
_MONITOR_KEYS = ("pid", "process", "interval")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PERCENT_THRESHOLDS = frozenset({"min_success_rate", "max_error_rate"})
_SCENARIO_NAME = re.compile(r"[A-Za-z0-9_.-]+")

_E = TypeVar("_E", bound=enum.Enum)


# --- small validators -------------------------------------------------------------------


def _mapping(value: Any, loc: Loc, allowed: tuple[str, ...]) -> LineDict:
    """`value` as a mapping with only `allowed` keys."""
    if not isinstance(value, LineDict):
        raise loc.error(f"must be a mapping, got {shown(value)}")
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
            raise loc.key_line(value, key).error(f"unknown key {str(key)!r}; {hint}")
    return value


def _require(fields: LineDict, keys: tuple[str, ...], loc: Loc) -> None:
    for key in keys:
        if key not in fields:
            raise loc.error(f"missing required key '{key}'")


def _get(fields: LineDict, key: str, default: Any = None) -> Any:
    """The value of an optional key; an explicit `null` means the default too."""
    value = fields.get(key)
    return default if value is None else value


def _string(value: Any, loc: Loc, allow_empty: bool = False) -> str:
    if isinstance(value, str) and (value or allow_empty):
        return value
    kind = "a string" if allow_empty else "a non-empty string"
    hint = "; quote it" if isinstance(value, (int, float)) else ""  # YAML typed it: `5`, `yes`
    raise loc.error(f"must be {kind}, got {shown(value)}{hint}")


def _int(value: Any, loc: Loc, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise loc.error(f"must be an integer >= {minimum}, got {shown(value)}")
    return value


def _number(value: Any, loc: Loc, positive: bool) -> float:
    """A finite number >= 0 (or > 0 when `positive`); bools are not numbers here."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and math.isfinite(value) and (value > 0 or (value == 0 and not positive)):
        return float(value)
    raise loc.error(f"must be a number {'>' if positive else '>='} 0, got {shown(value)}")


def _duration(value: Any, loc: Loc, allow_zero: bool) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise loc.error(str(exc)) from None
    if seconds == 0 and not allow_zero:
        raise loc.error(f"must be greater than 0, got {shown(value)}")
    return seconds


def _choice(value: Any, choices: type[_E], loc: Loc) -> _E:
    allowed = [str(choice.value) for choice in choices]
    if isinstance(value, str) and value.lower() in allowed:
        return choices(value.lower())
    raise loc.error(f"must be one of {', '.join(allowed)}; got {shown(value)}")


# --- sections ---------------------------------------------------------------------------


def _base_url(value: Any, loc: Loc) -> str:
    if value == DEMO_TARGET:
        return DEMO_TARGET
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise loc.error(f"must be 'demo' or an http:// or https:// URL, got {shown(value)}")
    return str(value).rstrip("/")


def _statuses(value: Any, loc: Loc) -> tuple[int, ...]:
    if not isinstance(value, LineList):
        return (_status(value, loc),)
    if not value:
        raise loc.error("must be a status code or a non-empty list of them")
    return tuple(_status(code, loc.at(value, index)) for index, code in enumerate(value))


def _status(value: Any, loc: Loc) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise loc.error(f"must be an HTTP status code 100-599, got {shown(value)}")
    return value


def _headers(value: Any, loc: Loc) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, LineDict):
        raise loc.error(f"must be a mapping of header name to value, got {shown(value)}")
    headers: dict[str, str] = {}
    for key, item in value.items():
        # `X-Count: 5` is surely meant as "5"; `yes` (a bool to YAML) or a list is not guessed.
        text = str(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item
        name = _string(key, loc.key_line(value, key))
        headers[name] = _string(text, loc.at(value, key), allow_empty=True)
    return headers


def _request(value: Any, loc: Loc) -> RequestSpec:
    fields = _mapping(value, loc, _REQUEST_KEYS)
    _require(fields, ("name", "path"), loc)
    name = _string(fields["name"], loc.at(fields, "name"))
    json_value, body = _get(fields, "json"), _get(fields, "body")
    if json_value is not None and body is not None:
        raise loc.key_line(fields, "body").error("set either json or body, not both")
    method = _get(fields, "method", "GET")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise loc.at(fields, "method").error(
            f"must be one of {', '.join(_METHODS)}; got {shown(method)}"
        )
    path = fields["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise loc.at(fields, "path").error(f"must be a string starting with '/', got {shown(path)}")
    return RequestSpec(
        name=name,
        method=method.upper(),
        path=path,
        weight=_number(_get(fields, "weight", 1), loc.at(fields, "weight"), positive=True),
        headers=_headers(_get(fields, "headers"), loc.at(fields, "headers")),
        json=plain(json_value),
        body=None if body is None else _string(body, loc.at(fields, "body"), allow_empty=True),
        expect_status=_statuses(
            _get(fields, "expect_status", 200), loc.at(fields, "expect_status")
        ),
    )


def _requests(value: Any, loc: Loc) -> tuple[RequestSpec, ...]:
    if not isinstance(value, LineList) or not value:
        raise loc.error(f"must be a non-empty list of requests, got {shown(value)}")
    specs: list[RequestSpec] = []
    for index, item in enumerate(value):
        item_loc = loc.at(value, index)
        spec = _request(item, item_loc)
        for earlier, other in enumerate(specs):
            if other.name == spec.name:
                raise item_loc.at(item, "name").error(
                    f"duplicate request name '{spec.name}' (also requests -> {earlier})"
                )
        specs.append(spec)
    return tuple(specs)


def _load(value: Any, loc: Loc) -> LoadSpec:
    fields = _mapping(value, loc, _LOAD_KEYS)
    _require(fields, ("users",), loc)
    count, duration = _get(fields, "requests_per_user"), _get(fields, "duration")
    if count is not None and duration is not None:
        raise loc.key_line(fields, "duration").error(
            "set either requests_per_user or duration, not both"
        )
    if count is None and duration is None:
        raise loc.error("set one of requests_per_user or duration")
    return LoadSpec(
        users=_int(fields["users"], loc.at(fields, "users"), minimum=1),
        requests_per_user=None
        if count is None
        else _int(count, loc.at(fields, "requests_per_user"), minimum=1),
        duration=None
        if duration is None
        else _duration(duration, loc.at(fields, "duration"), False),
        ramp_up=_duration(_get(fields, "ramp_up", 0), loc.at(fields, "ramp_up"), True),
        think_time=_duration(_get(fields, "think_time", 0), loc.at(fields, "think_time"), True),
        timeout=_duration(_get(fields, "timeout", 10), loc.at(fields, "timeout"), False),
    )


def _thresholds(value: Any, loc: Loc) -> tuple[Threshold, ...]:
    if value is None:
        return ()
    fields = _mapping(value, loc, tuple(THRESHOLD_KEYS))
    thresholds: list[Threshold] = []
    for key, raw in fields.items():  # in the order written, for the report
        key_loc = loc.at(fields, key)
        limit = _number(raw, key_loc, positive=False)
        if key in _PERCENT_THRESHOLDS and limit > 100:
            raise key_loc.error(f"is a percentage: must be between 0 and 100, got {shown(raw)}")
        thresholds.append(threshold_from_key(key, limit))
    return tuple(thresholds)


def _monitor(value: Any, loc: Loc) -> MonitorSpec:
    if value is None:
        return MonitorSpec()
    fields = _mapping(value, loc, _MONITOR_KEYS)
    pid, process = _get(fields, "pid"), _get(fields, "process")
    if pid is not None and process is not None:
        raise loc.key_line(fields, "process").error("set either pid or process, not both")
    return MonitorSpec(
        pid=None if pid is None else _int(pid, loc.at(fields, "pid"), minimum=1),
        process=None if process is None else _string(process, loc.at(fields, "process")),
        interval=_duration(_get(fields, "interval", 1), loc.at(fields, "interval"), False),
    )


def _scenario(name: str, value: Any, loc: Loc) -> Scenario:
    fields = _mapping(value, loc, _SCENARIO_KEYS)
    _require(fields, ("type", "severity", "requests", "load"), loc)
    description = _get(fields, "description", "")
    return Scenario(
        name=name,
        type=_choice(fields["type"], ScenarioType, loc.at(fields, "type")),
        severity=_choice(fields["severity"], Severity, loc.at(fields, "severity")),
        base_url=_base_url(_get(fields, "base_url", DEMO_TARGET), loc.at(fields, "base_url")),
        requests=_requests(fields["requests"], loc.at(fields, "requests")),
        load=_load(fields["load"], loc.at(fields, "load")),
        thresholds=_thresholds(_get(fields, "thresholds"), loc.at(fields, "thresholds")),
        monitor=_monitor(_get(fields, "monitor"), loc.at(fields, "monitor")),
        description=_string(description, loc.at(fields, "description"), allow_empty=True),
        source=f"{loc.file}:{loc.line}",
    )


# --- public API -------------------------------------------------------------------------


def load_file(path: Path, environ: Mapping[str, str] | None = None) -> list[Scenario]:
    """Load and validate every scenario in one YAML file, in the order written.

    `environ` feeds `${VAR}` substitution (default: the process environment).
    Raises ScenarioError naming the file, line and field of the first problem.
    """
    environ = os.environ if environ is None else environ
    document = read_yaml(path)
    if not isinstance(document, LineDict):
        raise ScenarioError("expected a mapping with a top-level 'scenarios:' key", str(path))
    file_loc = Loc(str(path), document.line)
    _require(_mapping(document, file_loc, _FILE_KEYS), _FILE_KEYS, file_loc)
    entries = document["scenarios"]
    entries_loc = file_loc.key_line(document, "scenarios")
    if not isinstance(entries, LineDict):
        raise entries_loc.error(
            f"'scenarios' must be a mapping of name to scenario, got {shown(entries)}"
        )
    scenarios: list[Scenario] = []
    for name, body in entries.items():
        loc = Loc(str(path), entries.lines[name], (str(name),))
        if not isinstance(name, str) or not _SCENARIO_NAME.fullmatch(name):
            raise loc.error(
                f"bad scenario name {name!r}: use letters, digits, '_', '-' and '.' only"
            )
        scenarios.append(_scenario(name, substitute(body, loc, environ), loc))
    return scenarios


def load_scenarios(
    directory: Path, environ: Mapping[str, str] | None = None
) -> dict[str, Scenario]:
    """Load every `*.yaml` / `*.yml` file under `directory` (recursively, sorted).

    Returns scenarios by name. A scenario name defined twice is an error naming both places.
    """
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "scenario directory not found"
        raise ScenarioError(problem, str(directory))
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() in SCENARIO_SUFFIXES and path.is_file()
    )
    if not files:
        raise ScenarioError("no scenario files (*.yaml, *.yml) found", str(directory))
    scenarios: dict[str, Scenario] = {}
    for path in files:
        for scenario in load_file(path, environ):
            first = scenarios.get(scenario.name)
            if first is not None:
                raise ScenarioError(
                    f"scenario '{scenario.name}' is defined twice: {first.source} and "
                    f"{scenario.source}",
                    scenario.source,
                )
            scenarios[scenario.name] = scenario
    if not scenarios:
        raise ScenarioError("the scenario files define no scenarios", str(directory))
    return scenarios
