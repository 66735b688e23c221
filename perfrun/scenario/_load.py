"""The `load:` section of a scenario -> `LoadSpec`: closed or open model, stages, warm-up.

Which model a load uses follows from its keys: `stages` (users or rate targets), else
`rate` (open), else `users` (closed). A key that belongs to another shape is an error
that says which shape it belongs to, rather than being silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from perfrun.scenario._yaml import (
    LineDict,
    LineList,
    Loc,
    choice,
    integer,
    mapping,
    optional,
    seconds,
    shown,
)
from perfrun.scenario.limits import IN_FLIGHT, RATE, STAGES, USERS, Limits, over
from perfrun.scenario.model import Arrival, LoadModel, LoadSpec, Stage
from perfrun.scenario.schema import LOAD, STAGE
from perfrun.scenario.units import format_duration, parse_rate

# From the language's one declaration (schema.py), in the order the unknown-key hint lists.
_LOAD_KEYS = LOAD.allowed
_STAGE_KEYS = STAGE.allowed

_OPEN_ONLY = ("max_in_flight", "arrival")
_CLOSED_ONLY = ("users", "requests_per_user", "ramp_up", "think_time", "start_users")
_NOT_WITH_STAGES = {
    "duration": "is the sum of the stage durations; give each stage its duration instead",
    "users": "goes in each stage when there are stages",
    "requests_per_user": "does not combine with stages: a staged load runs for their durations",
    "ramp_up": "does not combine with stages: ramp with the stages themselves",
}


def parse_load(
    value: Any, loc: Loc, flow: bool = False, limits: Limits | None = None,
    seen: dict[Any, LoadSpec] | None = None,
) -> LoadSpec:  # fmt: skip
    """The `load:` mapping at `loc` as a validated `LoadSpec`; a `flow` counts
    `iterations` of its steps where a request mix counts `requests_per_user`. Users,
    rates, stages and `max_in_flight` are held to `limits` (default: the defaults).

    `seen`: the loads already read with these `limits`, by content: the same load
    written again (a file of many scenarios repeats a few) is the same `LoadSpec`,
    frozen, read once (a fifth of the time 100,000 scenarios took, and their memory)."""
    limits = Limits() if limits is None else limits
    key = None if seen is None or len(seen) >= _SEEN_LOADS else _content(value, flow)
    if key is not None and seen is not None:
        known = seen.get(key)
        if known is not None:
            return known
    fields = mapping(value, loc, _LOAD_KEYS)
    stages = fields.get("stages")
    if isinstance(stages, LineList) and len(stages) > limits.stages:
        raise loc.key_line(fields, "stages").error(over(STAGES, len(stages), limits.stages))
    load = _shaped(fields, loc, flow)
    _check_limits(load, fields, loc, limits)
    if key is not None and seen is not None:
        seen[key] = load
    return load


_SEEN_STAGES = 64
"""A load with more stages is read each time: its key would cost what it saves."""
_SEEN_LOADS = 1024
"""Loads kept at most: a file whose loads all differ (`users: 1`, `2`, `3`, ...) stops
keeping them there, rather than paying for a key per scenario (a tenth of the time to
build 20,000 scenarios, and 10 MB)."""


def _content(value: Any, flow: bool) -> Any:
    """A key telling `value`, a `load:` mapping, from any other that reads differently
    (`1`, `1.0` and `true` apart); None for one not worth keeping."""
    if not isinstance(value, LineDict):
        return None
    stages = value.get("stages")
    if isinstance(stages, LineList) and len(stages) > _SEEN_STAGES:
        return None
    return (flow, _hashable(value))


def _hashable(value: Any) -> Any:
    if isinstance(value, LineDict):
        return (dict, tuple((_hashable(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, LineList):
        return (list, tuple(map(_hashable, value)))
    return (type(value), value)


def _check_limits(load: LoadSpec, fields: LineDict, loc: Loc, limits: Limits) -> None:
    """What the run would hold in memory (a task per user, a slot per request in
    flight) within `limits`, the error at the key that asks for more."""
    closed = load.model is LoadModel.CLOSED
    limit, bound = (USERS, limits.users) if closed else (RATE, limits.rate)
    key, start_key = ("users", "start_users") if closed else ("rate", "start_rate")
    if load.stages:
        items, items_loc = fields["stages"], loc.at(fields, "stages")
        for index, stage in enumerate(load.stages):
            if stage.target > bound:
                at = items_loc.at(items, index)
                raise at.at(items[index], key).error(over(limit, stage.target, bound))
        if load.start > bound:
            raise loc.at(fields, start_key).error(over(limit, load.start, bound))
    elif closed and load.users > bound:
        raise loc.at(fields, "users").error(over(limit, load.users, bound))
    elif not closed and load.rate is not None and load.rate > bound:
        raise loc.at(fields, "rate").error(over(limit, load.rate, bound))
    if load.max_in_flight > limits.in_flight:
        raise loc.at(fields, "max_in_flight").error(
            over(IN_FLIGHT, load.max_in_flight, limits.in_flight)
        )


def _cycles(fields: LineDict, loc: Loc) -> dict[str, Any]:
    """Leak cycles: `cycles` runs of the load, each followed by a `rest`."""
    return {
        "cycles": integer(optional(fields, "cycles", 1), loc.at(fields, "cycles"), minimum=1),
        "rest": seconds(optional(fields, "rest", 0), loc.at(fields, "rest"), allow_zero=True),
    }


def _shaped(fields: LineDict, loc: Loc, flow: bool) -> LoadSpec:
    if flow:
        return _flow_load(fields, loc)
    if _has(fields, "iterations"):
        raise loc.key_line(fields, "iterations").error(
            "counts the rounds of a flow; a requests: mix counts requests_per_user"
        )
    if _has(fields, "stages"):
        if _has(fields, "rate"):
            raise loc.key_line(fields, "stages").error("set either rate or stages, not both")
        shape = _staged(fields, loc)
    elif _has(fields, "rate"):
        shape = _constant_rate(fields, loc)
    else:
        shape = _closed(fields, loc)
    return _timed(shape, fields, loc)


def _timed(shape: LoadSpec, fields: LineDict, loc: Loc) -> LoadSpec:
    """The load `shape` with its `warmup` (shorter than the run), `timeout` and leak
    cycles."""
    warmup = seconds(optional(fields, "warmup", 0), loc.at(fields, "warmup"), allow_zero=True)
    if shape.duration is not None and warmup >= shape.duration:
        raise loc.at(fields, "warmup").error(
            f"warmup {format_duration(warmup)} must be shorter than the run "
            f"({format_duration(shape.duration)})"
        )
    timeout = seconds(optional(fields, "timeout", 10), loc.at(fields, "timeout"), allow_zero=False)
    return dataclasses.replace(shape, warmup=warmup, timeout=timeout, **_cycles(fields, loc))


def _flow_load(fields: LineDict, loc: Loc) -> LoadSpec:
    """A flow's load: users that each run the steps `iterations` times or for `duration`
    (the closed model: a user's next step waits for its previous response), or users
    `stages`."""
    if _has(fields, "stages"):
        return _flow_stages(fields, loc)
    for key in ("rate", "stages", "requests_per_user", *_OPEN_ONLY, "start_users", "start_rate"):
        if _has(fields, key):
            raise loc.key_line(fields, key).error(
                "is not for a flow: its users each run the steps for iterations or a duration"
            )
    count, duration = optional(fields, "iterations"), optional(fields, "duration")
    if (count is None) == (duration is None):
        raise loc.error("set one of iterations or duration")
    if not _has(fields, "users"):
        raise loc.error("missing required key 'users'")
    duration_s = None if duration is None else seconds(duration, loc.at(fields, "duration"), False)
    shape = LoadSpec(
        model=LoadModel.CLOSED,
        users=integer(fields["users"], loc.at(fields, "users"), minimum=1),
        iterations=None if count is None else integer(count, loc.at(fields, "iterations"), 1),
        duration=duration_s,
        ramp_up=seconds(optional(fields, "ramp_up", 0), loc.at(fields, "ramp_up"), True),
        think_time=_think_time(fields, loc),
    )
    return _timed(shape, fields, loc)


def _flow_stages(fields: LineDict, loc: Loc) -> LoadSpec:
    """A flow's users stages: user i runs iterations while the stages' target exceeds i."""
    for key in ("rate", "iterations", "requests_per_user"):
        if _has(fields, key):
            raise loc.key_line(fields, key).error(
                "is not for a staged flow: its users run iterations for the stages' durations"
            )
    shape = _staged(fields, loc)
    if shape.model is not LoadModel.CLOSED:
        raise loc.key_line(fields, "stages").error(
            "a flow's stages set users (each runs the steps), not rates"
        )
    return _timed(shape, fields, loc)


# --- the three shapes -------------------------------------------------------------------


def _closed(fields: LineDict, loc: Loc) -> LoadSpec:
    """`users` with `requests_per_user` xor `duration`: the closed model as it always was."""
    _refuse(fields, loc, _OPEN_ONLY, "is for the open model; this load has users (closed model)")
    _refuse(fields, loc, ("start_users", "start_rate"), "needs stages: the first one ramps from it")
    if not _has(fields, "users"):
        raise loc.error("missing required key 'users'; or set rate (open model) or stages")
    count, duration = optional(fields, "requests_per_user"), optional(fields, "duration")
    if count is not None and duration is not None:
        raise loc.key_line(fields, "duration").error(
            "set either requests_per_user or duration, not both"
        )
    if count is None and duration is None:
        raise loc.error("set one of requests_per_user or duration")
    return LoadSpec(
        model=LoadModel.CLOSED,
        users=integer(fields["users"], loc.at(fields, "users"), minimum=1),
        requests_per_user=None
        if count is None
        else integer(count, loc.at(fields, "requests_per_user"), minimum=1),
        duration=None
        if duration is None
        else seconds(duration, loc.at(fields, "duration"), allow_zero=False),
        ramp_up=seconds(optional(fields, "ramp_up", 0), loc.at(fields, "ramp_up"), True),
        think_time=_think_time(fields, loc),
    )


def _constant_rate(fields: LineDict, loc: Loc) -> LoadSpec:
    """`rate` for `duration`: the open model at one rate."""
    _refuse(fields, loc, _CLOSED_ONLY, "is for the closed model; this load has a rate (open model)")
    _refuse(fields, loc, ("start_rate",), "needs rate stages: the first one ramps from it")
    if not _has(fields, "duration"):
        raise loc.error("missing required key 'duration' (how long to send at this rate)")
    rate_loc = loc.at(fields, "rate")
    rate = _rate(fields["rate"], rate_loc)
    if rate == 0:
        raise rate_loc.error(f"must be greater than 0, got {shown(fields['rate'])}")
    duration = seconds(fields["duration"], loc.at(fields, "duration"), allow_zero=False)
    return _open_model(fields, loc, rate=rate, duration=duration)


def _staged(fields: LineDict, loc: Loc) -> LoadSpec:
    """`stages`, all with users (closed model) or all with rate (open model)."""
    for key, reason in _NOT_WITH_STAGES.items():
        _refuse(fields, loc, (key,), reason)
    kind, stages = _stages(fields["stages"], loc.at(fields, "stages"))
    duration = sum(stage.duration for stage in stages)
    if kind == "rate":
        _refuse(
            fields, loc, ("think_time",),
            "is for the closed model; these stages have rates (open model)",
        )  # fmt: skip
        _refuse(
            fields, loc, ("start_users",),
            "is for users stages; these stages have rates: use start_rate",
        )  # fmt: skip
        return _open_model(fields, loc, rate=None, duration=duration, stages=stages)
    _refuse(
        fields, loc, _OPEN_ONLY,
        "is for the open model; these stages have users (closed model)",
    )  # fmt: skip
    _refuse(
        fields, loc, ("start_rate",),
        "is for rate stages; these stages have users: use start_users",
    )  # fmt: skip
    start = integer(optional(fields, "start_users", 0), loc.at(fields, "start_users"), minimum=0)
    return LoadSpec(
        model=LoadModel.CLOSED,
        # The peak, so that `users` keeps meaning "at most this many users at once".
        users=int(max(start, *(stage.target for stage in stages))),
        duration=duration,
        stages=stages,
        start=float(start),
        think_time=_think_time(fields, loc),
    )


def _open_model(
    fields: LineDict, loc: Loc, rate: float | None, duration: float, stages: tuple[Stage, ...] = ()
) -> LoadSpec:
    """An open-model LoadSpec, with the keys only that model has."""
    return LoadSpec(
        model=LoadModel.OPEN,
        rate=rate,
        duration=duration,
        stages=stages,
        start=_rate(optional(fields, "start_rate", 0), loc.at(fields, "start_rate")),
        arrival=choice(optional(fields, "arrival", "uniform"), Arrival, loc.at(fields, "arrival")),
        max_in_flight=integer(
            optional(fields, "max_in_flight", 1000), loc.at(fields, "max_in_flight"), minimum=1
        ),
    )


# --- parts ------------------------------------------------------------------------------


def _stages(value: Any, loc: Loc) -> tuple[str, tuple[Stage, ...]]:
    """The stage list, and whether its targets are `users` or `rate`."""
    if not isinstance(value, LineList) or not value:
        raise loc.error(f"must be a non-empty list of stages, got {shown(value)}")
    kind = ""
    stages: list[Stage] = []
    for index, item in enumerate(value):
        stage_loc = loc.at(value, index)
        fields = mapping(item, stage_loc, _STAGE_KEYS)
        if not _has(fields, "duration"):
            raise stage_loc.error("missing required key 'duration'")
        this_kind = _stage_kind(fields, stage_loc)
        if kind and this_kind != kind:
            raise stage_loc.error("mixes users and rate; use one kind in all stages")
        kind = this_kind
        target_loc = stage_loc.at(fields, kind)
        target = (
            _rate(fields["rate"], target_loc)
            if kind == "rate"
            else float(integer(fields["users"], target_loc, minimum=0))
        )
        duration = seconds(fields["duration"], stage_loc.at(fields, "duration"), allow_zero=False)
        stages.append(Stage(duration=duration, target=target))
    if not any(stage.target > 0 for stage in stages):
        what = "a rate" if kind == "rate" else "users"
        raise loc.error(f"every stage targets 0: at least one must have {what} above 0")
    return kind, tuple(stages)


def _stage_kind(fields: LineDict, loc: Loc) -> str:
    has_users, has_rate = _has(fields, "users"), _has(fields, "rate")
    if has_users and has_rate:
        raise loc.key_line(fields, "rate").error("set either users or rate in a stage, not both")
    if not has_users and not has_rate:
        raise loc.error("set users (closed model) or rate (open model) in every stage")
    return "users" if has_users else "rate"


def _think_time(fields: LineDict, loc: Loc) -> float:
    return seconds(optional(fields, "think_time", 0), loc.at(fields, "think_time"), True)


def _rate(value: Any, loc: Loc) -> float:
    try:
        return parse_rate(value)
    except ValueError as exc:
        raise loc.error(str(exc)) from None


def _has(fields: LineDict, key: str) -> bool:
    """Set to something: an explicit `null` counts as not set, as everywhere else."""
    return fields.get(key) is not None


def _refuse(fields: LineDict, loc: Loc, keys: tuple[str, ...], reason: str) -> None:
    """An error at the first of `keys` that is set: `'<key>' <reason>`."""
    for key in keys:
        if _has(fields, key):
            raise loc.key_line(fields, key).error(f"'{key}' {reason}")


@dataclass(frozen=True)
class LoadOverrides:
    """`--users`, `--duration`, `--rate`, `--iterations`: the command line's load over a
    scenario file's, as raw values the loader reads like the file's own (so the same
    rules and messages hold)."""

    users: int | None = None
    duration: str | None = None
    rate: str | None = None
    iterations: int | None = None

    def given(self) -> dict[str, object]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def over(self, value: Any, flow: bool) -> tuple[Any, tuple[tuple[str, str], ...]]:
        """The `load:` mapping with the overrides that fit it, and which those are: users
        and iterations fit a fixed users load, rate a fixed rate, duration either;
        stages take none."""
        if not isinstance(value, LineDict) or "stages" in value:
            return value, ()
        load = LineDict(value.line, value.lines)
        load.update(value)
        rate = "rate" in load
        applied: list[tuple[str, str]] = []
        if self.users is not None and not rate:
            load["users"] = self.users
            applied.append(("users", str(self.users)))
        if self.rate is not None and rate:
            load["rate"] = self.rate
            applied.append(("rate", self.rate))
        if self.iterations is not None and not rate:
            for key in ("duration", "requests_per_user", "iterations"):
                load.pop(key, None)
            load["iterations" if flow else "requests_per_user"] = self.iterations
            applied.append(("iterations", str(self.iterations)))
        if self.duration is not None:
            for key in ("requests_per_user", "iterations"):
                load.pop(key, None)
            load["duration"] = self.duration
            applied.append(("duration", self.duration))
        return load, tuple(applied)
