"""The E1 read API (`/v1/records`, `/v1/events`) and event consumers, over the same streams the Consume API reads."""

from __future__ import annotations

import base64

import pytest

from sequin_emulator.domain import stream_events
from sequin_emulator.domain.records import RecordVersion
from sequin_emulator.domain.stream_events import DAY, EventLog


@pytest.fixture
def two_streams(api):
    """Two streams, one sync each, written to alternately: the E1 reads see one organization-wide order."""
    first, second = api.stream("one"), api.stream("two")
    sync_a = api.sync(first["id"], collection_ids=["stripe:customer", "stripe:invoice"])
    sync_b = api.sync(second["id"], name="other", collection_ids=["hubspot:contact"], credential={"properties": {
        "kind": "hubspot", "hub_id": 1, "refresh_token": "rt", "access_token": "at"}})
    api.write_records(sync_a, "cus_1")
    api.write_records(sync_b, "101", collection_id="hubspot:contact")
    api.write_records(sync_a, "in_1", collection_id="stripe:invoice")
    api.write_records(sync_b, "102", collection_id="hubspot:contact")
    return sync_a, sync_b


def upstream_ids(page: dict, key: str = "records") -> list[str]:
    return [item["upstream_id"] for item in page[key]]


def test_records_merge_every_stream_in_write_order_and_page_by_cursor(api, two_streams):
    page = api.ok("GET", "/v1/records")
    assert upstream_ids(page) == ["cus_1", "101", "in_1", "102"]
    record = page["records"][0]
    assert record["created_at"] == record["inserted_at"]
    assert {"sync_id", "collection_id", "upstream_id", "updated_idx", "upstream_updated_at", "upstream_created_at",
            "data", "deleted", "created_at", "id", "stream_id", "provider", "sync"} <= set(record)
    # the documented cursor: base64 of the last updated_idx
    assert base64.b64decode(page["cursor"]).decode() == str(page["records"][-1]["updated_idx"])
    first = api.ok("GET", "/v1/records?limit=3")
    rest = api.ok("GET", f"/v1/records?limit=3&after_cursor={first['cursor']}")
    assert upstream_ids(first) + upstream_ids(rest) == upstream_ids(page)
    empty = api.ok("GET", f"/v1/records?after_cursor={page['cursor']}")
    assert empty == {"records": [], "cursor": None}


def test_records_filter_by_sync_provider_and_collection_in_either_spelling(api, two_streams):
    sync_a, sync_b = two_streams
    assert upstream_ids(api.ok("GET", f"/v1/records?sync_id={sync_a['id']}")) == ["cus_1", "in_1"]
    assert upstream_ids(api.ok("GET", "/v1/records?provider=hubspot")) == ["101", "102"]
    assert upstream_ids(api.ok("GET", "/v1/records?collection_id=stripe:invoice")) == ["in_1"]
    assert upstream_ids(api.ok("GET", "/v1/records?collection=stripe:invoice")) == ["in_1"]
    both = api.get("/v1/records?collection=stripe:invoice&collection_id=stripe:customer")
    assert both.status_code == 422 and "collection" in both.json()["validation_errors"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", base64.b64encode(b"abc").decode(), "%00", "MTIz" * 10])
def test_a_cursor_we_did_not_answer_is_a_422(api, cursor):
    answer = api.get(f"/v1/records?after_cursor={cursor}")
    assert answer.status_code == 422 and list(answer.json()["validation_errors"]) == ["after_cursor"]


def test_an_updated_record_comes_again_after_the_cursor_in_its_new_place(api, two_streams):
    sync_a, _ = two_streams
    cursor = api.ok("GET", "/v1/records")["cursor"]
    api.write_records(sync_a, "cus_1", data={"id": "cus_1", "email": "new@example.com"})
    later = api.ok("GET", f"/v1/records?after_cursor={cursor}")
    assert upstream_ids(later) == ["cus_1"] and later["records"][0]["data"]["email"] == "new@example.com"
    assert upstream_ids(api.ok("GET", "/v1/records")) == ["101", "in_1", "102", "cus_1"]  # each record once


def test_events_tell_created_updated_with_prior_values_and_deleted(api, two_streams):
    sync_a, _ = two_streams
    api.write_records(sync_a, "cus_1", data={"id": "cus_1", "email": "a@example.com", "name": "A"})
    api.write_records(sync_a, "cus_1", data={"id": "cus_1", "email": "b@example.com", "name": "A"})
    api.write_records(sync_a, "cus_1", deleted=True, data={})
    api.write_records(sync_a, "cus_1", data={"id": "cus_1"})
    events = api.ok("GET", f"/v1/events?sync_id={sync_a['id']}&collection_id=stripe:customer")["events"]
    assert [e["event"] for e in events] == ["created", "updated", "updated", "deleted", "created"]
    assert events[1]["changes"] == {"email": None, "name": None}  # fields new in that version
    assert events[2]["changes"] == {"email": "a@example.com"} and events[2]["data"]["email"] == "b@example.com"
    assert events[3]["data"]["email"] == "b@example.com"  # a deletion carries the last known data
    assert "changes" not in events[0] and "changes" not in events[3]
    assert [e["updated_idx"] for e in events] == sorted(e["updated_idx"] for e in events)
    for event in events:
        assert api.ok("GET", f"/v1/events/{event['event_id']}") == event
    assert len({e["event_id"] for e in events}) == len(events)
    everything = api.ok("GET", "/v1/events?limit=1000")["events"]
    assert [e["upstream_id"] for e in everything[:4]] == ["cus_1", "101", "in_1", "102"]


def test_an_unknown_event_is_a_404(api, two_streams, other):
    event = api.ok("GET", "/v1/events?limit=1")["events"][0]
    assert other.get(f"/v1/events/{event['event_id']}").status_code == 404  # another organization's
    forged = event["event_id"][:-12] + "0" * 11 + "9"
    assert api.get(f"/v1/events/{forged}").status_code == 404
    assert api.get("/v1/events/00000000-0000-4000-8000-000000000000").status_code == 404


def test_an_events_consumer_delivers_every_change_with_ack_and_nack(api):
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = api.consumer(stream["id"], kind="events", filters={"collection_id": "stripe:customer"})
    assert consumer["kind"] == "events" and api.consumer(stream["id"])["kind"] == "records"
    api.write_records(sync, "cus_1", data={"id": "cus_1", "name": "A"})
    api.write_records(sync, "cus_1", data={"id": "cus_1", "name": "B"})
    first = api.next(consumer, batch_size=10)
    assert [m["event"]["event"] for m in first["data"]] == ["created", "updated"]
    assert first["data"][1]["event"]["changes"] == {"name": "A"}
    assert first["info"] == {"num_pending": 0, "num_ack_pending": 2}
    api.ack(consumer, [first["data"][0]["ack_token"]])
    api.ack(consumer, [first["data"][1]["ack_token"]], verb="nack")
    again = api.next(consumer, batch_size=10)
    assert [m["event"]["event_id"] for m in again["data"]] == [first["data"][1]["event"]["event_id"]]
    assert api.patch(f"/v1/http-consumers/{consumer['id']}", {"kind": "records"}).status_code == 422


def test_a_mutation_awaits_an_events_consumer(api):
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = api.consumer(stream["id"], kind="events")
    late = api.post("/v1/mutations/run", {"kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
                                          "records": [{"data": {"email": "x@example.com"}}],
                                          "await_consumer_ids": [consumer["id"]], "await_consumers_timeout": 0})
    assert late.status_code == 500
    message = api.next(consumer)["data"][0]
    assert message["event"]["event"] == "created" and message["event"]["data"]["email"] == "x@example.com"


def test_events_and_an_events_consumer_survive_export_and_import(api, other):
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = api.consumer(stream["id"], kind="events")
    api.write_records(sync, "cus_1", data={"id": "cus_1", "name": "A"})
    api.write_records(sync, "cus_1", data={"id": "cus_1", "name": "B"})
    out = api.next(consumer)
    cursor = api.ok("GET", "/v1/events?limit=1")["cursor"]
    state = api.ok("GET", "/_emulator/state")
    other.ok("PUT", "/_emulator/state", state)
    assert other.ok("GET", "/v1/events") == api.ok("GET", "/v1/events")
    assert other.ok("GET", f"/v1/events?after_cursor={cursor}") == api.ok("GET", f"/v1/events?after_cursor={cursor}")
    assert other.ok("GET", "/v1/records") == api.ok("GET", "/v1/records")
    other.ack(consumer, [out["data"][0]["ack_token"]])
    assert other.next(consumer)["data"][0]["event"]["changes"] == {"name": "A"}


def test_a_snapshot_whose_events_name_an_empty_slot_is_refused(api, other):
    stream = api.stream()
    sync = api.sync(stream["id"])
    api.write_records(sync, "cus_1")
    state = api.ok("GET", "/_emulator/state")
    state["logs"][stream["id"]]["events"][0][3] = 5
    refused = other.put("/_emulator/state", state)
    assert refused.status_code == 422 and "events.0" in next(iter(refused.json()["validation_errors"]))


def _version(idx: int, upstream_id: str = "cus_1") -> RecordVersion:
    payload = b'{"deleted":false,"data":{"n":%d}}' % idx
    return RecordVersion(idx, ("sync", "stripe:customer", upstream_id), ("stripe", "sync", "stripe:customer"), None,
                         payload)


def test_events_past_their_retention_are_trimmed_in_batches():
    log = EventLog("stream")
    trims = []
    for idx in range(1, 3 * stream_events.TRIM_AFTER + 1):
        at = 0 if idx <= 2 * stream_events.TRIM_AFTER else 8 * DAY  # two batches written, then a week later more
        trimmed = log.record(_version(idx, f"cus_{idx}"), None, {"n": idx}, False, at)
        if trimmed is not None:
            trims.append((idx, trimmed))
    assert [idx for idx, _ in trims] == [3 * stream_events.TRIM_AFTER]
    oldest, batch = log.entries[0], stream_events.TRIM_AFTER
    assert len(log.entries) == batch and oldest is not None and oldest.idx == 2 * batch + 1
    moves = trims[0][1]
    assert moves.new(0) == 0 and moves.new(2 * stream_events.TRIM_AFTER + 5) == 5
    assert log.by_idx(1) is None and log.by_idx(3 * stream_events.TRIM_AFTER) is not None


def test_an_events_consumer_keeps_its_place_across_a_trim(api, monkeypatch):
    monkeypatch.setattr(stream_events, "TRIM_AFTER", 4)
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = api.consumer(stream["id"], kind="events")
    api.write_records(sync, *[f"cus_{i}" for i in range(6)])
    assert [m["event"]["upstream_id"] for m in api.next(consumer, batch_size=6)["data"]] == [f"cus_{i}" for i in range(6)]
    api.ok("POST", "/_emulator/clock/advance", {"by": "8d"})
    api.write_records(sync, "cus_6", "cus_7")  # the eighth event: the first six are trimmed
    assert len(api.ok("GET", "/v1/events")["events"]) == 2
    rest = api.next(consumer, batch_size=10)
    assert [m["event"]["upstream_id"] for m in rest["data"]] == ["cus_6", "cus_7"]


def test_the_stream_apis_pages_examples_work_as_pasted(api, two_streams):
    """The E1 pages' own requests: a consumer with `ack_wait` and a `resource_id` filter; records by `collection`."""
    sync_a, _ = two_streams
    consumer = api.ok("POST", "/v1/http-consumers", {
        "name": "my-http-consumer", "ack_wait": 30000, "max_deliver": -1, "deliver_policy": "all",
        "filters": {"collection_id": "stripe:customer", "resource_id": "*"}})
    assert consumer["ack_wait_ms"] == 30000 and consumer["filters"]["sync_id"] == "*"
    narrowed = api.ok("POST", "/v1/http-consumers", {"filters": {"resource_id": sync_a["id"]}})
    assert narrowed["filters"]["sync_id"] == sync_a["id"] and "resource_id" not in narrowed["filters"]
    page = api.ok("GET", f"/v1/records?sync_id={sync_a['id']}&collection=stripe:customer&limit=10")
    assert upstream_ids(page) == ["cus_1"]
    events = api.ok("GET", f"/v1/events?sync_id={sync_a['id']}&collection=stripe:customer&after_cursor=MA==")
    assert [e["event"] for e in events["events"]] == ["created"]
