"""The provider APIs' own OpenAPI document (`openapi/providers.yaml`): what they serve and what each operation
takes. The Stripe parameter rules and the HubSpot body schemas are read from it, so the document, the checks and
the Schemathesis runs over it cannot drift apart."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema_rs
import yaml

from emulator.spec.document import spec_path


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
