"""Which engine runs a scenario, and building it: the one place engines are chosen.

An engine's module is imported only when that engine is built: the httpx engine brings
httpx and httpcore (~0.1 s of start-up), which a fast-engine run never needs.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from perfrun.engine.base import Engine
from perfrun.engine.debug import HttpDebug
from perfrun.engine.limits import MAX_BODY
from perfrun.errors import UsageError
from perfrun.scenario.model import CHECKED_TLS, EngineChoice, RequestSpec, Scenario, TlsSpec

FAST, HTTPX = "fast", "httpx"
ENGINES: dict[str, tuple[str, str]] = {
    FAST: ("perfrun.engine.fast", "FastEngine"),
    HTTPX: ("perfrun.engine.httpx_engine", "HttpxEngine"),
}
"""Engine name -> (module, class) of the engine."""


def choose_engine(choice: EngineChoice, base_url: str, http2: bool = False) -> str:
    """The engine's name for a scenario. `auto` takes the fast engine whenever the
    scenario needs nothing it lacks: HTTP/1.1 (plain or TLS) with its methods, headers,
    bodies, checks and flows. HTTP/2 (`http2`) and a URL it cannot parse take httpx;
    `fast` with `http2` is a UsageError (the loader refuses it in a file; this catches
    `--engine fast`)."""
    if http2:
        if choice is EngineChoice.FAST:
            raise UsageError(
                "http2: true needs the httpx engine: the fast engine speaks HTTP/1.1 only"
            )
        return HTTPX
    if choice is not EngineChoice.AUTO:
        return choice.value
    if urlsplit(base_url).scheme in ("http", "https"):
        return FAST
    return HTTPX


@dataclass(frozen=True)
class EngineRecipe:
    """The `EngineFactory` of a real engine: its name and what it is built from. Plain
    data, so it pickles into each worker process, which builds its own engine."""

    name: str
    base_url: str
    timeout: float
    requests: tuple[RequestSpec, ...]
    tls: TlsSpec = CHECKED_TLS
    http2: bool = False
    """HTTP/2 only (httpx engine; `choose_engine` never pairs it with the fast one)."""
    debug: HttpDebug | None = None
    """--http-debug: show the first exchanges (None: off, the engine's plain classes)."""
    max_body: int = MAX_BODY
    """The most bytes of a response body kept for a check or a capture (a larger one
    fails as `body_too_large`); a body nothing reads is counted, never kept."""

    @classmethod
    def for_scenario(
        cls, name: str, base_url: str, scenario: Scenario, insecure: bool = False,
        http_debug: int = 0, http_debug_bodies: bool = False,
    ) -> EngineRecipe:  # fmt: skip
        """The recipe of a scenario's engine; `insecure` (--insecure) turns off the
        checking of the server's certificate; `http_debug` (--http-debug=N) shows the
        first N exchanges (in each process), with their bodies when `http_debug_bodies`."""
        tls = dataclasses.replace(scenario.tls, verify=False) if insecure else scenario.tls
        debug = None
        if http_debug > 0:
            debug = HttpDebug(http_debug, http_debug_bodies, scenario.name, os.getpid())
        return cls(
            name, base_url, scenario.load.timeout, scenario.requests, tls, scenario.http2, debug,
            max_body=scenario.max_body,
        )  # fmt: skip

    def __call__(self) -> Engine:
        module, name = ENGINES[self.name]
        options: dict[str, object] = {"tls": self.tls, "max_body": self.max_body}
        if self.http2:  # only the httpx engine takes it
            options["http2"] = True
        if self.debug is not None:
            options["debug"] = self.debug
        engine: Engine = getattr(importlib.import_module(module), name)(
            self.base_url, self.timeout, self.requests, **options
        )
        return engine
