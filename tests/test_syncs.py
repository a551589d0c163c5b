"""Syncs through HTTP: inline or existing credentials, provider inference, defaults, immutables, filters."""

from __future__ import annotations

import json
from urllib.parse import quote

MISSING = "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"


def test_create_with_inline_credential_matches_the_documented_object(api):
    stream = api.stream()
    body = {"provider": "stripe", "stream_id": stream["id"], "name": "Choam Corp - Stripe Production",
            "collection_ids": ["stripe:customer", "stripe:invoice"],
            "rate_limit": {"allowed_requests": 100, "interval": 60, "max_concurrent_requests": 0},
            "credential": {"properties": {"kind": "stripe_key", "secret": "sk_live_x", "test": True,
                                          "name": "Choam Corp - Stripe [Test]"},
                           "metadata": {"custom_credential_property": 42}},
            "metadata": {"custom_property": 42}, "external_id": "user_1"}
    sync = api.ok("POST", "/v1/syncs", body)
    assert sync["provider"] == "stripe" and sync["stream_id"] == stream["id"] and sync["status"] == "active"
    assert sync["org_id"] == stream["org_id"]
    assert sync["health"] == {"status": "healthy", "sync_id": sync["id"]}
    assert sync["collection_ids"] == ["stripe:customer", "stripe:invoice"]
    assert sync["rate_limit"] == {"allowed_requests": 100, "interval": 60, "max_concurrent_requests": 0}
    assert sync["credential"]["id"] == sync["credential_id"]
    assert sync["credential"]["properties"]["secret"] == "***********"
    assert sync["credential"]["metadata"] == {"custom_credential_property": 42}
    assert sync["max_age_days"] is None and sync["sync_frequency"] == "continuous"
    assert sync["initial_backfill_completed_at"] is None
    assert sync["metadata"] == {"custom_property": 42} and sync["external_id"] == "user_1"
    assert api.ok("GET", f"/v1/credentials/{sync['credential_id']}")["id"] == sync["credential_id"]
    assert api.ok("GET", f"/v1/syncs/{sync['id']}") == sync


def test_provider_is_inferred_and_defaults_apply(api):
    stream = api.stream()
    hub = api.ok("POST", "/v1/syncs", {"stream_id": stream["id"], "name": "crm", "collection_ids": ["hubspot:contact"],
                                       "credential": {"properties": {"kind": "hubspot", "hub_id": 1,
                                                                     "refresh_token": "r"}}})
    assert hub["provider"] == "hubspot"
    assert hub["rate_limit"] == {"allowed_requests": 100, "interval": 10, "max_concurrent_requests": 0}
    stripe = api.sync(stream["id"], rate_limit={"allowed_requests": 5, "interval": 1})
    assert stripe["provider"] == "stripe" and stripe["rate_limit"]["max_concurrent_requests"] == 0


def test_an_existing_credential_can_be_reused(api):
    stream = api.stream()
    first = api.sync(stream["id"])
    second = api.ok("POST", "/v1/syncs", {"stream_id": stream["id"], "name": "again",
                                          "collection_ids": ["stripe:price"], "credential_id": first["credential_id"]})
    assert second["credential_id"] == first["credential_id"] and second["provider"] == "stripe"
    assert len(api.ok("GET", "/v1/credentials")["data"]) == 1  # the inline import was an upsert too


def test_referential_rules(api):
    stream = api.stream()
    cred = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk"}})
    base = {"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"]}

    def errors(body):
        response = api.post("/v1/syncs", body)
        assert response.status_code == 422, response.text
        return response.json()["validation_errors"]

    assert errors({**base, "stream_id": MISSING, "credential_id": cred["id"]}) == {
        "stream_id": ["is not a stream of this organization"]}
    assert "credential_id" in errors(base)
    assert "credential_id" in errors({**base, "credential_id": cred["id"],
                                      "credential": {"properties": {"kind": "stripe_key", "secret": "x"}}})
    assert "credential_id" in errors({**base, "credential_id": MISSING})
    assert "provider" in errors({**base, "credential_id": cred["id"], "provider": "hubspot"})
    assert list(errors({**base, "credential_id": cred["id"], "collection_ids": ["stripe:customer", "hubspot:deal"]})) == [
        "collection_ids.1"]
    assert "collection_ids.0" in errors({**base, "collection_ids": ["airtable:tbl1"],
                                         "credential": {"properties": {"kind": "airtable_oauth2", "airtable_uid": "u",
                                                                       "refresh_token": "r"}}})
    assert "rate_limit.interval" in errors({**base, "credential_id": cred["id"],
                                            "rate_limit": {"allowed_requests": 1, "interval": 0}})
    assert "collection_ids" in errors({**base, "credential_id": cred["id"], "collection_ids": []})
    # nothing was written by the failed attempts
    assert api.ok("GET", "/v1/syncs")["data"] == [] and len(api.ok("GET", "/v1/credentials")["data"]) == 1


def test_patch_updates_mutable_fields_and_refuses_immutable_ones(api):
    stream = api.stream()
    sync = api.sync(stream["id"])
    patched = api.ok("PATCH", f"/v1/syncs/{sync['id']}", {
        "name": "renamed", "status": "disabled", "sync_frequency": "4h", "max_age_days": 30,
        "collection_ids": ["stripe:customer", "stripe:invoice"], "metadata": {"a": 1}, "external_id": "e",
        "rate_limit": {"allowed_requests": 10, "interval": 60, "max_concurrent_requests": 2}})
    assert (patched["name"], patched["status"], patched["sync_frequency"], patched["max_age_days"]) == (
        "renamed", "disabled", "4h", 30)
    assert patched["collection_ids"] == ["stripe:customer", "stripe:invoice"] and patched["external_id"] == "e"
    assert patched["rate_limit"] == {"allowed_requests": 10, "interval": 60, "max_concurrent_requests": 2}
    assert api.ok("PATCH", f"/v1/syncs/{sync['id']}", {"max_age_days": None})["max_age_days"] is None
    other = api.stream("other")
    for body in [{"stream_id": other["id"]}, {"provider": "hubspot"}, {"credential_id": MISSING},
                 {"credential": {"properties": {}}}]:
        response = api.patch(f"/v1/syncs/{sync['id']}", body)
        assert response.status_code == 422 and list(response.json()["validation_errors"]) == list(body), body
    assert api.ok("PATCH", f"/v1/syncs/{sync['id']}", {"stream_id": stream["id"]})["stream_id"] == stream["id"]
    assert api.patch(f"/v1/syncs/{sync['id']}", {"collection_ids": ["hubspot:deal"]}).status_code == 422


def test_list_filters(api):
    s1, s2 = api.stream("a"), api.stream("b")
    one = api.sync(s1["id"], name="one", metadata={"env": "prod"}, external_id="x1")
    two = api.ok("POST", "/v1/syncs", {"stream_id": s2["id"], "name": "two", "collection_ids": ["hubspot:deal"],
                                       "credential": {"properties": {"kind": "hubspot", "hub_id": 2,
                                                                     "refresh_token": "r"}}})

    def ids(query):
        return [s["id"] for s in api.ok("GET", f"/v1/syncs?{query}")["data"]]

    assert ids("") == [two["id"], one["id"]]
    assert ids("provider=hubspot") == [two["id"]]
    assert ids(f"stream_id={s1['id']}") == [one["id"]]
    assert ids("name=two") == [two["id"]]
    assert ids("external_id=x1") == [one["id"]]
    assert ids("health.status=healthy") == [two["id"], one["id"]]
    assert ids("health.status=error") == []
    assert ids("metadata=" + quote(json.dumps({"env": "prod"}))) == [one["id"]]
    assert api.get("/v1/syncs?health.status=sick").status_code == 422


def test_a_json_body_on_a_get_is_ignored(api):
    stream = api.stream()
    api.sync(stream["id"])
    response = api.request("GET", "/v1/syncs", content=b'{"stream_id": "whatever"}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and len(response.json()["data"]) == 1


def test_delete(api):
    sync = api.sync(api.stream()["id"])
    assert api.ok("DELETE", f"/v1/syncs/{sync['id']}") == {"id": sync["id"], "deleted": True}
    assert api.get(f"/v1/syncs/{sync['id']}").status_code == 404
    assert api.delete(f"/v1/syncs/{sync['id']}").status_code == 404
