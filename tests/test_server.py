"""The real server: `sequin-emulator serve` over TCP, demo data included."""

from __future__ import annotations

import httpx
import pytest

from sequin_emulator.launcher import running_emulator


@pytest.fixture(scope="module")
def demo_server():
    with running_emulator("--demo", "--seed", "1") as url:
        yield url


def test_serves_health_spec_and_demo_data(demo_server):
    with httpx.Client(base_url=demo_server, timeout=5) as http:
        assert http.get("/_emulator/health").json()["status"] == "ok"
        assert http.get("/openapi.json").json()["info"]["title"].startswith("Sequin")
        demo = {"Authorization": "Bearer demo"}
        streams = http.get("/v1/streams", headers=demo).json()["data"]
        assert [s["slug"] for s in streams] == ["demo"]
        syncs = http.get("/v1/syncs", headers=demo).json()["data"]
        assert {s["provider"] for s in syncs} == {"stripe", "hubspot"}
        assert len(http.get("/v1/http-consumers", headers=demo).json()["data"]) == 1
        assert http.get("/v1/streams", headers={"Authorization": "Bearer someone-else"}).json() == {"data": []}


def test_keep_alive_connection_survives_errors(demo_server):
    with httpx.Client(base_url=demo_server, timeout=5, headers={"Authorization": "Bearer k"}) as http:
        assert http.post("/v1/streams", content=b"{oops").status_code == 400
        assert http.post("/v1/streams", json={"slug": "after-error"}).status_code == 200
        assert http.request("TRACE", "/v1/streams").status_code == 405


def test_strict_mode_from_the_command_line():
    with running_emulator("--api-key", "only-me") as url:
        assert httpx.get(f"{url}/v1/streams", headers={"Authorization": "Bearer only-me"}).status_code == 200
        assert httpx.get(f"{url}/v1/streams", headers={"Authorization": "Bearer intruder"}).status_code == 401
