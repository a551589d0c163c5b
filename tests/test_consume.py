"""The Consume API through HTTP: next / ack / nack, redelivery, limits, deliver policies, filters."""

from __future__ import annotations

import pytest


@pytest.fixture
def setup(api):
    stream = api.stream()
    sync = api.sync(stream["id"], collection_ids=["stripe:customer", "stripe:invoice"])
    return stream, sync


def ids(answer: dict) -> list[str]:
    return [m["record"]["upstream_id"] for m in answer["data"]]


def tokens(answer: dict) -> list[str]:
    return [m["ack_token"] for m in answer["data"]]


def test_next_by_get_and_post_returns_records_in_stream_order_with_info(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"])
    written = api.write_records(sync, "cus_1", "cus_2", "cus_3")
    first = api.ok("GET", f"/v1/http-consumers/{consumer['id']}/next")  # batch_size defaults to 1
    assert ids(first) == ["cus_1"] and first["info"] == {"num_pending": 2, "num_ack_pending": 1}
    record = first["data"][0]["record"]
    assert record == written[0]
    assert set(record) == {"id", "stream_id", "sync_id", "sync", "provider", "collection_id", "upstream_id",
                           "updated_idx", "upstream_created_at", "upstream_updated_at", "inserted_at", "deleted", "data"}
    assert record["sync"] == {"id": sync["id"], "external_id": None, "metadata": {}}
    rest = api.ok("GET", f"/v1/http-consumers/{consumer['id']}/next?batch_size=10")
    assert ids(rest) == ["cus_2", "cus_3"] and rest["info"] == {"num_pending": 0, "num_ack_pending": 3}
    assert [m["record"]["updated_idx"] for m in rest["data"]] == sorted(m["record"]["updated_idx"] for m in rest["data"])
    api.ack(consumer, tokens(first) + tokens(rest))
    assert api.next(consumer)["info"] == {"num_pending": 0, "num_ack_pending": 0}


def test_unacked_messages_come_back_after_ack_wait(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"], ack_wait_ms=5000)
    api.write_records(sync, "cus_1")
    first = api.next(consumer)
    api.ok("POST", "/_emulator/clock/advance", {"by": "4999ms"})
    assert api.next(consumer)["data"] == []  # invisible to the other workers meanwhile
    api.ok("POST", "/_emulator/clock/advance", {"by": "1ms"})
    again = api.next(consumer)
    assert ids(again) == ["cus_1"] and tokens(again) != tokens(first)
    api.ack(consumer, tokens(first))  # stale: a no-op, never an error
    assert api.next(consumer)["info"] == {"num_pending": 0, "num_ack_pending": 1}
    api.ack(consumer, tokens(again))
    api.ack(consumer, tokens(again))  # acking twice is fine
    api.ok("POST", "/_emulator/clock/advance", {"by": "1h"})
    assert api.next(consumer)["data"] == []  # an acked message never comes back


def test_nack_makes_messages_available_at_once(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"])
    api.write_records(sync, "cus_1", "cus_2")
    batch = api.next(consumer, 2)
    api.ack(consumer, tokens(batch)[1:], verb="nack")
    assert ids(api.next(consumer, 5)) == ["cus_2"]


def test_tokens_of_another_consumer_are_rejected(api, setup):
    stream, sync = setup
    one, two = api.consumer(stream["id"]), api.consumer(stream["id"])
    api.write_records(sync, "cus_1")
    token = tokens(api.next(one))
    for bad in [token, ["garbage"], ["ffff-000000000000"]]:
        response = api.post(f"/v1/http-consumers/{two['id']}/ack", {"ack_tokens": bad})
        assert response.status_code == 422 and "ack_tokens.0" in response.json()["validation_errors"]
    mixed = api.post(f"/v1/http-consumers/{one['id']}/ack", {"ack_tokens": token + ["garbage"]})
    assert mixed.status_code == 422
    assert api.next(one)["info"]["num_ack_pending"] == 1  # nothing was acked by the rejected call
    assert api.post("/v1/http-consumers/8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8/ack",
                    {"ack_tokens": token}).status_code == 404


def test_max_deliver_drops_a_message_after_that_many_deliveries(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"], max_deliver=2, ack_wait_ms=1000)
    api.write_records(sync, "cus_1")
    for _ in range(2):
        assert ids(api.next(consumer)) == ["cus_1"]
        api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    assert api.next(consumer) == {"data": [], "info": {"num_pending": 0, "num_ack_pending": 0}}


def test_max_ack_pending_pauses_delivery(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"], max_ack_pending=2)
    api.write_records(sync, *[f"cus_{i}" for i in range(5)])
    batch = api.next(consumer, 10)
    assert ids(batch) == ["cus_0", "cus_1"] and batch["info"] == {"num_pending": 3, "num_ack_pending": 2}
    assert api.next(consumer, 10)["data"] == []
    api.ack(consumer, tokens(batch)[:1])
    assert ids(api.next(consumer, 10)) == ["cus_2"]


def test_updates_move_a_record_and_old_deliveries_can_still_be_acked(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"])
    api.write_records(sync, "cus_1", "cus_2")
    old = api.next(consumer)
    assert ids(old) == ["cus_1"]
    api.write_records(sync, "cus_1", data={"id": "cus_1", "email": "new@example.com"})
    api.ack(consumer, tokens(old))  # acks the old version only
    rest = api.next(consumer, 10)
    assert ids(rest) == ["cus_2", "cus_1"] and rest["data"][1]["record"]["data"]["email"] == "new@example.com"
    assert rest["data"][1]["record"]["updated_idx"] > old["data"][0]["record"]["updated_idx"]
    assert rest["data"][1]["record"]["id"] == old["data"][0]["record"]["id"]  # the same record, a new version


def test_deletes_are_tombstones_with_the_last_known_data(api, setup):
    stream, sync = setup
    consumer = api.consumer(stream["id"])
    api.write_records(sync, "cus_1", data={"id": "cus_1", "name": "Paul"})
    api.write_records(sync, "cus_1", deleted=True, data={})
    answer = api.next(consumer, 10)
    assert len(answer["data"]) == 1  # each record once, in its latest version
    tombstone = answer["data"][0]["record"]
    assert tombstone["deleted"] is True and tombstone["data"] == {"id": "cus_1", "name": "Paul"}


def test_deliver_policies_and_replay_on_patch(api, setup):
    stream, sync = setup
    api.write_records(sync, "old_1", "old_2")
    api.ok("POST", "/_emulator/clock/advance", {"by": "2h"})
    api.write_records(sync, "recent")
    every, new, hour, last = (api.consumer(stream["id"], deliver_policy=p) for p in ("all", "new", "1h", "last"))
    api.write_records(sync, "newest")
    assert ids(api.next(every, 10)) == ["old_1", "old_2", "recent", "newest"]
    assert ids(api.next(new, 10)) == ["newest"]
    assert ids(api.next(hour, 10)) == ["recent", "newest"]
    assert ids(api.next(last, 10)) == ["recent", "newest"]
    api.ok("PATCH", f"/v1/http-consumers/{new['id']}", {"deliver_policy": "all"})  # replays from the start
    assert ids(api.next(new, 10)) == ["old_1", "old_2", "recent", "newest"]
    api.ok("PATCH", f"/v1/http-consumers/{every['id']}", {"deliver_policy": "last"})  # from the last received
    assert ids(api.next(every, 10)) == ["newest"]
    api.ok("PATCH", f"/v1/http-consumers/{hour['id']}", {"name": "same policy: no replay"})
    assert api.next(hour, 10)["data"] == []


def test_filters_and_independent_consumers(api, setup):
    stream, sync = setup
    customers = api.consumer(stream["id"], filters={"collection_id": "stripe:customer"})
    everything = api.consumer(stream["id"])
    other_sync = api.consumer(stream["id"], filters={"sync_id": "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"})
    api.write_records(sync, "cus_1")
    api.write_records(sync, "in_1", collection_id="stripe:invoice")
    first = api.next(customers, 10)
    assert ids(first) == ["cus_1"] and first["info"]["num_pending"] == 0
    assert ids(api.next(everything, 10)) == ["cus_1", "in_1"]  # unaffected by the other consumer
    assert api.next(other_sync, 10) == {"data": [], "info": {"num_pending": 0, "num_ack_pending": 0}}


def test_next_validates_its_options(api, setup):
    stream, _ = setup
    consumer = api.consumer(stream["id"])
    for query in ["batch_size=0", "batch_size=1001", "batch_size=ten", "wait_for=-1", "wait_for=60001"]:
        assert api.get(f"/v1/http-consumers/{consumer['id']}/next?{query}").status_code == 422, query
    assert api.post(f"/v1/http-consumers/{consumer['id']}/next", {"batch_size": 0}).status_code == 422
    empty_body = api.request("POST", f"/v1/http-consumers/{consumer['id']}/next", content=b"")
    assert empty_body.status_code == 200  # the body is optional
    assert api.post(f"/v1/http-consumers/{consumer['id']}/ack", {"ack_tokens": "x"}).status_code == 422


def test_injection_checks_sync_and_collection(api, setup):
    stream, sync = setup
    other = api.stream("other")
    wrong_stream = api.post(f"/_emulator/streams/{other['id']}/records", {
        "sync_id": sync["id"], "records": [{"collection_id": "stripe:customer", "upstream_id": "x"}]})
    assert wrong_stream.status_code == 422
    wrong_collection = api.post(f"/_emulator/streams/{stream['id']}/records", {
        "sync_id": sync["id"], "records": [{"collection_id": "stripe:charge", "upstream_id": "x"}]})
    assert wrong_collection.status_code == 422 and "records.0.collection_id" in wrong_collection.json()["validation_errors"]


def test_updated_idx_is_one_sequence_across_the_tenants_streams(api):
    a, b = api.stream("a"), api.stream("b")
    sync_a, sync_b = api.sync(a["id"]), api.sync(b["id"], credential={"properties": {"kind": "stripe_key", "secret": "x"}})
    seen = [api.write_records(s, "cus_1")[0]["updated_idx"] for s in (sync_a, sync_b, sync_a, sync_b)]
    assert seen == sorted(seen) and len(set(seen)) == 4
