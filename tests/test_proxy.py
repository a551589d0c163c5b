"""The Proxy API: a credential's simulated account through `/v1/proxy/...`, with the Sequin token, answered as its
own API base answers, paced by the sync's rate limit, its writes in the stream at once."""

from __future__ import annotations

import time

import hubspot
import pytest
import stripe
from hubspot.crm.contacts import SimplePublicObjectInputForCreate

from sequin_emulator.domain.upstream import AccountSettings
from sequin_emulator.testing import TenantClient
from tests.providers.synced_account import still_emulator

KEY = "sk_test_proxy"


@pytest.fixture
def world(start_emulator):
    api = start_emulator("proxy", accounts=AccountSettings(records_per_collection=3, changes_per_hour=0))
    stream = api.stream()
    sync = api.sync(stream["id"], credential={"properties": {"kind": "stripe_key", "secret": KEY}},
                    collection_ids=["stripe:customer", "stripe:product"], sync_frequency="4h")
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    consumer = api.consumer(stream["id"], deliver_policy="new")
    events = api.consumer(stream["id"], deliver_policy="new", kind="events")
    return api, sync, consumer, events


def test_a_read_answers_as_the_accounts_own_base(world):
    api, sync, _, _ = world
    base = api.ok("GET", f"/_emulator/upstream/{sync['credential_id']}")["api_base"]
    own = api.get(f"{base}/v1/customers?limit=2", headers={"Authorization": f"Bearer {KEY}"})
    through_sync = api.get(f"/v1/proxy/sync/{sync['id']}/v1/customers?limit=2")
    through_credential = api.get(f"/v1/proxy/credential/{sync['credential_id']}/v1/customers?limit=2")
    assert own.status_code == through_sync.status_code == through_credential.status_code == 200
    assert own.json()["data"] == through_sync.json()["data"] == through_credential.json()["data"]
    assert len(own.json()["data"]) == 2


def test_a_write_through_the_sync_reaches_consumers_records_and_events_at_once(world):
    api, sync, consumer, events = world
    created = api.post(f"/v1/proxy/sync/{sync['id']}/v1/customers", content=b"email=paul%40example.com&name=Paul",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert created.status_code == 200, created.text
    customer = created.json()
    assert customer["id"].startswith("cus_") and customer["email"] == "paul@example.com"
    delivered = api.next(consumer, 10)["data"]  # no clock advance: in the stream at once
    assert [(m["record"]["upstream_id"], m["record"]["data"]["name"]) for m in delivered] == [(customer["id"], "Paul")]
    assert [m["event"]["event"] for m in api.next(events, 10)["data"]] == ["created"]
    assert customer["id"] in [r["upstream_id"] for r in api.ok("GET", f"/v1/records?sync_id={sync['id']}")["records"]]
    assert [e["upstream_id"] for e in api.ok("GET", "/v1/events?collection_id=stripe:customer")["events"]][-1] \
        == customer["id"]
    api.ack(consumer, [m["ack_token"] for m in delivered])
    api.ok("POST", "/_emulator/clock/advance", {"by": "5h"})  # the sync's poll does not write it again
    assert api.next(consumer, 10)["data"] == []


def test_refusals_are_the_providers_and_sequins_own(world, other):
    api, sync, _, _ = world
    missing = api.get(f"/v1/proxy/sync/{sync['id']}/v1/customers/cus_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    unknown_path = api.get(f"/v1/proxy/sync/{sync['id']}/v1/nothing_here")
    assert unknown_path.status_code == 404 and "Unrecognized request URL" in unknown_path.json()["error"]["message"]
    assert api.get(f"/v1/proxy/sync/{sync['id']}/v1/customers%0A").status_code == 404  # not /v1/customers
    assert other.get(f"/v1/proxy/sync/{sync['id']}/v1/customers").json()["summary"]  # another organization's sync
    assert other.get(f"/v1/proxy/sync/{sync['id']}/v1/customers").status_code == 404
    anonymous = api.get(f"/v1/proxy/sync/{sync['id']}/v1/customers", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    api.ok("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings", {"outage": True})
    down = api.get(f"/v1/proxy/sync/{sync['id']}/v1/customers")
    assert down.status_code == 500 and down.json()["error"]["type"] == "api_error"


def test_a_credential_without_a_simulated_account_is_a_422(api):
    credential = api.ok("POST", "/v1/credentials", {"properties": {
        "kind": "salesforce", "instance_url": "https://acme.my.salesforce.com", "refresh_token": "r"}})
    refused = api.get(f"/v1/proxy/credential/{credential['id']}/services/data/v59.0/sobjects")
    assert refused.status_code == 422 and "credential_id" in refused.json()["validation_errors"]


def test_requests_over_the_syncs_rate_limit_wait_or_get_a_429(api):
    stream = api.stream()
    waits = api.sync(stream["id"], rate_limit={"allowed_requests": 2, "interval": 1})
    path = f"/v1/proxy/sync/{waits['id']}/v1/customers?limit=1"
    started = time.monotonic()
    assert [api.get(path).status_code for _ in range(3)] == [200, 200, 200]
    assert time.monotonic() - started >= 0.8  # the third waited for a slot of the next second
    refuses = api.sync(api.stream("slow")["id"], credential={"properties": {"kind": "stripe_key", "secret": "sk_slow"}},
                       rate_limit={"allowed_requests": 1, "interval": 60})
    assert api.get(f"/v1/proxy/sync/{refuses['id']}/v1/customers").status_code == 200
    refused = api.get(f"/v1/proxy/sync/{refuses['id']}/v1/customers")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json()["error"]["message"].startswith("Too many requests through this sync")
    assert api.get(f"/v1/proxy/credential/{refuses['credential_id']}/v1/customers").status_code == 200  # no limit


def test_the_official_sdks_work_through_the_proxy_with_the_sequin_token():
    with still_emulator(records_per_collection=2) as url:
        sequin = TenantClient(url, token="proxy-sdk")
        stream = sequin.post("/v1/streams", {"slug": "main"}).json()
        stripe_sync = sequin.post("/v1/syncs", {"stream_id": stream["id"], "name": "billing",
                                                "collection_ids": ["stripe:customer"],
                                                "credential": {"properties": {"kind": "stripe_key", "secret": KEY}}}).json()
        hub_sync = sequin.post("/v1/syncs", {"stream_id": stream["id"], "name": "crm",
                                             "collection_ids": ["hubspot:contact"],
                                             "credential": {"properties": {"kind": "hubspot", "hub_id": 9,
                                                                           "refresh_token": "r"}}}).json()
        consumer = sequin.post("/v1/http-consumers", {"stream_id": stream["id"], "deliver_policy": "new"}).json()
        client = stripe.StripeClient("proxy-sdk", base_addresses={"api": f"{url}/v1/proxy/sync/{stripe_sync['id']}"},
                                     max_network_retries=0).v1
        customer = client.customers.create({"email": "sdk@example.com"})
        assert client.customers.retrieve(customer.id).email == "sdk@example.com"
        crm = hubspot.HubSpot(access_token="proxy-sdk", host=f"{url}/v1/proxy/sync/{hub_sync['id']}")
        contact = crm.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "crm@example.com"}))
        assert crm.crm.contacts.basic_api.get_by_id(contact.id).properties["email"] == "crm@example.com"
        delivered = sequin.post(f"/v1/http-consumers/{consumer['id']}/next", {"batch_size": 10}).json()["data"]
        assert {m["record"]["upstream_id"] for m in delivered} == {customer.id, contact.id}
        sequin.close()
