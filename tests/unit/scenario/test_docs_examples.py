"""The scenario examples of docs/scenarios.md load as written: a user copies them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfrun.scenario.loader import load_file

DOC = Path(__file__).parents[3] / "docs" / "scenarios.md"
BLOCKS = re.findall(r"```yaml\n(scenarios:\n.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_scenario_examples() -> None:
    assert len(BLOCKS) >= 2  # the complete scenario and the journey


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_each_scenario_example_loads(tmp_path: Path, block: str) -> None:
    """Data files an example names are made empty-but-valid beside it (one row per user
    it may need), so the example itself is what is checked."""
    for name in re.findall(r"file: ([\w./-]+\.csv)", block):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("user,password\n" + "".join(f"u{i},p{i}\n" for i in range(100)))
    scenario_file = tmp_path / "example.yaml"
    scenario_file.write_text(block, encoding="utf-8")
    assert load_file(scenario_file, {"PERFRUN_BASE_URL": "http://127.0.0.1:9"})
