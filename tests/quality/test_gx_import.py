"""GX's import with pydantic v1 fields copied slot by slot (dsop_assets/quality/gx_import.py)."""

import copy
import copyreg
import types
import typing

from dsop_assets.quality.gx_import import _pydantic_v1_field_classes, copying_slots_directly, great_expectations


def _all_subclasses(cls: type) -> list[type]:
    found, todo = [], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def _shape(duplicate, original) -> list:
    """The copy as a sequence of tokens: the original's objects it still shares by identity, new
    objects by type and first-visit number, their contents in order (so sharing and cycles count).

    Type hints (``Union[str, tuple[()]]``) count by value: deepcopy rebuilds them through typing's own
    cache, so which equal instance a copy gets depends on the copies made before it."""
    shared = set()

    def collect(obj, seen):
        if _hint(obj) or id(obj) in seen:
            return
        seen.add(id(obj))
        shared.add(id(obj))
        for child in _children(obj):
            collect(child, seen)

    collect(original, set())
    tokens, numbered = [], {}

    def walk(obj):
        if _hint(obj):
            tokens.append(("hint", repr(obj)))
        elif id(obj) in shared:
            tokens.append(("shared", id(obj)))
        elif id(obj) in numbered:
            tokens.append(("again", numbered[id(obj)]))
        else:
            numbered[id(obj)] = len(numbered)
            plain_repr = _children(obj) or type(obj).__repr__ is object.__repr__  # an address, not a value
            tokens.append(("new", type(obj), None if plain_repr else repr(obj)))
            for child in _children(obj):
                walk(child)
            tokens.append("end")

    walk(duplicate)
    return tokens


def _hint(obj) -> bool:
    return isinstance(obj, (types.GenericAlias, types.UnionType, typing._Final))  # noqa: SLF001


def _children(obj) -> list:
    if isinstance(obj, (str, bytes, int, float, type, type(None))) or callable(obj) and not hasattr(obj, "__slots__"):
        return []
    if isinstance(obj, dict):
        return [x for item in obj.items() for x in item]
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    slots = [getattr(obj, n, "<unset>") for n in copyreg._slotnames(type(obj))] if hasattr(obj, "__slots__") else []
    return slots + [x for item in getattr(obj, "__dict__", {}).items() for x in item]


def test_every_gx_model_field_copies_to_the_same_objects_either_way():
    great_expectations()
    from pydantic.v1 import BaseModel

    models = [m for m in _all_subclasses(BaseModel) if m.__module__.startswith("great_expectations")]
    assert len(models) > 300
    for model in models:
        with copying_slots_directly(*_pydantic_v1_field_classes()):
            direct = copy.deepcopy(model.__fields__)
        plain = copy.deepcopy(model.__fields__)
        assert _shape(direct, model.__fields__) == _shape(plain, model.__fields__), model


def test_the_fast_copy_applies_to_pydantics_field_classes_and_only_inside_the_block():
    """A pydantic release giving these classes a __dict__ or their own copy hooks turns the fast path
    off for them (this test fails then: GX's import would be ~0.4 s CPU slower, not wrong)."""
    classes = _pydantic_v1_field_classes()
    with copying_slots_directly(*classes) as taken:
        assert taken == classes
        assert all(c in copy._deepcopy_dispatch for c in classes)
    assert not any(c in copy._deepcopy_dispatch for c in classes)


def test_shared_values_cycles_and_unset_slots_copy_as_deepcopy_copies_them():
    class Node:
        __slots__ = ("items", "peer", "label")

    class WithHook(Node):
        __slots__ = ()

        def __deepcopy__(self, memo):
            return self

    shared = [1, [2]]
    a, b = Node(), Node()
    a.items, b.items, a.peer, b.peer, a.label = shared, shared, b, a, "a"  # b.label unset
    with copying_slots_directly(Node, WithHook, dict) as taken:
        direct = copy.deepcopy([a, b])
    plain = copy.deepcopy([a, b])
    assert taken == (Node,)  # classes with their own hooks, and unslotted ones, keep deepcopy's path
    assert _shape(direct, [a, b]) == _shape(plain, [a, b])
    assert direct[0].items is direct[1].items is not shared and direct[0].peer is direct[1]
    assert not hasattr(direct[1], "label")
