"""Generated scenario files against the loader: whatever a file holds, loading it gives
scenarios or a ScenarioError / UsageError (exit 2), never another exception, never a hang
(the hypothesis deadline), and never memory beyond the limits' (issue 14).

Three sources of files: random YAML documents; valid scenario files mutated (keys dropped
or renamed, values replaced by random scalars, containers, huge numbers, strings with
control characters, deep nesting, shared values that YAML writes as aliases); and the
text of valid files mutated character-wise. A smaller property runs `perfrun --list` on
generated files in-process: exit 0 or 2, no traceback.

The number of examples comes from the hypothesis profile (tests/conftest.py): `ci` by
default, `HYPOTHESIS_PROFILE=long` for a longer search.
"""

from __future__ import annotations

import copy
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfrun.cli import cli
from perfrun.errors import ScenarioError, UsageError
from perfrun.scenario._yaml import read_text
from perfrun.scenario.limits import Limits
from perfrun.scenario.loader import scenarios_of

# Lower bounds than the defaults keep each example fast; the properties are the same.
ENVIRON = {
    "PERFRUN_MAX_ALIAS_NODES": "20000",
    "PERFRUN_MAX_BODY_BYTES": "100000",
    "PERFRUN_MAX_STAGES": "1000",
    "HOST": "127.0.0.1",
}
LIMITS = Limits.read(ENVIRON)
PEAK_BYTES = 64 * 1024 * 1024
"""What loading one generated file may allocate at most, with `LIMITS`."""

VALID: list[dict[str, Any]] = [
    {
        "scenarios": {
            "closed": {
                "description": "a mix",
                "base_url": "http://${HOST}:8080",
                "requests": [
                    {"path": "/health", "headers": {"X-A": "b"}, "expect_status": [200, 204]},
                    {"path": "/items", "method": "POST", "json": {"a": [1, 2.5, None]}},
                ],
                "load": {"users": 3, "duration": "2s", "ramp_up": "1s", "think_time": "10ms"},
                "thresholds": {"max_p95_response_ms": 200, "max_error_rate": 1},
            }
        }
    },
    {
        "scenarios": {
            "open": {
                "requests": [{"path": "/x", "body": "text", "weight": 2}],
                "load": {
                    "stages": [{"duration": "1s", "rate": 10}, {"duration": "1s", "rate": "60/m"}],
                    "max_in_flight": 50,
                    "arrival": "poisson",
                },
                "regression": {"p95": "5%"},
            }
        }
    },
    {
        "scenarios": {
            "journey": {
                "auth": {"bearer": "token"},
                "flow": [
                    {"name": "login", "path": "/login", "capture": {"id": {"json": "id"}}},
                    {"name": "get", "path": "/items/{{ id }}", "think_time": 0.1},
                ],
                "load": {"users": 2, "iterations": 3},
            }
        }
    },
]

# --- strategies -------------------------------------------------------------------------

HUGE = st.sampled_from([10**400, -(10**400), 2**64, float("inf"), float("-inf"), float("nan")])
CONTROL_TEXT = st.text(
    alphabet=st.sampled_from(["a", "/", "{", "}", "$", " ", "\r", "\n", "\0", "\x1b", ":", "é"]),
    max_size=20,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    HUGE,
    st.text(max_size=20),
    CONTROL_TEXT,
    st.sampled_from(["30s", "1m30s", "-1s", "300/s", "GET", "/path", "${HOST}", "{{ x }}", "demo"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in `node` (a key of a dict, an index of a list)."""
    if isinstance(node, dict):
        for key, item in node.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


def _nested(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


def _mutate(
    draw: st.DrawFn, document: Any, path: tuple[Any, ...], paths: list[tuple[Any, ...]],
    action: str,
) -> None:  # fmt: skip
    """`action` done in place at `path` of `document`."""
    parent, last = _parent(document, path), path[-1]
    if action == "drop":
        del parent[last]
    elif action == "rename" and isinstance(parent, dict):
        parent[draw(st.one_of(st.text(max_size=12), CONTROL_TEXT))] = parent.pop(last)
    elif action == "replace":
        parent[last] = draw(VALUES)
    elif action == "nest":
        depth = draw(st.sampled_from([5, 90, 101, 150, 1000]))
        parent[last] = _nested(parent[last], depth, draw(st.booleans()))
    elif action == "share":  # the same object twice: YAML writes an anchor and an alias
        other = draw(st.sampled_from(paths))
        _parent(document, other)[other[-1]] = parent[last]
    elif action == "bomb":  # levels of lists of the same list: aliases of aliases
        value: Any = ["x"] * draw(st.integers(1, 9))
        for _ in range(draw(st.integers(1, 9))):
            value = [value] * draw(st.integers(1, 9))
        parent[last] = value


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid scenario document with one to four mutations; one that nests or shares
    values is the last (the document is no longer a tree to walk)."""
    document = copy.deepcopy(draw(st.sampled_from(VALID)))
    action = ""
    for _ in range(draw(st.integers(1, 4))):
        if action in ("nest", "share", "bomb"):
            break
        paths = list(_paths(document))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["drop", "rename", "replace", "nest", "share", "bomb"]))
        _mutate(draw, document, path, paths, action)
    return document


def dumped(document: Any) -> str:
    """`document` as YAML text (anchors and aliases for shared values)."""
    try:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, RecursionError):  # a key YAML cannot write; too deep for the dumper
        return "scenarios: {}\n"


@st.composite
def text_mutated(draw: st.DrawFn) -> str:
    """A valid file's text with a slice replaced by characters YAML cares about."""
    text = dumped(draw(st.sampled_from(VALID)))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 10)))
    pieces = st.sampled_from([*"&*!<>|-:[]{},#'\"\\ \n\t\r\0?%@`", "&a ", "*a", "<<: "])
    inserted = "".join(draw(st.lists(pieces, max_size=8)))
    return text[:start] + inserted + text[end:]


FILES = st.one_of(
    mutated().map(dumped),
    VALUES.map(dumped),
    text_mutated(),
    st.text(max_size=200),
)

# --- the properties ---------------------------------------------------------------------

_DIRECTORY = Path(tempfile.mkdtemp(prefix="perfrun-fuzz-"))
ORIGIN = str(_DIRECTORY / "fuzz.yaml")  # a data or tls file it names is looked for here


def load(text: str) -> None:
    """Load `text` as a scenario file: scenarios, or ScenarioError / UsageError."""
    try:
        scenarios_of(ORIGIN, read_text(text, ORIGIN, LIMITS), ENVIRON, LIMITS)
    except (ScenarioError, UsageError) as exc:
        assert exc.exit_code == 2
        assert str(exc)


def test_the_valid_files_load() -> None:
    for document in VALID:
        assert scenarios_of(ORIGIN, read_text(dumped(document), ORIGIN), ENVIRON)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=FILES)
def test_a_generated_file_loads_or_is_refused_with_exit_2(text: str) -> None:
    load(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(document=mutated())
def test_a_mutated_scenario_file_loads_or_is_refused_with_exit_2(document: Any) -> None:
    load(dumped(document))


@settings(
    suppress_health_check=[HealthCheck.too_slow], max_examples=max(10, settings().max_examples // 5)
)
@given(document=mutated())
def test_loading_a_mutated_file_stays_within_bounded_memory(document: Any) -> None:
    text = dumped(document)
    tracemalloc.start()
    try:
        load(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES + 50 * len(text)


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    max_examples=max(10, settings().max_examples // 5),
)
@given(texts=st.lists(FILES, min_size=1, max_size=3))
def test_perfrun_list_exits_0_or_2_without_a_traceback(runner: CliRunner, texts: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="perfrun-fuzz-cli-") as directory:
        for index, text in enumerate(texts):
            (Path(directory) / f"f{index}.yaml").write_text(
                text, encoding="utf-8", errors="surrogatepass"
            )
        result = runner.invoke(cli, ["--list", "--scenarios-dir", directory], env=ENVIRON)
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
