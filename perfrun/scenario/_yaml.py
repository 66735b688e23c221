"""YAML with line numbers, locations for messages, field readers, `${VAR}` substitution.

The parsing half of the scenario loader: it keeps where every value was written so
that `loader.py` and `_load.py` can name `file:line` and the key path in each error,
and it holds the small typed readers (`integer`, `seconds`, ...) both of them share.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from perfrun.errors import ScenarioError
from perfrun.scenario.units import parse_duration

# `$${` is a literal `${`; the last alternative catches malformed `${...}` so it is reported.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
_WHOLE_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}")

_E = TypeVar("_E", bound=enum.Enum)


# --- YAML with line numbers -------------------------------------------------------------


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key."""

    def __init__(self, line: int, lines: dict[Any, int] | None = None) -> None:
        super().__init__()
        self.line = line
        self.lines = {} if lines is None else dict(lines)


class LineList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item (by index)."""

    def __init__(self, line: int, lines: dict[Any, int] | None = None) -> None:
        super().__init__()
        self.line = line
        self.lines = {} if lines is None else dict(lines)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building `LineDict` / `LineList`, and refusing duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own  # `<<:` entries come first; own keys may override them
    result = LineDict(node.start_mark.line + 1)
    own_lines: dict[Any, int] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key",
                key_node.start_mark,
            )  # fmt: skip
        if index >= merged:
            # PyYAML silently keeps the last duplicate; that would hide a scenario or a field.
            if key in own_lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {own_lines[key]})",
                    key_node.start_mark,
                )  # fmt: skip
            own_lines[key] = line
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = line
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(node.start_mark.line + 1)
    for index, item_node in enumerate(node.value):
        result.append(loader.construct_object(item_node, deep=True))
        result.lines[index] = item_node.start_mark.line + 1
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file: {exc}", str(path)) from None
    return read_text(text, str(path))


def read_text(text: str, origin: str) -> Any:
    """A scenario document's text, parsed with every mapping and list knowing its line;
    `origin` names it in messages (its path, or e.g. `command line`)."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        context = f" ({exc.context})" if exc.context else ""
        raise ScenarioError(f"YAML syntax error: {exc.problem}{context}", where) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"YAML error: {exc}", origin) from None


# --- locations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Loc:
    """Where a value sits: file, line, and the key path from the scenario name down."""

    file: str
    line: int
    path: tuple[str, ...] = ()

    def at(self, container: LineDict | LineList, key: Any) -> Loc:
        """The location of `container[key]`."""
        line = container.lines.get(key, self.line)
        return Loc(self.file, line, (*self.path, str(key)))

    def key_line(self, container: LineDict, key: Any) -> Loc:
        """This path, at the line of `key` (for problems with the key itself)."""
        return Loc(self.file, container.lines.get(key, self.line), self.path)

    def error(self, problem: str) -> ScenarioError:
        where = f"{self.file}:{self.line}"
        if self.path:
            where += ": " + " -> ".join(self.path)
        return ScenarioError(problem, where)


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


def integer(value: Any, loc: Loc, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise loc.error(f"must be an integer >= {minimum}, got {shown(value)}")
    return value


def number(value: Any, loc: Loc, positive: bool) -> float:
    """A finite number >= 0 (or > 0 when `positive`); bools are not numbers here."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and math.isfinite(value) and (value > 0 or (value == 0 and not positive)):
        return float(value)
    raise loc.error(f"must be a number {'>' if positive else '>='} 0, got {shown(value)}")


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
    allowed = [str(item.value) for item in choices]
    if isinstance(value, str) and value.lower() in allowed:
        return choices(value.lower())
    raise loc.error(f"must be one of {', '.join(allowed)}; got {shown(value)}")


# --- environment substitution -----------------------------------------------------------


def substitute(value: Any, loc: Loc, environ: Mapping[str, str]) -> Any:
    """`${VAR}` / `${VAR:-default}` in every string value, keeping line information."""
    if isinstance(value, LineDict):
        mapping = LineDict(value.line, value.lines)
        for key, item in value.items():
            mapping[key] = substitute(item, loc.at(value, key), environ)
        return mapping
    if isinstance(value, LineList):
        sequence = LineList(value.line, value.lines)
        sequence.extend(substitute(item, loc.at(value, i), environ) for i, item in enumerate(value))
        return sequence
    if isinstance(value, str) and "${" in value:
        expanded = _VARIABLE.sub(lambda match: _variable(match, loc, environ), value)
        return _reparse(expanded) if _WHOLE_VARIABLE.fullmatch(value) else expanded
    return value


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
    except yaml.YAMLError:
        return text
    return value if value is None or isinstance(value, (str, int, float)) else text


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
