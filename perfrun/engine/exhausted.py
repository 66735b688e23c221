"""perfrun's own descriptors exhausted: a failed connect that is not the target's doing.

Past RLIMIT_NOFILE a connect fails with EMFILE (ENFILE: the system's table), before any
packet leaves. Recorded as a connect error it would read as the target's failure, and
count towards `unreachable`; each engine's one mapping place asks `exhausted` first and
records it as `other`, saying whose limit it is. perfrun checks the limit before the load
(perfrun.execution.limits), so this is the exception: an estimate that fell short.
"""

from __future__ import annotations

import errno

EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE})


def exhausted(exc: BaseException) -> str | None:
    """The detail to record when `exc` (or what caused it) is perfrun running out of file
    descriptors; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno in EXHAUSTED:
            return (
                f"perfrun's own open-files limit, not the target's failure ({current}): "
                "raise ulimit -n, or run fewer users per process"
            )
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
