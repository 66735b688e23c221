"""`--out otlp`: a short load over two worker processes pushes its live figures over
OTLP/HTTP to a small receiver (tests/servers/otlp.py), which gets the run's own totals."""

from __future__ import annotations

from pathlib import Path

from perfrun.execution.outcome import DataOut, OutKind, RunOptions
from perfrun.execution.runner import run_scenarios
from perfrun.metrics.stats import LIVE_BOUNDS_S
from perfrun.report.exporters import exporters, tee
from perfrun.report.progress import QuietProgress
from perfrun.scenario.loader import load_file
from perfrun.scenario.model import ScenarioStatus
from tests.servers.otlp import OtlpReceiver
from tests.support.perfrun_cli import StartTarget, scenario, write_scenarios

SCENARIO = (("perfrun.scenario", "pushed"),)


def test_otlp_receiver_gets_the_live_and_final_totals_of_a_run_over_two_workers(
    target: StartTarget, tmp_path: Path
) -> None:
    server = target("--fail-every", "4")
    path = write_scenarios(
        tmp_path / "scenarios", {"pushed": scenario(server.url, users=2, duration="3s")}
    )
    (loaded,) = load_file(path, {})
    with OtlpReceiver() as receiver:
        (exporter,) = exporters([DataOut(OutKind.OTLP, receiver.url)])
        progress = tee([QuietProgress(), exporter])
        try:
            (outcome,) = run_scenarios([loaded], RunOptions(workers=2), progress)
        finally:
            progress.close()  # flushes the final figures
        assert outcome.status is ScenarioStatus.COMPLETED, outcome.message
        assert not receiver.refused
        overall, warmup = outcome.stats.overall, outcome.stats.warmup
        total, failed = overall.total + warmup.total, overall.failed + warmup.failed
        assert total > 0 and failed > 0  # --fail-every 4: every 4th request is a 500

        assert receiver.latest("perfrun.requests") == {SCENARIO: total}
        assert receiver.latest("perfrun.errors") == {
            (("error.type", "http_5xx"), *SCENARIO): failed
        }
        assert receiver.latest("perfrun.scenario.running") == {SCENARIO: 0}
        (last,) = receiver.metrics("perfrun.request.duration")[-1].histogram.data_points
        assert last.count == total - failed == sum(last.bucket_counts)
        assert list(last.explicit_bounds) == list(LIVE_BOUNDS_S)
        assert last.sum > 0
        # Live: it pushed once a second while the load ran (3 s), the workers' parts
        # summed, the counter never going down, before the final figures.
        pushed = [
            point.as_int
            for metric in receiver.metrics("perfrun.requests")
            for point in metric.sum.data_points
        ]
        assert len(pushed) >= 3, pushed
        assert any(0 < n < total for n in pushed), pushed
        assert pushed == sorted(pushed)
        resource = {
            kv.key: kv.value.string_value
            for kv in receiver.requests[-1].resource_metrics[0].resource.attributes
        }
        assert resource["service.name"] == "perfrun"
