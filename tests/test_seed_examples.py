"""The two documentation pages the project started from, pasted as a new user would.

Every request example of "Syncs" (the concepts page) and "List syncs" (the API reference page) is sent as
written: only the base URL, the API key and ids that an earlier call returned are substituted. The bodies below
are copied from the pages verbatim.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from sequin_emulator.domain.upstream import AccountSettings
from tests.conftest import Api

MASK = "***********"

# "Add a credential", as the concepts page wrote it.
ADD_A_CREDENTIAL = """{
    "kind": "stripe_oauth2",
    "access_token": "sk_live_7eC39HqLyjWDarjtT1zdp7dc",
    "oauth_app_id": "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8",
    "metadata": { "custom_property": 42 }
  }"""

# "Create a sync ... using the credential you just created", as the concepts page wrote it.
CREATE_A_SYNC = """{
    "provider": "stripe",
    "name": "Choam Corp - Stripe Production",
    "collection_ids": ["stripe:customer", "stripe:invoice"],
    "rate_limit": {
      "allowed_requests": 100,
      "interval": 60,
      "max_concurrent_requests": 0
    },
    "credential_id": "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8",
    "metadata": { "custom_property": 42 }
  }"""
PAGE_IDS = "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"


@pytest.fixture
def user(start_emulator):
    """A tenant on an emulator whose simulated accounts have a few records, as a new user's would."""
    return start_emulator("YOUR_API_KEY", accounts=AccountSettings(records_per_collection=4, changes_per_hour=0))


def _paste(api: Api, method: str, path: str, body: str, substitute: dict[str, str]) -> dict:
    for page_value, returned in substitute.items():
        body = body.replace(page_value, returned)
    response = api.request(method, path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def _seed_credential_and_sync(api: Api) -> tuple[dict, dict]:
    """The concepts page's walk-through: an OAuth app (its id is what the credential example names), the
    credential, then the sync on that credential."""
    app = api.ok("POST", "/v1/oauth-apps", {"provider": "stripe", "client_id": "ca_1", "client_secret": "s",
                                            "name": "Choam Stripe app"})
    credential = _paste(api, "POST", "/v1/credentials", ADD_A_CREDENTIAL, {PAGE_IDS: app["id"]})
    sync = _paste(api, "POST", "/v1/syncs", CREATE_A_SYNC, {PAGE_IDS: credential["id"]})
    return credential, sync


def test_add_a_credential_works_as_written(user):
    app = user.ok("POST", "/v1/oauth-apps", {"provider": "stripe", "client_id": "ca_1", "client_secret": "s",
                                             "name": "Choam Stripe app"})
    credential = _paste(user, "POST", "/v1/credentials", ADD_A_CREDENTIAL, {PAGE_IDS: app["id"]})
    assert credential["provider"] == "stripe" and credential["kind"] == "stripe_oauth2"
    assert credential["properties"] == {"kind": "stripe_oauth2", "access_token": MASK}
    assert credential["oauth_app_id"] == app["id"] and credential["oauth_app"]["id"] == app["id"]
    assert credential["metadata"] == {"custom_property": 42}
    assert "sk_live_7eC39HqLyjWDarjtT1zdp7dc" not in user.get("/v1/credentials").text


def test_create_a_sync_works_as_written_and_uses_the_default_stream(user):
    credential, sync = _seed_credential_and_sync(user)
    assert sync["credential_id"] == credential["id"] and sync["provider"] == "stripe"
    assert sync["collection_ids"] == ["stripe:customer", "stripe:invoice"]
    assert sync["rate_limit"] == {"allowed_requests": 100, "interval": 60, "max_concurrent_requests": 0}
    streams = user.ok("GET", "/v1/streams")["data"]
    assert [(s["slug"], s["id"]) for s in streams] == [("default", sync["stream_id"])]


def test_the_streams_example_next_batch_size_10_hands_out_the_syncs_records(user):
    credential, sync = _seed_credential_and_sync(user)
    consumer = user.ok("POST", "/v1/http-consumers", {"name": "reader"})  # no stream_id: the default stream
    assert consumer["stream_id"] == sync["stream_id"]
    user.ok("POST", "/_emulator/clock/advance", {"by": "10s"})  # 100 requests a minute: 2 pages and a poll
    answer = user.ok("GET", f"/v1/http-consumers/{consumer['id']}/next?batch_size=10")
    upstream = len(user.upstream(credential["id"], "stripe:customer") + user.upstream(credential["id"], "stripe:invoice"))
    assert upstream > 8 and len(answer["data"]) == 10  # 4 customers, and one invoice per billed period
    for message in answer["data"]:
        record = message["record"]
        assert message["ack_token"] and record["sync_id"] == sync["id"]
        assert record["collection_id"] in ("stripe:customer", "stripe:invoice")
        assert record["data"]["id"] == record["upstream_id"]
        assert record["data"]["object"] == record["collection_id"].split(":")[1]
        assert isinstance(record["updated_idx"], int)
        assert record["upstream_created_at"].endswith("Z") and record["upstream_updated_at"].endswith("Z")


# ------------------------------------------------------------------ "List syncs": every documented field

def test_list_syncs_works_as_written_and_has_every_documented_field(user):
    credential, sync = _seed_credential_and_sync(user)
    user.ok("POST", "/_emulator/clock/advance", {"by": "10s"})
    response = user.request("GET", "/v1/syncs")  # the page's curl: GET with only the bearer header
    assert response.status_code == 200
    [listed] = response.json()["data"]
    assert listed["id"] == sync["id"] and listed["provider"] == "stripe"
    assert listed["name"] == "Choam Corp - Stripe Production" and listed["status"] == "active"
    assert listed["org_id"] == user.ok("GET", "/v1/streams")["data"][0]["org_id"]
    assert listed["health"] == {"status": "healthy", "sync_id": sync["id"]}
    assert listed["collection_ids"] == ["stripe:customer", "stripe:invoice"]
    assert listed["rate_limit"] == {"allowed_requests": 100, "interval": 60, "max_concurrent_requests": 0}
    assert listed["credential_id"] == credential["id"]
    shown = listed["credential"]
    assert shown["id"] == credential["id"] and shown["provider"] == "stripe"
    assert shown["properties"]["kind"] == "stripe_oauth2" and shown["properties"]["access_token"] == MASK
    assert shown["oauth_app_id"] == credential["oauth_app_id"] and shown["metadata"] == {"custom_property": 42}
    assert shown["created_at"] and shown["updated_at"]
    assert listed["max_age_days"] is None  # "Defaults to null, which means no age limit."
    assert listed["sync_frequency"] == "continuous"
    # one page per collection, 0.6 s apart (100 requests a minute): done at the second
    assert listed["initial_backfill_completed_at"] == "2024-01-01T00:00:01.200000Z"  # pages and polls share 100/60 s
    assert listed["metadata"] == {"custom_property": 42}
    assert listed["created_at"] == "2024-01-01T00:00:00.000000Z" and listed["updated_at"] == listed["created_at"]


def test_list_syncs_filters(user):
    _, stripe = _seed_credential_and_sync(user)
    hubspot = user.ok("POST", "/v1/syncs", {
        "name": "Choam Corp - HubSpot Production", "collection_ids": ["hubspot:contact"], "metadata": {"custom_property": 7},
        "credential": {"kind": "hubspot", "hub_id": 42, "refresh_token": "rt"}})
    user.ok("PUT", f"/_emulator/upstream/{hubspot['credential_id']}/settings", {"outage": True})
    user.ok("POST", "/_emulator/clock/advance", {"by": "30s"})

    def names(query: str) -> list[str]:
        return [s["name"] for s in user.ok("GET", f"/v1/syncs?{query}")["data"]]

    assert names("provider=stripe") == [stripe["name"]]
    assert names("provider=github") == []
    assert names("name=Choam%20Corp%20-%20Stripe%20Production") == [stripe["name"]]
    assert names("health.status=ok") == names("health.status=healthy") == [stripe["name"]]
    assert names("health.status=error") == [hubspot["name"]]
    assert names("metadata=" + quote(json.dumps({"custom_property": 42}))) == [stripe["name"]]
    assert names("metadata=" + quote(json.dumps({"custom_property": "42"}))) == []


# ------------------------------------------------------------------ the two forms, side by side

def test_both_credential_forms_in_one_body_are_refused(api):
    response = api.post("/v1/credentials", {"kind": "stripe_key", "secret": "sk_1",
                                            "properties": {"kind": "stripe_key", "secret": "sk_1"}})
    assert response.status_code == 422
    assert "mixes two forms" in response.json()["validation_errors"]["body"][0]


def test_flat_form_errors_name_the_top_level_field(api):
    response = api.post("/v1/credentials", {"kind": "stripe_oauth2", "access_token": "", "colour": "red"})
    assert response.status_code == 422
    errors = response.json()["validation_errors"]
    assert errors["access_token"] == ["must be at least 1 characters long"]
    assert errors["colour"] == ["is not a known field"]
    unknown_kind = api.post("/v1/credentials", {"kind": "stripe_magic", "secret": "sk"}).json()["validation_errors"]
    assert "kind" in unknown_kind and "stripe_key" in unknown_kind["kind"][0]


def test_a_stripe_key_is_one_account_whichever_field_holds_it(api):
    one = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk_test_same"}})
    two = api.ok("POST", "/v1/credentials", {"kind": "stripe_oauth2", "access_token": "sk_test_same"})
    three = api.ok("POST", "/v1/credentials", {"kind": "stripe_key", "secret_key": "sk_test_same"})
    assert one["id"] == two["id"] == three["id"]
    assert len(api.ok("GET", "/v1/credentials")["data"]) == 1


def test_an_e1_era_consumer_body_reads_the_default_stream(api):
    sync = api.sync(None)  # conftest's sync, without a stream: the default stream
    consumer = api.ok("POST", "/v1/http-consumers", {"ack_wait": 5000, "filters": {"collection_id": "stripe:customer"}})
    assert consumer["stream_id"] == sync["stream_id"] and consumer["ack_wait_ms"] == 5000
    assert consumer["filters"] == {"provider": "*", "sync_id": "*", "collection_id": "stripe:customer"}
    api.write_records(sync, "cus_1")
    assert [m["record"]["upstream_id"] for m in api.next(consumer)["data"]] == ["cus_1"]


def test_an_explicit_default_stream_is_the_one_used(api):
    mine = api.stream("default")
    assert api.sync(None)["stream_id"] == mine["id"]
    assert len(api.ok("GET", "/v1/streams")["data"]) == 1
