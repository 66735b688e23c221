"""The scenario loader's YAML containers: a mapping and a list that know their lines.

Both readers of `_parse.py` (the fast one of `_plain.py` and the bounded composer) build
them; the loader reads them, naming `file:line` in every error.
"""

from __future__ import annotations

from typing import Any


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key."""

    __slots__ = ("line", "lines")  # no `__dict__`: a file of 100,000 scenarios holds 400,000

    def __init__(self, line: int, lines: dict[Any, int] | None = None) -> None:
        super().__init__()
        self.line = line
        self.lines = {} if lines is None else dict(lines)


class LineList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item (by index)."""

    __slots__ = ("line", "lines")

    def __init__(self, line: int, lines: dict[Any, int] | None = None) -> None:
        super().__init__()
        self.line = line
        self.lines = {} if lines is None else dict(lines)
