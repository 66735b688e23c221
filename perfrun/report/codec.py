"""The JSON report: the report model as a documented contract (docs/report.md, checked
against docs/report.schema.json), written atomically."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from perfrun.errors import UsageError
from perfrun.report.files import write_atomically
from perfrun.report.model import (
    LaunchedTarget,
    Phase,
    Resources,
    RunReport,
    ScenarioReport,
    Series,
    Trend,
    Verdict,
)

FLOAT_DIGITS = 3
SCHEMA_VERSION = 1
"""The JSON report's `schema_version` (docs/report.schema.json): raised when a field is
removed or changes meaning; a new field does not raise it. Reports without it are older."""


def to_dict(report: RunReport) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "perfrun_version": report.perfrun_version,
        "started_at": timestamp(report.started_at),
        "finished_at": timestamp(report.finished_at),
        "environment": dict(report.environment),
        "passed": report.passed,
        "interrupted": report.interrupted,
        "fail_on": report.fail_on,
        "baseline": dataclasses.asdict(report.baseline) if report.baseline else None,
        "overrides": {name: list(values) for name, values in report.overrides.items()},
        "scenarios": [_scenario(s) for s in report.scenarios],
    }


def _scenario(s: ScenarioReport) -> dict[str, Any]:
    cleaned: dict[str, Any] = clean(
        {
            "name": s.name,
            "description": s.description,
            "type": s.type,
            "severity": s.severity,
            "source": s.source,
            "base_url": s.base_url,
            "engine": s.engine,
            "load": dict(s.load),
            "overrides": dict(s.overrides),
            "status": s.status,
            "message": s.message,
            "target": _launched(s.target),
            "passed": s.passed,
            "started_at": timestamp(s.started_at),
            "finished_at": timestamp(s.finished_at),
            "duration_s": s.duration_s,
            "window": dataclasses.asdict(s.window),
            "requests": dataclasses.asdict(s.requests),
            "latency_basis": s.latency_basis,
            "latency_ms": dict(s.latency_ms),
            "service_time_ms": dict(s.service_time_ms),
            "failed_latency_ms": dict(s.failed_latency_ms),
            "errors": dict(s.errors),
            "error_samples": dict(s.error_samples),
            "checks": {
                c.name: {"endpoint": c.endpoint, "evaluated": c.evaluated, "failed": c.failed}
                for c in s.checks
            },
            "warmup": dataclasses.asdict(s.warmup) if s.warmup is not None else None,
            "schedule": dataclasses.asdict(s.schedule) if s.schedule is not None else None,
            "generator": {
                "saturated": s.generator.saturated,
                "reasons": list(s.generator.reasons),
                "loop_lag_ms": dict(s.generator.loop_lag_ms),
                "cpu_percent": s.generator.cpu_percent,
                "workers": s.generator.workers,
                "fails_run": s.generator.fails_run,
                **(
                    {
                        "cluster": s.generator.cluster,
                        "shares": [dataclasses.asdict(share) for share in s.generator.shares],
                    }
                    if s.generator.cluster is not None
                    else {}
                ),
            },
            "endpoints": {
                e.name: {
                    "method": e.method,
                    "path": e.path,
                    "requests": dataclasses.asdict(e.requests),
                    "latency_ms": dict(e.latency_ms),
                    "errors": dict(e.errors),
                    "phases": _phases(e.phases),
                }
                for e in s.endpoints
            },
            "phases": _phases(s.phases),
            "resources": _resources(s.resources),
            "thresholds": [_verdict(v) for v in s.thresholds],
            "thresholds_reliable": s.thresholds_reliable,
            "timeline": [dataclasses.asdict(p) for p in s.timeline],
            "latency_spectrum": [{"percentile": p, "ms": v} for p, v in s.latency_spectrum],
            "insights": [dataclasses.asdict(i) for i in s.insights],
            "comparison": dataclasses.asdict(s.comparison) if s.comparison else None,
            "tolerated": s.tolerated,
            **({"backoff": dataclasses.asdict(s.backoff)} if s.backoff is not None else {}),
        }
    )
    return cleaned


def _launched(t: LaunchedTarget | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "pid": t.pid, "command": list(t.command), "log": t.log, "scope": t.scope,
        "exit_code": t.exit_code, "exited_after_s": t.exited_after_s,
    }  # fmt: skip


def _phases(phases: Mapping[str, Phase]) -> dict[str, Any]:
    return {name: {"count": p.count, "ms": dict(p.ms)} for name, p in phases.items()}


def _series(series: Series) -> dict[str, float | None]:
    return {"avg": series.avg, "max": series.max}


def _trend(trend: Trend | None) -> dict[str, Any] | None:
    if trend is None:
        return None
    return {
        "slope": trend.slope,
        "low": trend.low,
        "high": trend.high,
        "points": trend.points,
        "note": trend.note,
    }


def _resources(r: Resources | None) -> dict[str, Any] | None:
    if r is None:
        return None
    target = None
    if r.target is not None:
        t = r.target
        target = {
            "pid": t.pid,
            "name": t.name,
            "lost": t.lost,
            "cpu_percent": _series(t.cpu_percent),
            "memory_mb": _series(t.memory_mb),
            "threads": _series(t.threads),
            "open_files": _series(t.open_files),
            "sockets": _series(t.sockets),
            "processes": _series(t.processes),
            "memory_growth_mb_per_hour": _trend(t.memory_growth_mb_per_hour),
            "open_files_growth": t.open_files_growth,
            "memory_mb_per_cycle": list(t.memory_mb_per_cycle),
            "memory_growth_mb_per_cycle": _trend(t.memory_growth_mb_per_cycle),
        }
    return {
        "target": target,
        "system": {
            "cpu_percent": _series(r.system_cpu_percent),
            "memory_percent": _series(r.system_memory_percent),
        },
        "generator": {
            "cpu_percent": _series(r.generator_cpu_percent),
            "memory_mb": _series(r.generator_memory_mb),
        },
        "monitor": {
            "interval_s": r.interval_s,
            "samples": len(r.samples),
            "overhead_cpu_percent": r.monitor_overhead_percent,
            "gaps": r.gaps,
            "gap_reason": r.gap_reason,
        },
        "samples": [dataclasses.asdict(sample) for sample in r.samples],
    }


def _verdict(v: Verdict) -> dict[str, Any]:
    return {
        "key": v.key,
        "metric": v.metric,
        "bound": v.bound,
        "limit": v.limit,
        "actual": v.actual,
        "passed": v.passed,
        "status": v.status,
        "note": v.note,
        "warn": v.warn,
        "over_s": v.over_s,
        "window": None if v.window is None else dataclasses.asdict(v.window),
        "default": v.default,
    }


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def clean(value: Any) -> Any:
    """Round floats for readability; everything else as it is."""
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def json_text(report: RunReport) -> str:
    """The JSON report's text."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def write_json(report: RunReport, path: Path) -> None:
    """Write the JSON report atomically (perfrun.report.files)."""
    write_atomically(path, json_text(report))


def read_entries(path: Path, what: str) -> list[dict[str, Any]]:
    """A saved JSON report (one object) or history (JSON lines, one object each), as the
    objects it holds; UsageError naming the file (and line) when it is neither."""
    text = _read_text(path, what)
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if whole is not None:
        if not isinstance(whole, dict):
            raise UsageError(f"{what} {path}: not a perfrun JSON report")
        return [whole]
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{what} {path}:{number}: invalid JSON: {exc.msg}") from None
        if not isinstance(entry, dict):
            raise UsageError(f"{what} {path}:{number}: not a perfrun history entry")
        entries.append(entry)
    return entries


def _read_text(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"{what} {path}: cannot read: {reason}") from None
    if not text.strip():
        raise UsageError(f"{what} {path}: the file is empty")
    return text
