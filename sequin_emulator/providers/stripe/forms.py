"""Stripe's request encoding: form fields (and query parameters) with bracketed nesting, as its SDKs send them:
`metadata[plan]=pro`, `items[0][price]=price_1`, `expand[]=customer`, `created[gte]=1700000000`. Values stay
strings; each operation converts what it takes (Stripe's own `Invalid integer` errors come from there)."""

from __future__ import annotations

import re
from typing import Any

MAX_DEPTH = 8
MAX_FIELDS = 2000
_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A field name or shape Stripe would refuse; the message names the field."""


def _parts(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        rest = "[" + rest
        found = _PART.findall(rest)
        if "".join(f"[{p}]" for p in found) != rest:
            raise FormError(f"Invalid parameter name: {key[:100]}")
        parts += found
    if not head or len(parts) > MAX_DEPTH:
        raise FormError(f"Invalid parameter name: {key[:100]}")
    return parts


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indices (`items[0]`, `items[1]`) become lists, in index order."""
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node


def parse(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Nested parameters from (name, value) pairs, in order; `name[]` appends to a list."""
    if len(pairs) > MAX_FIELDS:
        raise FormError(f"Too many parameters (at most {MAX_FIELDS})")
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _parts(key)
        node: Any = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            following = None if last else parts[depth + 1]
            if isinstance(node, list):
                if part != "":
                    raise FormError(f"Invalid array: {key[:100]}")
                if last:
                    node.append(value)
                    break
                child: Any = [] if following == "" else {}
                node.append(child)
                node = child
                continue
            if not isinstance(node, dict):
                raise FormError(f"Invalid parameter: {key[:100]} mixes a value and nested fields")
            if part == "":
                raise FormError(f"Invalid parameter name: {key[:100]}")
            if last:
                if isinstance(node.get(part), dict | list):
                    raise FormError(f"Invalid parameter: {key[:100]} mixes a value and nested fields")
                node[part] = value
            else:
                node = node.setdefault(part, [] if following == "" else {})
    return _listify(root)
