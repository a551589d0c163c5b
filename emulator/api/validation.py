"""Request (and, in strict mode, response) validation against the spec, with readable field errors.

One mechanism serves every operation: each parameter and body is checked by a JSON Schema validator built
from its place in the spec, and failures become CONTRACT.md §2's `validation_errors`, keyed by dotted path.
Valid input, the common case, is checked by jsonschema-rs (compiled, microseconds); only invalid input goes
through the `jsonschema` package, whose errors carry what the readable messages need.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote
from typing import TYPE_CHECKING, Any, Iterable

import jsonschema_rs
import orjson

from emulator.api.spec import Parameter, load_spec

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SPEC_URI = "urn:sequin-emulator:openapi"


@functools.cache
def _fast(pointer: str) -> jsonschema_rs.Validator:
    spec = load_spec()
    reference = quote(pointer, safe="#/~")  # a URI fragment: the braces of path templates are percent-encoded
    return jsonschema_rs.validator_for({"components": spec["components"], "paths": spec["paths"], "$ref": reference},
                                       validate_formats=True)


@functools.cache
def _registry():
    """The spec as one resource, so `$ref`s inside it resolve (built once, on the first invalid input)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resource(SPEC_URI, Resource.from_contents(load_spec(), default_specification=DRAFT202012))


@functools.cache
def validator(pointer: str) -> "Draft202012Validator":
    """A validator for the schema at `pointer` (`#/components/...`), resolving refs inside the spec."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _join(prefix: str, path: Iterable) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(p) for p in path)
    return ".".join(parts)


def _reason(error: "ValidationError") -> str:
    kind, value = error.validator, error.validator_value
    if kind == "type":
        types = value if isinstance(value, list) else [value]
        return f"must be of type {' or '.join(types)}"
    if kind == "enum":
        return "must be one of: " + ", ".join(map(str, value))
    if kind == "const":
        return f"must be {orjson.dumps(value).decode()}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
                 "exclusiveMaximum": "less than"}
        return f"must be {words[kind]} {value}"
    if kind == "minLength":
        return f"must be at least {value} characters long"
    if kind == "maxLength":
        return f"must be at most {value} characters long"
    if kind == "minItems":
        return f"must have at least {value} items"
    if kind == "maxItems":
        return f"must have at most {value} items"
    if kind == "uniqueItems":
        return "must not contain duplicates"
    if kind == "pattern":
        return f"must match the pattern {value}"
    if kind == "format":
        return f"must be a valid {value}"
    if kind == "anyOf" and all(set(branch) == {"required"} for branch in value):
        return "needs one of: " + ", ".join(name for branch in value for name in branch["required"])
    if kind in ("anyOf", "oneOf"):
        return "does not match any allowed form"
    return error.message


def _discriminated(error: "ValidationError") -> "list[ValidationError] | None":
    """For a failed `oneOf` with a discriminator, the errors of the branch the discriminator picks."""
    discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
    if not discriminator or not isinstance(error.instance, dict):
        return None
    prop = discriminator["propertyName"]
    mapping = discriminator.get("mapping", {})
    value = error.instance.get(prop)
    target = mapping.get(value) if isinstance(value, str) else None
    if target is None:
        from jsonschema.exceptions import ValidationError

        return [ValidationError("", validator="enum", validator_value=sorted(mapping), instance=error.instance.get(prop),
                                path=[*error.absolute_path, prop])]
    branches = [i for i, branch in enumerate(error.validator_value) if branch.get("$ref") == target]
    return [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] in branches]


def _flatten(errors: "Iterable[ValidationError]") -> Iterable[tuple[list, str]]:
    for error in errors:
        if error.validator == "oneOf" and (picked := _discriminated(error)) is not None:
            yield from _flatten(picked)
        elif error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else str(error.validator_value)
            yield [*error.absolute_path, missing], "is required"
        elif error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    yield [*error.absolute_path, key], "is not a known field"
        else:
            yield list(error.absolute_path), _reason(error)


def schema_errors(pointer: str, instance: Any, prefix: str = "") -> dict[str, list[str]]:
    """Every way `instance` breaks the schema at `pointer`, as {dotted path: [reasons]}."""
    if _fast(pointer).is_valid(instance):
        return {}
    found: dict[str, list[str]] = {}
    problems = list(_flatten(validator(pointer).iter_errors(instance))) or [
        (list(e.instance_path), e.message) for e in _fast(pointer).iter_errors(instance)]
    for path, reason in problems:
        reasons = found.setdefault(_join(prefix, path) or prefix or "body", [])
        if reason not in reasons:
            reasons.append(reason)
    return found


_UNPARSED = object()
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_NUMBER = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?([eE][-+]?[0-9]{1,3})?")


def coerce(param: Parameter, raw: str) -> Any:
    """A query or path string as the type its schema declares; left as it is when it does not parse."""
    if param.json_content:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _UNPARSED
    types = param.schema.get("type", "string")
    types = types if isinstance(types, list) else [types]
    if "integer" in types and _INTEGER.fullmatch(raw):
        return int(raw)
    if "number" in types and _NUMBER.fullmatch(raw):
        return float(raw)
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def parameter_errors(param: Parameter, raw: str) -> tuple[Any, dict[str, list[str]]]:
    value = coerce(param, raw)
    if value is _UNPARSED:
        return None, {param.name: ["must be URL-encoded JSON"]}
    return value, schema_errors(param.pointer, value, prefix=param.name)
