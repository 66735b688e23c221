"""Locations for messages, field readers, `${VAR}` substitution; YAML with line numbers.

The parsing half of the scenario loader: it keeps where every value was written so
that `loader.py` and `_load.py` can name `file:line` and the key path in each error,
and it holds the small typed readers (`integer`, `seconds`, ...) both of them share.
Reading the YAML itself, bounded, is `_parse.py`'s (re-exported here).
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import yaml

from perfrun.errors import ScenarioError
from perfrun.scenario._parse import LineDict as LineDict
from perfrun.scenario._parse import LineList as LineList
from perfrun.scenario._parse import read_text as read_text
from perfrun.scenario._parse import read_yaml as read_yaml
from perfrun.scenario.units import parse_duration

# `$${` is a literal `${`; the last alternative catches malformed `${...}` so it is reported.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
_WHOLE_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}")

_E = TypeVar("_E", bound=enum.Enum)
_T = TypeVar("_T")


# --- locations --------------------------------------------------------------------------


class Loc:
    """Where a value sits: file, line, and the key path from the scenario name down.

    Made once per key the loader reads (40 per scenario), and read only for an error:
    so the path is kept as a link to the enclosing location and joined when asked for
    (building each path's tuple, and a frozen dataclass's `__init__`, cost a load of
    100,000 scenarios 10 seconds). Not changed once made."""

    __slots__ = ("_key", "_up", "file", "line")

    def __init__(self, file: str, line: int, path: tuple[str, ...] = ()) -> None:
        self.file = file
        self.line = line
        self._up: Loc | None = None
        self._key: tuple[Any, ...] = path

    @property
    def path(self) -> tuple[str, ...]:
        keys: list[Any] = []
        loc: Loc | None = self
        while loc is not None:
            keys.extend(reversed(loc._key))
            loc = loc._up
        return tuple(str(key) for key in reversed(keys))

    def at(self, container: LineDict | LineList, key: Any) -> Loc:
        """The location of `container[key]`."""
        loc = _new_loc(Loc)
        loc.file, loc.line, loc._up, loc._key = (
            self.file,
            container.lines.get(key, self.line),
            self,
            (key,),
        )
        return loc

    def key_line(self, container: LineDict, key: Any) -> Loc:
        """This path, at the line of `key` (for problems with the key itself)."""
        loc = _new_loc(Loc)
        loc.file, loc.line, loc._up, loc._key = (
            self.file,
            container.lines.get(key, self.line),
            self._up,
            self._key,
        )
        return loc

    def error(self, problem: str) -> ScenarioError:
        where = f"{self.file}:{self.line}"
        path = self.path
        if path:
            where += ": " + " -> ".join(path)
        return ScenarioError(problem, where)

    def __repr__(self) -> str:
        return f"Loc({self.file!r}, {self.line}, {self.path!r})"


_new_loc = object.__new__  # a Loc without `__init__`'s call: `at` makes a million


def shown(value: Any) -> str:
    text = "nothing" if value is None else repr(plain(value))
    return text if len(text) <= 60 else text[:57] + "..."


# --- field readers: a typed value, or an error naming where the bad one is -------------


def mapping(value: Any, loc: Loc, allowed: tuple[str, ...]) -> LineDict:
    """`value` as a mapping with only `allowed` keys (an unknown key gets a suggestion)."""
    if not isinstance(value, LineDict):
        raise loc.error(f"must be a mapping, got {shown(value)}")
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
            raise loc.key_line(value, key).error(f"unknown key {str(key)!r}; {hint}")
    return value


def read(fields: LineDict, key: str, loc: Loc, reader: Callable[[Any, Loc], _T], default: _T) -> _T:
    """`reader(value, its location)` for `key` set in `fields`, else `default` (what
    `reader` makes of the key's default). The location is made only for a value that is
    there: a scenario leaves most keys out, and making one for each took a sixth of the
    time a large file's scenarios took to build."""
    value = fields.get(key)
    return default if value is None else reader(value, loc.at(fields, key))


def require(fields: LineDict, keys: tuple[str, ...], loc: Loc) -> None:
    for key in keys:
        if key not in fields:
            raise loc.error(f"missing required key '{key}'")


def optional(fields: LineDict, key: str, default: Any = None) -> Any:
    """The value of an optional key; an explicit `null` means the default too."""
    value = fields.get(key)
    return default if value is None else value


def string(value: Any, loc: Loc, allow_empty: bool = False) -> str:
    if isinstance(value, str) and (value or allow_empty):
        return value
    kind = "a string" if allow_empty else "a non-empty string"
    hint = "; quote it" if isinstance(value, (int, float)) else ""  # YAML typed it: `5`, `yes`
    raise loc.error(f"must be {kind}, got {shown(value)}{hint}")


_LARGEST = 2**53
"""The largest integer a float holds exactly: any count above it is a typo or an attack,
and would overflow where it meets a float (a rate, a stage's target)."""


def integer(value: Any, loc: Loc, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise loc.error(f"must be an integer >= {minimum}, got {shown(value)}")
    if value > _LARGEST:
        raise loc.error(f"{too_large(value)}: must be at most {_LARGEST:,}")
    return value


def number(value: Any, loc: Loc, positive: bool) -> float:
    """A finite number >= 0 (or > 0 when `positive`); bools are not numbers here."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and isinstance(value, int) and abs(value) > _LARGEST:
        raise loc.error(f"{too_large(value)}: must be at most {_LARGEST:,}")
    if is_number and math.isfinite(value) and (value > 0 or (value == 0 and not positive)):
        return float(value)
    raise loc.error(f"must be a number {'>' if positive else '>='} 0, got {shown(value)}")


def too_large(value: int) -> str:
    """`value` named without printing all of its digits."""
    digits = len(str(abs(value)))
    return f"{value:,} is too large" if digits <= 24 else f"a {digits}-digit number is too large"


def seconds(value: Any, loc: Loc, allow_zero: bool) -> float:
    """A duration (`30s`, `1m30s`, a number of seconds) in seconds."""
    try:
        result = parse_duration(value)
    except ValueError as exc:
        raise loc.error(str(exc)) from None
    if result == 0 and not allow_zero:
        raise loc.error(f"must be greater than 0, got {shown(value)}")
    return result


def choice(value: Any, choices: type[_E], loc: Loc) -> _E:
    if isinstance(value, str):
        try:
            return choices(value.lower())
        except ValueError:
            pass
    allowed = [str(item.value) for item in choices]
    raise loc.error(f"must be one of {', '.join(allowed)}; got {shown(value)}")


# --- environment substitution -----------------------------------------------------------


def substitute(value: Any, loc: Loc, environ: Mapping[str, str]) -> Any:
    """`${VAR}` / `${VAR:-default}` in every string value, keeping line information.

    A mapping or list with nothing to substitute is returned as it is, not copied: most
    have none, and a copy of every one doubled a large file's memory and its load time.
    """
    if isinstance(value, (LineDict, LineList)):
        changed: dict[Any, Any] = {}
        for key, item in value.items() if isinstance(value, LineDict) else enumerate(value):
            if _variables_in(item):
                new = substitute(item, loc.at(value, key), environ)
                if new is not item:
                    changed[key] = new
        if not changed:
            return value
        if isinstance(value, LineDict):
            mapping = LineDict(value.line, value.lines)
            mapping.update(value)
            mapping.update(changed)
            return mapping
        sequence = LineList(value.line, value.lines)
        sequence.extend(changed.get(index, item) for index, item in enumerate(value))
        return sequence
    if isinstance(value, str) and "${" in value:
        expanded = _VARIABLE.sub(lambda match: _variable(match, loc, environ), value)
        return _reparse(expanded) if _WHOLE_VARIABLE.fullmatch(value) else expanded
    return value


def _variables_in(value: Any) -> bool:
    """Whether a string in `value` has a `${`: most values have none, and finding that
    out without a location for each mapping and list took a fifth of the time a large
    file's scenarios took to build."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, LineDict):
        return any(map(_variables_in, value.values()))
    if isinstance(value, LineList):
        return any(map(_variables_in, value))
    return False


def _variable(match: re.Match[str], loc: Loc, environ: Mapping[str, str]) -> str:
    if match.group(0) == "$${":
        return "${"
    name, default = match.group(1), match.group(2)
    if name is None:
        raise loc.error(
            "bad ${...} expression: use ${VAR} or ${VAR:-default}; write $${ for a literal ${"
        )
    value = environ.get(name)
    if default is not None and not value:  # like the shell: `:-` also covers an empty value
        return default
    if value is None:
        raise loc.error(
            f"environment variable {name} is not set; set it or give a default: "
            f"${{{name}:-default}}"
        )
    return value


def _reparse(text: str) -> Any:
    """A whole-value substitution is typed like YAML would type it: `20` -> 20."""
    if not text.strip():
        return text
    try:
        value = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):  # ValueError: over 4300 digits
        return text
    return value if value is None or isinstance(value, (str, int, float)) else text


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
