"""The real engines' factory: what worker processes receive pickled and build from."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys

import pytest

from perfrun.engine.factory import EngineRecipe
from perfrun.engine.fast import FastEngine
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.scenario.model import LoadSpec, RequestSpec
from tests.support.scripted import scripted_scenario


@pytest.mark.parametrize("engine_type", [FastEngine, HttpxEngine])
def test_engine_recipe_survives_pickling_and_builds_the_named_engine(
    engine_type: type[FastEngine] | type[HttpxEngine],
) -> None:
    scenario = scripted_scenario(LoadSpec(users=1, timeout=2.5), RequestSpec(name="a", path="/a"))
    recipe = EngineRecipe.for_scenario(engine_type.name, "http://127.0.0.1:9", scenario)

    back = pickle.loads(pickle.dumps(recipe))  # as a spawned worker receives it
    assert back == recipe
    engine = back()  # builds only: no connection until a session sends
    assert isinstance(engine, engine_type)
    assert engine.timeout == 2.5
    asyncio.run(engine.aclose())


def test_building_the_fast_engine_imports_no_httpx() -> None:
    # A fresh interpreter: this one has imported httpx for other tests.
    code = (
        "import sys\n"
        "from perfrun.engine.factory import EngineRecipe\n"
        "from perfrun.scenario.model import RequestSpec\n"
        "EngineRecipe('fast', 'http://127.0.0.1:9', 1.0, (RequestSpec(name='a'),))()\n"
        "assert 'httpx' not in sys.modules and 'httpcore' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
