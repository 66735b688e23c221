"""What an open model's schedule asked for, and what was done about it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ScheduleCounts:
    """What the schedule asked for and what was done about it; mergeable by addition."""

    due: int = 0
    """Requests whose intended time came within the schedule."""
    sent: int = 0
    late: int = 0
    """Sent more than LATE_AFTER (perfrun.engine.open) after the intended time."""
    capped: int = 0
    """Had to wait for a free slot (max_in_flight reached): late because of the cap and
    the target's latency, not because perfrun ran short of CPU."""
    late_own: int = 0
    """Late without having waited for a slot: perfrun itself fell behind."""
    dropped: int = 0
    """Due, but never sent before the schedule ended (waiting for a slot, or perfrun
    too far behind)."""

    def merge(self, other: ScheduleCounts) -> None:
        self.due += other.due
        self.sent += other.sent
        self.late += other.late
        self.capped += other.capped
        self.late_own += other.late_own
        self.dropped += other.dropped
