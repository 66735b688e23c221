"""Runs scenarios one after another: target, monitor, load, and what was measured.

Each scenario runs in its own event loop with its own engine and clients, its own demo
target process and its own monitor thread, so nothing one scenario leaves behind
(pools, threads, a warmed-up or bloated target) can colour the next one's numbers.
A launched `target:` is the exception the user chooses: `scope: run` shares one
process among the scenarios (see perfrun.execution.target).
Ctrl-C or SIGTERM stops the load at once; what was measured until then is kept. From the
end of a scenario's load until its outcome is handed on, stop signals are only counted
(`Held`): one raised there would lose the scenario with every figure it measured; a
counted one stops the run once the outcome is out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime

import psutil

from perfrun.demo.process import DemoTarget
from perfrun.engine.backoff import BACKOFF_AFTER, FIRST_DELAY, MAX_DELAY, Backoffs
from perfrun.engine.factory import EngineRecipe, choose_engine
from perfrun.errors import PerfrunError
from perfrun.execution.abort import AbortWatch
from perfrun.execution.cluster import Cluster, LostShares, connected, run_cluster
from perfrun.execution.data_out import DataPlan, DataRun, check_data_out
from perfrun.execution.drive import drive, expected_load, unreachable
from perfrun.execution.interrupts import Held
from perfrun.execution.limits import check_open_files
from perfrun.execution.monitor import Monitor, find_process, open_target
from perfrun.execution.outcome import (
    Progress,
    RunOptions,
    ScenarioOutcome,
    ShareEvidence,
    Snapshot,
    TargetRun,
)
from perfrun.execution.target import LaunchedTarget, Targets
from perfrun.execution.workers import run_workers
from perfrun.metrics.stats import LiveFigures, ScenarioStats
from perfrun.scenario.model import Scenario, ScenarioStatus

INTERRUPTED_MESSAGE = "interrupted: the figures cover the run until then"


def run_scenarios(
    scenarios: Sequence[Scenario], options: RunOptions, progress: Progress
) -> Generator[ScenarioOutcome, None, None]:
    """Run each scenario in turn, yielding its outcome; stop after one that was interrupted.
    Launched run-scoped targets are stopped when this ends, however it ends (close the
    generator, e.g. with contextlib.closing, when not running it to its end).
    OpenFilesError (exit 2) before any load when the open-files limit is short."""
    check_data_out(options)
    check_open_files(scenarios, options)
    with Targets(options.target_log) as targets, connected(options.cluster) as cluster:
        for index, scenario in enumerate(scenarios):
            ending = Held()
            try:
                outcome = run_scenario(
                    scenario, options, progress, ending, index, len(scenarios), targets, cluster
                )
            finally:
                ending.release()
            yield outcome
            if outcome.status == ScenarioStatus.INTERRUPTED:
                return
            if ending.count:  # a Ctrl-C while the outcome was recorded: the run stops now
                raise KeyboardInterrupt


def run_scenario(
    scenario: Scenario,
    options: RunOptions,
    progress: Progress,
    ending: Held,
    index: int = 0,
    count: int = 1,
    targets: Targets | None = None,
    cluster: Cluster | None = None,
) -> ScenarioOutcome:
    """Run one scenario in a fresh event loop (or fresh worker processes, or the shares
    of a Dask `cluster`); never raises for a failure of the run: that is the outcome's
    status. `targets` holds the run's launched targets (default: this scenario's own,
    stopped at its end). `ending` is held from the end of the load on (the caller
    releases it): a stop signal then is counted there, never raised."""
    started_at = datetime.now(UTC)
    # Streaming stats when --out asks for files (parts > 0: the workers write them).
    data = DataRun(scenario, DataPlan.of(options), first=index == 0,
                   parts=options.workers if options.workers > 1 else 0)  # fmt: skip
    stats = data.stats
    base_url = options.base_url or scenario.base_url
    engine = "-"
    monitor_result = None
    launched: LaunchedTarget | None = None
    abort: AbortWatch | None = None
    shares: tuple[ShareEvidence, ...] = ()
    one_process = options.workers == 1 and cluster is None
    backoffs = Backoffs()

    def outcome(status: ScenarioStatus, message: str) -> ScenarioOutcome:
        ending.hold()
        data.close()
        if backoffs:
            message = "; ".join(part for part in (message, backed_off(backoffs)) if part)
        live = abort.live if abort is not None and one_process else {}
        result = ScenarioOutcome(
            scenario, base_url, engine, started_at, datetime.now(UTC), status, message, stats,
            monitor_result, max(options.workers, len(shares)), _target_run(launched, stats),
            live, shares, cluster.address if cluster is not None else None, backoffs,
        )  # fmt: skip
        progress.scenario_finished(result)
        return result

    try:
        with contextlib.ExitStack() as stack:
            demo_pid = None
            shown = ""
            if scenario.target is not None:
                pool = targets or stack.enter_context(Targets(options.target_log))
                launched, owned = pool.launch(scenario.target, base_url)
                if owned:
                    stack.callback(launched.stop)
                base_url, demo_pid = launched.base_url, launched.pid
                if launched.exit is not None:
                    return outcome(
                        ScenarioStatus.TARGET_EXITED,
                        f"target exited with code {launched.exit.code} before this scenario",
                    )
            elif base_url == "demo":
                demo = stack.enter_context(DemoTarget())
                base_url, demo_pid = demo.base_url, demo.pid
                shown = _demo_label(scenario, options, base_url)
            engine = choose_engine(options.engine or scenario.engine, base_url, scenario.http2)
            # In this process, the load's loop samples (see Monitor); with workers, the
            # parent only waits for them, so a thread does.
            monitor = Monitor(
                _target(scenario, options, demo_pid),
                scenario.monitor.interval,
                threaded=not one_process,
            )
            abort = AbortWatch(scenario.thresholds, scenario.load.warmup, monitor.latest)
            progress.scenario_started(scenario, index, count, shown or base_url)
            monitor.start()
            # A launched target that exits ends the load: the rest would only be refused.
            gone = (lambda: launched.exit is not None) if launched is not None else None
            try:
                interrupted, shares = _run_load(
                    scenario, engine, base_url, stats, monitor, progress, options, abort, gone,
                    cluster, backoffs,
                )  # fmt: skip
            finally:
                ending.hold()
                monitor_result = monitor.stop()
    except LostShares as exc:
        shares = exc.evidence
        return outcome(ScenarioStatus.FAILED, str(exc))
    except PerfrunError as exc:
        return outcome(ScenarioStatus.FAILED, str(exc))
    except KeyboardInterrupt:
        return outcome(ScenarioStatus.INTERRUPTED, INTERRUPTED_MESSAGE)
    return outcome(*_ended(stats, base_url, interrupted, launched, abort))


def _ended(
    stats: ScenarioStats, base_url: str, interrupted: bool, launched: LaunchedTarget | None,
    abort: AbortWatch | None,
) -> tuple[ScenarioStatus, str]:  # fmt: skip
    """How a scenario whose load ran ended: its launched target exited, a threshold
    aborted it, or as its figures say (`_status`)."""
    exited = launched.exit if launched is not None else None
    if exited is not None and not interrupted:
        return (
            ScenarioStatus.TARGET_EXITED,
            f"target exited with code {exited.code} "
            f"{exited.at - stats.origin:.1f} s into the load; the figures are kept",
        )
    status = _status(stats, base_url, interrupted)
    # An unreachable target is that (exit 3), even when a threshold aborted the load
    # on its failures first.
    if status[0] is ScenarioStatus.COMPLETED and abort is not None and abort.aborted:
        return ScenarioStatus.ABORTED, abort.aborted.message
    return status


def backed_off(backoffs: Backoffs) -> str:
    """The report's words for the waits for a failing target."""
    return (
        f"backed off from failing connects {backoffs.waits} times, {backoffs.seconds:.1f} s "
        f"in all (a user waits {FIRST_DELAY * 1000:.0f} ms, doubling up to "
        f"{MAX_DELAY:g} s, after {BACKOFF_AFTER} connects failed in a row)"
    )


def _demo_label(scenario: Scenario, options: RunOptions, url: str) -> str:
    """The demo's URL as the console shows it: named, and loudly so when the scenario
    gave no base_url (its author may have meant their own service)."""
    if scenario.demo_default and options.base_url is None:
        return (
            f"{url}: the built-in DEMO target, because this scenario sets no base_url "
            "(set base_url, or --base-url, to load your service)"
        )
    return f"{url} (the built-in demo target)"


def _target_run(launched: LaunchedTarget | None, stats: ScenarioStats) -> TargetRun | None:
    if launched is None or not launched.started:
        return None
    exited = launched.exit
    return TargetRun(
        pid=launched.pid,
        command=launched.command,
        log=launched.log,
        scope=launched.spec.scope.value,
        exit_code=None if exited is None else exited.code,
        exited_after_s=None if exited is None else exited.at - stats.origin,
    )


def _run_load(
    scenario: Scenario,
    engine: str,
    base_url: str,
    stats: ScenarioStats,
    monitor: Monitor,
    progress: Progress,
    options: RunOptions,
    abort: AbortWatch | None = None,
    gone: Callable[[], bool] | None = None,
    cluster: Cluster | None = None,
    backoffs: Backoffs | None = None,
) -> tuple[bool, tuple[ShareEvidence, ...]]:
    """The load, in this process, in worker processes or on a Dask cluster; (True when
    interrupted, the cluster's shares' evidence). The waits for a failing target go
    into `backoffs`."""
    expected, duration = expected_load(scenario.load)

    def snapshot(live: LiveFigures) -> Snapshot:
        now = time.perf_counter()
        return Snapshot(
            elapsed=now - stats.origin,
            done=live.done,
            expected_requests=expected,
            expected_duration=duration,
            rps=float(live.last_second),
            p95_ms=live.p95_ms,
            errors=live.errors,
            resources=monitor.latest(),
            warming_up=now < stats.warmup_end,
            error_kinds=live.error_kinds,
            latency=live.latency,
        )

    def on_progress(parts: list[LiveFigures]) -> None:
        progress.update(snapshot(LiveFigures.total(parts)))

    recipe = EngineRecipe.for_scenario(
        engine, base_url, scenario, options.insecure,
        http_debug=options.http_debug, http_debug_bodies=options.http_debug_bodies,
    )  # fmt: skip
    if cluster is not None:
        count = options.workers if options.workers > 1 else None
        return run_cluster(
            scenario, recipe, cluster, count, stats, on_progress,
            abort=abort if abort else None, gone=gone, backoffs=backoffs,
        )  # fmt: skip
    if options.workers > 1:
        interrupted = run_workers(
            scenario, recipe, options.workers, stats, monitor.add_generator, on_progress,
            on_done=monitor.stop, abort=abort if abort else None, gone=gone,
            data=DataPlan.of(options), backoffs=backoffs,
        )  # fmt: skip
        return interrupted, ()

    def tick(current: ScenarioStats) -> None:
        progress.update(snapshot(current.live()))

    interrupted = drive(
        scenario, recipe, stats, tick=tick, poll=(monitor.interval, monitor.poll),
        cycle_end=monitor.mark_cycle, abort=abort, gone=gone, backoffs=backoffs,
    )  # fmt: skip
    return interrupted, ()


def _target(scenario: Scenario, options: RunOptions, demo_pid: int | None) -> psutil.Process | None:
    """The process to monitor: --monitor-pid, then monitor.pid / .process, then the demo
    or the launched target (`demo_pid`)."""
    if options.monitor_pid is not None:
        return open_target(options.monitor_pid)
    if scenario.monitor.pid is not None:
        return open_target(scenario.monitor.pid)
    if scenario.monitor.process is not None:
        return find_process(scenario.monitor.process)
    if demo_pid is not None:
        return open_target(demo_pid)
    return None


def _status(stats: ScenarioStats, base_url: str, interrupted: bool) -> tuple[ScenarioStatus, str]:
    if interrupted:
        return ScenarioStatus.INTERRUPTED, INTERRUPTED_MESSAGE
    if unreachable(stats):
        kinds = stats.overall.errors + stats.warmup.errors
        kind = kinds.most_common(1)[0][0]
        total = stats.overall.total + stats.warmup.total
        detail = stats.error_samples.get(kind, "")
        return ScenarioStatus.UNREACHABLE, (
            f"target {base_url} unreachable: {kind} on all {total} requests"
            + (f" ({detail})" if detail else "")
        )
    if stats.overall.total == 0:
        return ScenarioStatus.FAILED, "no request was measured" + (
            " after the warm-up" if stats.warmup.total else ""
        )
    return ScenarioStatus.COMPLETED, ""
