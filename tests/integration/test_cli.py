"""The command line: selection, bad input, output on a non-terminal, --help and --version."""

from __future__ import annotations

import importlib.machinery
import json
import os
import re
import signal
from pathlib import Path

import pytest

from perfrun import __version__
from perfrun.engine import fast_wire
from tests.servers.launch import TargetProcess
from tests.support.perfrun_cli import (
    RunPerfrun,
    StartTarget,
    arrival_stats,
    flat,
    run_module,
    scenario,
    write_scenarios,
)

# --- bad input -------------------------------------------------------------------------------

# A valid file; each case edits one line. Line numbers: 3 type, 4 severity, 10 users,
# 11 requests_per_user.
BASE = """\
scenarios:
  checkout:
    type: load
    severity: medium
    base_url: http://127.0.0.1:9
    requests:
      - name: home
        path: /
    load:
      users: 2
      requests_per_user: 3
"""


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            edited("severity: medium", "severity: medium: high"),
            ["scenarios.yaml:4", "YAML syntax error"],
            id="yaml-syntax-error",
        ),
        pytest.param(
            edited("users: 2", "userz: 2"),
            [
                "scenarios.yaml:10",
                "checkout -> load",
                "unknown key 'userz'",
                "did you mean 'users'?",
            ],
            id="unknown-key",
        ),
        pytest.param(
            edited("users: 2", "users: -2"),
            ["scenarios.yaml:10", "checkout -> load -> users", "must be an integer >= 1", "-2"],
            id="negative-users",
        ),
        pytest.param(
            edited("type: load", "type: soak"),
            ["scenarios.yaml:3", "checkout -> type", "'soak'", "load, stress, spike"],
            id="unknown-type",
        ),
        pytest.param(
            edited("severity: medium", "severity: urgent"),
            ["scenarios.yaml:4", "checkout -> severity", "'urgent'", "low, medium, high, critical"],
            id="unknown-severity",
        ),
        pytest.param(
            edited("requests_per_user: 3", "duration: 5 parsecs"),
            ["scenarios.yaml:11", "checkout -> load -> duration", "bad duration '5 parsecs'"],
            id="bad-duration",
        ),
        pytest.param(
            edited("requests_per_user: 3\n", "requests_per_user: 3\n      duration: 5s\n"),
            ["scenarios.yaml:12", "checkout -> load", "either requests_per_user or duration"],
            id="requests-and-duration",
        ),
    ],
)
def test_bad_scenario_file_exits_2_naming_file_line_and_field(
    run_perfrun: RunPerfrun, text: str, expected: list[str]
) -> None:
    run = run_perfrun(text, "--quiet")

    assert run.exit_code == 2, run.output
    output = flat(run.output)
    for fragment in expected:
        assert fragment in output
    assert "Traceback" not in run.output
    assert run.report is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--scenarios", "nope"],
            ["unknown scenario 'nope'", "known scenarios: checkout"],
            id="unknown-scenario",
        ),
        pytest.param(
            ["--scenarios", "checkuot"],
            ["unknown scenario 'checkuot'", "did you mean 'checkout'?"],
            id="misspelt-scenario",
        ),
        pytest.param(
            ["--type", "soak"], ["unknown type 'soak'", "load, stress"], id="unknown-type-option"
        ),
        pytest.param(
            ["--severity", "urgent"],
            ["unknown severity 'urgent'", "low, medium, high, critical"],
            id="unknown-severity-option",
        ),
        pytest.param(
            ["--base-url", "ftp://example.com"],
            ["--base-url", "must be 'demo' or an http:// or https:// URL"],
            id="bad-base-url",
        ),
        pytest.param(["--monitor-pid", "abc"], ["--monitor-pid", "'abc'"], id="monitor-pid-abc"),
        pytest.param(["--monitor-pid", "0"], ["--monitor-pid", "0"], id="monitor-pid-zero"),
    ],
)
def test_bad_option_exits_2_with_a_clear_message(
    run_perfrun: RunPerfrun, args: list[str], expected: list[str]
) -> None:
    run = run_perfrun(BASE, *args)

    assert run.exit_code == 2, run.output
    output = flat(run.output)
    for fragment in expected:
        assert fragment in output
    assert "Traceback" not in run.output
    assert run.report is None


def test_missing_scenarios_dir_exits_2_naming_it(run_perfrun: RunPerfrun, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    run = run_perfrun(None, "--scenarios-dir", str(missing))

    assert run.exit_code == 2, run.output
    output = flat(run.output)
    assert str(missing) in output
    assert "scenario directory not found" in output


def test_bad_scenario_file_exits_2_without_traceback_from_the_real_command(
    tmp_path: Path,
) -> None:
    path = write_scenarios(tmp_path / "scenarios", edited("users: 2", "users: many"))
    result = run_module("--scenarios-dir", str(path.parent), "--output", str(tmp_path / "r.json"))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    message = flat(result.stderr)
    assert "scenarios.yaml:10" in message
    assert "checkout -> load -> users" in message
    assert not (tmp_path / "r.json").exists()


def test_error_message_is_printed_on_one_line_in_a_log(
    run_perfrun: RunPerfrun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI logs are not terminals: a `file:line` folded over two lines cannot be grepped
    # or clicked, so the message must not be wrapped at any width.
    monkeypatch.delenv("COLUMNS", raising=False)
    path = write_scenarios(tmp_path / "scenarios", edited("type: load", "type: soak"))
    run = run_perfrun(None, "--scenarios-dir", str(path.parent))

    assert run.exit_code == 2, run.output
    message = (
        f"perfrun: error: {path}:3: checkout -> type: must be one of load, stress, spike, "
        "volume, endurance, memory, cpu; got 'soak'\n"
    )
    assert message in run.output


def test_unwritable_report_path_exits_3_naming_it(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, tmp_path: Path
) -> None:
    report = tmp_path / "no-such-dir" / "report.json"
    run = run_perfrun({"ok": scenario(plain_target.url)}, "--quiet", "--output", str(report))

    assert run.exit_code == 3, run.output
    output = flat(run.output)
    assert f"cannot write report {report}" in output
    assert "Traceback" not in run.output


def test_an_unwritable_report_path_is_found_before_any_load(
    run_perfrun: RunPerfrun, target: StartTarget, tmp_path: Path
) -> None:
    server = target("--arrival-stats")
    (tmp_path / "read-only").mkdir(mode=0o500)
    paths = [tmp_path / "no-such-dir" / "report.json", tmp_path / "read-only" / "r.json"]
    if os.access(paths[1].parent, os.W_OK):  # root writes anywhere: only the first
        paths.pop()
    for path in paths:
        run = run_perfrun({"ok": scenario(server.url)}, "--quiet", "--html", str(path))
        assert run.exit_code == 3, run.output
        assert f"cannot write report {path}" in flat(run.output)
    assert arrival_stats(server).requests == 0  # not one request sent


def test_output_dash_writes_only_the_json_report_to_stdout(
    plain_target: TargetProcess, tmp_path: Path
) -> None:
    directory = tmp_path / "scenarios"
    write_scenarios(directory, {"ok": scenario(plain_target.url, users=2)})
    done = run_module("--scenarios-dir", str(directory), "-o", "-")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # nothing else on stdout
    assert report["scenarios"][0]["requests"]["total"] == 2
    assert "1 passed" in done.stderr and "reports: -" in done.stderr
    assert not Path("-").exists()


# --- selection -------------------------------------------------------------------------------

NAMES = ("alpha", "beta", "delta", "gamma")


@pytest.fixture()
def four_scenarios(plain_target: TargetProcess) -> dict[str, object]:
    """alpha load/low, beta stress/high, gamma load/high, delta spike/critical."""
    url = plain_target.url
    return {
        "alpha": scenario(url, type="load", severity="low"),
        "beta": scenario(url, type="stress", severity="high"),
        "gamma": scenario(url, type="load", severity="high"),
        "delta": scenario(url, type="spike", severity="critical"),
    }


def listed(output: str) -> set[str]:
    return {name for name in NAMES if re.search(rf"\b{name}\b", output)}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], set(NAMES), id="no-selection"),
        pytest.param(["--scenarios", "alpha,beta"], {"alpha", "beta"}, id="comma-separated"),
        pytest.param(["-s", "alpha", "-s", "delta"], {"alpha", "delta"}, id="repeated"),
        pytest.param(
            ["--scenarios", "alpha,beta", "--scenarios", "gamma"],
            {"alpha", "beta", "gamma"},
            id="comma-and-repeated",
        ),
        pytest.param(["--type", "load"], {"alpha", "gamma"}, id="type"),
        pytest.param(["-t", "load", "-t", "spike"], {"alpha", "gamma", "delta"}, id="two-types"),
        pytest.param(["--severity", "high"], {"beta", "gamma"}, id="severity"),
        pytest.param(["--type", "load", "--severity", "high"], {"gamma"}, id="type-and-severity"),
        pytest.param(
            ["--scenarios", "alpha,beta,gamma", "--severity", "high"],
            {"beta", "gamma"},
            id="names-and-severity",
        ),
    ],
)
def test_list_shows_exactly_the_selected_scenarios(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object], args: list[str], expected: set[str]
) -> None:
    run = run_perfrun(four_scenarios, "--list", *args)

    assert run.exit_code == 0, run.output
    assert listed(run.output) == expected
    assert f"{len(expected)} scenario(s)" in run.output
    assert run.report is None  # listing runs nothing


def test_list_verbose_names_the_yaml_files_that_are_not_scenario_files(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object], tmp_path: Path
) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "docker-compose.yml").write_text("services: {}\n")
    quiet, verbose = (run_perfrun(four_scenarios, "--list", *more) for more in ([], ["-v"]))

    assert quiet.exit_code == verbose.exit_code == 0, quiet.output + verbose.output
    assert listed(quiet.output) == listed(verbose.output) == set(four_scenarios)
    assert "docker-compose.yml" not in quiet.output
    assert "docker-compose.yml: not a scenario file" in flat(verbose.output)


def test_filters_that_match_nothing_exit_2(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object]
) -> None:
    run = run_perfrun(four_scenarios, "--type", "spike", "--severity", "low")

    assert run.exit_code == 2, run.output
    assert "nothing selected" in flat(run.output)
    assert run.report is None


def test_no_selection_runs_every_scenario_in_name_order(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object]
) -> None:
    run = run_perfrun(four_scenarios, "--quiet")

    assert run.exit_code == 0, run.output
    assert run.report is not None
    assert [s["name"] for s in run.report["scenarios"]] == sorted(NAMES)
    assert all(s["requests"]["total"] == 1 for s in run.report["scenarios"])


def test_selection_runs_only_the_named_scenarios_in_the_order_given(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object]
) -> None:
    run = run_perfrun(four_scenarios, "--quiet", "--scenarios", "gamma,alpha")

    assert run.exit_code == 0, run.output
    assert run.report is not None
    assert [s["name"] for s in run.report["scenarios"]] == ["gamma", "alpha"]


def test_scenarios_dir_can_come_from_perfrun_scenarios_dir(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object], tmp_path: Path
) -> None:
    directory = tmp_path / "from-env"
    write_scenarios(directory, four_scenarios)
    run = run_perfrun(None, "--list", env={"PERFRUN_SCENARIOS_DIR": str(directory)})

    assert run.exit_code == 0, run.output
    assert listed(run.output) == set(NAMES)


# --- output on a non-terminal ----------------------------------------------------------------


def test_progress_on_a_non_terminal_is_plain_lines_naming_the_scenario(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    judged = scenario(plain_target.url, users=5, thresholds={"min_success_rate": 100})
    run = run_perfrun({"plain_progress": judged})

    assert run.exit_code == 0, run.output
    output = flat(run.output)
    assert f"[1/1] plain_progress: 5 users × 1 req → {plain_target.url}" in output
    assert "plain_progress: done, 5 requests, 0 failed" in output
    assert "\x1b[" not in run.output  # no colour or cursor codes in a log
    assert "PASSED" in output


def test_quiet_prints_the_summary_but_no_progress(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    judged = scenario(plain_target.url, users=5, thresholds={"min_success_rate": 100})
    run = run_perfrun({"quiet_one": judged}, "--quiet")

    assert run.exit_code == 0, run.output
    output = flat(run.output)
    assert "[1/1]" not in output
    assert "done, 5 requests" not in output
    assert "quiet_one" in output  # the summary table
    assert "5 requests in" in output
    assert "PASSED" in output


# --- help and version ------------------------------------------------------------------------


def test_help_documents_exit_codes_and_the_scenarios_dir_variable() -> None:
    result = run_module("--help")

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Exit codes" in text
    for code in ("0", "1", "2", "3", "130"):
        assert re.search(rf"^\s+{code}\s+\S", text, re.MULTILINE), code
    assert "PERFRUN_SCENARIOS_DIR" in text


def test_version_prints_the_package_version_and_how_its_hot_path_runs() -> None:
    result = run_module("--version")

    # What --version says (read from the files) is what a run imports (setup.py).
    compiled = fast_wire.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    form = "hot path compiled" if compiled else "hot path interpreted"
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"perfrun, version {__version__} ({form})"
    assert run_module("--version", "-q").stdout.strip() == result.stdout.strip()  # click's


def test_the_cli_puts_back_the_sigterm_handler_it_found(
    run_perfrun: RunPerfrun, four_scenarios: dict[str, object]
) -> None:
    # In-process (a test, an embedding program), perfrun's SIGTERM handler must not outlive
    # the call: it would turn the caller's SIGTERM into a KeyboardInterrupt.
    def mine(signum: int, frame: object) -> None: ...

    before = signal.signal(signal.SIGTERM, mine)
    try:
        assert run_perfrun(four_scenarios, "--list").exit_code == 0
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)


def test_the_smallest_scenario_runs_and_says_it_loads_the_demo(run_perfrun: RunPerfrun) -> None:
    """Requests and a load: no type, severity, request name or base_url. The console
    says loudly that the load goes to the built-in demo, not to the user's service."""
    text = (
        "scenarios:\n  mini:\n    requests: [{path: /health}]\n"
        "    load: {users: 2, requests_per_user: 3}\n"
    )
    run = run_perfrun(text)

    assert run.exit_code == 0, run.output
    assert "the built-in DEMO target, because this scenario sets no base_url" in flat(run.output)
    assert run.report is not None
    (s,) = run.report["scenarios"]
    assert (s["type"], s["severity"]) == ("load", "medium")
    assert list(s["endpoints"]) == ["GET /health"]
    assert s["requests"]["total"] == 6


def test_env_options_feed_the_scenario_files_and_the_report_names_them(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    server = target("--arrival-stats")
    text = (
        "scenarios:\n  env:\n    base_url: ${TARGET}\n    requests: [{path: '/x?n=${N:-0}'}]\n"
        "    load:\n      users: 1\n      requests_per_user: ${COUNT}\n"
    )
    run = run_perfrun(text, "-e", f"TARGET={server.url}", "--env", "COUNT=7", "-e", "N=1")

    assert run.exit_code == 0, run.output
    assert run.report is not None
    assert run.report["overrides"] == {"env": ["COUNT", "N", "TARGET"]}  # keys, no values
    (s,) = run.report["scenarios"]
    assert s["requests"]["total"] == 7
    assert list(s["endpoints"]) == ["GET /x?n=1"]
    assert arrival_stats(server).requests == 7


@pytest.mark.parametrize("pair", ["NOEQUALS", "1BAD=x", "=x"])
def test_a_malformed_env_option_is_exit_2(run_perfrun: RunPerfrun, pair: str) -> None:
    run = run_perfrun(None, "--list", "-e", pair)
    assert run.exit_code == 2, run.output
    assert "expected KEY=VALUE" in flat(run.output)


def test_load_options_override_the_scenarios_they_fit(
    run_perfrun: RunPerfrun, target: StartTarget
) -> None:
    """--users and --iterations fit the users load, --rate and --duration the rate load;
    each scenario's report says which it took."""
    server = target("--arrival-stats")
    scenarios = {
        "closed": scenario(server.url, users=1, requests_per_user=1),
        "open": {**scenario(server.url), "load": {"rate": 10, "duration": "3s"}},
    }
    run = run_perfrun(scenarios, "-u", "3", "--iterations", "4", "--rate", "40")

    assert run.exit_code == 0, run.output
    assert run.report is not None
    by_name = {s["name"]: s for s in run.report["scenarios"]}
    assert by_name["closed"]["requests"]["total"] == 12
    assert by_name["closed"]["overrides"] == {"users": "3", "iterations": "4"}
    assert by_name["open"]["schedule"]["due"] == 120  # 40/s for its own 3 s
    assert by_name["open"]["overrides"] == {"rate": "40"}
    assert arrival_stats(server).requests == 12 + by_name["open"]["schedule"]["sent"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "50"], "--rate fits none of the selected scenarios (loads: closed)"),
        (["-d", "1s", "--iterations", "2"], "give either --duration or --iterations"),
        (["-u", "0"], "--users"),
    ],
)
def test_a_load_option_that_fits_nothing_or_is_wrong_is_exit_2(
    run_perfrun: RunPerfrun, plain_target: TargetProcess, args: list[str], message: str
) -> None:
    run = run_perfrun({"closed": scenario(plain_target.url)}, *args)
    assert run.exit_code == 2, run.output
    assert message in flat(run.output)


def test_an_override_the_scenario_cannot_take_names_the_option(
    run_perfrun: RunPerfrun, plain_target: TargetProcess
) -> None:
    """Validated as the file's own value (a rate that is no rate), and named by the option
    it came from: the file's line holds another value."""
    scenarios = {"open": {**scenario(plain_target.url), "load": {"rate": 10, "duration": "1s"}}}
    run = run_perfrun(scenarios, "--rate", "fast")
    assert run.exit_code == 2, run.output
    assert "error: --rate fast (scenario open): bad rate 'fast'" in flat(run.output), run.output
    assert "scenarios.yaml" not in run.output
