"""The `perfrun` command line: its options, and nothing heavy.

`perfrun --help` and `--version` import only click and the scenario vocabulary, so they
answer at once; what a command does (`perfrun.cli.actions`) is imported when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from perfrun import __version__
from perfrun.cli.form import hot_path
from perfrun.scenario.kinds import EngineChoice, ScenarioType, Severity

EPILOG = """\b
Exit codes:
  0    every selected scenario ran and passed its thresholds (warnings included)
  1    some threshold failed (or warned, with --fail-on-warn), or one aborted the run
  2    usage error or invalid scenario file (also: a load needing more open files
       than the hard `ulimit -n` allows; perfrun raises the soft limit itself)
  3    the run could not be carried out (target unreachable or never ready, demo
       target failed); a launched target that exits during the load fails its
       scenario (target_exited, exit 1)
  130  interrupted (Ctrl-C / SIGTERM); the report is still written
With --fail-on, failures of scenarios below that severity are reported but do not count.

\b
Thresholds: a number, or {limit, warn, over, abort}; per_request judges one request:
  thresholds:
    max_avg_response_ms: {limit: 5000, warn: 1000}      # WARN between 1000 and 5000
    max_p95_response_ms: {limit: 500, over: 10s, abort: true}  # every 10 s window;
                                                        # stop the load when one fails
    per_request: {login: {max_p95_response_ms: 300}}
No thresholds: the type's defaults (see --list); `thresholds: none` judges nothing.

\b
A journey (flow:): each user logs in once with its own data row, then uses its token:
  scenarios:
    shop:
      type: load
      severity: high
      base_url: http://127.0.0.1:8000
      data: {file: data/users.csv, order: unique}   # columns user, password
      flow:
        - name: login
          once: true
          method: POST
          path: /login
          json: {user: "{{ user }}", password: "{{ password }}"}
          capture: {token: {json: token}}           # JMESPath; also header, regex, status
        - name: items
          path: /items
          auth: {bearer: "{{ token }}"}
          capture: {item: {json: "items[0].id"}}
        - name: item
          path: /items/{{ item }}
          auth: {bearer: "{{ token }}"}
      load: {users: 20, iterations: 5}
Cookies are kept per user, redirects followed (under a rate: each request's own
chain, with its cookies); every key: docs/scenarios.md.

\b
The service under test, launched by perfrun (or --target-cmd "..."):
  scenarios:
    api_load:
      type: load
      severity: high
      target:
        command: ["uvicorn", "app:app", "--port", "{port}"]   # or one string
        cwd: ../service                        # relative to this file
        env: {APP_ENV: perf}
        ready: {http: /health, timeout: 30s}   # or {tcp: true} or {log: "started"}
        stop: {signal: SIGTERM, grace: 10s}    # then SIGKILL to its process group
        scope: run                             # or scenario: a fresh one each
      requests: [{name: health, path: /health}]
      load: {users: 10, duration: 30s}
base_url defaults to http://127.0.0.1:{port}; its output goes to <report>.target.log;
it is the monitored process, and is killed with perfrun (also on SIGKILL, on Linux).

\b
Leak verdicts on the monitored target (thresholds:):
  max_memory_growth_mb_per_hour: 60   # RSS slope (Theil-Sen) over the measured window
  max_memory_growth_mb_per_cycle: 2   # with load: {cycles: 5, rest: 10s}
  max_open_files_growth: 0            # open files after the load minus before it
  max_open_files, max_threads, max_connections: peaks
"""


def _complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of --scenarios: the names in the scenarios directory (after the
    last comma of a comma-separated list)."""
    from perfrun.scenario.loader import SCENARIO_SUFFIXES, load_file  # only when completing

    done, _, last = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    directory = Path(ctx.params.get("scenarios_dir") or "scenarios")
    names: set[str] = set()
    for path in sorted(directory.rglob("*")) if directory.is_dir() else ():
        if path.suffix.lower() not in SCENARIO_SUFFIXES:
            continue
        try:
            names.update(scenario.name for scenario in load_file(path))
        except Exception:  # a broken (or not a scenario) file: the others still complete
            continue
    return [prefix + name for name in sorted(names) if name.startswith(last)]


def _completion(values: list[str]) -> Any:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        return [value for value in values if value.startswith(incomplete)]

    return complete


class _Command(click.Command):
    """`--http-debug[=N]`: the count only in its attached form, as pflag (k6) and GNU
    getopt read an optional value, so `perfrun --http-debug URL` keeps its URL."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        attached = "--http-debug="
        args = [
            "--http-debug-count=" + arg.removeprefix(attached) if arg.startswith(attached) else arg
            for arg in args
        ]
        return super().parse_args(ctx, args)


@click.command(
    cls=_Command,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.argument("words", nargs=-1, metavar="[URL | init [DIR] | schema | completion SHELL]")
@click.option("--list", "list_only", is_flag=True, help="List the selected scenarios and exit.")
@click.option(
    "--requests",
    "-n",
    type=click.IntRange(min=1),
    metavar="N",
    help="Quick mode: N requests in all, shared evenly by the users (instead of --duration).",
)
@click.option(
    "--method",
    "-m",
    default="GET",
    show_default=True,
    metavar="METHOD",
    help="Quick mode: the request's method.",
)
@click.option(
    "--header",
    "-H",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Quick mode: a request header (repeatable).",
)
@click.option(
    "--body",
    metavar="TEXT|@FILE",
    help="Quick mode: the request body (@FILE: a file's content); set its Content-Type with -H.",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="EXPR",
    help="Quick mode: a pass/fail limit, e.g. 'p95<500ms', 'error_rate<1%', 'rps>100' "
    "(repeatable); without any, quick mode judges nothing and exits 0 when it ran.",
)
@click.option(
    "--users",
    "-u",
    type=click.IntRange(min=1),
    metavar="N",
    help="Users, over the selected scenarios' own (those with a users load); quick mode: "
    "10 by default.",
)
@click.option(
    "--duration",
    "-d",
    metavar="DURATION",
    help="How long the load runs (e.g. 30s, 5m), over the selected scenarios' own "
    "(users or rate loads; in place of requests_per_user / iterations); quick mode: 10s by "
    "default.",
)
@click.option(
    "--rate",
    metavar="RATE",
    help="Requests per second (e.g. 200, 200/s, 12000/m), over the selected "
    "scenarios' own (those with a rate load); quick mode: sent on this schedule instead "
    "of by users.",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    metavar="N",
    help="Iterations per user (a mix: requests_per_user), over the selected "
    "scenarios' own (users loads; in place of duration).",
)
@click.option(
    "--env",
    "-e",
    "env",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set ${KEY} in the scenario files, over the environment (repeatable); the "
    "report lists the keys set (not their values).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="With --list: also the YAML files skipped as not scenario files (no top-level "
    "'scenarios:' key).",
)
@click.option(
    "--scenarios",
    "-s",
    "names",
    multiple=True,
    metavar="NAME[,NAME]",
    shell_complete=_complete_names,
    help="Scenarios to run (comma-separated or repeated). Default: all.",
)
@click.option(
    "--type",
    "-t",
    "types",
    multiple=True,
    metavar="TYPE",
    shell_complete=_completion([t.value for t in ScenarioType]),
    help="Only scenarios of this type (load, stress, spike, volume, endurance, memory, cpu).",
)
@click.option(
    "--severity",
    "severities",
    multiple=True,
    metavar="SEVERITY",
    shell_complete=_completion([v.value for v in Severity]),
    help="Only scenarios of this severity (low, medium, high, critical).",
)
@click.option(
    "--scenarios-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("scenarios"),
    show_default=True,
    envvar="PERFRUN_SCENARIOS_DIR",
    show_envvar=True,
    help="Directory of scenario YAML files.",
)
@click.option(
    "--base-url", metavar="URL", help="Send every scenario's load here instead of its base_url."
)
@click.option(
    "--monitor-pid",
    type=click.IntRange(min=1),
    metavar="PID",
    help="Monitor this process as the target (overrides the scenario's monitor).",
)
@click.option(
    "--target-cmd",
    metavar="COMMAND",
    help="Launch the service under test with this command (split like a shell; {port} "
    "becomes a free loopback port and the base URL http://127.0.0.1:{port}), for every "
    "scenario: it replaces the command of a scenario's own target:, keeping the rest. "
    "Stopped, with its process group, when perfrun ends.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("perfrun-report.json"),
    show_default=True,
    help="Where to write the JSON report (- : to stdout, the rest to stderr).",
)
@click.option(
    "--engine",
    type=click.Choice([e.value for e in EngineChoice]),
    help="HTTP engine for every scenario, overriding its `engine:` (default: the scenario's, "
    "auto: the fast engine where it can do the job, else httpx).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not check HTTPS servers' certificates (a scenario's tls: verify: false, for "
    "every scenario).",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="Worker processes generating the load, each with its own event loop (auto: one "
    "per CPU core).",
)
@click.option(
    "--cluster",
    envvar="PERFRUN_CLUSTER",
    show_envvar=True,
    metavar="ADDRESS",
    help="Run each scenario's load on a Dask cluster, one share per worker process: "
    "tcp://host:8786 (a running scheduler) or local:N (N worker processes here). Needs "
    "pip install 'perfrun[cluster]'; see docs/cluster.md.",
)
@click.option(
    "--on-saturation",
    type=click.Choice(["warn", "fail"]),
    default="warn",
    show_default=True,
    help="When perfrun itself was the bottleneck (CPU, event-loop lag, requests sent "
    "late): warn (its verdicts read 'PASS, unreliable', exit 0), or fail the scenario.",
)
@click.option(
    "--html", type=click.Path(path_type=Path, dir_okay=False), help="Also write an HTML report."
)
@click.option(
    "--junit", type=click.Path(path_type=Path, dir_okay=False), help="Also write JUnit XML."
)
@click.option(
    "--markdown",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a Markdown summary (appended to $GITHUB_STEP_SUMMARY when set, anyway).",
)
@click.option(
    "--baseline",
    metavar="REPORT.json|history",
    help="Compare with an earlier report (or the median of the --history): regressions "
    "beyond the tolerance fail the scenario.",
)
@click.option(
    "--max-regression",
    default="10%",
    show_default=True,
    metavar="PERCENT",
    help="Tolerance for --baseline, per metric overridable in a scenario's regression: block.",
)
@click.option(
    "--history",
    type=click.Path(path_type=Path),
    metavar="DIR_OR_FILE",
    help="Append this run's figures to a JSON-lines history (a directory gets "
    "perfrun-history.jsonl).",
)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    default=Severity.LOW.value,
    show_default=True,
    help="Only failures of scenarios at or above this severity fail the run; the others "
    "are reported as tolerated.",
)
@click.option(
    "--fail-on-warn",
    is_flag=True,
    help="A warning fails its scenario (exit 1): a threshold beyond its warn level but "
    "within its limit, or --on-saturation warn's unreliable verdicts.",
)
@click.option(
    "--compare",
    "compare_files",
    nargs=2,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="OLD.json NEW.json",
    help="Compare two saved reports side by side, run nothing (exit 1 on a regression).",
)
@click.option(
    "--out",
    "data_out",
    multiple=True,
    metavar="KIND=WHERE",
    help="Send the run's data out as it is measured (repeatable): csv=FILE (per-second "
    "figures per endpoint), jsonl=FILE[.gz] (every request's result), prometheus=HOST:PORT "
    "(live metrics served for a scraper; :9464 = 127.0.0.1), otlp=URL (OpenTelemetry "
    "metrics pushed over OTLP/HTTP, e.g. http://127.0.0.1:4318). See docs/report.md.",
)
@click.option(
    "--http-debug",
    "http_debug",
    is_flag=True,
    help="Print each scenario's first requests and responses to stderr as sent and "
    "received, secrets hidden: --http-debug the first 10, --http-debug=N the first N "
    "(counted per process).",
)
@click.option("--http-debug-count", type=click.IntRange(min=1), hidden=True)
@click.option(
    "--http-debug-bodies",
    is_flag=True,
    help="With --http-debug: also print the bodies (first 2 KB of each); alone, it turns "
    "--http-debug on.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the final summary.")
@click.version_option(f"{__version__} ({hot_path()})", prog_name="perfrun")
def cli(**params: Any) -> None:
    """Load-test HTTP services: one URL, or YAML scenarios.

    \b
      perfrun http://127.0.0.1:8000/ -u 20 -d 30s --threshold 'p95<300ms'
      perfrun init [DIR]          write starter scenarios (one per test type) and a CI job
      perfrun schema              print the JSON Schema of scenario files
      perfrun completion bash     print a shell completion script (bash, zsh, fish)
      perfrun --list
      perfrun --scenarios health_load
      perfrun --type stress --severity high
      perfrun --scenarios health_load --output report.json --html report.html
      perfrun --compare old-report.json new-report.json
    """
    context = click.get_current_context()
    given = {  # option name -> its flag, for those typed on the command line
        param.name: param.opts[0]
        for param in context.command.params
        if param.name and context.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
    }
    from perfrun.cli.actions import Invocation, execute  # here: --help needs none of it

    sys.exit(execute(Invocation(**params, given=given)))


def main() -> None:
    # One name however started (`python -m perfrun` too), so that shell completion's
    # variable is always _PERFRUN_COMPLETE.
    cli(prog_name="perfrun")
