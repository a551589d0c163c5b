"""HTTP consumers through HTTP: defaults, the `ack_wait` alias, filters, immutable stream."""

from __future__ import annotations

MISSING = "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"


def test_create_with_only_a_stream_applies_the_documented_defaults(api):
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    assert consumer["stream_id"] == stream["id"]
    assert (consumer["deliver_policy"], consumer["ack_wait_ms"], consumer["max_deliver"], consumer["max_ack_pending"]) == (
        "all", 30000, -1, 1000)
    assert consumer["filters"] == {"provider": "*", "sync_id": "*", "collection_id": "*"}
    assert consumer["name"] is None and consumer["metadata"] == {}
    assert api.ok("GET", f"/v1/http-consumers/{consumer['id']}") == consumer


def test_ack_wait_is_an_alias_of_ack_wait_ms(api):
    stream = api.stream()
    assert api.consumer(stream["id"], ack_wait=5000)["ack_wait_ms"] == 5000
    assert api.consumer(stream["id"], ack_wait=5000, ack_wait_ms=5000)["ack_wait_ms"] == 5000
    clash = api.post("/v1/http-consumers", {"stream_id": stream["id"], "ack_wait": 1, "ack_wait_ms": 2})
    assert clash.status_code == 422 and "ack_wait" in clash.json()["validation_errors"]


def test_settings_filters_and_bounds(api):
    stream = api.stream()
    consumer = api.consumer(stream["id"], name="Primary", deliver_policy="new", max_deliver=3, max_ack_pending=10,
                            filters={"collection_id": "stripe:customer"}, metadata={"team": "billing"})
    assert consumer["filters"] == {"provider": "*", "sync_id": "*", "collection_id": "stripe:customer"}
    assert (consumer["name"], consumer["deliver_policy"], consumer["max_deliver"], consumer["max_ack_pending"]) == (
        "Primary", "new", 3, 10)
    cases: list[dict] = [{"max_deliver": 0}, {"max_deliver": -2}, {"max_ack_pending": 0}, {"ack_wait_ms": 0},
                         {"deliver_policy": "2h"}, {"filters": {"resource": "*"}}, {"batch_size": 3},
                         {"filters": {"resource_id": "a", "sync_id": "b"}}]
    for bad in cases:
        response = api.post("/v1/http-consumers", {"stream_id": stream["id"], **bad})
        assert response.status_code == 422, bad
    missing = api.post("/v1/http-consumers", {"stream_id": MISSING})
    assert missing.status_code == 422 and missing.json()["validation_errors"] == {
        "stream_id": ["is not a stream of this organization"]}


def test_patch_and_immutable_stream(api):
    stream, other = api.stream("a"), api.stream("b")
    consumer = api.consumer(stream["id"])
    patched = api.ok("PATCH", f"/v1/http-consumers/{consumer['id']}", {
        "deliver_policy": "1h", "ack_wait": 100, "max_deliver": 5, "name": "n", "metadata": {"k": "v"},
        "filters": {"provider": "stripe"}})
    assert (patched["deliver_policy"], patched["ack_wait_ms"], patched["max_deliver"], patched["name"]) == (
        "1h",
        100,
        5,
        "n",
    )
    assert patched["filters"]["provider"] == "stripe" and patched["metadata"] == {"k": "v"}
    moved = api.patch(f"/v1/http-consumers/{consumer['id']}", {"stream_id": other["id"]})
    assert moved.status_code == 422 and list(moved.json()["validation_errors"]) == ["stream_id"]


def test_list_filters_and_delete(api):
    s1, s2 = api.stream("a"), api.stream("b")
    c1, c2 = api.consumer(s1["id"], metadata={"x": 1}), api.consumer(s2["id"])
    assert [c["id"] for c in api.ok("GET", "/v1/http-consumers")["data"]] == [c2["id"], c1["id"]]
    assert [c["id"] for c in api.ok("GET", f"/v1/http-consumers?stream_id={s1['id']}")["data"]] == [c1["id"]]
    assert [c["id"] for c in api.ok("GET", "/v1/http-consumers?metadata=%7B%22x%22%3A1%7D")["data"]] == [c1["id"]]
    assert api.ok("DELETE", f"/v1/http-consumers/{c1['id']}") == {"id": c1["id"], "deleted": True}
    assert api.get(f"/v1/http-consumers/{c1['id']}").status_code == 404
