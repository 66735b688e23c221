"""The scenario domain: what to send, how hard, and what counts as good.

Everything here is immutable and already validated; only `loader.py` sees raw YAML.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfrun.scenario.captures import Capture
from perfrun.scenario.data import Data
from perfrun.scenario.kinds import EngineChoice as EngineChoice
from perfrun.scenario.kinds import ScenarioType as ScenarioType
from perfrun.scenario.kinds import Severity as Severity
from perfrun.scenario.metrics import BY_THRESHOLD, Bound
from perfrun.scenario.target import TargetSpec
from perfrun.scenario.templates import Template

MAX_BODY = 8 * 1024 * 1024
"""`max_body`'s default: 8 MiB."""
DEMO_TARGET = "demo"
"""`base_url` value that makes perfrun start its built-in demo service."""


class ScenarioStatus(enum.StrEnum):
    """How running a scenario ended; only a completed one is judged by its thresholds."""

    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    """Ctrl-C or SIGTERM: the figures cover the run until then."""
    UNREACHABLE = "unreachable"
    """Not one request could connect."""
    FAILED = "failed"
    """The run could not be carried out (the demo target did not start, no request measured)."""
    TARGET_EXITED = "target_exited"
    """The launched target (`target:`) exited during the scenario: the figures until the
    end of the load are kept, and the scenario fails (a finding, not a run error)."""
    ABORTED = "aborted"
    """A threshold with `abort: true` failed while the load ran: stopped early, judged
    (a failure, not an error) on the figures measured until then."""


@dataclass(frozen=True)
class Checks:
    """What a response must hold beyond its status; a failed check fails the request
    with kind `check_failed`. Empty by default."""

    body_contains: tuple[str, ...] = ()
    """Substrings the body must contain (`expect_body_contains`, a string or a list)."""
    json: Mapping[str, Any] = field(default_factory=dict)
    """Dotted path → expected value (`expect_json: {status: ok, items.0.id: 1}`)."""
    headers: Mapping[str, str | None] = field(default_factory=dict)
    """Header name (lower-case) → exact value, or None for "present" (`expect_header`)."""

    def __bool__(self) -> bool:
        return bool(self.body_contains or self.json or self.headers)


@dataclass(frozen=True)
class RequestSpec:
    """One endpoint of the request mix."""

    name: str
    method: str = "GET"
    path: str = "/"
    weight: float = 1.0
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    body: str | None = None
    expect_status: tuple[int, ...] = (200,)
    checks: Checks = field(default_factory=Checks)
    templated: Templated | None = None
    """What varies per user and request (`{{ … }}` in the path, a header value or the
    body), compiled; None when nothing does: the request's bytes are built once."""
    once: bool = False
    """A flow step run once per user, before its first iteration (e.g. a login)."""
    think_time: float | None = None
    """A flow step's pause after its response (the load's think_time when None)."""
    captures: tuple[Capture, ...] = ()
    """What a flow step takes from its response for the steps after it."""


@dataclass(frozen=True)
class Templated:
    """A request's templates: the path (with its query), header values by name, the
    body (`body`, or `json` serialised with its string leaves templated)."""

    path: Template
    headers: tuple[tuple[str, Template], ...]
    body: Template | None

    @property
    def variables(self) -> frozenset[str]:
        found = set(self.path.variables)
        for _, template in self.headers:
            found |= template.variables
        if self.body is not None:
            found |= self.body.variables
        return frozenset(found)


@dataclass(frozen=True)
class TlsSpec:
    """How HTTPS is checked (`tls:`): the server's certificate against the system's CAs
    or `ca`, or not at all (`verify: false`, `--insecure`); a client certificate."""

    verify: bool = True
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


CHECKED_TLS = TlsSpec()
"""The default: certificates checked against the system's CAs, no client certificate."""


class LoadModel(enum.StrEnum):
    CLOSED = "closed"
    """`users` virtual users, each sending its next request when the last one ends."""
    OPEN = "open"
    """Requests sent at a scheduled `rate`, whatever the responses do."""


class Arrival(enum.StrEnum):
    UNIFORM = "uniform"
    POISSON = "poisson"


@dataclass(frozen=True)
class Stage:
    """Ramp linearly from the previous stage's target to `target` over `duration`
    seconds (k6 semantics); the target is users (closed model) or requests/s (open)."""

    duration: float
    target: float


@dataclass(frozen=True)
class LoadSpec:
    """How much load, and how it is shaped. Times are seconds.

    Closed model: `users` (or closed `stages`), with `requests_per_user` or `duration`.
    Open model: `rate` with `duration`, or open `stages`; `duration` is then the sum of
    the stages. With stages, the first stage ramps from `start` (default 0).
    `warmup` is the first part of the run: sent, but kept out of the stats.
    """

    users: int = 0
    requests_per_user: int | None = None
    iterations: int | None = None
    """A flow: how many times each user runs its steps (instead of requests_per_user)."""
    duration: float | None = None
    ramp_up: float = 0.0
    think_time: float = 0.0
    timeout: float = 10.0
    model: LoadModel = LoadModel.CLOSED
    rate: float | None = None
    arrival: Arrival = Arrival.UNIFORM
    max_in_flight: int = 1000
    stages: tuple[Stage, ...] = ()
    start: float = 0.0
    warmup: float = 0.0
    cycles: int = 1
    """Leak cycles: the whole load runs this many times, each followed by `rest`."""
    rest: float = 0.0
    """Seconds without requests after each cycle, at the end of which the target's RSS
    is read (with cycles > 1 or a rest)."""


@dataclass(frozen=True)
class Threshold:
    """A limit on one measured metric, e.g. `max_p95_response_ms: 500`, or in full
    `{limit: 500, warn: 300, over: 10s, abort: true}`.

    `key` is the YAML key as the user wrote it; `metric` the measurement it reads (a
    name in `perfrun.scenario.metrics.METRICS`); `bound` says which side passes.
    """

    key: str
    metric: str
    bound: Bound
    limit: float
    warn: float | None = None
    """Crossing it but not `limit` is a warning, not a failure."""
    over: float | None = None
    """Seconds: judge every sliding window this long, not only the whole run."""
    abort: bool = False
    """Stop the scenario as soon as the threshold fails (a window of `over` seconds)."""
    request: str | None = None
    """Judge one request's (endpoint's or flow step's) figures, not the scenario's."""
    default: bool = False
    """The scenario type's default, not written by the user."""

    @classmethod
    def from_key(cls, key: str, limit: float, **options: Any) -> Threshold:
        """The threshold a `thresholds:` key names; KeyError for an unknown key."""
        metric = BY_THRESHOLD[key]
        return cls(key=key, metric=metric.name, bound=metric.bound, limit=float(limit), **options)

    @property
    def label(self) -> str:
        """How reports name it: the key, under `per_request.NAME.` for one request."""
        return self.key if self.request is None else f"per_request.{self.request}.{self.key}"

    def beyond(self, value: float, level: float) -> bool:
        """`value` is on the failing side of `level` (equal passes)."""
        return value > level if self.bound is Bound.MAX else value < level


DEFAULT_THRESHOLDS: Mapping[ScenarioType, tuple[tuple[str, float], ...]] = {
    kind: (("max_avg_response_ms", avg), ("min_rps", rps), ("min_success_rate", success))
    for kind, avg, rps, success in (
        (ScenarioType.LOAD, 1000, 10, 95),
        (ScenarioType.STRESS, 2000, 5, 90),
        (ScenarioType.SPIKE, 3000, 2, 80),
        (ScenarioType.VOLUME, 2000, 5, 90),
        (ScenarioType.ENDURANCE, 1500, 8, 95),
        (ScenarioType.MEMORY, 1000, 10, 95),
        (ScenarioType.CPU, 1000, 10, 95),
    )
}
"""What a scenario without `thresholds:` is judged on, by its type: no silent pass."""


_DEFAULTS = {
    kind: tuple(Threshold.from_key(key, limit, default=True) for key, limit in pairs)
    for kind, pairs in DEFAULT_THRESHOLDS.items()
}  # made once: frozen, so every scenario of a type shares them (100,000 made 300,000)


def default_thresholds(kind: ScenarioType) -> tuple[Threshold, ...]:
    return _DEFAULTS[kind]


@dataclass(frozen=True)
class MonitorSpec:
    """Which process is the target. Neither set: the demo target if any, else none."""

    pid: int | None = None
    process: str | None = None
    interval: float = 1.0


@dataclass(frozen=True)
class Scenario:
    name: str
    type: ScenarioType
    severity: Severity
    base_url: str
    requests: tuple[RequestSpec, ...]
    load: LoadSpec
    thresholds: tuple[Threshold, ...] = ()
    monitor: MonitorSpec = field(default_factory=MonitorSpec)
    engine: EngineChoice = EngineChoice.AUTO
    regression: Mapping[str, float] = field(default_factory=dict)
    """Per-metric tolerance in percent for --baseline (p50, p95, p99, avg, rps,
    error_rate, memory_mb); others use --max-regression."""
    description: str = ""
    source: str = ""
    """Where it was defined, `file:line`, for messages."""
    flow: bool = False
    """`requests` are a flow's steps, run in order by every user (`flow:`), not a
    weighted mix (`requests:`)."""
    data: Data | None = None
    """Per-user data rows (`data:`), whose columns templates name."""
    cookies: bool = True
    """A flow's users each keep their own cookie jar (`cookies: false`: none)."""
    max_redirects: int = 10
    """Redirects a flow step follows (0: none; a 3xx is then judged as any status)."""
    max_body: int = MAX_BODY
    """Bytes of a response body kept for checks and captures; a larger one they need fails
    the request as `body_too_large` (a body nothing reads is counted, never kept)."""
    tls: TlsSpec = field(default_factory=TlsSpec)
    http2: bool = False
    """Every request over HTTP/2 (`http2: true`), on the httpx engine: negotiated by ALPN
    over https, prior knowledge (h2c) over http; a server without it fails requests."""
    target: TargetSpec | None = None
    """The service under test, launched by perfrun (`target:` or `--target-cmd`)."""
    overrides: tuple[tuple[str, str], ...] = ()
    """The command line's load options this scenario took (`--users 10`: ("users", "10"))."""
    demo_default: bool = False
    """No `base_url` (nor `target:`) was given: the demo target by default, which the
    console then says loudly (a user may have meant their own service)."""

    @property
    def uses_demo_target(self) -> bool:
        return self.base_url == DEMO_TARGET
