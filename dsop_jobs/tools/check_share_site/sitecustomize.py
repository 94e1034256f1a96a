"""Loaded by ``python -m dsop_jobs.tools.check_share`` into the bench's stage processes (on PYTHONPATH).

Thread-CPU seconds of every quality-check step (``*_quality``, Dagster's whole step) and of GX's
import and context (the first ``_batch_definition()`` call), and the process's CPU (user + system,
all threads) at exit, appended as one JSON line to ``$DSOP_CHECK_SHARE_OUT``. Only timers: the two
functions are wrapped when their modules load, nothing else changes.
"""

import atexit
import importlib.abc
import importlib.machinery
import json
import os
import resource
import sys
import time

_OUT = os.environ.get("DSOP_CHECK_SHARE_OUT")
_STATS = {"checks": 0.0, "gx": 0.0, "steps": {}}
_TARGETS = ("dagster._core.execution.plan.execute_plan", "dsop_assets.quality.expectations")


def _timed_steps(original):
    def steps(step_context, *args, **kwargs):
        key = step_context.step.key
        events = original(step_context, *args, **kwargs)
        if not key.endswith("_quality"):
            yield from events
            return
        while True:
            began = time.thread_time()
            try:
                event = next(events)
            except StopIteration:
                _add(key, time.thread_time() - began)
                return
            _add(key, time.thread_time() - began)
            yield event

    return steps


def _add(key, seconds):
    _STATS["checks"] += seconds
    _STATS["steps"][key] = _STATS["steps"].get(key, 0.0) + seconds


def _timed_gx(original):
    def batch_definition():
        began = time.thread_time()
        try:
            return original()
        finally:
            _STATS["gx"] += time.thread_time() - began

    batch_definition.cache_clear = original.cache_clear
    return batch_definition


class _Loader(importlib.abc.Loader):
    def __init__(self, inner, name):
        self.inner, self.name = inner, name

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        if self.name == _TARGETS[0]:
            module.dagster_event_sequence_for_step = _timed_steps(module.dagster_event_sequence_for_step)
        else:
            module._batch_definition = _timed_gx(module._batch_definition)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _TARGETS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _Loader(spec.loader, name)
        return spec


def _write():
    if not _STATS["steps"]:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record = {"stage": sys.argv[1] if len(sys.argv) > 1 else "", "cpu": usage.ru_utime + usage.ru_stime,
              "load": os.getloadavg()[0], **_STATS}
    with open(_OUT, "a") as out:
        out.write(json.dumps(record) + "\n")


if _OUT and sys.orig_argv[1:3] == ["-m", "dsop_jobs.bench"]:
    sys.meta_path.insert(0, _Finder())
    atexit.register(_write)
