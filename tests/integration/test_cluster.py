"""`--cluster`: a scenario's load in shares on a real Dask cluster on 127.0.0.1.

A cluster is `dask scheduler` and two `dask worker --nworkers 1 --nthreads 1` processes,
each in its own process group (to kill one whole, nanny and all): one shared by the tests
that leave it idle (or idle again once their shares stop), and one of its own for each
test that kills a worker or the scheduler. A real target (tests/servers/target.py)
answers. perfrun runs as a subprocess, as a user runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest
from jsonschema import Draft202012Validator

from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import (
    StartTarget,
    arrival_stats,
    only_scenario,
    scenario,
    scenario_with_load,
    write_scenarios,
)

distributed = pytest.importorskip("distributed")

STARTUP = 60.0
"""Seconds the scheduler and the workers get to come up (a busy machine is slow)."""


class DaskCluster(NamedTuple):
    address: str
    workers: list[subprocess.Popen[bytes]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The process and what it started (a worker's nanny starts the worker)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=30)


@contextlib.contextmanager
def _cluster(directory: Path) -> Iterator[DaskCluster]:
    """A scheduler and two workers, logging into `directory`; killed whole on exit."""
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _start(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"],
        directory / "scheduler.log",
    )  # fmt: skip
    worker = [str(bin_dir / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
              "--host", "127.0.0.1", "--no-dashboard"]  # fmt: skip
    workers = [_start(worker, directory / f"worker-{index}.log") for index in range(2)]
    try:
        with distributed.Client(address, timeout=STARTUP) as client:
            client.wait_for_workers(2, timeout=STARTUP)
        yield DaskCluster(address, workers)
    finally:
        for process in [*workers, scheduler]:
            _kill_group(process)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """One cluster for the tests that leave it as they found it: every share they start
    ends (done, stopped or collected; or, perfrun killed, stopped by Dask). Starting a
    cluster takes seconds; a test that kills a worker or the scheduler has its own."""
    with _cluster(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster


@pytest.fixture()
def dask_cluster(shared_cluster: DaskCluster) -> DaskCluster:
    """The module's cluster, as a fresh one would be: both workers up (the same
    processes) and idle, nothing left running or queued from the test before."""
    assert all(process.poll() is None for process in shared_cluster.workers)
    with distributed.Client(shared_cluster.address, timeout=STARTUP) as client:
        client.wait_for_workers(2, timeout=STARTUP)
        deadline = time.monotonic() + STARTUP
        while not _idle(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _idle(client), "the shared Dask cluster is still busy from an earlier test"
        assert len(client.scheduler_info()["workers"]) == 2
    return shared_cluster


@pytest.fixture()
def own_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A cluster for this test alone: it kills a worker or the scheduler."""
    with _cluster(tmp_path) as cluster:
        yield cluster


def _idle(client: Any) -> bool:
    """No task processing on the scheduler, and none executing on a worker (a cancelled
    task whose thread still runs is known to its worker alone)."""
    return not any(client.processing().values()) and not any(client.call_stack().values())


def _perfrun(
    tmp_path: Path, scenarios: dict[str, Any], *args: str, timeout: float = 120.0
) -> tuple[int, str, dict[str, Any] | None]:
    directory = tmp_path / "scenarios"
    write_scenarios(directory, scenarios)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(directory), "-o",
         str(report), *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    data = json.loads(report.read_text()) if report.exists() else None
    return done.returncode, done.stdout + done.stderr, data


def _perfrun_started(
    tmp_path: Path, scenarios: dict[str, Any], cluster: str
) -> tuple[subprocess.Popen[str], Path]:
    """perfrun on `scenarios` and `cluster`, left running; its report's path."""
    directory = tmp_path / "scenarios"
    write_scenarios(directory, scenarios)
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(directory), "-o",
         str(report), "--cluster", cluster],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return process, report


def test_a_closed_model_over_two_dask_workers_sends_exactly_its_requests(
    tmp_path: Path, dask_cluster: DaskCluster, plain_target: TargetProcess
) -> None:
    load = scenario(plain_target.url, users=6, requests_per_user=25)
    code, output, report = _perfrun(tmp_path, {"closed": load}, "--cluster", dask_cluster.address)

    assert code == 0, output
    s = only_scenario(report)
    assert s["requests"]["total"] == s["requests"]["succeeded"] == 150
    generator = s["generator"]
    assert generator["cluster"] == dask_cluster.address
    shares = generator["shares"]
    assert [share["index"] for share in shares] == [0, 1]
    assert [share["requests"] for share in shares] == [75, 75]  # users 0, 2, 4 and 1, 3, 5
    assert len({share["worker"] for share in shares}) == 2
    assert not any(share["lost"] for share in shares)
    assert "cluster " in output and "share 1 on tcp://127.0.0.1:" in output
    schema = json.loads((Path(__file__).parents[2] / "docs" / "report.schema.json").read_text())
    errors = list(Draft202012Validator(schema).iter_errors(report))
    assert [f"{e.json_path}: {e.message}" for e in errors] == []


def test_shares_back_off_from_a_dead_target_and_the_report_says_so(
    tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """Each share's users back off after failed connects (perfrun.engine.backoff), and
    the waits of every share are summed into the scenario's message, as in one process."""
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    load = scenario(dead, users=4, duration="2s")
    code, output, report = _perfrun(tmp_path, {"dead": load}, "--cluster", dask_cluster.address)

    assert code != 0 and "Traceback" not in output, output
    s = only_scenario(report)
    assert [share["requests"] for share in s["generator"]["shares"]] != [0, 0]
    # Without the back-off, 4 users loop on refused connects (thousands a second); with
    # it, 3 in a row, then one after 50, 100, ... 1,000 ms: ~8 each in 2 s.
    refused = s["errors"].get("connect_refused", 0)
    assert 0 < refused < 100, s["errors"]
    match = re.search(r"backed off from failing connects (\d+) times", s["message"])
    assert match is not None, s["message"]
    assert int(match.group(1)) >= 4  # at least one wait per user, from both shares


def test_an_open_model_over_two_dask_workers_keeps_its_rate(
    tmp_path: Path, dask_cluster: DaskCluster, target: StartTarget
) -> None:
    server = target("--arrival-stats")
    load = scenario_with_load(server.url, {"rate": 200, "duration": "3s"})
    code, output, report = _perfrun(tmp_path, {"open": load}, "--cluster", dask_cluster.address)

    assert code == 0, output
    s = only_scenario(report)
    schedule = s["schedule"]
    assert schedule["due"] == 600
    assert abs(s["requests"]["total"] - 600) <= 6  # +-1 %
    assert schedule["sent"] + schedule["dropped"] == schedule["due"]
    assert arrival_stats(server).requests == schedule["sent"]
    shares = [share["requests"] for share in s["generator"]["shares"]]
    assert sum(shares) == s["requests"]["total"]
    assert all(abs(requests - 300) <= 3 for requests in shares), shares  # +-1 % each


def test_merged_percentiles_match_a_single_process_run_of_the_same_load(
    tmp_path: Path, dask_cluster: DaskCluster, delay_target: TargetProcess
) -> None:
    """Against a target that answers in exactly 20 ms, the merged figures of two shares
    read as one process's: the same count, the median within a few ms of 20."""
    load = scenario(delay_target.url, users=4, requests_per_user=20)
    code, output, clustered = _perfrun(
        tmp_path / "cluster", {"delay": load}, "--cluster", dask_cluster.address
    )
    assert code == 0, output
    code, output, single = _perfrun(tmp_path / "single", {"delay": load})
    assert code == 0, output
    ours, theirs = only_scenario(clustered), only_scenario(single)
    assert ours["requests"]["total"] == theirs["requests"]["total"] == 80
    for figures in (ours, theirs):
        latency = figures["latency_ms"]
        assert 20.0 <= latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]
        assert latency["p50"] < 30.0, latency  # 20 ms, and a busy machine's few more
    assert abs(ours["latency_ms"]["p50"] - theirs["latency_ms"]["p50"]) < 10.0


def test_a_worker_lost_mid_run_fails_the_scenario_and_keeps_the_others_figures(
    tmp_path: Path, own_cluster: DaskCluster, plain_target: TargetProcess
) -> None:
    load = scenario_with_load(plain_target.url, {"rate": 100, "duration": "8s"})
    process, report = _perfrun_started(tmp_path, {"doomed": load}, own_cluster.address)
    port = int(plain_target.url.rsplit(":", 1)[1])
    output = _while_sending(process, port, lambda: _kill_group(own_cluster.workers[1]))
    assert process.returncode == 3, output
    assert "Traceback" not in output
    s = only_scenario(json.loads(report.read_text()))
    assert s["status"] == "failed"
    lost_words = re.compile(
        r"1 of 2 shares lost with their Dask worker \(share [01] on tcp://127\.0\.0\.1:\d+: "
        r"its worker left the cluster\): "
    )
    # Once in CI, both shares were lost: the logs of the cluster say what Dask saw.
    assert lost_words.match(s["message"]), (s["message"], _logs_of(tmp_path))
    shares = s["generator"]["shares"]
    lost = [share for share in shares if share["lost"]]
    kept = [share for share in shares if not share["lost"]]
    assert len(lost) == len(kept) == 1
    assert s["requests"]["total"] == kept[0]["requests"] > 0  # the survivor's, all of them
    _wait_for_clients(port, 0)  # the survivor was stopped, not left loading the target


def test_a_scheduler_that_does_not_answer_is_exit_3_naming_it(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    load = scenario("http://127.0.0.1:9", users=1)
    code, output, _ = _perfrun(tmp_path, {"x": load}, "--cluster", address, timeout=60)
    assert code == 3, output
    assert f"Dask scheduler {address} did not answer" in output
    assert "Traceback" not in output


def test_fewer_workers_than_shares_is_an_error_before_any_load(
    tmp_path: Path, dask_cluster: DaskCluster, target: StartTarget
) -> None:
    server = target("--arrival-stats")
    load = scenario(server.url, users=4, requests_per_user=5)
    code, output, _ = _perfrun(
        tmp_path, {"x": load}, "--cluster", dask_cluster.address, "--workers", "3"
    )
    assert code == 3, output
    assert "has 2 worker(s); 3 shares need 3" in " ".join(output.split())
    assert arrival_stats(server).requests == 0


def test_local_cluster_runs_the_demo(tmp_path: Path) -> None:
    """`--cluster local:2` on the built-in demo: a LocalCluster of two processes."""
    load = scenario("demo", users=4, requests_per_user=10)
    load["requests"] = [{"name": "health", "path": "/health"}]
    code, output, report = _perfrun(tmp_path, {"demo": load}, "--cluster", "local:2")
    assert code == 0, output
    s = only_scenario(report)
    assert s["requests"]["total"] == 40
    assert len(s["generator"]["shares"]) == 2


def test_without_dask_the_option_says_how_to_install_it(tmp_path: Path) -> None:
    """A `distributed` that cannot be imported (a stand-in package first on the path)."""
    stand_in = tmp_path / "path" / "distributed"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("raise ImportError('no Dask here')\n")
    load = scenario("http://127.0.0.1:9", users=1)
    directory = tmp_path / "scenarios"
    write_scenarios(directory, {"x": load})
    done = subprocess.run(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(directory), "-o",
         str(tmp_path / "r.json"), "--cluster", "local:2"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "path")},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'perfrun[cluster]'" in done.stdout + done.stderr


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_a_cluster_run_keeps_what_every_share_measured(
    tmp_path: Path, dask_cluster: DaskCluster, target: StartTarget, sent: signal.Signals
) -> None:
    server = target("--arrival-stats")
    load = scenario_with_load(server.url, {"rate": 100, "duration": "30s"})
    process, report = _perfrun_started(tmp_path, {"long": load}, dask_cluster.address)
    port = int(server.url.rsplit(":", 1)[1])
    output = _while_sending(process, port, lambda: process.send_signal(sent))
    assert process.returncode == 130, output
    assert "Traceback" not in output
    data = json.loads(report.read_text())
    s = only_scenario(data)
    assert s["status"] == "interrupted"
    # Every request counted was answered, so read by the target; every one it read was
    # sent. A share's figures lost would leave `sent` short of what the target read.
    seen = arrival_stats(server).requests
    assert 0 < s["requests"]["total"] <= seen <= s["schedule"]["sent"]
    assert all(not share["lost"] and share["requests"] > 0 for share in s["generator"]["shares"])


def test_an_abort_threshold_stops_every_share(
    tmp_path: Path, dask_cluster: DaskCluster, delay_target: TargetProcess
) -> None:
    """Each share judges the windows on its own figures; one that fails stops them all
    (the target answers in 20 ms: a p95 under 1 ms fails at the first window)."""
    load = scenario_with_load(
        delay_target.url, {"users": 4, "duration": "60s"},
        thresholds={"max_p95_response_ms": {"limit": 1, "over": "2s", "abort": True}},
    )  # fmt: skip
    began = time.monotonic()
    code, output, report = _perfrun(tmp_path, {"doomed": load}, "--cluster", dask_cluster.address)
    assert code == 1, output
    assert time.monotonic() - began < 45  # not the 60 s of the duration
    s = only_scenario(report)
    assert s["status"] == "aborted", s["message"]
    assert "max_p95_response_ms" in s["message"]
    assert all(share["requests"] > 0 for share in s["generator"]["shares"])


def test_killing_perfrun_stops_its_shares(
    tmp_path: Path, dask_cluster: DaskCluster, plain_target: TargetProcess
) -> None:
    """`kill -9` of perfrun: Dask cancels the tasks of a client that is gone, and the
    shares stop (their connections closed) within seconds rather than load the target
    to the end of the duration."""
    port = int(plain_target.url.rsplit(":", 1)[1])
    load = scenario_with_load(plain_target.url, {"rate": 50, "duration": "60s"})
    process, _ = _perfrun_started(tmp_path, {"orphaned": load}, dask_cluster.address)
    try:
        _wait_for_clients(port, 2)
        process.kill()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    _wait_for_clients(port, 0)  # Dask's heartbeats notice the client gone; the shares stop


def _logs_of(directory: Path, lines: int = 40) -> str:
    """The last lines of the scheduler's and each worker's log in `directory`."""
    return "\n".join(
        f"--- {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        for log in sorted(directory.glob("*.log"))
    )


def _while_sending(process: subprocess.Popen[str], port: int, act: Callable[[], object]) -> str:
    """Once both shares send to `port` (and a second more), `act`; then what perfrun
    printed until it exited."""
    try:
        _wait_for_clients(port, 2)
        time.sleep(1.0)
        act()
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return output


def _wait_for_clients(port: int, count: int, timeout: float = STARTUP) -> None:
    """Until at least `count` connections to `port` are open (2: both shares sending),
    or none when `count` is 0 (every share stopped); else fail saying how many."""

    def reached() -> bool:
        return _clients_of(port) >= count if count else _clients_of(port) == 0

    deadline = time.monotonic() + timeout
    while not reached() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reached(), f"{_clients_of(port)} connections, {count or 'none'} expected"


def _clients_of(port: int) -> int:
    """Established connections to `port` on 127.0.0.1, from the clients' side."""
    return sum(
        1
        for c in psutil.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def test_a_target_perfrun_cannot_see_leaves_its_resources_not_measured(
    tmp_path: Path, plain_target: TargetProcess
) -> None:
    """No target process known: on one machine its CPU falls back to the system's; on a
    cluster that CPU is the shares' (or none of the target's), so it is not measured."""
    load = scenario(plain_target.url, users=2, requests_per_user=5)
    load["thresholds"] = {"max_cpu_percent": 90, "max_memory_mb": 500}
    code, output, report = _perfrun(tmp_path, {"remote": load}, "--cluster", "local:2")
    assert code == 1, output  # a threshold that could not be measured fails
    verdicts = {v["key"]: v for v in only_scenario(report)["thresholds"]}
    for key in ("max_cpu_percent", "max_memory_mb"):
        assert verdicts[key]["status"] == "not_measured"
        assert "the load ran on the Dask cluster local:2" in verdicts[key]["note"]


def test_a_scheduler_lost_mid_run_is_exit_3_with_a_report(
    tmp_path: Path, own_cluster: DaskCluster, plain_target: TargetProcess
) -> None:
    load = scenario_with_load(plain_target.url, {"rate": 50, "duration": "30s"})
    process, report = _perfrun_started(tmp_path, {"orphaned": load}, own_cluster.address)
    port = int(own_cluster.address.rsplit(":", 1)[1])

    def kill_the_scheduler() -> None:
        for candidate in psutil.process_iter(["cmdline"]):
            cmdline = candidate.info["cmdline"] or []
            if "scheduler" in cmdline and str(port) in cmdline:
                candidate.kill()

    target_port = int(plain_target.url.rsplit(":", 1)[1])
    output = _while_sending(process, target_port, kill_the_scheduler)
    assert process.returncode == 3, output
    assert "Traceback" not in output
    s = only_scenario(json.loads(report.read_text()))
    assert s["status"] == "failed"
    assert f"Dask scheduler {own_cluster.address} lost mid-run" in s["message"]


def test_a_cluster_without_workers_says_so(tmp_path: Path) -> None:
    port = _free_port()
    scheduler = _start(
        [str(Path(sys.executable).parent / "dask"), "scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"],
        tmp_path / "scheduler.log",
    )  # fmt: skip
    try:
        with distributed.Client(f"tcp://127.0.0.1:{port}", timeout=STARTUP):
            pass  # it answers
        load = scenario("http://127.0.0.1:9", users=1)
        code, output, _ = _perfrun(tmp_path, {"x": load}, "--cluster", f"tcp://127.0.0.1:{port}")
    finally:
        _kill_group(scheduler)
    assert code == 3, output
    assert "has no worker: start some" in " ".join(output.split())


def test_ctrl_c_in_a_terminal_keeps_a_local_clusters_figures(
    tmp_path: Path, target: StartTarget
) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the LocalCluster's worker
    processes too, which must leave the stop to perfrun rather than die with their
    shares' figures."""
    server = target("--arrival-stats")
    load = scenario_with_load(server.url, {"rate": 100, "duration": "30s"})
    directory = tmp_path / "scenarios"
    write_scenarios(directory, {"long": load})
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "perfrun", "--scenarios-dir", str(directory), "-o",
         str(report), "--cluster", "local:2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_clients(int(server.url.rsplit(":", 1)[1]), 2)
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, output
    s = only_scenario(json.loads(report.read_text()))
    assert all(not share["lost"] and share["requests"] > 0 for share in s["generator"]["shares"])
    seen = arrival_stats(server).requests
    assert 0 < s["requests"]["total"] <= seen <= s["schedule"]["sent"]
