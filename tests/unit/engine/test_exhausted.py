"""perfrun out of file descriptors is recorded as its own failure (`other`, saying so),
never as the target's connect error, by both engines' one mapping place."""

from __future__ import annotations

import errno

import httpx
import pytest

from perfrun.engine.fast_wire import classify_os_error
from perfrun.engine.httpx_engine import classify
from perfrun.metrics.result import ErrorKind


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE])
def test_the_fast_engine_records_exhausted_descriptors_as_perfruns_own(code: int) -> None:
    kind, detail = classify_os_error(OSError(code, "Too many open files"))
    assert kind is ErrorKind.OTHER
    assert "perfrun's own open-files limit" in detail and "ulimit -n" in detail


def test_the_httpx_engine_records_exhausted_descriptors_as_perfruns_own() -> None:
    error = httpx.ConnectError("[Errno 24] Too many open files")
    error.__cause__ = OSError(errno.EMFILE, "Too many open files")
    kind, detail = classify(error)
    assert kind is ErrorKind.OTHER
    assert "perfrun's own open-files limit" in detail


def test_other_connect_errors_keep_their_kind() -> None:
    assert classify_os_error(OSError(errno.ENETUNREACH, "unreachable"))[0] is (
        ErrorKind.CONNECT_ERROR
    )
    assert classify_os_error(ConnectionRefusedError())[0] is ErrorKind.CONNECT_REFUSED
    assert classify(httpx.ConnectError("boom"))[0] is ErrorKind.CONNECT_ERROR
