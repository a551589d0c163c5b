"""The provider APIs' own OpenAPI document (`openapi/providers.yaml`, served at `/_providers/openapi.json`) is valid
and says what is served: every operation it lists reaches a handler, and unlisted paths get the provider's own
"no such route" answer."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate

from emulator.spec.document import spec_path

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
        yield api, {"stripe": (stripe["id"], STRIPE_KEY), "hubspot": (hubspot["id"], HUBSPOT_TOKEN)}


def test_the_document_is_valid_and_served(served):
    validate(DOCUMENT)
    api, _ = served
    assert api.http.get("/_providers/openapi.json").json() == DOCUMENT
    assert {path.split("/")[3] for path, _ in OPERATIONS} == {"stripe", "hubspot"}


def _route_missed(provider: str, answer) -> bool:
    if answer.status_code != 404:
        return False
    body = answer.json()
    return body["error"]["message"].startswith("Unrecognized request URL") if provider == "stripe" else \
        body["category"] == "NOT_FOUND"


@pytest.mark.parametrize("path,method", OPERATIONS)
def test_every_listed_operation_is_served(served, path, method):
    api, credentials = served
    provider = path.split("/")[3]
    credential_id, key = credentials[provider]
    values = {"credential_id": credential_id, "id": "nope1", "object_type": "contacts",
              "to_object_type": "companies", "to_id": "nope2"}
    url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    answer = api.http.request(method.upper(), url, headers={"Authorization": f"Bearer {key}"},
                              **({"json": {}} if provider == "hubspot" and method in ("post", "patch") else {}))
    assert not _route_missed(provider, answer), (method, url, answer.text)
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize("provider,path", [("stripe", "/v1/refunds"), ("stripe", "/v1/customers/x/y/z"),
                                           ("hubspot", "/crm/v3/objects/contacts/1/whatever/x/y")])
def test_what_is_not_listed_is_not_served(served, provider, path):
    api, credentials = served
    credential_id, key = credentials[provider]
    answer = api.http.get(f"/_providers/{credential_id}/{provider}{path}", headers={"Authorization": f"Bearer {key}"})
    assert _route_missed(provider, answer), answer.text
