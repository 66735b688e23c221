"""The run history: one JSON line of figures per run (`--history`), and the median of the
last comparable runs as a baseline (`--baseline history`)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfrun.errors import ReportError, UsageError
from perfrun.judge.figures import (
    Baseline,
    ScenarioFigures,
    figures_from_report_dict,
    figures_of,
)
from perfrun.report.codec import read_entries, timestamp
from perfrun.report.model import RunReport
from perfrun.scenario.metrics import COMPARED

HISTORY_FILE = "perfrun-history.jsonl"
HISTORY_RUNS = 5
"""How many of the latest comparable runs the history baseline takes the median of."""


def history_file(target: Path) -> Path:
    """`--history` names a directory (an existing one, or a path without a suffix), which
    holds HISTORY_FILE, or the history file itself."""
    if target.is_dir() or (not target.exists() and not target.suffix):
        return target / HISTORY_FILE
    return target


def history_entry(report: RunReport) -> dict[str, Any]:
    """One run's summary as a history line holds it: completed scenarios only."""
    scenarios = {
        f.name: {"load_key": f.load_key, "samples": f.samples, **f.values}
        for f in figures_of(report).values()
    }
    return {
        "perfrun_version": report.perfrun_version,
        "started_at": timestamp(report.started_at),
        "scenarios": scenarios,
    }


def append_history(target: Path, report: RunReport) -> Path:
    """Append the run's summary as one JSON line; returns the history file written.

    Call history_baseline first: the run must not be part of its own baseline.
    """
    path = history_file(target)
    line = json.dumps(history_entry(report), ensure_ascii=False, separators=(",", ":"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        raise ReportError(f"history {path}: cannot write: {exc.strerror or exc}") from None
    return path


def history_baseline(target: Path, wanted: Mapping[str, str], last: int = HISTORY_RUNS) -> Baseline:
    """Per wanted scenario (name → load key), the median of each metric over the `last`
    history runs with the same name and load settings (None values ignored).

    Scenarios without comparable history are left out (the comparison lists them as only
    in the run). A missing history file is an empty history. Call it before
    append_history, so that the current run is not its own baseline.
    """
    path = history_file(target)
    runs = history_runs(path, read_entries(path, "history")) if path.exists() else []
    baseline = history_medians(path, runs, wanted, last)
    return Baseline(history_source(path, baseline, last), baseline)


def history_runs(path: Path, entries: list[dict[str, Any]]) -> list[dict[str, ScenarioFigures]]:
    runs = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry.get("scenarios"), dict):
            raise UsageError(f"history {path}: entry {number} is not a perfrun history entry")
        try:
            runs.append(figures_from_report_dict(entry))
        except ValueError as exc:
            raise UsageError(f"history {path}: entry {number}: {exc}") from None
    return runs


def history_medians(
    path: Path,
    runs: list[dict[str, ScenarioFigures]],
    wanted: Mapping[str, str],
    last: int,
) -> dict[str, ScenarioFigures]:
    """For each wanted name → load_key, the median figures of its latest `last` runs."""
    baseline = {}
    for name, key in wanted.items():
        matching = [run[name] for run in runs if name in run and run[name].load_key == key]
        matching = matching[-last:]
        if not matching:
            continue
        values = {}
        for metric in COMPARED:
            seen = [v for f in matching if (v := f.value(metric)) is not None]
            values[metric] = statistics.median(seen) if seen else None
        counts = [f.samples for f in matching if f.samples is not None]
        baseline[name] = ScenarioFigures(
            name=name,
            load_key=key,
            values=values,
            source=f"history {path} (median of {_runs(len(matching))})",
            samples=min(counts) if counts else None,
        )
    return baseline


def history_source(path: Path, baseline: Mapping[str, ScenarioFigures], last: int) -> str:
    """One scenario's source when all agree, else the rule that made them."""
    sources = {f.source for f in baseline.values()}
    if len(sources) == 1:
        return sources.pop()
    return f"history {path} (median of up to {_runs(last)} with the same load settings)"


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"
