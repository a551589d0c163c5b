"""A new provider is its folder, its registry line and its additions to the two spec documents: a copy of the
package gets a toy provider that way (nothing else of the copy is touched), and a scenario syncs it end to end:
credential, sync, backfill, consumer, and writes through the toy's own API reaching the stream."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import cast

import yaml

ROOT = Path(__file__).resolve().parents[2]

TOY_INIT = '''
"""Toy: a provider of widgets, for the test that adds a provider."""

from sequin_emulator.domain.plugins import CredentialKind, ProviderPlugin, RateLimit
from sequin_emulator.providers.toy.api import ToyWire
from sequin_emulator.providers.toy.model import Toy

PLUGIN = ProviderPlugin(name="toy", display_name="Toy", model=Toy(),
                        credential_kinds=(CredentialKind("toy_key", "toy", ("key",)),),
                        rate_limit=RateLimit(allowed_requests=10, interval=1), key_fields=("key",), wire=ToyWire())
'''

TOY_MODEL = '''
"""The toy's model: widgets with a name, created over the account's history."""

from collections.abc import Iterator

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.upstream import Account, Change, Provider, UpstreamObject

HOUR = 3600 * 1_000_000


class Toy(Provider):
    name = "toy"
    collections = ("widget",)

    def fields(self, collection):
        return [{"name": "id", "type": "string", "primary_key": True}, {"name": "name", "type": "string"}]

    def populating(self, account: Account, now: int) -> Iterator[None]:
        for n in range(account.settings.records_per_collection):
            self._new(account, {"name": f"widget {n}"}, now - HOUR * (n + 1), log=False)
            yield

    def _new(self, account, data, now, log=True):
        object_id = f"wid_{len(account.order.get('widget', [])) + 1}"
        obj = UpstreamObject("widget", object_id, now, now, {"id": object_id, **data})
        return account.record(obj, "insert", now)

    def random_change(self, account, now):
        obj = account.random_live("widget")
        return None if obj is None else self.update(account, "widget", obj.id, {"name": "renamed"}, now)

    def check_data(self, account, collection, data, object_id=None):
        if not isinstance(data.get("name", ""), str):
            raise Invalid.field("data.name", "must be a string")

    def insert(self, account, collection, data, now) -> Change:
        self.check_data(account, collection, data)
        return self._new(account, {"name": data.get("name", "")}, now)

    def update(self, account, collection, object_id, data, now) -> Change:
        self.check_data(account, collection, data)
        obj = self.existing(account, collection, object_id)
        obj.data = {**obj.data, **data}
        return account.record(obj, "update", now)

    def delete(self, account, collection, object_id, now) -> Change:
        obj = self.existing(account, collection, object_id)
        obj.deleted = True
        return account.record(obj, "delete", now)

    def upstream_times(self, obj):
        return obj.created, obj.updated
'''

TOY_API = '''
"""The toy's own API: list and create widgets, as JSON."""

import orjson

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.providers.wire import WireAnswer, WireApi


def _list(account, call):
    return 200, {"data": [o.data for o in account.live("widget")]}


def _create(account, call):
    change = account.provider.insert(account, "widget", orjson.loads(call.body or b"{}"), call.now)
    return 201, change.snapshot.data


class ToyWire(WireApi):
    handlers = {"toyListWidgets": _list, "toyCreateWidget": _create}

    def answer(self, account, call):
        try:
            status, body = self.handlers[call.operation](account, call)
        except Invalid as error:
            return WireAnswer(400, orjson.dumps({"error": str(error)}))
        return WireAnswer(status, orjson.dumps(body))

    def refusal(self, status, message, why, tag):
        return WireAnswer(status, orjson.dumps({"error": message, "why": why.value}))
'''

PROVIDER_PATHS = {"/_providers/{org_id}/{credential_id}/toy/v1/widgets": {
    "parameters": [{"name": "org_id", "in": "path", "required": True, "schema": {"type": "string"}},
                   {"name": "credential_id", "in": "path", "required": True, "schema": {"type": "string"}}],
    "get": {"operationId": "toyListWidgets", "responses": {"200": {"description": "The live widgets."}}},
    "post": {"operationId": "toyCreateWidget", "responses": {"201": {"description": "The new widget."}}}}}

TOY_KEY: dict = {"type": "object", "additionalProperties": False, "required": ["kind", "key"],
           "properties": {"kind": {"const": "toy_key"}, "name": {"$ref": "#/components/schemas/Name"},
                          "key": {"$ref": "#/components/schemas/Secret"}}}

SCRIPT = '''
import orjson
from starlette.testclient import TestClient

from sequin_emulator.api.app import create_app
from sequin_emulator.config import ServerConfig
from sequin_emulator.testing import TenantClient

SCENARIO = {
    "clock": {"mode": "manual", "now": "2024-01-01T00:00:00Z"},
    "credentials": [{"name": "toy", "properties": {"kind": "toy_key", "key": "toy_secret"},
                     "upstream": {"records_per_collection": 3, "changes_per_hour": 0}}],
    "streams": [{"slug": "main"}],
    "syncs": [{"name": "Toy", "stream": "main", "credential": "toy", "collection_ids": ["toy:widget"]}],
    "consumers": [{"name": "worker", "stream": "main"}],
}
with TestClient(create_app(ServerConfig(seed=3, validate_responses=True))) as http:
    tenant = TenantClient(http=http)
    ids = tenant.load(SCENARIO)
    sync = tenant.wait_for_backfill(ids["syncs"]["Toy"], steps=60)
    first = tenant.drain(ids["consumers"]["worker"])
    base = tenant.api_base(ids["credentials"]["toy"]).removeprefix(str(http.base_url).rstrip("/"))
    key = {"Authorization": "Bearer toy_secret"}
    made = http.post(f"{base}/v1/widgets", content=b'{"name": "new one"}', headers=key)
    listed = http.get(f"{base}/v1/widgets", headers=key)
    refused = http.get(f"{base}/v1/widgets", headers={"Authorization": "Bearer wrong"})
    unrouted = http.delete(f"{base}/v1/widgets", headers=key)
    tenant.advance("1h")
    second = tenant.drain(ids["consumers"]["worker"])
    collections = tenant.get(f"/v1/collections/{ids['credentials']['toy']}").json()
    print(orjson.dumps({
        "rate_limit": sync["rate_limit"], "first": sorted(r["data"]["name"] for r in first),
        "collection": sorted({r["collection_id"] for r in first}),
        "made": [made.status_code, made.json()], "listed": len(listed.json()["data"]),
        "refused": [refused.status_code, refused.json()], "unrouted": [unrouted.status_code, unrouted.json(),
                                                                        unrouted.headers.get("allow")],
        "second": [r["data"]["name"] for r in second],
        "collections": [c["id"] for c in collections["data"]],
    }).decode())
'''


def _add_toy(tree: Path) -> None:
    """What a contributor adds for a provider: its folder, its registry line, its spec additions."""
    folder = tree / "sequin_emulator" / "providers" / "toy"
    folder.mkdir()
    for name, text in {"__init__.py": TOY_INIT, "model.py": TOY_MODEL, "api.py": TOY_API}.items():
        (folder / name).write_text(textwrap.dedent(text))
    registry = tree / "sequin_emulator" / "providers" / "__init__.py"
    text = registry.read_text()
    assert text.count("    hubspot.PLUGIN,\n") == 1
    registry.write_text(text.replace("from sequin_emulator.providers import hubspot, stripe",
                                     "from sequin_emulator.providers import hubspot, stripe, toy")
                        .replace("    hubspot.PLUGIN,\n", "    hubspot.PLUGIN,\n    toy.PLUGIN,\n"))
    providers_doc = tree / "openapi" / "providers.yaml"
    document = yaml.safe_load(providers_doc.read_text())
    document["paths"].update(PROVIDER_PATHS)
    providers_doc.write_text(yaml.safe_dump(document, sort_keys=False))
    sequin_doc = tree / "openapi" / "sequin.yaml"
    spec = yaml.safe_load(sequin_doc.read_text())
    schemas = spec["components"]["schemas"]
    schemas["Provider"]["enum"].append("toy")
    schemas["ToyKeyProperties"] = TOY_KEY
    schemas["ToyKeyImport"] = {**TOY_KEY, "properties": {**TOY_KEY["properties"],
                                                         "oauth_app_id": {"$ref": "#/components/schemas/OAuthAppRef"},
                                                         "metadata": {"$ref": "#/components/schemas/Metadata"}}}
    for union, member in (("CredentialProperties", "ToyKeyProperties"), ("CredentialImportFlat", "ToyKeyImport")):
        schemas[union]["oneOf"].append({"$ref": f"#/components/schemas/{member}"})
        schemas[union]["discriminator"]["mapping"]["toy_key"] = f"#/components/schemas/{member}"
    sequin_doc.write_text(yaml.safe_dump(spec, sort_keys=False))


def test_a_toy_provider_is_its_folder_a_registry_line_and_spec_additions(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copytree(ROOT / "sequin_emulator", tree / "sequin_emulator",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copytree(ROOT / "sequin_emulator" / "providers" / "stripe" / "data",
                    tree / "sequin_emulator" / "providers" / "stripe" / "data")
    shutil.copytree(ROOT / "openapi", tree / "openapi")
    _add_toy(tree)
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tree, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    import orjson

    seen = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert seen["collections"] == ["toy:widget"]
    assert seen["rate_limit"] == {"allowed_requests": 10, "interval": 1, "max_concurrent_requests": 0}
    assert seen["first"] == ["widget 0", "widget 1", "widget 2"] and seen["collection"] == ["toy:widget"]
    assert seen["made"] == [201, {"id": "wid_4", "name": "new one"}] and seen["listed"] == 4
    assert seen["refused"][0] == 401 and seen["refused"][1]["why"] == "key"
    assert seen["unrouted"] == [405, seen["unrouted"][1], "GET, POST, HEAD"] and seen["unrouted"][1]["why"] == "method"
    assert seen["second"] == ["new one"]


def test_the_app_refuses_to_start_when_a_documented_operation_has_no_handler(monkeypatch):
    import pytest

    from sequin_emulator.api.app import create_app
    from sequin_emulator.domain.catalog import PLUGIN_OF
    from sequin_emulator.providers.wire import WireApi

    wire = cast(WireApi, PLUGIN_OF["hubspot"].wire)
    monkeypatch.setattr(type(wire), "handlers", {k: v for k, v in wire.handlers.items() if k != "hubspotSearch"})
    with pytest.raises(RuntimeError, match="hubspotSearch"):
        create_app()


def test_the_app_refuses_to_start_when_a_credential_kind_is_not_in_the_spec(monkeypatch):
    import pytest

    from sequin_emulator.api.app import create_app
    from sequin_emulator.domain import catalog
    from sequin_emulator.domain.plugins import CredentialKind

    monkeypatch.setitem(catalog.CREDENTIAL_KINDS, "toy_key", CredentialKind("toy_key", "toy", ("key",)))
    with pytest.raises(RuntimeError, match="toy_key"):
        create_app()
