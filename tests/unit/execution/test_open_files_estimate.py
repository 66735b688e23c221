"""How many connections a load holds at most, for the open-files check. Pure."""

from __future__ import annotations

import pytest

from perfrun.execution.limits import MARGIN, connections, needed
from perfrun.scenario.model import LoadModel, LoadSpec, Stage


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (LoadSpec(users=50, duration=10.0), 50),
        (LoadSpec(users=0, stages=(Stage(5.0, 20.0), Stage(5.0, 80.0), Stage(5.0, 0.0))), 80),
        # An open model: the peak rate times the timeout (Little's law), at most max_in_flight.
        (LoadSpec(model=LoadModel.OPEN, rate=10.0, duration=1.0, timeout=10.0), 100),
        (LoadSpec(model=LoadModel.OPEN, rate=500.0, duration=1.0, timeout=10.0), 1000),
        (
            LoadSpec(
                model=LoadModel.OPEN, rate=500.0, duration=1.0, timeout=10.0, max_in_flight=300
            ),
            300,
        ),
        (
            LoadSpec(
                model=LoadModel.OPEN,
                duration=3.0,
                timeout=2.0,
                stages=(Stage(1.0, 5.0), Stage(2.0, 40.0)),
            ),
            80,
        ),
        (LoadSpec(model=LoadModel.OPEN, rate=0.01, duration=1.0, timeout=1.0), 1),
    ],
)
def test_connections(load: LoadSpec, expected: int) -> None:
    assert connections(load) == expected


def test_workers_share_the_connections_and_each_keeps_a_margin() -> None:
    load = LoadSpec(users=1000, duration=1.0)
    assert needed(load, 1, held=10) == 1000 + MARGIN + 10
    assert needed(load, 4, held=10) == 250 + MARGIN  # a worker starts with few files
