"""A plain YAML document read in one pass over libyaml's events, straight into
`LineDict` / `LineList`: no node graph, no recursion.

Most scenario files are plain: no anchor, no alias, no merge key, no tag on a mapping
or a list, scalar keys. For them the bounded composer's work (a node per value, three
calls per node, then a constructor walking the nodes again) was half of what a load took:
20,000 one-line scenarios took 2.7 CPU-s to read that way, 1.0 here. Read here, the same
document gives the same values and lines; anything else (an anchor or an alias, a merge
key, a collection key or a tagged one, a duplicate key, a value a constructor refuses,
nesting past `limits.depth`, a syntax error, a second document) raises `Unusual`, and
`_parse.read_text` reads the text again with the bounded composer, which gives the
answer, or the error, it always gave.
"""

from __future__ import annotations

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


def read_plain(loader: _Loader, depth: int) -> Any:
    """The one document `loader`'s events hold, as `LineDict` / `LineList` / values
    (None for an empty stream); `Unusual` when it is not plain or nested deeper than
    `depth` (a scalar counts as a level, as in the bounded composer)."""
    get = loader.get_event
    if type(get()) is not StreamStartEvent:
        raise Unusual
    if not _document_starts(get()):
        return None
    reader = _Reader(loader, depth)
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if reader.add(reader.scalar(event), event):
                break
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            if reader.close():
                break
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            reader.open(event, kind is MappingStartEvent)
        else:  # an alias
            raise Unusual
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
    """The collections being read, innermost last, and the document's root."""

    __slots__ = ("_depth", "_loader", "_open", "_plain", "_top", "root")

    def __init__(self, loader: _Loader, depth: int) -> None:
        self._loader = loader
        self._depth = depth
        self._open: list[Any] = []  # the LineList or _Key of each collection being read
        self._top: Any = None  # the innermost
        self._plain: dict[str, Any] = {}  # a short plain scalar's text -> its value
        self.root: Any = None

    def open(self, event: Any, mapping: bool) -> None:
        """A mapping or a list starts at `event`."""
        if event.anchor is not None or event.tag is not None or len(self._open) >= self._depth:
            raise Unusual
        value: Any
        if mapping:
            value = LineDict(event.start_mark.line + 1)
            frame: Any = _Key(value)
        else:
            value = frame = LineList(event.start_mark.line + 1)
        self.add(value, event)
        self._open.append(frame)
        self._top = frame

    def close(self) -> bool:
        """The innermost collection ends; True when it was the root."""
        self._open.pop()
        if not self._open:
            return True
        self._top = self._open[-1]
        return False

    def add(self, value: Any, event: Any) -> bool:
        """`value`, read at `event`, into the innermost collection; True when it is a
        scalar root: the whole document."""
        top = self._top
        if top is None:
            self.root = value
            return type(value) is not LineDict and type(value) is not LineList
        if type(top) is LineList:
            top.lines[len(top)] = event.start_mark.line + 1
            top.append(value)
        elif top.key is _Key.NONE:
            if type(value) is LineDict or type(value) is LineList or value in top.mapping:
                raise Unusual  # a key that is a collection, or a duplicate: the composer's
            top.key, top.line = value, event.start_mark.line + 1
        else:
            top.mapping[top.key] = value
            top.mapping.lines[top.key] = top.line
            top.key = _Key.NONE
        return False

    def scalar(self, event: Any) -> Any:
        """The value of the scalar at `event`; a short plain one's made once."""
        if event.anchor is not None or len(self._open) >= self._depth:
            raise Unusual
        text = event.value
        if event.tag is not None:
            return _scalar(self._loader, event)
        if not event.implicit[0]:  # quoted: a string
            return text
        value = self._plain.get(text, self._plain)
        if value is self._plain:
            value = _scalar(self._loader, event)
            if len(text) <= _SHORT:
                self._plain[text] = value
        return value


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
        return construct(loader, node)
    except Exception as exc:  # the composer meets it again, and says what it is
        raise Unusual from exc
