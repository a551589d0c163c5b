"""The Mutation API: provider-validated writes upstream, in the stream at once, with read-your-writes waits."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from sequin_emulator.domain.upstream import AccountSettings
from sequin_emulator.launcher import running_emulator
from tests.conftest import Api


@pytest.fixture
def world(start_emulator):
    api = start_emulator("mutations", accounts=AccountSettings(records_per_collection=3, changes_per_hour=0))
    stream = api.stream()
    sync = api.sync(stream["id"], collection_ids=["stripe:customer", "stripe:product", "stripe:invoice"])
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    consumer = api.consumer(stream["id"], deliver_policy="new")
    return api, sync, consumer


def upstream(api: Api, sync: dict, collection_id: str = "stripe:customer") -> dict:
    objects = api.ok("GET", f"/_emulator/upstream/{sync['credential_id']}/records?collection_id={collection_id}")["data"]
    return {obj["id"]: obj for obj in objects}


def test_create_update_delete_reach_upstream_and_the_stream_at_once(world):
    api, sync, consumer = world
    created = api.ok("POST", "/v1/mutations/run", {"kind": "create", "sync_id": sync["id"],
                                                   "collection_id": "stripe:customer",
                                                   "records": [{"data": {"email": "paul@arrakis.example", "name": "Paul"}}]})
    [record] = created["records"]
    customer_id = record["upstream_id"]
    assert customer_id.startswith("cus_") and record["data"]["email"] == "paul@arrakis.example"
    assert upstream(api, sync)[customer_id]["name"] == "Paul"
    [message] = api.next(consumer, 10)["data"]
    assert message["record"] == record
    updated = api.ok(
        "POST",
        "/v1/mutations/run",
        {
            "kind": "update",
            "sync_id": sync["id"],
            "collection_id": "stripe:customer",
            "records": [{"upstream_id": customer_id, "data": {"name": "Muad'Dib"}}],
        },
    )
    assert updated["records"][0]["data"]["name"] == "Muad'Dib"
    deleted = api.ok("POST", "/v1/mutations/run", {"kind": "delete", "sync_id": sync["id"],
                                                   "collection_id": "stripe:customer", "upstream_ids": [customer_id]})
    assert deleted["records"][0]["deleted"] is True and customer_id not in upstream(api, sync)
    api.ok("POST", "/_emulator/clock/advance", {"by": "1m"})  # the sync's own polls do not write them again
    answer = api.next(consumer, 10)
    assert [m["record"]["deleted"] for m in answer["data"]] == [True]


def refused_by_provider(response, field: str, provider: str = "Stripe") -> None:
    """The mutation pages' envelope for what the provider refuses: 400, `Error: <Provider> validation error`."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"].startswith(f"Error: {provider} validation error: ") and body["docs"], body
    assert field in body["validation_errors"], body


def test_invalid_mutations_write_nothing(world):
    api, sync, consumer = world
    customer_id = next(iter(upstream(api, sync)))
    before = upstream(api, sync)

    def post(body):
        return api.post("/v1/mutations/run", {"sync_id": sync["id"], "collection_id": "stripe:customer", **body})

    def malformed(body, field):
        response = post(body)
        assert response.status_code == 422, response.text
        assert field in response.json()["validation_errors"], response.json()

    refused_by_provider(post({"kind": "update", "records": [{"upstream_id": customer_id, "data": {"name": "ok"}},
                                                            {"upstream_id": customer_id, "data": {"email": "nope"}}]}),
                        "records.1.data.email")
    refused_by_provider(post({"kind": "update", "records": [{"upstream_id": "cus_missing", "data": {}}]}),
                        "records.0.upstream_id")
    refused_by_provider(post({"kind": "create", "records": [{"data": {"colour": "blue"}}]}), "records.0.data.colour")
    refused_by_provider(post({"kind": "delete", "upstream_ids": ["cus_missing"]}), "upstream_ids.0")
    malformed({"kind": "update", "records": [{"data": {}}]}, "records.0.upstream_id")
    malformed({"kind": "delete"}, "upstream_ids")
    malformed({"kind": "create", "collection_id": "stripe:charge", "records": [{"data": {}}]}, "collection_id")
    malformed({"kind": "create", "records": [{"data": {}}], "await_consumer_ids": ["8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"]},
              "await_consumer_ids.0")
    invoice = api.post("/v1/mutations/run", {"kind": "create", "sync_id": sync["id"], "collection_id": "stripe:invoice",
                                             "records": [{"data": {}}]})
    assert invoice.status_code == 422
    assert upstream(api, sync) == before and api.next(consumer, 10)["data"] == []
    missing_sync = api.post("/v1/mutations/run", {"kind": "create", "sync_id": "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8",
                                                  "collection_id": "stripe:customer", "records": [{"data": {}}]})
    assert missing_sync.status_code == 422 and "sync_id" in missing_sync.json()["validation_errors"]


@pytest.mark.parametrize(("fault", "status", "error"), [
    ({"outage": True}, 504, "Error: Stripe API timed out"),
    ({"throttle": True}, 504, "Error: Stripe API timed out"),
    ({"error_rate": 1.0}, 504, "Error: Stripe API timed out"),
    ({"revoked": True}, 400, "Error: Stripe authentication error: "),
])
def test_an_account_that_cannot_answer_fails_the_mutation_as_the_pages_show(world, fault, status, error):
    api, sync, consumer = world
    before = upstream(api, sync)
    api.ok("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings", fault)
    response = api.post("/v1/mutations/run", {"kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
                                              "records": [{"data": {"name": "Paul"}}]})
    assert response.status_code == status and response.json()["error"].startswith(error), response.text
    assert response.json()["docs"] == ["https://sequin.io/docs/mutations/overview"]
    api.ok("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings",
           {"outage": False, "throttle": False, "error_rate": 0, "revoked": False})
    assert upstream(api, sync) == before and api.next(consumer, 10)["data"] == []


def test_hubspot_mutations_are_validated_like_hubspot(start_emulator):
    api = start_emulator("hub", accounts=AccountSettings(records_per_collection=2, changes_per_hour=0))
    stream = api.stream()
    sync = api.ok("POST", "/v1/syncs", {"stream_id": stream["id"], "name": "crm", "collection_ids": ["hubspot:contact"],
                                        "credential": {"kind": "hubspot", "hub_id": 3, "refresh_token": "r"}})
    ok = api.ok(
        "POST",
        "/v1/mutations/run",
        {
            "kind": "create",
            "sync_id": sync["id"],
            "collection_id": "hubspot:contact",
            "records": [{"data": {"properties": {"email": "a@b.example"}}}],
        },
    )
    data = ok["records"][0]["data"]
    assert data["properties"]["email"] == "a@b.example" and data["properties"]["hs_object_id"] == data["id"]
    for props, field in [({"email": "bad"}, "records.0.data.properties.email"),
                         ({"favourite_spice": "melange"}, "records.0.data.properties.favourite_spice"),
                         ({"firstname": 5}, "records.0.data.properties.firstname"),
                         ({"hs_object_id": "1"}, "records.0.data.properties.hs_object_id")]:
        response = api.post("/v1/mutations/run", {"kind": "create", "sync_id": sync["id"],
                                                  "collection_id": "hubspot:contact",
                                                  "records": [{"data": {"properties": props}}]})
        refused_by_provider(response, field, "HubSpot")
    archived = api.ok("POST", "/v1/mutations/run", {"kind": "delete", "sync_id": sync["id"],
                                                    "collection_id": "hubspot:contact", "upstream_ids": [data["id"]]})
    assert archived["records"][0]["deleted"] is True and archived["records"][0]["data"]["archived"] is True


def test_other_syncs_of_the_account_see_the_change_at_their_next_poll(world):
    api, sync, _ = world
    other_stream = api.stream("other")
    other = api.sync(other_stream["id"])  # same Stripe key: the same upstream account
    watcher = api.consumer(other_stream["id"], deliver_policy="new")
    api.ok("POST", "/_emulator/clock/advance", {"by": "1250ms"})  # the mutation comes between two polls
    api.next(watcher, 100)  # skip nothing: deliver_policy new
    api.ok("POST", "/v1/mutations/run", {"kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
                                         "records": [{"data": {"name": "Shared"}}]})
    assert api.next(watcher, 10)["data"] == []
    api.ok("POST", "/_emulator/clock/advance", {"by": "2s"})
    assert [m["record"]["data"]["name"] for m in api.next(watcher, 10)["data"]] == ["Shared"]
    assert other["credential_id"] == sync["credential_id"]


def test_awaiting_a_consumer_that_does_not_ack_times_out_with_500(world):
    api, sync, consumer = world
    response = api.post("/v1/mutations/run", {"kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
                                              "records": [{"data": {}}], "await_consumer_ids": [consumer["id"]],
                                              "await_consumers_timeout": 100})
    assert response.status_code == 500 and response.json()["error"].startswith("Error: the mutation was written")
    assert len(api.next(consumer, 10)["data"]) == 1  # written all the same


def test_awaiting_returns_once_the_consumer_acked():
    with running_emulator("--records-per-collection", "2", "--changes-per-hour", "0") as url, \
            httpx.Client(base_url=url, headers={"Authorization": "Bearer await"}, timeout=15) as http:
        stream = http.post("/v1/streams", json={"slug": "s"}).json()
        sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                            "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
        consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"], "deliver_policy": "new"}).json()
        stop = time.monotonic() + 10

        def worker():
            with httpx.Client(base_url=url, headers=http.headers, timeout=15) as client:
                while time.monotonic() < stop:
                    answer = client.post(f"/v1/http-consumers/{consumer['id']}/next",
                                         json={"batch_size": 10, "wait_for": 500}).json()
                    if answer["data"]:
                        client.post(f"/v1/http-consumers/{consumer['id']}/ack",
                                    json={"ack_tokens": [m["ack_token"] for m in answer["data"]]})
                        return

        thread = threading.Thread(target=worker)
        thread.start()
        started = time.monotonic()
        response = http.post("/v1/mutations/run", json={
            "kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer", "records": [{"data": {}}],
            "await_consumer_ids": [consumer["id"]], "await_consumers_timeout": 8000})
        thread.join(timeout=15)
        assert response.status_code == 200 and time.monotonic() - started < 5
