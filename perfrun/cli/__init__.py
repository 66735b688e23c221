"""The `perfrun` command: options become a RunConfig, `perfrun.app` does the work, the CLI
renders the result and picks the exit code.

The only package that exits (once, at the end of `cli`); every exit code is defined in
`perfrun.errors`. `command` declares the options and imports nothing heavy; `actions` does
the work when a command runs.
"""

from perfrun.cli.command import cli, main

__all__ = ["cli", "main"]
