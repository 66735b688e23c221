"""The real engines' factory: what worker processes receive pickled and build from."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import subprocess
import sys

import pytest

from perfrun.engine.factory import EngineRecipe, choose_engine
from perfrun.engine.fast import FastEngine
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.errors import EXIT_USAGE, UsageError
from perfrun.scenario.model import EngineChoice, LoadSpec, RequestSpec
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


AUTO, FAST, HTTPX = EngineChoice.AUTO, EngineChoice.FAST, EngineChoice.HTTPX


@pytest.mark.parametrize(
    ("choice", "base_url", "http2", "engine"),
    [
        (AUTO, "http://127.0.0.1:9", False, "fast"),
        (AUTO, "https://127.0.0.1:9", False, "fast"),
        (AUTO, "scripted://", False, "httpx"),
        (AUTO, "http://127.0.0.1:9", True, "httpx"),
        (AUTO, "https://127.0.0.1:9", True, "httpx"),
        (HTTPX, "http://127.0.0.1:9", True, "httpx"),
        (HTTPX, "http://127.0.0.1:9", False, "httpx"),
        (FAST, "http://127.0.0.1:9", False, "fast"),
    ],
)
def test_auto_takes_the_fast_engine_unless_the_scenario_needs_http2(
    choice: EngineChoice, base_url: str, http2: bool, engine: str
) -> None:
    assert choose_engine(choice, base_url, http2) == engine


def test_the_fast_engine_for_http2_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="http2: true needs the httpx engine") as raised:
        choose_engine(FAST, "http://127.0.0.1:9", http2=True)
    assert raised.value.exit_code == EXIT_USAGE


def test_an_http2_scenario_builds_an_httpx_engine_that_speaks_http2() -> None:
    scenario = dataclasses.replace(
        scripted_scenario(LoadSpec(users=1)), base_url="http://127.0.0.1:9", http2=True
    )
    recipe = EngineRecipe.for_scenario("httpx", scenario.base_url, scenario)

    engine = pickle.loads(pickle.dumps(recipe))()
    assert isinstance(engine, HttpxEngine)
    assert engine.http2
    asyncio.run(engine.aclose())
    plain = EngineRecipe.for_scenario("httpx", scenario.base_url, scripted_scenario(LoadSpec()))()
    assert isinstance(plain, HttpxEngine)
    assert not plain.http2
