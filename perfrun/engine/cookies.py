"""A virtual user's cookies on the fast engine: the standard library's `http.cookiejar`
(RFC 6265 parsing, domains, paths, expiry), not a hand-written Set-Cookie parser. The
httpx engine keeps its client's own jar."""

from __future__ import annotations

import email.message
import urllib.request
from collections.abc import Sequence
from http.client import HTTPResponse
from http.cookiejar import CookieJar
from typing import cast


class Jar:
    """One user's cookies for requests to `base_url` (scheme, host and port)."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")
        self._jar = CookieJar()

    def header(self, path: str) -> str | None:
        """The Cookie header for a request to `path` (with its query), or None."""
        request = urllib.request.Request(self._base + path)
        self._jar.add_cookie_header(request)
        return request.get_header("Cookie")

    def extract(self, path: str, set_cookies: Sequence[str]) -> None:
        """Keep the cookies of a response to `path` (its Set-Cookie header values)."""
        if not set_cookies:
            return
        headers = email.message.Message()
        for value in set_cookies:
            headers["Set-Cookie"] = value
        response = cast(HTTPResponse, _Response(headers))  # all the jar reads is info()
        self._jar.extract_cookies(response, urllib.request.Request(self._base + path))

    def __len__(self) -> int:
        return len(self._jar)


class _Response:
    """What CookieJar.extract_cookies reads of a response."""

    def __init__(self, headers: email.message.Message) -> None:
        self._headers = headers

    def info(self) -> email.message.Message:
        return self._headers
