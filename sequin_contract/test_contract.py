"""Scenarios written once, run against any target. Every answer is also checked against the spec by the client."""

from __future__ import annotations

import functools
import time

import pytest

MASK = "***********"


def test_stream_round_trip(kit):
    stream = kit.stream()
    assert stream["slug"] == kit.name("stream")
    assert kit.client.ok("GET", f"/v1/streams/{stream['id']}") == stream
    renamed = kit.client.ok("PATCH", f"/v1/streams/{stream['id']}", {"slug": kit.name("renamed")})
    assert renamed["slug"] == kit.name("renamed") and renamed["id"] == stream["id"]
    assert kit.client.ok("DELETE", f"/v1/streams/{stream['id']}") == {"id": stream["id"], "deleted": True}
    assert kit.client.request("GET", f"/v1/streams/{stream['id']}").status_code == 404


def test_lists_are_newest_first(kit):
    first, second = kit.stream("first"), kit.stream("second")
    ids = [s["id"] for s in kit.client.ok("GET", "/v1/streams")["data"]]
    assert ids.index(second["id"]) < ids.index(first["id"])


def test_sync_and_consumer_round_trip(kit):
    stream = kit.stream()
    sync = kit.sync(stream, metadata={"kit": kit.prefix})
    assert kit.client.ok("GET", f"/v1/syncs/{sync['id']}")["metadata"] == {"kit": kit.prefix}
    consumer = kit.consumer(stream, ack_wait=5000)
    assert consumer["ack_wait_ms"] == 5000 and consumer["stream_id"] == stream["id"]
    patched = kit.client.ok("PATCH", f"/v1/http-consumers/{consumer['id']}", {"max_ack_pending": 7})
    assert patched["max_ack_pending"] == 7
    refused = kit.client.request("PATCH", f"/v1/syncs/{sync['id']}", {"stream_id": kit.stream("other")["id"]})
    assert refused.status_code == 422


def test_error_shapes(kit):
    client = kit.client
    not_json = client.request("POST", "/v1/streams", content=b"{nope")
    assert not_json.status_code == 400 and not_json.json()["summary"]
    missing = client.request("POST", "/v1/streams", {})
    assert missing.status_code == 422 and "slug" in missing.json()["validation_errors"]
    unknown = client.request("POST", "/v1/streams", {"slug": kit.name("x"), "bogus": 1})
    assert unknown.status_code == 422 and "bogus" in unknown.json()["validation_errors"]
    gone = client.request("GET", "/v1/streams/8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8")
    assert gone.status_code == 404 and gone.json()["summary"]
    anonymous = client.request("GET", "/v1/streams", auth=False)
    assert anonymous.status_code == 401 and anonymous.json()["summary"]
    wrong_method = client.request("PUT", "/v1/streams", check=False)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers.get("allow", "")


def test_secrets_are_never_echoed(kit):
    secret = f"sk_test_secret_{kit.prefix}"
    response = kit.client.request("POST", "/v1/credentials",
                                  {"properties": {"kind": "stripe_key", "secret": secret, "test": True}})
    if response.status_code != 200 and kit.target.live:
        pytest.skip(f"the deployment refused a test credential ({response.status_code}); masking not checked")
    credential = response.json()
    kit.created.append(("/v1/credentials", credential["id"]))
    assert credential["properties"]["secret"] == MASK
    for path in (f"/v1/credentials/{credential['id']}", "/v1/credentials"):
        assert secret not in kit.client.request("GET", path).text


def test_tenants_are_isolated(kit):
    kit.needs_emulator("use a second, separate token")
    stream = kit.stream()
    other = f"{kit.client.api_key}-other"
    response = kit.client.request("GET", f"/v1/streams/{stream['id']}", auth=other)
    if response.status_code == 401:
        pytest.skip("the emulator runs with --api-key: a second token is not accepted")
    assert response.status_code == 404
    assert stream["id"] not in kit.client.request("GET", "/v1/streams", auth=other).text


@pytest.fixture
def consuming(kit):
    stream = kit.stream()
    sync = kit.sync(stream, sync_frequency="4h")
    consumer = kit.consumer(stream, ack_wait_ms=2000, deliver_policy="new")
    return kit, sync, consumer


def _next(kit, consumer, batch_size=10):
    return kit.client.ok("POST", f"/v1/http-consumers/{consumer['id']}/next", {"batch_size": batch_size})


def test_unacked_messages_come_back_after_ack_wait(consuming):
    kit, sync, consumer = consuming
    kit.inject(sync, "cus_kit_1")
    first = _next(kit, consumer)
    assert [m["record"]["upstream_id"] for m in first["data"]] == ["cus_kit_1"]
    assert _next(kit, consumer)["data"] == [], "delivered again before ack_wait_ms"
    kit.pass_time("3s", 3.0)
    again = _next(kit, consumer)
    assert [m["record"]["upstream_id"] for m in again["data"]] == ["cus_kit_1"]
    kit.client.ok("POST", f"/v1/http-consumers/{consumer['id']}/ack", {"ack_tokens": [again["data"][0]["ack_token"]]},
                  status=204)
    kit.pass_time("3s", 3.0)
    assert _next(kit, consumer)["data"] == [], "an acked message came back"


def test_nack_and_ack_idempotence(consuming):
    kit, sync, consumer = consuming
    kit.inject(sync, "cus_kit_a", "cus_kit_b")
    batch = _next(kit, consumer)
    tokens = [m["ack_token"] for m in batch["data"]]
    assert len(tokens) == 2
    kit.client.ok("POST", f"/v1/http-consumers/{consumer['id']}/nack", {"ack_tokens": tokens[1:]}, status=204)
    redelivered = _next(kit, consumer)
    assert [m["record"]["upstream_id"] for m in redelivered["data"]] == ["cus_kit_b"]
    for _ in range(2):  # acking twice is fine
        kit.client.ok("POST", f"/v1/http-consumers/{consumer['id']}/ack",
                      {"ack_tokens": tokens[:1] + [redelivered["data"][0]["ack_token"]]}, status=204)
    assert _next(kit, consumer)["info"] == {"num_pending": 0, "num_ack_pending": 0}


def test_record_shape(consuming):
    kit, sync, consumer = consuming
    kit.inject(sync, "cus_kit_shape", data={"id": "cus_kit_shape", "email": "kit@example.com"})
    record = _next(kit, consumer)["data"][0]["record"]
    assert record["sync"]["id"] == record["sync_id"] == sync["id"]
    assert record["stream_id"] == sync["stream_id"] and record["provider"] == "stripe"
    assert record["collection_id"] == "stripe:customer" and record["deleted"] is False
    assert record["data"]["email"] == "kit@example.com" and isinstance(record["updated_idx"], int)


def test_a_users_drain_loop_gets_every_record_once(consuming):
    kit, sync, consumer = consuming
    wanted = [f"cus_kit_{i:03d}" for i in range(60)]
    kit.inject(sync, *wanted)
    kit.inject(sync, "cus_kit_000", data={"id": "cus_kit_000", "name": "updated"})
    state: dict = {}
    seen: list = []
    for _ in range(50):
        answer = kit.client.ok("GET", f"/v1/http-consumers/{consumer['id']}/next", params={"batch_size": 20})
        for message in answer["data"]:
            record = message["record"]
            seen.append((record["upstream_id"], record["updated_idx"]))
            if record["upstream_id"] not in state or state[record["upstream_id"]]["updated_idx"] < record["updated_idx"]:
                state[record["upstream_id"]] = record
        if answer["data"]:
            kit.client.ok("POST", f"/v1/http-consumers/{consumer['id']}/ack",
                          {"ack_tokens": [m["ack_token"] for m in answer["data"]]}, status=204)
        if answer["info"]["num_pending"] == 0 and not answer["data"]:
            break
    assert len(seen) == len(set(seen)) == 60  # the updated record once, in its latest version
    assert set(state) == set(wanted) and state["cus_kit_000"]["data"]["name"] == "updated"


def test_e1_records_and_events_read_what_the_stream_holds(consuming):
    kit, sync, _ = consuming
    kit.inject(sync, "cus_kit_e1", data={"id": "cus_kit_e1", "name": "before"})
    kit.inject(sync, "cus_kit_e1", data={"id": "cus_kit_e1", "name": "after"})
    records = kit.client.ok("GET", "/v1/records", params={"sync_id": sync["id"], "limit": 1000})
    mine = [r for r in records["records"] if r["upstream_id"] == "cus_kit_e1"]
    assert len(mine) == 1 and mine[0]["data"]["name"] == "after" and records["cursor"]
    assert kit.client.ok("GET", "/v1/records", params={"sync_id": sync["id"], "after_cursor": records["cursor"]}) \
        == {"records": [], "cursor": None}
    events = kit.client.ok("GET", "/v1/events", params={"sync_id": sync["id"], "collection_id": "stripe:customer"})
    mine = [e for e in events["events"] if e["upstream_id"] == "cus_kit_e1"]
    assert [e["event"] for e in mine] == ["created", "updated"] and mine[1]["changes"] == {"name": "before"}
    assert kit.client.ok("GET", f"/v1/events/{mine[1]['event_id']}") == mine[1]
    refused = kit.client.request("GET", "/v1/records", params={"after_cursor": "not a cursor"})
    assert refused.status_code == 422


def test_an_events_consumer_gets_every_change(kit):
    stream = kit.stream()
    sync = kit.sync(stream, sync_frequency="4h")
    consumer = kit.consumer(stream, kind="events", deliver_policy="new")
    assert consumer["kind"] == "events"
    kit.inject(sync, "cus_kit_ev", data={"id": "cus_kit_ev", "name": "one"})
    kit.inject(sync, "cus_kit_ev", data={"id": "cus_kit_ev", "name": "two"})
    answer = _next(kit, consumer)
    assert [m["event"]["event"] for m in answer["data"]] == ["created", "updated"]
    kit.client.ok("POST", f"/v1/http-consumers/{consumer['id']}/ack",
                  {"ack_tokens": [m["ack_token"] for m in answer["data"]]}, status=204)
    assert _next(kit, consumer)["info"] == {"num_pending": 0, "num_ack_pending": 0}


def test_a_mutation_the_provider_refuses_answers_in_the_mutation_envelope(kit):
    kit.needs_emulator("know the sync's account refuses an email that is not one")
    stream = kit.stream()
    sync = kit.sync(stream)
    refused = kit.client.request("POST", "/v1/mutations/run", {
        "kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
        "records": [{"data": {"email": "not an email"}}]})
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error"].startswith("Error: Stripe validation error:") and body["docs"]
    malformed = kit.client.request("POST", "/v1/mutations/run", {"kind": "create", "sync_id": sync["id"],
                                                                  "collection_id": "stripe:customer"})
    assert malformed.status_code == 422 and malformed.json()["summary"]


def test_the_proxy_answers_as_the_provider_and_writes_reach_the_stream(kit):
    stream = kit.stream()
    sync = kit.sync(stream, sync_frequency="4h")
    listed = kit.client.request("GET", f"/v1/proxy/sync/{sync['id']}/v1/customers", params={"limit": 1})
    assert listed.status_code in (200, 401), listed.text  # a deployment may refuse the kit's made-up key
    if listed.status_code == 401:
        assert "error" in listed.json(), "a provider's 401 is in the provider's envelope"
    kit.needs_emulator("have a simulated account behind the kit's credential")
    assert listed.json()["object"] == "list"
    consumer = kit.consumer(stream, deliver_policy="new")
    created = kit.client.request("POST", f"/v1/proxy/sync/{sync['id']}/v1/customers",
                                 content=b"email=proxy%40example.com")
    assert created.status_code == 200 and created.json()["id"].startswith("cus_"), created.text
    delivered = _next(kit, consumer)["data"]
    assert [m["record"]["upstream_id"] for m in delivered] == [created.json()["id"]]
    missing = kit.client.request("GET", f"/v1/proxy/sync/{sync['id']}/v1/customers/cus_kit_none")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"


@pytest.fixture
def receiver(kit):
    kit.needs_emulator("reach a webhook receiver on this machine's loopback")
    from sequin_emulator.testing import WebhookReceiver

    with WebhookReceiver() as running:
        yield running


def _webhook(kit, receiver, **fields) -> tuple[dict, dict]:
    stream = kit.stream()
    sync = kit.sync(stream, sync_frequency="4h")
    hook = kit.create("/v1/consumers/webhook", {"name": kit.name("hook"), "url": receiver.url,
                                                "filters": {"sync_id": sync["id"]}, **fields})
    return sync, hook


def _deliveries_of(receiver, upstream_id: str, count: int) -> list:
    """The deliveries of one record, once there are `count` (the sync's own backfill is delivered too)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = [d for d in list(receiver.received) if d.json()["record"]["upstream_id"] == upstream_id]
        if len(found) >= count:
            return found
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} deliveries of {upstream_id} within 15 s")


def test_a_webhook_consumer_delivers_signed_records(kit, receiver):
    from sequin_emulator.testing import verify_signature

    sync, hook = _webhook(kit, receiver)
    assert hook["secret"].startswith("whsec_")
    assert kit.client.ok("GET", f"/v1/consumers/webhook/{hook['id']}")["secret"] == MASK
    kit.inject(sync, "cus_kit_hook_1", "cus_kit_hook_2")
    for upstream_id in ("cus_kit_hook_1", "cus_kit_hook_2"):
        [delivery] = _deliveries_of(receiver, upstream_id, 1)
        assert verify_signature(delivery.body, delivery.headers, hook["secret"])["record"]["sync_id"] == sync["id"]


def test_a_webhook_consumer_retries_until_the_receiver_answers(kit, receiver):
    receiver.status = 500
    sync, hook = _webhook(kit, receiver, start="end")
    kit.inject(sync, "cus_kit_retry")
    [first] = _deliveries_of(receiver, "cus_kit_retry", 1)
    receiver.status = 200
    kit.pass_time("10s", 10.0)
    again = _deliveries_of(receiver, "cus_kit_retry", 2)[1]
    assert again.headers["sequin-delivery-id"] == first.headers["sequin-delivery-id"]
    assert int(again.headers["sequin-attempt"]) > int(first.headers["sequin-attempt"])


def test_a_webhook_consumer_stops_after_24_hours_of_failures(kit, receiver):
    """25 hours pass, so this runs in an organization of its own (a token of its own, reset after): the other
    tests' simulated accounts do not live through them too."""
    token = f"{kit.client.api_key}-stop"
    call = functools.partial(kit.client.ok, auth=token)
    if kit.client.request("GET", "/v1/streams", auth=token).status_code == 401:
        pytest.skip("the emulator runs with --api-key: a second token is not accepted")
    try:
        receiver.status = 503
        stream = call("POST", "/v1/streams", {"slug": kit.name("stop")})
        sync = call("POST", "/v1/syncs", {"stream_id": stream["id"], "name": kit.name("sync"), "sync_frequency": "4h",
                                          "collection_ids": ["stripe:customer"], "credential": {"properties": {
                                              "kind": "stripe_key", "secret": f"sk_test_{kit.prefix}_stop"}}})
        call("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings", {"changes_per_hour": 0})  # still
        hook = call("POST", "/v1/consumers/webhook", {"name": kit.name("hook"), "url": receiver.url, "start": "end"})
        call("POST", f"/_emulator/streams/{stream['id']}/records", {"sync_id": sync["id"], "records": [
            {"collection_id": "stripe:customer", "upstream_id": "cus_kit_stop", "data": {"id": "cus_kit_stop"}}]})
        _deliveries_of(receiver, "cus_kit_stop", 1)
        for _ in range(30):  # an hour at a time, each time once the last attempts' failures are recorded
            deadline = time.monotonic() + 10
            while (current := call("GET", f"/v1/consumers/webhook/{hook['id']}"))["in_flight"] and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
            if not current["active"]:
                break
            call("POST", "/_emulator/clock/advance", {"by": "1h"})
        assert current["active"] is False and current["health"]["status"] == "error"
    finally:
        kit.client.request("POST", "/_emulator/reset", auth=token, check=False)
