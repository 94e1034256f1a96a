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
    be. A block that runs inside a step (GX's import and context, in the first check step) would
    freeze the step's own cyclic garbage: ``collect_first`` runs one collection before the block (a
    pass over the step's unfrozen objects, as the definitions are frozen already). The block's own
    cyclic garbage is frozen with it: GX's import leaves ~2,200 such objects (0.7 MB, its failed
    optional imports' frames and tracebacks), kept once per process, where a collection after the
    block would cost ~0.1 s CPU walking the import's ~140,000 new objects. Nesting is harmless:
    only the outermost block (the one that found the collector on) resumes it.
    """
    was_enabled = gc.isenabled()
    if was_enabled and collect_first:
        gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
