"""Choosing which loaded scenarios to run, from `--scenario`, `--type`, `--severity` values."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable, Mapping, Sequence

from perfrun.errors import UsageError
from perfrun.scenario.model import Scenario, ScenarioType, Severity


def select_scenarios(
    available: Mapping[str, Scenario],
    names: Sequence[str],
    types: Sequence[str],
    severities: Sequence[str],
) -> list[Scenario]:
    """The scenarios to run: named ones (in the order given) or all (sorted by name),
    kept when they match every given filter; within one filter any value may match.

    Every item may itself be comma-separated (`"a,b"`). Raises UsageError for an unknown
    name, type or severity, and when the selection matches no scenario.
    """
    wanted_names = _split(names)
    wanted_types = _values(types, ScenarioType, "type")
    wanted_severities = _values(severities, Severity, "severity")
    _check_names(wanted_names, available)
    pool = (
        [available[name] for name in wanted_names]
        if wanted_names
        else [available[name] for name in sorted(available)]
    )
    filters: list[tuple[str, Callable[[Scenario], bool]]] = []
    if wanted_types:
        filters.append((_described("type", wanted_types), lambda s: s.type in wanted_types))
    if wanted_severities:
        filters.append(
            (_described("severity", wanted_severities), lambda s: s.severity in wanted_severities)
        )
    selected = [s for s in pool if all(matches(s) for _, matches in filters)]
    if not selected:
        raise UsageError(_nothing_matched(pool, filters, bool(wanted_names)))
    return selected


def _split(values: Sequence[str]) -> list[str]:
    """Comma-separated items, blanks dropped, first occurrence kept."""
    items = (item.strip() for value in values for item in value.split(","))
    return list(dict.fromkeys(item for item in items if item))


def _values(values: Sequence[str], choices: type[enum.Enum], label: str) -> list[enum.Enum]:
    allowed = {str(choice.value): choice for choice in choices}
    chosen = []
    for item in _split(values):
        if item.lower() not in allowed:
            close = difflib.get_close_matches(item.lower(), list(allowed), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            listed = ", ".join(allowed)
            raise UsageError(f"unknown {label} '{item}'; {hint}choose from {listed}")
        chosen.append(allowed[item.lower()])
    return chosen


_KNOWN_SHOWN = 20
"""Known scenario names an unknown name's message lists at most."""


def _check_names(names: list[str], available: Mapping[str, Scenario]) -> None:
    unknown = [name for name in names if name not in available]
    if not unknown:
        return
    names_known = sorted(available)
    known = ", ".join(names_known[:_KNOWN_SHOWN]) or "none"
    if len(names_known) > _KNOWN_SHOWN:  # 100,000 names made a 700 kB message
        known += f", ... ({len(names_known):,} in all: perfrun --list)"
    close = difflib.get_close_matches(unknown[0], list(available), n=1)
    hint = f"did you mean '{close[0]}'? " if close and len(unknown) == 1 else ""
    quoted = ", ".join(f"'{name}'" for name in unknown)
    noun = "scenario" if len(unknown) == 1 else "scenarios"
    raise UsageError(f"unknown {noun} {quoted}; {hint}known scenarios: {known}")


def _described(label: str, values: list[enum.Enum]) -> str:
    return f"{label} " + " or ".join(str(value.value) for value in values)


def _nothing_matched(
    pool: list[Scenario],
    filters: list[tuple[str, Callable[[Scenario], bool]]],
    named: bool,
) -> str:
    if not filters:
        return "nothing selected: there are no scenarios"
    noun = "named scenario" if named else "scenario"
    empty = [label for label, matches in filters if not any(matches(s) for s in pool)]
    if empty:
        return "nothing selected: " + "; ".join(f"no {noun} has {label}" for label in empty)
    return f"nothing selected: no {noun} has {' and '.join(label for label, _ in filters)}"
