"""How this perfrun was installed, for `--version`: without importing the engine."""

from __future__ import annotations

from pathlib import Path


def hot_path() -> str:
    """Whether the fast engine's hot path is compiled (by mypyc, see setup.py) or
    interpreted: read from its files, so that `--version` stays instant."""
    engine = Path(__file__).resolve().parents[1] / "engine"
    built = [*engine.glob("fast_wire.*.so"), *engine.glob("fast_wire.*.pyd")]
    return "hot path compiled" if built else "hot path interpreted"
