"""Per-user data: the rows of a scenario's `data: {file: …}`, each a {column: text} map.

A CSV file with a header row, a JSON array of objects, or JSON lines (one object per
line), chosen by the file's suffix (`.csv`, `.json`, `.jsonl` / `.ndjson`). Every value
is text, as it will be substituted into a request (a JSON number 5 becomes "5"; null
becomes ""). The whole file is read when the scenario loads, so a bad row stops the run
before any load, naming the file and line.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfrun.scenario.limits import DATA_ROWS, over

MAX_BYTES = 64 * 1024 * 1024
"""A data file larger than this is refused: rows are held in memory, once per worker."""


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and, when known, the
    line."""


class Order(enum.StrEnum):
    """Which row a virtual user's iteration uses."""

    UNIQUE = "unique"
    """Row i for user i, for all its iterations (fewer rows than users: an error)."""
    SEQUENTIAL = "sequential"
    """The next row at each iteration, across all users, wrapping around."""
    RANDOM = "random"
    """A random row at each iteration."""


Row = Mapping[str, str]


@dataclass(frozen=True)
class Data:
    """A data file's rows, in file order, and how users take them."""

    path: Path
    rows: tuple[Row, ...]
    order: Order

    @property
    def columns(self) -> frozenset[str]:
        """The columns every row has (a template may name only these)."""
        if not self.rows:
            return frozenset()
        return frozenset.intersection(*(frozenset(row) for row in self.rows))


def load_data(path: Path, order: Order, max_rows: int = DATA_ROWS.default) -> Data:
    """Read `path`, of at most `max_rows` rows; DataError names what is wrong and where."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DataError(f"{path}: {size:,} bytes; data files are limited to {MAX_BYTES:,}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a directory, not a data file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, text)
    elif suffix == ".json":
        rows = _json_rows(path, text)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _json_lines(path, text)
    else:
        raise DataError(f"{path}: unknown data format; use .csv, .json or .jsonl")
    return Data(path, _counted(path, rows, max_rows), order)


def _counted(path: Path, rows: list[Row], max_rows: int) -> tuple[Row, ...]:
    """`rows`, one at least and at most `max_rows` (each worker holds them all)."""
    if not rows:
        raise DataError(f"{path}: no rows")
    if len(rows) > max_rows:
        raise DataError(f"{path}: {over(DATA_ROWS, len(rows), max_rows)}")
    return tuple(rows)


def _csv_rows(path: Path, text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(name.strip() for name in header):
            raise DataError(f"{path}:1: a CSV data file starts with a header row")
        names = [name.strip() for name in header]
        _check_names(path, 1, names)
        rows: list[Row] = []
        for values in reader:
            line = reader.line_num
            if not values or values == [""]:
                continue  # a blank line
            if len(values) != len(names):
                raise DataError(
                    f"{path}:{line}: {len(values)} values for {len(names)} columns "
                    f"({', '.join(names)})"
                )
            rows.append(dict(zip(names, values, strict=True)))
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: {exc}") from None
    return rows


def _loads(path: Path, text: str, line: int) -> Any:
    """`text`, starting at `line` of the file, as JSON; DataError naming the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{line + exc.lineno - 1}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise DataError(f"{path}:{line}: nested too deeply") from None


def _json_rows(path: Path, text: str) -> list[Row]:
    value = _loads(path, text, 1)
    if not isinstance(value, list):
        raise DataError(f"{path}:1: a JSON data file holds an array of objects")
    return [_row(path, None, item, f"item {i}") for i, item in enumerate(value)]


def _json_lines(path: Path, text: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rows.append(_row(path, number, _loads(path, line, number), "the line"))
    return rows


def _row(path: Path, line: int | None, item: Any, what: str) -> Row:
    where = f"{path}:{line}" if line is not None else str(path)
    if not isinstance(item, dict):
        raise DataError(f"{where}: {what} is not an object of column: value")
    _check_names(path, line, list(item))
    return {name: _text(where, name, value) for name, value in item.items()}


def _text(where: str, name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise DataError(
        f"{where}: column {name!r} holds a {type(value).__name__}; use text or a number"
    )


def _check_names(path: Path, line: int | None, names: Sequence[str]) -> None:
    where = f"{path}:{line}" if line is not None else str(path)
    seen: set[str] = set()
    for name in names:
        if not name.isidentifier():
            raise DataError(
                f"{where}: column {name!r} is not a name a template can use "
                "(letters, digits and _, not starting with a digit)"
            )
        if name in seen:
            raise DataError(f"{where}: column {name!r} twice")
        seen.add(name)


def row_for(data: Data, user: int, iteration: int, users: int, rng: random.Random) -> Row:
    """The row user `user` (of `users`) takes at `iteration`: the same whichever worker
    process runs the user. `sequential` walks the file in the order the users' iterations
    interleave (iteration 0 of users 0, 1, …, then iteration 1, …), wrapping around;
    `random` draws from the user's own generator."""
    rows = data.rows
    if data.order is Order.UNIQUE:
        return rows[user]
    if data.order is Order.SEQUENTIAL:
        return rows[(iteration * users + user) % len(rows)]
    return rows[rng.randrange(len(rows))]
