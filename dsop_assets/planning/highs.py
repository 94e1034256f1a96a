"""One quiet, single-threaded HiGHS instance, as every direct highspy model of the plan needs it."""

from __future__ import annotations


def quiet_highs(seed: int = 0, time_limit: float = 300.0, **options):
    """A fresh ``highspy.Highs`` with output off, one thread, ``seed`` and the safety-net ``time_limit``
    set, plus any other HiGHS ``options`` (e.g. ``mip_max_nodes``).

    HiGHS sizes one task scheduler per process on its first solve; after a 2-thread solve (the MILP
    path, the network plan) a 1-thread one fails at once (kNotset) unless the scheduler is reset."""
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    h = highspy.Highs()
    for option, value in {"output_flag": False, "threads": 1, "random_seed": int(seed),
                          "time_limit": float(time_limit), **options}.items():
        h.setOptionValue(option, value)
    return h
