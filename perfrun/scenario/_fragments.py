"""JSON Schema pieces for the values of scenario files, as the loader reads them.

`schema.py` declares the language's sections with these: a word of a vocabulary in any
case, a count, a duration or a rate in each form `units.py` reads, and `${VAR}` wherever a
value may be (substituted before the value is read, so it passes whatever the type).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

Fragment = Mapping[str, Any] | bool
"""A JSON Schema (a mapping, or `false` for a key whose presence is an error)."""


def ref(name: str) -> dict[str, Any]:
    """The schema's definition `name` (a section, or one of `DEFINITIONS`)."""
    return {"$ref": f"#/$defs/{name}"}


def any_of(*alternatives: Fragment) -> dict[str, Any]:
    """One of `alternatives` (nested `anyOf`s flattened, for shorter editor messages)."""
    flat: list[Fragment] = []
    for alternative in alternatives:
        if isinstance(alternative, Mapping) and set(alternative) == {"anyOf"}:
            flat.extend(alternative["anyOf"])
        else:
            flat.append(alternative)
    return {"anyOf": flat}


VARIABLE = ref("variable")
# Durations and rates as units.py reads them (any case, blanks around); `_NONZERO` before
# one refuses a written 0 (`0s`, `0/m`) where the loader wants more than nothing.
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_DURATION = rf"(?:{_NUMBER}|(?:{_NUMBER}(?:[mM][sS]|[hHmMsS]))+)\s*$"
_RATE = rf"{_NUMBER}(?:\s*/\s*[sSmMhH])?\s*$"
_NONZERO = r"(?=[^1-9]*[1-9])"


def case_free(words: Iterable[str], spaces: bool = False) -> str:
    """A pattern matching any of `words` in any case (JSON Schema regexes have no flags),
    with blanks around it if `spaces`."""
    alternatives = (
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)
        for word in words
    )
    blank = r"\s*" if spaces else ""
    return f"^{blank}(?:{'|'.join(alternatives)}){blank}$"


def choice(values: Iterable[str]) -> dict[str, Any]:
    """A word of a vocabulary, in any case (the loader's `choice`); the enum is for
    an editor's completion."""
    words = list(values)
    return any_of({"enum": words}, {"type": "string", "pattern": case_free(words)}, VARIABLE)


def enum_of(choices: type[StrEnum]) -> dict[str, Any]:
    """A word of the vocabulary `choices` (a StrEnum of the model), in any case."""
    return choice(str(item.value) for item in choices)


def integer(minimum: int) -> dict[str, Any]:
    """A whole number, at least `minimum` (a YAML `true` is none)."""
    return any_of({"type": "integer", "minimum": minimum}, VARIABLE)


def flag() -> dict[str, Any]:
    """true or false."""
    return any_of({"type": "boolean"}, VARIABLE)


def text(pattern: str | None = None, empty: bool = False) -> dict[str, Any]:
    """A string (non-empty unless `empty`), matching `pattern` if given."""
    string: dict[str, Any] = {"type": "string"} if empty else {"type": "string", "minLength": 1}
    if pattern is None:
        return string  # a `${...}` is a non-empty string already
    return any_of({**string, "pattern": pattern}, VARIABLE)


NON_EMPTY = text()
ANY_TEXT = text(empty=True)
HEADER_VALUE = {"type": ["string", "number"]}  # `X-Count: 5` is sent as "5"


def present(key: str) -> dict[str, Any]:
    """`key` is set to something (a `null` counts as not set)."""
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def not_both(first: str, second: str) -> dict[str, Any]:
    """Not `first` and `second` both set."""
    return {"not": {"allOf": [present(first), present(second)]}}


def shape(when: Fragment, forbids: Iterable[str], needs: str | None = None) -> dict[str, Any]:
    """A load shape's rule: `when` it holds, none of `forbids` is set (and `needs` is)."""
    then = [{"not": present(key)} for key in forbids]
    return {"if": when, "then": {"allOf": [*then, *([present(needs)] if needs else [])]}}


def one_key(keys: Iterable[str]) -> dict[str, Any]:
    """Exactly one of `keys` is written."""
    return {"oneOf": [{"required": [key]} for key in keys]}


def list_of(item: Fragment, unique: bool = False) -> dict[str, Any]:
    """A non-empty list of `item`s (each once if `unique`)."""
    items: dict[str, Any] = {"type": "array", "minItems": 1, "items": item}
    return {**items, "uniqueItems": True} if unique else items


DEFINITIONS: Mapping[str, Fragment] = {
    "variable": {
        "type": "string",
        "pattern": r"(?:^|[^$])\$\{",
        "description": "A ${VAR} or ${VAR:-default} substitution, typed when the file loads "
        "(a value that is only ${...} is read as YAML would read it: 20 is a number)",
    },
    "duration": any_of(
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": rf"^\s*{_DURATION}"},
        VARIABLE,
    ),
    "positive_duration": any_of(
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": rf"^\s*{_NONZERO}{_DURATION}"},
        VARIABLE,
    ),
    "rate": any_of(
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": rf"^\s*{_RATE}"},
        VARIABLE,
    ),
    "positive_rate": any_of(
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": rf"^\s*{_NONZERO}{_RATE}"},
        VARIABLE,
    ),
}
DURATION, POSITIVE_DURATION = ref("duration"), ref("positive_duration")
RATE, POSITIVE_RATE = ref("rate"), ref("positive_rate")
