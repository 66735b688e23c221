"""`--out prometheus=HOST:PORT`: the live figures served for a Prometheus scraper, with
prometheus-client (the optional extra `perfrun[prometheus]`; imported only for this).

The metrics are a custom collector's, on a private registry: at each scrape it reads the
board's latest readings (one a second), so nothing is counted twice and no request
touches the library. The server listens from the exporter's start until `close()`, which
first waits (at most LINGER_S) for one more scrape when something has been scraping, so
that the final figures reach it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.metrics_core import Metric as Family
from prometheus_client.registry import Collector

from perfrun import __version__
from perfrun.errors import PerfrunError
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

LINGER_S = 15.0
"""At most this long after the run, wait for a scraper's next visit (Prometheus's usual
scrape interval), when one has visited: its last scrape may precede the end."""

_SCENARIO = SCENARIO_LABEL["prometheus"]
_LE = [str(bound) for bound in LIVE_BOUNDS_S]
"""The buckets' `le` labels: `0.25`, `1.0`, as prometheus-client writes its own."""


def families(readings: Iterable[Reading], version: str = __version__) -> list[Family]:
    """The metric families of these readings, as a scrape exposes them."""
    info = InfoMetricFamily("perfrun", "The perfrun serving these metrics.")
    info.add_metric([], {"version": version})
    requests = CounterMetricFamily(REQUESTS.prometheus, REQUESTS.help, labels=[_SCENARIO])
    errors = CounterMetricFamily(
        ERRORS.prometheus, ERRORS.help, labels=[_SCENARIO, KIND_LABEL["prometheus"]]
    )
    duration = HistogramMetricFamily(DURATION.prometheus, DURATION.help, labels=[_SCENARIO])
    rate = GaugeMetricFamily(RATE.prometheus, RATE.help, labels=[_SCENARIO])
    running = GaugeMetricFamily(RUNNING.prometheus, RUNNING.help, labels=[_SCENARIO])
    for reading in readings:
        name = [reading.scenario]
        requests.add_metric(name, reading.requests)
        for kind, count in sorted(reading.errors.items()):
            errors.add_metric([reading.scenario, kind], count)
        latency = reading.latency
        buckets = [*zip(_LE, latency.cumulative, strict=True), ("+Inf", latency.count)]
        duration.add_metric(name, buckets, latency.sum_s)
        rate.add_metric(name, reading.rate)
        running.add_metric(name, 1.0 if reading.running else 0.0)
    return [info, requests, errors, duration, rate, running]


class BoardCollector(Collector):
    """The board's readings at each scrape; counts the scrapes (see `close`)."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self.scrapes = 0
        self.scraped = threading.Condition()

    def collect(self) -> Iterator[Family]:
        with self.scraped:
            self.scrapes += 1
            self.scraped.notify_all()
        yield from families(self._board.readings())


class PrometheusExporter(Board):
    """Serves the live figures at http://HOST:PORT/metrics (any path answers) until closed."""

    def __init__(self, host: str, port: int, say: Say = warn, linger: float = LINGER_S) -> None:
        super().__init__()
        self._say = say
        self._linger = linger
        self._collector = BoardCollector(self)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self._collector)
        try:
            self._server, self._thread = start_http_server(port, host, self.registry)
        except OSError as exc:
            raise PerfrunError(f"--out prometheus: cannot listen on {host}:{port}: {exc}") from exc
        self.host = host
        self.port: int = self._server.server_port
        """The port listened on (the one asked for, or the one given for port 0)."""
        self._closed = False

    @property
    def scrapes(self) -> int:
        """How many times the metrics were read."""
        return self._collector.scrapes

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Wait for a last scrape (when anything scrapes, at most `linger` s; saying so
        after a second; Ctrl-C stops waiting), then stop listening."""
        if self._closed:
            return
        self._closed = True
        try:
            collector = self._collector
            with collector.scraped:
                seen = collector.scrapes

                def scraped() -> bool:
                    return collector.scrapes > seen

                # Scraped, and there is something to see (a scenario started).
                if seen and self.readings() and not collector.scraped.wait_for(scraped, 1.0):
                    self._say(
                        f"waiting up to {self._linger:.0f} s for a last scrape of {self.url} "
                        "(Ctrl-C: do not wait)"
                    )
                    with contextlib.suppress(KeyboardInterrupt):  # the user chose not to
                        collector.scraped.wait_for(scraped, self._linger - 1.0)
        finally:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
