"""The selection with load options over it (`--users`, `--rate` …; the Python API's
`users=`): every selected scenario gets the option, and its source is read once for all
of them, not once per scenario (200 scenarios of a 2,000-scenario file took 21 s read
one by one). Files in a temporary directory; the reads are counted, not timed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from perfrun import app
from perfrun.app import Selection, select
from perfrun.scenario import loader
from perfrun.scenario.loader import LoadOverrides

COUNT = 300


def _document() -> dict[str, Any]:
    return {
        "scenarios": {
            f"s{i}": {
                "type": "load",
                "severity": "low",
                "base_url": "http://127.0.0.1:8000",
                "requests": [{"name": "root", "path": f"/{i}"}],
                "load": {"users": 1 + i % 7, "duration": "1s"},
            }
            for i in range(COUNT)
        }
    }


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_load_options_over_a_files_scenarios_read_it_once_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "many.yaml").write_text(yaml.safe_dump(_document()))
    reads = _counting(monkeypatch, loader, "read_yaml")
    chosen = select(Selection(directory=tmp_path, load=LoadOverrides(users=3)))
    assert len(chosen) == COUNT
    assert {s.load.users for s in chosen} == {3}
    assert sorted(s.name for s in chosen) == sorted(f"s{i}" for i in range(COUNT))
    assert len(reads) == 2  # the selection, then the overrides: not 1 + COUNT


def test_load_options_over_a_document_read_it_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _counting(monkeypatch, app, "scenarios_from_dict")
    chosen = select(Selection(document=_document(), load=LoadOverrides(users=3)))
    assert len(chosen) == COUNT
    assert {s.load.users for s in chosen} == {3}
    assert len(reads) == 2
