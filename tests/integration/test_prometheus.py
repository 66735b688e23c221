"""`--out prometheus`: a real Prometheus (the Debian package's /usr/bin/prometheus) scrapes
perfrun's exporter every second while a short load runs against a test target, and its
query API then holds the run's own totals."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perfrun.execution.outcome import RunOptions, ScenarioOutcome
from perfrun.execution.runner import run_scenarios
from perfrun.metrics.result import ErrorKind
from perfrun.report.exporters import tee
from perfrun.report.progress import QuietProgress
from perfrun.report.prometheus import PrometheusExporter
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import ScenarioStatus
from tests.support.perfrun_cli import StartTarget, scenario, write_scenarios

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).is_file(),
    reason="no Prometheus server installed (Debian: apt-get install prometheus)",
)

STARTUP_S = 30.0
"""A busy machine may take a while to start Prometheus and have it scrape once."""


def _free_port() -> int:
    """A port free now (Prometheus takes no listening socket, only an address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def prometheus_scraping(target_port: int, directory: Path) -> Iterator[str]:
    """A Prometheus scraping 127.0.0.1:`target_port` every second; yields its URL once
    it answers, and is killed at the end."""
    config = directory / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: perfrun\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
    )
    port = _free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={directory / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _ready(url), STARTUP_S, f"Prometheus at {url} not ready", process)
        yield url
    finally:
        process.kill()
        process.wait(10)
        log.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _until(
    check: Callable[[], bool],
    within: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert process is None or process.poll() is None, f"{what}: it exited"
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def query(url: str, promql: str) -> dict[str, float]:
    """An instant query's result: {its `scenario` or `kind` label, or "": value}."""
    with urllib.request.urlopen(
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=5
    ) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return {
        r["metric"].get("kind", r["metric"].get("scenario", "")): float(r["value"][1])
        for r in body["data"]["result"]
    }


def test_prometheus_scrapes_the_runs_counts_and_histogram_live_and_at_the_end(
    target: StartTarget, tmp_path: Path
) -> None:
    server = target("--fail-every", "5")
    path = write_scenarios(
        tmp_path / "scenarios", {"scraped": scenario(server.url, users=2, duration="3s")}
    )
    (loaded,) = load_file(path, {})
    exporter = PrometheusExporter("127.0.0.1", 0)
    outcomes: list[ScenarioOutcome] = []
    try:
        with prometheus_scraping(exporter.port, tmp_path) as url:
            _until(lambda: exporter.scrapes > 0, STARTUP_S, "Prometheus never scraped perfrun")
            scrapes_before = exporter.scrapes
            progress = tee([QuietProgress(), exporter])
            outcomes.extend(run_scenarios([loaded], RunOptions(), progress))
            progress.close()  # waits for a scrape after the end: the final figures
            (outcome,) = outcomes
            assert outcome.status is ScenarioStatus.COMPLETED, outcome.message
            overall, warmup = outcome.stats.overall, outcome.stats.warmup
            total = overall.total + warmup.total
            assert total > 0
            failed = overall.failed + warmup.failed
            assert failed > 0  # --fail-every 5: every 5th request is a 500

            def final() -> bool:
                return query(url, "perfrun_requests_total") == {"scraped": total}

            _until(
                final, 10.0, f"never read {total} requests: {query(url, 'perfrun_requests_total')}"
            )
            assert query(url, "perfrun_errors_total") == {ErrorKind.HTTP_5XX.value: failed}
            assert query(url, 'perfrun_request_duration_seconds_bucket{le="+Inf"}') == {
                "scraped": total - failed
            }
            assert query(url, "perfrun_request_duration_seconds_count") == {
                "scraped": total - failed
            }
            # The target answers at once: most successes are under 250 ms, none over +Inf.
            under = query(url, 'perfrun_request_duration_seconds_bucket{le="0.25"}')["scraped"]
            assert 0 < under <= total - failed
            assert query(url, "perfrun_scenario_running") == {"scraped": 0.0}
            assert query(url, "perfrun_info") == {"": 1.0}
            # Live: it was scraped while the load ran (3 s at one scrape a second), not
            # only at the end, and the counter only went up.
            samples = query(url, "count_over_time(perfrun_requests_total[5m])")["scraped"]
            assert samples >= 2
            assert exporter.scrapes >= scrapes_before + 2
            assert query(url, "resets(perfrun_requests_total[5m])") == {"scraped": 0.0}
    finally:
        exporter.close()
    with pytest.raises(OSError):  # closed: it no longer listens
        urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=2)
