"""Running a scenario file in this process, the way the runner runs one, for tests that
read the measured stats rather than the CLI's report."""

from __future__ import annotations

from pathlib import Path

from perfrun.engine.factory import EngineRecipe
from perfrun.execution.drive import drive
from perfrun.metrics.stats import ScenarioStats
from perfrun.scenario.loader import load_file


def run_scenario_file(path: Path, engine: str) -> ScenarioStats:
    """Load the file's one scenario and drive it on `engine` ("fast" or "httpx") with the
    recipe the runner builds (its TLS, HTTP/2, timeout and requests); its stats."""
    (scenario,) = load_file(path, {})
    stats = ScenarioStats.for_load(scenario.load)
    recipe = EngineRecipe.for_scenario(engine, scenario.base_url, scenario)
    assert not drive(scenario, recipe, stats, signals=()), "interrupted"
    return stats
