"""The live exporters without sockets: metric names in both conventions, the addresses
`--out` takes, the tee, the board's readings, and what each exporter's library is handed
(a Prometheus exposition rendered in memory; an in-memory OpenTelemetry exporter)."""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from perfrun import __version__
from perfrun.errors import UsageError
from perfrun.execution.outcome import DataOut, OutKind, ScenarioOutcome, Snapshot
from perfrun.metrics.histogram import LatencyHistogram
from perfrun.metrics.result import ErrorKind, RequestResult
from perfrun.metrics.stats import LIVE_BOUNDS_S, LiveLatency, ScenarioStats
from perfrun.report.exporters import (
    METRICS,
    Board,
    Exporter,
    Kind,
    Reading,
    exporters,
    listen_address,
    otlp_url,
    tee,
)
from perfrun.report.otlp import OtlpExporter
from perfrun.report.prometheus import BoardCollector
from perfrun.scenario.model import LoadSpec, Scenario, ScenarioStatus
from tests.support.scripted import scripted_scenario

# --- names ---------------------------------------------------------------------------------

PROMETHEUS_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
OTEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_./-]{0,254}")  # the API's instrument names


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.prometheus)
def test_each_metric_is_named_validly_in_both_conventions(metric: Any) -> None:
    assert PROMETHEUS_NAME.fullmatch(metric.prometheus)
    assert metric.prometheus.startswith("perfrun_") and metric.otel.startswith("perfrun.")
    assert OTEL_NAME.fullmatch(metric.otel)
    assert metric.prometheus.endswith("_total") == (metric.kind is Kind.COUNTER)
    if metric.unit == "s":
        assert metric.prometheus.endswith("_seconds")


def test_metric_names_are_unique() -> None:
    assert len({m.prometheus for m in METRICS}) == len({m.otel for m in METRICS}) == len(METRICS)


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (":9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:9464", ("::1", 9464)),
        (":0", ("127.0.0.1", 0)),
    ],
)
def test_listen_address_reads_host_and_port(where: str, expected: tuple[str, int]) -> None:
    assert listen_address(where) == expected


@pytest.mark.parametrize("where", ["9464", "host", "host:port", ":99999", "a:1/x", "", "u@h:1"])
def test_listen_address_refuses_anything_but_host_port(where: str) -> None:
    with pytest.raises(UsageError, match=r"--out prometheus=.*expected HOST:PORT"):
        listen_address(where)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/metrics"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/metrics"),
        ("https://otel.example:443/custom/path", "https://otel.example:443/custom/path"),
        ("http://collector/v1/metrics", "http://collector/v1/metrics"),
    ],
)
def test_otlp_url_adds_the_metrics_path_only_when_none_is_given(where: str, expected: str) -> None:
    assert otlp_url(where) == expected


@pytest.mark.parametrize("where", ["127.0.0.1:4318", "grpc://h:4317", "http://", "file:///x"])
def test_otlp_url_refuses_anything_but_http_urls(where: str) -> None:
    with pytest.raises(UsageError, match=r"--out otlp=.*expected an http\(s\) URL"):
        otlp_url(where)


def test_file_outs_are_no_live_exporters() -> None:
    assert exporters([DataOut(OutKind.CSV, "x.csv"), DataOut(OutKind.JSONL, "x.jsonl")]) == []


@pytest.mark.parametrize(
    ("kind", "module", "library"),
    [
        (OutKind.PROMETHEUS, "perfrun.report.prometheus", "prometheus_client"),
        (OutKind.OTLP, "perfrun.report.otlp", "opentelemetry"),
    ],
)
def test_a_missing_library_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, kind: OutKind, module: str, library: str
) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    for name in [n for n in sys.modules if n == library or n.startswith(library + ".")]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import X" raises ImportError
    where = ":0" if kind is OutKind.PROMETHEUS else "http://127.0.0.1:4318"
    with pytest.raises(UsageError, match=rf"pip install 'perfrun\[{kind.value}\]'"):
        exporters([DataOut(kind, where)])


# --- the tee and the board -----------------------------------------------------------------


class Recorder:
    """A Progress that records the calls it hears (an Exporter when `closes`)."""

    def __init__(self, calls: list[str], name: str, fails: bool = False) -> None:
        self.calls, self.name, self.fails = calls, name, fails

    def scenario_started(self, scenario: Scenario, index: int, count: int, url: str) -> None:
        self.calls.append(f"{self.name} started {scenario.name}")

    def update(self, snapshot: Snapshot) -> None:
        self.calls.append(f"{self.name} update {snapshot.done}")

    def scenario_finished(self, outcome: ScenarioOutcome) -> None:
        self.calls.append(f"{self.name} finished")


class ClosingRecorder(Recorder):
    def close(self) -> None:
        self.calls.append(f"{self.name} closed")
        if self.fails:
            raise RuntimeError(f"{self.name} failed to close")


def _scenario(name: str) -> Scenario:
    return dataclasses.replace(scripted_scenario(LoadSpec(users=1, duration=1.0)), name=name)


def _snapshot(done: int, rps: float = 0.0, **figures: Any) -> Snapshot:
    return Snapshot(0.0, done, None, 1.0, rps, None, 0, None, **figures)


def _outcome(scenario: Scenario, stats: ScenarioStats) -> ScenarioOutcome:
    now = datetime.now(UTC)
    return ScenarioOutcome(
        scenario, "http://x", "fast", now, now, ScenarioStatus.COMPLETED, "", stats, None
    )


def test_tee_hands_every_call_to_each_progress_in_order() -> None:
    calls: list[str] = []
    progress = tee([Recorder(calls, "a"), ClosingRecorder(calls, "b")])
    scenario = _scenario("s")
    progress.scenario_started(scenario, 0, 1, "http://x")
    progress.update(_snapshot(7))
    progress.scenario_finished(_outcome(scenario, ScenarioStats(0.0)))
    assert calls == [
        "a started s", "b started s", "a update 7", "b update 7", "a finished", "b finished",
    ]  # fmt: skip


def test_tee_closes_every_exporter_even_when_one_fails_and_only_exporters() -> None:
    calls: list[str] = []
    recorders = [
        Recorder(calls, "plain"),
        ClosingRecorder(calls, "first", fails=True),
        ClosingRecorder(calls, "second"),
    ]
    assert [isinstance(r, Exporter) for r in recorders] == [False, True, True]
    with pytest.raises(RuntimeError, match="first failed"):
        tee(recorders).close()
    assert sorted(calls) == ["first closed", "second closed"]


def _request(error: ErrorKind | None, started: float, latency: float = 0.003) -> RequestResult:
    return RequestResult("get", started, latency, 200 if error is None else 500, 1, error)


def test_board_keeps_each_scenarios_latest_reading_and_the_exact_final_one() -> None:
    board = Board()
    first, second = _scenario("first"), _scenario("second")
    board.scenario_started(first, 0, 2, "http://x")
    (started,) = board.readings()
    assert (started.scenario, started.requests, started.running) == ("first", 0, True)
    assert started.started_ns > 0
    latency = LiveLatency.of(LatencyHistogram())
    board.update(_snapshot(5, rps=5.0, error_kinds={"timeout": 1}, latency=latency))
    (live,) = board.readings()
    assert (live.requests, live.errors, live.rate, live.running) == (5, {"timeout": 1}, 5.0, True)

    stats = ScenarioStats(origin=0.0)
    for i in range(8):
        stats.record(_request(ErrorKind.TIMEOUT if i < 2 else None, 1.0 + i / 10))
    board.scenario_finished(_outcome(first, stats))
    (final,) = board.readings()
    assert (final.requests, final.errors, final.rate, final.running) == (
        8,
        {"timeout": 2},
        0,
        False,
    )
    assert final.latency.count == 6

    board.scenario_started(second, 1, 2, "http://x")
    board.update(_snapshot(1))
    assert [(r.scenario, r.requests, r.running) for r in board.readings()] == [
        ("first", 8, False), ("second", 1, True),
    ]  # fmt: skip


def test_board_counters_never_go_down() -> None:
    board = Board()
    board.scenario_started(_scenario("s"), 0, 1, "http://x")
    board.update(_snapshot(10, error_kinds={"reset": 3}))
    board.update(_snapshot(9, error_kinds={"reset": 2, "timeout": 1}))  # a share lost
    (reading,) = board.readings()
    assert (reading.requests, reading.errors) == (10, {"reset": 3, "timeout": 1})


# --- what each library is handed -----------------------------------------------------------

READING = Reading(
    "checkout",
    requests=12,
    errors={"http_5xx": 2, "timeout": 1},
    latency=LiveLatency.of(LatencyHistogram()) + LiveLatency((1,) * 5 + (8,) * 10, 9, 0.75),
    rate=4.0,
    running=True,
    started_ns=1_000,
)


def test_prometheus_exposition_of_a_reading() -> None:
    board = Board()
    board._readings["checkout"] = READING  # as the runner's updates leave it
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BoardCollector(board))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    scenario = (("scenario", "checkout"),)
    assert samples[("perfrun_requests_total", scenario)] == 12
    assert samples[("perfrun_errors_total", (("kind", "http_5xx"), *scenario))] == 2
    assert samples[("perfrun_errors_total", (("kind", "timeout"), *scenario))] == 1
    bucket = "perfrun_request_duration_seconds_bucket"
    assert samples[(bucket, (("le", "0.001"), *scenario))] == 1
    assert samples[(bucket, (("le", "0.1"), *scenario))] == 8
    assert samples[(bucket, (("le", "+Inf"), *scenario))] == 9
    assert samples[("perfrun_request_duration_seconds_count", scenario)] == 9
    assert samples[("perfrun_request_duration_seconds_sum", scenario)] == 0.75
    assert samples[("perfrun_requests_per_second", scenario)] == 4
    assert samples[("perfrun_scenario_running", scenario)] == 1
    assert samples[("perfrun_info", (("version", __version__),))] == 1


class InMemory:
    """Builds the OTLP exporter with an in-memory MetricExporter in place of HTTP."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics.export import (
            MetricExporter,
            MetricExportResult,
            MetricsData,
        )

        self.exports: list[MetricsData] = []
        exports = self.exports

        class Exporter(MetricExporter):
            def export(
                self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kw: Any
            ) -> MetricExportResult:
                exports.append(metrics_data)
                return MetricExportResult.SUCCESS

            def force_flush(self, timeout_millis: float = 10_000) -> bool:
                return True

            def shutdown(self, timeout_millis: float = 30_000, **kw: Any) -> None:
                pass

        self.exporter = Exporter()

    def metrics(self) -> dict[str, Any]:
        """The last export's metrics, by name."""
        (resource,) = self.exports[-1].resource_metrics
        return {m.name: m for scope in resource.scope_metrics for m in scope.metrics}


def test_otlp_export_of_a_reading_has_counters_gauges_and_the_histogram() -> None:
    memory = InMemory()
    exporter = OtlpExporter("http://unused", exporter=memory.exporter, interval_s=3600)
    exporter._readings["checkout"] = READING
    exporter.close()  # flushes
    exporter.close()  # idempotent
    metrics = memory.metrics()
    scenario = {"perfrun.scenario": "checkout"}
    (requests,) = metrics["perfrun.requests"].data.data_points
    assert (requests.value, dict(requests.attributes)) == (12, scenario)
    assert metrics["perfrun.requests"].data.is_monotonic
    errors = {
        p.attributes["error.type"]: p.value for p in metrics["perfrun.errors"].data.data_points
    }
    assert errors == {"http_5xx": 2, "timeout": 1}
    (rate,) = metrics["perfrun.request.rate"].data.data_points
    assert rate.value == 4.0
    (histogram,) = metrics["perfrun.request.duration"].data.data_points
    assert metrics["perfrun.request.duration"].unit == "s"
    assert list(histogram.explicit_bounds) == list(LIVE_BOUNDS_S)
    assert list(histogram.bucket_counts) == [1, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert (histogram.count, histogram.sum, histogram.start_time_unix_nano) == (9, 0.75, 1_000)
    assert dict(histogram.attributes) == scenario


def test_otlp_close_abandons_a_push_the_collector_never_answers() -> None:
    """A collector that takes a push and never answers: `close` waits SETTLE_S for it,
    then stops it (the exporter's shutdown ends its retries) instead of waiting out the
    push's whole retry window and then a final flush as long."""
    import threading
    import time

    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

    from perfrun.report.otlp import SETTLE_S, SHUTDOWN_S

    started, stop = threading.Event(), threading.Event()

    class Hanging(MetricExporter):
        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kw: Any
        ) -> MetricExportResult:
            started.set()
            stop.wait(60)  # the retry window of a collector that never answers
            return MetricExportResult.FAILURE

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kw: Any) -> None:
            stop.set()  # as OTLP's client: a retry under way stops waiting

    said: list[str] = []
    exporter = OtlpExporter("http://unused", say=said.append, exporter=Hanging(), interval_s=0.05)
    exporter._readings["checkout"] = READING
    assert started.wait(10)  # a push is under way
    began = time.monotonic()
    exporter.close()
    took = time.monotonic() - began
    assert stop.is_set()
    assert took < SETTLE_S + 2 * SHUTDOWN_S + 1.0, took  # not the push's 60 s
    assert said == [
        "--out otlp: 1 of 1 pushes to http://unused failed; the final figures were not sent"
    ]


def test_otlp_close_says_so_when_a_push_never_ends() -> None:
    """A request already sent that even the shutdown does not end: `close` returns
    within its bounds all the same, and counts the push as failed, not as nothing."""
    import threading
    import time

    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

    from perfrun.report.otlp import SETTLE_S, SHUTDOWN_S

    started, release = threading.Event(), threading.Event()

    class Stuck(MetricExporter):
        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kw: Any
        ) -> MetricExportResult:
            started.set()
            release.wait(60)
            return MetricExportResult.FAILURE

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kw: Any) -> None:
            pass  # the request in flight goes on

    said: list[str] = []
    exporter = OtlpExporter("http://unused", say=said.append, exporter=Stuck(), interval_s=0.05)
    exporter._readings["checkout"] = READING
    try:
        assert started.wait(10)
        began = time.monotonic()
        exporter.close()
        took = time.monotonic() - began
    finally:
        release.set()  # the reader's thread ends with the test
    assert took < SETTLE_S + 2 * SHUTDOWN_S + 1.0, took
    assert said == [
        "--out otlp: 1 of 1 pushes to http://unused failed; the final figures were not sent"
    ]
