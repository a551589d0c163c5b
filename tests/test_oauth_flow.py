"""The Sequin-hosted OAuth flow: start-auth → start link → redirect with code → token exchange → credential."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse


def _app(api, provider="stripe", secret="app-secret"):
    return api.ok("POST", "/v1/oauth-apps", {"provider": provider, "client_id": "cid", "client_secret": secret,
                                              "name": "app"})


def _start(api, app, **extra):
    body = {"oauth_app_id": app["id"], "credential_kind": "stripe_oauth2", "redirect_url": "https://acme.corp/finish",
            **extra}
    return api.ok("POST", "/v1/credentials/start-auth", body)["start_url"]


def _code(api, start_url):
    response = api.http.get(start_url)
    assert response.status_code == 302
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://acme.corp/finish"
    return parse_qs(location.query)


def test_full_flow_yields_a_credential_usable_in_a_sync(api):
    app = _app(api)
    start_url = _start(api, app, state={"user_id": "u1"})
    assert "/link/oauth2/start/" in start_url
    query = _code(api, start_url)
    assert query["state"] == ['{"user_id":"u1"}']
    exchanged = api.http.post("/link/oauth2/token", json={"code": query["code"][0], "client_id": app["id"],
                                                            "client_secret": "app-secret"})
    assert exchanged.status_code == 200
    result = exchanged.json()
    assert result["state"] == {"user_id": "u1"} and result["credential"]["oauth_app_id"] == app["id"]
    assert result["credential"]["properties"]["kind"] == "stripe_oauth2"
    stream = api.stream()
    sync = api.ok("POST", "/v1/syncs", {"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:charge"],
                                        "credential": result["credential"]})
    assert sync["provider"] == "stripe" and sync["credential"]["oauth_app_id"] == app["id"]
    assert sync["credential"]["properties"]["access_token"] == "***********"


def test_links_and_codes_are_single_use_and_expire(api):
    app = _app(api)
    start_url = _start(api, app, state="opaque")
    query = _code(api, start_url)
    assert query["state"] == ["opaque"]
    assert api.http.get(start_url).status_code == 404  # single-use link
    body = {"code": query["code"][0], "client_id": app["id"], "client_secret": "app-secret"}
    assert api.http.post("/link/oauth2/token", json=body).status_code == 200
    reused = api.http.post("/link/oauth2/token", json=body)
    assert reused.status_code == 422 and "code" in reused.json()["validation_errors"]
    late = _start(api, app)
    api.ok("POST", "/_emulator/clock/advance", {"by": "301s"})
    assert api.http.get(late).status_code == 404
    code = _code(api, _start(api, app))["code"][0]
    api.ok("POST", "/_emulator/clock/advance", {"by": "6m"})
    assert api.http.post("/link/oauth2/token", json={**body, "code": code}).status_code == 422


def test_wrong_client_secret_is_401_and_keeps_the_code(api):
    app = _app(api)
    code = _code(api, _start(api, app))["code"][0]
    wrong = api.http.post("/link/oauth2/token", json={"code": code, "client_id": app["id"], "client_secret": "no"})
    assert wrong.status_code == 401 and wrong.json()["summary"]
    right = api.http.post("/link/oauth2/token", json={"code": code, "client_id": app["id"],
                                                        "client_secret": "app-secret"})
    assert right.status_code == 200


def test_start_auth_validates_its_references(api):
    app = _app(api, provider="hubspot")
    wrong_kind = api.post("/v1/credentials/start-auth", {"oauth_app_id": app["id"], "credential_kind": "stripe_oauth2",
                                                         "redirect_url": "https://a.b/c"})
    assert wrong_kind.status_code == 422 and "hubspot_oauth2" in wrong_kind.json()["validation_errors"]["credential_kind"][0]
    missing = api.post("/v1/credentials/start-auth", {"oauth_app_id": "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8",
                                                      "credential_kind": "hubspot_oauth2", "redirect_url": "https://a.b"})
    assert missing.status_code == 422
    big = api.post("/v1/credentials/start-auth", {"oauth_app_id": app["id"], "credential_kind": "hubspot_oauth2",
                                                  "redirect_url": "https://a.b", "state": {"x": "y" * 6000}})
    assert big.status_code == 422 and "state" in big.json()["validation_errors"]
    not_a_url = api.post("/v1/credentials/start-auth", {"oauth_app_id": app["id"], "credential_kind": "hubspot_oauth2",
                                                        "redirect_url": "not a url"})
    assert not_a_url.status_code == 422
