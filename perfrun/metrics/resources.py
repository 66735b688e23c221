"""One sample of the monitored resources: the target process tree, the system, perfrun.

Taken by the monitor (perfrun.execution.monitor), kept in the report (perfrun.report.model).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampling instant; `t` is seconds since the monitor started (in a report: since
    the load started, see MonitorResult.started)."""

    t: float
    dt: float
    """Seconds this sample's CPU figures cover (the last one may be short)."""
    target_cpu_percent: float | None
    target_memory_mb: float | None
    target_threads: int | None
    target_open_files: int | None
    target_sockets: int | None
    target_processes: int | None
    system_cpu_percent: float
    system_memory_percent: float
    system_memory_used_mb: float
    generator_cpu_percent: float
    generator_memory_mb: float
