"""The demo target's ASGI app: a small projects API plus a CPU-bound workflow endpoint.

Raw ASGI, no framework: the demo is the thing under load, so a request should cost as
little Python as possible. Static responses are built once, every project is kept as
ready-to-send JSON bytes, and nothing is logged per request.

Endpoints (all JSON):

- `GET /health` -> 200 `{"status":"ok"}`
- `GET /projects?limit=N&offset=M` -> 200 `{"total":T,"items":[...]}`; limit 1..1000
  (default 50), offset >= 0; anything else is a 400
- `GET /projects/{id}` -> 200 the project, or 404
- `POST /projects` `{"name": str, "owner"?: str, "status"?: str, "tags"?: [str]}` -> 201
- `POST /workflow` `{"steps"?: 1..50}` -> 200 `{"steps":n,"digest":hex}` after CPU work
- accounts, for journeys: the eight project owners (`ada`, `grace`, …), each with the
  password `<owner>-secret`:
  - `POST /login` `{"user", "password"}` -> 200 `{"token"}` and a `session` cookie, or 401
  - `GET /me` -> 200 `{"user"}` of the `session` cookie, or 401
  - `GET /my/projects` with `Authorization: Bearer <token>` -> 200 `{"items":[{"id"}...]}`,
    the token's owner's first ten seed projects, or 401
  - `GET /go/projects` -> 302 to `/projects?limit=5`
- unknown path -> 404; known path with the wrong method -> 405 with `Allow`
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Response = tuple[Message, Message]
"""The `http.response.start` and `http.response.body` messages of one response."""

SEED_PROJECTS = 1000
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_CREATED = 10_000
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_STEPS = 10
MAX_STEPS = 50

STATUSES = ("active", "paused", "archived")
_OWNERS = ("ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances")
_TAGS = ("api", "web", "data", "ml", "infra", "mobile", "security", "billing")
_ADJECTIVES = ("swift", "quiet", "amber", "bold", "cobalt", "lunar", "rapid", "silver")
_NOUNS = ("falcon", "harbor", "engine", "meadow", "signal", "atlas", "beacon", "summit")
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# One workflow step chains sha256 over _ROUNDS_PER_STEP x 4 KiB (512 KiB). Measured on an
# AMD EPYC core with SHA-NI: ~2.6 us per round, ~0.33 ms of CPU per step; a CPU without
# SHA extensions takes roughly 3x longer.
_WORKFLOW_BLOCK = bytes(range(256)) * 16
_ROUNDS_PER_STEP = 128


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def seed_project(project_id: int) -> dict[str, Any]:
    """The seed project with this id: a pure function of the id, so every demo agrees."""
    i = project_id
    return {
        "id": i,
        "name": f"{_ADJECTIVES[i % 8]}-{_NOUNS[(i // 8) % 8]}-{i}",
        "owner": _OWNERS[(i * 5) % 8],
        # Mostly active, like a real catalogue: 4 active, 1 paused, 1 archived in 6.
        "status": STATUSES[max(0, i % 6 - 3)],
        "tags": [_TAGS[(i + 3 * k) % 8] for k in range(1 + i % 3)],
        "created_at": _iso(_EPOCH + timedelta(hours=7 * i)),
    }


def run_workflow(steps: int) -> str:
    """Do `steps` steps of real CPU work; the hex digest depends only on `steps`."""
    digest = b""
    for _ in range(steps * _ROUNDS_PER_STEP):
        digest = hashlib.sha256(digest + _WORKFLOW_BLOCK).digest()
    return digest.hex()


class ProjectStore:
    """The seed projects plus the newest `max_created` created ones, held as JSON bytes.

    Created projects are bounded so a long write-heavy run keeps constant memory; the
    oldest are forgotten first (a later GET of one is a 404, as if it had been deleted).
    """

    def __init__(self, seed_count: int = SEED_PROJECTS, max_created: int = MAX_CREATED) -> None:
        self._seed = [_dumps(seed_project(i)) for i in range(1, seed_count + 1)]
        self._created: OrderedDict[int, bytes] = OrderedDict()
        self._max_created = max_created
        self._next_id = seed_count + 1

    @property
    def total(self) -> int:
        """How many projects a full listing would return."""
        return len(self._seed) + len(self._created)

    def get(self, project_id: int) -> bytes | None:
        """The project's JSON, or None if there is none with this id."""
        if 1 <= project_id <= len(self._seed):
            return self._seed[project_id - 1]
        return self._created.get(project_id)

    def page(self, limit: int, offset: int) -> bytes:
        """The whole `{"total":T,"items":[...]}` body: seed projects first, then created."""
        items = self._seed[offset : offset + limit]
        if len(items) < limit:
            start = max(0, offset - len(self._seed))
            stop = start + limit - len(items)
            items.extend(itertools.islice(self._created.values(), start, stop))
        return b'{"total":%d,"items":[%s]}' % (self.total, b",".join(items))

    def create(
        self, name: str, owner: str, status: str, tags: list[str], now: datetime
    ) -> tuple[int, bytes]:
        """Store a new project under the next id; return the id and the project's JSON."""
        project_id = self._next_id
        self._next_id += 1
        body = _dumps(
            {
                "id": project_id,
                "name": name,
                "owner": owner,
                "status": status,
                "tags": tags,
                "created_at": _iso(now),
            }
        )
        self._created[project_id] = body
        if len(self._created) > self._max_created:
            self._created.popitem(last=False)
        return project_id, body


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class _BadRequest(Exception):
    pass


_JSON = (b"content-type", b"application/json")


def _response(status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Response:
    headers = [_JSON, (b"content-length", b"%d" % len(body)), *extra]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


def _error(status: int, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Response:
    return _response(status, _dumps({"error": message}), extra)


def _method_not_allowed(allow: str) -> Response:
    return _error(405, "method not allowed", ((b"allow", allow.encode()),))


# Built once and sent as-is: uvicorn only reads the messages it is given, and no
# middleware sits in between to mutate them.
_HEALTH = _response(200, b'{"status":"ok"}')
_NOT_FOUND = _error(404, "not found")
_TOO_LARGE = _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
_ONLY_GET = _method_not_allowed("GET")
_ONLY_POST = _method_not_allowed("POST")
_GET_OR_POST = _method_not_allowed("GET, POST")


async def _send(send: Send, response: Response) -> None:
    await send(response[0])
    await send(response[1])


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and int(value) > MAX_BODY_BYTES:
            raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        raise _BadRequest("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise _BadRequest("body must be a JSON object")
    return value


def _parse_natural(raw: str) -> int | None:
    # ASCII digits only (int() would also take "+1", " 1", "1_0" and other scripts' digits),
    # and short: int() refuses strings over 4300 digits, which would be a 500.
    if raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    value = _parse_natural(raw)
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f">= {low}"
        raise _BadRequest(f"{name} must be an integer {bounds}")
    return value


class Accounts:
    """The demo's accounts (the seed projects' owners), their tokens and sessions."""

    def __init__(self) -> None:
        self.passwords = {owner: f"{owner}-secret" for owner in _OWNERS}
        self.owned = {
            owner: _dumps({"items": [{"id": i} for i in range(1, SEED_PROJECTS + 1)
                                     if _OWNERS[(i * 5) % 8] == owner][:10]})
            for owner in _OWNERS
        }  # fmt: skip
        self._tokens: dict[str, str] = {}
        self._sessions: dict[str, str] = {}
        self._serial = itertools.count(1)

    def login(self, body: bytes) -> Response:
        fields = _json_object(body)
        user, password = fields.get("user"), fields.get("password")
        if not isinstance(user, str) or self.passwords.get(user) != password:
            return _error(401, "wrong user or password")
        serial = next(self._serial)
        token, session = f"t{serial}-{user}", f"s{serial}"
        if len(self._tokens) >= MAX_CREATED:  # bounded: a long run forgets the oldest
            self._tokens.pop(next(iter(self._tokens)))
            self._sessions.pop(next(iter(self._sessions)))
        self._tokens[token], self._sessions[session] = user, user
        cookie = b"session=%s; Path=/; HttpOnly" % session.encode()
        return _response(200, _dumps({"token": token}), ((b"set-cookie", cookie),))

    def me(self, scope: Scope) -> Response:
        user = self._sessions.get(_cookie(scope, "session") or "")
        return _error(401, "no session") if user is None else _response(200, _dumps({"user": user}))

    def my_projects(self, scope: Scope) -> Response:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        user = self._tokens.get(header.removeprefix("Bearer "))
        return _error(401, "no valid token") if user is None else _response(200, self.owned[user])


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key == b"cookie":
            header: str = value.decode("latin-1")
            for part in header.split(";"):
                found, _, text = part.strip().partition("=")
                if found == name:
                    return text
    return None


_GO_PROJECTS = _response(302, b"{}", ((b"location", b"/projects?limit=5"),))


class DemoApp:
    """The ASGI callable. All state lives in the instance: one app, one dataset."""

    def __init__(
        self,
        store: ProjectStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store if store is not None else ProjectStore()
        self.accounts = Accounts()
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request; other scope types (lifespan is off) are ignored."""
        if scope["type"] != "http":
            return
        with contextlib.suppress(_ClientGone):  # nobody left to answer
            await _send(send, await self._route(scope, receive))

    async def _route(self, scope: Scope, receive: Receive) -> Response:
        try:
            return await self._dispatch(scope["path"], scope["method"], scope, receive)
        except _BadRequest as exc:
            return _error(400, str(exc))
        except _BodyTooLarge:
            return _TOO_LARGE

    async def _dispatch(self, path: str, method: str, scope: Scope, receive: Receive) -> Response:
        if path == "/health":
            return _HEALTH if method == "GET" else _ONLY_GET
        if path == "/projects":
            if method == "GET":
                return self._list(scope)
            if method == "POST":
                return self._create(await _read_body(scope, receive))
            return _GET_OR_POST
        if path.startswith("/projects/"):
            return self._get(path[len("/projects/") :]) if method == "GET" else _ONLY_GET
        if path == "/workflow":
            if method != "POST":
                return _ONLY_POST
            return self._workflow(await _read_body(scope, receive))
        return await self._journey(path, method, scope, receive)

    async def _journey(self, path: str, method: str, scope: Scope, receive: Receive) -> Response:
        """The accounts' endpoints (see the module's docstring)."""
        if path == "/login":
            if method != "POST":
                return _ONLY_POST
            return self.accounts.login(await _read_body(scope, receive))
        if path == "/me":
            return self.accounts.me(scope) if method == "GET" else _ONLY_GET
        if path == "/my/projects":
            return self.accounts.my_projects(scope) if method == "GET" else _ONLY_GET
        if path == "/go/projects":
            return _GO_PROJECTS if method == "GET" else _ONLY_GET
        return _NOT_FOUND

    def _list(self, scope: Scope) -> Response:
        params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_param(params, "offset", 0, 0, None)
        return _response(200, self.store.page(limit, offset))

    def _get(self, raw_id: str) -> Response:
        project_id = _parse_natural(raw_id)
        body = None if project_id is None else self.store.get(project_id)
        return _NOT_FOUND if body is None else _response(200, body)

    def _create(self, body: bytes) -> Response:
        fields = _json_object(body)
        name = fields.get("name")
        if not isinstance(name, str) or not name:
            raise _BadRequest("name is required and must be a non-empty string")
        owner = fields.get("owner", "anonymous")
        if not isinstance(owner, str):
            raise _BadRequest("owner must be a string")
        status = fields.get("status", "active")
        if status not in STATUSES:
            raise _BadRequest(f"status must be one of {', '.join(STATUSES)}")
        tags = fields.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise _BadRequest("tags must be a list of strings")
        project_id, created = self.store.create(name, owner, status, tags, self._clock())
        return _response(201, created, ((b"location", b"/projects/%d" % project_id),))

    def _workflow(self, body: bytes) -> Response:
        fields = _json_object(body) if body.strip() else {}
        steps = fields.get("steps", DEFAULT_STEPS)
        # bool is an int in Python, but `"steps": true` is a client bug worth a 400.
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise _BadRequest(f"steps must be an integer from 1 to {MAX_STEPS}")
        digest = run_workflow(steps)
        return _response(200, b'{"steps":%d,"digest":"%s"}' % (steps, digest.encode()))
