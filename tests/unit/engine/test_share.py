"""A worker's share of a scenario: every n-th user or scheduled request, and its part of a
cap; the shares of all workers add up to the whole schedule. Pure: no process, no clock."""

from __future__ import annotations

import pytest

from perfrun.engine.pacer import Pacer, Positions
from perfrun.engine.profile import Profile
from perfrun.engine.share import Share
from perfrun.scenario.model import Arrival


@pytest.mark.parametrize(
    ("share", "total", "indices"),
    [
        (Share(0, 1), 5, [0, 1, 2, 3, 4]),
        (Share(0, 2), 5, [0, 2, 4]),
        (Share(1, 2), 5, [1, 3]),
        (Share(2, 3), 2, []),
    ],
)
def test_share_takes_every_nth_index(share: Share, total: int, indices: list[int]) -> None:
    assert list(share.indices(total)) == indices


@pytest.mark.parametrize(
    ("count", "limit", "cap"), [(1, 1000, 1000), (2, 1000, 500), (3, 10, 4), (4, 1, 1)]
)
def test_share_of_a_cap_is_at_least_one_and_covers_the_whole(
    count: int, limit: int, cap: int
) -> None:
    assert Share(0, count).cap(limit) == cap


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_uniform_schedule_split_over_workers_is_the_whole_schedule(workers: int) -> None:
    pacer = Pacer(Profile.constant(100.0, 2.0))
    due_times: list[float] = []
    for index in range(workers):
        positions = Positions(Arrival.UNIFORM, share=Share(index, workers))
        while (due := pacer.due(positions.current)) is not None:
            due_times.append(due)
            positions.advance()
    assert sorted(due_times) == pytest.approx([n / 100.0 for n in range(200)])
