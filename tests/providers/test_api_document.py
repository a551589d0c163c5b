"""The provider APIs' own OpenAPI document (`openapi/providers.yaml`, served at `/_providers/openapi.json`) is valid
and says what is served: every operation it lists reaches a handler, and unlisted paths get the provider's own
"no such route" answer."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate

from sequin_emulator.spec.document import spec_path

DOCUMENT = yaml.safe_load(spec_path("providers.yaml").read_text())
OPERATIONS = [(path, method) for path, item in DOCUMENT["paths"].items() for method in item if method != "parameters"]
STRIPE_KEY, HUBSPOT_TOKEN = "sk_test_document", "pat-document"


@pytest.fixture(scope="module")
def served(request):
    from tests.conftest import emulator_api

    with emulator_api("providers-doc") as api:
        stripe = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": STRIPE_KEY}})
        hubspot = api.ok("POST", "/v1/credentials", {"properties": {"kind": "hubspot", "hub_id": 77, "refresh_token":
                                                                    "rt", "access_token": HUBSPOT_TOKEN}})
        bases = {c["id"]: api.ok("GET", f"/_emulator/upstream/{c['id']}")["api_base"] for c in (stripe, hubspot)}
        yield api, {"stripe": (stripe["id"], STRIPE_KEY, bases[stripe["id"]]),
                    "hubspot": (hubspot["id"], HUBSPOT_TOKEN, bases[hubspot["id"]])}


def test_the_document_is_valid_and_served(served):
    validate(DOCUMENT)
    api, _ = served
    assert api.http.get("/_providers/openapi.json").json() == DOCUMENT
    assert {path.split("/")[4] for path, _ in OPERATIONS} == {"stripe", "hubspot"}


def _route_missed(provider: str, answer) -> bool:
    if answer.status_code != 404:
        return False
    body = answer.json()
    return body["error"]["message"].startswith("Unrecognized request URL") if provider == "stripe" else \
        body["category"] == "NOT_FOUND"


@pytest.mark.parametrize("path,method", OPERATIONS)
def test_every_listed_operation_is_served(served, path, method):
    api, credentials = served
    provider = path.split("/")[4]
    credential_id, key, base = credentials[provider]
    org_id = base.split("/_providers/")[1].split("/")[0]
    values = {"org_id": org_id, "credential_id": credential_id, "id": "nope1", "object_type": "contacts",
              "to_object_type": "companies", "to_id": "nope2", "app_id": "1", "subscription_id": "1",
              "property_name": "nope3", "group_name": "nope4", "pipeline_id": "nope5", "owner_id": "nope6"}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    answer = api.http.request(method.upper(), url, headers={"Authorization": f"Bearer {key}"},
                              params={"hapikey": key} if "/webhooks/" in path else None,
                              **({"json": {}} if provider == "hubspot" and method in ("post", "patch") else {}))
    assert not _route_missed(provider, answer), (method, url, answer.text)
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize("provider,path", [("stripe", "/v1/disputes"), ("stripe", "/v1/customers/x/y/z"),
                                           ("hubspot", "/crm/v3/objects/contacts/1/whatever/x/y")])
def test_what_is_not_listed_is_not_served(served, provider, path):
    api, credentials = served
    _, key, base = credentials[provider]
    answer = api.http.get(f"{base}{path}", headers={"Authorization": f"Bearer {key}"})
    assert _route_missed(provider, answer), answer.text


def test_hostile_requests_get_the_providers_errors_not_500s(served):
    api, credentials = served
    _, key, stripe_root = credentials["stripe"]
    _, token, hubspot_root = credentials["hubspot"]
    stripe_base, hubspot_base = f"{stripe_root}/v1", f"{hubspot_root}/crm/v3"
    auth = {"Authorization": f"Bearer {key}"}
    nested = "metadata" + "[a]" * 20 + "=1"
    for body in (nested, "limit=1.5", "expand=customer", "a[]=1&a[x]=2", "x" * (1 << 20) + "=1"):
        answer = api.http.post(f"{stripe_base}/customers", content=body, headers={
            **auth, "Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 400 and "error" in answer.json(), (body[:40], answer.text)
    assert api.http.get(f"{stripe_base}/customers?limit=0", headers=auth).status_code == 400
    assert api.http.get(f"{stripe_base}/customers?created[gt]=soon", headers=auth).status_code == 400
    auth = {"Authorization": f"Bearer {token}"}
    api.http.post(f"{hubspot_base}/objects/contacts", headers=auth, json={"properties": {"phone": "12"}})
    api.http.post(f"{hubspot_base}/objects/contacts", headers=auth, json={"properties": {"phone": "call me"}})
    mixed = api.http.post(f"{hubspot_base}/objects/contacts/search", headers=auth,
                          json={"sorts": [{"propertyName": "phone", "direction": "DESCENDING"}]})
    assert mixed.status_code == 200 and mixed.json()["total"] >= 2
    bad_groups = api.http.post(f"{hubspot_base}/objects/contacts/search", headers=auth, json={"filterGroups": [1]})
    assert bad_groups.status_code == 400 and bad_groups.json()["category"] == "VALIDATION_ERROR"
    for raw in (b"[1, 2]", b"\xff\xfe", b'{"inputs": "x"}', b'{"filterGroups": [{"filters": [{"operator": "LIKE"}]}]}'):
        for path in ("objects/contacts", "objects/contacts/batch/create", "objects/contacts/search"):
            answer = api.http.post(f"{hubspot_base}/{path}", headers={**auth, "Content-Type": "application/json"},
                                   content=raw)
            assert answer.status_code < 500, answer.text
            if not path.endswith("search"):  # a search with no usable filters is a search of everything
                assert answer.status_code == 400 and answer.json()["status"] == "error", answer.text


def test_every_stripe_route_takes_the_parameters_the_document_gives_it():
    """The router and the document name the same operations, and each operation's parameter rules come from the
    document (a POST's form body, a GET's query parameters)."""
    from sequin_emulator.providers.document import resolve
    from sequin_emulator.providers.stripe import params as stripe_params
    from sequin_emulator.providers.stripe.api import HANDLERS

    documented = {op["operationId"] for item in DOCUMENT["paths"].values() for method, op in item.items()
                  if method != "parameters" and op["operationId"].startswith("stripe")}
    assert set(HANDLERS) == documented == set(stripe_params.schemas())
    assert "metadata" in resolve(stripe_params.schemas()["stripeCreateCustomer"])["properties"]
    assert "expand" in stripe_params.schemas()["stripeListCustomers"]["properties"]


@pytest.mark.parametrize("method,path", [
    ("POST", "stripe/v1/customers/cus_1/delete"), ("POST", "stripe/v1/invoices/in_1/open"),
    ("POST", "stripe/v1/products/prod_1/create"), ("PUT", "stripe/v1/customers"), ("GET", "stripe/v1/disputes"),
    ("PATCH", "stripe/v1/customers/cus_1"), ("GET", "hubspot/crm/v3/objects/contacts/search"),
    ("POST", "hubspot/crm/v3/objects/contacts/1"), ("GET", "hubspot/crm/v3/objects/contacts/1/whatever/x/y"),
    ("DELETE", "hubspot/crm/v4/objects/contacts/1/associations/default/companies/2"),
    ("GET", "hubspot/crm/v2/objects/contacts"), ("GET", "stripe/v1/customers/a/b/c"),
    ("GET", "stripe/v1/customers"), ("POST", "hubspot/crm/v3/objects/contacts/search"),  # listed: they do reach one
])
def test_an_unlisted_path_or_method_never_reaches_a_handler(served, monkeypatch, method, path):
    from collections.abc import Callable
    from typing import Any, cast

    from sequin_emulator.domain.catalog import PLUGIN_OF
    from sequin_emulator.providers import document
    from sequin_emulator.providers.wire import WireApi

    reached: list[str] = []

    def noting(operation: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def noted(*args: Any) -> Any:
            reached.append(operation)
            return handler(*args)
        return noted

    for name in ("stripe", "hubspot"):
        wire = cast(WireApi, PLUGIN_OF[name].wire)
        monkeypatch.setattr(type(wire), "handlers", {op: noting(op, fn) for op, fn in wire.handlers.items()})
    api, credentials = served
    provider = path.split("/")[0]
    _, key, base = credentials[provider]
    answer = api.http.request(method, f"{base.rsplit('/', 1)[0]}/{path}", headers={"Authorization": f"Bearer {key}"})
    listed = document.find(provider, path.removeprefix(provider))
    if listed is not None and method in listed[0].operations:
        assert reached == [listed[0].operations[method]], (answer.text, reached)
    else:
        assert answer.status_code in (404, 405) and reached == [], (answer.status_code, reached)
