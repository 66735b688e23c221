"""Writing report files atomically: a reader, a crash or an interrupt never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from perfrun.errors import ReportError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: Path, text: str) -> None:
    """A temp file in the same directory, fsync, then a rename over `path`; ReportError
    naming the path when it cannot be written."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ReportError(f"cannot write report {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it private; a report is not secret
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ReportError(f"cannot write report {path}: {exc.strerror or exc}") from None
