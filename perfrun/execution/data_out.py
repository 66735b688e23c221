"""`--out jsonl=FILE[.gz]` and `--out csv=FILE`: the run's data, to files.

JSONL: every request's line (see perfrun.metrics.streamed), streamed as it is measured,
in chunks of whole lines. With `--workers N` each worker writes its own part beside the
file (`FILE.partK`) and the parent appends the parts it merged to the file at the
scenario's end, then removes every part: the file's lines are exactly the requests the
report counts. A gzipped part is a whole gzip member, and members concatenate into a
valid gzip file. A run's scenarios write one after another into one file (the first
truncates it); an interrupted scenario still closes its file (and gzip trailer).

CSV: per-second rows per endpoint, written when each scenario ends, from the per-second
figures its stats kept (merged across workers: a second's percentiles need every
worker's latencies), under one header for the run.

A Dask cluster (`--cluster`) is refused: its shares' files would be on other machines.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from perfrun.errors import UsageError
from perfrun.execution.outcome import DataOut, OutKind, RunOptions
from perfrun.metrics.stats import ScenarioStats
from perfrun.metrics.streamed import CSV_HEADER, StreamedStats
from perfrun.scenario.model import Scenario

GZIP_LEVEL = 1
"""Fast compression: ~10x smaller lines for a fraction of level 9's CPU."""
FILE_KINDS = (OutKind.JSONL, OutKind.CSV)


def check_data_out(options: RunOptions) -> None:
    """UsageError (exit 2, before any load) when the `--out` files cannot be written as
    asked: a kind given twice, one file for both, a missing or read-only directory, or
    `--cluster`. For the app to call before any load; `run_scenarios` calls it too."""
    files = [out for out in options.data_out if out.kind in FILE_KINDS]
    for kind in FILE_KINDS:
        if sum(out.kind is kind for out in files) > 1:
            raise UsageError(f"--out {kind}= given more than once: give one file")
    if len({Path(out.where).resolve() for out in files}) < len(files):
        raise UsageError("--out csv= and --out jsonl= name the same file: give two files")
    for out in files:
        _check_path(out)
    if files and options.cluster is not None:
        raise UsageError(
            f"--out {files[0].kind}= cannot be used with --cluster: the shares' requests "
            "are measured on other machines (use --workers on one machine, or the report)"
        )


def _check_path(out: DataOut) -> None:
    path = Path(out.where)
    if not out.where or path.is_dir():
        raise UsageError(f"--out {out.kind}={out.where}: give a file path")
    if not path.parent.is_dir():
        raise UsageError(f"--out {out.kind}={out.where}: directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--out {out.kind}={out.where}: not writable")


@dataclass(frozen=True)
class DataPlan:
    """The file outputs of a run, as every process that measures needs them (pickled to
    workers)."""

    jsonl: Path | None = None
    csv: Path | None = None

    @classmethod
    def of(cls, options: RunOptions) -> DataPlan | None:
        """The plan of `--out` (None when it asks for no file: plain stats, no hook)."""
        paths = {out.kind: Path(out.where) for out in options.data_out if out.kind in FILE_KINDS}
        if not paths:
            return None
        return cls(paths.get(OutKind.JSONL), paths.get(OutKind.CSV))

    def part(self, index: int) -> Path:
        """Worker `index`'s part of the JSONL file."""
        assert self.jsonl is not None
        return self.jsonl.with_name(f"{self.jsonl.name}.part{index}")


class _LineFile:
    """A JSONL file (or part) open for whole chunks of lines, gzipped for `.gz`."""

    def __init__(self, path: Path, gzipped: bool, append: bool) -> None:
        self.raw: BinaryIO = path.open("ab" if append else "wb")
        self.gzip: gzip.GzipFile | None = None
        if gzipped:
            self.gzip = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=GZIP_LEVEL)

    def write(self, text: str) -> None:
        (self.gzip or self.raw).write(text.encode())

    def close(self) -> None:
        if self.gzip is not None:
            self.gzip.close()  # the member's trailer; leaves `raw` open
        self.raw.close()


class DataRun:
    """One scenario's data out, in the process that records its requests (`write`:
    the whole load, or a worker's part) or merges workers' stats (`parts` > 0)."""

    def __init__(self, scenario: Scenario, plan: DataPlan | None, *, first: bool = True,
                 parts: int = 0, part: int | None = None) -> None:  # fmt: skip
        self.plan = plan
        self.parts = parts
        self.part = part
        self._file: _LineFile | None = None
        if plan is None:
            self.stats: ScenarioStats = ScenarioStats.for_load(scenario.load)
            return
        if plan.csv is not None and first and part is None:
            with plan.csv.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(CSV_HEADER)
        if plan.jsonl is not None and parts == 0:
            path = plan.part(part) if part is not None else plan.jsonl
            gzipped = plan.jsonl.suffix == ".gz"
            self._file = _LineFile(path, gzipped, append=not first and part is None)
        elif plan.jsonl is not None and first:
            plan.jsonl.open("wb").close()  # the workers' parts are appended at the end
        write = self._file.write if self._file is not None else None
        self.stats = StreamedStats.for_scenario(scenario, write, plan.csv is not None)

    @classmethod
    def for_worker(cls, scenario: Scenario, plan: DataPlan | None, index: int) -> DataRun:
        """Worker `index`'s data: its part of the lines; its per-second figures travel
        in its stats."""
        return cls(scenario, plan, part=index)

    def close(self) -> None:
        """Finish the files: flush the lines (a worker lists its part in its stats'
        `pieces`), or join the workers' parts; write the scenario's CSV rows. Once."""
        stats, plan = self.stats, self.plan
        if plan is None or not isinstance(stats, StreamedStats):
            return
        self.plan = None
        stats.detach()
        if self._file is not None:
            self._file.close()
            if self.part is not None:
                stats.pieces.append(str(plan.part(self.part)))
        elif plan.jsonl is not None:
            self._join(plan, stats.pieces)
        if plan.csv is not None and self.part is None:
            with plan.csv.open("a", newline="", encoding="utf-8") as f:
                origin_unix = stats.origin + stats.unix_offset
                csv.writer(f).writerows(row.cells(origin_unix) for row in stats.rows())

    def _join(self, plan: DataPlan, pieces: list[str]) -> None:
        """Append the merged workers' parts to the file, then remove every part (those
        of workers whose figures never came are not in the report: not in the file)."""
        assert plan.jsonl is not None
        with plan.jsonl.open("ab") as joined:
            for piece in pieces:
                with open(piece, "rb") as part:
                    shutil.copyfileobj(part, joined, 1 << 20)
        for index in range(self.parts):
            with contextlib.suppress(FileNotFoundError):
                plan.part(index).unlink()
