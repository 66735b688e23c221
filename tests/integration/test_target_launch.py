"""perfrun launches the service under test (`target:`, `--target-cmd`): readiness, its
log, its exit during the load, scopes, and never an orphan (tests/servers/launched.py)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.perfrun_cli import RunPerfrun, only_scenario, write_scenarios
from tests.support.processes import GONE_WITHIN, gone

SERVER = str(Path(__file__).parents[1] / "servers" / "launched.py")


def launched(
    *server_args: str,
    ready: dict[str, Any] | None = None,
    scope: str = "run",
    duration: str | None = None,
    **target: Any,
) -> dict[str, Any]:
    """A scenario whose target perfrun launches: launched.py with `server_args`."""
    load: dict[str, Any] = {"users": 2}
    load.update({"duration": duration} if duration else {"requests_per_user": 5})
    return {
        "type": "load",
        "severity": "low",
        "target": {
            "command": [sys.executable, SERVER, "--port", "{port}", *server_args],
            "ready": ready or {"http": "/health", "timeout": "20s"},
            "scope": scope,
            **target,
        },
        "requests": [{"name": "get", "path": "/"}],
        "load": load,
    }


@pytest.mark.parametrize(
    ("args", "ready"),
    [
        ((), {"http": "/health"}),
        (("--ready-after", "0.5"), {"tcp": True}),
        (("--say", "startup complete"), {"log": "startup complete"}),
    ],
    ids=["http", "tcp", "log"],
)
def test_launched_target_is_ready_loaded_monitored_and_stopped(
    run_perfrun: RunPerfrun, tmp_path: Path, args: tuple[str, ...], ready: dict[str, Any]
) -> None:
    child_file = tmp_path / "child.pid"
    result = run_perfrun(
        {"api": launched(*args, "--child", str(child_file), ready={**ready, "timeout": "20s"})}
    )
    s = only_scenario(result.report)
    assert result.exit_code == 0, result.output
    assert s["status"] == "completed"
    assert s["requests"]["total"] == 10 and s["requests"]["failed"] == 0
    target = s["target"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", s["base_url"])
    assert f"--port {s['base_url'].rsplit(':', 1)[1]}" in " ".join(target["command"])
    assert s["resources"]["target"]["pid"] == target["pid"]
    log = tmp_path / "report.target.log"
    assert target["log"] == str(log)
    assert f"starting, pid {target['pid']}" in log.read_text()
    assert str(log) in result.output.replace("\n", "")
    assert gone(target["pid"])
    assert gone(int(child_file.read_text())), "the target's process group was not stopped"


def test_target_never_ready_exits_3_with_its_log_tail(
    run_perfrun: RunPerfrun, tmp_path: Path
) -> None:
    child_file = tmp_path / "child.pid"
    started = time.monotonic()
    result = run_perfrun(
        {
            "api": launched(
                "--never-listen", "--child", str(child_file), ready={"tcp": True, "timeout": "1s"}
            )
        }
    )
    assert result.exit_code == 3, result.output
    assert time.monotonic() - started < 1.0 + GONE_WITHIN  # the timeout, then the stop
    output = result.output.replace("\n", " ")
    assert "target was not ready within 1 s" in output
    assert "waiting for a database that never comes" in output  # the log's tail
    pid = int(re.search(r"starting, pid (\d+)", output).group(1))  # type: ignore[union-attr]
    assert gone(pid)
    assert gone(int(child_file.read_text()))
    assert only_scenario(result.report)["status"] == "failed"


def test_target_that_cannot_be_run_exits_3_naming_the_command(run_perfrun: RunPerfrun) -> None:
    scenario = launched()
    scenario["target"]["command"] = ["/nonexistent/server", "--port", "{port}"]
    result = run_perfrun({"api": scenario})
    assert result.exit_code == 3
    assert "cannot run '/nonexistent/server'" in result.output.replace("\n", " ")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_target_exiting_mid_run_fails_the_scenario_and_keeps_the_figures(
    run_perfrun: RunPerfrun, tmp_path: Path, workers: str
) -> None:
    """The load ends soon after the target's exit (what is left would only be refused),
    not at the end of its 60 s. The target exits 1 s after it listens, once it has
    answered a request: on a busy machine two workers can take longer than 1 s to
    start, and then nothing would have been measured before the exit."""
    child_file = tmp_path / "child.pid"
    args = ("--exit-after", "1", "--served", "1", "--exit-code", "7", "--child", str(child_file))
    started = time.monotonic()
    result = run_perfrun({"api": launched(*args, duration="60s")}, "--workers", workers)
    took = time.monotonic() - started
    s = only_scenario(result.report)
    assert result.exit_code == 1, result.output
    assert s["status"] == "target_exited" and not s["passed"]
    assert s["target"]["exit_code"] == 7
    # 1 s after it listened: about 1 s into the load, and the load stopped after it.
    assert s["target"]["exited_after_s"] < 10.0
    assert took < 30, "the load went on after the target exited"
    assert s["requests"]["succeeded"] > 0, "what was measured before the exit is kept"
    assert "target exited with code 7" in s["message"]
    assert gone(s["target"]["pid"])
    assert gone(int(child_file.read_text()))


def test_scope_scenario_starts_a_fresh_target_each_scope_run_shares_one(
    run_perfrun: RunPerfrun,
) -> None:
    result = run_perfrun(
        {
            "fresh_a": launched(scope="scenario"),
            "fresh_b": launched(scope="scenario"),
            "shared_a": launched(),
            "shared_b": launched(),
        }
    )
    assert result.exit_code == 0, result.output
    assert result.report is not None
    pids = {s["name"]: s["target"]["pid"] for s in result.report["scenarios"]}
    assert pids["fresh_a"] != pids["fresh_b"]
    assert pids["shared_a"] == pids["shared_b"]
    assert len(set(pids.values())) == 3
    logs = {s["name"]: s["target"]["log"] for s in result.report["scenarios"]}
    assert len(set(logs.values())) == 3, "each launched process has its own log"
    assert all(gone(pid) for pid in pids.values())


def test_target_cmd_launches_the_service_for_a_scenario_without_target(
    run_perfrun: RunPerfrun,
) -> None:
    scenario = {
        "type": "load",
        "severity": "low",
        "requests": [{"name": "get", "path": "/"}],
        "load": {"users": 1, "requests_per_user": 3},
    }
    command = f"{sys.executable} {SERVER} --port {{port}}"
    result = run_perfrun({"api": scenario}, "--target-cmd", command)
    s = only_scenario(result.report)
    assert result.exit_code == 0, result.output
    assert s["requests"]["succeeded"] == 3
    assert s["target"]["scope"] == "run"
    assert gone(s["target"]["pid"])


def test_target_cmd_replaces_the_command_and_keeps_the_scenario_target_keys(
    run_perfrun: RunPerfrun,
) -> None:
    scenario = launched(scope="scenario", ready={"log": "up and running", "timeout": "20s"})
    scenario["target"]["command"] = ["/nonexistent/server"]
    command = f"{sys.executable} {SERVER} --port {{port}} --say 'up and running'"
    result = run_perfrun({"api": scenario}, "--target-cmd", command)
    s = only_scenario(result.report)
    assert result.exit_code == 0, result.output
    assert s["target"]["scope"] == "scenario"
    assert s["target"]["command"][-2:] == ["--say", "up and running"]
    assert gone(s["target"]["pid"])


def test_help_documents_target_and_target_cmd(run_perfrun: RunPerfrun) -> None:
    output = run_perfrun(None, "--help").output
    assert "--target-cmd COMMAND" in output
    assert "ready: {http: /health, timeout: 30s}" in output
    assert "scope: run" in output


def test_target_cmd_without_port_for_a_scenario_without_url_is_a_usage_error(
    run_perfrun: RunPerfrun,
) -> None:
    scenario = launched()
    del scenario["target"]
    result = run_perfrun({"api": scenario}, "--target-cmd", "serve --port 8000")
    assert result.exit_code == 2
    assert "put {port} in the command" in result.output


def test_target_ignoring_its_stop_signal_is_killed_after_the_grace(
    run_perfrun: RunPerfrun,
) -> None:
    scenario = launched("--ignore-term", stop={"signal": "SIGTERM", "grace": "0.5s"})
    result = run_perfrun({"api": scenario})
    assert result.exit_code == 0, result.output
    assert gone(only_scenario(result.report)["target"]["pid"])


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=str)
def test_target_dies_when_perfrun_is_killed_or_stopped(tmp_path: Path, sig: signal.Signals) -> None:
    """The target and the child it started in its process group: gone after perfrun,
    also when perfrun is SIGKILLed (the command's death signal would not reach its
    child: the reaper does)."""
    child_file = tmp_path / "child.pid"
    write_scenarios(
        tmp_path / "scenarios", {"api": launched("--child", str(child_file), duration="60s")}
    )
    log = tmp_path / "report.target.log"
    perfrun = subprocess.Popen(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(tmp_path / "scenarios"),
         "--output", str(tmp_path / "report.json"), "--quiet"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline and perfrun.poll() is None:
            found = re.search(r"starting, pid (\d+)", log.read_text() if log.exists() else "")
            time.sleep(0.05)
        assert found is not None, "the target was not launched"
        pid = int(found.group(1))
        assert not gone(pid, within=0.2)
        perfrun.send_signal(sig)
        code = perfrun.wait(30)
        assert code == (-signal.SIGKILL if sig is signal.SIGKILL else 130)
        assert gone(pid), f"target {pid} outlived perfrun ({sig.name})"
        child = int(child_file.read_text())
        assert gone(child), f"the target's child {child} outlived perfrun ({sig.name})"
    finally:
        if perfrun.poll() is None:
            perfrun.kill()
            perfrun.wait()


def test_with_workers_the_parent_launches_the_target_once(run_perfrun: RunPerfrun) -> None:
    result = run_perfrun({"api": launched()}, "--workers", "2")
    s = only_scenario(result.report)
    assert result.exit_code == 0, result.output
    assert s["requests"]["succeeded"] == 10
    assert s["resources"]["target"]["pid"] == s["target"]["pid"]
    assert s["resources"]["target"]["processes"]["max"] == 1, "one target process, no copies"
    assert gone(s["target"]["pid"])


def _scenario(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "load",
        "severity": "low",
        "requests": [{"name": "get", "path": "/"}],
        "load": {"users": 1, "requests_per_user": 1},
    }
    body.update(fields)
    return body


@pytest.mark.parametrize(
    ("fields", "args", "message"),
    [
        ({"base_url": "http://127.0.0.1:{port}"}, (), "launches no target to fill in {port}"),
        ({"target": {"command": ["server"]}}, (), "its target's command has no {port}"),
        (
            {
                "base_url": "https://127.0.0.1:{port}",
                "target": {"command": ["s", "{port}"], "ready": {"http": "/health"}},
            },
            (),
            "asks in plain HTTP",
        ),
        (
            {"load": {"users": 1, "requests_per_user": 1, "cycles": 2, "rest": "1s"}},
            ("--workers", "2"),
            "--workers cannot do yet",
        ),
    ],
    ids=["port-without-target", "target-without-port", "https-http-ready", "cycles-workers"],
)
def test_a_launch_that_cannot_work_is_refused_before_any_load(
    run_perfrun: RunPerfrun, fields: dict[str, Any], args: tuple[str, ...], message: str
) -> None:
    result = run_perfrun({"s": _scenario(**fields)}, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"command": ["s", "{port}"], "env": {"A=B": "1"}}, "no environment variable name"),
        ({"command": ["s", "{port}"], "env": {"A": "x\0y"}}, "NUL"),
        ({"command": ["s\0x", "{port}"]}, "NUL"),
    ],
)
def test_what_no_process_can_be_given_is_a_scenario_error(
    run_perfrun: RunPerfrun, target: dict[str, Any], message: str
) -> None:
    result = run_perfrun({"s": _scenario(target=target)})
    assert result.exit_code == 2, result.output
    assert message in result.output
