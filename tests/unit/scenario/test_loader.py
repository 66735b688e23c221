import textwrap
from pathlib import Path

import pytest

from perfrun.errors import ScenarioError
from perfrun.scenario.loader import load_file, load_scenarios
from perfrun.scenario.metrics import Bound
from perfrun.scenario.model import (
    Arrival,
    Checks,
    LoadModel,
    LoadSpec,
    MonitorSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
    Stage,
    Threshold,
    default_thresholds,
)

# The smallest valid file; error cases edit one line of it. `# <-` marks the line
# the error must point at.
BASE = """\
scenarios:
  health_load:
    description: Health check
    type: load
    severity: medium
    requests:
      - name: health
        path: /health
    load:
      users: 2
      requests_per_user: 3
"""


def write(directory: Path, text: str, name: str = "a.yaml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def marked_line(text: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if "# <-" in line)


def load_error(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ScenarioError) as excinfo:
        load_file(path, environ or {})
    assert excinfo.value.exit_code == 2
    return str(excinfo.value)


def test_base_file_is_valid(tmp_path: Path) -> None:
    (scenario,) = load_file(write(tmp_path, BASE), {})
    assert scenario.name == "health_load"


# Error cases edit BASE in one place. These helpers add lines at the right indentation.
S = "health_load"
REQ = "health_load -> requests -> 0"
LOAD = "health_load -> load"
TH = "health_load -> thresholds"
MON = "health_load -> monitor"


def replace(old: str, new: str) -> tuple[str, str]:
    return old, new


def scenario_key(*lines: str) -> tuple[str, str]:
    return "severity: medium", "severity: medium" + "".join(f"\n    {line}" for line in lines)


def request_key(*lines: str) -> tuple[str, str]:
    return "path: /health", "path: /health" + "".join(f"\n        {line}" for line in lines)


def load_key(*lines: str) -> tuple[str, str]:
    return "users: 2", "users: 2" + "".join(f"\n      {line}" for line in lines)


def section(name: str, *lines: str) -> tuple[str, str]:
    end = "requests_per_user: 3"
    return end, f"{end}\n    {name}:" + "".join(f"\n      {line}" for line in lines)


REQUESTS = "    requests:\n      - name: health\n        path: /health\n"
LOAD_SECTION = "    load:\n      users: 2\n      requests_per_user: 3\n"

# (id, edit, path in the message, problem)
BAD_VALUES = [
    ("unknown-top-level-key", replace("scenarios:", "scenarioz:  # <-"),
     "", "unknown key 'scenarioz'; did you mean 'scenarios'?"),
    ("unknown-scenario-key", scenario_key("sevrity: high  # <-"),
     S, "unknown key 'sevrity'; did you mean 'severity'?"),
    ("unknown-request-key", request_key("wieght: 2  # <-"),
     REQ, "unknown key 'wieght'; did you mean 'weight'?"),
    ("unknown-load-key", replace("users: 2", "user: 2  # <-"),
     LOAD, "unknown key 'user'; did you mean 'users'?"),
    ("unknown-threshold-key", section("thresholds", "max_p95_ms: 5  # <-"),
     TH, "unknown key 'max_p95_ms'; did you mean 'max_p95_response_ms'?"),
    ("unknown-monitor-key", section("monitor", "pids: 5  # <-"),
     MON, "unknown key 'pids'; did you mean 'pid'?"),
    ("unknown-key-no-suggestion", load_key("zzz: 1  # <-"),
     LOAD, "unknown key 'zzz'; known keys: users, requests_per_user, duration"),
    ("scenario-name-chars", replace("  health_load:", "  health load:  # <-"),
     "health load", "bad scenario name 'health load'"),
    ("scenario-not-mapping", replace("  health_load:", "  other: 5  # <-\n  health_load:"),
     "other", "must be a mapping, got 5"),
    ("bad-type", replace("type: load", "type: soak  # <-"),
     f"{S} -> type", "must be one of load, stress, spike, volume, endurance, memory, cpu; got"),
    ("bad-severity", replace("severity: medium", "severity: urgent  # <-"),
     f"{S} -> severity", "must be one of low, medium, high, critical; got 'urgent'"),
    ("description-not-string", replace("description: Health check", "description: [a]  # <-"),
     f"{S} -> description", "must be a string, got ['a']"),
    ("base-url-scheme", scenario_key("base_url: ftp://x  # <-"),
     f"{S} -> base_url", "must be 'demo' or an http:// or https:// URL, got 'ftp://x'"),
    ("base-url-no-scheme", scenario_key("base_url: localhost:8000  # <-"),
     f"{S} -> base_url", "must be 'demo' or an http:// or https:// URL"),
    ("requests-empty", replace(REQUESTS, "    requests: []  # <-\n"),
     f"{S} -> requests", "must be a non-empty list of requests, got []"),
    ("requests-not-list", replace(REQUESTS, "    requests: /health  # <-\n"),
     f"{S} -> requests", "must be a non-empty list of requests, got '/health'"),
    ("request-missing-path", replace("        path: /health\n", ""),
     REQ, "missing required key 'path'"),
    ("request-duplicate-name",
     replace(REQUESTS, REQUESTS + "      - {name: health, path: /}  # <-\n"),
     f"{S} -> requests -> 1 -> name", "duplicate request name 'health' (also requests -> 0)"),
    ("path-without-slash", replace("path: /health", "path: health  # <-"),
     f"{REQ} -> path", "must be a string starting with '/', got 'health'"),
    ("bad-method", request_key("method: FETCH  # <-"),
     f"{REQ} -> method", "must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; got"),
    ("weight-zero", request_key("weight: 0  # <-"),
     f"{REQ} -> weight", "must be a number > 0, got 0"),
    ("weight-bool", request_key("weight: true  # <-"),
     f"{REQ} -> weight", "must be a number > 0, got True"),
    ("status-out-of-range", request_key("expect_status: 99  # <-"),
     f"{REQ} -> expect_status", "must be an HTTP status code 100-599, got 99"),
    ("status-list-item", request_key("expect_status:", "  - 200", "  - 700  # <-"),
     f"{REQ} -> expect_status -> 1", "must be an HTTP status code 100-599, got 700"),
    ("status-text", request_key("expect_status: ok  # <-"),
     f"{REQ} -> expect_status", "got 'ok'"),
    ("status-empty", request_key("expect_status: []  # <-"),
     f"{REQ} -> expect_status", "must be a status code or a non-empty list of them"),
    ("json-and-body", request_key("json: {a: 1}", "body: text  # <-"),
     REQ, "set either json or body, not both"),
    ("body-not-string", request_key("body: 5  # <-"),
     f"{REQ} -> body", "must be a string, got 5; quote it"),
    ("header-bool", request_key("headers:", "  X-Debug: on  # <-"),
     f"{REQ} -> headers -> X-Debug", "must be a string, got True; quote it"),
    ("header-not-scalar", request_key("headers:", "  X-A: [1]  # <-"),
     f"{REQ} -> headers -> X-A", "must be a string, got [1]"),
    ("headers-not-mapping", request_key("headers: x  # <-"),
     f"{REQ} -> headers", "must be a mapping of header name to value, got 'x'"),
    ("load-not-mapping", replace(LOAD_SECTION, "    load: 5  # <-\n"),
     LOAD, "must be a mapping, got 5"),
    ("users-missing", replace("      users: 2\n", ""),
     LOAD, "missing required key 'users'"),
    ("users-zero", replace("users: 2", "users: 0  # <-"),
     f"{LOAD} -> users", "must be an integer >= 1, got 0"),
    ("users-text", replace("users: 2", "users: many  # <-"),
     f"{LOAD} -> users", "must be an integer >= 1, got 'many'"),
    ("users-float", replace("users: 2", "users: 1.5  # <-"),
     f"{LOAD} -> users", "must be an integer >= 1, got 1.5"),
    ("users-bool", replace("users: 2", "users: yes  # <-"),
     f"{LOAD} -> users", "must be an integer >= 1, got True"),
    ("requests-per-user-zero", replace("requests_per_user: 3", "requests_per_user: 0  # <-"),
     f"{LOAD} -> requests_per_user", "must be an integer >= 1, got 0"),
    ("count-and-duration", load_key("duration: 30s  # <-"),
     LOAD, "set either requests_per_user or duration, not both"),
    ("neither-count-nor-duration", replace(LOAD_SECTION, "    load:  # <-\n      users: 2\n"),
     LOAD, "set one of requests_per_user or duration"),
    ("duration-zero", replace("requests_per_user: 3", "duration: 0s  # <-"),
     f"{LOAD} -> duration", "must be greater than 0, got '0s'"),
    ("duration-garbage", replace("requests_per_user: 3", "duration: soon  # <-"),
     f"{LOAD} -> duration", "bad duration 'soon': use e.g. 500ms, 30s, 5m, 1h"),
    ("timeout-zero", load_key("timeout: 0  # <-"),
     f"{LOAD} -> timeout", "must be greater than 0, got 0"),
    ("ramp-up-negative", load_key("ramp_up: -1s  # <-"),
     f"{LOAD} -> ramp_up", "bad duration '-1s': must not be negative"),
    ("think-time-garbage", load_key("think_time: 5 ms  # <-"),
     f"{LOAD} -> think_time", "bad duration '5 ms'"),
    ("thresholds-not-mapping", replace(LOAD_SECTION, LOAD_SECTION + "    thresholds: [1]  # <-\n"),
     TH, "must be a mapping, got [1]"),
    ("threshold-bool", section("thresholds", "min_rps: true  # <-"),
     f"{TH} -> min_rps", "must be a number >= 0, got True"),
    ("threshold-text", section("thresholds", "min_rps: fast  # <-"),
     f"{TH} -> min_rps", "must be a number >= 0, got 'fast'"),
    ("threshold-negative", section("thresholds", "max_avg_response_ms: -5  # <-"),
     f"{TH} -> max_avg_response_ms", "must be a number >= 0, got -5"),
    ("success-rate-over-100", section("thresholds", "min_success_rate: 101  # <-"),
     f"{TH} -> min_success_rate", "is a percentage: must be between 0 and 100, got 101"),
    ("error-rate-over-100", section("thresholds", "max_error_rate: 150.5  # <-"),
     f"{TH} -> max_error_rate", "is a percentage: must be between 0 and 100, got 150.5"),
    ("pid-zero", section("monitor", "pid: 0  # <-"),
     f"{MON} -> pid", "must be an integer >= 1, got 0"),
    ("pid-text", section("monitor", "pid: uvicorn  # <-"),
     f"{MON} -> pid", "must be an integer >= 1, got 'uvicorn'"),
    ("pid-and-process", section("monitor", "pid: 12", "process: uvicorn  # <-"),
     MON, "set either pid or process, not both"),
    ("monitor-interval-zero", section("monitor", "interval: 0s  # <-"),
     f"{MON} -> interval", "must be greater than 0, got '0s'"),
]  # fmt: skip


def load_section(*lines: str) -> tuple[str, str]:
    """Replace the whole load section with `lines`."""
    return LOAD_SECTION, "    load:\n" + "".join(f"      {line}\n" for line in lines)


OPEN = ("rate: 300", "duration: 30s")
RATE_STAGES = ("stages:", "  - {duration: 10s, rate: 50}", "  - {duration: 5s, rate: 400}")
USERS_STAGES = ("stages:", "  - {duration: 5s, users: 10}", "  - {duration: 20s, users: 10}")
STAGES = f"{LOAD} -> stages"
OPEN_NOT_CLOSED = "is for the closed model; this load has a rate (open model)"
CLOSED_NOT_OPEN = "is for the open model; this load has users (closed model)"

LOAD_MODEL_BAD_VALUES = [
    # leak cycles
    ("cycles-zero", load_section("users: 1", "requests_per_user: 1", "cycles: 0  # <-"),
     f"{LOAD} -> cycles", "must be an integer >= 1, got 0"),
    ("rest-negative", load_section("users: 1", "requests_per_user: 1", "rest: -1s  # <-"),
     f"{LOAD} -> rest", "negative"),
    # the open model
    ("rate-with-users", load_section(*OPEN, "users: 5  # <-"),
     LOAD, f"'users' {OPEN_NOT_CLOSED}"),
    ("rate-with-requests-per-user", load_section(*OPEN, "requests_per_user: 5  # <-"),
     LOAD, f"'requests_per_user' {OPEN_NOT_CLOSED}"),
    ("rate-with-ramp-up", load_section(*OPEN, "ramp_up: 5s  # <-"),
     LOAD, f"'ramp_up' {OPEN_NOT_CLOSED}"),
    ("rate-with-think-time", load_section(*OPEN, "think_time: 5ms  # <-"),
     LOAD, f"'think_time' {OPEN_NOT_CLOSED}"),
    ("rate-with-start-users", load_section(*OPEN, "start_users: 1  # <-"),
     LOAD, f"'start_users' {OPEN_NOT_CLOSED}"),
    ("rate-with-start-rate", load_section(*OPEN, "start_rate: 1  # <-"),
     LOAD, "'start_rate' needs rate stages: the first one ramps from it"),
    ("rate-without-duration", load_section("rate: 300"),
     LOAD, "missing required key 'duration' (how long to send at this rate)"),
    ("rate-zero", load_section("rate: 0  # <-", "duration: 30s"),
     f"{LOAD} -> rate", "must be greater than 0, got 0"),
    ("rate-zero-per-minute", load_section("rate: 0/m  # <-", "duration: 30s"),
     f"{LOAD} -> rate", "must be greater than 0, got '0/m'"),
    ("rate-garbage", load_section("rate: 3x  # <-", "duration: 30s"),
     f"{LOAD} -> rate", "bad rate '3x': use e.g. 300, 300/s, 18000/m"),
    ("rate-per-ms", load_section("rate: 5/ms  # <-", "duration: 30s"),
     f"{LOAD} -> rate", "bad rate '5/ms': use e.g. 300, 300/s, 18000/m"),
    ("rate-negative", load_section("rate: -5/s  # <-", "duration: 30s"),
     f"{LOAD} -> rate", "bad rate '-5/s': must not be negative"),
    ("rate-and-stages", load_section("rate: 300", "stages:  # <-", "  - {duration: 5s, rate: 5}"),
     LOAD, "set either rate or stages, not both"),
    ("rate-duration-zero", load_section("rate: 300", "duration: 0s  # <-"),
     f"{LOAD} -> duration", "must be greater than 0, got '0s'"),
    ("max-in-flight-zero", load_section(*OPEN, "max_in_flight: 0  # <-"),
     f"{LOAD} -> max_in_flight", "must be an integer >= 1, got 0"),
    ("max-in-flight-typo", load_section(*OPEN, "max_inflight: 10  # <-"),
     LOAD, "unknown key 'max_inflight'; did you mean 'max_in_flight'?"),
    ("arrival-unknown", load_section(*OPEN, "arrival: burst  # <-"),
     f"{LOAD} -> arrival", "must be one of uniform, poisson; got 'burst'"),
    # open-only and stage-only keys on the closed model
    ("closed-with-max-in-flight", load_key("max_in_flight: 10  # <-"),
     LOAD, f"'max_in_flight' {CLOSED_NOT_OPEN}"),
    ("closed-with-arrival", load_key("arrival: poisson  # <-"),
     LOAD, f"'arrival' {CLOSED_NOT_OPEN}"),
    ("closed-with-start-users", load_key("start_users: 1  # <-"),
     LOAD, "'start_users' needs stages: the first one ramps from it"),
    ("closed-with-start-rate", load_key("start_rate: 1  # <-"),
     LOAD, "'start_rate' needs stages: the first one ramps from it"),
    ("missing-users-hints-at-the-open-model", replace("      users: 2\n", ""),
     LOAD, "missing required key 'users'; or set rate (open model) or stages"),
    # warm-up
    ("warmup-longer-than-rate-run", load_section(*OPEN, "warmup: 40s  # <-"),
     f"{LOAD} -> warmup", "warmup 40s must be shorter than the run (30s)"),
    ("warmup-as-long-as-the-run", load_section(*OPEN, "warmup: 30s  # <-"),
     f"{LOAD} -> warmup", "warmup 30s must be shorter than the run (30s)"),
    ("warmup-longer-than-closed-run",
     load_section("users: 2", "duration: 10s", "warmup: 1m  # <-"),
     f"{LOAD} -> warmup", "warmup 1m must be shorter than the run (10s)"),
    ("warmup-longer-than-the-stages", load_section(*RATE_STAGES, "warmup: 15s  # <-"),
     f"{LOAD} -> warmup", "warmup 15s must be shorter than the run (15s)"),
    ("warmup-negative", load_key("warmup: -1s  # <-"),
     f"{LOAD} -> warmup", "bad duration '-1s': must not be negative"),
    # stages
    ("stages-empty", load_section("stages: []  # <-"),
     STAGES, "must be a non-empty list of stages, got []"),
    ("stages-not-a-list", load_section("stages: 5  # <-"),
     STAGES, "must be a non-empty list of stages, got 5"),
    ("stage-not-a-mapping", load_section("stages:", "  - 5  # <-"),
     f"{STAGES} -> 0", "must be a mapping, got 5"),
    ("stage-unknown-key", load_section("stages:", "  - {duration: 5s, rates: 5}  # <-"),
     f"{STAGES} -> 0", "unknown key 'rates'; did you mean 'rate'?"),
    ("stage-unknown-key-no-suggestion",
     load_section("stages:", "  - {duration: 5s, rate: 5, zzz: 1}  # <-"),
     f"{STAGES} -> 0", "unknown key 'zzz'; known keys: duration, rate, users"),
    ("stage-missing-duration", load_section(*RATE_STAGES, "  - {rate: 5}  # <-"),
     f"{STAGES} -> 2", "missing required key 'duration'"),
    ("stage-duration-zero", load_section("stages:", "  - {duration: 0s, rate: 5}  # <-"),
     f"{STAGES} -> 0 -> duration", "must be greater than 0, got '0s'"),
    ("stage-users-and-rate", load_section("stages:", "  - {duration: 5s, users: 1, rate: 5}  # <-"),
     f"{STAGES} -> 0", "set either users or rate in a stage, not both"),
    ("stage-neither-users-nor-rate", load_section("stages:", "  - {duration: 5s}  # <-"),
     f"{STAGES} -> 0", "set users (closed model) or rate (open model) in every stage"),
    ("stages-mix-users-and-rate", load_section(*RATE_STAGES, "  - {duration: 5s, users: 5}  # <-"),
     f"{STAGES} -> 2", "mixes users and rate; use one kind in all stages"),
    ("stage-users-negative", load_section("stages:", "  - {duration: 5s, users: -1}  # <-"),
     f"{STAGES} -> 0 -> users", "must be an integer >= 0, got -1"),
    ("stage-users-fraction", load_section("stages:", "  - {duration: 5s, users: 1.5}  # <-"),
     f"{STAGES} -> 0 -> users", "must be an integer >= 0, got 1.5"),
    ("stage-rate-garbage", load_section("stages:", "  - {duration: 5s, rate: fast}  # <-"),
     f"{STAGES} -> 0 -> rate", "bad rate 'fast': use e.g. 300, 300/s, 18000/m"),
    ("stages-all-zero-rate",
     load_section("stages:  # <-", "  - {duration: 5s, rate: 0}", "  - {duration: 5s, rate: 0/s}"),
     STAGES, "every stage targets 0: at least one must have a rate above 0"),
    ("stages-all-zero-users", load_section("stages:  # <-", "  - {duration: 5s, users: 0}"),
     STAGES, "every stage targets 0: at least one must have users above 0"),
    ("stages-with-duration", load_section(*RATE_STAGES, "duration: 30s  # <-"),
     LOAD, "'duration' is the sum of the stage durations; give each stage its duration instead"),
    ("stages-with-users", load_section(*USERS_STAGES, "users: 5  # <-"),
     LOAD, "'users' goes in each stage when there are stages"),
    ("stages-with-requests-per-user", load_section(*USERS_STAGES, "requests_per_user: 5  # <-"),
     LOAD, "'requests_per_user' does not combine with stages"),
    ("stages-with-ramp-up", load_section(*USERS_STAGES, "ramp_up: 5s  # <-"),
     LOAD, "'ramp_up' does not combine with stages: ramp with the stages themselves"),
    ("rate-stages-with-think-time", load_section(*RATE_STAGES, "think_time: 1s  # <-"),
     LOAD, "'think_time' is for the closed model; these stages have rates (open model)"),
    ("rate-stages-with-start-users", load_section(*RATE_STAGES, "start_users: 1  # <-"),
     LOAD, "'start_users' is for users stages; these stages have rates: use start_rate"),
    ("users-stages-with-start-rate", load_section(*USERS_STAGES, "start_rate: 1  # <-"),
     LOAD, "'start_rate' is for rate stages; these stages have users: use start_users"),
    ("users-stages-with-max-in-flight", load_section(*USERS_STAGES, "max_in_flight: 9  # <-"),
     LOAD, "'max_in_flight' is for the open model; these stages have users (closed model)"),
    ("users-stages-with-arrival", load_section(*USERS_STAGES, "arrival: poisson  # <-"),
     LOAD, "'arrival' is for the open model; these stages have users (closed model)"),
    ("start-rate-negative", load_section(*RATE_STAGES, "start_rate: -1  # <-"),
     f"{LOAD} -> start_rate", "bad rate -1: must not be negative"),
    ("start-users-negative", load_section(*USERS_STAGES, "start_users: -1  # <-"),
     f"{LOAD} -> start_users", "must be an integer >= 0, got -1"),
]  # fmt: skip

BODY_CONTAINS = f"{REQ} -> expect_body_contains"
EXPECT_JSON = f"{REQ} -> expect_json"
EXPECT_HEADER = f"{REQ} -> expect_header"

CHECK_BAD_VALUES = [
    ("body-contains-empty", request_key("expect_body_contains: ''  # <-"),
     BODY_CONTAINS, "must be a non-empty string, got ''"),
    ("body-contains-number", request_key("expect_body_contains: 42  # <-"),
     BODY_CONTAINS, "must be a non-empty string, got 42; quote it"),
    ("body-contains-mapping", request_key("expect_body_contains: {a: 1}  # <-"),
     BODY_CONTAINS, "must be a non-empty string, got {'a': 1}"),
    ("body-contains-empty-list", request_key("expect_body_contains: []  # <-"),
     BODY_CONTAINS, "must be a string or a non-empty list of strings"),
    ("body-contains-list-item", request_key("expect_body_contains:", "  - ok", "  - 5  # <-"),
     f"{BODY_CONTAINS} -> 1", "must be a non-empty string, got 5; quote it"),
    ("body-contains-duplicate", request_key("expect_body_contains:", "  - ok", "  - ok  # <-"),
     f"{BODY_CONTAINS} -> 1", "duplicate 'ok' (also expect_body_contains -> 0)"),
    ("expect-json-empty", request_key("expect_json: {}  # <-"),
     EXPECT_JSON, "must be a non-empty mapping of dotted path to expected value, got {}"),
    ("expect-json-list", request_key("expect_json: [status]  # <-"),
     EXPECT_JSON, "must be a non-empty mapping of dotted path to expected value, got ['status']"),
    ("expect-json-number-key", request_key("expect_json:", "  1: x  # <-"),
     EXPECT_JSON, "must be a non-empty string, got 1; quote it"),
    ("expect-json-empty-path-part", request_key("expect_json:", "  items..id: 1  # <-"),
     EXPECT_JSON, "bad path 'items..id': use dotted keys and indexes, e.g. items.0.id"),
    ("expect-json-date", request_key("expect_json:", "  day: 2026-11-21  # <-"),
     f"{EXPECT_JSON} -> day", "must be a JSON value, got datetime.date(2026, 11, 21); quote it"),
    ("expect-json-nan", request_key("expect_json:", "  ratio: .nan  # <-"),
     f"{EXPECT_JSON} -> ratio", "must be a JSON value, got nan"),
    ("expect-json-nested-number-key", request_key("expect_json:", "  a: {b: [{1: x}]}  # <-"),
     f"{EXPECT_JSON} -> a -> b -> 0", "JSON object keys are strings, got 1; quote it"),
    ("expect-header-not-mapping", request_key("expect_header: content-type  # <-"),
     EXPECT_HEADER, "must be a mapping of header name to value or null, got 'content-type'"),
    ("expect-header-bool-value", request_key("expect_header:", "  X-Debug: on  # <-"),
     f"{EXPECT_HEADER} -> X-Debug", "must be a string, got True; quote it"),
    ("expect-header-list-value", request_key("expect_header:", "  X-A: [1]  # <-"),
     f"{EXPECT_HEADER} -> X-A", "must be a string, got [1]"),
    ("expect-header-empty-name", request_key("expect_header:", "  '': x  # <-"),
     EXPECT_HEADER, "must be a non-empty string, got ''"),
    ("expect-header-same-name-twice",
     request_key("expect_header:", "  Content-Type: a", "  content-type: a  # <-"),
     EXPECT_HEADER, "duplicate header 'content-type': names are case-insensitive"),
]  # fmt: skip


HTTP2_BAD_VALUES = [
    ("http2-on-the-fast-engine", scenario_key("engine: fast", "http2: true  # <-"),
     S, "http2: true needs the httpx engine (engine: httpx or auto): the fast engine speaks "
        "HTTP/1.1 only"),
    ("http2-not-a-flag", scenario_key("http2: h2  # <-"),
     f"{S} -> http2", "must be true or false, got 'h2'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "field_path", "problem"),
    [
        pytest.param(*case[1:], id=case[0])
        for case in BAD_VALUES + LOAD_MODEL_BAD_VALUES + CHECK_BAD_VALUES + HTTP2_BAD_VALUES
    ],
)
def test_bad_value_error_names_file_line_path_and_problem(
    tmp_path: Path, edit: tuple[str, str], field_path: str, problem: str
) -> None:
    text = edited(*edit)
    # Cases that delete a line have no marker: they point at the enclosing key.
    line = marked_line(text) if "# <-" in text else _enclosing_line(text, field_path)
    message = load_error(write(tmp_path, text))
    location = f"a.yaml:{line}: {field_path}: " if field_path else f"a.yaml:{line}: "
    assert location in message
    assert problem in message


def _enclosing_line(text: str, field_path: str) -> int:
    last = field_path.split(" -> ")[-1]
    start = "- " if last.isdigit() else f"{last}:"  # a list item: the line of its `- `
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start))


def test_full_file_round_trips_to_exact_dataclasses(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        scenarios:
          health_load:
            description: Health endpoint under normal load
            type: load
            severity: medium
            base_url: http://127.0.0.1:8000/
            requests:
              - name: health
                method: get
                path: /health
                weight: 3
                headers: {Accept: application/json, X-Count: 5}
                expect_status: 200
              - name: create
                method: POST
                path: /items
                weight: 0.5
                json: {name: widget, tags: [a, b], price: 9.5}
                expect_status: [200, 201]
              - name: upload
                method: put
                path: /raw
                body: hello
            load:
              users: 20
              duration: 1m30s
              ramp_up: 5s
              think_time: 250ms
              timeout: 2s
            thresholds:
              min_rps: 10
              max_p95_response_ms: 500
              max_error_rate: 1.5
            monitor:
              pid: 1234
              interval: 500ms
          cpu_burn:
            type: CPU
            severity: critical
            requests:
              - {name: burn, path: /cpu}
            load: {users: 1, requests_per_user: 100}
        """,
    )
    assert load_file(path, {}) == [
        Scenario(
            name="health_load",
            type=ScenarioType.LOAD,
            severity=Severity.MEDIUM,
            base_url="http://127.0.0.1:8000",
            requests=(
                RequestSpec(
                    name="health",
                    method="GET",
                    path="/health",
                    weight=3.0,
                    headers={"Accept": "application/json", "X-Count": "5"},
                    expect_status=(200,),
                ),
                RequestSpec(
                    name="create",
                    method="POST",
                    path="/items",
                    weight=0.5,
                    json={"name": "widget", "tags": ["a", "b"], "price": 9.5},
                    expect_status=(200, 201),
                ),
                RequestSpec(name="upload", method="PUT", path="/raw", body="hello"),
            ),
            load=LoadSpec(users=20, duration=90.0, ramp_up=5.0, think_time=0.25, timeout=2.0),
            thresholds=(
                Threshold(key="min_rps", metric="rps", bound=Bound.MIN, limit=10.0),
                Threshold(
                    key="max_p95_response_ms", metric="latency_p95_ms", bound=Bound.MAX, limit=500.0
                ),
                Threshold(key="max_error_rate", metric="error_rate", bound=Bound.MAX, limit=1.5),
            ),
            monitor=MonitorSpec(pid=1234, interval=0.5),
            description="Health endpoint under normal load",
            source=f"{path}:2",
        ),
        Scenario(
            name="cpu_burn",
            type=ScenarioType.CPU,
            severity=Severity.CRITICAL,
            base_url="demo",
            requests=(RequestSpec(name="burn", path="/cpu"),),
            load=LoadSpec(users=1, requests_per_user=100),
            thresholds=default_thresholds(ScenarioType.CPU),
            source=f"{path}:37",
            demo_default=True,  # no base_url: said loudly on the console
        ),
    ]


def test_omitted_fields_get_documented_defaults(tmp_path: Path) -> None:
    (scenario,) = load_file(write(tmp_path, BASE.replace("    description: Health check\n", "")))
    assert scenario.description == ""
    assert scenario.base_url == "demo"
    assert scenario.uses_demo_target
    assert scenario.requests == (
        RequestSpec(name="health", method="GET", path="/health", weight=1.0, headers={}),
    )
    assert scenario.requests[0].expect_status == (200,)
    assert scenario.load == LoadSpec(
        users=2, requests_per_user=3, ramp_up=0.0, think_time=0.0, timeout=10.0
    )
    assert scenario.thresholds == default_thresholds(ScenarioType.LOAD)
    assert scenario.monitor == MonitorSpec(pid=None, process=None, interval=1.0)


def test_explicit_null_json_means_no_json_body(tmp_path: Path) -> None:
    text = edited("path: /health", "path: /health\n        json: null\n        body: raw")
    (scenario,) = load_file(write(tmp_path, text), {})
    assert scenario.requests[0].json is None
    assert scenario.requests[0].body == "raw"


def test_yaml_anchors_and_merge_keys_are_not_duplicate_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        scenarios:
          a:
            type: load
            severity: low
            requests: [{name: r, path: /}]
            load: &load {users: 2, requests_per_user: 3}
          b:
            type: load
            severity: low
            requests: [{name: r, path: /}]
            load:
              <<: *load
              users: 9
        """,
    )
    first, second = load_file(path, {})
    assert first.load == LoadSpec(users=2, requests_per_user=3)
    assert second.load == LoadSpec(users=9, requests_per_user=3)


# --- load models, stages, warm-up ------------------------------------------------------


def load_of(tmp_path: Path, *lines: str, environ: dict[str, str] | None = None) -> LoadSpec:
    (scenario,) = load_file(write(tmp_path, edited(*load_section(*lines))), environ or {})
    return scenario.load


def test_rate_makes_an_open_model_load_with_defaults(tmp_path: Path) -> None:
    assert load_of(tmp_path, "rate: 300", "duration: 30s") == LoadSpec(
        model=LoadModel.OPEN,
        users=0,
        rate=300.0,
        duration=30.0,
        arrival=Arrival.UNIFORM,
        max_in_flight=1000,
        warmup=0.0,
        timeout=10.0,
    )


def test_open_model_reads_every_option(tmp_path: Path) -> None:
    load = load_of(
        tmp_path,
        "rate: 18000/m",
        "duration: 1m",
        "max_in_flight: 50",
        "arrival: Poisson",
        "warmup: 5s",
        "timeout: 2s",
        "users: null",  # an explicit null is "not set", as everywhere else
    )
    assert load == LoadSpec(
        model=LoadModel.OPEN,
        rate=300.0,
        duration=60.0,
        max_in_flight=50,
        arrival=Arrival.POISSON,
        warmup=5.0,
        timeout=2.0,
    )


@pytest.mark.parametrize(
    ("rate", "per_second"),
    [("300", 300.0), ("2.5", 2.5), ("'300 / s'", 300.0), ("7200/h", 2.0), ("${RATE:-600/m}", 10.0)],
)
def test_rate_accepts_per_second_minute_and_hour(
    tmp_path: Path, rate: str, per_second: float
) -> None:
    assert load_of(tmp_path, f"rate: {rate}", "duration: 5s").rate == pytest.approx(per_second)


def test_rate_stages_make_an_open_model_load_lasting_their_sum(tmp_path: Path) -> None:
    load = load_of(
        tmp_path,
        "stages:",
        "  - {duration: 10s, rate: 50}",
        "  - {duration: 5s, rate: 400/s}",
        "  - {duration: 10s, rate: 0}",
        "start_rate: 10",
        "arrival: poisson",
        "max_in_flight: 200",
        "warmup: 10s",
    )
    assert load == LoadSpec(
        model=LoadModel.OPEN,
        duration=25.0,
        stages=(Stage(10.0, 50.0), Stage(5.0, 400.0), Stage(10.0, 0.0)),
        start=10.0,
        arrival=Arrival.POISSON,
        max_in_flight=200,
        warmup=10.0,
    )


def test_users_stages_make_a_closed_model_load_sized_for_the_peak(tmp_path: Path) -> None:
    load = load_of(
        tmp_path,
        "stages:",
        "  - {duration: 5s, users: 10}",
        "  - {duration: 20s, users: 25}",
        "  - {duration: 5s, users: 0}",
        "start_users: 2",
        "think_time: 100ms",
    )
    assert load == LoadSpec(
        model=LoadModel.CLOSED,
        users=25,
        duration=30.0,
        stages=(Stage(5.0, 10.0), Stage(20.0, 25.0), Stage(5.0, 0.0)),
        start=2.0,
        think_time=0.1,
    )


def test_stage_starts_default_to_zero(tmp_path: Path) -> None:
    assert load_of(tmp_path, "stages: [{duration: 5s, rate: 5}]").start == 0.0
    assert load_of(tmp_path, "stages: [{duration: 5s, users: 5}]").start == 0.0


def test_closed_model_is_the_default_and_takes_a_warmup(tmp_path: Path) -> None:
    load = load_of(tmp_path, "users: 2", "requests_per_user: 3", "warmup: 1m")
    # No known duration with requests_per_user, so any warm-up is accepted.
    assert load == LoadSpec(model=LoadModel.CLOSED, users=2, requests_per_user=3, warmup=60.0)
    load = load_of(tmp_path, "users: 2", "duration: 30s", "warmup: 29s")
    assert (load.model, load.duration, load.warmup) == (LoadModel.CLOSED, 30.0, 29.0)


def test_leak_cycles_repeat_the_load_with_a_rest(tmp_path: Path) -> None:
    load = load_of(tmp_path, "users: 2", "requests_per_user: 3", "cycles: 5", "rest: 10s")
    assert (load.cycles, load.rest, load.requests_per_user) == (5, 10.0, 3)
    assert (load_of(tmp_path, "rate: 5", "duration: 2s").cycles, load.rest) == (1, 10.0)
    plain = load_of(tmp_path, "users: 2", "duration: 3s")
    assert (plain.cycles, plain.rest) == (1, 0.0)


# --- response checks --------------------------------------------------------------------


def checks_of(tmp_path: Path, *lines: str) -> Checks:
    (scenario,) = load_file(write(tmp_path, edited(*request_key(*lines))), {})
    return scenario.requests[0].checks


def test_request_without_expectations_has_no_checks(tmp_path: Path) -> None:
    (scenario,) = load_file(write(tmp_path, BASE), {})
    assert scenario.requests[0].checks == Checks()
    assert not scenario.requests[0].checks


def test_body_contains_takes_a_string_or_a_list(tmp_path: Path) -> None:
    assert checks_of(tmp_path, "expect_body_contains: ok") == Checks(body_contains=("ok",))
    assert checks_of(tmp_path, "expect_body_contains: [ok, '\"up\"']") == Checks(
        body_contains=("ok", '"up"')
    )


def test_expect_json_keeps_paths_and_plain_values(tmp_path: Path) -> None:
    checks = checks_of(
        tmp_path,
        "expect_json:",
        "  status: ok",
        "  items.0.id: 1",
        "  'meta.tags': [a, {b: null}]",
        "  price: 9.5",
        "  deleted: false",
        "  parent: null",
    )
    assert checks == Checks(
        json={
            "status": "ok",
            "items.0.id": 1,
            "meta.tags": ["a", {"b": None}],
            "price": 9.5,
            "deleted": False,
            "parent": None,
        }
    )
    assert type(checks.json) is dict
    assert type(checks.json["meta.tags"][1]) is dict  # not the loader's line-tracking dict


def test_expect_header_lower_cases_names_and_keeps_null_as_present(tmp_path: Path) -> None:
    checks = checks_of(
        tmp_path,
        "expect_header:",
        "  Content-Type: application/json",
        "  X-Request-Id: null",
        "  X-Count: 5",
        "  X-Empty: ''",
    )
    assert checks == Checks(
        headers={
            "content-type": "application/json",
            "x-request-id": None,
            "x-count": "5",
            "x-empty": "",
        }
    )


def test_all_three_checks_together(tmp_path: Path) -> None:
    checks = checks_of(
        tmp_path,
        "expect_status: [200, 201]",
        "expect_body_contains: ok",
        "expect_json: {status: ok}",
        "expect_header: {content-type: application/json}",
    )
    assert checks == Checks(
        body_contains=("ok",),
        json={"status": "ok"},
        headers={"content-type": "application/json"},
    )


# --- file-level errors ------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    text = edited("severity: medium", "severity: medium: high  # <-")
    message = load_error(write(tmp_path, text))
    assert f"a.yaml:{marked_line(text)}:" in message
    # libyaml's wording ("in this context"), or PyYAML's own ("here") without libyaml
    assert "YAML syntax error: mapping values are not allowed " in message
    assert "Traceback" not in message


def test_duplicate_yaml_key_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    text = edited("users: 2", "users: 2\n      users: 4  # <-")
    message = load_error(write(tmp_path, text))
    assert f"a.yaml:{marked_line(text)}:" in message
    assert f"duplicate key 'users' (first on line {marked_line(text) - 1})" in message


NOT_A_MAPPING = "expected a mapping with a top-level 'scenarios:' key"
SCENARIOS_MAPPING = "'scenarios' must be a mapping of name to scenario"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", NOT_A_MAPPING, id="empty"),
        pytest.param("- a\n- b\n", NOT_A_MAPPING, id="list"),
        pytest.param("just text\n", NOT_A_MAPPING, id="scalar"),
        pytest.param("other: 1\n", "unknown key 'other'; known keys: scenarios", id="no-key"),
        pytest.param("scenarios: 5\n", f"{SCENARIOS_MAPPING}, got 5", id="scenarios-not-mapping"),
        pytest.param("scenarios:\n", f"{SCENARIOS_MAPPING}, got nothing", id="scenarios-empty"),
    ],
)  # fmt: skip
def test_file_without_a_scenarios_mapping_is_an_error_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    message = load_error(write(tmp_path, text))
    assert f"{tmp_path / 'a.yaml'}" in message
    assert problem in message


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"scenarios: \xff\xfe\n")
    assert "cannot read scenario file" in load_error(path)


# --- environment substitution -----------------------------------------------------------


def test_env_default_is_used_when_variable_is_unset(tmp_path: Path) -> None:
    text = edited("severity: medium", "severity: medium\n    base_url: ${TARGET:-demo}")
    (scenario,) = load_file(write(tmp_path, text), {})
    assert scenario.base_url == "demo"


def test_env_value_wins_over_default(tmp_path: Path) -> None:
    text = edited("severity: medium", "severity: medium\n    base_url: ${TARGET:-demo}")
    (scenario,) = load_file(write(tmp_path, text), {"TARGET": "https://api.example.com/"})
    assert scenario.base_url == "https://api.example.com"


def test_env_empty_value_falls_back_to_default_like_the_shell(tmp_path: Path) -> None:
    text = edited("users: 2", "users: ${USERS:-7}")
    (scenario,) = load_file(write(tmp_path, text), {"USERS": ""})
    assert scenario.load.users == 7


def test_missing_env_variable_names_variable_and_location(tmp_path: Path) -> None:
    text = edited("users: 2", "users: 2\n      timeout: ${TIMEOUT}  # <-")
    message = load_error(write(tmp_path, text))
    assert f"a.yaml:{marked_line(text)}: health_load -> load -> timeout:" in message
    assert "environment variable TIMEOUT is not set" in message
    assert "${TIMEOUT:-default}" in message


def test_whole_value_substitution_is_reparsed_as_yaml_scalar(tmp_path: Path) -> None:
    text = edited("users: 2", "users: ${USERS:-20}")
    assert load_file(write(tmp_path, text), {})[0].load.users == 20
    assert load_file(write(tmp_path, text), {"USERS": "4"})[0].load.users == 4


def test_reparsed_substitution_is_still_validated(tmp_path: Path) -> None:
    text = edited("users: 2", "users: ${USERS}  # <-")
    message = load_error(write(tmp_path, text), {"USERS": "0"})
    assert f"a.yaml:{marked_line(text)}: health_load -> load -> users:" in message
    assert "must be an integer >= 1, got 0" in message


def test_partial_substitution_stays_a_string(tmp_path: Path) -> None:
    text = edited("path: /health", "path: /items/${ID:-7}")
    assert load_file(write(tmp_path, text), {})[0].requests[0].path == "/items/7"
    text = edited("description: Health check", "description: ${N:-5}0")
    assert load_file(write(tmp_path, text), {})[0].description == "50"


def test_double_dollar_is_a_literal_dollar_brace(tmp_path: Path) -> None:
    text = edited("path: /health", "path: /health\n        body: 'price: $${PRICE}'")
    (scenario,) = load_file(write(tmp_path, text), {"PRICE": "9"})
    assert scenario.requests[0].body == "price: ${PRICE}"


def test_substitution_reaches_nested_headers_and_json(tmp_path: Path) -> None:
    text = edited(
        "path: /health",
        "path: /health\n"
        "        headers: {Authorization: 'Bearer ${TOKEN}'}\n"
        "        json: {user: {id: '${USER_ID}', tags: ['${TAG:-x}']}}",
    )
    (scenario,) = load_file(write(tmp_path, text), {"TOKEN": "t0k", "USER_ID": "42"})
    assert scenario.requests[0].headers == {"Authorization": "Bearer t0k"}
    assert scenario.requests[0].json == {"user": {"id": 42, "tags": ["x"]}}


def test_missing_variable_in_json_names_the_nested_path(tmp_path: Path) -> None:
    text = edited("path: /health", "path: /health\n        json: {user: [1, '${WHO}']}  # <-")
    message = load_error(write(tmp_path, text))
    assert "health_load -> requests -> 0 -> json -> user -> 1:" in message
    assert f"a.yaml:{marked_line(text)}:" in message
    assert "WHO" in message


def test_malformed_substitution_is_an_error(tmp_path: Path) -> None:
    text = edited("path: /health", "path: /health/${1BAD}  # <-")
    message = load_error(write(tmp_path, text))
    assert f"a.yaml:{marked_line(text)}: health_load -> requests -> 0 -> path:" in message
    assert "bad ${...} expression" in message


# --- directories ------------------------------------------------------------------------


def test_load_scenarios_reads_yaml_and_yml_recursively(tmp_path: Path) -> None:
    write(tmp_path, BASE, "b.yaml")
    write(tmp_path, BASE.replace("health_load", "nested"), "sub/c.yml")
    write(tmp_path, "not yaml at all: [", "notes.txt")
    scenarios = load_scenarios(tmp_path, {})
    assert sorted(scenarios) == ["health_load", "nested"]
    assert scenarios["nested"].source == f"{tmp_path / 'sub' / 'c.yml'}:2"


def test_same_scenario_name_in_two_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, BASE, "a.yaml")
    write(tmp_path, "\n\n" + BASE, "b.yaml")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenarios(tmp_path, {})
    message = str(excinfo.value)
    assert "scenario 'health_load' is defined twice" in message
    assert f"{tmp_path / 'a.yaml'}:2" in message
    assert f"{tmp_path / 'b.yaml'}:4" in message


def test_same_scenario_name_twice_in_one_file_is_an_error(tmp_path: Path) -> None:
    text = BASE + BASE.removeprefix("scenarios:\n").replace(
        "  health_load:", "  health_load:  # <-"
    )
    message = load_error(write(tmp_path, text))
    assert f"a.yaml:{marked_line(text)}:" in message
    assert "duplicate key 'health_load' (first on line 2)" in message


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="scenario directory not found") as excinfo:
        load_scenarios(tmp_path / "nope", {})
    assert str(tmp_path / "nope") in str(excinfo.value)


def test_directory_without_scenario_files_is_named(tmp_path: Path) -> None:
    write(tmp_path, "hello", "readme.md")
    with pytest.raises(ScenarioError, match="no scenario files") as excinfo:
        load_scenarios(tmp_path, {})
    assert str(tmp_path) in str(excinfo.value)


def test_files_defining_no_scenarios_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "scenarios: {}\n")
    with pytest.raises(ScenarioError, match="define no scenarios"):
        load_scenarios(tmp_path, {})


def test_error_in_one_file_stops_loading_and_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, BASE, "a.yaml")
    write(tmp_path, edited("users: 2", "users: -1"), "b.yaml")
    with pytest.raises(ScenarioError, match=r"b\.yaml:10: health_load -> load -> users: "):
        load_scenarios(tmp_path, {})


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("{p95: 5%, rps: 20}", {"p95": 5.0, "rps": 20.0}),
        ("{error_rate: '2.5%', memory_mb: 0}", {"error_rate": 2.5, "memory_mb": 0.0}),
        ("null", {}),
    ],
)
def test_regression_block_gives_per_metric_tolerances(
    tmp_path: Path, block: str, expected: dict[str, float]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "scenarios:\n  a:\n    type: load\n    severity: low\n"
        "    requests: [{name: h, path: /}]\n    load: {users: 1, requests_per_user: 1}\n"
        f"    regression: {block}\n"
    )
    assert load_file(path)[0].regression == expected


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{p96: 5%}", "unknown key 'p96'; did you mean 'p99'?"),
        ("{p95: abc}", "must be a percentage like 10% or 10, got 'abc'"),
        ("{p95: -3}", "must be a number >= 0"),
    ],
)
def test_bad_regression_block_names_the_metric(tmp_path: Path, block: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "scenarios:\n  a:\n    type: load\n    severity: low\n"
        "    requests: [{name: h, path: /}]\n    load: {users: 1, requests_per_user: 1}\n"
        f"    regression: {block}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    assert "r.yaml:7" in str(caught.value)
    assert "a -> regression" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("lines", "http2"),
    [
        ((), False),
        (("http2: true",), True),
        (("engine: httpx", "http2: true"), True),
        (("engine: fast", "http2: false"), False),
    ],
)
def test_http2_is_off_by_default_and_read_as_a_flag(
    tmp_path: Path, lines: tuple[str, ...], http2: bool
) -> None:
    (scenario,) = load_file(write(tmp_path, edited(*scenario_key(*lines))), {})
    assert scenario.http2 is http2


MINIMAL = """\
scenarios:
  {name}:
    type: load
    severity: low
    requests: [{{name: r, path: /}}]
    load: {{users: 1, requests_per_user: 1}}
"""


def test_yaml_files_without_a_scenarios_key_are_skipped_not_fatal(tmp_path: Path) -> None:
    """A docker-compose.yml, a CI workflow, a Helm template YAML cannot even read: beside
    the scenarios, none stops the run; each is listed as skipped."""
    (tmp_path / "a.yaml").write_text(MINIMAL.format(name="a"))
    (tmp_path / "docker-compose.yml").write_text("services:\n  web: {image: nginx}\n")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "workflow.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / "chart.yaml").write_text("name: {{ .Values.name }}\n  bad: [indent\n")
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    skipped: list[Path] = []

    found = load_scenarios(tmp_path, {}, skipped)

    assert list(found) == ["a"]
    assert sorted(p.name for p in skipped) == [
        "chart.yaml", "docker-compose.yml", "list.yaml", "workflow.yml",
    ]  # fmt: skip


def test_a_broken_scenario_file_is_still_an_error(tmp_path: Path) -> None:
    """A file whose top level says `scenarios:` is a scenario file, readable or not."""
    (tmp_path / "a.yaml").write_text(MINIMAL.format(name="a"))
    (tmp_path / "broken.yaml").write_text("scenarios:\n  b: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"broken\.yaml:\d+:\d+: YAML syntax error"):
        load_scenarios(tmp_path, {})


def test_every_problem_of_every_file_is_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL.format(name="a"))
    (tmp_path / "b.yaml").write_text(MINIMAL.format(name="a"))  # defined twice
    (tmp_path / "c.yaml").write_text(MINIMAL.format(name="c").replace("low", "extreme"))
    (tmp_path / "d.yaml").write_text("scenarios:\n  d: [unclosed\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenarios(tmp_path, {})

    message = str(caught.value)
    assert message.startswith("3 problems in the scenario files:\n")
    assert "scenario 'a' is defined twice" in message
    assert "c.yaml:" in message and "extreme" in message
    assert "d.yaml:" in message and "YAML syntax error" in message


def test_a_directory_of_only_other_yaml_says_so(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    with pytest.raises(ScenarioError, match="no YAML file here has a top-level 'scenarios:'"):
        load_scenarios(tmp_path, {})


def test_type_severity_and_request_names_have_defaults(tmp_path: Path) -> None:
    """The smallest scenario: requests and a load. Type `load`, severity `medium`, each
    request named as it is sent; two unnamed requests alike are a duplicate."""
    path = write(
        tmp_path,
        """\
        scenarios:
          mini:
            requests: [{path: /health}, {method: post, path: /items}]
            load: {users: 1, requests_per_user: 1}
        """,
    )
    (scenario,) = load_file(path)
    assert (scenario.type, scenario.severity) == (ScenarioType.LOAD, Severity.MEDIUM)
    assert [r.name for r in scenario.requests] == ["GET /health", "POST /items"]
    assert scenario.demo_default and scenario.uses_demo_target
    twice = write(
        tmp_path,
        "scenarios:\n  t:\n    requests: [{path: /a}, {path: /a}]\n"
        "    load: {users: 1, requests_per_user: 1}\n",
    )
    with pytest.raises(ScenarioError, match="duplicate request name 'GET /a'"):
        load_file(twice)
