"""perfrun's errors and the exit codes they map to: the only place exit codes are defined.

Inside the engine a failed request is data (`RequestResult.error`), never an exception.
These exceptions are for what stops perfrun itself; only the CLI turns them into exits.
"""

from __future__ import annotations

EXIT_OK = 0
"""Every scenario ran and every threshold passed."""
EXIT_THRESHOLD_FAILED = 1
"""The run was carried out and some threshold failed."""
EXIT_USAGE = 2
"""Bad command-line option or scenario file."""
EXIT_RUN_FAILED = 3
"""The run could not be carried out: target unreachable, demo target did not start."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C / SIGTERM (the report is still written, marked interrupted)."""


class PerfrunError(Exception):
    """Base class: a message for the user and the exit code it means."""

    exit_code = EXIT_RUN_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PerfrunError):
    """A command-line option is wrong (unknown scenario, bad value)."""

    exit_code = EXIT_USAGE


class ScenarioError(PerfrunError):
    """A scenario file is wrong. `where` is `file:line` and/or a path like `health -> load`."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


class TargetError(PerfrunError):
    """The target could not be used (demo target did not start, monitored pid missing)."""

    exit_code = EXIT_RUN_FAILED


class ReportError(PerfrunError):
    """The report could not be written."""

    exit_code = EXIT_RUN_FAILED
