"""The test process's own heap, kept out of the collection perfrun makes before a load."""

from __future__ import annotations

import gc


def freeze_harness_heap() -> None:
    """Move every object alive now (the collected suite, imported modules, fixtures) into
    the garbage collector's permanent generation, which no collection walks.

    Before each load perfrun collects garbage, then freezes the heap, and unfreezes it
    after (`_frozen_heap` in perfrun/execution/drive.py). In a perfrun process of its own
    that collection walks perfrun's modules (~35 ms); in-process under pytest it also
    walks the ~200,000 objects of the whole collected suite: 0.15-0.6 s a run on a busy
    2-core VM, for hundreds of in-process runs. perfrun's collect, freeze and unfreeze
    run as before; only the harness's objects are skipped, as they do not exist when
    perfrun runs as a command. perfrun's unfreeze puts them back in the oldest generation
    after each run, so garbage frozen with them is still freed by a later collection.
    """
    gc.freeze()
