"""Import Great Expectations for less CPU, without changing what it does.

Paid once by every process that runs a check, in its first check step. Two costs are cut:

- Modules GX imports but dsop's checks never run (``DEFERRED_BY_GX``) load as placeholders that
  import the real module on first use.
- GX's pydantic v1 models: each subclass deep-copies all its bases' fields (``ModelField``,
  ``FieldInfo``, ``Validator``; thousands of copies at import). ``copy.deepcopy`` handles these
  slotted objects through ``__reduce_ex__`` and a state tuple; ``copying_slots_directly`` copies the
  same slots, in the same order, with the same memo, so the copies are the same objects as before
  (tests/quality/test_gx_import.py compares the two on every field GX defines), about four times
  faster. It is installed for GX's import only; GX's import drops by about a third.
"""

from __future__ import annotations

import copy
import copyreg
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

# Modules GX imports when it loads that dsop's checks never use: altair (charts of GX's data docs)
# and scipy.stats (its KL-divergence and KS-test expectations), together ~40 % of GX's import time
# when they were found; then mistune (data docs' markdown), jsonschema (its JSON-schema expectation)
# and psycopg2 (its Postgres data source; dagster-postgres imports the real one when it is used).
DEFERRED_BY_GX = ("altair", "scipy.stats", "mistune", "jsonschema", "psycopg2")


@lru_cache(maxsize=1)
def great_expectations():
    """GX, imported with ``DEFERRED_BY_GX`` as placeholders (each loads in full the first time
    anything reads one of its attributes: a later ``from scipy import stats`` anywhere in the
    process gets the real module) and pydantic v1's field copies slot by slot. An import that
    fails raises here, in the check step, as a plain ``import great_expectations`` would."""
    for name in DEFERRED_BY_GX:
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            _Deferred(name)
    with copying_slots_directly(*_pydantic_v1_field_classes()):
        import great_expectations

    return great_expectations


def _pydantic_v1_field_classes() -> tuple[type, ...]:
    # GX models are pydantic v1 models (pydantic.v1 under pydantic 2, which Dagster requires).
    from pydantic.v1 import class_validators, fields

    return fields.ModelField, fields.FieldInfo, class_validators.Validator


@contextmanager
def copying_slots_directly(*classes: type) -> Iterator[tuple[type, ...]]:
    """Within the block, ``copy.deepcopy`` copies instances of ``classes`` slot by slot.

    Only classes ``deepcopy`` itself would copy slot by slot (every class of their MRO has
    ``__slots__``, no custom reduce, state or deepcopy hooks); others keep the usual path. Yields
    the classes it took."""
    taken = tuple(c for c in classes if _plain_slotted(c) and c not in copy._deepcopy_dispatch)
    for cls in taken:
        copy._deepcopy_dispatch[cls] = _slot_copier(cls)
    try:
        yield taken
    finally:
        for cls in taken:
            copy._deepcopy_dispatch.pop(cls, None)


def _plain_slotted(cls: type) -> bool:
    return (
        all("__slots__" in vars(k) for k in cls.__mro__[:-1])
        and not any("__dict__" in copyreg._slotnames(k) for k in cls.__mro__[:-1])
        and cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and cls.__getstate__ is object.__getstate__
        and not hasattr(cls, "__setstate__")
        and not hasattr(cls, "__deepcopy__")
        and cls not in copyreg.dispatch_table
    )


def _slot_copier(cls: type):
    # What copy._reconstruct does with the state object.__reduce_ex__(4) gives a slotted object:
    # cls.__new__(cls), the copy in the memo first (cycles), then every set slot, deep-copied in order.
    # Values deepcopy returns as they are (strings, None, functions, classes) are set directly: most
    # slots hold one, and deepcopy never puts them in the memo.
    names = copyreg._slotnames(cls)
    deepcopy, dispatch, atomic = copy.deepcopy, copy._deepcopy_dispatch, copy._deepcopy_atomic

    def copier(original, memo):
        duplicate = cls.__new__(cls)
        memo[id(original)] = duplicate
        for name in names:
            try:
                value = getattr(original, name)
            except AttributeError:  # an unset slot stays unset
                continue
            setattr(duplicate, name, value if dispatch.get(type(value)) is atomic else deepcopy(value, memo))
        return duplicate

    return copier


class _Deferred(types.ModuleType):
    """A module in ``sys.modules`` that imports the real one on first attribute access.

    Not ``importlib.util.LazyLoader``: on Python 3.11 the import system itself reads ``__spec__``
    of a module found in ``sys.modules``, which makes a LazyLoader module load at ``import x``.
    Here ``__spec__`` is a plain attribute, so only real use triggers the load."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = self
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(importlib.import_module(parent), child, self)

    def __getattr__(self, attribute: str):
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)  # also puts it on its parent package
        self.__dict__.update(real.__dict__)  # holders of the placeholder see the real names from now on
        return getattr(real, attribute)
