"""perfrun's build: the fast engine's hot path compiled with mypyc where it can be.

Everything else is in pyproject.toml. The modules listed there (`[tool.perfrun]
compiled`) run once or more per request; mypyc (mypy's compiler, which also builds mypy
and black) compiles them, as typed, to C extensions: the same source, ~40 % fewer CPU
instructions per request (docs/architecture.md, "The compiled hot path"). Without a C
compiler or Python's headers, or with PERFRUN_PURE=1, perfrun installs as plain Python
and runs the same code interpreted.

An editable install (`pip install -e .`) compiles them in place: after editing one,
install again (tests/conftest.py stops a test run on a stale build), or install with
PERFRUN_PURE=1 while working on them.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

from setuptools import setup

HERE = Path(__file__).parent


def _why_not_compiled() -> str | None:
    """Why the hot path is not compiled here (None: it is)."""
    if os.environ.get("PERFRUN_PURE", "") not in ("", "0"):
        return "PERFRUN_PURE is set"
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc (from mypy) is not installed"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers (Python.h)"
    return None


def _extensions() -> list[Any]:
    reason = _why_not_compiled()
    if reason is not None:
        print(f"perfrun: installing the hot path as plain Python: {reason}", file=sys.stderr)
        return []
    from mypyc.build import mypycify

    with (HERE / "pyproject.toml").open("rb") as file:
        modules = tomllib.load(file)["tool"]["perfrun"]["compiled"]
    # A build does not install perfrun's dependencies: their names read as Any.
    return mypycify(["--ignore-missing-imports", *modules], opt_level="3")


setup(ext_modules=_extensions())
