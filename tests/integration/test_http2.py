"""`http2: true` sends every request over HTTP/2, on the httpx engine, against a real
third-party h2 server (Hypercorn, tests/servers/h2echo.py) on 127.0.0.1: over TLS
(ALPN) and over plain http (h2c, prior knowledge). The server echoes the HTTP version
it saw; perfrun's own checks and captures read it, and the server counts it too."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfrun.errors import EXIT_USAGE
from tests.servers.launch import TargetProcess, start_target
from tests.support.perfrun_cli import RunPerfrun, only_scenario

pytest.importorskip("hypercorn", reason="the HTTP/2 server of these tests (the test extra)")

H2ECHO = Path(__file__).parents[1] / "servers" / "h2echo.py"
USERS, PER_USER = 3, 4
SENT = USERS * PER_USER


@pytest.fixture
def h2c_server() -> Iterator[TargetProcess]:
    """Per test: it counts the requests it saw, by HTTP version, when it stops."""
    with start_target(script=H2ECHO) as server:
        yield server


@pytest.fixture
def h2_tls_server(certificate: tuple[Path, Path]) -> Iterator[TargetProcess]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl for the certificate")
    cert, key = certificate
    with start_target("--cert", str(cert), "--key", str(key), script=H2ECHO) as server:
        assert server.url.startswith("https://")
        yield server


def versions_seen(server: TargetProcess) -> str:
    server.stop()
    return server.stderr_text().split("VERSIONS ")[1].splitlines()[0]


def scenario(url: str, extra: str = "") -> str:
    return (
        f"scenarios:\n  h2:\n    type: load\n    severity: high\n    base_url: {url}\n{extra}"
        "    requests:\n"
        "      - {name: echo, path: /echo, expect_json: {http_version: '2', path: /echo}}\n"
        f"    load: {{users: {USERS}, requests_per_user: {PER_USER}}}\n"
    )


def test_http2_over_plain_http_is_h2c_on_the_httpx_engine(
    h2c_server: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    run = run_perfrun(scenario(h2c_server.url, "    http2: true\n"))

    assert run.exit_code == 0, run.output
    report = only_scenario(run.report)
    assert report["engine"] == "httpx"
    assert report["requests"]["succeeded"] == SENT, report["error_samples"]
    assert report["checks"] == {
        "echo: json http_version == '2'": {"endpoint": "echo", "evaluated": SENT, "failed": 0},
        "echo: json path == '/echo'": {"endpoint": "echo", "evaluated": SENT, "failed": 0},
    }
    assert versions_seen(h2c_server) == f"1.1=0 2={SENT}"


def test_http2_over_tls_is_negotiated_by_alpn(
    tmp_path: Path, certificate: tuple[Path, Path], h2_tls_server: TargetProcess,
    run_perfrun: RunPerfrun,
) -> None:  # fmt: skip
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    shutil.copy(certificate[0], tmp_path / "scenarios" / "ca.pem")

    run = run_perfrun(scenario(h2_tls_server.url, "    http2: true\n    tls: {ca: ca.pem}\n"))

    assert run.exit_code == 0, run.output
    report = only_scenario(run.report)
    assert (report["engine"], report["requests"]["succeeded"]) == ("httpx", SENT)
    assert versions_seen(h2_tls_server) == f"1.1=0 2={SENT}"


def test_without_http2_the_same_checks_fail_on_http_1_1(
    h2c_server: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    """The check above can fail: without `http2`, auto takes the fast engine, HTTP/1.1."""
    run = run_perfrun(scenario(h2c_server.url))

    report = only_scenario(run.report)
    assert report["engine"] == "fast"
    assert report["errors"] == {"check_failed": SENT}
    assert versions_seen(h2c_server) == f"1.1={SENT} 2=0"


FLOW = """\
scenarios:
  h2_flow:
    type: load
    severity: high
    base_url: {url}
    http2: true
    flow:
      - name: first
        path: /first
        capture:
          version: {{json: http_version}}
      - name: second
        path: /seen/{{{{ version }}}}
        expect_json: {{path: /seen/2, http_version: "2"}}
    load: {{users: {users}, iterations: {iterations}}}
"""


def test_a_flow_runs_over_http2_and_captures_what_the_server_saw(
    h2c_server: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    run = run_perfrun(FLOW.format(url=h2c_server.url, users=USERS, iterations=PER_USER))

    assert run.exit_code == 0, run.output
    endpoints = only_scenario(run.report)["endpoints"]
    assert {n: e["requests"]["succeeded"] for n, e in endpoints.items()} == {
        "first": SENT,
        "second": SENT,
    }
    assert versions_seen(h2c_server) == f"1.1=0 2={2 * SENT}"


def test_a_server_without_http2_fails_the_requests_rather_than_falling_back(
    plain_target: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    """tests/servers/target.py speaks HTTP/1.1 only: `http2: true` never measures it."""
    run = run_perfrun(scenario(plain_target.url, "    http2: true\n"))

    report = only_scenario(run.report)
    assert report["requests"]["succeeded"] == 0
    assert report["requests"]["failed"] == SENT
    assert "Server disconnected" in str(report["error_samples"])


def test_engine_fast_for_an_http2_scenario_stops_before_any_load(
    h2c_server: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    run = run_perfrun(scenario(h2c_server.url, "    http2: true\n"), "--engine", "fast")

    assert run.exit_code == EXIT_USAGE, run.output
    assert "--engine fast: scenario 'h2' (" in run.output
    assert "scenarios.yaml:2): http2: true needs the httpx engine" in run.output
    assert versions_seen(h2c_server) == "1.1=0 2=0"


def test_engine_fast_with_http2_in_the_file_is_a_load_error_naming_the_line(
    run_perfrun: RunPerfrun,
) -> None:
    run = run_perfrun(scenario("http://127.0.0.1:9", "    engine: fast\n    http2: true\n"))

    assert run.exit_code == EXIT_USAGE, run.output
    assert "scenarios.yaml:7: h2: http2: true needs the httpx engine" in run.output
