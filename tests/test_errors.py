"""Every error case of the contract (docs/contract.md, "Errors"), and auth, through HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import Api

MISSING = "8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8"


def test_body_that_is_not_json_or_not_an_object_is_400(api):
    for raw in [b"{not json", b"[1, 2]", b'"slug"', b"42", b""]:
        response = api.request("POST", "/v1/streams", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, raw
        assert set(response.json()) == {"summary"} and response.json()["summary"]


def test_body_over_the_limit_is_413(start_emulator):
    api = start_emulator("t", body_limit=1024)
    big = {"slug": "dev", "padding": "x" * 2000}
    response = api.post("/v1/streams", big)
    assert response.status_code == 413 and "1024" in response.json()["summary"]
    chunked = api.request("POST", "/v1/streams", content=iter([b'{"slug": "', b"x" * 2000, b'"}']))
    assert chunked.status_code == 413
    assert api.get("/v1/streams").json() == {"data": []}  # nothing was written


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Token abc", "Bearer a b"])
def test_missing_or_malformed_token_is_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    for method, path in [("GET", "/v1/streams"), ("POST", "/v1/syncs"), ("GET", f"/v1/syncs/{MISSING}"),
                         ("GET", "/_emulator/clock")]:
        response = client.request(method, path, headers=headers)
        assert response.status_code == 401, (header, path)
        assert response.json()["summary"].startswith("Missing or malformed")


def test_strict_mode_accepts_only_the_listed_keys(start_emulator):
    strict = start_emulator("k1", api_keys=frozenset({"k1", "k2"})).http
    assert Api(strict, "k1").get("/v1/streams").status_code == 200
    assert Api(strict, "k2").post("/v1/streams", {"slug": "x"}).status_code == 200
    refused = Api(strict, "k3").get("/v1/streams")
    assert refused.status_code == 401 and "not accepted" in refused.json()["summary"]
    assert strict.get("/_emulator/health").status_code == 200  # health needs no token


def test_unknown_ids_and_malformed_ids_are_404(api):
    for path in ["/v1/streams", "/v1/syncs", "/v1/credentials", "/v1/oauth-apps", "/v1/http-consumers"]:
        for method in ["GET", "PATCH", "DELETE"]:
            for resource_id in [MISSING, "not-a-uuid", "1"]:
                response = api.request(method, f"{path}/{resource_id}", json={})
                assert response.status_code == 404, (method, path, resource_id)
                assert response.json()["summary"]


def test_schema_violations_are_422_with_dotted_paths(api):
    stream = api.stream()
    response = api.post("/v1/syncs", {"stream_id": stream["id"], "name": 5, "collection_ids": ["ok:x", "BAD"],
                                      "rate_limit": {"allowed_requests": "many", "interval": -1, "extra": 1},
                                      "sync_frequency": "hourly", "surprise": True})
    assert response.status_code == 422
    errors = response.json()["validation_errors"]
    assert errors == {
        "name": ["must be of type string"],
        "collection_ids.1": ["must match the pattern ^[a-z_]+:[A-Za-z0-9_.]+$"],
        "rate_limit.allowed_requests": ["must be of type integer"],
        "rate_limit.interval": ["must be at least 1"],
        "rate_limit.extra": ["is not a known field"],
        "sync_frequency": ["must be one of: continuous, 4h"],
        "surprise": ["is not a known field"],
    }
    assert response.json()["summary"]
    missing = api.post("/v1/syncs", {})
    assert set(missing.json()["validation_errors"]) == {"name", "collection_ids"}  # stream_id: the default stream


def test_unknown_routes_are_404_and_unknown_methods_405(api):
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["summary"]
    for method, path, allowed in [("PUT", "/v1/streams", {"GET", "POST"}),
                                  ("POST", f"/v1/streams/{MISSING}", {"GET", "PATCH", "DELETE"}),
                                  ("PATCH", "/v1/credentials/start-auth", {"POST"}),
                                  ("DELETE", "/v1/credentials/start-auth", {"POST"})]:
        response = api.request(method, path)
        assert response.status_code == 405, (method, path)
        assert allowed <= {m.strip() for m in response.headers["allow"].split(",")}
        assert response.json()["summary"]


def test_simulated_api_rate_limit_answers_429_with_retry_after(api, other):
    assert api.ok("PUT", "/_emulator/faults", {"api_rate_limit": 3})["api_rate_limit"] == 3
    statuses = [api.get("/v1/streams").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses
    limited = next(r for r in (api.get("/v1/streams") for _ in range(3)) if r.status_code == 429)
    assert limited.headers["retry-after"] == "1" and limited.json()["summary"]
    assert api.get("/_emulator/faults").status_code == 200  # the control plane is never limited
    assert all(other.get("/v1/streams").status_code == 200 for _ in range(6))  # nor other tenants
    api.ok("PUT", "/_emulator/faults", {"api_rate_limit": None})
    assert api.get("/v1/streams").status_code == 200
