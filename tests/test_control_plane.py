"""The control plane: health, clock, journal, faults."""

from __future__ import annotations

from sequin_emulator.domain.clock import Clock


def test_health_needs_no_token_and_reports_the_version(client):
    from sequin_emulator import __version__

    assert client.get("/_emulator/health").json() == {"status": "ok", "version": __version__}


def test_openapi_json_is_served(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1") and "/v1/syncs" in spec["paths"]


def test_manual_clock_advances_and_stamps_resources(api):
    assert api.ok("GET", "/_emulator/clock") == {"mode": "manual", "now": "2024-01-01T00:00:00.000000Z", "scale": 1.0}
    assert api.ok("POST", "/_emulator/clock/advance", {"by": "1h30m"})["now"] == "2024-01-01T01:30:00.000000Z"
    assert api.ok("POST", "/_emulator/clock/advance", {"by": "250ms"})["now"] == "2024-01-01T01:30:00.250000Z"
    assert api.stream()["created_at"] == "2024-01-01T01:30:00.250000Z"
    assert api.ok("PUT", "/_emulator/clock", {"now": "2024-02-01 00:00:00"})["now"] == "2024-02-01T00:00:00.000000Z"
    back = api.put("/_emulator/clock", {"now": "2023-01-01T00:00:00Z"})
    assert back.status_code == 422 and "now" in back.json()["validation_errors"]
    assert api.put("/_emulator/clock", {"now": "2024-13-45T00:00:00Z"}).status_code == 422
    assert api.post("/_emulator/clock/advance", {"by": "soon"}).status_code == 422


def test_clock_modes():
    wall = [1_000_000]
    clock = Clock(mode="manual", now=5_000_000, wall=lambda: wall[0])
    wall[0] += 10_000_000
    assert clock.now() == 5_000_000
    clock.set(mode="scaled", scale=60)
    wall[0] += 1_000_000
    assert clock.now() == 65_000_000
    clock.set(mode="real")
    wall[0] += 2_000_000
    assert clock.now() == 67_000_000
    clock.advance(3_000_000)
    assert clock.now() == 70_000_000


def test_switching_clock_mode_through_the_api(api):
    assert api.ok("PUT", "/_emulator/clock", {"mode": "scaled", "scale": 60})["mode"] == "scaled"
    assert api.ok("PUT", "/_emulator/clock", {"mode": "manual"})["scale"] == 60
    assert api.put("/_emulator/clock", {"scale": 0}).status_code == 422


def test_journal_lists_the_tenants_recent_requests(api, other):
    api.stream()
    api.get("/v1/streams/8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8")
    other.get("/v1/syncs")
    entries = api.ok("GET", "/_emulator/journal?limit=2")["data"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v1/streams/8ff58ef0-d376-4ae8-b2e2-9f0206aa65b8", 404), ("POST", "/v1/streams", 200)]
    assert all(e["path"] != "/v1/syncs" for e in api.ok("GET", "/_emulator/journal")["data"])


def test_latency_fault_is_reported(api):
    assert api.ok("PUT", "/_emulator/faults", {"latency_ms": 5}) == {"api_rate_limit": None, "latency_ms": 5}
    assert api.ok("GET", "/v1/streams") == {"data": []}
    assert api.ok("GET", "/_emulator/faults")["latency_ms"] == 5
