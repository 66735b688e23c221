"""drive runs a load model with the engine's own executors when it has them (the fast
engine's callbacks), else with the coroutine executors on its sessions."""

from __future__ import annotations

from perfrun.engine.executors import SessionLoads, load_runner
from perfrun.engine.fast import FastEngine
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.scenario.model import RequestSpec
from tests.support.scripted import ScriptedEngine

GET = (RequestSpec(name="get"),)


def test_the_fast_engine_runs_the_load_models_itself() -> None:
    engine = FastEngine("http://127.0.0.1:1", 1.0, GET)
    assert load_runner(engine) is engine


def test_other_engines_run_on_the_coroutine_executors() -> None:
    scripted = ScriptedEngine()
    runner = load_runner(scripted)
    assert isinstance(runner, SessionLoads) and runner.engine is scripted
    assert isinstance(load_runner(HttpxEngine("http://127.0.0.1:1", 1.0, GET)), SessionLoads)
