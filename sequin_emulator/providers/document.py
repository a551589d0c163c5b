"""The provider APIs' own OpenAPI document (`openapi/providers.yaml`): what they serve and what each operation
takes. The Stripe parameter rules and the HubSpot body schemas are read from it, so the document, the checks and
the Schemathesis runs over it cannot drift apart."""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema_rs
import yaml

from sequin_emulator.spec.document import spec_path


@functools.cache
def document() -> dict:
    return yaml.safe_load(spec_path("providers.yaml").read_text())


def resolve(schema: dict) -> dict:
    """A schema with its `$ref`s (within the document) followed."""
    while "$ref" in schema:
        node: Any = document()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


@functools.cache
def body_validator(schema_name: str) -> jsonschema_rs.Validator:
    """A compiled validator for `#/components/schemas/<schema_name>`."""
    return jsonschema_rs.validator_for({"components": document()["components"],
                                        "$ref": f"#/components/schemas/{schema_name}"})


@functools.cache
def _templates(provider: str) -> tuple[tuple[int, re.Pattern, tuple[str, ...]], ...]:
    """Each documented path of a provider, below its base: (how many parameters it has, its pattern, its methods)."""
    prefix = f"/_providers/{{org_id}}/{{credential_id}}/{provider}"
    found = []
    for path, item in document()["paths"].items():
        if path.startswith(prefix):
            below = path.removeprefix(prefix)
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(below))
            found.append((below.count("{"), re.compile(f"{pattern}$"), tuple(m.upper() for m in item if m != "parameters")))
    return tuple(found)


def methods_of(provider: str, path: str) -> tuple[str, ...] | None:
    """The methods the document gives the path (below the provider's base), or None where it has no such path.
    Where two templates match (`.../contacts/search`, `.../{object_type}/{id}`), the one with fewer parameters
    is the path, as OpenAPI says concrete paths win."""
    matches = sorted((count, methods) for count, pattern, methods in _templates(provider) if pattern.match(path))
    return matches[0][1] if matches else None
