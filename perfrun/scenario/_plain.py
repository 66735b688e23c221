"""A plain YAML document read in one pass over libyaml's events, straight into
`LineDict` / `LineList`: no node graph, no recursion.

Most scenario files are plain: no merge key, no tag on a mapping or a list, scalar
keys (anchors and aliases are fine). For them the bounded composer's work (a node per
value, three calls per node, then a constructor walking the nodes again) was half of
what a load took: 20,000 one-line scenarios took 2.7 CPU-s to read that way, 1.0 here.
Read here, the same document gives the same values and lines, and aliases are counted
as the composer counts them; anything else (a merge key, a collection key or a tagged
one, a duplicate key or anchor, an undefined or self-referring alias, a value a
constructor refuses, nesting or aliases past `limits`, a syntax error, a second
document) raises `Unusual`, and `_parse.read_text` reads the text again with the
bounded composer, which gives the answer, or the error, it always gave.
"""

from __future__ import annotations

from types import GeneratorType
from typing import Any, ClassVar, Protocol

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from perfrun.scenario._lines import LineDict, LineList
from perfrun.scenario.limits import Limits

_STR = "tag:yaml.org,2002:str"
_SHORT = 40  # plain scalars up to this long have their value kept: `1`, `true`, `GET`


class Unusual(Exception):
    """The document is not plain: read it with the bounded composer."""


class _Loader(Protocol):
    """The parts of `_parse._LineLoader` read here: libyaml's events, PyYAML's resolver
    and the safe constructors."""

    yaml_constructors: ClassVar[dict[Any, Any]]

    def get_event(self) -> Any: ...
    def resolve(self, kind: type[yaml.Node], value: str, implicit: Any) -> str: ...


class _Key:
    """A mapping being read, waiting for its next key (`key` is `_Key.NONE`) or for the
    value of `key`, written on `line`."""

    __slots__ = ("key", "line", "mapping")

    NONE: Any = object()

    def __init__(self, mapping: LineDict) -> None:
        self.mapping = mapping
        self.key: Any = _Key.NONE
        self.line = 0


def read_plain(loader: _Loader, limits: Limits) -> Any:
    """The one document `loader`'s events hold, as `LineDict` / `LineList` / values
    (None for an empty stream); `Unusual` when it is not plain or over `limits`: nested
    deeper than `limits.depth` (a scalar counts as a level, an alias as what it names,
    as in the bounded composer), or with aliases adding more than `limits.alias_nodes`
    values. An alias is the object its anchor made, as PyYAML's constructor gives it."""
    get = loader.get_event
    if type(get()) is not StreamStartEvent:
        raise Unusual
    if not _document_starts(get()):
        return None
    reader = _Reader(loader, limits)
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if reader.add(reader.scalar(event), event.start_mark.line + 1):
                break
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            if reader.close():
                break
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            reader.open(event, kind is MappingStartEvent)
        else:
            reader.add(*reader.alias(event))
    if type(get()) is not DocumentEndEvent or type(get()) is not StreamEndEvent:
        raise Unusual  # a second document: the composer's error
    return reader.root


def _document_starts(event: Any) -> bool:
    """Whether `event` starts a document (False: the stream is empty)."""
    if type(event) is StreamEndEvent:
        return False
    if type(event) is not DocumentStartEvent:
        raise Unusual
    return True


class _Reader:
    """The collections being read, innermost last, and the document's root; what each
    anchor names, and the counts the bounded composer keeps to refuse an alias bomb."""

    __slots__ = (
        "_alias_nodes", "_anchored", "_anchors", "_deepest", "_limits", "_loader", "_nodes",
        "_open", "_plain", "_top", "root",
    )  # fmt: skip

    def __init__(self, loader: _Loader, limits: Limits) -> None:
        self._loader = loader
        self._limits = limits
        self._open: list[Any] = []  # the LineList or _Key of each collection being read
        self._top: Any = None  # the innermost
        self._plain: dict[str, Any] = {}  # a short plain scalar's text -> its value
        self.root: Any = None
        self._nodes = 0  # values read, aliases counted as what they name
        self._alias_nodes = 0  # of which aliases added
        self._deepest = 0  # the deepest level reached (aliases counted as what they name)
        # name -> (value, size, height, line)
        self._anchors: dict[str, tuple[Any, int, int, int]] = {}
        # The anchored collections being read: level, name, value, line, and the nodes
        # and the deepest level before them.
        self._anchored: list[tuple[int, str, Any, int, int, int]] = []

    def open(self, event: Any, mapping: bool) -> None:
        """A mapping or a list starts at `event`."""
        level = len(self._open) + 1
        if event.tag is not None or level > self._limits.depth:
            raise Unusual
        value: Any
        if mapping:
            value = LineDict(event.start_mark.line + 1)
            frame: Any = _Key(value)
        else:
            value = frame = LineList(event.start_mark.line + 1)
        line = event.start_mark.line + 1
        self.add(value, line)
        if event.anchor is not None:
            self._anchor_starts(event.anchor, value, level, line)
        self._nodes += 1
        if level > self._deepest:
            self._deepest = level
        self._open.append(frame)
        self._top = frame

    def close(self) -> bool:
        """The innermost collection ends; True when it was the root."""
        if self._anchored and self._anchored[-1][0] == len(self._open):
            level, name, value, line, nodes, deepest = self._anchored.pop()
            height = self._deepest - level + 1
            self._anchors[name] = (value, self._nodes - nodes, height, line)
            self._deepest = max(self._deepest, deepest)
        self._open.pop()
        if not self._open:
            return True
        self._top = self._open[-1]
        return False

    def add(self, value: Any, line: int) -> bool:
        """`value`, written on `line`, into the innermost collection; True when it is a
        scalar root: the whole document."""
        top = self._top
        if top is None:
            self.root = value
            return type(value) is not LineDict and type(value) is not LineList
        if type(top) is LineList:
            top.lines[len(top)] = line
            top.append(value)
        elif top.key is _Key.NONE:
            if type(value) is LineDict or type(value) is LineList or value in top.mapping:
                raise Unusual  # a key that is a collection, or a duplicate: the composer's
            top.key, top.line = value, line
        else:
            top.mapping[top.key] = value
            top.mapping.lines[top.key] = top.line
            top.key = _Key.NONE
        return False

    def scalar(self, event: Any) -> Any:
        """The value of the scalar at `event`; a short plain one's made once."""
        level = len(self._open) + 1
        if level > self._limits.depth:
            raise Unusual
        self._nodes += 1
        if level > self._deepest:
            self._deepest = level
        text = event.value
        if event.tag is not None:
            value = _scalar(self._loader, event)
        elif not event.implicit[0]:  # quoted: a string
            value = text
        else:
            value = self._plain.get(text, self._plain)
            if value is self._plain:
                value = _scalar(self._loader, event)
                if len(text) <= _SHORT:
                    self._plain[text] = value
        if event.anchor is not None:
            line = event.start_mark.line + 1
            self._anchor_starts(event.anchor, value, level, line)
            self._anchors[event.anchor] = (value, 1, 1, line)
        return value

    def _anchor_starts(self, name: str, value: Any, level: int, line: int) -> None:
        if name in self._anchors or any(name == item[1] for item in self._anchored):
            raise Unusual  # PyYAML refuses an anchor defined twice
        if type(value) is LineDict or type(value) is LineList:
            self._anchored.append((level, name, value, line, self._nodes, self._deepest))
            self._deepest = level

    def alias(self, event: Any) -> tuple[Any, int]:
        """What the alias at `event` names, and the line of its anchor (where the
        composer places it too), counted as the composer counts it: the values it adds,
        the levels it reaches."""
        known = self._anchors.get(event.anchor)
        if known is None:
            raise Unusual  # undefined, or inside the value it names: the composer's error
        value, size, height, line = known
        self._nodes += size
        self._alias_nodes += size
        reach = len(self._open) + height
        if self._alias_nodes > self._limits.alias_nodes or reach > self._limits.depth:
            raise Unusual  # the composer refuses it, naming the limit
        if reach > self._deepest:
            self._deepest = reach
        return value, line


def _scalar(loader: _Loader, event: Any) -> Any:
    """A scalar's value as the safe constructor makes it (`!!int`: ours, refusing huge
    numbers)."""
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == _STR:
        return event.value
    construct = loader.yaml_constructors.get(tag)
    if construct is None:  # an unknown tag, or `<<` (a merge key): the composer's
        raise Unusual
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        value = construct(loader, node)
    except Exception as exc:  # the composer meets it again, and says what it is
        raise Unusual from exc
    if isinstance(value, GeneratorType):  # `!!set`, `!!omap`, `!!pairs`: a collection's
        raise Unusual  # constructor, which refuses a scalar only once iterated
    return value
