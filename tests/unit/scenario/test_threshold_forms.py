"""The `thresholds:` forms: tiers, windows, abort, per_request, defaults and `none`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from perfrun.errors import ScenarioError
from perfrun.scenario.loader import load_file
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import (
    DEFAULT_THRESHOLDS,
    ScenarioType,
    Threshold,
    default_thresholds,
)

HEAD = """\
scenarios:
  shop:
    type: {type}
    severity: medium
    flow:
      - {{name: login, method: POST, path: /login}}
      - {{name: items, path: /items}}
    load: {{users: 2, iterations: 3}}
"""


def load(tmp_path: Path, thresholds: str | None, kind: str = "load") -> tuple[Threshold, ...]:
    text = HEAD.format(type=kind)
    if thresholds is not None:
        text += "    thresholds:" + textwrap.indent(textwrap.dedent(thresholds), "      ")
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    (scenario,) = load_file(path, {})
    return scenario.thresholds


def error(tmp_path: Path, thresholds: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, thresholds)
    assert caught.value.exit_code == 2
    return str(caught.value)


def p95(**options: object) -> Threshold:
    return Threshold("max_p95_response_ms", "latency_p95_ms", Bound.MAX, 500.0, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("\nmax_p95_response_ms: 500\n", p95()),
        ("\nmax_p95_response_ms: {limit: 500}\n", p95()),
        ("\nmax_p95_response_ms: {limit: 500, warn: 300}\n", p95(warn=300.0)),
        ("\nmax_p95_response_ms: {limit: 500, over: 10s}\n", p95(over=10.0)),
        (
            "\nmax_p95_response_ms: {limit: 500, over: 1m, abort: true}\n",
            p95(over=60.0, abort=True),
        ),
        (
            "\nmax_p95_response_ms: {limit: 500, abort: true, over: 2s}\n",
            p95(over=2.0, abort=True),
        ),
        (
            "\nper_request: {login: {max_p95_response_ms: 500}}\n",
            p95(request="login"),
        ),
        (
            "\nper_request: {items: {max_p95_response_ms: {limit: 500, warn: 200}}}\n",
            p95(request="items", warn=200.0),
        ),
    ],
)
def test_threshold_forms_load_into_thresholds(
    tmp_path: Path, written: str, expected: Threshold
) -> None:
    assert load(tmp_path, written) == (expected,)


def test_min_threshold_warns_above_its_limit(tmp_path: Path) -> None:
    (rps,) = load(tmp_path, "\nmin_rps: {limit: 10, warn: 50}\n")
    assert (rps.bound, rps.limit, rps.warn) == (Bound.MIN, 10.0, 50.0)
    assert rps.beyond(9.9, rps.limit) and not rps.beyond(10.0, rps.limit)
    assert rps.beyond(49.0, 50.0) and not rps.beyond(51.0, 50.0)


@pytest.mark.parametrize("kind", list(ScenarioType))
def test_no_thresholds_key_gives_the_types_defaults(tmp_path: Path, kind: ScenarioType) -> None:
    thresholds = load(tmp_path, None, kind.value)
    assert thresholds == default_thresholds(kind)
    assert all(t.default for t in thresholds)
    assert {t.key: t.limit for t in thresholds} == dict(DEFAULT_THRESHOLDS[kind])


def test_the_defaults_table_is_the_issues() -> None:
    table = {k: tuple(limit for _, limit in v) for k, v in DEFAULT_THRESHOLDS.items()}
    assert table == {
        ScenarioType.LOAD: (1000, 10, 95),
        ScenarioType.STRESS: (2000, 5, 90),
        ScenarioType.SPIKE: (3000, 2, 80),
        ScenarioType.VOLUME: (2000, 5, 90),
        ScenarioType.ENDURANCE: (1500, 8, 95),
        ScenarioType.MEMORY: (1000, 10, 95),
        ScenarioType.CPU: (1000, 10, 95),
    }


def test_thresholds_none_judges_nothing(tmp_path: Path) -> None:
    assert load(tmp_path, " none\n") == ()


@pytest.mark.parametrize(
    ("written", "where", "problem"),
    [
        (" {}\n", "shop -> thresholds", "is empty: set limits, or `thresholds: none`"),
        (
            "\nmax_p95_response_ms: {limit: 500, warn: 600}\n",
            "max_p95_response_ms -> warn",
            "must be below the limit 500, got 600",
        ),
        (
            "\nmin_rps: {limit: 10, warn: 5}\n",
            "min_rps -> warn",
            "must be above the limit 10, got 5",
        ),
        (
            "\nmax_p95_response_ms: {warn: 5}\n",
            "max_p95_response_ms",
            "missing required key 'limit'",
        ),
        (
            "\nmax_p95_response_ms: {limit: 5, over: 1500ms}\n",
            "max_p95_response_ms -> over",
            "must be whole seconds, at least 1s",
        ),
        (
            "\nmax_p95_response_ms: {limit: 5, abort: true}\n",
            "max_p95_response_ms -> abort",
            "needs `over`: the window the threshold is judged on while the load runs (only "
            "a peak, such as max_max_response_ms or max_memory_mb, needs none)",
        ),
        (
            "\nmax_p95_response_ms: {limit: 5, over: 5s, abort: yes please}\n",
            "max_p95_response_ms -> abort",
            "must be true or false",
        ),
        (
            "\nmax_memory_mb: {limit: 500, over: 5s}\n",
            "max_memory_mb -> over",
            "windows are judged on the timeline's latency and request counts",
        ),
        (
            "\nmax_error_rate: {limit: 5, warn: 101}\n",
            "max_error_rate -> warn",
            "is a percentage",
        ),
        (
            "\nper_request: {logn: {max_p95_response_ms: 300}}\n",
            "thresholds -> per_request",
            "no request named 'logn'; this scenario's requests: login, items",
        ),
        (
            "\nper_request: {login: {max_cpu_percent: 30}}\n",
            "login -> max_cpu_percent",
            "is not measured per request",
        ),
        (
            "\nper_request: {login: {max_p95_response_ms: {limit: 3, over: 5s}}}\n",
            "login -> max_p95_response_ms",
            "over and abort judge the whole scenario, not one request",
        ),
    ],
)
def test_bad_thresholds_are_named_with_their_place(
    tmp_path: Path, written: str, where: str, problem: str
) -> None:
    message = error(tmp_path, written)
    assert "a.yaml:" in message
    assert where in message
    assert problem in message


@pytest.mark.parametrize("key", ["max_max_response_ms", "max_memory_mb"])
def test_a_peak_may_abort_without_a_window(tmp_path: Path, key: str) -> None:
    (threshold,) = load(tmp_path, f"\n{key}: {{limit: 800, abort: true}}\n")
    assert threshold.abort and threshold.over is None
