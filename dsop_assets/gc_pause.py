"""Large imports without Python's cyclic garbage collector, their objects frozen afterwards.

Importing Dagster, the definitions, the instance's storage and Great Expectations creates some
300,000 long-lived objects (classes, functions, pydantic models). The collector's full passes are
triggered by that growth (every +25 %) and each one walks the whole heap again: a one-week refresh
paid ~1 s of CPU for six of them, and GX's import ran 0.4-0.6 s slower with the collector on.
Imported modules live as long as the process, so nothing is lost by not scanning them:
``gc.freeze()`` moves everything alive at the end into the permanent generation, which later
collections skip. Only the collector pauses; reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def imports_without_gc(collect_first: bool = False) -> Iterator[None]:
    """Pause the cyclic collector for the block, then freeze what is alive and resume it.

    Frozen objects are still freed by reference counting; only cyclic garbage among them would never
    be. Imports leave none, but a block that runs inside a step (GX's context, built in the first
    check step) may freeze the step's own cyclic garbage: ``collect_first`` runs one collection
    before the freeze (a pass over the unfrozen objects only). Nesting is harmless: only the outermost block
    (the one that found the collector on) resumes it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if collect_first:
                gc.collect()
            gc.freeze()
            gc.enable()
