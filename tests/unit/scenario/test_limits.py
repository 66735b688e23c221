"""Limits and hostile input: what a scenario file may ask for, and what it may not do to
perfrun while it is read (issue 14). Every refusal is a ScenarioError (exit 2) naming the
file and line, and for a limit a legitimate user could reach, the variable that lifts it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from perfrun.errors import ScenarioError
from perfrun.scenario.limits import ALL, Limits
from perfrun.scenario.loader import LoadOverrides, load_file, load_scenarios, with_overrides
from perfrun.scenario.quick import scenarios_from_dict

SCENARIO = """\
scenarios:
  s:
    base_url: http://127.0.0.1:8080
    requests:
      - path: /health
    load: {users: 2, duration: 1s}
"""
BASE_URL = "base_url: http://127.0.0.1:8080"
THRESHOLDS = "{users: 2, duration: 1s}\n    thresholds: "


def write(directory: Path, text: str, name: str = "a.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refusal(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ScenarioError) as excinfo:
        load_file(path, environ or {})
    assert excinfo.value.exit_code == 2
    return str(excinfo.value)


def with_load(load: str) -> str:
    return SCENARIO.replace("load: {users: 2, duration: 1s}", f"load: {load}  # <-")


def marked_line(text: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if "# <-" in line)


# --- the bounds, and the variables that lift them ---------------------------------------


@pytest.mark.parametrize(
    ("load", "key", "variable"),
    [
        ("{users: 1000000000, duration: 1s}", "users", "USERS"),
        ("{rate: 2000000/s, duration: 1s}", "rate", "RATE"),
        ("{rate: 10, duration: 1s, max_in_flight: 2000000}", "max_in_flight", "IN_FLIGHT"),
        ("{stages: [{duration: 1s, users: 200000}]}", "stages -> 0 -> users", "USERS"),
        (
            "{stages: [{duration: 1s, rate: 1}, {duration: 1s, rate: 6000000}]}",
            "stages -> 1 -> rate",
            "RATE",
        ),
        ("{start_rate: 9000000, stages: [{duration: 1s, rate: 1}]}", "start_rate", "RATE"),
    ],
)  # fmt: skip
def test_a_load_above_a_limit_is_refused_naming_the_key_and_the_variable(
    tmp_path: Path, load: str, key: str, variable: str
) -> None:
    text = with_load(load)
    message = refusal(write(tmp_path, text))
    assert f"a.yaml:{marked_line(text)}: s -> load -> {key}: " in message
    assert "above the limit" in message and f"PERFRUN_MAX_{variable}" in message


def test_the_variable_lifts_its_limit(tmp_path: Path) -> None:
    path = write(tmp_path, with_load("{users: 200000, duration: 1s}"))
    assert "PERFRUN_MAX_USERS" in refusal(path)
    (scenario,) = load_file(path, {"PERFRUN_MAX_USERS": "200000"})
    assert scenario.load.users == 200_000


def test_a_limit_at_its_bound_is_allowed(tmp_path: Path) -> None:
    (scenario,) = load_file(write(tmp_path, with_load("{users: 100000, duration: 1s}")), {})
    assert scenario.load.users == Limits().users == 100_000


def test_a_bad_limit_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, SCENARIO), {"PERFRUN_MAX_USERS": "lots"})
    assert "PERFRUN_MAX_USERS='lots': must be a positive integer" in message


def test_too_many_stages_are_refused_before_they_are_read(tmp_path: Path) -> None:
    stages = ", ".join(["{duration: 1s, users: 1}"] * 6)
    message = refusal(
        write(tmp_path, with_load(f"{{stages: [{stages}]}}")), {"PERFRUN_MAX_STAGES": "5"}
    )
    assert "6 is above the limit of 5 stages" in message and "PERFRUN_MAX_STAGES" in message


def test_a_body_above_the_limit_is_refused(tmp_path: Path) -> None:
    body = SCENARIO.replace(
        "- path: /health", "- {path: /p, method: POST, body: " + "x" * 101 + "}"
    )
    message = refusal(write(tmp_path, body), {"PERFRUN_MAX_BODY_BYTES": "100"})
    assert "s -> requests -> 0 -> body: 101 is above the limit of 100 bytes" in message
    assert "PERFRUN_MAX_BODY_BYTES" in message


def test_a_json_body_is_measured_as_sent(tmp_path: Path) -> None:
    text = SCENARIO.replace(
        "- path: /health", "- {path: /p, method: POST, json: {k: " + "v" * 80 + "}}"
    )
    message = refusal(write(tmp_path, text), {"PERFRUN_MAX_BODY_BYTES": "50"})
    assert "-> json: 89 is above the limit of 50 bytes" in message  # {"k": "v…"}


def test_a_scenario_file_above_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, SCENARIO), {"PERFRUN_MAX_FILE_BYTES": "10"})
    assert "a.yaml: " in message and "bytes of one scenario file" in message


def test_data_rows_above_the_limit_are_refused(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("id\n1\n2\n3\n", encoding="utf-8")
    text = SCENARIO.replace(
        "requests:\n      - path: /health",
        "data: {file: rows.csv}\n    flow:\n      - path: /x/{{ id }}",
    )
    text = text.replace("{users: 2, duration: 1s}", "{users: 2, iterations: 1}")
    message = refusal(write(tmp_path, text), {"PERFRUN_MAX_DATA_ROWS": "2"})
    assert (
        "rows.csv: 3 is above the limit of 2 rows" in message and "PERFRUN_MAX_DATA_ROWS" in message
    )


def test_every_limit_has_its_own_variable_and_is_documented() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "scenarios.md").read_text(encoding="utf-8")
    variables = [limit.variable for limit in ALL]
    assert len(set(variables)) == len(variables)
    for limit in ALL:
        assert f"`{limit.variable}`" in docs, limit.variable
        assert f"{limit.default:,}" in docs or f"{limit.default // 1024 // 1024} MB" in docs


# --- hostile YAML -----------------------------------------------------------------------


def alias_bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines)


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    bomb = alias_bomb(9, 9)  # 9 ** 9 = 387 million values once expanded
    text = SCENARIO.replace(
        "- path: /health",
        "- path: /health\n        json:\n          " + bomb.replace("\n", "\n          "),
    )
    path = write(tmp_path, text)
    tracemalloc.start()
    try:
        message = refusal(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "YAML aliases expand too far" in message and "PERFRUN_MAX_ALIAS_NODES" in message
    assert "a.yaml:" in message
    assert peak < 20_000_000  # what refusing it costs: a few nodes, not the expansion


def test_aliases_within_the_limit_are_kept(tmp_path: Path) -> None:
    text = (
        SCENARIO.replace("requests:\n      - path: /health", "requests: &r\n      - path: /health")
        + "  t:\n    requests: *r\n    load: {users: 1, duration: 1s}\n"
    )
    assert {s.name for s in load_file(write(tmp_path, text), {})} == {"s", "t"}


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    text = SCENARIO.replace("- path: /health", "- &me {path: /health, json: [*me]}")
    assert "alias *me is inside the value it names" in refusal(write(tmp_path, text))


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_refused_with_its_line_not_a_recursion_error(
    tmp_path: Path, style: str
) -> None:
    depth = 1000
    if style == "flow":
        nested = "[" * depth + "]" * depth
    else:
        nested = "\n" + "".join("  " * (i + 6) + "k:\n" for i in range(depth))
    text = SCENARIO.replace("- path: /health", "- path: /health\n        json: " + nested)
    message = refusal(write(tmp_path, text))
    assert "nested too deeply" in message and "PERFRUN_MAX_DEPTH" in message
    assert "a.yaml:" in message


def test_an_alias_cannot_nest_deeper_than_the_limit(tmp_path: Path) -> None:
    deep, deeper = "[" * 60 + "]" * 60, "[" * 50 + "*deep" + "]" * 50
    text = SCENARIO.replace(
        "- path: /health",
        f"- {{path: /a, json: &deep {deep}}}\n      - {{path: /b, json: {deeper}}}",
    )
    assert "nested too deeply" in refusal(write(tmp_path, text))


@pytest.mark.parametrize(
    ("load", "key"),
    [
        ("{users: 2, duration: N}", "duration"),
        ("{users: 2, duration: Ns}", "duration"),
        ("{users: N, duration: 1s}", "users"),
        ("{rate: N, duration: 1s}", "rate"),
        ("{rate: 'N/s', duration: 1s}", "rate"),
        ("{users: 2, duration: .inf}", "duration"),
        ("{rate: .nan, duration: 1s}", "rate"),
        ("{stages: [{duration: 1s, users: N}]}", "users"),
        (THRESHOLDS + "{max_p95_response_ms: N}", "max_p95_response_ms"),
        (THRESHOLDS + "{max_p95_response_ms: .nan}", "max_p95_response_ms"),
    ],
)  # fmt: skip
def test_numbers_that_do_not_fit_are_clear_errors(tmp_path: Path, load: str, key: str) -> None:
    """N: a 400-digit number."""
    text = SCENARIO.replace("{users: 2, duration: 1s}", load.replace("N", "9" * 400))
    message = refusal(write(tmp_path, text))
    assert f"-> {key}: " in message
    assert "9" * 60 not in message  # named, not printed digit by digit


def test_an_integer_python_cannot_read_is_a_clear_error(tmp_path: Path) -> None:
    text = SCENARIO.replace("users: 2", "users: " + "9" * 5000)
    assert "a.yaml:6:" in (message := refusal(write(tmp_path, text)))
    assert "a number of 5,000 digits is too large" in message


# --- CR, LF and NUL where they would split a request ------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("- path: /health", '- {path: /health, headers: {X-A: "a\\r\\nX: 1"}}', "headers -> X-A"),
        ("- path: /health", '- {path: /health, headers: {"X-A\\nB": a}}', "headers"),
        ("- path: /health", '- {path: "/health\\r\\nHost: evil"}', "path"),
        ("- path: /health", '- {path: "/health\\0"}', "path"),
        ("- path: /health", '- {path: "/health\\e"}', "path"),
        ("- path: /health", '- {path: /health, headers: {X-A: "a\\x7f"}}', "headers -> X-A"),
        (BASE_URL, 'base_url: "http://127.0.0.1:8080/\\r\\nX: 1"', "base_url"),
        ("- path: /health", '- {path: /health, auth: {bearer: "t\\r\\nX: 1"}}', "auth -> bearer"),
        ("- path: /health", '- {path: /health, auth: {basic: [u, "p\\n"]}}', "auth -> basic -> 1"),
        ("- path: /health", '- {path: /health, method: "GET\\r\\n"}', "method"),
    ],
)  # fmt: skip
def test_line_breaks_where_a_request_is_written_are_refused(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    message = refusal(write(tmp_path, SCENARIO.replace(old, new)))
    assert f"s -> requests -> 0 -> {where}" in message or f"s -> {where}" in message


def test_a_header_name_must_be_a_token(tmp_path: Path) -> None:
    text = SCENARIO.replace("- path: /health", "- {path: /health, headers: {'X A': b}}")
    assert "bad header name 'X A'" in refusal(write(tmp_path, text))


def test_a_header_value_may_hold_a_tab(tmp_path: Path) -> None:
    text = SCENARIO.replace("- path: /health", '- {path: /health, headers: {X-A: "a\\tb"}}')
    (scenario,) = load_file(write(tmp_path, text), {})
    assert scenario.requests[0].headers == {"X-A": "a\tb"}


def test_a_body_may_hold_line_breaks(tmp_path: Path) -> None:
    text = SCENARIO.replace("- path: /health", '- {path: /p, method: POST, body: "a\\r\\nb"}')
    (scenario,) = load_file(write(tmp_path, text), {})
    assert scenario.requests[0].body == "a\r\nb"


# --- scale: what is linear stays linear -------------------------------------------------


def test_many_scenarios_and_stages_load(tmp_path: Path) -> None:
    """A file of 2,000 scenarios and one of 5,000 stages load whole (the figures for
    100,000 of each are measured in the report of issue 14, not asserted here)."""
    lines = ["scenarios:"] + [
        f"  s{i}: {{requests: [{{path: /h}}], load: {{users: 1, duration: 1s}}}}"
        for i in range(2000)
    ]
    write(tmp_path, "\n".join(lines) + "\n", "many.yaml")
    stages = "".join(f"\n      - {{duration: 1s, rate: {i % 7 + 1}}}" for i in range(5000))
    staged = (
        f"scenarios:\n  staged:\n    requests: [{{path: /}}]\n    load:\n      stages:{stages}\n"
    )
    write(tmp_path, staged, "staged.yaml")
    loaded = load_scenarios(tmp_path, {})
    assert len(loaded) == 2001
    assert len(loaded["staged"].load.stages) == 5000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            LoadOverrides(users=1_000_000_000),
            "--users 1000000000 (scenario s): 1,000,000,000 is above the limit of 100,000",
        ),
        (LoadOverrides(duration="0s"), "--duration 0s (scenario s): must be greater than 0"),
        (
            LoadOverrides(users=3, duration="soon"),
            "--duration soon (scenario s): bad duration 'soon'",
        ),
    ],
)
def test_a_command_line_override_is_held_to_the_limits_and_named(
    tmp_path: Path, overrides: LoadOverrides, message: str
) -> None:
    """The option is named, not the file's line whose value it replaced."""
    (scenario,) = load_file(write(tmp_path, SCENARIO), {})
    with pytest.raises(ScenarioError) as caught:
        with_overrides(scenario, overrides, {})
    assert caught.value.message.startswith(message), caught.value.message


def test_an_error_the_override_did_not_set_keeps_the_files_line(tmp_path: Path) -> None:
    text = SCENARIO.replace("{users: 2, duration: 1s}", "{users: 2, duration: 10s, warmup: 5s}")
    (scenario,) = load_file(write(tmp_path, text), {})
    with pytest.raises(ScenarioError, match=r"a\.yaml:6: s -> load -> warmup: warmup 5s must"):
        with_overrides(scenario, LoadOverrides(duration="2s"), {})


def test_a_python_document_nested_too_deeply_is_a_scenario_error() -> None:
    document: dict[str, Any] = {}
    inner = document
    for _ in range(5000):
        inner["k"] = inner = {}
    with pytest.raises(ScenarioError, match="nested too deeply"):
        scenarios_from_dict({"scenarios": {"a": document}}, "api")


def test_without_libyaml_the_same_bounds_hold(tmp_path: Path) -> None:
    """PyYAML built without libyaml: the pure-Python parser under the same composer."""
    bomb = write(tmp_path, "a:\n  " + alias_bomb(9, 9).replace("\n", "\n  "), "bomb.yaml")
    script = (
        "import sys; sys.modules['yaml._yaml'] = None\n"
        "import yaml; assert not yaml.__with_libyaml__\n"
        "from pathlib import Path\n"
        "from perfrun.errors import ScenarioError\n"
        "from perfrun.scenario.loader import load_file\n"
        f"print(len(load_file(Path({str(write(tmp_path, SCENARIO))!r}), {{}})))\n"
        f"try: load_file(Path({str(bomb)!r}), {{}})\n"
        "except ScenarioError as exc: print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.startswith("1\n")
    assert "YAML aliases expand too far" in done.stdout
