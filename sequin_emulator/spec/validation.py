"""Request (and, in strict mode, response) validation against the spec, with readable field errors.

One mechanism serves every operation: each parameter and body is checked by a JSON Schema validator built
from its place in the spec, and failures become the contract's `validation_errors`, keyed by dotted path.
Valid input, the common case, is checked by jsonschema-rs (compiled, microseconds); only invalid input goes
through the `jsonschema` package, whose errors carry what the readable messages need.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jsonschema_rs
import orjson

from sequin_emulator.spec.document import Parameter, load_spec, resolve

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

SPEC_URI = "urn:sequin-emulator:openapi"


@functools.cache
def _fast(pointer: str) -> jsonschema_rs.Validator:
    spec = load_spec()
    reference = quote(pointer, safe="#/~")  # a URI fragment: the braces of path templates are percent-encoded
    return jsonschema_rs.validator_for({"components": spec["components"], "paths": spec["paths"], "$ref": reference},
                                       validate_formats=True)


def is_valid(pointer: str, instance: Any) -> bool:
    return _fast(pointer).is_valid(instance)


@functools.cache
def _registry() -> Registry:
    """The spec as one resource, so `$ref`s inside it resolve (built once, on the first invalid input)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resource(SPEC_URI, Resource.from_contents(load_spec(), default_specification=DRAFT202012))


@functools.cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` (`#/components/...`), resolving refs inside the spec."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _join(prefix: str, path: Iterable) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(p) for p in path)
    return ".".join(parts)


def _reason(error: ValidationError) -> str:
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


def _discriminated(error: ValidationError) -> list[ValidationError] | None:
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


def _required(branch: dict) -> list[str]:
    node, _ = resolve(load_spec(), branch, "")
    return node.get("required", [])


def _chosen_form(error: ValidationError) -> list[ValidationError] | str | None:
    """For a failed `oneOf` of object forms told apart by their required fields (a credential's nested and
    flat forms), the errors of the one form the body chose; a reason when it chose several or none."""
    if not isinstance(error.instance, dict) or not isinstance(error.validator_value, list):
        return None
    required = [_required(branch) for branch in error.validator_value]
    if not all(required):
        return None
    chosen = [i for i, fields in enumerate(required) if all(f in error.instance for f in fields)]
    if not chosen:
        return "needs one of: " + ", ".join(dict.fromkeys(f for fields in required for f in fields))
    if len(chosen) > 1:
        names = " and ".join(", ".join(required[i]) for i in chosen)
        return f"mixes two forms ({names}); use one of them"
    return [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == chosen[0]]


def _flatten(errors: Iterable[ValidationError]) -> Iterable[tuple[list, str]]:
    for error in errors:
        picked: list[ValidationError] | str | None = None
        if error.validator == "oneOf":
            picked = _discriminated(error)
            picked = _chosen_form(error) if picked is None else picked
        if isinstance(picked, str):
            yield list(error.absolute_path), picked
        elif picked is not None:
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


MAX_DEPTH = 32  # levels of nesting a request value may have: far below what every serializer handles (orjson: 254)


def _shape(value: Any) -> tuple[int, bool]:
    """How deep `value` nests (a scalar is 0, `{}` is 1), and whether it holds a float with an integral value.
    Iterative, so no nesting can exhaust the stack."""
    deepest, integral = 0, False
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    if type(value) is float and value.is_integer():
        integral = True
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif type(child) is float and child.is_integer():
                integral = True
    return deepest, integral


def _deep_path(value: Any, limit: int) -> list:
    """The path to a container nested deeper than `limit` (recursion bounded by `limit`)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        if isinstance(child, (dict, list)):
            if limit <= 1:
                return [key]
            found = _deep_path(child, limit - 1)
            if found:
                return [key, *found]
    return []


def _integral_floats(value: Any) -> Iterable[list]:
    """The paths of the integral floats in `value` (iterative)."""
    stack: list[tuple[Any, list]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, (dict, list)):
            stack.extend((child, [*path, key]) for key, child in (node.items() if isinstance(node, dict)
                                                                     else enumerate(node)))
        elif type(node) is float and node.is_integer():
            yield path


def _says_integer(schema: dict, path: list) -> bool:
    """Does any schema that applies at `path` under `schema` (following refs, properties, items and
    combinators) declare type integer?"""
    node, _ = resolve(load_spec(), schema, "")
    if any(_says_integer(branch, path) for key in ("allOf", "anyOf", "oneOf") for branch in node.get(key, ())):
        return True
    if not path:
        types = node.get("type", [])
        return "integer" in (types if isinstance(types, list) else [types])
    head, rest = path[0], path[1:]
    if isinstance(head, str):
        child = node.get("properties", {}).get(head, node.get("additionalProperties"))
    else:
        prefix = node.get("prefixItems", [])
        child = prefix[head] if head < len(prefix) else node.get("items")
    return isinstance(child, dict) and _says_integer(child, rest)


def _as_ints(pointer: str, instance: Any) -> Any:
    """`instance` with every integral float that stands where the schema says integer made an int (JSON Schema
    counts `2.0` as an integer; the domain gets the integer). Free-form values (`metadata`, `data`) and number
    fields keep theirs."""
    schema = {"$ref": pointer}
    for path in list(_integral_floats(instance)):
        if not _says_integer(schema, path):
            continue
        if not path:
            return int(instance)
        parent = instance
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = int(parent[path[-1]])
    return instance


def validated(pointer: str, instance: Any, prefix: str = "", max_depth: int = MAX_DEPTH
              ) -> tuple[Any, dict[str, list[str]]]:
    """(the value the domain should get, every way `instance` breaks the schema at `pointer`).

    On top of the schema: values nest at most `max_depth` levels, so whatever is accepted can be stored,
    exported and served again; integral floats at integer places become ints."""
    depth, integral = _shape(instance)
    if depth > max_depth:
        where = _join(prefix, _deep_path(instance, max_depth)) or prefix or "body"
        return instance, {where: [f"nests deeper than {max_depth} levels"]}
    errors = schema_errors(pointer, instance, prefix)
    if errors or not integral:
        return instance, errors
    return _as_ints(pointer, instance), {}


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
    return validated(param.pointer, value, prefix=param.name)
