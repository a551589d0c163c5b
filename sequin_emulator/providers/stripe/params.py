"""Which parameters each Stripe operation takes, and of what kind, as `openapi/providers.yaml` says: checked whole
before an operation runs, so a request Stripe would refuse is refused before anything is written, with Stripe's
words (`Invalid integer: ...`, `Received unknown parameter: ...`) and the parameter's name in `param`.

Form values arrive as strings, possibly nested (`metadata[k]=v`, `items[0][price]=...`), so the document's schemas
are read as Stripe reads a form: an integer is a string of digits within the bounds, a boolean `true` or `false`,
an object or a list a nested field. A POST operation's schema is its form body's; a GET's is made of its query
parameters (`expand[]` is the field `expand`). The schemas use a small part of JSON Schema: `type`, `properties`,
`additionalProperties`, `items`, `anyOf`, `enum`, `maxLength`, `pattern`, `minimum`, `maximum`, `maxProperties`,
`maxItems`, `propertyNames`, `$ref`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from sequin_emulator.providers.document import document, resolve
from sequin_emulator.providers.stripe.errors import StripeError


@functools.cache
def schemas() -> dict[str, dict]:
    """operationId → the object schema of its parameters, for every Stripe operation of the document."""
    found = {}
    for item in document()["paths"].values():
        for method, operation in item.items():
            if method == "parameters" or "Stripe" not in operation.get("tags", ()):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
            if body is not None:
                found[operation["operationId"]] = body["schema"]
            else:
                found[operation["operationId"]] = _query_object(operation.get("parameters", ()))
    return found


def _query_object(parameters: Iterable[dict]) -> dict:
    """A GET's query parameters as one object schema: `expand[]` is the list `expand`, and bracketed names
    (`created[gt]`) are the fields of an object (`created`), which may also be given plainly (`created=...`)."""
    properties: dict[str, dict] = {}
    members: dict[str, dict] = {}
    for parameter in (resolve(p) for p in parameters):  # a parameter may be a `$ref` to the shared ones
        name = parameter["name"].removesuffix("[]")
        if "[" in name:
            head, member = name.removesuffix("]").split("[", 1)
            members.setdefault(head, {"type": "object", "additionalProperties": False, "properties": {}})
            members[head]["properties"][member] = parameter["schema"]
        else:
            properties[name] = parameter["schema"]
    for head, members_of in members.items():
        properties[head] = {"anyOf": [properties[head], members_of]} if head in properties else members_of
    return {"type": "object", "additionalProperties": False, "properties": properties}


def check(operation: str, params: dict) -> None:
    """Raise Stripe's 400 for the first parameter `operation` would refuse."""
    _check(schemas()[operation], params, "")


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _check(schema: dict, value: Any, name: str) -> None:
    schema = resolve(schema)
    if "anyOf" in schema:
        errors = []
        for branch in schema["anyOf"]:
            try:
                _check(branch, value, name)
                return
            except StripeError as error:
                errors.append(error)
        raise errors[0]  # the first branch is the field's own kind; later ones are `""` to unset it
    kind = schema.get("type")
    if kind == "object":
        _object(schema, value, name)
    elif kind == "array":
        if not isinstance(value, list):
            raise _invalid("array", value, name)
        most = schema.get("maxItems")
        if most is not None and len(value) > most:
            raise StripeError(400, f"Invalid array: {name} can have at most {most} items, not {len(value)}.",
                              "parameter_invalid_array", name)
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{name}[{index}]")
    elif kind == "integer":
        _integer(schema, value, name)
    elif kind == "boolean":
        if value not in ("true", "false"):
            raise _invalid("boolean", value, name)
    else:
        _string(schema, value, name)


def _object(schema: dict, value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise _invalid("object", value, name)
    most = schema.get("maxProperties")
    if most is not None and len(value) > most:
        raise StripeError(400, f"Invalid {name or 'object'}: at most {most} keys are allowed, not {len(value)}.",
                          "parameter_invalid_object", name or None)
    longest = resolve(schema.get("propertyNames", {})).get("maxLength")
    properties, others = schema.get("properties", {}), schema.get("additionalProperties", True)
    for key, item in value.items():
        if longest is not None and len(key) > longest:
            raise StripeError(400, f"Invalid {name}: keys can be at most {longest} characters long ({key[:50]})",
                              "parameter_invalid_string", name)
        if key in properties:
            _check(properties[key], item, _name(name, key))
        elif others is False:
            raise StripeError(400, f"Received unknown parameter: {_name(name, key)[:200]}", "parameter_unknown",
                              _name(name, key)[:200])
        elif isinstance(others, dict):
            _check(others, item, _name(name, key))


def _invalid(what: str, value: Any, name: str, detail: str = "") -> StripeError:
    shown = value if isinstance(value, str) else ("an object" if isinstance(value, dict) else "an array")
    code = {"integer": "parameter_invalid_integer", "boolean": "parameter_invalid_boolean",
            "array": "parameter_invalid_array", "object": "parameter_invalid_object"}.get(what,
                                                                                         "parameter_invalid_string")
    return StripeError(400, f"Invalid {what}: {str(shown)[:50]}{detail}", code, name[:200] or None)


def _string(schema: dict, value: Any, name: str) -> None:
    if not isinstance(value, str):
        raise _invalid("string", value, name)
    most = schema.get("maxLength")
    if most is not None and len(value) > most:
        raise _invalid("string", value, name, f"...; must be at most {most} characters")
    if "enum" in schema and value not in schema["enum"]:
        raise _invalid("string", value, name, f"; must be one of {', '.join(map(repr, schema['enum']))}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise _invalid("string", value, name, "; " + schema.get("description", "not of the expected form"))


def _integer(schema: dict, value: Any, name: str) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    text = value.strip() if isinstance(value, str) else ""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or \
            (low is not None and int(text) < low) or (high is not None and int(text) > high):
        shown = f" (between {low} and {high})" if low is not None and high is not None and high < 1 << 62 else ""
        raise _invalid("integer", value, name, shown)
