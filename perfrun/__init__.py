"""perfrun: load testing for HTTP services.

From Python: `perfrun.run(...)` (see `perfrun.api`) returns the judged `RunReport`. The
names below are imported on first use, so that `import perfrun` (and `perfrun --version`)
stays instant. Their types are in `__init__.pyi` (for mypy and editors).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "PerfrunError",
    "RunReport",
    "Scenario",
    "ScenarioError",
    "UsageError",
    "__version__",
    "run",
]

_HOMES = {
    "run": "perfrun.api",
    "PerfrunError": "perfrun.errors",
    "ScenarioError": "perfrun.errors",
    "UsageError": "perfrun.errors",
    "RunReport": "perfrun.report.model",
    "Scenario": "perfrun.scenario.model",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'perfrun' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
