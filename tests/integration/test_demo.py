"""The demo target (through DemoTarget, on 127.0.0.1) and the tests/servers test target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from perfrun.demo import DemoTarget
from perfrun.demo.app import run_workflow, seed_project
from perfrun.errors import EXIT_RUN_FAILED, TargetError
from tests.servers.launch import start_target

REPO_ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """True once the process no longer runs (a zombie nobody reaps counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoTarget]:
    with DemoTarget() as target:
        yield target


@pytest.fixture()
def client(demo: DemoTarget) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base_url, timeout=10.0) as http:
        yield http


# --- endpoints -----------------------------------------------------------------------


def test_accounts_log_in_keep_a_session_and_own_their_projects(client: httpx.Client) -> None:
    assert client.post("/login", json={"user": "ada", "password": "nope"}).status_code == 401
    login = client.post("/login", json={"user": "grace", "password": "grace-secret"})
    assert login.status_code == 200
    token = login.json()["token"]
    assert client.get("/me").json() == {"user": "grace"}  # the session cookie, kept by httpx
    client.cookies.clear()
    assert client.get("/me").status_code == 401
    mine = client.get("/my/projects", headers={"Authorization": f"Bearer {token}"})
    ids = [item["id"] for item in mine.json()["items"]]
    assert len(ids) == 10
    assert all(client.get(f"/projects/{i}").json()["owner"] == "grace" for i in ids)
    assert client.get("/my/projects").status_code == 401
    hop = client.get("/go/projects")
    assert (hop.status_code, hop.headers["location"]) == (302, "/projects?limit=5")


def test_health_answers_200_ok_json(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_project_list_defaults_to_the_first_50(client: httpx.Client) -> None:
    body = client.get("/projects").json()
    assert body["total"] >= 1000
    assert [item["id"] for item in body["items"]] == list(range(1, 51))


def test_project_list_paginates_with_limit_and_offset(client: httpx.Client) -> None:
    body = client.get("/projects", params={"limit": 5, "offset": 10}).json()
    assert [item["id"] for item in body["items"]] == [11, 12, 13, 14, 15]


def test_project_list_returns_all_1000_seed_projects_with_limit_1000(
    client: httpx.Client,
) -> None:
    items = client.get("/projects", params={"limit": 1000}).json()["items"]
    assert len(items) == 1000
    assert [item["id"] for item in items] == list(range(1, 1001))
    assert set(items[0]) == {"id", "name", "owner", "status", "tags", "created_at"}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"offset": -1}, {"offset": "9" * 5000}],
)
def test_project_list_rejects_out_of_range_paging(
    client: httpx.Client, params: dict[str, int | str]
) -> None:
    response = client.get("/projects", params=params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_get_project_by_id_is_the_generated_project(client: httpx.Client) -> None:
    response = client.get("/projects/7")
    assert response.status_code == 200
    assert response.json() == seed_project(7)


@pytest.mark.parametrize(
    "path", ["/projects/0", "/projects/999999", "/projects/abc", "/projects/" + "9" * 5000]
)
def test_get_unknown_project_is_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_create_project_returns_201_and_can_be_fetched(client: httpx.Client) -> None:
    response = client.post("/projects", json={"name": "load-test", "tags": ["perf"]})
    assert response.status_code == 201
    created = response.json()
    assert created["id"] > 1000
    assert created["name"] == "load-test"
    assert created["tags"] == ["perf"]
    assert created["status"] == "active"
    assert response.headers["location"] == f"/projects/{created['id']}"
    assert client.get(f"/projects/{created['id']}").json() == created


def test_create_project_rejects_invalid_json(client: httpx.Client) -> None:
    response = client.post("/projects", content=b"{not json", headers={"content-type": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "body is not valid JSON"}


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 42}, {"owner": "ada"}])
def test_create_project_requires_a_name(client: httpx.Client, body: dict[str, object]) -> None:
    response = client.post("/projects", json=body)
    assert response.status_code == 400
    assert "name" in response.json()["error"]


def test_create_project_rejects_a_body_over_1_mb(client: httpx.Client) -> None:
    big = json.dumps({"name": "x" * (1024 * 1024)})
    response = client.post("/projects", content=big)
    assert response.status_code == 413
    assert client.get("/health").status_code == 200  # the connection is still usable


def test_workflow_returns_a_deterministic_digest(client: httpx.Client) -> None:
    default = client.post("/workflow")
    assert default.status_code == 200
    assert default.json() == {"steps": 10, "digest": run_workflow(10)}
    three = client.post("/workflow", json={"steps": 3}).json()
    assert three == {"steps": 3, "digest": run_workflow(3)}
    assert len(three["digest"]) == 64
    assert three["digest"] != default.json()["digest"]


@pytest.mark.parametrize("steps", [0, 51, "5", True])
def test_workflow_rejects_steps_out_of_range(client: httpx.Client, steps: object) -> None:
    response = client.post("/workflow", json={"steps": steps})
    assert response.status_code == 400


def test_unknown_path_is_404(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/health", "GET"),
        ("PUT", "/projects", "GET, POST"),
        ("DELETE", "/projects/1", "GET"),
        ("GET", "/workflow", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


# --- process lifecycle ---------------------------------------------------------------


def test_stop_terminates_the_process_and_is_idempotent() -> None:
    target = DemoTarget()
    target.start()
    pid = target.pid
    assert psutil.pid_exists(pid)
    target.stop()
    assert not psutil.pid_exists(pid)
    target.stop()
    with pytest.raises(RuntimeError):
        _ = target.base_url


def test_context_manager_stops_the_process_on_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt), DemoTarget() as target:
        pid = target.pid
        raise KeyboardInterrupt
    assert not psutil.pid_exists(pid)


def test_demo_runs_in_its_own_session_so_ctrl_c_reaches_only_perfrun(demo: DemoTarget) -> None:
    assert os.getsid(demo.pid) == demo.pid != os.getsid(0)


def test_failed_start_raises_target_error_with_the_stderr_tail() -> None:
    script = "import sys\nfor i in range(30): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"
    target = DemoTarget(command=[sys.executable, "-c", script])
    with pytest.raises(TargetError) as raised:
        target.start()
    message = str(raised.value)
    assert "exited with code 3" in message
    assert "line 29" in message
    assert "line 10" in message
    assert "line 9\n" not in message  # only the last 20 lines
    assert raised.value.exit_code == EXIT_RUN_FAILED
    assert not psutil.pid_exists(target.pid)
    target.stop()


def test_start_times_out_and_kills_a_child_that_never_listens() -> None:
    script = "import time\nprint('warming up', flush=True)\ntime.sleep(60)"
    target = DemoTarget(startup_timeout=0.5, command=[sys.executable, "-c", script])
    started = time.monotonic()
    with pytest.raises(TargetError, match="instead of its URL"):
        target.start()
    # Killed at its 0.5 s timeout, not waited out: well before the child's own 60 s sleep
    # ends, however long a busy machine takes to start and kill it.
    assert time.monotonic() - started < 30
    assert not psutil.pid_exists(target.pid)

    silent = DemoTarget(
        startup_timeout=0.5, command=[sys.executable, "-c", "import time; time.sleep(60)"]
    )
    with pytest.raises(TargetError, match=r"did not announce its URL within 0\.5 s"):
        silent.start()
    assert not psutil.pid_exists(silent.pid)


def test_demo_prints_one_line_and_exits_0_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "perfrun.demo", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    assert line.startswith("PERFRUN_DEMO_LISTENING http://127.0.0.1:")
    url = line.split()[1]
    assert httpx.get(f"{url}/health").status_code == 200
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert stdout == b""


def test_demo_is_this_perfrun_even_from_a_directory_holding_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from another checkout, `python -m perfrun.demo` would import that checkout's
    # demo (the current directory comes first on sys.path), not the running perfrun's.
    impostor = tmp_path / "perfrun" / "demo"
    impostor.mkdir(parents=True)
    (tmp_path / "perfrun" / "__init__.py").write_text("")
    (impostor / "__init__.py").write_text("")
    (impostor / "__main__.py").write_text("import sys; print('IMPOSTOR'); sys.exit(7)\n")
    monkeypatch.chdir(tmp_path)
    with DemoTarget() as demo:
        assert httpx.get(f"{demo.base_url}/health").status_code == 200


def test_demo_exits_when_the_perfrun_that_started_it_is_killed() -> None:
    parent_script = textwrap.dedent(
        """
        import time
        from perfrun.demo import DemoTarget
        target = DemoTarget()
        target.start()
        print(target.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script], cwd=REPO_ROOT, stdout=subprocess.PIPE
    )
    assert parent.stdout is not None
    demo_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    # It notices within a 0.5 s poll and stops; a demo that never notices serves on for
    # ever, so a generous wait costs nothing in what this proves.
    assert _wait_gone(demo_pid, timeout=30.0)


def test_demo_started_for_a_parent_already_gone_exits_by_itself() -> None:
    # perfrun interrupted inside Popen, before it could know the child: the child's parent is
    # then not the pid it was given, and it must not serve on as an orphan.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    demo = subprocess.Popen(
        [sys.executable, "-m", "perfrun.demo", "--parent-pid", str(gone.pid)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = demo.communicate(timeout=15)
    assert demo.returncode == 0, stderr
    assert stdout.startswith(b"PERFRUN_DEMO_LISTENING http://127.0.0.1:")


# --- tests/servers/target.py ---------------------------------------------------------


def test_target_delay_makes_each_request_take_at_least_the_delay() -> None:
    with start_target("--delay-ms", "50") as target, httpx.Client() as http:
        http.get(f"{target.url}/warm")
        started = time.perf_counter()
        response = http.get(f"{target.url}/x")
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert elapsed >= 0.050


def test_target_fail_every_4_fails_exactly_25_of_100() -> None:
    with start_target("--fail-every", "4") as target, httpx.Client() as http:
        assert http.get(f"{target.url}/health").status_code == 200  # not counted
        codes = [http.post(f"{target.url}/orders", json={"n": k}).status_code for k in range(100)]
    assert codes.count(500) == 25
    assert [k + 1 for k, code in enumerate(codes) if code == 500] == list(range(4, 101, 4))


def test_target_alloc_mb_holds_that_much_resident_memory() -> None:
    with start_target("--alloc-mb", "100") as target:
        rss = psutil.Process(target.pid).memory_info().rss
    assert rss >= 100 * 1024 * 1024


def test_target_burn_cpu_keeps_a_core_busy() -> None:
    # Compared with a busy loop of this test's own over the same second: a busy machine
    # shares its cores among runnable threads alike, so the burning thread gets about
    # what ours does (all of a core on a quiet machine); without it the target idles.
    with start_target("--burn-cpu") as target:
        process = psutil.Process(target.pid)
        burned, spun = sum(process.cpu_times()[:2]), time.thread_time()
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            pass
        burned, spun = sum(process.cpu_times()[:2]) - burned, time.thread_time() - spun
    assert burned > 0.5 * spun, (burned, spun)


def test_target_close_after_closes_on_the_nth_response() -> None:
    with start_target("--close-after", "3") as target, httpx.Client() as http:
        headers = [http.get(f"{target.url}/").headers["connection"] for _ in range(4)]
    assert headers == ["keep-alive", "keep-alive", "close", "keep-alive"]


def test_target_stall_holds_requests_until_the_window_ends() -> None:
    # Requests 50 ms apart for more than a 600 ms period: some arrive in the first half of
    # a 150 ms stall window. Held to the window's end, none takes much over 150 ms; held to
    # the period's end instead, the early ones would take 450 ms or more.
    durations = []
    with (
        start_target("--stall-ms", "150", "--stall-every-ms", "600") as target,
        httpx.Client() as http,
    ):
        for _ in range(16):
            started = time.perf_counter()
            http.get(f"{target.url}/")
            durations.append(time.perf_counter() - started)
            time.sleep(0.05)
    # Some request arrived in the first half of a window, and waited half a window or more;
    # held to the period's end it would have waited 525 ms or more, a busy machine's
    # delays on top of the 150 ms stay far under that; and some request was not held
    # that long (a stall on every request would hold all of them).
    assert max(durations) >= 0.075
    assert max(durations) < 0.450
    assert min(durations) < 0.075


def test_target_exits_0_on_sigterm() -> None:
    target = start_target()
    assert target.stop() == 0
    assert target.stderr_text() == ""
