"""Whole runs through the CLI against real servers on 127.0.0.1: what the report says.

Every test reads the JSON report `perfrun` wrote and checks the numbers against what the
test target is known to do (tests/servers/target.py: a fixed delay, every 4th request
failing, 150 MB held, a core kept busy).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from tests.servers.launch import TargetProcess
from tests.support.bounds import closed_loop_limits_ms, connected, loop_late_s
from tests.support.perfrun_cli import (
    RunPerfrun,
    StartTarget,
    flat,
    only_scenario,
    scenario,
    write_scenarios,
)

LATENCY_KEYS = {"min", "avg", "p50", "p75", "p90", "p95", "p99", "p999", "max"}


def samples_follow_the_interval(resources: dict[str, Any], covered_s: float) -> None:
    """The monitor's samples tile its span at the configured interval, however late a busy
    machine wakes its thread: each sample but the last (folded when shorter than half an
    interval) spans at least one interval, together they cover `covered_s`, and they are
    no fewer than one per two intervals (an interval ignored, e.g. the 1 s default used
    instead of 0.2 s, gives fewer: no thread wakes an interval late on average)."""
    interval = resources["monitor"]["interval_s"]
    spans = [sample["dt"] for sample in resources["samples"]]
    assert resources["monitor"]["samples"] == len(spans)
    assert all(dt >= interval - 0.001 for dt in spans[:-1]), spans
    assert spans[-1] >= interval / 2 - 0.001, spans
    assert sum(spans) >= covered_s, spans
    assert len(spans) >= sum(spans) / (2 * interval), spans


def verdicts(scenario_report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["key"]: v for v in scenario_report["thresholds"]}


def _gone(pid: int, timeout: float = 30.0) -> bool:
    """True once `pid` no longer runs (a zombie counts as gone), waiting up to `timeout`:
    generous, for a process left running never goes, however long one waits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# --- counts --------------------------------------------------------------------------------


def test_closed_model_sends_exactly_users_times_requests_per_user_over_a_weighted_mix(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    mix = [
        {"name": "heavy", "path": "/heavy", "weight": 3},
        {"name": "light", "path": "/light", "weight": 1},
    ]
    run = run_perfrun(
        {"mix": scenario(plain_target.url, users=7, requests_per_user=13, requests=mix)}
    )

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["requests"]["total"] == 91
    assert s["requests"]["succeeded"] == 91
    assert s["requests"]["failed"] == 0
    endpoints = s["endpoints"]
    assert set(endpoints) == {"heavy", "light"}
    heavy, light = endpoints["heavy"]["requests"], endpoints["light"]["requests"]
    assert heavy["total"] + light["total"] == 91
    assert heavy["succeeded"] + light["succeeded"] == 91
    # 3:1 over 91 draws: both are hit and heavy wins (failing odds ~1e-8).
    assert light["total"] > 0
    assert heavy["total"] > light["total"]
    assert (endpoints["heavy"]["method"], endpoints["heavy"]["path"]) == ("GET", "/heavy")


# --- latency -------------------------------------------------------------------------------


def test_latency_against_a_20ms_server_is_20ms_and_reports_every_percentile(
    run_perfrun: RunPerfrun, delay_target: TargetProcess
) -> None:
    run = run_perfrun({"lat": scenario(delay_target.url, users=4, requests_per_user=25)})

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["requests"]["total"] == 100
    latency = s["latency_ms"]
    assert set(latency) == LATENCY_KEYS
    # The server sleeps 20 ms before answering, so nothing can be faster; and nothing
    # slower than the run's own window allows (see closed_loop_limits_ms), which a busy
    # machine stretches along with the latencies. A latency in the wrong unit, from the
    # wrong instant or counted twice breaks one side or the other.
    mean_limit, p50_limit = closed_loop_limits_ms(s, requests_per_user=25, floor_ms=20.0)
    assert latency["min"] >= 20.0
    assert latency["avg"] <= mean_limit
    assert 20.0 <= latency["p50"] <= p50_limit
    ordered = [latency[k] for k in ("min", "p50", "p75", "p90", "p95", "p99", "p999", "max")]
    assert ordered == sorted(ordered)
    assert latency["min"] <= latency["avg"] <= latency["max"]
    assert set(s["endpoints"]["get"]["latency_ms"]) == LATENCY_KEYS


# --- errors --------------------------------------------------------------------------------


def test_server_failing_every_4th_request_gives_exactly_25_percent_http_5xx(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    failing = target("--fail-every", "4")
    run = run_perfrun(
        {
            "flaky": scenario(
                failing.url, users=4, requests_per_user=10, thresholds={"min_success_rate": 95}
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["status"] == "completed"
    assert s["requests"]["total"] == 40
    assert s["requests"]["succeeded"] == 30
    assert s["requests"]["failed"] == 10
    assert s["requests"]["success_rate"] == 75.0
    assert s["requests"]["error_rate"] == 25.0
    assert s["errors"] == {"http_5xx": 10}
    assert s["endpoints"]["get"]["errors"] == {"http_5xx": 10}
    verdict = verdicts(s)["min_success_rate"]
    assert verdict["status"] == "fail"
    assert verdict["passed"] is False
    assert verdict["actual"] == 75.0
    assert verdict["limit"] == 95.0
    assert s["passed"] is False
    assert run.report is not None and run.report["passed"] is False
    assert "FAIL" in run.output


def test_status_outside_expect_status_that_is_not_4xx_or_5xx_is_unexpected_status(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    expects_created = [{"name": "create", "method": "POST", "path": "/", "expect_status": [201]}]
    run = run_perfrun(
        {
            "create": scenario(
                plain_target.url,
                users=2,
                requests_per_user=5,
                requests=expects_created,
                thresholds={"min_success_rate": 100},
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["status"] == "completed"
    assert s["requests"]["total"] == 10
    assert s["requests"]["failed"] == 10
    assert s["errors"] == {"unexpected_status": 10}
    assert "HTTP 200 POST /" in s["error_samples"]["unexpected_status"]
    assert verdicts(s)["min_success_rate"]["actual"] == 0.0


# --- target resources ----------------------------------------------------------------------


def test_memory_of_a_monitored_pid_is_measured_and_fails_a_lower_limit(
    run_perfrun: RunPerfrun, alloc_target: TargetProcess
) -> None:
    run = run_perfrun(
        {
            "mem": scenario(
                alloc_target.url,
                type="memory",
                users=2,
                requests_per_user=10,
                monitor={"pid": alloc_target.pid},
                thresholds={"max_memory_mb": 100},
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    target = s["resources"]["target"]
    assert target["pid"] == alloc_target.pid
    assert target["lost"] is False
    assert target["memory_mb"]["max"] >= 150
    verdict = verdicts(s)["max_memory_mb"]
    assert verdict["status"] == "fail"
    assert verdict["passed"] is False
    assert verdict["actual"] >= 150
    assert verdict["limit"] == 100.0


def test_monitor_pid_option_overrides_the_scenarios_monitor(
    run_perfrun: RunPerfrun, alloc_target: TargetProcess, plain_target: TargetProcess
) -> None:
    run = run_perfrun(
        {
            "mem": scenario(
                alloc_target.url,
                users=2,
                requests_per_user=5,
                monitor={"pid": plain_target.pid},
                thresholds={"max_memory_mb": 1000},
            )
        },
        "--monitor-pid",
        str(alloc_target.pid),
    )

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["resources"]["target"]["pid"] == alloc_target.pid
    assert s["resources"]["target"]["memory_mb"]["max"] >= 150
    assert verdicts(s)["max_memory_mb"]["status"] == "pass"


def test_monitor_process_finds_the_target_by_its_command_line(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    # A delay nobody else uses makes the command line unique on a shared machine.
    marker = f"0.{uuid.uuid4().int % 10**9:09d}"
    server = target("--alloc-mb", "60", "--delay-ms", marker)
    run = run_perfrun(
        {
            "by_cmdline": scenario(
                server.url,
                users=2,
                requests_per_user=5,
                monitor={"process": f"--delay-ms {marker}"},
                thresholds={"max_memory_mb": 1000},
            )
        }
    )

    assert run.exit_code == 0, run.output
    target_resources = only_scenario(run.report)["resources"]["target"]
    assert target_resources["pid"] == server.pid
    assert target_resources["memory_mb"]["max"] >= 60


def test_monitor_process_matching_nothing_fails_the_run_naming_the_pattern(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    pattern = f"no-such-process-{uuid.uuid4().hex}"
    run = run_perfrun({"nobody": scenario(plain_target.url, monitor={"process": pattern})})

    assert run.exit_code == 3, run.output
    assert pattern in flat(run.output)
    s = only_scenario(run.report)
    assert s["status"] == "failed"
    assert pattern in s["message"]


def test_monitor_pid_of_a_process_that_does_not_exist_fails_the_run(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    run = run_perfrun({"dead": scenario(plain_target.url)}, "--monitor-pid", str(finished.pid))

    assert run.exit_code == 3, run.output
    assert f"monitored process {finished.pid} does not exist" in flat(run.output)
    s = only_scenario(run.report)  # written for every exit but 2
    assert s["status"] == "failed"
    assert str(finished.pid) in s["message"]


def test_cpu_of_a_busy_target_is_measured_as_percent_of_one_core(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    busy = target("--burn-cpu")
    process = psutil.Process(busy.pid)
    cpu_before, wall_before = sum(process.cpu_times()[:2]), time.perf_counter()
    run = run_perfrun(
        {
            "cpu": scenario(
                busy.url,
                type="cpu",
                duration="2s",
                think_time="50ms",
                monitor={"pid": busy.pid, "interval": "0.5s"},
                # Far below the share of a core any runnable thread gets, however busy the
                # machine: the verdict fails on the figure, whatever the machine gives it.
                thresholds={"max_cpu_percent": 5},
            )
        }
    )
    cpu_used = sum(process.cpu_times()[:2]) - cpu_before
    wall = time.perf_counter() - wall_before

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    resources = s["resources"]
    cpu = resources["target"]["cpu_percent"]
    assert cpu["max"] >= cpu["avg"] > 0
    # The samples tile part of the call's wall time, so the CPU seconds they add up to are
    # at most what psutil saw the target use over the whole call, and at least that less
    # what it can use outside them (one burning thread: a core; its event loop: next to
    # nothing). Exact however much CPU a busy machine leaves the thread; CPU taken as a
    # share of all cores (half of it on two), or of the wrong process, falls outside.
    samples = resources["samples"]
    monitored = sum(x["target_cpu_percent"] * x["dt"] for x in samples) / 100.0
    outside = wall - sum(x["dt"] for x in samples)
    assert cpu_used - 1.1 * outside - 0.05 <= monitored <= cpu_used + 0.05
    samples_follow_the_interval(resources, covered_s=2.0)
    verdict = verdicts(s)["max_cpu_percent"]
    assert verdict["status"] == "fail"
    assert verdict["actual"] == cpu["avg"]


# --- thresholds ----------------------------------------------------------------------------


def test_thresholds_all_met_pass_with_exit_0_and_a_verdict_each(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    limits = {"max_p95_response_ms": 1000, "min_success_rate": 99, "min_rps": 1}
    run = run_perfrun(
        {"ok": scenario(plain_target.url, users=2, requests_per_user=10, thresholds=limits)}
    )

    assert run.exit_code == 0, run.output
    assert run.report is not None and run.report["passed"] is True
    s = only_scenario(run.report)
    assert s["passed"] is True
    assert [v["key"] for v in s["thresholds"]] == list(limits)  # in the order written
    for v in s["thresholds"]:
        assert v["limit"] == limits[v["key"]]
        assert v["status"] == "pass"
        assert v["passed"] is True
        assert isinstance(v["actual"], (int, float))
    assert verdicts(s)["min_success_rate"]["actual"] == 100.0
    assert "PASSED" in run.output


def test_a_failed_threshold_fails_the_scenario_with_exit_1(
    run_perfrun: RunPerfrun, delay_target: TargetProcess
) -> None:
    run = run_perfrun(
        {
            "slow": scenario(
                delay_target.url,
                users=2,
                requests_per_user=5,
                thresholds={"max_p50_response_ms": 5, "min_success_rate": 99},
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["status"] == "completed"
    assert s["passed"] is False
    by_key = verdicts(s)
    assert by_key["max_p50_response_ms"]["status"] == "fail"
    assert by_key["max_p50_response_ms"]["passed"] is False
    assert by_key["max_p50_response_ms"]["actual"] >= 20
    assert by_key["min_success_rate"]["status"] == "pass"
    assert "FAILED" in run.output


def test_threshold_that_cannot_be_measured_is_not_measured_and_fails(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    run = run_perfrun(
        {
            "blind": scenario(
                plain_target.url,
                users=2,
                requests_per_user=5,
                thresholds={"min_success_rate": 99, "max_memory_mb": 100},
            )
        }
    )

    assert run.exit_code == 1, run.output
    s = only_scenario(run.report)
    assert s["resources"]["target"] is None
    verdict = verdicts(s)["max_memory_mb"]
    assert verdict["status"] == "not_measured"
    assert verdict["passed"] is False
    assert verdict["actual"] is None
    assert "monitor" in verdict["note"]
    assert verdicts(s)["min_success_rate"]["status"] == "pass"
    assert s["passed"] is False
    assert "NOT MEASURED" in run.output


# --- unreachable target --------------------------------------------------------------------


def test_unreachable_target_exits_3_and_still_writes_the_report(
    run_perfrun: RunPerfrun, refused_url: str
) -> None:
    run = run_perfrun({"nowhere": scenario(refused_url, users=3, requests_per_user=4)})

    assert run.exit_code == 3, run.output
    s = only_scenario(run.report)
    assert s["status"] == "unreachable"
    assert s["passed"] is False
    assert s["errors"] == {"connect_refused": 12}
    assert s["requests"]["total"] == 12
    assert s["requests"]["succeeded"] == 0
    assert refused_url in s["message"]
    output = flat(run.output)
    assert refused_url in output
    assert "connect_refused" in output


def test_unreachable_target_ends_a_duration_scenario_early(
    run_perfrun: RunPerfrun, refused_url: str
) -> None:
    load: dict[str, Any] = {"duration": "60s", "think_time": "20ms"}
    run = run_perfrun({"nowhere_long": scenario(refused_url, **load)})

    assert run.exit_code == 3, run.output
    s = only_scenario(run.report)
    assert s["status"] == "unreachable"
    assert s["duration_s"] < 30  # gave up (after about 3 s), did not run for 60 s
    assert set(s["errors"]) == {"connect_refused"}
    assert s["requests"]["total"] == s["errors"]["connect_refused"] > 0


# --- the JSON report -----------------------------------------------------------------------


def test_json_report_has_the_documented_shape_and_is_written_atomically(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, tmp_path: Path
) -> None:
    run = run_perfrun(
        {
            "shape": scenario(
                plain_target.url,
                type="endurance",
                severity="high",
                users=2,
                duration="1.5s",
                think_time="10ms",
                monitor={"pid": plain_target.pid, "interval": "0.2s"},
                thresholds={"min_success_rate": 99},
            )
        }
    )

    assert run.exit_code == 0, run.output
    report = run.report
    assert report is not None
    assert {
        "schema_version", "perfrun_version", "started_at", "finished_at", "environment",
        "passed", "scenarios",
    } <= set(report)  # fmt: skip
    assert report["schema_version"] == 1
    assert report["passed"] is True
    assert report["started_at"] <= report["finished_at"]
    environment = report["environment"]
    assert {"host", "os", "python", "cpu_count", "memory_mb"} <= set(environment)
    assert environment["cpu_count"] >= 1
    assert environment["memory_mb"] > 0

    s = only_scenario(report)
    assert {
        "name", "type", "severity", "passed", "duration_s", "requests", "latency_ms", "errors",
        "endpoints", "resources", "thresholds", "timeline",
    } <= set(s)  # fmt: skip
    assert (s["name"], s["type"], s["severity"], s["passed"]) == (
        "shape",
        "endurance",
        "high",
        True,
    )
    # A 1.5 s load: its users send until the 1.5 s deadline, so the window (first send to
    # last answer) ends at most one request after it; and no earlier than the last request
    # of a user that saw the deadline only after its 10 ms think time (1.0 s: half a
    # second of margin for that one sleep).
    latency_max_s = s["latency_ms"]["max"] / 1000.0
    assert 1.0 <= s["duration_s"] <= 1.5 + latency_max_s + 0.002
    requests = s["requests"]
    assert {"total", "succeeded", "failed", "success_rate", "rps"} <= set(requests)
    # Each user goes again at most a think time plus the loop's worst lateness (the lag
    # probe sees a wake-up that late, less one probe interval) after its slowest answer,
    # until the deadline: a floor from the run's own figures, not from the machine's speed.
    # A duration load that sent once per user, or stopped early, falls under it.
    late_s = loop_late_s(s)
    cycle_s = latency_max_s + 0.010 + late_s
    assert requests["total"] >= 2 * int(1.5 / cycle_s - 1)
    assert requests["rps"] > 0
    assert set(s["latency_ms"]) == LATENCY_KEYS
    assert s["errors"] == {}
    assert set(s["endpoints"]) == {"get"}

    resources = s["resources"]
    assert {"target", "system", "generator", "monitor", "samples"} <= set(resources)
    target = resources["target"]
    assert target["pid"] == plain_target.pid
    assert target["lost"] is False
    series_keys = ("cpu_percent", "memory_mb", "threads", "open_files", "sockets", "processes")
    for series in series_keys:
        assert set(target[series]) == {"avg", "max"}
        assert target[series]["max"] >= target[series]["avg"] >= 0
    assert target["processes"]["max"] == 1
    assert target["sockets"]["max"] >= 1  # at least its listening socket
    assert target["memory_mb"]["max"] > 0
    assert resources["system"]["cpu_percent"]["avg"] is not None
    assert resources["generator"]["memory_mb"]["max"] > 0
    monitor = resources["monitor"]
    assert monitor["interval_s"] == 0.2
    samples_follow_the_interval(resources, covered_s=1.5)
    assert monitor["overhead_cpu_percent"] >= 0

    (verdict,) = s["thresholds"]
    assert {"key", "limit", "actual", "passed", "status"} <= set(verdict)

    timeline = s["timeline"]
    assert len(timeline) >= 2
    for point in timeline:
        assert {"t", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"} <= set(point)
        if point["p50_ms"] is not None:
            assert point["p50_ms"] <= point["p95_ms"] <= point["p99_ms"]
    assert [p["t"] for p in timeline] == sorted(p["t"] for p in timeline)
    assert sum(p["requests"] for p in timeline) == requests["total"]
    assert sum(p["errors"] for p in timeline) == requests["failed"]

    # Written through a temp file renamed into place: nothing else is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "scenarios"]


def test_report_file_gets_the_same_permissions_as_any_new_file(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, tmp_path: Path
) -> None:
    umask = os.umask(0)
    os.umask(umask)
    run = run_perfrun({"perms": scenario(plain_target.url)})

    assert run.exit_code == 0, run.output
    mode = (tmp_path / "report.json").stat().st_mode & 0o777
    # A report is an artefact for others (CI uploaders, dashboards): the mkstemp()
    # temp file's private 0600 must not survive the rename.
    assert oct(mode) == oct(0o666 & ~umask)


# --- demo target ---------------------------------------------------------------------------


def test_demo_target_runs_green_and_is_stopped_afterwards(run_perfrun: RunPerfrun) -> None:
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    run = run_perfrun(
        {
            "demo_health": scenario(
                "demo",
                users=2,
                requests_per_user=10,
                requests=[{"name": "health", "path": "/health"}],
                thresholds={"min_success_rate": 100, "max_memory_mb": 500},
            )
        }
    )

    assert run.exit_code == 0, run.output
    s = only_scenario(run.report)
    assert s["requests"]["total"] == 20
    assert s["base_url"].startswith("http://127.0.0.1:")
    demo_pid = s["resources"]["target"]["pid"]
    assert isinstance(demo_pid, int)
    assert verdicts(s)["max_memory_mb"]["status"] == "pass"
    assert demo_pid not in before
    assert _gone(demo_pid)
    leftover = {child.pid for child in me.children(recursive=True)} - before
    assert leftover == set()


# --- interrupts ----------------------------------------------------------------------------


def _start_perfrun(
    scenarios_dir: Path, output: Path, *args: str, sigint: signal.Handlers = signal.SIG_DFL
) -> subprocess.Popen[str]:
    """perfrun as a child, with SIGINT as given: by default the terminal's default, also
    when pytest itself runs with SIGINT ignored (a background job of a script), which a
    child would inherit."""
    return subprocess.Popen(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(scenarios_dir),
         "--output", str(output), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )  # fmt: skip


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    """Read stdout until a line starts with `prefix` (progress lines are flushed)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(deadline - time.monotonic()):
                break
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith(prefix):
                return line
    process.kill()
    raise AssertionError(f"perfrun never printed {prefix!r}: {process.communicate()}")


def _wait_until_sending(
    process: subprocess.Popen[str], target: TargetProcess, timeout: float = 20.0
) -> None:
    """Wait until perfrun holds a connection to the target: its load is running."""
    port = urlsplit(target.url).port or 0
    deadline = time.monotonic() + timeout
    while not connected([process.pid], port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"perfrun never sent: {process.communicate()}")
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_load_exits_130_with_an_interrupted_report(
    sig: signal.Signals, plain_target: TargetProcess, tmp_path: Path
) -> None:
    scenarios_dir, output = tmp_path / "scenarios", tmp_path / "report.json"
    write_scenarios(
        scenarios_dir,
        {
            "long": scenario(plain_target.url, users=2, duration="30s", think_time="5ms"),
            "next": scenario(plain_target.url),
        },
    )
    process = _start_perfrun(scenarios_dir, output, "--scenarios", "long,next")
    _wait_for_line(process, "[1/2] long:", timeout=20)
    # The line comes before the load: wait until it sends (however slowly a busy machine
    # gets there), then let some load happen.
    _wait_until_sending(process, plain_target)
    time.sleep(1.0)

    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr + stdout
    report = json.loads(output.read_text())
    assert report["interrupted"] is True
    assert report["passed"] is False
    s = only_scenario(report)  # the next scenario never started
    assert s["name"] == "long"
    assert s["status"] == "interrupted"
    assert s["requests"]["total"] > 0
    assert sum(p["requests"] for p in s["timeline"]) == s["requests"]["total"]
    assert "INTERRUPTED" in stdout
    assert "  long: interrupted: the figures cover the run until then\n" in stdout  # said once


def test_sigint_ignored_when_perfrun_started_stays_ignored_during_the_load(
    plain_target: TargetProcess, tmp_path: Path
) -> None:
    scenarios_dir, output = tmp_path / "scenarios", tmp_path / "report.json"
    write_scenarios(scenarios_dir, {"long": scenario(plain_target.url, users=1, duration="30s")})
    process = _start_perfrun(scenarios_dir, output, sigint=signal.SIG_IGN)
    _wait_for_line(process, "[1/1] long:", timeout=20)
    # Sending, so its signal handlers are installed: a SIGINT before that would pass this
    # test whatever the load does with it.
    _wait_until_sending(process, plain_target)

    process.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(1.0)  # still running: `perfrun ... &` in a script is not stopped by Ctrl-C
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 130, stdout + stderr
    assert json.loads(output.read_text())["interrupted"] is True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_while_the_demo_target_starts_exits_130_with_a_report(
    sig: signal.Signals, tmp_path: Path
) -> None:
    scenarios_dir, output = tmp_path / "scenarios", tmp_path / "report.json"
    write_scenarios(scenarios_dir, {"demo_long": scenario("demo", users=1, duration="30s")})
    process = _start_perfrun(scenarios_dir, output)
    perfrun = psutil.Process(process.pid)
    demo: psutil.Process | None = None
    deadline = time.monotonic() + 20
    while demo is None and time.monotonic() < deadline and process.poll() is None:
        for child in perfrun.children():
            try:
                if "perfrun.demo" in " ".join(child.cmdline()):
                    demo = child
            except psutil.Error:
                continue
        time.sleep(0.005)
    assert demo is not None, "the demo target was never started"

    process.send_signal(sig)  # the demo is starting: the load has not begun
    stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr + stdout
    report = json.loads(output.read_text())
    assert report["interrupted"] is True
    assert only_scenario(report)["status"] == "interrupted"
    assert _gone(demo.pid)
