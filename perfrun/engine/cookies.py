"""A virtual user's cookies on the fast engine: the standard library's `http.cookiejar`
(RFC 6265 parsing, domains, paths, expiry), not a hand-written Set-Cookie parser. The
httpx engine keeps its client's own jar."""

from __future__ import annotations

import email.message
import math
import time
import urllib.request
from collections.abc import Sequence
from http.client import HTTPResponse
from http.cookiejar import CookieJar
from typing import cast

from mypy_extensions import mypyc_attr

_UNKNOWN = "\0unknown"
_REMEMBERED = 64
"""Paths whose Cookie header a jar remembers at most."""


@mypyc_attr(allow_interpreted_subclasses=True)
class Jar:
    """One user's cookies for requests to `base_url` (scheme, host and port).

    The Cookie header of a path is asked of the jar once and then remembered, until the
    jar changes or its first cookie expires: a user sends it with every request, and
    the jar's answer costs ~10 µs (it builds a urllib Request to ask). While every
    cookie is for the whole site (`Path=/`, the usual session cookie), the header is
    the same for every path, so one answer serves all (templated paths vary)."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")
        self._jar = CookieJar()
        self._headers: dict[str, str | None] = {}
        """Cookie headers by path, valid until `_fresh_until` (time.time())."""
        self._fresh_until = math.inf
        self._sitewide = True
        """Every cookie in the jar has Path=/ (or none is there)."""
        self.empty = True
        """No cookie is kept: every request goes without (a hot path checks this first)."""
        self._unchanged: tuple[str, tuple[str, ...]] | None = None
        """The path and Set-Cookie values extracted last, when extracting them again
        would leave the jar as it is (see `extract`)."""

    def header(self, path: str) -> str | None:
        """The Cookie header for a request to `path` (with its query), or None."""
        if self.empty:
            return None
        if time.time() >= self._fresh_until:
            self._jar.clear_expired_cookies()
            self._forget()
        if self._sitewide:
            path = "/"
        header = self._headers.get(path, _UNKNOWN)
        if header is _UNKNOWN:
            if len(self._headers) >= _REMEMBERED:
                self._headers.clear()  # templated paths: bounded memory
            request = urllib.request.Request(self._base + path)
            self._jar.add_cookie_header(request)
            header = self._headers[path] = request.get_header("Cookie")
        return header

    def extract(self, path: str, set_cookies: Sequence[str]) -> None:
        """Keep the cookies of a response to `path` (its Set-Cookie header values)."""
        if not set_cookies:
            return
        # A server may set the same cookie on every response (a load balancer's
        # stickiness cookie, a session refreshed each time): asking cookiejar again
        # costs ~150 µs a response, and the jar would not change (see `_repeatable`),
        # as long as none of its cookies has expired since.
        sent = (path, tuple(set_cookies))
        if sent == self._unchanged and time.time() < self._fresh_until:
            return
        headers = email.message.Message()
        for value in set_cookies:
            headers["Set-Cookie"] = value
        response = cast(HTTPResponse, _Response(headers))  # all the jar reads is info()
        self._jar.extract_cookies(response, urllib.request.Request(self._base + path))
        self._forget()
        self._unchanged = sent if self._repeatable(set_cookies) else None

    def _repeatable(self, set_cookies: Sequence[str]) -> bool:
        """Whether extracting these Set-Cookie values again, from the same path and
        before any cookie of the jar expires, would leave the jar as it is now: each
        names a cookie of its own, now in the jar (none deleted it or was refused),
        without a Max-Age (each extract restarts its clock). Anything else is
        extracted every time: a cookie named twice is deleted and set again in order,
        and an expired or two-digit-year Expires means another thing later."""
        names = [value.split(";", 1)[0].split("=", 1)[0].strip() for value in set_cookies]
        kept = {cookie.name for cookie in self._jar}
        return (
            len(set(names)) == len(names)
            and kept.issuperset(names)
            and not any("max-age" in value.lower() for value in set_cookies)
        )

    def _forget(self) -> None:
        """Ask the jar afresh from now on, until its first cookie expires."""
        self._headers.clear()
        self._unchanged = None
        cookies = list(self._jar)
        expiries = [cookie.expires for cookie in cookies if cookie.expires is not None]
        self._fresh_until = min(expiries, default=math.inf)
        self._sitewide = all(cookie.path == "/" for cookie in cookies)
        self.empty = not cookies

    def __len__(self) -> int:
        return len(self._jar)


class _Response:
    """What CookieJar.extract_cookies reads of a response."""

    def __init__(self, headers: email.message.Message) -> None:
        self._headers = headers

    def info(self) -> email.message.Message:
        return self._headers
