"""`scenario_schema()`: the JSON Schema editors check scenario files with, rendered from
the declaration the loader takes its keys from. It accepts every file perfrun ships and
the forms the loader accepts, and refuses what the loader refuses for a key, a type or a
word of a vocabulary."""

from __future__ import annotations

import ast
import importlib
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from perfrun.errors import ScenarioError
from perfrun.scenario import _load, schema
from perfrun.scenario.captures import Source
from perfrun.scenario.data import Order
from perfrun.scenario.loader import load_file
from perfrun.scenario.metrics import BY_THRESHOLD, COMPARED
from perfrun.scenario.model import Arrival, EngineChoice, ScenarioType, Severity
from perfrun.scenario.schema import SECTIONS, Section, scenario_schema
from perfrun.scenario.target import TargetScope
from perfrun.scenario.units import parse_duration, parse_rate

ROOT = Path(__file__).parents[3]
SCHEMA = scenario_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
ENVIRON = {"PERFRUN_BASE_URL": "http://127.0.0.1:9", "USERS": "5", "TYPE": "stress"}


def is_scenario_file(path: Path) -> bool:
    """A top level of `scenarios:`, as the loader tells its files from the others."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:  # a template beside them, which the loader skips too
        return False
    return isinstance(document, dict) and "scenarios" in document


def shipped_files() -> list[Path]:
    candidates = [
        *sorted((ROOT / "scenarios").glob("*.yaml")),
        *sorted((ROOT / "examples").rglob("*.y*ml")),
        *sorted((ROOT / "perfrun" / "examples").rglob("*.y*ml")),  # the starter files
    ]
    return [path for path in candidates if is_scenario_file(path)]


# A whole scenario file in the docs: a ```yaml block whose first key is `scenarios:`
# (comment lines, such as the yaml-language-server line, may come first).
_DOC_BLOCK = re.compile(r"```yaml\n((?:#[^\n]*\n)*scenarios:\n.*?)```", re.S)
DOC_BLOCKS = [
    (f"{page.name}#{index}", block)
    for page in (ROOT / "docs" / "scenarios.md", ROOT / "README.md")
    for index, block in enumerate(_DOC_BLOCK.findall(page.read_text(encoding="utf-8")))
]


def problems(document: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


# --- the schema itself ------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] and SCHEMA["title"]


def test_schema_is_json_and_each_call_a_new_copy() -> None:
    text = json.dumps(scenario_schema(), indent=2)
    assert json.loads(text) == SCHEMA
    mine = scenario_schema()
    mine["$defs"]["load"]["properties"].clear()
    assert scenario_schema()["$defs"]["load"]["properties"]


# --- every shipped file validates -------------------------------------------------------


def test_shipped_scenario_files_are_found() -> None:
    names = {path.name for path in shipped_files()}
    assert {"health.yaml", "journey.yaml", "projects.yaml", "workflow.yaml"} <= names
    assert len(DOC_BLOCKS) >= 4  # the smallest, the complete one, the journey, the README's


@pytest.mark.parametrize("path", shipped_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_shipped_scenario_file_validates(path: Path) -> None:
    assert problems(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("block", [b for _, b in DOC_BLOCKS], ids=[n for n, _ in DOC_BLOCKS])
def test_every_scenario_file_in_the_docs_validates(block: str) -> None:
    assert problems(yaml.safe_load(block)) == []


# --- what the loader accepts, the schema accepts; what it refuses, the schema refuses ---

BASE = """\
scenarios:
  s:
    requests:
      - path: /health
    load:
      users: 2
      requests_per_user: 3
"""
FLOW = """\
scenarios:
  s:
    flow:
      - name: login
        once: true
        method: post
        path: /login
        json: {user: ada}
        capture:
          token: {json: token}
          code: {status: true}
      - path: /items/{{ token }}
        auth: {bearer: "{{ token }}"}
        think_time: 100ms
    load: {users: 2, iterations: 3}
"""


def edited(old: str, new: str, base: str = BASE) -> str:
    assert base.count(old) == 1, old
    return base.replace(old, new)


def key(text: str) -> str:
    """BASE with a scenario key (a line, indented like one)."""
    return edited("    requests:", f"    {text}\n    requests:")


def request(fields: str) -> str:
    """BASE with its request's fields besides the path."""
    return edited("- path: /health", f"- {{path: /health, {fields}}}")


def load(fields: str) -> str:
    """BASE with another load."""
    return edited(
        "    load:\n      users: 2\n      requests_per_user: 3", f"    load: {{{fields}}}"
    )


def limits(fields: str) -> str:
    return key(f"thresholds: {{{fields}}}")


def step(old: str, new: str) -> str:
    return edited(old, new, FLOW)


VALID = {
    "the smallest": BASE,
    "a flow": FLOW,
    "words in any case": key("type: STRESS\n    severity: High\n    engine: HTTPX"),
    "a method in any case": request("method: delete"),
    "null means the default": key("description: null\n    type: null\n    cookies: null"),
    "json: null beside a body": request("json: null, body: hi"),
    "a number as ${VAR}": load('users: "${USERS}", requests_per_user: 3'),
    "a word as ${VAR}": key("type: ${TYPE}"),
    "a url as ${VAR:-default}": key("base_url: ${PERFRUN_BASE_URL:-demo}"),
    "a path with a variable in it": edited("/health", "/${NOPE:-health}"),
    "durations: numbers and text": load(
        "users: 2, duration: 1m30s, ramp_up: 2, think_time: 0.5, timeout: 500ms, warmup: 10S"
    ),
    "rate stages": load(
        "stages: [{duration: 5s, rate: 20/s}, {duration: 1s, rate: 0}], start_rate: 1200/m, "
        "arrival: poisson, max_in_flight: 10"
    ),
    "users stages": load(
        "stages: [{duration: 5s, users: 4}, {duration: 1s, users: 0}], start_users: 1"
    ),
    "a constant rate": load("rate: 300, duration: 5"),
    "leak cycles": load("users: 2, requests_per_user: 3, cycles: 3, rest: 1s"),
    "thresholds: numbers and tiers": limits(
        "max_p95_response_ms: 500, min_rps: {limit: 10, warn: 50}, "
        "max_error_rate: {limit: 5, warn: null, over: 10s, abort: true}, "
        "max_max_response_ms: {limit: 900, abort: true}, "
        "max_memory_mb: {limit: 800, abort: true}, "
        "per_request: {GET /health: {max_p95_response_ms: {limit: 300, warn: 100}}}"
    ),
    "thresholds: none in any case": key("thresholds: None"),
    "checks in every form": request(
        "expect_status: [200, 204], expect_body_contains: [ok, fine], "
        "expect_json: {status: ok, items.0.id: 1}, expect_header: {x-id: null, x-count: 5}, "
        "headers: {X-Count: 5}"
    ),
    "regression: percent or number": key("regression: {p95: 5%, rps: 20}"),
    "a launched target": key(
        "target: {command: [python, -m, http.server, '{port}', 5], env: {A: b, N: 1}, "
        "ready: {http: /health, timeout: 5s}, stop: {signal: int, grace: 0}, scope: Scenario}"
    ),
    "a command line as text": key("target: {command: 'sleep 1'}"),
    "monitor, auth, tls, http2": key(
        "monitor: {process: uvicorn, interval: 1s}\n    auth: {basic: [ada, '']}\n"
        "    tls: {verify: false}\n    http2: true\n    max_redirects: 0"
    ),
}

INVALID = {
    "an unknown top-level key": "x: 1\n" + BASE,
    "an unknown scenario key": key("lod: {}"),
    "an unknown request key": request("header: {}"),
    "an unknown load key": load("user: 2, requests_per_user: 3"),
    "weight in a flow step": step("path: /login", "path: /login\n        weight: 2"),
    "a bad scenario name": edited("  s:", "  s s:"),
    "no load": edited("    load:\n      users: 2\n      requests_per_user: 3\n", ""),
    "neither requests nor flow": edited("    requests:\n      - path: /health\n", ""),
    "both requests and flow": key("flow: [{path: /x}]"),
    "no path": edited("- path: /health", "- name: x"),
    "a path without /": edited("/health", "health"),
    "a wrong type word": key("type: soak"),
    "a wrong severity": key("severity: urgent"),
    "a wrong engine": key("engine: curl"),
    "a wrong method": request("method: FETCH"),
    "a wrong arrival": load("rate: 5, duration: 5, arrival: burst"),
    "a wrong data order": key("data: {file: rows.csv, order: shuffled}"),
    "a wrong capture source": step("{json: token}", "{body: token}"),
    "two capture sources": step("{json: token}", "{json: token, header: X}"),
    "a status capture not true": step("{status: true}", "{status: 200}"),
    "a bad capture name": step("token: {json", "1token: {json"),
    "a wrong target scope": key("target: {command: x, scope: forever}"),
    "users as text": load("users: two, requests_per_user: 3"),
    "users 0": load("users: 0, requests_per_user: 3"),
    "a bool for a count": load("users: 2, requests_per_user: true"),
    "a bad duration": load("users: 2, duration: soon"),
    "a negative duration": load("users: 2, duration: -5s"),
    "a zero duration": load("users: 2, duration: 0s"),
    "a zero rate": load("rate: 0/s, duration: 5"),
    "a bad rate": load("rate: fast, duration: 5"),
    "an unknown stage key": load("stages: [{duration: 5s, user: 2}]"),
    "users and rate in a stage": load("stages: [{duration: 5s, users: 2, rate: 3}]"),
    "a stage without duration": load("stages: [{users: 2}]"),
    "rate and stages": load("rate: 5, stages: [{duration: 5s, rate: 2}]"),
    "requests_per_user and duration": load("users: 2, requests_per_user: 3, duration: 5s"),
    "users with a rate": load("rate: 5, duration: 5, users: 2"),
    "a rate without duration": load("rate: 5"),
    "arrival with users": load("users: 2, duration: 5, arrival: poisson"),
    "a closed load without users": load("duration: 5"),
    "duration with stages": load("stages: [{duration: 5s, rate: 2}], duration: 5s"),
    "start_rate without stages": load("rate: 5, duration: 5, start_rate: 1"),
    "a status out of range": request("expect_status: 700"),
    "an empty status list": request("expect_status: []"),
    "a weight of 0": request("weight: 0"),
    "json and body": request("json: {}, body: x"),
    "a duplicate text check": request("expect_body_contains: [a, a]"),
    "an empty expect_json": request("expect_json: {}"),
    "a bad expect_json path": request("expect_json: {a..b: 1}"),
    "a list of headers": request("headers: [a]"),
    "a bool header value": request("headers: {X-A: true}"),
    "an empty header name": request("expect_header: {'': x}"),
    "an unknown threshold": limits("max_p42_ms: 1"),
    "an empty thresholds": key("thresholds: {}"),
    "thresholds as another word": key("thresholds: all"),
    "a percentage above 100": limits("min_success_rate: 101"),
    "a tier without limit": limits("min_rps: {warn: 5}"),
    "an unknown tier key": limits("min_rps: {limit: 5, max: 9}"),
    "abort without over": limits("min_rps: {limit: 5, abort: true}"),
    "over on a resource": limits("max_cpu_percent: {limit: 5, over: 5s}"),
    "abort as text": limits("max_memory_mb: {limit: 5, abort: yes please}"),
    "a resource per request": limits("per_request: {GET /health: {max_memory_mb: 5}}"),
    "over per request": limits("per_request: {GET /health: {min_rps: {limit: 1, over: 5s}}}"),
    "an unknown regression metric": key("regression: {p42: 5%}"),
    "a bad regression tolerance": key("regression: {p95: lots}"),
    "a negative regression tolerance": key("regression: {p95: -5}"),
    "pid and process": key("monitor: {pid: 1, process: x}"),
    "an unknown monitor key": key("monitor: {name: x}"),
    "auth with both kinds": key("auth: {bearer: t, basic: [a, b]}"),
    "basic auth of one": key("auth: {basic: [a]}"),
    "an unknown tls key": key("tls: {verify: false, pin: x}"),
    "http2 as text": key("http2: sometimes"),
    "target without command": key("target: {scope: run}"),
    "ready with two kinds": key("target: {command: x, ready: {http: /h, tcp: true}}"),
    "ready tcp false": key("target: {command: x, ready: {tcp: false}}"),
    "scenarios as a list": "scenarios: [a]\n",
}


def loads(tmp_path: Path, text: str) -> bool:
    (tmp_path / "rows.csv").write_text("user\nada\nbob\n", encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    try:
        load_file(path, ENVIRON)
    except ScenarioError:
        return False
    return True


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_what_the_loader_accepts_validates(tmp_path: Path, text: str) -> None:
    assert loads(tmp_path, text), "the loader must accept it for the case to mean anything"
    assert problems(yaml.safe_load(text)) == []


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_what_the_loader_refuses_the_schema_refuses(tmp_path: Path, text: str) -> None:
    assert not loads(tmp_path, text), "the loader must refuse it for the case to mean anything"
    assert problems(yaml.safe_load(text))


# A well-typed value for each load key, so that a refusal below is the shape's.
LOAD_VALUES = {
    "users": "2", "requests_per_user": "2", "duration": "5s", "ramp_up": "1s",
    "think_time": "1s", "start_users": "1", "start_rate": "1", "max_in_flight": "5",
    "arrival": "poisson", "iterations": "2",
}  # fmt: skip
SHAPES = {
    "rate": ("rate: 5, duration: 5", (*_load._CLOSED_ONLY, "start_rate", "iterations")),
    "stages": ("stages: [{duration: 5s, rate: 2}]", tuple(_load._NOT_WITH_STAGES)),
    "users": ("users: 2, duration: 5", (*_load._OPEN_ONLY, "start_users", "start_rate")),
}
SHAPE_CASES = [(shape, key) for shape, (_, keys) in SHAPES.items() for key in keys]


@pytest.mark.parametrize(("shape", "key"), SHAPE_CASES, ids=[f"{s}-{k}" for s, k in SHAPE_CASES])
def test_a_key_of_another_load_shape_is_refused(tmp_path: Path, shape: str, key: str) -> None:
    """The loader's own lists of which keys a shape refuses, each tried on the schema."""
    fields, _ = SHAPES[shape]
    text = load(f"{fields}, {key}: {LOAD_VALUES[key]}")
    assert not loads(tmp_path, text)
    assert problems(yaml.safe_load(text))


# --- value forms: the schema's patterns against units.py's own parsers -----------------

DURATIONS = [
    "30s", "1m30s", " 2H ", "500ms", "1.5s", ".5s", "1h30m", "0", "0s", "0.0s", "0ms", "10",
    "0.25", 0, 0.5, 30, "soon", "-5s", "5 s", "1d", "", "s", "1.s", "1m 30s", -1, True, None,
]  # fmt: skip
RATES = [
    "300", "300/s", "18000/m", "100/h", " 5 / S ", "2.5", "0", "0/s", "0.0/m", 0, 4.5,
    "fast", "-5", "5/d", "1e3", "", "/s", -2, True, None,
]  # fmt: skip


def parses(parse: Any, value: Any, positive: bool) -> bool:
    try:
        return parse(value) > 0 or not positive
    except ValueError:
        return False


def definition(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{name}"})


@pytest.mark.parametrize("positive", [False, True], ids=["duration", "positive_duration"])
def test_durations_pass_the_schema_exactly_when_the_loader_reads_them(positive: bool) -> None:
    schema_says = definition("positive_duration" if positive else "duration").is_valid
    for value in DURATIONS:
        assert schema_says(value) == parses(parse_duration, value, positive), repr(value)
    assert schema_says("${RUN_FOR:-30s}")  # read when the file loads


@pytest.mark.parametrize("positive", [False, True], ids=["rate", "positive_rate"])
def test_rates_pass_the_schema_exactly_when_the_loader_reads_them(positive: bool) -> None:
    schema_says = definition("positive_rate" if positive else "rate").is_valid
    for value in RATES:
        assert schema_says(value) == parses(parse_rate, value, positive), repr(value)
    assert schema_says("${RATE}")


# --- one declaration --------------------------------------------------------------------


def rendered(section: Section) -> dict[str, Any]:
    return SCHEMA if section is schema.FILE else SCHEMA["$defs"][section.name]


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.name)
def test_each_section_is_in_the_schema_with_its_keys(section: Section) -> None:
    shown = rendered(section)
    assert list(shown["properties"]) == list(section.allowed)
    assert shown["additionalProperties"] is False
    assert shown.get("required", []) == list(section.required)


def _calls(function: str, index: int) -> list[tuple[str, str]]:
    """(module, keys expression) of every `function(...)` call in the scenario package,
    its keys the argument at `index`: `mapping(value, loc, KEYS)` decides which keys the
    loader allows, `require(fields, KEYS, loc)` which it needs."""
    calls: list[tuple[str, str]] = []
    for path in sorted((ROOT / "perfrun" / "scenario").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == function
                and len(node.args) == 3
            ):
                keys = node.args[index]
                # `_STEP_KEYS if step else _REQUEST_KEYS`: each branch is a key set.
                branches = [keys.body, keys.orelse] if isinstance(keys, ast.IfExp) else [keys]
                calls.extend((f"perfrun.scenario.{path.stem}", ast.unparse(b)) for b in branches)
    return calls


def evaluated(module: str, keys: str) -> Any:
    """The keys a call names, as its module holds them."""
    try:
        return eval(keys, vars(importlib.import_module(module)))
    except NameError:  # a local: not a declaration this test can see
        pytest.fail(f"{module}: {keys}: declare the keys as a section in schema.py")


MAPPING_CALLS = _calls("mapping", 2)
REQUIRE_CALLS = _calls("require", 1)


@pytest.mark.parametrize(("module", "keys"), MAPPING_CALLS, ids=[k for _, k in MAPPING_CALLS])
def test_every_key_set_the_loader_allows_is_a_declared_section(module: str, keys: str) -> None:
    """A key allowed anywhere but in schema.py's sections (a literal tuple, a local)
    would be missing from the schema: each call's keys are exactly a section's."""
    assert evaluated(module, keys) in [section.allowed for section in SECTIONS]


def test_every_section_is_one_the_loader_reads() -> None:
    read = {evaluated(module, keys) for module, keys in MAPPING_CALLS}
    assert read == {section.allowed for section in SECTIONS}


@pytest.mark.parametrize(("module", "keys"), REQUIRE_CALLS, ids=[k for _, k in REQUIRE_CALLS])
def test_every_key_the_loader_requires_is_required_in_the_schema(module: str, keys: str) -> None:
    assert evaluated(module, keys) in [section.required for section in SECTIONS if section.required]


@pytest.mark.parametrize(
    ("where", "words"),
    [
        (("scenario", "type"), ScenarioType),
        (("scenario", "severity"), Severity),
        (("scenario", "engine"), EngineChoice),
        (("load", "arrival"), Arrival),
        (("data", "order"), Order),
        (("target", "scope"), TargetScope),
    ],
)
def test_vocabularies_come_from_the_models_enums(where: tuple[str, str], words: Any) -> None:
    section, key = where
    alternatives = SCHEMA["$defs"][section]["properties"][key]["anyOf"]
    assert alternatives[0]["enum"] == [str(word.value) for word in words]


def test_capture_thresholds_and_regression_keys_come_from_their_registries() -> None:
    definitions = SCHEMA["$defs"]
    assert list(definitions["capture"]["properties"]) == [source.value for source in Source]
    assert list(definitions["thresholds"]["properties"]) == [*BY_THRESHOLD, "per_request"]
    assert list(definitions["request_thresholds"]["properties"]) == list(BY_THRESHOLD)
    assert list(definitions["regression"]["properties"]) == list(COMPARED)
