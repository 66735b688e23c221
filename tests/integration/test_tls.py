"""HTTPS with a self-signed certificate (made by `openssl` for this test): untrusted,
it is a request error of kind `tls` naming the reason, not "unreachable"; trusted with
`tls: {ca: …}`, or unchecked with `verify: false` or --insecure, the load runs. Both
engines. tests/servers/target.py serves HTTPS on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfrun.errors import EXIT_THRESHOLD_FAILED
from tests.servers.launch import TargetProcess, start_target
from tests.support.perfrun_cli import RunPerfrun, only_scenario

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def https_target(certificate: tuple[Path, Path]) -> Iterator[TargetProcess]:
    cert, key = certificate
    with start_target("--cert", str(cert), "--key", str(key)) as target:
        assert target.url.startswith("https://")
        yield target


def scenario(url: str, engine: str, tls: str = "") -> str:
    return (
        f"scenarios:\n  secure:\n    type: load\n    severity: high\n    base_url: {url}\n"
        f"    engine: {engine}\n{tls}"
        "    requests: [{name: root, path: /}]\n"
        "    load: {users: 2, requests_per_user: 5}\n"
        "    thresholds: {min_success_rate: 100}\n"
    )


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_an_untrusted_certificate_is_a_tls_error_not_unreachable(
    https_target: TargetProcess, run_perfrun: RunPerfrun, engine: str
) -> None:
    run = run_perfrun(scenario(https_target.url, engine))

    assert run.exit_code == EXIT_THRESHOLD_FAILED, run.output
    report = only_scenario(run.report)
    assert report["status"] == "completed"
    assert report["errors"] == {"tls": 10}
    assert "CERTIFICATE_VERIFY_FAILED" in report["error_samples"]["tls"]


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize("trust", ["ca", "verify_false", "--insecure"])
def test_a_trusted_or_unchecked_certificate_runs_the_load(
    tmp_path: Path, certificate: tuple[Path, Path], https_target: TargetProcess,
    run_perfrun: RunPerfrun, engine: str, trust: str,
) -> None:  # fmt: skip
    cert, _ = certificate
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    shutil.copy(cert, tmp_path / "scenarios" / "ca.pem")
    tls = {"ca": "    tls: {ca: ca.pem}\n", "verify_false": "    tls: {verify: false}\n"}
    options = ("--insecure",) if trust == "--insecure" else ()

    run = run_perfrun(scenario(https_target.url, engine, tls.get(trust, "")), *options)

    assert run.exit_code == 0, run.output
    assert only_scenario(run.report)["requests"]["succeeded"] == 10


def test_a_tls_file_that_is_missing_stops_the_run_before_any_load(
    https_target: TargetProcess, run_perfrun: RunPerfrun
) -> None:
    run = run_perfrun(scenario(https_target.url, "fast", "    tls: {ca: nowhere.pem}\n"))

    assert run.exit_code == 2
    assert "tls" in run.output and "nowhere.pem" in run.output
