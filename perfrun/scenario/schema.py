"""The scenario file's language, declared once: each section's keys and what each takes.

The loader takes the keys it allows from these sections (`SCENARIO.allowed`), and
`scenario_schema()` renders the same sections as a JSON Schema (draft 2020-12) for editors
(`perfrun schema`), so a key the loader allows has its schema by construction; the
vocabularies come from the model's StrEnums and the metric registry. The schema checks
keys, value types and vocabularies, and the rules between keys it can state plainly (`json`
or `body`; which load shape a key belongs to); the rest (a template naming a variable
nobody defines, `warn` on the wrong side of `limit`) stays the loader's, whose messages
name the file and line.

Two habits of the loader run through it: an optional key set to `null` means its default,
and `${VAR}` is substituted in every value before it is read, so a value the schema would
type as a number may be written as a string holding a `${...}`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfrun.scenario._fragments import (
    ANY_TEXT,
    DEFINITIONS,
    DURATION,
    HEADER_VALUE,
    NON_EMPTY,
    POSITIVE_DURATION,
    POSITIVE_RATE,
    RATE,
    VARIABLE,
    Fragment,
    any_of,
    case_free,
    choice,
    enum_of,
    flag,
    integer,
    list_of,
    not_both,
    one_key,
    present,
    ref,
    shape,
    text,
)
from perfrun.scenario.captures import Source
from perfrun.scenario.data import Order
from perfrun.scenario.metrics import BY_THRESHOLD, COMPARED, PERCENT_METRICS, Metric
from perfrun.scenario.model import Arrival, EngineChoice, ScenarioType, Severity
from perfrun.scenario.target import TargetScope

SCHEMA_ID = "urn:perfrun:schema:scenario-file"
"""A name, not an address: the schema is printed by `perfrun schema`, never fetched."""
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PER_REQUEST = "per_request"
NONE = "none"
WINDOWED_FIGURES = ("latency_ms", "requests")
"""Where a figure must be in a report for a window or one request to be judged on it:
the timeline and each endpoint keep latency and request counts, not resources."""


@dataclass(frozen=True)
class Key:
    """One key of a section: the schema of its value, and what it means."""

    value: Fragment
    description: str = ""
    required: bool = False
    nullable: bool = True
    """An explicit `null` means the default (the loader's `optional`)."""


@dataclass(frozen=True)
class Section:
    """A mapping the loader reads with `mapping(value, loc, section.allowed)`: its keys,
    in the order the loader's unknown-key hint lists them."""

    name: str
    """Its name under the schema's `$defs`."""
    description: str
    keys: Mapping[str, Key]
    rules: tuple[Fragment, ...] = field(default=())
    """Rules between its keys that the schema states (`allOf`)."""

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(self.keys)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, key in self.keys.items() if key.required)


# --- sections ---------------------------------------------------------------------------

AUTH = Section(
    "auth",
    "The Authorization header: one of basic or bearer (templates allowed)",
    {
        "basic": Key(
            {"type": "array", "prefixItems": [NON_EMPTY, ANY_TEXT], "minItems": 2, "maxItems": 2},
            "[user, password]",
            nullable=False,
        ),
        "bearer": Key(NON_EMPTY, "The token: sent as `Bearer TOKEN`", nullable=False),
    },
    rules=({"minProperties": 1, "maxProperties": 1},),
)

_CAPTURED: Mapping[Source, Key] = {
    Source.JSON: Key(NON_EMPTY, "A JMESPath expression into the JSON body", nullable=False),
    Source.HEADER: Key(NON_EMPTY, "A response header (any case)", nullable=False),
    Source.REGEX: Key(
        NON_EMPTY,
        "A regular expression: group 1 of its first match in the body",
        nullable=False,
    ),
    Source.STATUS: Key({"const": True}, "true: the status code", nullable=False),
}
CAPTURE = Section(
    "capture",
    "What to take from the response: one of json, header, regex or status",
    # From the enum, so that a new source without its entry here fails at import.
    {source.value: _CAPTURED[source] for source in Source},
    rules=({"minProperties": 1, "maxProperties": 1},),
)

_REQUEST_KEYS: dict[str, Key] = {
    "name": Key(NON_EMPTY, "Unique in the scenario; default `METHOD path`"),
    "method": Key(choice(METHODS), "The HTTP method (any case); default GET"),
    "path": Key(
        text("^/"),
        "Starts with /, appended to the base URL; may carry a query string",
        required=True,
        nullable=False,
    ),
    "weight": Key(
        any_of({"type": "number", "exclusiveMinimum": 0}, VARIABLE),
        "Picked at random in proportion to its weight; default 1",
    ),
    "headers": Key(
        {
            "type": "object",
            "propertyNames": {"minLength": 1},
            "additionalProperties": HEADER_VALUE,
        },
        "Header name -> value",
    ),
    "json": Key({}, "A body sent as JSON (any JSON value); not with body"),
    "body": Key(ANY_TEXT, "A raw text body; not with json"),
    "expect_status": Key(
        any_of(
            {"type": "integer", "minimum": 100, "maximum": 599},
            list_of({"type": "integer", "minimum": 100, "maximum": 599}),
            VARIABLE,
        ),
        "A status code or a list of them; default 200",
    ),
    "expect_body_contains": Key(
        any_of(NON_EMPTY, list_of(NON_EMPTY, unique=True)),
        "Text the body must contain: a string or a list of them",
    ),
    "expect_json": Key(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[^.]+(?:\.[^.]+)*$"},
        },
        "Dotted path (keys, list indexes) -> the value the JSON body must hold there",
    ),
    "expect_header": Key(
        {
            "type": "object",
            "propertyNames": {"minLength": 1},
            "additionalProperties": {"type": ["string", "number", "null"]},
        },
        "Header name (any case) -> its exact value, or null: must be present",
    ),
    "auth": Key(ref("auth"), "This request's Authorization (not with an Authorization header)"),
}
REQUEST = Section(
    "request",
    "A request of the mix, drawn at random by weight",
    _REQUEST_KEYS,
    rules=(not_both("json", "body"),),
)
STEP = Section(
    "step",
    "A step of a flow, run in order by each user",
    {
        **{name: key for name, key in _REQUEST_KEYS.items() if name != "weight"},
        "once": Key(flag(), "Once per user, before its first iteration (e.g. a login)"),
        "capture": Key(
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": ref("capture"),
            },
            "Variable name -> what to take from the response, for later steps",
        ),
        "think_time": Key(DURATION, "This step's pause after its response (else the load's)"),
    },
    rules=(not_both("json", "body"),),
)

STAGE = Section(
    "stage",
    "Ramp linearly to users or rate over duration; one kind in all stages",
    {
        "duration": Key(POSITIVE_DURATION, "How long this stage ramps"),
        "rate": Key(RATE, "Requests per second at its end (open model)"),
        "users": Key(integer(0), "Users at its end (closed model)"),
    },
    rules=(present("duration"), {"oneOf": [present("users"), present("rate")]}),
)

LOAD = Section(
    "load",
    "How much load and its shape: stages, else rate (open model), else users (closed)",
    {
        "users": Key(integer(1), "Concurrent virtual users (closed model)"),
        "requests_per_user": Key(integer(1), "Requests each user sends (or duration)"),
        "duration": Key(POSITIVE_DURATION, "How long the load runs"),
        "ramp_up": Key(DURATION, "Users start evenly spread over this time"),
        "think_time": Key(DURATION, "Each user's pause after a response"),
        "timeout": Key(POSITIVE_DURATION, "Per request, connect to last byte; default 10s"),
        "rate": Key(POSITIVE_RATE, "Requests per second (open model): 300, 300/s, 18000/m"),
        "max_in_flight": Key(integer(1), "Cap on concurrent requests (open model)"),
        "arrival": Key(enum_of(Arrival), "Gaps between arrivals (open model)"),
        "warmup": Key(DURATION, "The first part of the run, kept out of the figures"),
        "stages": Key(list_of(ref("stage")), "Ramps of users or of a rate, in order"),
        "start_rate": Key(RATE, "Where the first rate stage ramps from"),
        "start_users": Key(integer(0), "Where the first users stage ramps from"),
        "iterations": Key(integer(1), "A flow: times each user runs its steps"),
        "cycles": Key(integer(1), "Leak cycles: run the load this many times"),
        "rest": Key(DURATION, "After each cycle, this long without requests"),
    },
    # The three shapes (see _load.py); the loader's messages say which shape a key is for.
    rules=(
        shape(
            present("rate"),
            (
                "stages",
                "users",
                "requests_per_user",
                "ramp_up",
                "think_time",
                "start_users",
                "start_rate",
                "iterations",
            ),
            needs="duration",
        ),
        shape(
            present("stages"),
            ("rate", "duration", "users", "requests_per_user", "ramp_up"),
        ),
        shape(
            {"not": {"anyOf": [present("rate"), present("stages")]}},
            ("max_in_flight", "arrival", "start_users", "start_rate"),
            needs="users",
        ),
        not_both("requests_per_user", "duration"),
        not_both("requests_per_user", "iterations"),
    ),
)


_LEVEL = any_of({"type": "number", "minimum": 0}, VARIABLE)

TIER = Section(
    "threshold_tier",
    "A threshold's long form; each metric's own bounds are under thresholds",
    {
        "limit": Key(_LEVEL, "Beyond it: fail", required=True, nullable=False),
        "warn": Key(_LEVEL, "Beyond it, but not beyond limit: warn"),
        "over": Key(POSITIVE_DURATION, "Judge every sliding window this long (whole seconds)"),
        "abort": Key(flag(), "true: stop the scenario as soon as it fails", nullable=False),
    },
)


def _windowed(metric: Metric) -> bool:
    return metric.path[0] in WINDOWED_FIGURES


def _threshold(metric: Metric, whole_scenario: bool = True) -> Fragment:
    """A number or the tier form, with the metric's own bounds: a percentage up to 100,
    `over` on the timeline's figures only, `abort` needing `over` except on a peak, and
    neither for one request."""
    if not whole_scenario and not _windowed(metric):
        return False  # the loader knows the key, and says it is not measured per request
    level = {"maximum": 100} if metric.name in PERCENT_METRICS else {}
    bounds: dict[str, Any] = {"limit": level, "warn": level}
    if not (whole_scenario and _windowed(metric)):
        bounds["over"] = {"type": "null"}
    if not whole_scenario:
        bounds["abort"] = {"const": False}
    tier: dict[str, Any] = {"allOf": [ref(TIER.name)], "properties": bounds}
    if whole_scenario and not metric.peak:
        tier["if"] = {"required": ["abort"], "properties": {"abort": {"const": True}}}
        tier["then"] = present("over")
    return any_of({"type": "number", "minimum": 0, **level}, VARIABLE, {"type": "object", **tier})


def _metric_text(metric: Metric) -> str:
    side = "at most" if metric.higher_is_worse else "at least"
    return f"{metric.name} must be {side} this ({metric.unit}); or {{limit, warn, over, abort}}"


REQUEST_THRESHOLDS = Section(
    "request_thresholds",
    "One request's (or flow step's) own thresholds: latency and request counts",
    {
        key: Key(_threshold(m, False), _metric_text(m), nullable=False)
        for key, m in BY_THRESHOLD.items()
    },
)
THRESHOLDS = Section(
    "thresholds",
    "Limits that judge the run",
    {
        **{
            key: Key(_threshold(m), _metric_text(m), nullable=False)
            for key, m in BY_THRESHOLD.items()
        },
        PER_REQUEST: Key(
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": ref("request_thresholds"),
            },
            "Request or step name -> its own thresholds",
            nullable=False,
        ),
    },
    rules=({"minProperties": 1},),
)

REGRESSION = Section(
    "regression",
    "Per-metric tolerances in percent for --baseline",
    {
        key: Key(
            any_of(
                {"type": "number", "minimum": 0},
                {
                    "type": "string",
                    "pattern": r"^\s*\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*%?\s*$",
                },
                VARIABLE,
            ),
            f"Tolerance for {metric.name}: 5% or 5",
            nullable=False,
        )
        for key, metric in COMPARED.items()
    },
)

MONITOR = Section(
    "monitor",
    "Which process is the target whose resources are measured",
    {
        "pid": Key(integer(1), "The target process's id"),
        "process": Key(NON_EMPTY, "Text in the target process's name or command line"),
        "interval": Key(POSITIVE_DURATION, "Sampling interval; default 1s"),
    },
    rules=(not_both("pid", "process"),),
)

DATA = Section(
    "data",
    "Per-user data rows",
    {
        "file": Key(
            NON_EMPTY,
            "CSV with a header row, a JSON array of objects or JSON lines, relative to this file",
            required=True,
            nullable=False,
        ),
        "order": Key(enum_of(Order), "Which row a user's iteration uses"),
    },
)

TLS = Section(
    "tls",
    "How HTTPS is checked; files relative to this file",
    {
        "verify": Key(flag(), "false: do not check the server's certificate"),
        "ca": Key(NON_EMPTY, "A CA bundle to trust"),
        "cert": Key(NON_EMPTY, "A client certificate"),
        "key": Key(NON_EMPTY, "The client certificate's key"),
    },
)

READY = Section(
    "ready",
    "When the launched target is ready: one of http, tcp or log, and a timeout",
    {
        "http": Key(text("^/"), "A path answering 2xx to a GET", nullable=False),
        "tcp": Key({"const": True}, "true: the port accepts a connection", nullable=False),
        "log": Key(NON_EMPTY, "Text its output contains", nullable=False),
        "timeout": Key(POSITIVE_DURATION, "How long to wait; default 30s"),
    },
    rules=(one_key(("http", "tcp", "log")),),
)

STOP = Section(
    "stop",
    "How the launched target is stopped",
    {
        "signal": Key(NON_EMPTY, "A signal name: SIGTERM, SIGINT, QUIT, ..."),
        "grace": Key(DURATION, "Then SIGKILL this long after; default 10s"),
    },
)

TARGET = Section(
    "target",
    "The service under test, launched by perfrun",
    {
        "command": Key(
            any_of(NON_EMPTY, list_of(any_of(NON_EMPTY, {"type": "integer"}))),
            "A list of strings, or one string split like a shell would; {port}: a free port",
            required=True,
            nullable=False,
        ),
        "cwd": Key(NON_EMPTY, "The directory it runs in, relative to this file"),
        "env": Key(
            {
                "type": "object",
                "propertyNames": {"pattern": "^[^=]+$"},
                "additionalProperties": {"type": ["string", "number"]},
            },
            "Variables added to perfrun's environment",
        ),
        "ready": Key(ref("ready"), "When it is ready; default {tcp: true, timeout: 30s}"),
        "stop": Key(ref("stop"), "How it is stopped; default {signal: SIGTERM, grace: 10s}"),
        "scope": Key(enum_of(TargetScope), "run: one process for the run; scenario: one each"),
    },
)

SCENARIO = Section(
    "scenario",
    "A scenario: what to send (requests or flow), how hard (load), what counts as good",
    {
        "description": Key(ANY_TEXT, "Shown in the reports"),
        "type": Key(enum_of(ScenarioType), "A label for selection and reports; default load"),
        "severity": Key(enum_of(Severity), "For selection and --fail-on; default medium"),
        "base_url": Key(
            any_of(
                {"const": "demo"},
                {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://."},
                VARIABLE,
            ),
            "demo (the built-in target) or an http:// or https:// URL",
        ),
        "engine": Key(enum_of(EngineChoice), "The HTTP engine; default auto"),
        "requests": Key(list_of(ref("request")), "The request mix (or flow)"),
        "load": Key(ref("load"), "How much load and its shape", required=True, nullable=False),
        "thresholds": Key(
            any_of(
                ref("thresholds"),
                {"type": "string", "pattern": case_free([NONE], spaces=True)},
                VARIABLE,
            ),
            "Limits that judge the run; none: judge nothing; left out: the type's defaults",
        ),
        "monitor": Key(ref("monitor"), "Which process is the target"),
        "regression": Key(ref("regression"), "Per-metric tolerances for --baseline"),
        "flow": Key(list_of(ref("step")), "Steps each user runs in order (or requests)"),
        "data": Key(ref("data"), "Per-user data rows: {file, order}"),
        "cookies": Key(flag(), "Each user keeps its own cookie jar; default true"),
        "max_redirects": Key(integer(0), "Redirects a request follows; default 10"),
        "max_body": Key(
            integer(1),
            "Bytes of a response body kept for checks and captures (default 8 MiB); a "
            "larger one they need fails the request as body_too_large",
        ),
        "auth": Key(ref("auth"), "Authorization for every request without its own"),
        "tls": Key(ref("tls"), "HTTPS: {verify, ca, cert, key}"),
        "http2": Key(flag(), "true: every request over HTTP/2 (the httpx engine)"),
        "target": Key(ref("target"), "The service under test, launched by perfrun"),
    },
    rules=({"oneOf": [present("requests"), present("flow")]},),
)

FILE = Section(
    "file",
    "A perfrun scenario file",
    {
        "scenarios": Key(
            {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"},
                "additionalProperties": ref("scenario"),
            },
            "Scenario name (letters, digits, _, - and .) -> scenario",
            required=True,
            nullable=False,
        ),
    },
)

SECTIONS: tuple[Section, ...] = (
    FILE, SCENARIO, REQUEST, STEP, AUTH, CAPTURE, LOAD, STAGE, THRESHOLDS,
    TIER, REQUEST_THRESHOLDS, REGRESSION, MONITOR, DATA, TLS, TARGET, READY, STOP,
)  # fmt: skip
"""Every mapping of the language; each is a `$defs` entry of the schema (the file's
is the schema's root)."""


# --- the schema -------------------------------------------------------------------------


def section_schema(section: Section) -> dict[str, Any]:
    """`section` as a closed JSON Schema object: its keys, the required ones, its rules."""
    properties: dict[str, Any] = {}
    for name, key in section.keys.items():
        value = key.value
        if key.nullable and value:  # `{}` (anything) holds null already; `false` stays
            value = any_of(value, {"type": "null"})
        described = {"description": key.description} if key.description else {}
        properties[name] = {**value, **described} if isinstance(value, Mapping) else value
    schema: dict[str, Any] = {
        "type": "object",
        "description": section.description,
        "properties": properties,
        "additionalProperties": False,
    }
    if section.required:
        schema["required"] = list(section.required)
    if section.rules:
        schema["allOf"] = list(section.rules)
    return schema


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, as the loader reads one: for
    an editor's completion and checks (`# yaml-language-server: $schema=...`). A new
    dict each call."""
    definitions = {
        **DEFINITIONS,
        **{section.name: section_schema(section) for section in SECTIONS if section is not FILE},
    }
    root = section_schema(FILE)
    return copy.deepcopy({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "perfrun scenario file",
        **root,
        "$defs": definitions,
    })  # fmt: skip
