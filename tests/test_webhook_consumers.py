"""Webhook consumers push records (or events) to a real local HTTP receiver: signed, in order per object, retried
on the emulator's clock while the receiver is down, stopped after 24 hours of failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from sequin_emulator.testing import SignatureError, WebhookReceiver, verify_signature


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def synced(api):
    stream = api.stream()
    return api.sync(stream["id"], collection_ids=["stripe:customer", "stripe:invoice"])


T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0) -> T:
    """`check()`'s first truthy answer, asked every 10 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout} s")


def hook(api, url: str, **fields) -> dict:
    return api.ok("POST", "/v1/consumers/webhook", {"name": "hooks", "url": url, **fields})


def attempts(api, consumer: dict) -> list[dict]:
    """The consumer's delivery attempts whose outcome is recorded, newest first (the journal)."""
    return api.ok("GET", f"/_emulator/journal?webhook_consumer_id={consumer['id']}&limit=1000")["data"]


def state(api, consumer: dict) -> dict:
    return api.ok("GET", f"/v1/consumers/webhook/{consumer['id']}")


def test_records_arrive_signed_once_each_in_order(api, synced, receiver):
    written = api.write_records(synced, "cus_1", "cus_2", "cus_3")
    consumer = hook(api, receiver.url)
    assert consumer["secret"].startswith("whsec_") and state(api, consumer)["secret"] == "***********"
    deliveries = receiver.wait_for(3)
    bodies = [verify_signature(d.body, d.headers, consumer["secret"]) for d in deliveries]
    assert sorted((b["record"] for b in bodies), key=lambda r: r["updated_idx"]) == written  # concurrent: any order
    assert {d.headers["sequin-consumer-id"] for d in deliveries} == {consumer["id"]}
    assert len({d.headers["sequin-delivery-id"] for d in deliveries}) == 3
    assert [d.headers["sequin-attempt"] for d in deliveries] == ["1", "1", "1"]
    settled = eventually(lambda: (s := state(api, consumer))["delivered"] == 3 and s)
    assert settled["health"]["status"] == "ok" and settled["pending"] == 0
    with pytest.raises(SignatureError):
        verify_signature(deliveries[0].body, deliveries[0].headers, "whsec_" + "0" * 48)
    with pytest.raises(SignatureError):
        verify_signature(deliveries[0].body + b" ", deliveries[0].headers, consumer["secret"])
    api.write_records(synced, "cus_1", data={"id": "cus_1", "name": "again"})  # a new version comes too
    assert receiver.wait_for(4)[3].json()["record"]["data"]["name"] == "again"
    time.sleep(0.2)
    assert len(receiver.received) == 4  # nothing twice


def test_one_in_flight_is_strict_order(api, synced, receiver):
    written = api.write_records(synced, *[f"cus_{i}" for i in range(20)])
    hook(api, receiver.url, max_in_flight=1)
    assert [d.json()["record"] for d in receiver.wait_for(20)] == written


def test_versions_of_one_object_never_overtake_each_other(api, synced, receiver):
    """A records consumer sends each version it picks, and skips the versions superseded before it picked them;
    whichever it sends of one object arrive oldest first, the latest last."""
    consumer = hook(api, receiver.url, max_in_flight=10)
    for version in range(5):
        api.write_records(synced, "cus_1", "cus_2", data={"id": "x", "version": version})
        time.sleep(0.01)

    def versions(upstream_id: str) -> list[int]:
        return [d.json()["record"]["data"]["version"] for d in list(receiver.received)
                if d.json()["record"]["upstream_id"] == upstream_id]

    eventually(lambda: versions("cus_1")[-1:] == [4] and versions("cus_2")[-1:] == [4])
    eventually(lambda: state(api, consumer)["pending"] == 0)
    for upstream_id in ("cus_1", "cus_2"):
        assert versions(upstream_id) == sorted(set(versions(upstream_id)))


def test_start_end_and_filters(api, synced, receiver):
    api.write_records(synced, "cus_old")
    hook(api, receiver.url, start="end", filters={"collection_id": "stripe:invoice"})
    api.write_records(synced, "cus_new")
    api.write_records(synced, "in_new", collection_id="stripe:invoice")
    assert [d.json()["record"]["upstream_id"] for d in receiver.wait_for(1)] == ["in_new"]
    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_an_events_consumer_pushes_the_changes_it_filters_for(api, synced, receiver):
    hook(api, receiver.url, kind="events", filters={"event": "updated"})
    api.write_records(synced, "cus_1", data={"id": "cus_1", "name": "A"})
    api.write_records(synced, "cus_1", data={"id": "cus_1", "name": "B"})
    [delivery] = receiver.wait_for(1)
    event = delivery.json()["event"]
    assert event["event"] == "updated" and event["changes"] == {"name": "A"} and event["data"]["name"] == "B"
    refused = api.post("/v1/consumers/webhook", {"name": "x", "url": receiver.url, "filters": {"event": "created"}})
    assert refused.status_code == 422 and "filters.event" in refused.json()["validation_errors"]


def test_a_receiver_down_for_an_hour_gets_the_messages_after(api, synced, receiver):
    receiver.down()
    consumer = hook(api, receiver.url)
    api.write_records(synced, "cus_1")
    failing = eventually(lambda: (s := state(api, consumer))["retrying"] == 1 and s)
    assert failing["health"]["status"] == "warn" and "retrying 1 message" in failing["health"]["notes"][0]
    for _ in range(6):  # ten-minute steps: each retry falls due on the emulator's clock
        eventually(lambda: state(api, consumer)["in_flight"] == 0)
        api.ok("POST", "/_emulator/clock/advance", {"by": "10m"})
    eventually(lambda: state(api, consumer)["in_flight"] == 0)
    journal = attempts(api, consumer)
    assert len(journal) >= 7
    assert all(entry["webhook"]["error"] and entry["status"] == 0 for entry in journal)
    receiver.up()
    api.ok("POST", "/_emulator/clock/advance", {"by": "1h"})
    [delivery] = receiver.wait_for(1)
    assert int(delivery.headers["sequin-attempt"]) == len(journal) + 1
    assert delivery.json()["record"]["upstream_id"] == "cus_1"
    assert delivery.headers["sequin-delivery-id"] == journal[0]["webhook"]["delivery_id"]  # the same message
    done = eventually(lambda: (s := state(api, consumer))["delivered"] == 1 and s)
    assert done["health"]["status"] == "ok" and done["retrying"] == 0


def test_24_hours_of_failures_stop_the_consumer_until_resumed(api, synced, receiver):
    receiver.status = 500
    consumer = hook(api, receiver.url)
    api.write_records(synced, "cus_1")
    receiver.wait_for(1)
    hours = 0
    while eventually(lambda: (s := state(api, consumer))["in_flight"] == 0 and s)["active"] and hours < 30:
        api.ok("POST", "/_emulator/clock/advance", {"by": "1h"})  # each failure recorded: the next is due within 1 h
        hours += 1
    stopped = eventually(lambda: (s := state(api, consumer))["health"]["status"] == "error" and s)
    assert stopped["active"] is False and 24 <= hours <= 26
    assert "failed for 24 hours" in stopped["health"]["notes"][0] and "500" in stopped["health"]["notes"][0]
    assert api.ok("GET", "/v1/consumers/webhook?active=false")["data"][0]["id"] == consumer["id"]
    tried = len(receiver.received)
    api.ok("POST", "/_emulator/clock/advance", {"by": "5h"})
    time.sleep(0.2)
    assert len(receiver.received) == tried  # stopped: nothing more is tried
    receiver.status = 200
    api.ok("PATCH", f"/v1/consumers/webhook/{consumer['id']}", {"active": True})
    receiver.wait_for(tried + 1)
    assert eventually(lambda: state(api, consumer)["delivered"] == 1)


def test_a_mutation_awaits_a_webhook_consumer(api, receiver):
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = hook(api, receiver.url, start="end")
    done = api.ok("POST", "/v1/mutations/run", {
        "kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
        "records": [{"data": {"email": "hook@example.com"}}], "await_consumer_ids": [consumer["id"]],
        "await_consumers_timeout": 10000})
    assert receiver.received[-1].json()["record"]["upstream_id"] == done["records"][0]["upstream_id"]


def test_webhook_consumers_survive_export_and_import(api, other, synced, receiver):
    receiver.status = 503
    consumer = hook(api, receiver.url, metadata={"team": "billing"})
    api.write_records(synced, "cus_1")
    eventually(lambda: state(api, consumer)["retrying"] == 1)
    api.ok("DELETE", f"/v1/consumers/webhook/{consumer['id']}")  # the old tenant stops sending
    snapshot = api.ok("GET", "/_emulator/state")
    assert snapshot["webhook_consumers"] == []
    restored = hook(api, receiver.url)
    eventually(lambda: state(api, restored)["retrying"] == 1)
    snapshot = api.ok("GET", "/_emulator/state")
    api.ok("DELETE", f"/v1/consumers/webhook/{restored['id']}")
    other.ok("PUT", "/_emulator/state", snapshot)
    receiver.status = 200
    other.ok("POST", "/_emulator/clock/advance", {"by": "1h"})
    delivery = receiver.wait_for(len(receiver.received) + 1)[-1]
    assert verify_signature(delivery.body, delivery.headers, restored["secret"])["record"]["upstream_id"] == "cus_1"
    assert eventually(lambda: (s := state(other, restored))["delivered"] == 1 and s)["retrying"] == 0


def test_bad_webhook_consumers_are_refused(api):
    for body in [{"name": "x"}, {"name": "x", "url": "ftp://example.com"}, {"name": "x", "url": "http://"},
                 {"name": "x", "url": "http://example.com", "timeout_ms": 1.5},
                 {"name": "x", "url": "http://example.com", "max_in_flight": 0},
                 {"name": "x", "url": "http://example.com", "start": "middle"},
                 {"name": "x", "url": "http://example.com", "secret": "whsec_mine"},
                 {"name": "x", "url": "http://example.com/\u0000x"}, {"name": "x", "url": "http://exa mple.com"}]:
        assert api.post("/v1/consumers/webhook", body).status_code == 422, body
    consumer = hook(api, "http://127.0.0.1:9/none")
    changed = api.patch(f"/v1/consumers/webhook/{consumer['id']}", {"kind": "events"})
    assert changed.status_code == 422 and "kind" in changed.json()["validation_errors"]
