"""YAML scenario files -> `Scenario` objects: the one place raw scenario data is validated.

Every error names the file and line (`scenarios/a.yaml:12`) and the path inside the
scenario (`health_load -> load -> users`), so a user can fix it without guessing.
"""

from __future__ import annotations

import json
import math
import os
import re
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfrun.errors import ScenarioError
from perfrun.scenario._load import LoadOverrides as LoadOverrides
from perfrun.scenario._load import parse_load
from perfrun.scenario._parse import no_cycle_collection
from perfrun.scenario._target import parse_target
from perfrun.scenario._thresholds import parse_thresholds
from perfrun.scenario._yaml import (
    LineDict,
    LineList,
    Loc,
    choice,
    integer,
    mapping,
    number,
    optional,
    plain,
    read,
    read_yaml,
    require,
    seconds,
    shown,
    string,
    substitute,
)
from perfrun.scenario.captures import Capture, CaptureError, compile_capture
from perfrun.scenario.data import Data, DataError, Order, load_data
from perfrun.scenario.limits import BODY_BYTES, DEPTH, Limits, over
from perfrun.scenario.model import (
    CHECKED_TLS,
    DEMO_TARGET,
    MAX_BODY,
    Checks,
    EngineChoice,
    LoadModel,
    LoadSpec,
    MonitorSpec,
    RequestSpec,
    Scenario,
    ScenarioType,
    Severity,
    Templated,
    TlsSpec,
    default_thresholds,
)
from perfrun.scenario.schema import (
    AUTH,
    CAPTURE,
    DATA,
    FILE,
    METHODS,
    MONITOR,
    REGRESSION,
    REQUEST,
    SCENARIO,
    STEP,
    TLS,
)
from perfrun.scenario.target import LAUNCHED_BASE_URL, PORT
from perfrun.scenario.templates import (
    Template,
    TemplateError,
    compile_basic_auth,
    compile_json,
    compile_template,
)
from perfrun.scenario.units import parse_base_url

SCENARIO_SUFFIXES = (".yaml", ".yml")

# The keys each section allows, from the language's one declaration (schema.py), which
# `perfrun schema` also renders for editors.
_FILE_KEYS = FILE.allowed
_SCENARIO_KEYS = SCENARIO.allowed
_REQUEST_KEYS = REQUEST.allowed
_STEP_KEYS = STEP.allowed
_DATA_KEYS = DATA.allowed
_AUTH_KEYS = AUTH.allowed
_TLS_KEYS = TLS.allowed
_CAPTURE_SOURCES = CAPTURE.allowed
_MONITOR_KEYS = MONITOR.allowed
_REGRESSION_KEYS = REGRESSION.allowed
_METHODS = METHODS
_SCENARIO_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110's header name
# What a request cannot carry, as the engines refuse it (RFC 9110 5.5: a header value
# may hold HTAB, no other control character); refused here at load time for what is
# written in the file, and by the engines at run time for what a template renders.
_BAD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_BAD_TARGET = re.compile("[\x00-\x1f\x7f]")


# --- sections ---------------------------------------------------------------------------


def _base_url(value: Any, loc: Loc) -> str:
    if isinstance(value, str):
        sent(value, loc, _BAD_TARGET)  # urlsplit would drop a CR or LF silently
    try:
        # `{port}` (a launched target's) is checked as a port; it is filled in at launch.
        parse_base_url(value.replace(PORT, "1") if isinstance(value, str) else value)
        return str(value).rstrip("/")
    except ValueError as exc:
        raise loc.error(str(exc)) from None


def _statuses(value: Any, loc: Loc) -> tuple[int, ...]:
    if not isinstance(value, LineList):
        return (_status(value, loc),)
    if not value:
        raise loc.error("must be a status code or a non-empty list of them")
    return tuple(_status(code, loc.at(value, index)) for index, code in enumerate(value))


def _status(value: Any, loc: Loc) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise loc.error(f"must be an HTTP status code 100-599, got {shown(value)}")
    return value


def _headers(value: Any, loc: Loc) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, LineDict):
        raise loc.error(f"must be a mapping of header name to value, got {shown(value)}")
    headers: dict[str, str] = {}
    for key, item in value.items():
        name = string(key, loc.key_line(value, key))
        if not _TOKEN.fullmatch(name):
            raise loc.key_line(value, key).error(
                f"bad header name {shown(name)}: letters, digits and !#$%&'*+-.^_`|~ only"
            )
        headers[name] = ascii_only(
            sent(_header_value(item, loc.at(value, key)), loc.at(value, key)), loc.at(value, key)
        )
    return headers


def _header_value(value: Any, loc: Loc) -> str:
    # `X-Count: 5` is surely meant as "5"; `yes` (a bool to YAML) or a list is not guessed.
    text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return string(text, loc, allow_empty=True)


def ascii_only(text: str, loc: Loc) -> str:
    """A header value as both engines send it: ASCII (httpx refuses anything else; a
    non-ASCII value is `obs-text` in RFC 9110, which servers read differently)."""
    if not text.isascii():
        odd = next(c for c in text if not c.isascii())
        raise loc.error(
            f"holds {odd!r}, not ASCII: a header value is sent as ASCII; percent-encode "
            "it, or base64 it, as the service expects"
        )
    return text


def sent(text: str, loc: Loc, bad: re.Pattern[str] = _BAD_VALUE) -> str:
    """`text`, refused if it holds a control character `bad` matches: CR or LF written
    into a request line or a header would end it and start another (request splitting,
    header injection); NUL and the others servers refuse."""
    found = bad.search(text)
    if found is not None:
        raise loc.error(
            f"holds the control character {found.group()!r}: in a request line or a "
            "header, CR and LF would end it and start another; remove it"
        )
    return text


# --- response checks --------------------------------------------------------------------

_CHECK_KEYS = ("expect_body_contains", "expect_json", "expect_header")


def _checks(fields: LineDict, loc: Loc) -> Checks:
    if not any(key in fields for key in _CHECK_KEYS):
        return Checks()  # most requests: no location made for each absent key
    return Checks(
        body_contains=_body_contains(
            optional(fields, "expect_body_contains"), loc.at(fields, "expect_body_contains")
        ),
        json=_expected_json(optional(fields, "expect_json"), loc.at(fields, "expect_json")),
        headers=_expected_headers(
            optional(fields, "expect_header"), loc.at(fields, "expect_header")
        ),
    )


def _body_contains(value: Any, loc: Loc) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, LineList):
        return (string(value, loc),)
    if not value:
        raise loc.error("must be a string or a non-empty list of strings")
    texts: dict[str, int] = {}  # text -> index, in order
    for index, item in enumerate(value):
        text = string(item, loc.at(value, index))
        earlier = texts.setdefault(text, index)
        if earlier != index:  # it would be one check reported twice
            raise loc.at(value, index).error(
                f"duplicate {text!r} (also expect_body_contains -> {earlier})"
            )
    return tuple(texts)


def _expected_json(value: Any, loc: Loc) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, LineDict) or not value:
        raise loc.error(
            f"must be a non-empty mapping of dotted path to expected value, got {shown(value)}"
        )
    expected: dict[str, Any] = {}
    for key, item in value.items():
        key_loc = loc.key_line(value, key)
        path = string(key, key_loc)
        if "" in path.split("."):
            raise key_loc.error(f"bad path {path!r}: use dotted keys and indexes, e.g. items.0.id")
        _require_json_value(item, loc.at(value, key))
        expected[path] = plain(item)
    return expected


def _require_json_value(value: Any, loc: Loc) -> None:
    """Refuse what a JSON body can never hold (a YAML date, binary, NaN): it would never match."""
    if isinstance(value, LineDict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise loc.key_line(value, key).error(
                    f"JSON object keys are strings, got {shown(key)}; quote it"
                )
            _require_json_value(item, loc.at(value, key))
    elif isinstance(value, LineList):
        for index, item in enumerate(value):
            _require_json_value(item, loc.at(value, index))
    elif not (value is None or isinstance(value, (str, int, bool))) and not (
        isinstance(value, float) and math.isfinite(value)
    ):
        raise loc.error(f"must be a JSON value, got {shown(value)}; quote it to compare text")


def _expected_headers(value: Any, loc: Loc) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, LineDict):
        raise loc.error(f"must be a mapping of header name to value or null, got {shown(value)}")
    expected: dict[str, str | None] = {}
    for key, item in value.items():
        key_loc = loc.key_line(value, key)
        name = string(key, key_loc).lower()  # header names are case-insensitive
        if name in expected:
            raise key_loc.error(f"duplicate header {key!r}: names are case-insensitive")
        expected[name] = None if item is None else _header_value(item, loc.at(value, key))
    return expected


# --- requests ---------------------------------------------------------------------------


def _request(
    value: Any, loc: Loc, limits: Limits, step: bool = False, auth: Template | None = None
) -> RequestSpec:
    """A request of a mix, or a flow `step`; `auth` is the scenario's, for those without
    their own `auth` or Authorization header."""
    fields = mapping(value, loc, _STEP_KEYS if step else _REQUEST_KEYS)
    require(fields, ("path",), loc)
    json_value, body = optional(fields, "json"), optional(fields, "body")
    if json_value is not None and body is not None:
        raise loc.key_line(fields, "body").error("set either json or body, not both")
    method = optional(fields, "method", "GET")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise loc.at(fields, "method").error(
            f"must be one of {', '.join(_METHODS)}; got {shown(method)}"
        )
    path = fields["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise loc.at(fields, "path").error(f"must be a string starting with '/', got {shown(path)}")
    sent(path, loc.at(fields, "path"), _BAD_TARGET)
    # Unnamed, it is named as it is sent (`GET /health`), as k6 and Locust name theirs.
    name = read(fields, "name", loc, string, f"{method.upper()} {path}")
    headers = read(fields, "headers", loc, _headers, None) or {}  # its own: auth adds to it
    own = read(fields, "auth", loc, _auth, None)
    if own is not None and "authorization" in map(str.lower, headers):
        raise loc.key_line(fields, "auth").error("set either auth or an Authorization header")
    authorization: tuple[tuple[str, Template], ...] = ()
    if own is not None or (auth is not None and "authorization" not in map(str.lower, headers)):
        chosen = own if own is not None else auth
        assert chosen is not None
        if chosen.static:
            headers["Authorization"] = chosen.text
        else:
            authorization = (("Authorization", chosen),)
    text = None if body is None else string(body, loc.at(fields, "body"), allow_empty=True)
    _check_size(text, json_value, fields, loc, limits)
    return RequestSpec(
        name=name,
        method=method.upper(),
        path=path,
        weight=read(fields, "weight", loc, _weight, 1.0),
        headers=headers,
        json=plain(json_value),
        body=text,
        expect_status=read(fields, "expect_status", loc, _statuses, (200,)),
        checks=_checks(fields, loc),
        templated=_templated(path, headers, plain(json_value), text, fields, loc, authorization),
        once=read(fields, "once", loc, _flag, False),
        think_time=read(fields, "think_time", loc, _think_time, None),
        captures=read(fields, "capture", loc, _captures, ()),
    )


def _weight(value: Any, loc: Loc) -> float:
    return number(value, loc, positive=True)


def _think_time(value: Any, loc: Loc) -> float:
    return seconds(value, loc, allow_zero=True)


def _check_size(
    body: str | None, json_value: Any, fields: LineDict, loc: Loc, limits: Limits
) -> None:
    """A body (or `json:`, serialised) within `limits.body_bytes`: it is held, built once,
    in every worker."""
    if body is not None:
        key, size = "body", len(body.encode("utf-8", "surrogatepass"))
    elif json_value is not None:
        _require_json_value(json_value, loc.at(fields, "json"))
        key, size = "json", len(json.dumps(plain(json_value)).encode("utf-8", "surrogatepass"))
    else:
        return
    if size > limits.body_bytes:
        raise loc.at(fields, key).error(over(BODY_BYTES, size, limits.body_bytes))


def _flag(value: Any, loc: Loc) -> bool:
    if not isinstance(value, bool):
        raise loc.error(f"must be true or false, got {shown(value)}")
    return value


def _templated(
    path: str, headers: Mapping[str, str], json_value: Any, body: str | None,
    fields: LineDict, loc: Loc, extra: tuple[tuple[str, Template], ...] = (),
) -> Templated | None:  # fmt: skip
    """The request's `{{ … }}` templates, compiled (with `extra` header templates);
    None when nothing varies."""
    if not (extra or json_value is not None or _slotted(path, body, *headers.values())):
        return None  # most requests: nothing to compile (a fifth of building one)

    def compiled(text: str, key: str) -> Any:
        try:
            return compile_template(text)
        except TemplateError as exc:
            raise loc.at(fields, key).error(str(exc)) from None

    path_template = compiled(path, "path")
    header_templates = (
        *((name, compiled(value, "headers")) for name, value in headers.items()),
        *extra,
    )
    body_template = None
    if json_value is not None:
        try:
            body_template = compile_json(json_value)
        except TemplateError as exc:
            raise loc.at(fields, "json").error(str(exc)) from None
    elif body is not None:
        body_template = compiled(body, "body")
    templates = [path_template, *(t for _, t in header_templates), body_template]
    if all(t is None or t.static for t in templates):
        return None
    return Templated(path_template, header_templates, body_template)


def _slotted(*texts: str | None) -> bool:
    """Whether a text may hold a `{{ … }}` slot (or a `{{` a template refuses)."""
    return any(text is not None and "{{" in text for text in texts)


def _auth(value: Any, loc: Loc) -> Template | None:
    """`auth: {basic: [user, password]}` or `{bearer: token}`, as an Authorization value
    (templates allowed)."""
    if value is None:
        return None
    fields = mapping(value, loc, _AUTH_KEYS)
    if len(fields) != 1:
        raise loc.error("takes one of basic: [user, password] or bearer: TOKEN")
    ((kind, raw),) = fields.items()
    at = loc.at(fields, kind)
    try:
        if kind == "bearer":
            return compile_template(f"Bearer {ascii_only(sent(string(raw, at), at), at)}")
        if not isinstance(raw, LineList) or len(raw) != 2:
            raise at.error(f"must be [user, password], got {shown(raw)}")
        user = sent(string(raw[0], at.at(raw, 0)), at.at(raw, 0))
        password = sent(string(raw[1], at.at(raw, 1), allow_empty=True), at.at(raw, 1))
        return compile_basic_auth(user, password)
    except TemplateError as exc:
        raise at.error(str(exc)) from None


def _tls(value: Any, loc: Loc) -> TlsSpec:
    """`tls: {verify, ca, cert, key}`: files relative to the scenario file, read now so
    that a missing or broken one stops the run before any load."""
    if value is None:
        return TlsSpec()
    fields = mapping(value, loc, _TLS_KEYS)
    files: dict[str, Path | None] = {}
    for key in ("ca", "cert", "key"):
        name = optional(fields, key)
        files[key] = found = (
            None if name is None else Path(loc.file).parent / string(name, loc.at(fields, key))
        )
        if found is not None and not found.is_file():
            raise loc.at(fields, key).error(f"{found}: no such file")
    if files["key"] is not None and files["cert"] is None:
        raise loc.key_line(fields, "key").error("a key goes with a cert")
    tls = TlsSpec(
        verify=_flag(optional(fields, "verify", True), loc.at(fields, "verify")),
        ca=files["ca"], cert=files["cert"], key=files["key"],
    )  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
        if tls.cert is not None:
            context.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    except (OSError, ssl.SSLError) as exc:
        raise loc.error(f"cannot use its files: {exc}") from None
    return tls


def _captures(value: Any, loc: Loc) -> tuple[Capture, ...]:
    """`capture: {name: {json|header|regex|status: expression}}`."""
    if value is None:
        return ()
    if not isinstance(value, LineDict) or not value:
        raise loc.error(f"must be a mapping of variable name to what to take, got {shown(value)}")
    captures = []
    for name, spec in value.items():
        item_loc = loc.at(value, name)
        if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
            raise loc.key_line(value, name).error(
                f"capture name {shown(name)} is not a name a template can use "
                "(letters a-z, digits and _, not starting with a digit)"
            )
        fields = mapping(spec, item_loc, _CAPTURE_SOURCES)
        if len(fields) != 1:
            raise item_loc.error(f"takes one of {', '.join(_CAPTURE_SOURCES)}, e.g. {{json: id}}")
        ((source, expression),) = fields.items()
        try:
            captures.append(compile_capture(name, source, plain(expression)))
        except CaptureError as exc:
            raise item_loc.at(fields, source).error(str(exc)) from None
    return tuple(captures)


def _data(value: Any, loc: Loc, limits: Limits) -> Data | None:
    """`data: {file, order}`, the file read now, relative to the scenario file."""
    if value is None:
        return None
    fields = mapping(value, loc, _DATA_KEYS)
    require(fields, ("file",), loc)
    name = string(fields["file"], loc.at(fields, "file"))
    order = choice(optional(fields, "order", "sequential"), Order, loc.at(fields, "order"))
    try:
        return load_data(Path(loc.file).parent / name, order, limits.data_rows)
    except DataError as exc:
        raise loc.at(fields, "file").error(str(exc)) from None


def _flow(
    value: Any, loc: Loc, data: Data | None, auth: Template | None, limits: Limits
) -> tuple[RequestSpec, ...]:
    """`flow:` steps, in order; every variable a step names comes from the data or from
    a capture of an earlier step."""
    if not isinstance(value, LineList) or not value:
        raise loc.error(f"must be a non-empty list of steps, got {shown(value)}")
    defined = set(data.columns) if data is not None else set()
    steps: list[RequestSpec] = []
    named: dict[str, int] = {}  # name -> index: a list scan per step is quadratic
    for index, item in enumerate(value):
        item_loc = loc.at(value, index)
        step = _request(item, item_loc, limits, step=True, auth=auth)
        earlier = named.setdefault(step.name, index)
        if earlier != index:
            raise item_loc.at(item, "name").error(
                f"duplicate step name '{step.name}' (also flow -> {earlier})"
            )
        _check_variables(step, defined, item_loc, "an earlier step's capture")
        defined.update(capture.name for capture in step.captures)
        steps.append(step)
    return tuple(steps)


def _check_variables(spec: RequestSpec, defined: set[str], loc: Loc, also: str = "") -> None:
    if spec.templated is None:
        return
    sources = f"no data column, {also} or $built-in" if also else "no data column or $built-in"
    for variable in sorted(spec.templated.variables - defined):
        raise loc.error(f"{spec.name}: {{{{ {variable} }}}} names {sources}")


def _check_mix(
    requests: tuple[RequestSpec, ...], data: Data | None, load: LoadSpec, fields: LineDict,
    loc: Loc,
) -> None:  # fmt: skip
    """A mix's templates and data rows belong to users: the closed model (a rate load
    sends each request on its own)."""
    users = load.model is LoadModel.CLOSED
    if data is not None and not users:
        raise loc.key_line(fields, "data").error(
            "data rows belong to users: a requests: mix takes them with a users load, not a rate"
        )
    defined = set(data.columns) if data is not None else set()
    for index, spec in enumerate(requests):
        if spec.templated is None:
            continue
        item_loc = loc.at(fields["requests"], index)
        if not users:
            raise item_loc.error(
                f"{spec.name}: {{{{ … }}}} templates are rendered for users: a requests: "
                "mix with templates needs a users load, not a rate"
            )
        _check_variables(spec, defined, item_loc)


def _requests(
    value: Any, loc: Loc, auth: Template | None, limits: Limits
) -> tuple[RequestSpec, ...]:
    if not isinstance(value, LineList) or not value:
        raise loc.error(f"must be a non-empty list of requests, got {shown(value)}")
    specs: list[RequestSpec] = []
    named: dict[str, int] = {}  # name -> index: a list scan per request is quadratic
    for index, item in enumerate(value):
        item_loc = loc.at(value, index)
        spec = _request(item, item_loc, limits, auth=auth)
        earlier = named.setdefault(spec.name, index)
        if earlier != index:
            raise item_loc.at(item, "name").error(
                f"duplicate request name '{spec.name}' (also requests -> {earlier})"
            )
        specs.append(spec)
    return tuple(specs)


def _monitor(value: Any, loc: Loc) -> MonitorSpec:
    if value is None:
        return MonitorSpec()
    fields = mapping(value, loc, _MONITOR_KEYS)
    pid, process = optional(fields, "pid"), optional(fields, "process")
    if pid is not None and process is not None:
        raise loc.key_line(fields, "process").error("set either pid or process, not both")
    return MonitorSpec(
        pid=None if pid is None else integer(pid, loc.at(fields, "pid"), minimum=1),
        process=None if process is None else string(process, loc.at(fields, "process")),
        interval=seconds(optional(fields, "interval", 1), loc.at(fields, "interval"), False),
    )


def _regression(value: Any, loc: Loc) -> dict[str, float]:
    """`regression: {p95: 5%, rps: 20}`: per-metric tolerances in percent for --baseline."""
    if value is None:
        return {}
    fields = mapping(value, loc, _REGRESSION_KEYS)
    tolerances = {}
    for key, raw in fields.items():
        key_loc = loc.at(fields, key)
        text = raw.strip().removesuffix("%") if isinstance(raw, str) else raw
        try:
            parsed = float(text) if isinstance(text, str) else text
        except ValueError:
            raise key_loc.error(f"must be a percentage like 10% or 10, got {shown(raw)}") from None
        tolerances[key] = number(parsed, key_loc, positive=False)
    return tolerances


_OPTION_KEYS = {
    "users": ("users",),
    "rate": ("rate",),
    "duration": ("duration",),
    "iterations": ("iterations", "requests_per_user"),
}
"""The `load:` keys each load option (see LoadOverrides) sets."""


def _by_option(
    exc: ScenarioError, name: str, overridden: tuple[tuple[str, str], ...]
) -> ScenarioError:
    """An error in a load value the command line set, named by its option rather than by
    the file's line, whose value the option replaced (`--users 1000000000`, not
    `a.yaml:7: s -> load -> users`); any other error as it is."""
    for option, value in overridden:
        if any(exc.where.endswith(f" -> load -> {key}") for key in _OPTION_KEYS[option]):
            problem = exc.message[len(exc.where) + 2 :]
            return ScenarioError(problem, f"--{option} {value} (scenario {name})")
    return exc


def _scenario(
    name: str, value: Any, loc: Loc, limits: Limits, overrides: LoadOverrides | None = None,
    loads: dict[Any, LoadSpec] | None = None,
) -> Scenario:  # fmt: skip
    """The scenario `name`; `loads`: those its file's earlier scenarios wrote (see
    `parse_load`)."""
    fields = mapping(value, loc, _SCENARIO_KEYS)
    require(fields, ("load",), loc)
    data = read(fields, "data", loc, lambda value, at: _data(value, at, limits), None)
    auth = read(fields, "auth", loc, _auth, None)
    flow = _has_key(fields, "flow")
    if flow == _has_key(fields, "requests"):
        raise loc.error("set either requests (a weighted mix) or flow (steps in order)")
    raw_load, overridden = (
        overrides.over(fields["load"], flow) if overrides else (fields["load"], ())
    )
    try:
        load = parse_load(raw_load, loc.at(fields, "load"), flow=flow, limits=limits, seen=loads)
    except ScenarioError as exc:
        raise _by_option(exc, name, overridden) from None
    if flow:
        requests = _flow(fields["flow"], loc.at(fields, "flow"), data, auth, limits)
    else:
        requests = _requests(fields["requests"], loc.at(fields, "requests"), auth, limits)
        _check_mix(requests, data, load, fields, loc)
    engine, http2 = _engine(fields, loc)
    target = read(fields, "target", loc, parse_target, None)
    if target is not None and optional(fields, "base_url") == DEMO_TARGET:
        raise loc.key_line(fields, "base_url").error(
            "base_url: demo starts the demo target, not the one target: launches; leave "
            "base_url out (http://127.0.0.1:{port}) or give the launched service's URL"
        )
    if data is not None and data.order is Order.UNIQUE and len(data.rows) < load.users:
        raise loc.at(fields, "data").error(
            f"order unique gives each user its own row: {len(data.rows)} rows for "
            f"{load.users} users"
        )
    kind = read(fields, "type", loc, _type, ScenarioType.LOAD)
    return Scenario(
        name=name,
        type=kind,
        severity=read(fields, "severity", loc, _severity, Severity.MEDIUM),
        base_url=read(
            fields, "base_url", loc, _base_url, DEMO_TARGET if target is None else LAUNCHED_BASE_URL
        ),
        engine=engine,
        requests=requests,
        load=load,
        thresholds=read(
            fields,
            "thresholds",
            loc,
            lambda value, at: parse_thresholds(value, at, kind, [r.name for r in requests]),
            default_thresholds(kind),
        ),
        monitor=read(fields, "monitor", loc, _monitor, _NO_MONITOR),
        regression=_regression(optional(fields, "regression"), loc.at(fields, "regression")),
        description=read(fields, "description", loc, _description, ""),
        source=f"{loc.file}:{loc.line}",
        flow=flow,
        data=data,
        cookies=read(fields, "cookies", loc, _flag, True),
        max_redirects=read(fields, "max_redirects", loc, _count, 10),
        max_body=read(fields, "max_body", loc, _size, MAX_BODY),
        tls=read(fields, "tls", loc, _tls, CHECKED_TLS),
        http2=http2,
        target=target,
        demo_default=target is None and not _has_key(fields, "base_url"),
        overrides=overridden,
    )


def _engine(fields: LineDict, loc: Loc) -> tuple[EngineChoice, bool]:
    """`engine` and `http2`, which only the httpx engine speaks."""
    engine = read(fields, "engine", loc, _engine_choice, EngineChoice.AUTO)
    http2 = read(fields, "http2", loc, _flag, False)
    if http2 and engine is EngineChoice.FAST:
        raise loc.key_line(fields, "http2").error(
            "http2: true needs the httpx engine (engine: httpx or auto): the fast engine "
            "speaks HTTP/1.1 only"
        )
    return engine, http2


def _type(value: Any, loc: Loc) -> ScenarioType:
    return choice(value, ScenarioType, loc)


def _severity(value: Any, loc: Loc) -> Severity:
    return choice(value, Severity, loc)


def _engine_choice(value: Any, loc: Loc) -> EngineChoice:
    return choice(value, EngineChoice, loc)


def _description(value: Any, loc: Loc) -> str:
    return string(value, loc, allow_empty=True)


def _count(value: Any, loc: Loc) -> int:
    return integer(value, loc, minimum=0)


def _size(value: Any, loc: Loc) -> int:
    return integer(value, loc, minimum=1)


_NO_MONITOR = MonitorSpec()  # frozen, as CHECKED_TLS: every scenario without one shares it


def _has_key(fields: LineDict, key: str) -> bool:
    return key in fields and fields[key] is not None


# --- public API -------------------------------------------------------------------------


def load_file(path: Path, environ: Mapping[str, str] | None = None) -> list[Scenario]:
    """Load and validate every scenario in one YAML file, in the order written.

    `environ` feeds `${VAR}` substitution (default: the process environment).
    Raises ScenarioError naming the file, line and field of the first problem.
    """
    limits = _limits(os.environ if environ is None else environ)
    return scenarios_of(path, read_yaml(path, limits), environ, limits, consume=True)


def _limits(environ: Mapping[str, str]) -> Limits:
    """The limits `environ` sets (PERFRUN_MAX_*); ScenarioError for a bad value."""
    try:
        return Limits.read(environ)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def with_overrides(
    scenario: Scenario, overrides: LoadOverrides, environ: Mapping[str, str] | None = None
) -> Scenario:
    """`scenario` loaded again from its file with the command line's load over its own,
    validated as the file's own would be (ScenarioError naming the file and line). For
    more than one scenario, `with_overrides_all` reads each file once."""
    (again,) = with_overrides_all([scenario], overrides, environ)
    return again


def with_overrides_all(
    scenarios: Sequence[Scenario], overrides: LoadOverrides,
    environ: Mapping[str, str] | None = None,
) -> list[Scenario]:  # fmt: skip
    """`with_overrides` of each of `scenarios`, in order, each file read once: read once
    per scenario, 200 scenarios of a file of 2,000 took 21 s, and all of them would
    have taken 20 times that."""
    environ = os.environ if environ is None else environ
    limits = _limits(environ)
    documents: dict[Path, Any] = {}
    loaded = []
    for scenario in scenarios:
        path = Path(scenario.source.rpartition(":")[0])
        document = documents.get(path)
        if document is None:
            document = documents[path] = read_yaml(path, limits)
        entries = document["scenarios"]
        loc = Loc(str(path), entries.lines[scenario.name], (scenario.name,))
        body = substitute(entries[scenario.name], loc, environ)
        try:
            loaded.append(_scenario(scenario.name, body, loc, limits, overrides))
        except (OverflowError, RecursionError) as exc:
            raise _named(exc, loc) from None
    return loaded


def _scenario_file(
    path: Path, environ: Mapping[str, str] | None, limits: Limits
) -> list[Scenario] | None:
    """`load_file`, or None for a file that is not a scenario file: its top level has
    no `scenarios:` key (a docker-compose.yml, a CI workflow beside the scenarios)."""
    try:
        document = read_yaml(path, limits)
    except ScenarioError:
        if not _claims_scenarios(path):
            return None
        raise
    if not (isinstance(document, LineDict) and "scenarios" in document):
        return None
    return scenarios_of(path, document, environ, limits, consume=True)


def scenarios_of(
    path: Path | str, document: Any, environ: Mapping[str, str] | None = None,
    limits: Limits | None = None, overrides: LoadOverrides | None = None,
    *, consume: bool = False,
) -> list[Scenario]:  # fmt: skip
    """The scenarios of a parsed scenario document (`read_yaml`, `read_text`); `path`
    names it in messages. ScenarioError (exit 2) at the first problem. `limits`:
    default, those `environ` sets; `overrides`: the command line's load over each
    scenario's own, where it fits (see `with_overrides`). `consume`: each scenario's
    mapping is dropped from `document` once read (for a document read for this call
    alone: a large file's document and its scenarios are then never both whole in
    memory)."""
    environ = os.environ if environ is None else environ
    limits = _limits(environ) if limits is None else limits
    if not isinstance(document, LineDict):
        raise ScenarioError("expected a mapping with a top-level 'scenarios:' key", str(path))
    file_loc = Loc(str(path), document.line)
    require(mapping(document, file_loc, _FILE_KEYS), _FILE_KEYS, file_loc)
    entries = document["scenarios"]
    entries_loc = file_loc.key_line(document, "scenarios")
    if not isinstance(entries, LineDict):
        raise entries_loc.error(
            f"'scenarios' must be a mapping of name to scenario, got {shown(entries)}"
        )
    scenarios: list[Scenario] = []
    loads: dict[Any, LoadSpec] = {}
    with no_cycle_collection():
        for name, body in entries.items():
            loc = Loc(str(path), entries.lines[name], (str(name),))
            if not isinstance(name, str) or not _SCENARIO_NAME.fullmatch(name):
                raise loc.error(
                    f"bad scenario name {name!r}: use letters, digits, '_', '-' and '.' only"
                )
            try:
                body = substitute(body, loc, environ)
                scenarios.append(_scenario(name, body, loc, limits, overrides, loads))
            except (OverflowError, RecursionError) as exc:
                raise _named(exc, loc) from None
            if consume:
                entries[name] = None  # a value replaced: the iteration goes on
    return scenarios


def _named(exc: OverflowError | RecursionError, loc: Loc) -> ScenarioError:
    """What only a hostile value can raise while a scenario is read, named like any
    other problem: a number too large for a float, nesting too deep for Python (only
    when PERFRUN_MAX_DEPTH was lifted past what Python can walk). Caught by a `try`
    around each scenario: a context manager per scenario cost 2 us each."""
    if isinstance(exc, OverflowError):
        return loc.error("a number in this scenario is too large")
    return loc.error(f"nested too deeply for Python; lower {DEPTH.variable}")


def _raise_together(problems: list[ScenarioError]) -> None:
    """One ScenarioError for every problem found (the one itself when alone)."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ScenarioError(
            f"{len(problems)} problems in the scenario files:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


def _claims_scenarios(path: Path) -> bool:
    """Whether a file YAML cannot read says it is a scenario file: a top-level
    `scenarios:` line (its syntax error is then the user's to see)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return _SCENARIOS_LINE.search(text) is not None


_SCENARIOS_LINE = re.compile(r"^scenarios[ \t]*:", re.M)


def load_scenarios(
    directory: Path, environ: Mapping[str, str] | None = None,
    skipped: list[Path] | None = None,
) -> dict[str, Scenario]:  # fmt: skip
    """Load every scenario file under `directory` (recursively, sorted): every `*.yaml` /
    `*.yml` file whose top level is `scenarios:`; the others go to `skipped`.

    Returns scenarios by name. Every problem of every file is reported together, in one
    ScenarioError; a scenario name defined twice is one, naming both places.
    """
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "scenario directory not found"
        raise ScenarioError(problem, str(directory))
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() in SCENARIO_SUFFIXES and path.is_file()
    )
    if not files:
        raise ScenarioError("no scenario files (*.yaml, *.yml) found", str(directory))
    limits = _limits(os.environ if environ is None else environ)
    scenarios: dict[str, Scenario] = {}
    problems: list[ScenarioError] = []
    others: list[Path] = []
    for path in files:
        try:
            loaded = _scenario_file(path, environ, limits)
        except ScenarioError as exc:
            problems.append(exc)
            continue
        if loaded is None:
            others.append(path)
            continue
        for scenario in loaded:
            first = scenarios.get(scenario.name)
            if first is not None:
                problems.append(ScenarioError(
                    f"scenario '{scenario.name}' is defined twice: {first.source} and "
                    f"{scenario.source}",
                    scenario.source,
                ))  # fmt: skip
            else:
                scenarios[scenario.name] = scenario
    if skipped is not None:
        skipped.extend(others)
    _raise_together(problems)
    if not scenarios:
        raise ScenarioError(
            "no scenario file: no YAML file here has a top-level 'scenarios:' key"
            if others and len(others) == len(files)
            else "the scenario files define no scenarios",
            str(directory),
        )
    return scenarios
