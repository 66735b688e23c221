"""`--out csv=` and `--out jsonl=` are checked before any load (UsageError, exit 2), and
planned once for every process of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfrun.errors import EXIT_USAGE, UsageError
from perfrun.execution.data_out import DataPlan, DataRun, check_data_out
from perfrun.execution.outcome import DataOut, OutKind, RunOptions
from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.streamed import StreamedStats
from perfrun.scenario.model import LoadSpec
from tests.support.scripted import scripted_scenario


def _options(*outs: tuple[OutKind, str], cluster: str | None = None) -> RunOptions:
    return RunOptions(data_out=tuple(DataOut(k, w) for k, w in outs), cluster=cluster)


@pytest.mark.parametrize(
    ("outs", "cluster", "says"),
    [
        ([(OutKind.JSONL, "a.jsonl"), (OutKind.JSONL, "b.jsonl")], None, "more than once"),
        ([(OutKind.CSV, "a.csv"), (OutKind.CSV, "b.csv")], None, "more than once"),
        ([(OutKind.CSV, "same"), (OutKind.JSONL, "same")], None, "same file"),
        ([(OutKind.JSONL, "missing/a.jsonl")], None, "does not exist"),
        ([(OutKind.CSV, ".")], None, "give a file path"),
        ([(OutKind.JSONL, "a.jsonl.gz")], "local:2", "--cluster"),
        ([(OutKind.CSV, "a.csv")], "tcp://10.0.0.1:8786", "--cluster"),
    ],
)
def test_file_outputs_that_cannot_be_written_as_asked_are_usage_errors(
    outs: list[tuple[OutKind, str]], cluster: str | None, says: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=says) as raised:
        check_data_out(_options(*outs, cluster=cluster))
    assert raised.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    "options",
    [
        _options(),
        _options((OutKind.JSONL, "a.jsonl.gz"), (OutKind.CSV, "a.csv")),
        # Not files: the live exporters' business, with or without a cluster.
        _options((OutKind.PROMETHEUS, "127.0.0.1:9464"), cluster="local:2"),
    ],
)
def test_writable_file_outputs_pass(
    options: RunOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    check_data_out(options)


@pytest.mark.parametrize(
    ("outs", "plan"),
    [
        ([], None),
        ([(OutKind.PROMETHEUS, "127.0.0.1:9464")], None),
        ([(OutKind.JSONL, "r.jsonl.gz")], DataPlan(jsonl=Path("r.jsonl.gz"))),
        (
            [(OutKind.CSV, "s.csv"), (OutKind.OTLP, "http://x"), (OutKind.JSONL, "r.jsonl")],
            DataPlan(jsonl=Path("r.jsonl"), csv=Path("s.csv")),
        ),
    ],
)
def test_the_plan_holds_the_file_outputs_only(
    outs: list[tuple[OutKind, str]], plan: DataPlan | None
) -> None:
    assert DataPlan.of(_options(*outs)) == plan


def test_a_workers_part_lies_beside_the_file() -> None:
    plan = DataPlan(jsonl=Path("out/requests.jsonl.gz"))
    assert plan.part(1) == Path("out/requests.jsonl.gz.part1")


def test_the_file_joins_the_parts_of_merged_workers_only_and_no_part_is_left(
    tmp_path: Path,
) -> None:
    """A worker whose figures never came (killed after the grace) may have left a torn
    part: it is not in the report, so not in the file."""
    plan = DataPlan(jsonl=tmp_path / "requests.jsonl")
    scenario = scripted_scenario(LoadSpec(users=1, requests_per_user=1))
    parent = DataRun(scenario, plan, parts=3)
    for index in range(3):
        plan.part(index).write_text(f'{{"part":{index}}}\n' + ("{torn" if index == 1 else ""))
    assert isinstance(parent.stats, StreamedStats)
    parent.stats.pieces += [str(plan.part(0)), str(plan.part(2))]
    parent.close()
    assert (tmp_path / "requests.jsonl").read_text() == '{"part":0}\n{"part":2}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requests.jsonl"]


def test_a_run_without_file_outputs_records_into_plain_stats() -> None:
    """No hook, no cost: the stats every run without --out has always had."""
    scenario = scripted_scenario(LoadSpec(users=1, requests_per_user=1))
    run = DataRun(scenario, DataPlan.of(_options((OutKind.PROMETHEUS, "127.0.0.1:9464"))))
    assert type(run.stats) is ScenarioStats
