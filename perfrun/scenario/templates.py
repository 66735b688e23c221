"""Templates: `{{ name }}` in a flow step's path, header values, body and JSON strings.

A template is compiled once, when its scenario file loads, into literal text and slots;
rendering it for a request is one join, with no parsing. A slot is a variable (a column
of the user's data row or an earlier capture) or a built-in:

    {{ $user }}              the virtual user's index (0-based)
    {{ $iteration }}         the user's iteration (0-based)
    {{ $uuid }}              a random UUID, new at every render
    {{ $random_int(1, 100) }} a random integer in [1, 100], new at every render
    {{ $timestamp_ms }}      milliseconds since the epoch, at render time

A template with no slot is static: its text is fixed, and a request made of static
templates keeps its bytes built once.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_SLOT = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CALL = re.compile(r"(\$[a-z_]+)\s*\((.*)\)\Z", re.S)
_INTEGER = re.compile(r"\s*(-?\d{1,18})\s*\Z")


class TemplateError(ValueError):
    """A template that cannot be compiled; the message says what is wrong in it."""


class Context:
    """What a render knows besides the variables: whose request it is. One per virtual
    user, whose `iteration` moves on in place (a new object per iteration would cost a
    flow's hot path more than the render)."""

    __slots__ = ("iteration", "rng", "user")

    def __init__(self, user: int, iteration: int, rng: random.Random) -> None:
        self.user = user
        self.iteration = iteration
        self.rng = rng


Getter = Callable[[Mapping[str, str], Context], str]


@dataclass(frozen=True)
class Slot:
    """One `{{ … }}`: `source` as written, `variable` the data column or capture it
    names (None for a built-in), `get` its value at render time."""

    source: str
    variable: str | None
    get: Getter = field(compare=False)
    escape: Callable[[str], str] | None = field(default=None, compare=False)
    """Applied to the value when the slot sits inside a JSON string."""
    url_safe: bool = field(default=False, compare=False)
    """Its values hold only letters, digits and `-` (a built-in's number or UUID):
    nothing a request target would percent-encode."""

    def value(self, variables: Mapping[str, str], context: Context) -> str:
        text = self.get(variables, context)
        return self.escape(text) if self.escape is not None else text

    def getter(self) -> Getter:
        """`value` as one function (the escape folded in)."""
        get, escape = self.get, self.escape
        if escape is None:
            return get
        return lambda variables, context: escape(get(variables, context))


@dataclass(frozen=True)
class Template:
    """Compiled text: literal strings and slots, in order. Pickled as what it was
    compiled from (its slots hold functions), so scenarios reach worker processes."""

    parts: tuple[str | Slot, ...]
    origin: tuple[Callable[..., Template], tuple[Any, ...]] | None = field(
        default=None, compare=False
    )
    """The compiler and its arguments, for pickling."""
    needs: frozenset[str] = frozenset()
    """Variables its slots use besides those they name (a composed slot's)."""
    render: Getter = field(init=False, repr=False, compare=False)
    """`render(variables, context)`: the text for this user's variables and context; a
    function made for its parts (see `_renderer`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "render", _renderer(self.parts))

    def __reduce__(self) -> tuple[Any, ...]:
        if self.origin is None:
            raise TypeError("a Template made by hand cannot be pickled")
        return self.origin

    @property
    def static(self) -> bool:
        return all(isinstance(part, str) for part in self.parts)

    @property
    def text(self) -> str:
        """The text of a static template (the source of any other)."""
        return "".join(part if isinstance(part, str) else part.source for part in self.parts)

    @property
    def variables(self) -> frozenset[str]:
        """The data columns and captures it needs."""
        named = frozenset(
            part.variable
            for part in self.parts
            if isinstance(part, Slot) and part.variable is not None
        )
        return named | self.needs

    @property
    def url_safe(self) -> bool:
        """Every slot's values are `Slot.url_safe`."""
        return all(part.url_safe for part in self.parts if isinstance(part, Slot))


def _renderer(parts: tuple[str | Slot, ...]) -> Getter:
    """A function rendering `parts`, shaped for the usual templates (one slot between
    two literals): a render is on a flow's hot path, where each Python call or loop it
    saves is a few per cent."""
    positions = [index for index, part in enumerate(parts) if isinstance(part, Slot)]
    if len(positions) == 1:
        (position,) = positions
        slot = parts[position]
        assert isinstance(slot, Slot)
        get = slot.getter()
        head = "".join(part for part in parts[:position] if isinstance(part, str))
        tail = "".join(part for part in parts[position + 1 :] if isinstance(part, str))
        if head and tail:
            return lambda variables, context: head + get(variables, context) + tail
        if head:
            return lambda variables, context: head + get(variables, context)
        if tail:
            return lambda variables, context: get(variables, context) + tail
        return get
    pieces = tuple((part, None) if isinstance(part, str) else ("", part.getter()) for part in parts)
    return lambda variables, context: "".join([
        text if get is None else get(variables, context) for text, get in pieces
    ])  # fmt: skip


def compile_template(text: str) -> Template:
    """`text` as a Template; TemplateError names the slot that is wrong."""
    if "{{" not in text:  # most text: no slot to look for
        return Template((text,) if text else (), (compile_template, (text,)))
    parts: list[str | Slot] = []
    position = 0
    for match in _SLOT.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(_slot(match.group(0), match.group(1).strip()))
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        raise TemplateError(f"'{{{{' without a closing '}}}}' in {text!r}")
    if rest:
        parts.append(rest)
    return Template(tuple(parts), (compile_template, (text,)))


def compile_json(value: Any) -> Template:
    """A JSON body whose string leaves (not keys) may hold templates: its serialised text
    as one Template, each slot's value escaped as JSON string content."""
    templates: list[Template] = []
    marker = uuid.uuid4().hex  # no text of the body can hold it by chance
    serialised = json.dumps(_mark(value, templates, marker))
    parts: list[str | Slot] = []
    # `text M0M text M1M text` splits into text, 0, text, 1, text (a str.split: a regex
    # made of the marker would be compiled anew for every body, 0.4 ms each).
    for index, piece in enumerate(serialised.split(marker)):
        if index % 2 == 0:
            parts.append(piece)
        else:
            parts.extend(_in_json_string(templates[int(piece)]))
    return Template(_merged(parts), (compile_json, (value,)))


def _mark(node: Any, templates: list[Template], marker: str) -> Any:
    """The JSON value with each templated string leaf replaced by `marker`, its place in
    `templates`, `marker` (a random token, so no text of the body is taken for one)."""
    if isinstance(node, str):
        template = compile_template(node)
        if template.static:
            return node
        templates.append(template)
        return f"{marker}{len(templates) - 1}{marker}"
    if isinstance(node, list):
        return [_mark(item, templates, marker) for item in node]
    if isinstance(node, dict):
        return {key: _mark(item, templates, marker) for key, item in node.items()}
    return node


def _in_json_string(template: Template) -> list[str | Slot]:
    """A template's parts as the content of a JSON string: literals and values escaped."""
    return [
        json.dumps(part)[1:-1]
        if isinstance(part, str)
        else Slot(part.source, part.variable, part.get, _json_escape)
        for part in template.parts
    ]


def compile_basic_auth(user: str, password: str) -> Template:
    """An `Authorization: Basic …` value whose user and password may hold templates:
    base64 of `user:password`, rendered first."""
    pair = compile_template(f"{user}:{password}")
    origin = (compile_basic_auth, (user, password))
    if pair.static:
        return Template((_basic(pair.text),), origin)
    slot = Slot(
        "{{ basic auth }}",
        None,
        lambda variables, context: _basic(pair.render(variables, context)),
    )
    return Template((slot,), origin, pair.variables)


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode("utf-8")).decode("ascii")


def _merged(parts: list[str | Slot]) -> tuple[str | Slot, ...]:
    """Adjacent literal strings joined into one."""
    out: list[str | Slot] = []
    for part in parts:
        if part == "":
            continue
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        else:
            out.append(part)
    return tuple(out)


def _json_escape(text: str) -> str:
    return json.dumps(text)[1:-1]


def _slot(source: str, inner: str) -> Slot:
    if not inner:
        raise TemplateError(f"empty {source}: name a data column, a capture or a $built-in")
    if not inner.startswith("$"):
        if not _NAME.match(inner):
            raise TemplateError(
                f"{source}: a variable is a name (letters, digits, _), or a $built-in"
            )
        return Slot(source, inner, _variable(inner))
    call = _CALL.match(inner)
    if call is not None:
        name, arguments = call.groups()
        if name != "$random_int":
            raise TemplateError(f"{source}: unknown built-in {name}(); {_BUILTINS_HINT}")
        return Slot(source, None, _random_int(source, arguments), url_safe=True)
    getter = _BUILTINS.get(inner)
    if getter is None:
        raise TemplateError(f"{source}: unknown built-in {inner}; {_BUILTINS_HINT}")
    return Slot(source, None, getter, url_safe=True)  # numbers and UUIDs


def _variable(name: str) -> Getter:
    def get(variables: Mapping[str, str], context: Context) -> str:
        return variables[name]

    return get


def _random_int(source: str, arguments: str) -> Getter:
    bounds = arguments.split(",")
    found = [_INTEGER.match(bound) for bound in bounds]
    if len(bounds) != 2 or not all(found):
        raise TemplateError(f"{source}: $random_int takes two integers, e.g. $random_int(1, 100)")
    low, high = (int(m.group(1)) for m in found if m is not None)
    if low > high:
        raise TemplateError(f"{source}: $random_int({low}, {high}) has its bounds reversed")
    return lambda variables, context: str(context.rng.randint(low, high))


_BUILTINS: dict[str, Getter] = {
    "$user": lambda variables, context: str(context.user),
    "$iteration": lambda variables, context: str(context.iteration),
    "$uuid": lambda variables, context: str(uuid.UUID(int=context.rng.getrandbits(128), version=4)),
    "$timestamp_ms": lambda variables, context: str(time.time_ns() // 1_000_000),
}
_BUILTINS_HINT = "built-ins: $user, $iteration, $uuid, $random_int(a, b), $timestamp_ms"
