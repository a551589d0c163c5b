"""Streams through HTTP: CRUD, slug rules, and the refusal to delete a stream that is still used."""

from __future__ import annotations

UUID_LEN = 36


def test_create_returns_the_documented_object(api):
    stream = api.stream("dev")
    assert set(stream) == {"id", "slug", "org_id", "created_at", "updated_at"}
    assert len(stream["id"]) == UUID_LEN and stream["slug"] == "dev"
    assert stream["created_at"] == stream["updated_at"] == "2024-01-01T00:00:00.000000Z"


def test_get_list_update_delete_round_trip(api):
    first, second = api.stream("one"), api.stream("two")
    assert api.ok("GET", f"/v1/streams/{first['id']}") == first
    assert [s["id"] for s in api.ok("GET", "/v1/streams")["data"]] == [second["id"], first["id"]]  # newest first
    api.ok("POST", "/_emulator/clock/advance", {"by": "90s"})
    updated = api.ok("PATCH", f"/v1/streams/{first['id']}", {"slug": "uno"})
    assert updated["slug"] == "uno" and updated["updated_at"] == "2024-01-01T00:01:30.000000Z"
    assert updated["created_at"] == first["created_at"]
    assert api.ok("DELETE", f"/v1/streams/{first['id']}") == {"id": first["id"], "deleted": True}
    assert api.get(f"/v1/streams/{first['id']}").status_code == 404
    assert [s["slug"] for s in api.ok("GET", "/v1/streams")["data"]] == ["two"]


def test_slug_must_be_unique_and_well_formed(api):
    api.stream("dev")
    dup = api.post("/v1/streams", {"slug": "dev"})
    assert dup.status_code == 422 and "slug" in dup.json()["validation_errors"]
    for bad in ["Dev", "-dev", "", "dev space", "dév"]:
        response = api.post("/v1/streams", {"slug": bad})
        assert response.status_code == 422, bad
        assert list(response.json()["validation_errors"]) == ["slug"]
    other = api.stream("prod")
    clash = api.patch(f"/v1/streams/{other['id']}", {"slug": "dev"})
    assert clash.status_code == 422
    assert api.ok("PATCH", f"/v1/streams/{other['id']}", {"slug": "prod"})["slug"] == "prod"  # own slug is fine


def test_a_stream_with_syncs_or_consumers_cannot_be_deleted(api):
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = api.consumer(stream["id"])
    refused = api.delete(f"/v1/streams/{stream['id']}")
    assert refused.status_code == 422
    assert sync["id"] in refused.json()["summary"] and consumer["id"] in refused.json()["summary"]
    api.ok("DELETE", f"/v1/syncs/{sync['id']}")
    api.ok("DELETE", f"/v1/http-consumers/{consumer['id']}")
    api.ok("DELETE", f"/v1/streams/{stream['id']}")
