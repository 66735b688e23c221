"""The demo target's pure parts: the project store and the seed projects, without a server.

Its endpoints are tested through the real process on 127.0.0.1 in
tests/integration/test_demo.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from perfrun.demo.app import ProjectStore, seed_project


def test_store_keeps_only_the_newest_created_projects() -> None:
    store = ProjectStore(seed_count=2, max_created=3)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [store.create(f"p{i}", "ada", "active", [], now)[0] for i in range(5)]
    assert ids == [3, 4, 5, 6, 7]
    assert store.total == 5
    assert store.get(3) is None
    assert store.get(4) is None
    listed = json.loads(store.page(limit=10, offset=1))
    assert [item["id"] for item in listed["items"]] == [2, 5, 6, 7]


def test_seed_projects_are_a_pure_function_of_the_id() -> None:
    assert seed_project(42) == seed_project(42)
    assert seed_project(1)["created_at"] == "2024-01-01T07:00:00Z"
