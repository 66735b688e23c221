"""The bounds a scenario file is held to, and the environment variables that lift them.

A load tester holds in memory what its scenarios ask for (a task per user, a slot per
request in flight, a body per request, a row per data line), so a typo (`users: 1000000000`)
or a hostile file (a YAML alias bomb) would otherwise take the machine down before any
load is sent. Each bound is far above what a real scenario asks for; one a legitimate user
could reach names its variable in the message. The bounds are read from the same
environment as `${VAR}` (so `perfrun -e PERFRUN_MAX_USERS=500000` lifts one for a run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """One bound: its default, the variable that changes it, what it counts."""

    default: int
    variable: str
    what: str


USERS = Limit(100_000, "PERFRUN_MAX_USERS", "virtual users (a closed load, or a stage)")
RATE = Limit(1_000_000, "PERFRUN_MAX_RATE", "requests per second (a rate, or a stage)")
STAGES = Limit(100_000, "PERFRUN_MAX_STAGES", "stages in one load")
IN_FLIGHT = Limit(1_000_000, "PERFRUN_MAX_IN_FLIGHT", "max_in_flight")
BODY_BYTES = Limit(10 * 1024 * 1024, "PERFRUN_MAX_BODY_BYTES", "bytes of one body or json:")
FILE_BYTES = Limit(64 * 1024 * 1024, "PERFRUN_MAX_FILE_BYTES", "bytes of one scenario file")
DATA_ROWS = Limit(1_000_000, "PERFRUN_MAX_DATA_ROWS", "rows of one data file")
DEPTH = Limit(100, "PERFRUN_MAX_DEPTH", "levels of nesting in a YAML document")
ALIAS_NODES = Limit(
    1_000_000, "PERFRUN_MAX_ALIAS_NODES", "values YAML aliases (*name, <<:) add to a document"
)
ALL = (USERS, RATE, STAGES, IN_FLIGHT, BODY_BYTES, FILE_BYTES, DATA_ROWS, DEPTH, ALIAS_NODES)
"""Every bound, in the order docs/scenarios.md lists them."""


@dataclass(frozen=True)
class Limits:
    """The bounds in force for one load of the scenario files."""

    users: int = USERS.default
    rate: int = RATE.default
    stages: int = STAGES.default
    in_flight: int = IN_FLIGHT.default
    body_bytes: int = BODY_BYTES.default
    file_bytes: int = FILE_BYTES.default
    data_rows: int = DATA_ROWS.default
    depth: int = DEPTH.default
    alias_nodes: int = ALIAS_NODES.default

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Limits:
        """The defaults, with each variable set in `environ` over its own; ValueError
        (a message for the user) for a variable that is not a positive integer."""
        values: dict[str, int] = {}
        for field, limit in zip(dataclasses.fields(cls), ALL, strict=True):
            raw = environ.get(limit.variable, "").strip()
            if not raw:
                continue
            if not raw.isdigit() or len(raw) > 18 or int(raw) < 1:
                raise ValueError(
                    f"{limit.variable}={raw[:40]!r}: must be a positive integer "
                    f"(the default is {limit.default:,})"
                )
            values[field.name] = int(raw)
        return cls(**values)


def over(limit: Limit, value: float, bound: int) -> str:
    """The message for `value` above `bound`: what the bound is, and how to lift it."""
    if value < 1e18:
        shown = f"{value:,.0f}"
    else:  # a huge int does not fit a float's format
        shown = (
            f"a {len(str(int(value)))}-digit number" if isinstance(value, int) else f"{value:.3g}"
        )
    return (
        f"{shown} is above the limit of {bound:,} {limit.what}; if you mean it, "
        f"raise it with the environment variable {limit.variable}"
    )
