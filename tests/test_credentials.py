"""Credentials through HTTP: import as upsert per upstream account, masking, filters, PATCH, DELETE."""

from __future__ import annotations

import json
from urllib.parse import quote

MASK = "***********"
STRIPE = {"kind": "stripe_key", "name": "Choam Stripe", "secret": "sk_live_1", "test": False}


def test_import_returns_the_documented_object_with_secrets_masked(api):
    cred = api.ok("POST", "/v1/credentials", {"properties": STRIPE, "metadata": {"custom_property": 42}})
    assert cred["provider"] == "stripe" and cred["kind"] == "stripe_key" == cred["properties"]["kind"]
    assert cred["properties"] == {**STRIPE, "secret": MASK}
    assert cred["oauth_app_id"] is None and cred["oauth_app"] == {"kind": "sequin"}
    assert cred["health"] == {"status": "ok", "notes": [], "time": "2024-01-01T00:00:00.000000Z"}
    assert cred["metadata"] == {"custom_property": 42} and cred["name"] == "Choam Stripe"
    assert "sk_live_1" not in api.get(f"/v1/credentials/{cred['id']}").text
    assert "sk_live_1" not in api.get("/v1/credentials").text


def test_every_secret_field_is_masked(api):
    for props in [{"kind": "hubspot", "hub_id": 1, "refresh_token": "rt-secret", "access_token": "at-secret"},
                  {"kind": "checkout_champ_password", "login_id": "l", "password": "pw-secret"},
                  {"kind": "stripe_key", "secret_key": "sk-secret"},
                  {"kind": "linear_oauth2", "access_token": "lin-secret"}]:
        response = api.post("/v1/credentials", {"properties": props})
        assert response.status_code == 200
        assert "secret" not in response.text.replace('"secret_key"', "").replace('"secret"', ""), response.text
        assert MASK in response.text


def test_importing_the_same_account_twice_updates_one_credential(api):
    first = api.ok("POST", "/v1/credentials", {"properties": STRIPE})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1m"})
    again = api.ok("POST", "/v1/credentials", {"properties": {**STRIPE, "name": "Renamed"}, "metadata": {"v": 2}})
    assert again["id"] == first["id"] and again["name"] == "Renamed" and again["metadata"] == {"v": 2}
    assert again["updated_at"] > first["updated_at"] and again["created_at"] == first["created_at"]
    hub = {"kind": "hubspot", "hub_id": 99, "refresh_token": "a"}
    one = api.ok("POST", "/v1/credentials", {"properties": hub})
    two = api.ok("POST", "/v1/credentials", {"properties": {**hub, "kind": "hubspot_oauth2", "refresh_token": "b"}})
    assert one["id"] == two["id"] and two["kind"] == "hubspot_oauth2"
    other = api.ok("POST", "/v1/credentials", {"properties": {**STRIPE, "secret": "sk_live_2"}})
    assert other["id"] != first["id"]
    assert len(api.ok("GET", "/v1/credentials")["data"]) == 3


def test_list_filters(api):
    stripe = api.ok("POST", "/v1/credentials", {"properties": STRIPE, "metadata": {"team": "a", "n": 1}})
    hub = api.ok("POST", "/v1/credentials", {"properties": {"kind": "hubspot", "hub_id": 5, "refresh_token": "r"},
                                             "metadata": {"team": "b", "flag": True}})

    def ids(query):
        return [c["id"] for c in api.ok("GET", f"/v1/credentials?{query}")["data"]]

    assert ids("provider=stripe") == [stripe["id"]]
    assert ids("kind=hubspot") == [hub["id"]]
    assert ids("health.status=ok") == [hub["id"], stripe["id"]]
    assert ids("health.status=error") == []
    assert ids("metadata=" + quote(json.dumps({"team": "a"}))) == [stripe["id"]]
    assert ids("metadata=" + quote(json.dumps({"team": "a", "n": 2}))) == []
    assert ids("metadata=" + quote(json.dumps({"flag": 1}))) == []  # true is not 1
    bad = api.get("/v1/credentials?metadata=%7Bnot-json")
    assert bad.status_code == 422 and list(bad.json()["validation_errors"]) == ["metadata"]
    assert api.get("/v1/credentials?metadata=%5B1%5D").status_code == 422  # not an object


def test_patch_changes_name_and_metadata_only(api):
    cred = api.ok("POST", "/v1/credentials", {"properties": STRIPE})
    patched = api.ok("PATCH", f"/v1/credentials/{cred['id']}", {"name": "New", "metadata": {"x": [1]}})
    assert patched["name"] == "New" and patched["metadata"] == {"x": [1]}
    refused = api.patch(f"/v1/credentials/{cred['id']}", {"properties": STRIPE})
    assert refused.status_code == 422 and refused.json()["validation_errors"] == {"properties": ["is not a known field"]}


def test_delete_refuses_while_a_sync_uses_it(api):
    stream = api.stream()
    cred = api.ok("POST", "/v1/credentials", {"properties": STRIPE})
    sync = api.ok("POST", "/v1/syncs", {
        "stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"], "credential_id": cred["id"]})
    refused = api.delete(f"/v1/credentials/{cred['id']}")
    assert refused.status_code == 422 and sync["id"] in refused.json()["summary"]
    api.ok("DELETE", f"/v1/syncs/{sync['id']}")
    assert api.ok("DELETE", f"/v1/credentials/{cred['id']}") == {"id": cred["id"], "deleted": True}
    assert api.get(f"/v1/credentials/{cred['id']}").status_code == 404


def test_properties_are_checked_per_kind(api):
    missing = api.post("/v1/credentials", {"properties": {"kind": "hubspot", "refresh_token": "r"}})
    assert missing.status_code == 422 and missing.json()["validation_errors"] == {"properties.hub_id": ["is required"]}
    unknown = api.post("/v1/credentials", {"properties": {"kind": "myspace"}})
    assert unknown.status_code == 422 and "properties.kind" in unknown.json()["validation_errors"]
    no_secret = api.post("/v1/credentials", {"properties": {"kind": "stripe_key"}})
    assert no_secret.status_code == 422
    assert no_secret.json()["validation_errors"] == {"properties": ["needs one of: secret, secret_key"]}
    extra = api.post("/v1/credentials", {"properties": {**STRIPE, "hub_id": 1}})
    assert extra.json()["validation_errors"] == {"properties.hub_id": ["is not a known field"]}


def test_oauth_app_must_exist_and_match_the_provider(api):
    app = api.ok("POST", "/v1/oauth-apps", {"provider": "hubspot", "client_id": "c", "client_secret": "s", "name": "n"})
    wrong = api.post("/v1/credentials", {"properties": STRIPE, "oauth_app_id": app["id"]})
    assert wrong.status_code == 422 and "oauth_app_id" in wrong.json()["validation_errors"]
    missing = api.post("/v1/credentials", {"properties": STRIPE, "oauth_app_id": "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"})
    assert missing.status_code == 422
    hub = api.ok("POST", "/v1/credentials", {"properties": {"kind": "hubspot_oauth2", "hub_id": 3, "refresh_token": "r"},
                                             "oauth_app_id": app["id"]})
    assert hub["oauth_app_id"] == app["id"] and hub["oauth_app"]["client_secret"] == MASK
    assert hub["oauth_app"]["id"] == app["id"]
