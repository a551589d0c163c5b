"""Validators for Stripe objects from the project's subset of Stripe's published spec (API 2023-08-16).

The spec is OpenAPI 3.0: `nullable` is rewritten as JSON Schema, and strict mode adds
`additionalProperties: false` to every object schema that lists its properties, so unknown or misspelt
fields fail (Stripe's own spec leaves objects open, which would let any extra field through).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SUBSET = Path(__file__).resolve().parents[2] / "data" / "stripe" / "spec-subset.json"
FIXTURES = Path(__file__).resolve().parents[3] / "sequin_emulator" / "providers" / "stripe" / "data" / "fixtures.json"


def _normalize(node, strict: bool):
    if isinstance(node, list):
        return [_normalize(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _normalize(value, strict) for key, value in node.items() if not key.startswith("x-")}
    if strict and node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        if "enum" in node:
            node["enum"] = node["enum"] + [None]
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry(strict: bool) -> Registry:
    document = _normalize(json.loads(SUBSET.read_text()), strict)
    return Registry().with_resource("urn:stripe", Resource.from_contents(document, default_specification=DRAFT4))


@functools.cache
def validator(schema_name: str, strict: bool = True) -> Draft4Validator:
    return Draft4Validator({"$ref": f"urn:stripe#/components/schemas/{schema_name}"}, registry=_registry(strict))


def errors(schema_name: str, instance) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator(schema_name).iter_errors(instance)
    ]


@functools.cache
def fixtures() -> dict:
    return json.loads(FIXTURES.read_text())
