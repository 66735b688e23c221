"""Quick mode and scenarios written in code: text or a dict -> `Scenario`s, through the loader.

`perfrun URL -u 10 -d 30s` and `perfrun.run({...})` build a scenario document and read it
with the same loader as a scenario file, so the rules (and their messages) are the file's.
The command line's own values are checked here first, so that a mistake is named by its
option (`--duration`), not by a line of a document the user never wrote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from perfrun.errors import ScenarioError, UsageError
from perfrun.scenario._yaml import read_text
from perfrun.scenario.loader import LoadOverrides, scenarios_of
from perfrun.scenario.metrics import METRICS
from perfrun.scenario.model import Scenario
from perfrun.scenario.schema import METHODS
from perfrun.scenario.units import parse_duration, parse_rate

QUICK_NAME = "quick"
"""The scenario quick mode runs (and its report names)."""
ORIGIN = "command line"
"""Where quick mode's scenario comes from, in its `source`."""
QUICK_USERS = 10
QUICK_DURATION = "10s"
SUCCESS_STATUSES = range(200, 300)
"""What counts as a success in quick mode: any 2xx, as hey and k6 count them (a scenario
file's request expects 200 unless it says otherwise)."""


@dataclass(frozen=True)
class QuickLoad:
    """`perfrun URL [options]`: one request, sent by `users` for `duration` (or
    `requests` in all), or at `rate`."""

    url: str
    method: str = "GET"
    headers: tuple[str, ...] = ()
    """`Name: value`, as curl, hey and k6 take them."""
    body: str | None = None
    users: int | None = None
    duration: str | None = None
    requests: int | None = None
    """-n: requests in all (shared evenly by the users)."""
    rate: str | None = None
    thresholds: tuple[str, ...] = ()
    """`p95<500ms`, `error_rate<1%`, `rps>100` ... (see `threshold_of`)."""


def quick_scenario(quick: QuickLoad, environ: Mapping[str, str] | None = None) -> Scenario:
    """The scenario `perfrun URL` runs; UsageError (exit 2) naming the option at fault.
    `${VAR}` in the URL, headers and body is filled from `environ` (the environment and
    `-e`), as in a scenario file; a user and password in the URL become basic auth."""
    base_url, path, user = _split_url(quick.url)
    request: dict[str, Any] = {
        "method": _method(quick.method),
        "path": path,
        "expect_status": list(SUCCESS_STATUSES),
    }
    if quick.headers:
        request["headers"] = dict(_header(text) for text in quick.headers)
    if quick.body is not None:
        request["body"] = quick.body
    if user is not None:
        request["auth"] = {"basic": list(user)}
    body: dict[str, Any] = {
        "description": f"{request['method']} {base_url}{path} (quick mode)".replace("${", "$${"),
        "base_url": base_url,
        "requests": [request],
        "load": _load(quick),
        "thresholds": dict(threshold_of(text) for text in quick.thresholds) or "none",
    }
    try:
        return scenarios_from_dict({"scenarios": {QUICK_NAME: body}}, ORIGIN, environ)[0]
    except ScenarioError as exc:  # a line of a document the user never wrote: name the part
        _, _, problem = exc.message.partition(f"{QUICK_NAME} -> ")
        raise UsageError(f"quick mode: {problem or exc.message}") from None


def scenarios_from_dict(
    document: Mapping[str, Any],
    origin: str,
    environ: Mapping[str, str] | None = None,
    overrides: LoadOverrides | None = None,
) -> list[Scenario]:
    """The scenarios of a document shaped as a scenario file (`{"scenarios": {...}}`),
    validated as one; `origin` names it in messages (ScenarioError, exit 2); `overrides`:
    a load over the scenarios' own, as --users and the like give it."""
    try:
        text = yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"not a scenario document: {exc}", origin) from None
    except RecursionError:  # a dict nested thousands deep (or inside itself)
        raise ScenarioError("not a scenario document: nested too deeply", origin) from None
    return scenarios_from_text(text, origin, environ, overrides)


def scenarios_from_text(
    text: str,
    origin: str,
    environ: Mapping[str, str] | None = None,
    overrides: LoadOverrides | None = None,
) -> list[Scenario]:
    """The scenarios of a scenario file's text; `origin` stands for its path in messages."""
    document = read_text(text, origin)
    return scenarios_of(origin, document, environ, overrides=overrides, consume=True)


def _split_url(url: str) -> tuple[str, str, tuple[str, str] | None]:
    """(base URL, path with its query, (user, password) when the URL has them)."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:  # `http://[::1`, a port out of range
        raise UsageError(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise UsageError(f"{url!r} is not an http:// or https:// URL")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = f"[{hostname}]" if ":" in hostname else hostname
    netloc = host if port is None else f"{host}:{port}"
    user = None
    if parts.username is not None:
        user = (unquote(parts.username), unquote(parts.password or ""))
    return f"{parts.scheme}://{netloc}", path, user


def _method(method: str) -> str:
    upper = method.upper()
    if upper not in METHODS:
        raise UsageError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    return upper


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or name != name.strip():
        raise UsageError(f"--header {text!r}: expected 'Name: value'")
    if any(c in text for c in "\r\n\0"):
        raise UsageError(f"--header {text!r}: a header holds no CR, LF or NUL")
    return name, value.strip()


def _load(quick: QuickLoad) -> dict[str, Any]:
    """The `load:` of quick mode: users for a duration (10 for 10 s unless told), users
    sharing -n requests, or a rate for a duration (or for -n requests)."""
    duration = _checked(quick.duration, "--duration", parse_duration)
    if quick.requests is not None and duration is not None:
        raise UsageError("give either -n/--requests or --duration, not both")
    if quick.rate is not None:
        if quick.users is not None:
            raise UsageError("--rate sends at a rate, not with users: drop --users")
        rate = _checked(quick.rate, "--rate", parse_rate)
        if not rate:
            raise UsageError(f"--rate {quick.rate!r}: must be more than 0")
        if quick.requests is not None:
            duration = quick.requests / rate
        return {"rate": quick.rate, "duration": QUICK_DURATION if duration is None else duration}
    users = quick.users or QUICK_USERS
    if quick.requests is None:
        return {"users": users, "duration": QUICK_DURATION if duration is None else duration}
    users = min(users, quick.requests)
    if quick.requests % users:
        low = quick.requests // users * users
        raise UsageError(
            f"-n {quick.requests} does not share evenly among {users} users: give "
            f"-n {low or users} or -n {low + users}, or other --users"
        )
    return {"users": users, "requests_per_user": quick.requests // users}


def _checked(text: str | None, option: str, parse: Any) -> float | None:
    if text is None:
        return None
    try:
        return float(parse(text))
    except ValueError as exc:
        raise UsageError(f"{option} {text!r}: {exc}") from None


# --- --threshold 'p95<500ms' ----------------------------------------------------------------

_EXPRESSION = re.compile(
    r"\s*(?P<metric>[a-z_0-9]+)\s*(?P<op><=|>=|<|>)\s*(?P<value>[0-9.]+)\s*(?P<unit>[a-z%/]*)\s*\Z"
)
_TIME_UNITS = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001}
_ALIASES = {"errors": "error_rate", "success": "success_rate", "mean": "avg"}


def threshold_of(text: str) -> tuple[str, float]:
    """`--threshold` in a compact form -> its `thresholds:` key and limit:
    `p95<500ms` -> (`max_p95_response_ms`, 500); `error_rate<1%`, `rps>100`,
    `success_rate>=99%`, `avg<0.2s`. Latency needs `<`, rates and rps the side their
    key takes. UsageError (exit 2) for anything else."""
    match = _EXPRESSION.match(text.lower())
    if match is None:
        raise UsageError(f"--threshold {text!r}: expected METRIC<VALUE, e.g. 'p95<500ms'")
    name = _ALIASES.get(match["metric"], match["metric"])
    metric = _LATENCY.get(name) or _OTHERS.get(name)
    if metric is None:
        names = ", ".join((*_LATENCY, *_OTHERS))
        raise UsageError(f"--threshold {text!r}: unknown metric {name!r}; one of {names}")
    key, bound, units = metric
    if (bound == "max") != match["op"].startswith("<"):
        side = "<" if bound == "max" else ">"
        raise UsageError(f"--threshold {text!r}: {name} takes a limit with {side}")
    if match["unit"] not in units:
        raise UsageError(
            f"--threshold {text!r}: {name} is in {' or '.join(u for u in units if u) or '-'}"
        )
    try:
        value = float(match["value"]) * units[match["unit"]]
    except ValueError:
        raise UsageError(f"--threshold {text!r}: {match['value']!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--threshold {text!r}: not a finite number")
    return key, value


def _metrics() -> tuple[dict[str, tuple[str, str, dict[str, float]]], ...]:
    """Quick names (`p95`, `error_rate`, `rps`) of the registry's request metrics."""
    latency: dict[str, tuple[str, str, dict[str, float]]] = {}
    others: dict[str, tuple[str, str, dict[str, float]]] = {}
    for metric in METRICS:
        if metric.threshold is None or metric.path[0] not in ("latency_ms", "requests"):
            continue
        if metric.path[0] == "latency_ms":
            latency[metric.path[-1]] = (metric.threshold, metric.bound.value, _TIME_UNITS)
        else:
            units = {"%": 1.0, "": 1.0} if metric.unit == "%" else {"": 1.0, "/s": 1.0}
            others[metric.name] = (metric.threshold, metric.bound.value, units)
    return latency, others


_LATENCY, _OTHERS = _metrics()
