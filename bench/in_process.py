"""The in-process mode (`sequin_emulator.mock()`, #28), against the same work over loopback HTTP in one run:

- per call: `GET /v1/syncs/{id}` and a Stripe `GET /v1/customers/{id}` made by user code through httpx at the real
  hosts, inside the mock, against the same calls to a `sequin-emulator serve` subprocess over a keep-alive loopback
  connection (target: the in-process call costs at most 0.3 of the HTTP one);
- a typical integration test end to end: a mock with a scenario (a Stripe account of 5 records per collection, a
  sync of its customers, a consumer), the backfill, and a drain (target ≤ 20 ms).

    .venv/bin/python bench/in_process.py [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

import sequin_emulator
from sequin_emulator.launcher import running_emulator

KEY = "sk_test_bench"
WORLD = {
    "clock": {"mode": "manual", "now": "2024-01-01T00:00:00Z"},
    "credentials": [{"name": "stripe", "properties": {"kind": "stripe_key", "secret": KEY},
                     "upstream": {"records_per_collection": 5, "changes_per_hour": 0}}],
    "streams": [{"slug": "main"}],
    "syncs": [{"name": "s", "stream": "main", "credential": "stripe", "collection_ids": ["stripe:customer"],
               "rate_limit": {"allowed_requests": 1000, "interval": 1}}],
    "consumers": [{"name": "worker", "stream": "main"}],
}


def _per_call(client: httpx.Client, paths: list[tuple[str, dict]], calls: int) -> float:
    """Median µs of one call, over `calls` rounds of every path."""
    times = []
    for _ in range(calls):
        for path, headers in paths:
            started = time.perf_counter()
            assert client.get(path, headers=headers).status_code == 200
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def _app_only(m: sequin_emulator.mock, paths: list[tuple[str, dict]], calls: int) -> float:
    """Median µs of the same calls made straight to the ASGI app on its own loop: the work both modes share."""
    import asyncio

    requests = [m.route(path, list(headers.items())) for path, headers in paths]

    async def measure() -> list[float]:
        times = []
        for _ in range(calls):
            for target, headers in requests:
                started = time.perf_counter()
                answer = await m.bridge._call("GET", target, headers, b"")
                times.append(time.perf_counter() - started)
                assert answer.status == 200
        return times

    return statistics.median(asyncio.run_coroutine_threadsafe(measure(), m.bridge.loop).result()) * 1e6


def _paths(tenant, sequin_base: str, stripe_base: str, token: str) -> list[tuple[str, dict]]:
    sync_id = tenant.get("/v1/syncs").json()["data"][0]["id"]
    credential_id = tenant.get("/v1/credentials").json()["data"][0]["id"]
    customer = tenant.upstream(credential_id, "stripe:customer")[0]["id"]
    return [(f"{sequin_base}/v1/syncs/{sync_id}", {"Authorization": f"Bearer {token}"}),
            (f"{stripe_base}/v1/customers/{customer}", {"Authorization": f"Bearer {KEY}"})]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    calls = parser.parse_args().calls

    with running_emulator("--clock", "manual") as url:
        from sequin_emulator.testing import TenantClient

        tenant = TenantClient(url, token="bench")
        tenant.load(WORLD)
        credential_id = tenant.get("/v1/credentials").json()["data"][0]["id"]
        with httpx.Client() as client:
            http = _per_call(client, _paths(tenant, url, tenant.api_base(credential_id), "bench"), calls)
        tenant.close()

    with sequin_emulator.mock(WORLD) as m, httpx.Client() as client:
        paths = _paths(m.tenant, "https://api.sequin.io", "https://api.stripe.com", "any")
        in_process = _per_call(client, paths, calls)
        app_only = _app_only(m, paths, calls)
    print(f"  per call (median of {2 * calls}): in-process {in_process:.0f} µs, loopback HTTP {http:.0f} µs, "
          f"ratio {in_process / http:.2f}; the app's own work {app_only:.0f} µs, so the overhead beyond it is "
          f"{in_process - app_only:.0f} µs in-process against {http - app_only:.0f} µs over HTTP: ratio "
          f"{(in_process - app_only) / (http - app_only):.2f} (target ≤ 0.3)")

    runs = []
    for _ in range(20):
        started = time.perf_counter()
        with sequin_emulator.mock(WORLD) as m:
            sync_id = m.tenant.get("/v1/syncs").json()["data"][0]["id"]
            m.tenant.wait_for_backfill(sync_id, steps=60)
            assert len(m.tenant.drain(m.ids["consumers"]["worker"])) == 5
        runs.append(time.perf_counter() - started)
    print(f"  a typical test end to end (mock + scenario + backfill + drain), median of 20: "
          f"{statistics.median(runs) * 1000:.1f} ms (target ≤ 20 ms; first run {runs[0] * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
