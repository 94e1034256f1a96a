"""The collector pause around large imports (dsop_assets/gc_pause.py)."""

import gc

import pytest

from dsop_assets.gc_pause import imports_without_gc


def test_the_collector_is_paused_inside_and_resumed_with_the_new_objects_frozen():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with imports_without_gc():
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]  # container objects the collector tracks
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(kept)
    gc.unfreeze()  # give the test process its collector back in full
    gc.collect()


def test_only_the_outer_block_resumes_and_an_error_still_resumes(monkeypatch):
    with imports_without_gc():
        with imports_without_gc():
            pass
        assert not gc.isenabled()  # the inner block found the collector off: it leaves it off
    assert gc.isenabled()
    with pytest.raises(ImportError):
        with imports_without_gc():
            raise ImportError("a broken module")
    assert gc.isenabled()
    gc.unfreeze()


@pytest.mark.parametrize("collect_first", [True, False])
def test_collect_first_frees_the_cyclic_garbage_from_before_the_block_that_a_freeze_would_keep(collect_first):
    import weakref

    class Node:
        pass

    gc.disable()  # the cycle is made before the block, as a step's own garbage is
    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    del a, b  # a cycle: only the collector can free it
    gc.enable()
    with imports_without_gc(collect_first=collect_first):
        c, d = Node(), Node()
        c.other, d.other = d, c
        inside = weakref.ref(c)
        del c, d
    gc.collect()
    assert (alive() is None) is collect_first  # without the collection, the frozen cycle is never freed
    assert inside() is not None  # the block's own cycles are frozen with it (imports leave few)
    gc.unfreeze()
    gc.collect()
    assert alive() is None and inside() is None
