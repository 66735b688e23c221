# The types of perfrun's lazily imported public names (see __init__.py).
from perfrun.api import run as run
from perfrun.errors import PerfrunError as PerfrunError
from perfrun.errors import ScenarioError as ScenarioError
from perfrun.errors import UsageError as UsageError
from perfrun.report.model import RunReport as RunReport
from perfrun.scenario.model import Scenario as Scenario

__version__: str
__all__ = [
    "PerfrunError", "RunReport", "Scenario", "ScenarioError", "UsageError", "__version__", "run",
]  # fmt: skip
