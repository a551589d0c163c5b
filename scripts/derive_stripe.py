#!/usr/bin/env python3
"""Derive the compact Stripe material the project carries from Stripe's published spec and fixtures.

    python3 scripts/derive_stripe.py --source DIR   # DIR: a copy of github.com/stripe/openapi's openapi/ folder
                                                    # (spec3.yaml, fixtures3.json, LICENSE) at API 2023-08-16

Writes (all MIT, Stripe's license copied beside them):
- sequin_emulator/providers/stripe/data/fixtures.json: the sample objects the generators start from;
- sequin_emulator/providers/stripe/data/collections.json: each simulated collection's default fields and types;
- tests/data/stripe/spec-subset.json: the component schemas our records use (API version 2023-08-16),
  with expandable references cut to their unexpanded (id string) form, since the records never expand;
- tests/data/stripe/served-operations.json: Stripe's own description of the operations the emulator's Stripe API
  serves (paths, parameters, responses and the schemas they reach, prose left out), for the Schemathesis run of
  Stripe's spec against that API.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ("customer", "subscription", "invoice", "charge", "payment_intent", "product", "price", "refund")
TEMPLATES = COLLECTIONS + ("subscription_item", "line_item", "event", "payment_method")
ROOT_SCHEMAS = COLLECTIONS + ("subscription_item", "line_item", "event", "payment_method", "deleted_customer",
                              "deleted_product",
                              "deleted_price", "deleted_invoice")
DROP_KEYS = {"description", "x-expandableFields", "x-resourceId", "x-stripeOperations", "x-stripeResource",
             "x-stripeMostCommon", "title"}


def prune(node):
    """Drop prose, and cut expandable references down to their id-string branch."""
    if isinstance(node, list):
        return [prune(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "x-expansionResources" in node and "anyOf" in node:
        kept = [branch for branch in node["anyOf"] if "$ref" not in branch]
        node = {**node, "anyOf": kept}
        node.pop("x-expansionResources")
    pruned = {key: prune(value) for key, value in node.items() if key not in DROP_KEYS}
    if isinstance(node.get("properties"), dict):  # property names are data, not keywords: keep them all
        pruned["properties"] = {name: prune(schema) for name, schema in node["properties"].items()}
    return pruned


def refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def closure(schemas: dict, roots) -> dict:
    wanted, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted[name] = prune(schemas[name])
        found: set[str] = set()
        refs(wanted[name], found)
        todo.extend(found - set(wanted))
    return dict(sorted(wanted.items()))


FIELD_TYPES = {"string": "text", "integer": "number", "number": "number", "boolean": "boolean", "object": "json",
               "array": "array"}


def field_type(schema: dict) -> str:
    if schema.get("format") == "unix-time":
        return "timestamp"
    if "type" in schema:
        return FIELD_TYPES.get(schema["type"], "json")
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    return "text" if any(b.get("type") == "string" for b in branches) else "json"


def prose_free(node):
    """Drop prose and vendor keys, keeping every schema whole (expandable fields keep both branches)."""
    if isinstance(node, list):
        return [prose_free(item) for item in node]
    if not isinstance(node, dict):
        return node
    kept = {key: prose_free(value) for key, value in node.items()
            if key not in ("description", "title") and not key.startswith("x-")}
    if isinstance(node.get("properties"), dict):
        kept["properties"] = {name: prose_free(schema) for name, schema in node["properties"].items()}
    return kept


def served_operations(spec: dict) -> dict:
    """Stripe's spec cut to the operations the emulator serves, with the schemas they reach."""
    sys.path.insert(0, str(ROOT))
    from sequin_emulator.providers.document import paths_of

    paths: dict = {}
    for method, ours in [(method, documented.template.replace("{id}", "x")) for documented in paths_of("stripe")
                         for method in documented.methods]:
        matching = [path for path in spec["paths"]
                    if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)), ours)]
        path = min(matching, key=lambda p: p.count("{"))  # a concrete path wins over a template
        paths.setdefault(path, {})[method.lower()] = prose_free(spec["paths"][path][method.lower()])
    schemas, todo = {}, set()
    refs(paths, todo)
    while todo:
        name = todo.pop()
        schemas[name] = prose_free(spec["components"]["schemas"][name])
        found: set[str] = set()
        refs(schemas[name], found)
        todo |= found - set(schemas)
    return {"openapi": spec["openapi"], "info": {"title": "Stripe API: the operations the emulator serves",
                                                  "version": spec["info"]["version"]},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": dict(sorted(schemas.items())),
                           "securitySchemes": spec["components"]["securitySchemes"]},
            "security": spec.get("security", [])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, required=True,
                        help="a folder with Stripe's spec3.yaml, fixtures3.json and LICENSE (github.com/stripe/openapi)")
    args = parser.parse_args()
    spec = yaml.load((args.source / "spec3.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    fixtures = json.loads((args.source / "fixtures3.json").read_text())["resources"]
    schemas = spec["components"]["schemas"]

    data_dir, test_dir = ROOT / "sequin_emulator/providers/stripe/data", ROOT / "tests/data/stripe"
    for folder in (data_dir, test_dir):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.source / "LICENSE", folder / "LICENSE")

    (data_dir / "fixtures.json").write_text(json.dumps({name: fixtures[name] for name in TEMPLATES}, indent=1,
                                                       sort_keys=True) + "\n")
    collections = {}
    for name in COLLECTIONS:
        properties = schemas[name]["properties"]
        collections[name] = [{"name": key, "type": field_type(properties[key])} for key in sorted(fixtures[name])]
    (data_dir / "collections.json").write_text(json.dumps(collections, indent=1) + "\n")

    subset = {"info": {"title": "Stripe API subset", "version": spec["info"]["version"],
                       "derived_by": "scripts/derive_stripe.py"},
              "components": {"schemas": closure(schemas, ROOT_SCHEMAS)}}
    (test_dir / "spec-subset.json").write_text(json.dumps(subset, separators=(",", ":"), sort_keys=True) + "\n")
    served = served_operations(spec)
    (test_dir / "served-operations.json").write_text(json.dumps(served, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{len(subset['components']['schemas'])} schemas, {len(served['paths'])} served paths, "
          f"API version {spec['info']['version']}")


if __name__ == "__main__":
    main()
