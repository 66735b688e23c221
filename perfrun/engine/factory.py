"""Which engine runs a scenario, and building it: the one place engines are chosen."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from perfrun.engine.base import Engine
from perfrun.engine.fast import FastEngine
from perfrun.engine.httpx_engine import HttpxEngine
from perfrun.scenario.model import EngineChoice, RequestSpec

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


def build_engine(
    name: str, base_url: str, timeout: float, requests: Sequence[RequestSpec]
) -> Engine:
    return ENGINES[name](base_url, timeout, requests)
