"""Fixtures: test targets on 127.0.0.1 and a CLI runner (helpers live in tests/support).

`run_perfrun(scenarios, *args)` writes the scenarios as YAML into the test's tmp_path,
runs `perfrun` in-process through click's CliRunner (a non-TTY, like a CI log) and
returns the exit code, what it printed and the JSON report it wrote.

Every test under tests/integration/ is marked `integration` (real sockets, processes and
time); `pytest -m "not integration"` runs the rest in seconds.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import socket
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

from perfrun.cli import cli
from tests.servers.launch import TargetProcess, start_target
from tests.support.perfrun_cli import (
    REPORT_NAME,
    SCENARIOS_DIR,
    PerfrunRun,
    RunPerfrun,
    StartTarget,
    write_scenarios,
)

INTEGRATION = Path(__file__).parent / "integration"

# Hypothesis: `ci` (the default) keeps the property tests to seconds and the same examples
# in every run; `HYPOTHESIS_PROFILE=long` searches fresh examples, many more of them. A
# deadline makes a hang fail (a test that sets its own settings keeps them).
settings.register_profile(
    "ci", max_examples=100, deadline=timedelta(seconds=5), derandomize=True, print_blob=True
)
settings.register_profile("long", max_examples=5000, deadline=timedelta(seconds=20))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    stale = _stale_build()
    if stale is not None:
        pytest.exit(
            f"{stale} is not what was compiled in place: the tests would run the old build. "
            "Install again (pip install -e '.[test]'), or with PERFRUN_PURE=1 to run it "
            "interpreted (see setup.py).",
            returncode=4,
        )


def _stale_build() -> str | None:
    """A module of the compiled hot path whose source is not what was compiled in place
    (an editable install, then an edit or a checkout: see setup.py), else None."""
    root = Path(__file__).resolve().parents[1]
    with (root / "pyproject.toml").open("rb") as file:
        modules: list[str] = tomllib.load(file)["tool"]["perfrun"]["compiled"]
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for module in modules:
        source = root / module
        if not any(p.name.endswith(suffixes) for p in source.parent.glob(f"{source.stem}*")):
            continue  # installed as plain Python
        stamp = root / "perfrun" / "_built.json"
        built = json.loads(stamp.read_text()) if stamp.is_file() else {}
        if built.get(module) != hashlib.sha256(source.read_bytes()).hexdigest():
            return module
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def refused_url() -> Iterator[str]:
    """`http://127.0.0.1:PORT` where every connect is refused: the port stays bound, not
    listening, for the whole session, so no other process can take it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by `openssl` (tests
    that use it skip where openssl is missing)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture()
def run_perfrun(tmp_path: Path) -> RunPerfrun:
    """Run the CLI in-process on scenarios written to tmp_path/scenarios."""

    def run(
        scenarios: Mapping[str, Any] | str | None, *args: str, env: Mapping[str, str] | None = None
    ) -> PerfrunRun:
        report_path = tmp_path / REPORT_NAME
        report_path.unlink(missing_ok=True)
        runs = not {"--list", "--compare"} & set(args)  # they refuse --output: no report
        options = ["--output", str(report_path)] if runs else []
        if scenarios is not None:
            write_scenarios(tmp_path / SCENARIOS_DIR, scenarios)
            options += ["--scenarios-dir", str(tmp_path / SCENARIOS_DIR)]
        result = CliRunner().invoke(cli, [*options, *args], env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a crash: show its traceback, not an exit code
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return PerfrunRun(result.exit_code, result.output, report)

    return run


@pytest.fixture()
def target() -> Iterator[StartTarget]:
    """Start tests/servers/target.py with the given options; every one is stopped after."""
    started: list[TargetProcess] = []

    def start(*args: str) -> TargetProcess:
        process = start_target(*args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def plain_target() -> Iterator[TargetProcess]:
    """A target answering every request at once with 200; stateless, so shared."""
    with start_target() as process:
        yield process


@pytest.fixture(scope="session")
def delay_target() -> Iterator[TargetProcess]:
    """A target answering every request after exactly 20 ms."""
    with start_target("--delay-ms", "20") as process:
        yield process


@pytest.fixture(scope="module")
def alloc_target() -> Iterator[TargetProcess]:
    """A target holding 150 MB of touched, resident memory."""
    with start_target("--alloc-mb", "150") as process:
        yield process
