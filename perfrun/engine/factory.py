"""Which engine runs a scenario, and building it: the one place engines are chosen."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from perfrun.engine.base import Engine
from perfrun.engine.fast import FastEngine
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.scenario.model import EngineChoice, RequestSpec, Scenario

ENGINES: dict[str, type[FastEngine] | type[HttpxEngine]] = {
    FastEngine.name: FastEngine,
    HttpxEngine.name: HttpxEngine,
}


def choose_engine(choice: EngineChoice, base_url: str) -> str:
    """The engine's name for a scenario. `auto` takes the fast engine whenever the
    scenario needs nothing it lacks; today every scenario feature (plain HTTP/1.1 or
    TLS, methods, headers, bodies, checks) is within it, so only a URL it cannot parse
    falls back to httpx."""
    if choice is not EngineChoice.AUTO:
        return choice.value
    if urlsplit(base_url).scheme in ("http", "https"):
        return FastEngine.name
    return HttpxEngine.name


@dataclass(frozen=True)
class EngineRecipe:
    """The `EngineFactory` of a real engine: its name and what it is built from. Plain
    data, so it pickles into each worker process, which builds its own engine."""

    name: str
    base_url: str
    timeout: float
    requests: tuple[RequestSpec, ...]

    @classmethod
    def for_scenario(cls, name: str, base_url: str, scenario: Scenario) -> EngineRecipe:
        return cls(name, base_url, scenario.load.timeout, scenario.requests)

    def __call__(self) -> Engine:
        return ENGINES[self.name](self.base_url, self.timeout, self.requests)
