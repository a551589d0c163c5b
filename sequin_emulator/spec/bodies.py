"""Typed domain inputs from request bodies: the spec's defaults filled in, then the dataclass built.

The body is already valid against the input's schema (the pipeline, or the scenario loader, checked it), so
building cannot fail on the client's account; a field the dataclass lacks, or a create field that neither the
body nor the spec's `default` fills, is a bug here, and fails loudly (the test suite builds every input).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any, TypeVar

from sequin_emulator.spec.document import escape, load_spec, resolve
from sequin_emulator.spec.validation import is_valid

T = TypeVar("T")


def parse(cls: type[T], body: dict) -> T:
    normalize = getattr(cls, "normalize", None)
    body = normalize(body) if normalize else body
    pointer = f"#/components/schemas/{cls.SCHEMA}"  # type: ignore[attr-defined]
    return _build(cls, with_defaults(pointer, body))


def with_defaults(pointer: str, instance: Any) -> Any:
    """`instance` with the spec's `default` of every property it leaves out, at any depth (objects given,
    array items, the branch of a `oneOf` / `anyOf` it matches)."""
    return _fill({"$ref": pointer}, pointer, instance)


def _fill(node: dict, pointer: str, value: Any) -> Any:
    node, pointer = resolve(load_spec(), node, pointer)
    for i, branch in enumerate(node.get("allOf", ())):
        value = _fill(branch, f"{pointer}/allOf/{i}", value)
    for key in ("oneOf", "anyOf"):
        for i, branch in enumerate(node.get(key, ())):
            if is_valid(f"{pointer}/{key}/{i}", value):
                value = _fill(branch, f"{pointer}/{key}/{i}", value)
                break
    if isinstance(value, dict) and "properties" in node:
        ordered = {}  # in the schema's order, whatever the client's: stored objects render the same every time
        for name, prop in node["properties"].items():
            where = f"{pointer}/properties/{escape(name)}"
            if name in value:
                ordered[name] = _fill(prop, where, value[name])
            elif (default := _default(prop, where)) is not _NONE:
                ordered[name] = _fill(prop, where, copy.deepcopy(default))
        value = {**ordered, **value, **ordered}
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        value = [_fill(node["items"], f"{pointer}/items", item) for item in value]
    return value


_NONE = object()


def _default(prop: dict, pointer: str) -> Any:
    """A property's `default`: beside its `$ref`, or on the schema it names."""
    if "default" in prop:
        return prop["default"]
    target, _ = resolve(load_spec(), prop, pointer)
    return target.get("default", _NONE)


def _build(cls: type[T], body: dict) -> T:
    hints = _hints(cls)
    unknown = body.keys() - hints.keys()
    if unknown:
        raise TypeError(f"{cls.__name__} has no field for {', '.join(sorted(unknown))} of its schema")
    return cls(**{name: _typed(hints[name], value) for name, value in body.items()})


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The dataclass's fields and their types (not its ClassVars)."""
    if cls not in _HINTS:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _HINTS[cls]


def _typed(hint: Any, value: Any) -> Any:
    """Nested inputs (a dataclass, or a list of them) built too; everything else as it is."""
    for kind in typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,):
        if dataclasses.is_dataclass(kind) and isinstance(kind, type) and isinstance(value, dict):
            normalize = getattr(kind, "normalize", None)
            return _build(kind, normalize(value) if normalize else value)
        if typing.get_origin(kind) is list and isinstance(value, list):
            (item,) = typing.get_args(kind)
            if dataclasses.is_dataclass(item):
                return [_typed(item, v) for v in value]
    return value
