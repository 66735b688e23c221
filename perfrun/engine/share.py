"""A worker's share of a scenario's load, so N processes together send what one would.

Worker k of n takes the users, and the scheduled requests, whose global index is k
modulo n: users keep their ramp-up offsets and the schedule keeps its spacing, and
the shares add up exactly to the whole, whatever n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Share:
    index: int
    count: int

    WHOLE: ClassVar[Share]

    def indices(self, total: int) -> range:
        """This worker's global indices among `total`."""
        return range(self.index, total, self.count)

    def cap(self, limit: int) -> int:
        """This worker's part of a limit on the whole (e.g. max_in_flight): the parts add
        up to the limit (the first `limit % count` workers take one more), at least 1."""
        return max(1, limit // self.count + (self.index < limit % self.count))


Share.WHOLE = Share(0, 1)
