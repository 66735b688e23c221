"""`perfrun --help` and `--version` answer at once: they import nothing a run needs.

Asserted as the modules loaded, not as a time (a busy machine would make a time flaky);
the time is in docs/benchmarks.md (`python -X importtime -m perfrun --version`).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("rich", "httpx", "httpcore", "psutil", "uvloop", "hdrh", "yaml", "perfrun.app")

PROBE = """
import json, sys
from click.testing import CliRunner
from perfrun.cli import cli
result = CliRunner().invoke(cli, [sys.argv[1]])
heavy = sorted({name.split(".")[0] if not name.startswith("perfrun") else name
                for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"exit": result.exit_code, "output": result.output, "heavy": heavy}))
"""


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_import_nothing_a_run_needs(option: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, option, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    probe = json.loads(done.stdout)
    assert probe["exit"] == 0
    assert "perfrun" in probe["output"]
    assert probe["heavy"] == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a run's module, once imported, is seen."""
    done = subprocess.run(
        [sys.executable, "-c", "import perfrun.app\n" + PROBE, "--version", json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "perfrun.app" in json.loads(done.stdout)["heavy"]
