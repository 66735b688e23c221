"""`--list` and `--compare` are not runs: they refuse the options they would ignore."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from perfrun.cli import cli
from perfrun.errors import EXIT_OK, EXIT_USAGE
from tests.support.perfrun_cli import scenario, write_scenarios


@pytest.fixture()
def scenarios_dir(tmp_path: Path) -> Path:
    write_scenarios(tmp_path / "scenarios", {"alpha": scenario("http://127.0.0.1:1")})
    return tmp_path / "scenarios"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--output", "r.json"], "--output"),
        (["--html", "r.html"], "--html"),
        (["--workers", "2", "--quiet"], "--workers, --quiet"),
        (["--baseline", "old.json"], "--baseline"),
    ],
)
def test_list_refuses_options_it_would_ignore(
    scenarios_dir: Path, tmp_path: Path, args: list[str], named: str
) -> None:
    result = CliRunner().invoke(cli, ["--list", "--scenarios-dir", str(scenarios_dir), *args])
    assert result.exit_code == EXIT_USAGE
    assert f"--list runs nothing: it does not take {named}" in result.output
    assert not (tmp_path / "r.json").exists()


def test_list_takes_the_selection_from_options_and_environment(scenarios_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--list", "--scenarios", "alpha", "--type", "load", "--severity", "low"],
        env={"PERFRUN_SCENARIOS_DIR": str(scenarios_dir)},
    )
    assert result.exit_code == EXIT_OK, result.output
    assert "alpha" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--html", "x.html"], "--html"),
        (["--scenarios", "alpha"], "--scenarios"),
        (["--output", "r.json", "--fail-on", "high"], "--output, --fail-on"),
    ],
)
def test_compare_refuses_options_it_would_ignore(
    tmp_path: Path, args: list[str], named: str
) -> None:
    result = CliRunner().invoke(cli, ["--compare", "old.json", "new.json", *args])
    assert result.exit_code == EXIT_USAGE
    assert f"--compare runs nothing: it does not take {named}" in result.output


def test_compare_takes_a_tolerance(tmp_path: Path) -> None:
    """Past the option check, the missing files are what is wrong."""
    old = tmp_path / "old.json"
    result = CliRunner().invoke(cli, ["--compare", str(old), str(old), "--max-regression", "5%"])
    assert result.exit_code == EXIT_USAGE
    assert f"baseline {old}: no such file" in result.output
