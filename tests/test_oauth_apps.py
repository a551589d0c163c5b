"""OAuth apps through HTTP: CRUD, `truncate_secrets`, referential delete."""

from __future__ import annotations

APP = {"provider": "stripe", "client_id": "db97a4eb", "client_secret": "e8c22f21-secret", "name": "Arakkis - Stripe",
       "metadata": {"custom_property": 42}}


def test_create_get_update_delete(api):
    app = api.ok("POST", "/v1/oauth-apps", APP)
    assert {k: app[k] for k in ("provider", "client_id", "name", "metadata")} == {
        k: APP[k] for k in ("provider", "client_id", "name", "metadata")}
    assert app["client_secret"] == "***********"
    assert app["health"]["status"] == "ok"
    assert api.ok("GET", f"/v1/oauth-apps/{app['id']}") == app  # the bare object, not a list envelope
    updated = api.ok("PATCH", f"/v1/oauth-apps/{app['id']}", {"name": "Renamed", "client_secret": "rotated"})
    assert updated["name"] == "Renamed" and updated["client_secret"] == "***********"
    full = api.ok("GET", "/v1/oauth-apps?truncate_secrets=false")["data"]
    assert full[0]["client_secret"] == "rotated"
    assert api.ok("GET", "/v1/oauth-apps")["data"][0]["client_secret"] == "***********"
    assert api.ok("GET", "/v1/oauth-apps?truncate_secrets=true")["data"][0]["client_secret"] == "***********"
    assert api.get("/v1/oauth-apps?truncate_secrets=maybe").status_code == 422
    assert api.ok("DELETE", f"/v1/oauth-apps/{app['id']}")["deleted"] is True
    assert api.get(f"/v1/oauth-apps/{app['id']}").status_code == 404


def test_filters(api):
    stripe = api.ok("POST", "/v1/oauth-apps", APP)
    hub = api.ok("POST", "/v1/oauth-apps", {**APP, "provider": "hubspot", "metadata": {"custom_property": 7}})
    assert [a["id"] for a in api.ok("GET", "/v1/oauth-apps?provider=hubspot")["data"]] == [hub["id"]]
    assert [a["id"] for a in api.ok("GET", "/v1/oauth-apps?metadata=%7B%22custom_property%22%3A42%7D")["data"]] == [
        stripe["id"]]
    assert len(api.ok("GET", "/v1/oauth-apps?health.status=ok")["data"]) == 2


def test_an_app_that_issued_credentials_cannot_be_deleted(api):
    app = api.ok("POST", "/v1/oauth-apps", APP)
    cred = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_oauth2", "access_token": "tok"},
                                              "oauth_app_id": app["id"]})
    refused = api.delete(f"/v1/oauth-apps/{app['id']}")
    assert refused.status_code == 422 and cred["id"] in refused.json()["summary"]


def test_required_fields(api):
    response = api.post("/v1/oauth-apps", {"provider": "stripe"})
    assert response.status_code == 422
    assert set(response.json()["validation_errors"]) == {"client_id", "client_secret", "name"}
    assert api.post("/v1/oauth-apps", {**APP, "provider": "myspace"}).json()["validation_errors"]["provider"][0].startswith(
        "must be one of")
