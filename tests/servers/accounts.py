"""A target with accounts, for flow tests; a script, not a perfrun import.

    python tests/servers/accounts.py --users N [--port 0]

Prints `LISTENING http://127.0.0.1:PORT` once bound, serves until SIGTERM / SIGINT, then
writes `LOGINS user0=1 user1=1 …` (successful logins per account, every account listed)
and `DENIED n` (401 and 403 answers) to stderr. Accounts `user0` … `user{N-1}` have the
passwords `pw0` … `pw{N-1}`.

    POST /login       JSON {"user", "password"} -> 200 {"token"} and a `session` cookie;
                      401 for a wrong password
    GET  /items       with `Authorization: Bearer TOKEN` -> {"items": [{"id"}, {"id"}]},
                      the account's own two items; 401 without a valid token
    GET  /items/{id}  the item if the token's account owns it ({"id", "owner"}), else 403
    GET  /me          the account of the `session` cookie ({"user"}), else 401
    GET  /basic       the account of `Authorization: Basic` ({"user"}), else 401
    POST /login?next=/me  a login answered with 303 to `next` (the cookie set on the 303)
    GET  /redirect/{n}    302 to /redirect/{n-1}; /redirect/0 is 200 {"redirected": true}
    ANY  /r307            307 to /echo;  ANY /echo: {"method", "body"} of the request

Plain asyncio streams and a minimal HTTP/1.1 parser, as tests/servers/target.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import signal
import socket
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any


class Accounts:
    def __init__(self, users: int) -> None:
        self.passwords = {f"user{i}": f"pw{i}" for i in range(users)}
        self.tokens: dict[str, str] = {}
        self.sessions: dict[str, str] = {}
        self.logins: Counter[str] = Counter()
        self.denied = 0
        self._serial = itertools.count(1)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        status, payload, extra = self._route(method, path, headers, body)
        if status in (401, 403):
            self.denied += 1
        return _response(status, payload, extra)

    def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, list[str]]:
        public = self._public(method, path, headers, body)
        if public is not None:
            return public
        owner = self.tokens.get(headers.get("authorization", "").removeprefix("Bearer "))
        if owner is None:
            return 401, {"error": "no valid token"}, []
        if path == "/items":
            return 200, {"items": [{"id": f"{owner}-a"}, {"id": f"{owner}-b"}]}, []
        if path.startswith("/items/"):
            item = path.removeprefix("/items/")
            if item.split("-")[0] != owner:
                return 403, {"error": f"{item} is not {owner}'s"}, []
            return 200, {"id": item, "owner": owner}, []
        return 404, {"error": "not found"}, []

    def _public(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, list[str]] | None:
        """The routes without a token: login, redirects, basic auth, the session's user."""
        if method == "POST" and path.startswith("/login"):
            status, payload, extra = self._login(body)
            _, _, query = path.partition("?next=")
            if status == 200 and query:
                return 303, payload, [*extra, f"Location: {query}"]
            return status, payload, extra
        if path.startswith("/redirect/"):
            left = int(path.removeprefix("/redirect/"))
            if left == 0:
                return 200, {"redirected": True}, []
            return 302, {}, [f"Location: /redirect/{left - 1}"]
        if path == "/r307":
            return 307, {}, ["Location: /echo"]
        if path == "/echo":
            return 200, {"method": method, "body": body.decode("utf-8", "replace")}, []
        if path.partition("?")[0] == "/basic":
            user = self._basic(headers.get("authorization", ""))
            return (200, {"user": user}, []) if user else (401, {"error": "no basic auth"}, [])
        if path == "/me":
            user = self.sessions.get(_cookie(headers.get("cookie", ""), "session") or "")
            return (200, {"user": user}, []) if user else (401, {"error": "no session"}, [])
        return None

    def _basic(self, header: str) -> str | None:
        try:
            user, _, password = (
                base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            )
        except ValueError:
            return None
        return user if self.passwords.get(user) == password else None

    def _login(self, body: bytes) -> tuple[int, Any, list[str]]:
        try:
            form = json.loads(body)
            user, password = form["user"], form["password"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "expected JSON {user, password}"}, []
        if self.passwords.get(user) != password:
            return 401, {"error": "wrong user or password"}, []
        serial = next(self._serial)
        token, session = f"t{serial}.{user}", f"s{serial}"
        self.tokens[token] = user
        self.sessions[session] = user
        self.logins[user] += 1
        return 200, {"token": token}, [f"Set-Cookie: session={session}; Path=/; HttpOnly"]


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _response(status: int, payload: Any, extra: list[str]) -> bytes:
    body = json.dumps(payload).encode()
    reasons = {200: "OK", 302: "Found", 303: "See Other", 307: "Temporary Redirect"}
    reasons[400] = "Bad Request"
    reasons |= {401: "Unauthorized", 403: "Forbidden"}
    reason = reasons.get(status, "Not Found")
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def handle(
    accounts: Accounts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ")
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            writer.write(accounts.answer(method, path, headers, body))
            await writer.drain()
    except (ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(users: int, port: int) -> Accounts:
    accounts = Accounts(users)
    sock = socket.create_server(("127.0.0.1", port))
    server = await asyncio.start_server(
        lambda r, w: handle(accounts, r, w), sock=sock, limit=64 * 1024
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Announced once a stop signal is ours: one sent at once still ends the run cleanly.
    print(f"LISTENING http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()
    return accounts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    accounts = asyncio.run(serve(options.users, options.port))
    logins = " ".join(f"{user}={accounts.logins[user]}" for user in accounts.passwords)
    print(f"LOGINS {logins}", file=sys.stderr)
    print(f"DENIED {accounts.denied}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
