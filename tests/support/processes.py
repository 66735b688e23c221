"""Processes the tests start through perfrun: a `target:` mapping for a test server
script, and whether a process has ended."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import psutil

GONE_WITHIN = 10.0
"""Seconds a stopped or orphaned process may take to disappear on a busy machine."""


def launched_target(script: Path, *args: str) -> dict[str, Any]:
    """The `target:` mapping that makes perfrun launch `script` (a server under
    tests/servers taking `--port`) with `args`, ready once its port accepts."""
    return {
        "command": [sys.executable, str(script), "--port", "{port}", *args],
        "ready": {"tcp": True, "timeout": "20s"},
    }


def gone(pid: int, within: float = GONE_WITHIN) -> bool:
    """Whether `pid` has ended (a zombie nobody reaped yet counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False
