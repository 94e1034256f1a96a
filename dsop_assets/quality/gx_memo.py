"""GX's ``Expectation.configuration``, built once per expectation within one validation.

GX's validator turns each configuration of a suite back into an ``Expectation`` and then reads that
object's ``configuration`` property ~80 times (domain, success and runtime kwargs, the result format,
every metric dependency, the result). Each read runs pydantic's ``dict()`` over the model and a
regex over the class name, then builds a new ``ExpectationConfiguration``: ~45 % of a passing
suite's CPU under cProfile. Inside ``configurations_memoised()`` a read still returns a new
configuration with its own fresh containers, as GX's property does (a caller that changes one changes
no other), but from the fields and type name computed at the first read of that object; the object's
fields are compared with their copy at that read, so a changed field rebuilds it.
``tests/quality/test_gx_memo.py`` compares both properties on every expectation dsop builds and
whole validation results with and without the memo.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_active = threading.local()
_installed = False
gx_configuration = None  # GX's own property getter, kept for the tests' comparison
_install_lock = threading.Lock()


@contextmanager
def configurations_memoised() -> Iterator[None]:
    """Within the block, on this thread, each expectation's configuration fields are computed once."""
    _install()
    outer = getattr(_active, "memo", None)
    _active.memo = {} if outer is None else outer
    try:
        yield
    finally:
        _active.memo = outer


def _install() -> None:
    # Installed once per process and never removed: outside ``configurations_memoised`` (and on any
    # other thread) the replacement calls GX's own property, so nothing has to be restored.
    global _installed, gx_configuration
    with _install_lock:
        if _installed:
            return
        from great_expectations.expectations.expectation import Expectation

        original = Expectation.__dict__["configuration"]
        gx_configuration = original.fget
        Expectation.configuration = property(_memoised(original.fget), doc=original.__doc__)
        _installed = True


def _memoised(build):
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.metadata_types import FailureSeverity
    from great_expectations.util import camel_to_snake

    def configuration(self):
        memo = getattr(_active, "memo", None)
        if memo is None:
            return build(self)
        hit = memo.get(id(self))
        try:
            unchanged = hit is not None and hit[0] is self and hit[1] == self.__dict__
        except Exception:  # a field whose == is not a bool (an array): no memo for this object
            return build(self)
        if not unchanged:
            # What GX's property computes before building the configuration (the same two calls).
            hit = (self, _fresh(self.__dict__), self.dict(exclude_defaults=True), camel_to_snake(self.__class__.__name__))
            memo[id(self)] = hit
        kwargs = _fresh(hit[2])
        meta = kwargs.pop("meta", None)
        notes = kwargs.pop("notes", None)
        description = kwargs.pop("description", None)
        severity = kwargs.pop("severity", FailureSeverity.CRITICAL)
        id_ = kwargs.pop("id", None)
        rendered_content = kwargs.pop("rendered_content", None)
        return ExpectationConfiguration(type=hit[3], kwargs=kwargs, meta=meta, notes=notes, description=description,
                                        severity=severity, id=id_, rendered_content=rendered_content)

    return configuration


def _fresh(value):
    """New containers all the way down, as pydantic's ``dict()`` builds them; leaves are shared as it shares them."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        return {k: v if type(v) in _LEAVES else _fresh(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple, rebuilt as pydantic does
        return kind(*(_fresh(v) for v in value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return kind(_fresh(v) for v in value)
    return value


# Immutable leaves (the common case) skip the checks above; anything else takes them.
_LEAVES = frozenset({str, int, float, bool, type(None)})
