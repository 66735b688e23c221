"""Live figures to dashboards while a run goes on: `--out prometheus=HOST:PORT` serves them
for a scraper, `--out otlp=URL` pushes them over OTLP/HTTP. Each exporter is a Progress
(it hears the runner's snapshots, one a second) kept in a `Board`; `tee` hands the same
calls to several Progress objects; `close()` ends an exporter after the run.

The names and labels of every metric, in both conventions, are the table `METRICS`. The
libraries are optional extras, imported only when their `--out` is asked for
(`perfrun.report.prometheus`, `perfrun.report.otlp`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import urlsplit

from perfrun.errors import UsageError
from perfrun.execution.outcome import DataOut, OutKind, Progress, ScenarioOutcome, Snapshot
from perfrun.metrics.stats import LiveFigures, LiveLatency
from perfrun.scenario.model import Scenario

if TYPE_CHECKING:
    from types import ModuleType

DEFAULT_HOST = "127.0.0.1"
"""`--out prometheus=:PORT` listens here: on this machine only, unless a host is named."""
OTLP_METRICS_PATH = "/v1/metrics"
"""Appended to an OTLP URL given without a path (as OTEL_EXPORTER_OTLP_ENDPOINT is)."""


Say = Callable[[str], None]
"""Where an exporter tells the user something (a line of text)."""


def warn(line: str) -> None:
    """`Say` by default: a logged warning (shown on stderr when logging is not set up)."""
    logging.getLogger(__name__).warning("%s", line)


class Kind(StrEnum):
    """What a metric is, in both conventions."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Metric:
    """One live metric, named in each convention."""

    prometheus: str
    """Its name as a scraper queries it (a counter's ends in `_total`)."""
    otel: str
    kind: Kind
    unit: str
    """UCUM, as OpenTelemetry wants it."""
    help: str
    by_kind: bool = False
    """Labelled by error kind besides the scenario."""


REQUESTS = Metric(
    "perfrun_requests_total", "perfrun.requests", Kind.COUNTER, "{request}",
    "Requests completed, warm-up included.",
)  # fmt: skip
ERRORS = Metric(
    "perfrun_errors_total", "perfrun.errors", Kind.COUNTER, "{request}",
    "Failed requests by error kind, warm-up included.", by_kind=True,
)  # fmt: skip
DURATION = Metric(
    "perfrun_request_duration_seconds", "perfrun.request.duration", Kind.HISTOGRAM, "s",
    "Successful requests' latency from their intended start, warm-up included.",
)  # fmt: skip
RATE = Metric(
    "perfrun_requests_per_second", "perfrun.request.rate", Kind.GAUGE, "{request}/s",
    "Requests completed in the last full second (0 once the scenario ended).",
)  # fmt: skip
RUNNING = Metric(
    "perfrun_scenario_running", "perfrun.scenario.running", Kind.GAUGE, "1",
    "1 while the scenario's load runs, 0 once it ended.",
)  # fmt: skip
METRICS: tuple[Metric, ...] = (REQUESTS, ERRORS, DURATION, RATE, RUNNING)
"""Every live metric. Besides them, Prometheus has `perfrun_info{version}`; OpenTelemetry
has the version in the resource (`service.name` perfrun, `service.version`)."""

SCENARIO_LABEL = {"prometheus": "scenario", "otel": "perfrun.scenario"}
KIND_LABEL = {"prometheus": "kind", "otel": "error.type"}


@dataclass(frozen=True)
class Reading:
    """One scenario's figures as the exporters show them."""

    scenario: str
    requests: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    latency: LiveLatency = field(default_factory=LiveLatency)
    rate: float = 0.0
    running: bool = False
    started_ns: int = 0
    """Wall-clock time (ns since the epoch) the scenario started: OTLP's start time."""

    def then(self, live: LiveFigures | Snapshot, rate: float, running: bool) -> Reading:
        """This scenario's next reading. A counter never goes down, even if a final merge
        says less than a live sum did (a share lost): a scraper would read a reset."""
        errors = dict(self.errors)
        for kind, count in live.error_kinds.items():
            errors[kind] = max(errors.get(kind, 0), count)
        latency = live.latency if live.latency.count >= self.latency.count else self.latency
        return Reading(
            self.scenario, max(self.requests, live.done), errors, latency, rate, running,
            self.started_ns,
        )  # fmt: skip


class Board:
    """The latest reading of every scenario of the run (a Progress). The runner's thread
    writes; an exporter's thread reads (`readings`): each reading is a frozen value put
    in place whole, so a reader sees one scenario's figures from one moment."""

    def __init__(self) -> None:
        self._readings: dict[str, Reading] = {}
        self._current: str | None = None

    def readings(self) -> list[Reading]:
        return list(self._readings.values())

    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None:
        name = self._current = scenario.name  # unique in a run (the loader sees to it)
        self._readings[name] = Reading(name, running=True, started_ns=time.time_ns())

    def update(self, snapshot: Snapshot) -> None:
        name = self._current
        if name is not None:
            self._readings[name] = self._readings[name].then(snapshot, snapshot.rps, True)

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        """The final figures, exactly: those of the outcome's (merged) stats."""
        name = outcome.scenario.name
        known = self._readings.get(name) or Reading(name, started_ns=time.time_ns())
        self._readings[name] = known.then(outcome.stats.live(), 0.0, False)
        self._current = None


@runtime_checkable
class Exporter(Progress, Protocol):
    """A Progress that sends the figures somewhere until closed."""

    def close(self) -> None:
        """Send the final figures, then stop (idempotent)."""


class Tee:
    """Several Progress objects as one: each call goes to every one, in order."""

    def __init__(self, progresses: Sequence[Progress]) -> None:
        self._progresses = tuple(progresses)

    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None:
        for progress in self._progresses:
            progress.scenario_started(scenario, index, count, url)

    def update(self, snapshot: Snapshot) -> None:
        for progress in self._progresses:
            progress.update(snapshot)

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        for progress in self._progresses:
            progress.scenario_finished(outcome)

    def close(self) -> None:
        """Close every one that is an Exporter, all of them even when one fails."""
        with contextlib.ExitStack() as stack:
            for progress in self._progresses:
                if isinstance(progress, Exporter):
                    stack.callback(progress.close)


def tee(progresses: Sequence[Progress]) -> Tee:
    """The progresses as one Progress; its `close()` closes the exporters among them."""
    return Tee(progresses)


def exporters(data_out: Sequence[DataOut], say: Say = warn) -> list[Exporter]:
    """A started exporter for each `--out prometheus=…` and `--out otlp=…` (other kinds
    are not live exporters and are skipped). UsageError (exit 2) for a malformed address
    or a missing optional library; PerfrunError (exit 3) when the address cannot be
    listened on. Close them (`Tee.close`) after the run; the ones started before a
    failure here are closed before it propagates. `say` tells the user what closing
    does (a wait for a last scrape, failed pushes)."""
    started: list[Exporter] = []
    try:
        for out in data_out:
            if out.kind is OutKind.PROMETHEUS:
                host, port = listen_address(out.where)
                prometheus = _optional(
                    "perfrun.report.prometheus", "prometheus", "prometheus_client"
                )
                started.append(prometheus.PrometheusExporter(host, port, say))
            elif out.kind is OutKind.OTLP:
                url = otlp_url(out.where)
                otlp = _optional("perfrun.report.otlp", "otlp", "opentelemetry")
                started.append(otlp.OtlpExporter(url, say))
    except BaseException:
        tee(started).close()
        raise
    return started


def listen_address(where: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` (DEFAULT_HOST) or `[IPv6]:PORT` as (host, port)."""
    try:
        parts = urlsplit(f"//{where}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if port is None or parts.path or parts.query or parts.username is not None:
        raise UsageError(
            f"--out prometheus={where}: expected HOST:PORT, such as :9464 or 0.0.0.0:9464"
        )
    return host or DEFAULT_HOST, port


def otlp_url(where: str) -> str:
    """An OTLP/HTTP metrics URL: http(s)://HOST[:PORT][/PATH], `/v1/metrics` when no path."""
    parts = urlsplit(where)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--out otlp={where}: expected an http(s) URL, such as http://127.0.0.1:4318"
        )
    if parts.path in ("", "/"):
        return parts._replace(path=OTLP_METRICS_PATH).geturl()
    return where


def _optional(module: str, extra: str, library: str) -> ModuleType:
    """Import an exporter's module, whose `library` is the optional extra `extra`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if not (exc.name or "").startswith(library):
            raise  # not the extra's library: a bug of perfrun's, shown as one
        raise UsageError(
            f"--out {extra} needs a library that is not installed ({exc.name}): "
            f"pip install 'perfrun[{extra}]'"
        ) from exc
