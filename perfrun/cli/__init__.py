"""The `perfrun` command: options become a RunConfig, `perfrun.app` does the work, the CLI
renders the result and picks the exit code.

The only package that exits (once, at the end of `cli`); every exit code is defined in
`perfrun.errors`. `command` declares the options and imports nothing heavy; `actions` does
the work when a command runs. `perfrun --version` answers before even click is imported.
"""

from __future__ import annotations

import sys
from typing import Any

from perfrun import __version__

__all__ = ["cli", "main"]


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from perfrun.cli.form import hot_path

        print(f"perfrun, version {__version__} ({hot_path()})")
        return
    from perfrun.cli.command import main as command_main

    command_main()


def __getattr__(name: str) -> Any:
    if name == "cli":
        from perfrun.cli.command import cli

        return cli
    raise AttributeError(f"module 'perfrun.cli' has no attribute {name!r}")
