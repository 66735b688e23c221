"""Open files: what a load will need, against the process's RLIMIT_NOFILE, before any load.

Every connection is a file descriptor. Past the soft limit, connect() fails with EMFILE,
which an engine can only record as a connect failure: perfrun's own limit read as the
target's (10,000 users under `ulimit -n 1024`: 95 % `connect_error`). So before the first
scenario perfrun counts what its busiest process will hold at once: a closed model's
users (a staged one's peak), an open model's `max_in_flight`, each process its share of
them with `--workers` (children inherit the limit), plus MARGIN for itself. It raises the
soft limit up to the hard limit when short (any process may, `resource.setrlimit`); when
the hard limit is short too, it refuses with the numbers (`OpenFilesError`, exit 2: like
the other checks made before any load, the invocation asks for what this environment
does not allow, and nothing was sent).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from perfrun.errors import UsageError
from perfrun.execution.outcome import RunOptions
from perfrun.scenario.model import LoadModel, LoadSpec, Scenario

MARGIN = 64
"""Descriptors a load process holds beside its connections: stdin/out/err, the event
loop's own (epoll, its self-pipe, uvloop's), the monitor's /proc reads, a launched or demo
target's pipes and log, --out files, the workers' pipes and sentinels, imports."""


class OpenFilesError(UsageError):
    """The load needs more open files than RLIMIT_NOFILE allows, even raised to its hard
    limit (exit 2, before any load)."""


def connections(load: LoadSpec) -> int:
    """Connections the load holds at most at once: its users (their peak over the stages),
    or an open model's requests in flight (`max_in_flight`)."""
    if load.model is LoadModel.OPEN:
        # At most max_in_flight, and no more than the peak rate keeps open while each
        # request may take its whole timeout (Little's law): 10 req/s needs 100, not 1000.
        peak = max(load.rate or 0.0, load.start, *(stage.target for stage in load.stages))
        return max(1, min(load.max_in_flight, math.ceil(peak * load.timeout)))
    if load.stages:
        return math.ceil(max(load.start, *(stage.target for stage in load.stages)))
    return load.users


def needed(load: LoadSpec, workers: int, held: int) -> int:
    """Descriptors the busiest process needs: its share of the connections, what it
    holds already (`held`: this process's open files; a worker starts with few) and
    MARGIN."""
    share = math.ceil(connections(load) / max(workers, 1))
    return share + MARGIN + (held if workers <= 1 else 0)


def check_open_files(scenarios: Sequence[Scenario], options: RunOptions) -> None:
    """Make RLIMIT_NOFILE's soft limit cover the most demanding scenario, raising it up
    to the hard limit when short; OpenFilesError naming the numbers when even the hard
    limit is short. Nothing to check on a Dask cluster (its workers' limits are theirs)
    or without the resource module (Windows)."""
    if options.cluster is not None or not scenarios:
        return
    try:
        import resource
    except ImportError:
        return
    held = _open_files()
    need, scenario = max(
        ((needed(s.load, options.workers, held), s) for s in scenarios), key=lambda pair: pair[0]
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if _covers(soft, need):
        return
    if _covers(hard, need):
        # Up to the hard limit: the count above is an estimate, headroom costs nothing.
        for limit in (hard, need * 2, need):
            if not _covers(hard, limit):
                continue
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
                return
            except (ValueError, OSError):  # above the kernel's nr_open: try lower
                continue
    share = math.ceil(connections(scenario.load) / max(options.workers, 1))
    per = f" per process (--workers {options.workers})" if options.workers > 1 else ""
    raise OpenFilesError(
        f"scenario '{scenario.name}' needs about {need} open files{per}: {share} "
        f"connections and {need - share} for perfrun itself; the limit is {soft}, and "
        f"its hard limit {hard} is short too (only an administrator can raise that): "
        f"raise it (ulimit -n {need}; LimitNOFILE= in a systemd unit; nofile in "
        f"/etc/security/limits.conf), or {_fewer(scenario.load)}, or split the load with "
        "--workers"
    )


def _fewer(load: LoadSpec) -> str:
    """How a scenario asks for fewer connections."""
    if load.model is LoadModel.OPEN:
        return "lower its max_in_flight (or its rate, or its timeout)"
    return "run fewer users"


def _covers(limit: int, need: int) -> bool:
    import resource

    return limit == resource.RLIM_INFINITY or limit >= need


def _open_files() -> int:
    """This process's open descriptors now (0 when it cannot tell)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
