"""The provider APIs' own OpenAPI document (`openapi/providers.yaml`): what they serve and what each operation
takes. The Stripe parameter rules and the HubSpot body schemas are read from it, so the document, the checks and
the Schemathesis runs over it cannot drift apart."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Path:
    """A documented path of a provider, below its base (`/v1/customers/{id}`): its pattern, and the operation
    (by operationId) of each method it serves."""

    template: str
    pattern: re.Pattern
    operations: Mapping[str, str]

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.operations)


def base_of(provider: str) -> str:
    return f"/_providers/{{org_id}}/{{credential_id}}/{provider}"


@functools.cache
def paths_of(provider: str) -> tuple[Path, ...]:
    """The provider's documented paths, concrete ones first: where two templates match (`.../contacts/search`,
    `.../{object_type}/{id}`), the one with fewer parameters is the path, as OpenAPI says."""
    prefix, found = base_of(provider), []
    for path, item in document()["paths"].items():
        if path.startswith(prefix + "/"):
            below = path.removeprefix(prefix)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(below))
            found.append(Path(below, re.compile(pattern), {
                method.upper(): op["operationId"] for method, op in item.items() if method != "parameters"}))
    return tuple(sorted(found, key=lambda p: p.template.count("{")))


def find(provider: str, path: str) -> tuple[Path, dict[str, str]] | None:
    """The documented path that `path` (below the provider's base) is, with the values of its parameters."""
    for candidate in paths_of(provider):
        match = candidate.pattern.fullmatch(path)  # not `$`, which also matches before a final newline
        if match is not None:
            return candidate, match.groupdict()
    return None


def operations_of(provider: str) -> frozenset[str]:
    return frozenset(op for path in paths_of(provider) for op in path.operations.values())


@functools.cache
def key_parameters() -> Mapping[str, str]:
    """operationId → the query parameter carrying the caller's key, for operations whose security scheme is an
    API key in the query (HubSpot's `hapikey`); the others take it in `Authorization`."""
    schemes = document()["components"].get("securitySchemes", {})
    found = {}
    for item in document()["paths"].values():
        for method, op in item.items():
            if method == "parameters":
                continue
            for requirement in op.get("security", ()):
                for name in requirement:
                    if schemes[name]["type"] == "apiKey" and schemes[name]["in"] == "query":
                        found[op["operationId"]] = schemes[name]["name"]
    return found
