"""The words of the scenario vocabulary the command line offers: test types, severities,
engines. Enums only, so that `perfrun --help` (and shell completion) import nothing else;
`perfrun.scenario.model` re-exports them with the rest of the domain.
"""

from __future__ import annotations

import enum


class ScenarioType(enum.StrEnum):
    LOAD = "load"
    STRESS = "stress"
    SPIKE = "spike"
    VOLUME = "volume"
    ENDURANCE = "endurance"
    MEMORY = "memory"
    CPU = "cpu"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical, for ordering."""
        return list(Severity).index(self)


class EngineChoice(enum.StrEnum):
    AUTO = "auto"
    """The fast engine when the scenario needs nothing more, else httpx."""
    FAST = "fast"
    """perfrun's own HTTP/1.1 engine: asyncio protocols + httptools."""
    HTTPX = "httpx"
    """The reference engine, for everything the fast one does not do."""
