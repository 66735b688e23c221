"""StreamedStats (`--out jsonl`, `--out csv`): one JSON line per request through either
recording path, whole lines in chunks, the same figures as ScenarioStats, per-second rows
that add up, and mergeable across workers. Pure: no clock, no I/O."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.streamed import (
    ALL_ENDPOINTS,
    CSV_HEADER,
    FLUSH_LINES,
    Out,
    SecondRow,
    StreamedStats,
    result_line,
    success_line,
)

ORIGIN = 1000.0
FIELDS = ["ts", "scenario", "endpoint", "latency_ms", "ok", "status", "error", "bytes", "warmup"]


@pytest.mark.parametrize("status", [200, 204, 302])
def test_success_line_carries_every_field_in_order(status: int) -> None:
    out = Out('sc "1"', "get/é", None)
    line = success_line(out, 1_700_000_000.123456, 0.0123456, status, 42, warmup=True)
    assert line.endswith("\n") and line.count("\n") == 1
    parsed = json.loads(line)
    assert list(parsed) == FIELDS
    assert parsed == {
        "ts": 1_700_000_000.123456, "scenario": 'sc "1"', "endpoint": "get/é",
        "latency_ms": 12.346, "ok": True, "status": status, "error": None, "bytes": 42,
        "warmup": True,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            RequestResult("a", 10.5, 0.25, 503, 7, ErrorKind.HTTP_5XX, "x", 0.5),
            {"ts": 110.0, "latency_ms": 750.0, "ok": False, "status": 503,
             "error": "http_5xx", "bytes": 7},
        ),
        (
            RequestResult("a", 10.0, 1.0, 0, 0, ErrorKind.CONNECT_REFUSED, "refused"),
            {"ts": 110.0, "latency_ms": 1000.0, "ok": False, "status": None,
             "error": "connect_refused", "bytes": 0},
        ),
        (
            RequestResult("a", 10.0, 0.001, 204, 0),
            {"ts": 110.0, "latency_ms": 1.0, "ok": True, "status": 204, "error": None,
             "bytes": 0},
        ),
    ],
)  # fmt: skip
def test_result_line_says_ok_error_kind_and_status(
    result: RequestResult, expected: dict[str, Any]
) -> None:
    parsed = json.loads(result_line(Out("s", "a", None), result, 100.0, warmup=False))
    assert list(parsed) == FIELDS
    assert parsed == {**expected, "scenario": "s", "endpoint": "a", "warmup": False}


def _results(n: int) -> list[RequestResult]:
    """n requests over ~3 s on two endpoints (their statuses 200 and 201), every 5th
    failing, a 1 s warm-up."""
    out = []
    for i in range(n):
        started = ORIGIN + i * 3.0 / n
        error = ErrorKind.TIMEOUT if i % 5 == 0 else None
        size = 0 if error else 100 + i % 3
        status = 200 + i % 2  # a: 200, b: 201
        out.append(RequestResult("ab"[i % 2], started, 0.001 + (i % 7) * 1e-3, status, size, error))
    return out


def _streamed(chunks: list[str] | None, per_second: bool = True) -> StreamedStats:
    write = chunks.append if chunks is not None else None
    return StreamedStats(
        ORIGIN, warmup=1.0, scenario="s", write=write, per_second=per_second,
    )  # fmt: skip


def _record_both_ways(stats: ScenarioStats, results: list[RequestResult]) -> None:
    """Successes through `ok` (the fast engine's path), failures through `record`."""
    for r in results:
        if r.error is None:
            end = r.started + r.latency
            endpoint = stats.endpoint(r.endpoint)
            stats.ok(endpoint, r.started, end, 0.0, r.bytes_received, r.started, end, r.status)
        else:
            stats.record(r)


def test_every_request_is_one_line_through_either_path_in_whole_chunks() -> None:
    chunks: list[str] = []
    stats = _streamed(chunks)
    results = _results(FLUSH_LINES * 2 + 10)
    _record_both_ways(stats, results)
    # Two full chunks went out while recording; the rest waits for the flush.
    assert [c.count("\n") for c in chunks] == [FLUSH_LINES, FLUSH_LINES]
    stats.detach()
    assert all(c.endswith("\n") for c in chunks)
    lines = [json.loads(line) for c in chunks for line in c.splitlines()]
    assert len(lines) == len(results)
    assert sum(not line["ok"] for line in lines) == sum(r.error is not None for r in results)
    # Each success's own status, also through the fast path (`ok`).
    assert {(line["endpoint"], line["status"]) for line in lines if line["ok"]} == {
        ("a", 200),
        ("b", 201),
    }
    warm = sum(r.started < ORIGIN + 1.0 for r in results)
    assert sum(line["warmup"] for line in lines) == warm
    offset = stats.unix_offset
    assert lines[1]["ts"] == pytest.approx(results[1].started + offset, abs=1e-6)


def test_streaming_changes_none_of_the_figures() -> None:
    results = _results(3000)
    plain, streamed = ScenarioStats(ORIGIN, warmup=1.0), _streamed([])
    for stats in (plain, streamed):
        _record_both_ways(stats, results)
    assert plain.overall.total == streamed.overall.total
    assert plain.warmup.total == streamed.warmup.total
    assert plain.overall.latency.summary_ms() == streamed.overall.latency.summary_ms()
    assert {n: e.total for n, e in plain.endpoints.items()} == {
        n: e.total for n, e in streamed.endpoints.items()
    }


def test_csv_rows_add_up_to_the_totals_per_endpoint_and_second() -> None:
    results = _results(3000)
    stats = _streamed(None)
    _record_both_ways(stats, results)
    rows = list(stats.rows())
    everything = [r for r in rows if r.endpoint == ALL_ENDPOINTS]
    # Warm-up included, as on the report's timeline.
    assert sum(r.requests for r in everything) == len(results)
    assert sum(r.errors for r in everything) == sum(r.error is not None for r in results)
    assert sum(r.bytes for r in everything) == sum(r.bytes_received for r in results)
    for name in "ab":
        mine = [r for r in rows if r.endpoint == name]
        assert sum(r.requests for r in mine) == sum(r.endpoint == name for r in results)
    for all_row in everything:
        parts = [r for r in rows if r.second == all_row.second and r.endpoint != ALL_ENDPOINTS]
        assert sum(r.requests for r in parts) == all_row.requests
        assert sum(r.bytes for r in parts) == all_row.bytes
        assert all_row.p50_ms is not None and all_row.p99_ms is not None
        assert 1.0 <= all_row.p50_ms <= all_row.p95_ms <= all_row.p99_ms <= 7.01  # type: ignore[operator]
    ended = sorted({int(r.started + r.latency - ORIGIN) for r in results})
    assert [r.second for r in everything] == ended == [0, 1, 2, 3]


def test_workers_stats_merge_their_seconds_and_parts_after_pickling() -> None:
    results = _results(2000)
    whole, parent = _streamed(None), _streamed(None)
    _record_both_ways(whole, results)
    for k in range(2):
        worker = _streamed([])
        _record_both_ways(worker, results[k::2])
        worker.detach()
        worker.pieces.append(f"part{k}")
        parent.merge(pickle.loads(pickle.dumps(worker)))
    assert parent.pieces == ["part0", "part1"]
    assert list(parent.rows()) == list(whole.rows())


def test_pickling_refuses_unwritten_lines() -> None:
    stats = _streamed([])
    _record_both_ways(stats, _results(3))
    with pytest.raises(RuntimeError, match="detach"):
        pickle.dumps(stats)


@pytest.mark.parametrize(
    ("row", "cells"),
    [
        (
            SecondRow(3, 1, "s", "a", 10, 1, 1.5, 2.25, 12.0, 900),
            (3, "1970-01-01T00:00:03Z", "s", "a", 10, 1, "10", "1.5", "2.25", "12", 900),
        ),
        (
            SecondRow(4, 2, "s", "*", 3, 3, None, None, None, 0),
            (4, "1970-01-01T00:00:04Z", "s", "*", 3, 3, "1.5", "", "", "", 0),
        ),
    ],
)
def test_csv_cells_are_the_header_columns(row: SecondRow, cells: tuple[object, ...]) -> None:
    assert len(CSV_HEADER) == len(cells)
    assert row.cells(0.0) == cells
