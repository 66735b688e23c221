"""`--out otlp=URL`: the live figures pushed as OpenTelemetry metrics over OTLP/HTTP, with
the OpenTelemetry SDK (the optional extra `perfrun[otlp]`; imported only for this).

A MeterProvider's PeriodicExportingMetricReader exports once a second, cumulatively. The
counters and gauges are observable instruments reading the board's latest readings. A
histogram of values already counted (perfrun's live buckets) is something the SDK's
instruments cannot take, so the exporter adds it to each export (`_WithDuration`) as SDK
data points, beside the instruments' own. The exporter's settings the user may want
(headers, certificates, compression) come from the standard OTEL_EXPORTER_OTLP_*
environment variables; `close()` flushes the final figures, then shuts down.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from perfrun import __version__
from perfrun.metrics.stats import LIVE_BOUNDS_S
from perfrun.report.exporters import (
    DURATION,
    ERRORS,
    KIND_LABEL,
    RATE,
    REQUESTS,
    RUNNING,
    SCENARIO_LABEL,
    Board,
    Reading,
    Say,
    warn,
)

SCOPE = "perfrun"
"""The instrumentation scope (meter) of every metric."""
INTERVAL_S = 1.0
"""Seconds between exports: the board's readings change once a second."""
TIMEOUT_S = 5.0
"""Per push (its retries included), and for the final flush."""
SHUTDOWN_S = 1.0
"""For the reader's thread to end, after the final flush."""
SETTLE_S = 0.5
"""At the end, how long a push under way may take to finish before it is abandoned:
a collector that answers takes milliseconds; one that does not would hold the exit for
its whole retry window (TIMEOUT_S), and then once more for the final flush."""

_library_logger = logging.getLogger(OTLPMetricExporter.__module__)
"""Where the OTLP/HTTP exporter logs its failed pushes."""

_SCENARIO = SCENARIO_LABEL["otel"]


def duration_metric(readings: Iterable[Reading], now_ns: int) -> Metric | None:
    """The latency histogram of these readings (None when there is none), cumulative since
    each scenario's start. Its min and max are unknown, sent as the SDK sends them when it
    does not record them (+inf, -inf)."""
    points = []
    for reading in readings:
        latency = reading.latency
        cumulative = [*latency.cumulative, latency.count]
        points.append(
            HistogramDataPoint(
                attributes={_SCENARIO: reading.scenario},
                start_time_unix_nano=reading.started_ns,
                time_unix_nano=now_ns,
                count=latency.count,
                sum=latency.sum_s,
                bucket_counts=[b - a for a, b in zip([0, *cumulative], cumulative, strict=False)],
                explicit_bounds=LIVE_BOUNDS_S,
                min=math.inf,
                max=-math.inf,
            )
        )
    if not points:
        return None
    return Metric(
        name=DURATION.otel,
        description=DURATION.help,
        unit=DURATION.unit,
        data=Histogram(
            data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE
        ),
    )


class _WithDuration(MetricExporter):
    """`inner`, each export with the board's latency histogram added to perfrun's scope."""

    def __init__(self, inner: MetricExporter, board: Board) -> None:
        super().__init__()  # cumulative for every instrument, as the histogram is
        self._inner = inner
        self._board = board
        self.pushes = self.failures = 0
        self.failing = False
        """The last push failed (the collector did not take it, after the retries)."""
        self.idle = threading.Event()
        """Set while no push is under way."""
        self.idle.set()
        self._shut = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if self._shut:  # the reader's last collection, after `close` gave up on the collector
            return MetricExportResult.FAILURE
        duration = duration_metric(self._board.readings(), time.time_ns())
        if duration is not None:
            metrics_data = MetricsData(
                resource_metrics=[
                    dataclasses.replace(
                        resource,
                        scope_metrics=[
                            dataclasses.replace(scope, metrics=[*scope.metrics, duration])
                            if scope.scope.name == SCOPE
                            else scope
                            for scope in resource.scope_metrics
                        ],
                    )
                    for resource in metrics_data.resource_metrics
                ]
            )
        self.idle.clear()
        result = MetricExportResult.FAILURE
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        finally:  # counted before `idle` says so: `close` reads them when it wakes
            self.pushes += 1
            self.failing = result is not MetricExportResult.SUCCESS
            self.failures += self.failing
            self.idle.set()
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stop: a push under way stops retrying, and none follows (once; see `close`)."""
        if not self._shut:
            self._shut = True
            self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class OtlpExporter(Board):
    """Pushes the live figures to `url` (an OTLP/HTTP metrics endpoint) until closed.
    `exporter` replaces the OTLP/HTTP one (tests: an in-memory exporter, no socket)."""

    def __init__(
        self,
        url: str,
        say: Say = warn,
        exporter: MetricExporter | None = None,
        interval_s: float = INTERVAL_S,
    ) -> None:
        super().__init__()
        self._say = say
        inner = exporter or OTLPMetricExporter(endpoint=url, timeout=TIMEOUT_S)
        self._url = url
        self._out = _WithDuration(inner, self)
        self._quiet = _FirstOnly()
        _library_logger.addFilter(self._quiet)
        reader = PeriodicExportingMetricReader(
            self._out,
            export_interval_millis=interval_s * 1000.0,
            export_timeout_millis=TIMEOUT_S * 1000.0,
        )
        resource = Resource.create({"service.name": "perfrun", "service.version": __version__})
        self._provider = MeterProvider(metric_readers=[reader], resource=resource)
        meter = self._provider.get_meter(SCOPE, __version__)
        meter.create_observable_counter(
            REQUESTS.otel, [self._requests], unit=REQUESTS.unit, description=REQUESTS.help
        )
        meter.create_observable_counter(
            ERRORS.otel, [self._errors], unit=ERRORS.unit, description=ERRORS.help
        )
        meter.create_observable_gauge(
            RATE.otel, [self._rate], unit=RATE.unit, description=RATE.help
        )
        meter.create_observable_gauge(
            RUNNING.otel, [self._running], unit=RUNNING.unit, description=RUNNING.help
        )
        self._closed = False

    def _requests(self, options: CallbackOptions) -> Sequence[Observation]:
        return [Observation(r.requests, {_SCENARIO: r.scenario}) for r in self.readings()]

    def _errors(self, options: CallbackOptions) -> Sequence[Observation]:
        return [
            Observation(count, {_SCENARIO: r.scenario, KIND_LABEL["otel"]: kind})
            for r in self.readings()
            for kind, count in sorted(r.errors.items())
        ]

    def _rate(self, options: CallbackOptions) -> Sequence[Observation]:
        return [Observation(r.rate, {_SCENARIO: r.scenario}) for r in self.readings()]

    def _running(self, options: CallbackOptions) -> Sequence[Observation]:
        return [Observation(int(r.running), {_SCENARIO: r.scenario}) for r in self.readings()]

    def close(self) -> None:
        """Push the final figures now, then stop; tell how many pushes failed. Not when
        the collector's last push failed, or one is still under way after SETTLE_S (it
        does not answer): that would only wait for it again. Then the push under way
        stops retrying, so a collector that is gone costs the exit at most SETTLE_S
        (plus SHUTDOWN_S for the reader's thread)."""
        if self._closed:
            return
        self._closed = True
        out = self._out
        answering = out.idle.wait(SETTLE_S) and not out.failing
        try:
            if answering:
                self._provider.force_flush(timeout_millis=TIMEOUT_S * 1000.0)
        finally:
            if not answering:
                out.shutdown()  # before the reader's: its last collection pushes nothing
            self._provider.shutdown(timeout_millis=SHUTDOWN_S * 1000.0)
            if out.idle.wait(SHUTDOWN_S):  # else its retry warnings stay quiet for good
                _library_logger.removeFilter(self._quiet)
            if out.failures or not answering:
                unanswered = not out.idle.is_set()  # a push still waiting: failed too
                failed = f"{out.failures + unanswered} of {out.pushes + unanswered} pushes"
                lost = "" if answering else "; the final figures were not sent"
                self._say(f"--out otlp: {failed} to {self._url} failed{lost}")


class _FirstOnly(logging.Filter):
    """Lets one record through: a collector that does not answer would otherwise get a
    few warnings a second written over the progress display (`close` sums them up)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        first = not self._seen
        self._seen = True
        return first
