"""A new user's first minutes: `perfrun URL`, `perfrun init`, completion, `perfrun.run`.

Quick mode and the Python API load tests/servers/target.py on 127.0.0.1; `init`'s
starter scenarios run on the built-in demo target, as written, with a shorter duration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import perfrun
from perfrun.errors import EXIT_OK, EXIT_THRESHOLD_FAILED, EXIT_USAGE
from perfrun.scenario.model import ScenarioType
from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import RunPerfrun, only_scenario, scenario, write_scenarios

# --- quick mode ------------------------------------------------------------------------------


def test_a_url_with_a_request_count_runs_exactly_those_requests(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    result = run_perfrun(None, f"{plain_target.url}/items?page=2", "-n", "40", "-u", "4",
                         "-H", "X-Test: 1", "--threshold", "p95<10s")  # fmt: skip
    assert result.exit_code == EXIT_OK, result.output
    quick = only_scenario(result.report)
    assert quick["name"] == "quick"
    assert quick["requests"]["total"] == 40
    assert quick["requests"]["succeeded"] == 40
    assert [(t["key"], t["passed"]) for t in quick["thresholds"]] == [("max_p95_response_ms", True)]
    assert "GET /items?page=2" in quick["endpoints"]


def test_a_threshold_given_in_quick_mode_is_the_exit_code(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    """No loopback server answers a billion requests a second: the verdict must fail."""
    result = run_perfrun(None, plain_target.url, "-d", "1s", "-u", "2", "--threshold", "rps>1e9")
    assert result.exit_code == EXIT_USAGE  # 1e9 is not a plain number: named, not run
    assert "--threshold 'rps>1e9'" in result.output
    result = run_perfrun(None, plain_target.url, "-d", "1s", "-u", "2",
                         "--threshold", "rps>1000000000")  # fmt: skip
    assert result.exit_code == EXIT_THRESHOLD_FAILED, result.output
    assert only_scenario(result.report)["requests"]["total"] > 0


def test_a_rate_with_a_count_sends_that_many_on_schedule(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    result = run_perfrun(None, plain_target.url, "--rate", "100/s", "-n", "50", "-m", "post",
                         "--body", '{"a": 1}', "-H", "Content-Type: application/json")  # fmt: skip
    assert result.exit_code == EXIT_OK, result.output
    quick = only_scenario(result.report)
    assert quick["requests"]["total"] == 50
    assert "POST /" in quick["endpoints"]


@pytest.mark.parametrize(("debug", "shown"), [("--http-debug", 3), ("--http-debug=2", 2)])
def test_http_debug_before_the_url_takes_no_value_but_an_attached_one(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, debug: str, shown: int
) -> None:
    result = run_perfrun(None, debug, plain_target.url, "-n", "3", "-u", "1")
    assert result.exit_code == EXIT_OK, result.output
    assert result.output.count("http-debug #") == shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["localhost:8080"], "neither a command (init, schema, completion) nor an http:// URL"),
        (["http://127.0.0.1:1/", "--scenarios", "x"], "runs no scenario files: drop --scenarios"),
        (["-m", "POST"], "--method: for quick mode, with a URL"),
        (["http://127.0.0.1:1/", "http://127.0.0.1:2/"], "quick mode takes one URL"),
        (["http://127.0.0.1:1/", "--body", "@/nonexistent/body.json"], "cannot read it"),
    ],
)
def test_quick_mode_mistakes_are_usage_errors(
    run_perfrun: RunPerfrun, args: list[str], message: str
) -> None:
    result = run_perfrun(None, *args)
    assert result.exit_code == EXIT_USAGE
    assert message in result.output.replace("\n", "")
    assert result.report is None


def test_two_outputs_naming_one_file_are_refused_before_any_load(
    run_perfrun: RunPerfrun, tmp_path: Path
) -> None:
    same = str(tmp_path / "same.html")
    result = run_perfrun(None, "http://127.0.0.1:1/", "--html", same, "--out", f"csv={same}")
    assert result.exit_code == EXIT_USAGE
    assert "--html and --out csv name the same file" in result.output.replace("\n", "")
    assert result.report is None


# --- init and --list -------------------------------------------------------------------------


def test_init_writes_starters_that_list_and_run(tmp_path: Path) -> None:
    """`perfrun init DIR` from the installed package, then `--list` and one starter run
    there, as a new user would (a subprocess in that directory)."""
    made = perfrun_in(tmp_path, "init", "project")
    assert made.returncode == EXIT_OK, made.stderr
    project = tmp_path / "project"
    assert (project / "perfrun.schema.json").is_file()
    assert (project / "ci" / "github-actions.yml").is_file()
    listed = perfrun_in(project, "--list")
    assert listed.returncode == EXIT_OK, listed.stderr
    types = {line.split()[3] for line in listed.stdout.splitlines() if line.startswith("│ api_")}
    assert types == {t.value for t in ScenarioType}  # one starter per test type
    again = perfrun_in(tmp_path, "init", "project")
    assert again.returncode == EXIT_USAGE
    assert "writes nothing over existing files" in again.stderr
    (tmp_path / "a-file").write_text("")
    in_the_way = perfrun_in(tmp_path, "init", "a-file")
    assert in_the_way.returncode == EXIT_USAGE
    assert "a-file is a file, not a directory" in in_the_way.stderr
    ran = perfrun_in(project, "--scenarios", "api_load", "-d", "1s", "-o", "r.json", timeout=120)
    assert ran.returncode == EXIT_OK, ran.stdout + ran.stderr
    report = json.loads((project / "r.json").read_text())
    assert report["scenarios"][0]["requests"]["total"] > 0


def test_list_without_scenarios_says_how_to_start(tmp_path: Path) -> None:
    listed = perfrun_in(tmp_path, "--list")
    assert listed.returncode == EXIT_USAGE
    assert "perfrun init" in listed.stderr
    assert "Traceback" not in listed.stderr


def perfrun_in(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "perfrun", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


# --- shell completion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("perfrun --scenarios al", ["alpha", "alps"]),
        ("perfrun --scenarios alpha,b", ["alpha,beta"]),
        ("perfrun --type s", ["stress", "spike"]),
        ("perfrun --severity c", ["critical"]),
    ],
)
def test_completion_offers_scenario_names_types_and_severities(
    tmp_path: Path, words: str, expected: list[str]
) -> None:
    names = ("alpha", "alps", "beta")
    write_scenarios(tmp_path / "scenarios", {n: scenario("http://127.0.0.1:1") for n in names})
    (tmp_path / "scenarios" / "broken.yaml").write_text("scenarios: {gamma: 1}\n")  # skipped
    env = {**os.environ, "_PERFRUN_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - 1)}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "perfrun"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [line.split(",", 1)[1] for line in done.stdout.splitlines()] == expected


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(tmp_path: Path, shell: str) -> None:
    done = perfrun_in(tmp_path, "completion", shell)
    assert done.returncode == EXIT_OK
    assert "_PERFRUN_COMPLETE" in done.stdout


# --- the Python API --------------------------------------------------------------------------


def test_run_from_python_returns_the_judged_report(
    plain_target: TargetProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    document = {"scenarios": {"api": {
        "base_url": "${TARGET}",
        "requests": [{"path": "/"}],
        "load": {"users": 2, "requests_per_user": 5},
        "thresholds": {"min_success_rate": 100},
    }}}  # fmt: skip
    report = perfrun.run(document, env={"TARGET": plain_target.url}, html="r.html")
    assert isinstance(report, perfrun.RunReport)
    assert report.passed
    (api,) = report.scenarios
    assert api.requests.total == 10
    assert (tmp_path / "r.html").is_file()
    assert not (tmp_path / "perfrun-report.json").exists()  # only the files asked for


def test_run_from_python_takes_load_overrides_over_a_dict(plain_target: TargetProcess) -> None:
    """users= and iterations= over a document made in code, as --users over a file."""
    document = {"scenarios": {"api": {
        "base_url": plain_target.url,
        "requests": [{"path": "/"}],
        "load": {"users": 1, "requests_per_user": 2},
        "thresholds": "none",
    }}}  # fmt: skip
    report = perfrun.run(document, users=3, iterations=4)
    (api,) = report.scenarios
    assert api.requests.total == 12
    assert set(api.overrides) == {"users", "iterations"}, api.overrides
    with pytest.raises(perfrun.UsageError, match="--rate fits none"):
        perfrun.run(document, rate="10/s")


def test_run_from_python_raises_on_bad_input(tmp_path: Path) -> None:
    with pytest.raises(perfrun.ScenarioError, match="unknown key 'userz'"):
        body = {"base_url": "http://127.0.0.1:1", "requests": [{"path": "/"}], "load": {"userz": 1}}
        perfrun.run({"scenarios": {"a": body}})
    with pytest.raises(perfrun.ScenarioError, match="scenario directory not found"):
        perfrun.run(tmp_path / "missing")
    with pytest.raises(perfrun.UsageError, match="no scenarios given"):
        perfrun.run([])  # not: every scenario file under the current directory
    document = {"scenarios": {"a": {"base_url": "http://127.0.0.1:1", "requests": [{"path": "/"}],
                                    "load": {"users": 1, "requests_per_user": 1}}}}  # fmt: skip
    for keyword, message in [
        ({"engine": "bogus"}, "engine='bogus'"),
        ({"fail_on": "never"}, "fail_on='never'"),
        ({"workers": 0}, "workers=0"),
        ({"base_url": "nope"}, "base_url='nope'"),
    ]:
        with pytest.raises(perfrun.UsageError, match=message):
            perfrun.run(document, **keyword)  # type: ignore[arg-type]


# --- max_body ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["fast", "httpx"])
def test_max_body_bounds_a_body_a_check_reads(run_perfrun: RunPerfrun, engine: str) -> None:
    """The demo's 1000-project listing (~250 KB) with a body check: kept up to max_body,
    so with max_body 1000 every request fails as body_too_large, in both engines; a body
    no check reads is counted whatever its size."""
    listing = {"path": "/projects?limit=1000", "expect_body_contains": ['"items"']}
    plain = {"name": "plain", "path": "/projects?limit=1000"}
    body = scenario("demo", requests=[{"name": "checked", **listing}, plain], users=1,
                    requests_per_user=40)  # fmt: skip
    body["max_body"] = 1000
    body["engine"] = engine
    result = run_perfrun({"bounded": body})
    s = only_scenario(result.report)
    checked, unread = s["endpoints"]["checked"], s["endpoints"]["plain"]
    assert checked["requests"]["total"] > 0 and unread["requests"]["total"] > 0
    assert checked["errors"] == {"body_too_large": checked["requests"]["total"]}
    assert unread["requests"]["failed"] == 0
    assert unread["requests"]["bytes_received"] > 1000 * unread["requests"]["total"]
