"""The `thresholds:` section of a scenario -> `Threshold`s.

A threshold is a plain number (`max_p95_response_ms: 500`, judged over the whole run) or a
mapping `{limit, warn, over, abort}`; `per_request: {NAME: {...}}` judges one request's
figures. No `thresholds:` at all gives the scenario type's defaults; `thresholds: none`
judges nothing, on purpose.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from perfrun.scenario._yaml import LineDict, Loc, mapping, number, seconds, shown
from perfrun.scenario.metrics import BY_THRESHOLD, PERCENT_METRICS, Bound, Metric
from perfrun.scenario.model import ScenarioType, Threshold, default_thresholds
from perfrun.scenario.schema import (
    NONE,
    PER_REQUEST,
    REQUEST_THRESHOLDS,
    THRESHOLDS,
    TIER,
    WINDOWED_FIGURES,
)

# From the language's one declaration (schema.py).
_THRESHOLD_KEYS = THRESHOLDS.allowed
_REQUEST_THRESHOLD_KEYS = REQUEST_THRESHOLDS.allowed
_TIER_KEYS = TIER.allowed


def parse_thresholds(
    value: Any, loc: Loc, kind: ScenarioType, requests: Collection[str]
) -> tuple[Threshold, ...]:
    """The scenario's thresholds; `requests`: the names `per_request` may use."""
    if value is None:
        return default_thresholds(kind)
    if isinstance(value, str) and value.strip().lower() == NONE:
        return ()
    fields = mapping(value, loc, _THRESHOLD_KEYS)
    if not fields:
        raise loc.error(f"is empty: set limits, or `thresholds: {NONE}` to judge nothing")
    thresholds: list[Threshold] = []
    for key, raw in fields.items():  # in the order written, for the report
        key_loc = loc.at(fields, key)
        if key == PER_REQUEST:
            thresholds.extend(_per_request(raw, key_loc, requests))
        else:
            thresholds.append(_threshold(key, raw, key_loc))
    return tuple(thresholds)


def _per_request(value: Any, loc: Loc, requests: Collection[str]) -> list[Threshold]:
    if not isinstance(value, LineDict) or not value:
        raise loc.error(f"must map request names to their thresholds, got {shown(value)}")
    thresholds = []
    known = frozenset(requests)  # `in` a list per name is quadratic in a large mix
    for name, raw in value.items():
        name_loc = loc.at(value, name)
        if name not in known:
            raise loc.key_line(value, name).error(
                f"no request named {str(name)!r}; this scenario's requests: {', '.join(requests)}"
            )
        fields = mapping(raw, name_loc, _REQUEST_THRESHOLD_KEYS)
        for key, limit in fields.items():
            key_loc = name_loc.at(fields, key)
            if BY_THRESHOLD[key].path[0] not in WINDOWED_FIGURES:
                raise key_loc.error(
                    "is not measured per request: only latency and request counts are"
                )
            threshold = _threshold(key, limit, key_loc, request=str(name))
            if threshold.over is not None or threshold.abort:
                raise key_loc.error("over and abort judge the whole scenario, not one request")
            thresholds.append(threshold)
    return thresholds


def _threshold(key: str, raw: Any, loc: Loc, request: str | None = None) -> Threshold:
    metric = BY_THRESHOLD[key]
    if not isinstance(raw, LineDict):
        return Threshold.from_key(key, _level(metric, raw, loc), request=request)
    fields = mapping(raw, loc, _TIER_KEYS)
    if "limit" not in fields:
        raise loc.error("missing required key 'limit'")
    limit = _level(metric, fields["limit"], loc.at(fields, "limit"))
    warn = None
    if fields.get("warn") is not None:
        warn_loc = loc.at(fields, "warn")
        warn = _level(metric, fields["warn"], warn_loc)
        stricter = warn < limit if metric.bound is Bound.MAX else warn > limit
        if not stricter:
            side = "below" if metric.bound is Bound.MAX else "above"
            raise warn_loc.error(f"must be {side} the limit {limit:g}, got {shown(fields['warn'])}")
    over = None
    if fields.get("over") is not None:
        over_loc = loc.at(fields, "over")
        over = seconds(fields["over"], over_loc, allow_zero=False)
        if over < 1 or over != int(over):
            raise over_loc.error(f"must be whole seconds, at least 1s, got {shown(fields['over'])}")
        if metric.path[0] not in WINDOWED_FIGURES:
            raise over_loc.error(
                "windows are judged on the timeline's latency and request counts; "
                f"{key} is not one of them"
            )
    abort = fields.get("abort", False)
    if not isinstance(abort, bool):
        raise loc.at(fields, "abort").error(f"must be true or false, got {shown(abort)}")
    if abort and over is None and not metric.peak:
        raise loc.at(fields, "abort").error(
            "needs `over`: the window the threshold is judged on while the load runs "
            "(only a peak, such as max_max_response_ms or max_memory_mb, needs none)"
        )
    return Threshold.from_key(key, limit, warn=warn, over=over, abort=abort, request=request)


def _level(metric: Metric, raw: Any, loc: Loc) -> float:
    value = number(raw, loc, positive=False)
    if metric.name in PERCENT_METRICS and value > 100:
        raise loc.error(f"is a percentage: must be between 0 and 100, got {shown(raw)}")
    return value
