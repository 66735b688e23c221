"""YAML text -> `LineDict` / `LineList`: every mapping and list knowing its line, and a
document refused, as it is read, when it is nested too deeply or its aliases expand too
far (the limits of `limits.py`), before any object is built from it.

The reading half of the scenario loader's YAML (`_yaml.py` has the locations, the field
readers and `${VAR}` substitution, and re-exports `read_yaml` / `read_text`). A plain
document (no merge key, no tag on a collection: most scenario files) is read by
`_plain.py` in one pass, bounded as it goes; any other, by the bounded composer here.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from perfrun.errors import ScenarioError
from perfrun.scenario._lines import LineDict as LineDict
from perfrun.scenario._lines import LineList as LineList
from perfrun.scenario._plain import Unusual, read_plain
from perfrun.scenario.limits import ALIAS_NODES, DEPTH, FILE_BYTES, Limits, over

try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None  # type: ignore[assignment, misc]


# --- YAML with line numbers -------------------------------------------------------------


def _mark(event: yaml.Event) -> Any:
    """Where `event` starts (libyaml's mark or PyYAML's: the same fields)."""
    return event.start_mark


class _Refused(yaml.MarkedYAMLError):
    """A document over one of the limits: refused while composing, before any object
    is built from it."""


class _BoundedComposer(yaml.composer.Composer):
    """A composer refusing, as it goes, a document nested deeper than `limits.depth`
    or whose aliases would add more than `limits.alias_nodes` values once expanded.

    Composing an alias costs nothing (the node is shared), but everything downstream
    (`${VAR}` substitution, JSON bodies) copies it: nine levels of nine aliases are 387
    million values. So each anchor's expanded size and height are kept, and each alias
    adds them to the document's; the nesting bound keeps every recursive walk of the
    document (this composer's, the constructor's, the loader's) far from Python's own.
    """

    if TYPE_CHECKING:  # the parser's and the resolver's, beside it in `_LineLoader`

        def peek_event(self) -> yaml.NodeEvent: ...
        def get_event(self) -> yaml.NodeEvent: ...
        def resolve(self, kind: type[yaml.Node], value: str, implicit: Any) -> str: ...

    def bound(self, limits: Limits) -> None:
        self._limits = limits
        self._depth = 0  # the node being composed, 1 for the root
        self._deepest = 0  # the deepest level reached under it (aliases expanded)
        self._nodes = 0  # values composed so far, aliases expanded
        self._alias_nodes = 0  # of which aliases added
        self._expanded: dict[str, tuple[int, int]] = {}  # anchor -> (size, height)
        self._tags: dict[tuple[str, Any], str] = {}  # (plain value, implicit) -> its tag

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._alias(event)
            return super().compose_node(parent, index)
        self._depth += 1
        self._reach(self._depth, event)
        outer_deepest, first = self._deepest, self._nodes
        self._deepest = self._depth
        self._nodes += 1
        node: Any
        if type(event) is yaml.ScalarEvent and event.anchor is None:
            node = self._scalar(event)  # most nodes: composed here, without three calls
        else:
            node = super().compose_node(parent, index)
        if event.anchor is not None:
            height = self._deepest - self._depth + 1
            self._expanded[event.anchor] = (self._nodes - first, height)
        self._deepest = max(outer_deepest, self._deepest)
        self._depth -= 1
        return node

    def _scalar(self, event: yaml.ScalarEvent) -> yaml.ScalarNode:
        """`compose_scalar_node`, its implicit tag looked up once per short value."""
        self.get_event()
        tag = event.tag
        if tag is None or tag == "!":
            key = (event.value, event.implicit)
            tag = self._tags.get(key)
            if tag is None:
                tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
                if len(event.value) <= 40:
                    self._tags[key] = tag
        return yaml.ScalarNode(tag, event.value, _mark(event), event.end_mark, event.style)  # type: ignore[arg-type]

    def _alias(self, event: yaml.AliasEvent) -> None:
        if event.anchor is None or event.anchor not in self.anchors:
            return  # the composer's own error: an undefined alias
        known = self._expanded.get(event.anchor)
        if known is None:
            raise _Refused(
                None, None, f"alias *{event.anchor} is inside the value it names",
                _mark(event),
            )  # fmt: skip
        size, height = known
        self._nodes += size
        self._alias_nodes += size
        if self._alias_nodes > self._limits.alias_nodes:
            raise _Refused(
                None, None,
                "YAML aliases expand too far: "
                + over(ALIAS_NODES, self._alias_nodes, self._limits.alias_nodes),
                _mark(event),
            )  # fmt: skip
        self._deepest = max(self._deepest, self._depth + height)
        self._reach(self._depth + height, event)

    def _reach(self, depth: int, event: yaml.Event) -> None:
        if depth > self._limits.depth:
            raise _Refused(
                None, None,
                f"nested too deeply: {depth} levels (an alias counts as what it names) is "
                f"above the limit of {self._limits.depth}; raise it with {DEPTH.variable}",
                _mark(event),
            )  # fmt: skip

    def compose_document(self) -> Any:
        node = super().compose_document()
        self._expanded = {}  # anchors belong to one document
        return node


if _CParser is not None:

    class _LineLoader(_BoundedComposer, _CParser, SafeConstructor, Resolver):
        """libyaml's parser (about ten times faster than PyYAML's own), this module's
        bounded composer, and a SafeConstructor building `LineDict` / `LineList` and
        refusing duplicate keys."""

        def __init__(self, stream: str, limits: Limits) -> None:
            _CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.bound(limits)

else:  # pragma: no cover - PyYAML built without libyaml

    class _LineLoader(  # type: ignore[no-redef]
        _BoundedComposer, Reader, Scanner, Parser, SafeConstructor, Resolver
    ):
        """PyYAML's own parser, this module's bounded composer, and a SafeConstructor
        building `LineDict` / `LineList` and refusing duplicate keys."""

        def __init__(self, stream: str, limits: Limits) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self.bound(limits)


def _expect(node: yaml.Node, kind: type[yaml.Node]) -> None:
    """A `!!map` or `!!seq` tag on the wrong kind of node (`a: !!map x`): PyYAML's own
    error, with its place, rather than a traceback from reading it as one."""
    if not isinstance(node, kind):
        expected, found = _KINDS[kind], _KINDS.get(type(node), "node")
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a {expected} node, but found {found}", node.start_mark
        )


_KINDS: dict[type[yaml.Node], str] = {
    yaml.ScalarNode: "scalar",
    yaml.SequenceNode: "sequence",
    yaml.MappingNode: "mapping",
}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    _expect(node, yaml.MappingNode)
    own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own  # `<<:` entries come first; own keys may override them
    result = LineDict(node.start_mark.line + 1)
    own_lines: dict[Any, int] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = _construct(loader, key_node)
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
        result[key] = _construct(loader, value_node)
        result.lines[key] = line
    return result


_STR = "tag:yaml.org,2002:str"


def _construct(loader: _LineLoader, node: yaml.Node) -> Any:
    """`construct_object`, without its bookkeeping for a string (most values)."""
    if node.tag == _STR and type(node) is yaml.ScalarNode:
        return node.value
    return loader.construct_object(node, deep=True)


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    _expect(node, yaml.SequenceNode)
    result = LineList(node.start_mark.line + 1)
    for index, item_node in enumerate(node.value):
        result.append(_construct(loader, item_node))
        result.lines[index] = item_node.start_mark.line + 1
    return result


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    try:
        return int(loader.construct_yaml_int(node))
    except ValueError:  # Python reads at most 4300 digits
        raise _Refused(
            None, None, f"a number of {len(node.value):,} digits is too large", node.start_mark
        ) from None


_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)  # type: ignore[type-var]
_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)  # type: ignore[type-var]
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)  # type: ignore[type-var]


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while a document is read (or its scenarios are
    built), then back as it was.

    Reading builds a node per value and then an object per node, trees without cycles
    (a recursive alias is refused), all freed by reference counting; but the collector,
    counting allocations, walks the growing heap again and again: it took half the time
    of reading a file of 100,000 scenarios (25 s of 11 without it), and a tenth of the
    time of building their `Scenario`s, frozen trees too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_yaml(path: Path, limits: Limits | None = None) -> Any:
    """`read_text` of the file at `path`, refused when larger than `limits.file_bytes`."""
    limits = Limits() if limits is None else limits
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise ScenarioError(f"{over(FILE_BYTES, size, limits.file_bytes)}", str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file: {exc}", str(path)) from None
    return read_text(text, str(path), limits)


def read_text(text: str, origin: str, limits: Limits | None = None) -> Any:
    """A scenario document's text, parsed with every mapping and list knowing its line;
    `origin` names it in messages (its path, or e.g. `command line`). A document over
    `limits` (nesting, aliases) is refused before any object is built from it."""
    limits = Limits() if limits is None else limits
    loader = _loader(text, origin, limits)
    try:
        with no_cycle_collection():
            return read_plain(loader, limits)
    except (Unusual, yaml.YAMLError):
        pass  # not plain, or not YAML: the bounded composer says what it is
    finally:
        loader.dispose()
    loader = _loader(text, origin, limits)
    try:
        with no_cycle_collection():
            return loader.get_single_data()  # a SafeConstructor: no arbitrary objects
    except _Refused as exc:
        mark = exc.problem_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        raise ScenarioError(str(exc.problem), where) from None
    except RecursionError:  # only when PERFRUN_MAX_DEPTH was lifted past Python's own
        raise ScenarioError(
            f"nested too deeply for Python to read; lower {DEPTH.variable}", origin
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        context = f" ({exc.context})" if exc.context else ""
        raise ScenarioError(f"YAML syntax error: {exc.problem}{context}", where) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1  # libyaml's position: in bytes
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ScenarioError(
            f"YAML error: character U+{code:04X} is not allowed in YAML text; "
            "write it as an escape in a double-quoted string (\\r, \\0, \\x1b)",
            f"{origin}:{line}",
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"YAML error: {exc}", origin) from None
    finally:
        loader.dispose()


def _loader(text: str, origin: str, limits: Limits) -> _LineLoader:
    try:
        return _LineLoader(text, limits)
    except UnicodeEncodeError as exc:  # a lone surrogate (text from the command line)
        raise ScenarioError(f"not UTF-8 text: {exc.reason}", origin) from None
