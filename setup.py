"""perfrun's build: the fast engine's hot path compiled with mypyc where it can be.

Everything else is in pyproject.toml. The modules listed there (`[tool.perfrun]
compiled`) run once or more per request; mypyc (mypy's compiler, which also builds mypy
and black) compiles them, as typed, to C extensions: the same source, ~40 % fewer CPU
instructions per request (docs/architecture.md, "The compiled hot path"). Without a C
compiler or Python's headers, or with PERFRUN_PURE=1, perfrun installs as plain Python
and runs the same code interpreted.

An editable install (`pip install -e .`) compiles them in place and writes what it
compiled in `perfrun/_built.json`: after editing one, install again (tests/conftest.py
stops a test run on a stale build), or install with PERFRUN_PURE=1 while working on them.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import tomllib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
STAMP = "perfrun/_built.json"
"""What an in-place build compiled: each module's path and its source's SHA-256."""


def compiled_modules() -> list[str]:
    with (HERE / "pyproject.toml").open("rb") as file:
        modules: list[str] = tomllib.load(file)["tool"]["perfrun"]["compiled"]
    return modules


def sources_digest(root: Path, modules: list[str]) -> dict[str, str]:
    return {m: hashlib.sha256((root / m).read_bytes()).hexdigest() for m in modules}


def built_files(root: Path, modules: list[str]) -> list[Path]:
    """The compiled modules' extension files beside their sources (an in-place build)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [
        path
        for module in modules
        for path in (root / module).parent.glob(f"{Path(module).stem}*")
        if path.name.endswith(suffixes)
    ]


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


BUILD_MYPY_CONFIG = """\
[mypy]
ignore_missing_imports = True

[mypy-distributed.*]
follow_imports = skip
"""
"""mypyc's settings: a build does not install perfrun's dependencies, so their names read
as Any; Dask's are not followed (as in pyproject.toml's settings)."""


class BuildHotPath(build_ext):  # type: ignore[misc]  # setuptools is untyped
    """Runs mypyc only when extensions are built: pip asks setup.py for metadata first,
    which finalizes this command too, and mypyc's analysis takes ~20 s each time."""

    def finalize_options(self) -> None:
        if {"dist_info", "egg_info"} & set(sys.argv[1:2]):  # metadata only: nothing built
            super().finalize_options()
            return
        reason = _why_not_compiled()
        if reason is not None:
            print(f"perfrun: installing the hot path as plain Python: {reason}", file=sys.stderr)
            self.distribution.ext_modules = []
            # An earlier build in place would still be imported from the checkout.
            for path in [*built_files(HERE, compiled_modules()), HERE / STAMP]:
                path.unlink(missing_ok=True)
        else:
            from mypyc.build import mypycify

            # Its own mypy settings (BUILD_MYPY_CONFIG), not pyproject's strict ones: a
            # fresh build environment has no type stubs (PyYAML's, psutil's), and strict
            # mode failed on modules the compiled ones import (subclassing Any, unused
            # ignores). The lint step checks them strictly, with the stubs installed.
            # A fresh cache each time: mypyc 2.4 crashed (ValueError in
            # emit_undefined_attr_check) building in place after an edit, from the
            # cache of the build before (and --cache-dir=/dev/null takes 70 % longer).
            # One C file per module: compiled side by side, twice as fast as one file.
            with tempfile.TemporaryDirectory(prefix="perfrun-mypyc-") as cache:
                config = Path(cache) / "mypy.ini"
                config.write_text(BUILD_MYPY_CONFIG)
                modules = ["--config-file", str(config), f"--cache-dir={cache}",
                           *compiled_modules()]  # fmt: skip
                self.distribution.ext_modules = mypycify(modules, opt_level="3", separate=True)
        super().finalize_options()
        self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        """Build; in place (`pip install -e`), say from which sources."""
        super().run()
        if not (self.inplace or getattr(self, "editable_mode", False)):
            return
        stamp = HERE / STAMP
        digest = sources_digest(HERE, compiled_modules())
        stamp.write_text(json.dumps(digest, indent=1) + "\n")


# A stand-in until BuildHotPath knows: with no extension at all, setuptools would build
# a pure wheel and never run build_ext.
setup(
    ext_modules=[Extension("perfrun._hot_path", sources=[])],
    cmdclass={"build_ext": BuildHotPath},
)
