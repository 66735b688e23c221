"""A request HTTP/1.1 cannot carry is never sent: it fails as `invalid_request`, on both
engines and under every load model, and the others go out as usual.

The loader refuses such a static request; these build one by hand (defence in depth).
The target counts what reached it (`--arrival-stats`), so "not sent" is measured on the
server, not taken from the client's word. (Rendered values: see
tests/integration/test_conformance_flows.py.)
"""

from __future__ import annotations

import re

import pytest

from perfrun.engine.factory import EngineRecipe
from perfrun.execution.drive import drive
from perfrun.metrics.result import ErrorKind
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.model import (
    EngineChoice,
    LoadModel,
    LoadSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
)
from tests.servers.launch import start_target

BAD_HEADER = RequestSpec(name="bad_header", headers={"X-Bad": "a\r\nX-Injected: 1"})
BAD_PATH = RequestSpec(name="bad_path", path="/a\x00b")
GOOD = RequestSpec(name="good", path="/good")


def run(engine: str, load: LoadSpec) -> tuple[ScenarioStats, int]:
    """The load on `engine` against a target that counts requests: the stats, and the
    requests that reached the target."""
    requests = (BAD_HEADER, BAD_PATH, GOOD)
    with start_target("--arrival-stats") as target:
        scenario = Scenario("invalid", ScenarioType.LOAD, Severity.LOW, target.url, requests,
                            load, engine=EngineChoice(engine))  # fmt: skip
        stats = ScenarioStats.for_load(load)
        recipe = EngineRecipe(engine, target.url, load.timeout, requests)
        assert not drive(scenario, recipe, stats, signals=())
        target.stop()
        arrived = re.search(r"REQUESTS (\d+)", target.stderr_text())
    assert arrived is not None
    return stats, int(arrived.group(1))


@pytest.mark.parametrize("engine", ["fast", "httpx"])
@pytest.mark.parametrize(
    "load",
    [
        LoadSpec(users=3, requests_per_user=30),
        LoadSpec(model=LoadModel.OPEN, rate=200, duration=0.5),
    ],
    ids=["closed", "open"],
)
def test_a_request_http_cannot_carry_fails_unsent_and_the_others_go_out(
    engine: str, load: LoadSpec
) -> None:
    stats, arrived = run(engine, load)

    bad_header, bad_path = stats.endpoints["bad_header"], stats.endpoints["bad_path"]
    good = stats.endpoints["good"]
    assert bad_header.total > 0 and bad_path.total > 0 and good.total > 0
    for endpoint in (bad_header, bad_path):
        assert endpoint.errors == {ErrorKind.INVALID_REQUEST.value: endpoint.total}
    assert good.succeeded == good.total
    assert arrived == good.total  # nothing of the invalid ones reached the target
