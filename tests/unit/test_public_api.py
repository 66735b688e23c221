"""perfrun's public names: pinned, so that removing or renaming one is a decision."""

from __future__ import annotations

import subprocess
import sys

import perfrun

PUBLIC = [
    "PerfrunError",
    "RunReport",
    "Scenario",
    "ScenarioError",
    "UsageError",
    "__version__",
    "run",
]


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert sorted(perfrun.__all__) == PUBLIC
    for name in perfrun.__all__:
        assert getattr(perfrun, name) is not None


def test_importing_perfrun_imports_no_run_module() -> None:
    code = "import sys, perfrun; print(sorted(m for m in sys.modules if m.startswith('perfrun')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['perfrun']"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        perfrun.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("perfrun.no_such_name resolved")
