"""The Prometheus exporter's own server on 127.0.0.1, scraped by plain HTTP requests: it
waits after the run for one more scrape only when something scrapes, and an address
that cannot be listened on stops perfrun before any load."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import urllib.request
from typing import Any

import pytest

from perfrun.errors import EXIT_RUN_FAILED, PerfrunError
from perfrun.execution.outcome import DataOut, OutKind
from perfrun.report import prometheus
from perfrun.report.exporters import exporters
from perfrun.report.prometheus import PrometheusExporter
from perfrun.scenario.model import LoadSpec
from tests.support.scripted import scripted_scenario

SCENARIO = dataclasses.replace(scripted_scenario(LoadSpec(users=1, duration=1.0)), name="s")


def scrape(exporter: PrometheusExporter) -> str:
    with urllib.request.urlopen(exporter.url, timeout=5) as response:
        return str(response.read().decode())


def test_closing_waits_for_a_scraper_that_came_during_the_run() -> None:
    said: list[str] = []
    exporter = PrometheusExporter("127.0.0.1", 0, say=said.append, linger=30.0)
    exporter.scenario_started(SCENARIO, 0, 1, "http://x")
    assert 'perfrun_scenario_running{scenario="s"} 1.0' in scrape(exporter)
    closing = threading.Thread(target=exporter.close)
    closing.start()
    closing.join(2.0)
    assert closing.is_alive()  # waiting for the next scrape ...
    assert said == [f"waiting up to 30 s for a last scrape of {exporter.url} (Ctrl-C: do not wait)"]
    assert "perfrun_requests_total" in scrape(exporter)
    closing.join(10.0)  # ... which ends the wait
    assert not closing.is_alive()
    with pytest.raises(OSError):
        scrape(exporter)


def test_closing_does_not_wait_when_nothing_scraped() -> None:
    said: list[str] = []
    exporter = PrometheusExporter("127.0.0.1", 0, say=said.append, linger=30.0)
    exporter.scenario_started(SCENARIO, 0, 1, "http://x")
    started = time.monotonic()
    exporter.close()
    assert time.monotonic() - started < 10.0  # not the 30 s a wait would take
    assert said == []
    exporter.close()  # idempotent


def test_an_address_in_use_is_exit_3_naming_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PerfrunError, match=f"cannot listen on 127.0.0.1:{port}") as error:
            exporters([DataOut(OutKind.PROMETHEUS, f"127.0.0.1:{port}")])
    assert error.value.exit_code == EXIT_RUN_FAILED


def test_a_failure_after_the_first_exporter_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[PrometheusExporter] = []

    class Recorded(PrometheusExporter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(prometheus, "PrometheusExporter", Recorded)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PerfrunError):
            exporters([DataOut(OutKind.PROMETHEUS, ":0"), DataOut(OutKind.PROMETHEUS, f":{port}")])
    (first,) = started
    with pytest.raises(OSError):  # closed: it no longer listens
        scrape(first)
