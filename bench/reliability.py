"""Benchmarks of #21's promises: no request of any tenant waits long on another's big operation, and nothing a
client does grows the server without end. Each is measured against a baseline in the same run:

- events: the worst latency of `GET /v1/events` (limit 1 and 100) over an account that made 100,000 changes,
  against `GET /v1/customers?limit=1` on the same account;
- targets: the worst latency of `GET /_emulator/health` while a tenant holds 10,000 Postgres targets (none
  reachable), against health's worst latency before they were made;
- keyed writes: how much the server grows for 10,000 Stripe writes carrying an Idempotency-Key, against the same
  writes without one (the objects are stored either way; the kept answers are bounded and expire after 24 h);
- reset tenants: how much the server grows per tenant over tenants 200 → 1,000 that each used the Stripe API and
  were reset, against the growth over the first 200.
"""

from __future__ import annotations

import time

import httpx
from robustness import _health_latencies, _rss

STRIPE = {"kind": "stripe_key", "secret": "sk_test_reliable"}


def _stripe(server, token: str) -> tuple[httpx.Client, httpx.Client]:
    control = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    credential = control.post("/v1/credentials", json={"properties": STRIPE}).json()
    base = control.get(f"/_emulator/upstream/{credential['id']}").json()["api_base"]
    return control, httpx.Client(base_url=f"{base}/v1", headers={"Authorization": f"Bearer {STRIPE['secret']}"},
                                 timeout=60)


def _worst(client: httpx.Client, path: str, count: int) -> float:
    worst = 0.0
    for _ in range(count):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        worst = max(worst, (time.perf_counter() - started) * 1000)
    return worst


def events(emulator, row, changes: int) -> None:
    server = emulator("--clock", "manual", "--records-per-collection", "20", "--changes-per-hour", str(changes))
    control, stripe = _stripe(server, "events")
    control.post("/_emulator/clock/advance", json={"by": "1h"})  # the account makes `changes` changes
    baseline = _worst(stripe, "/customers?limit=1", 50)
    worst = max(_worst(stripe, "/events?limit=1", 50), _worst(stripe, "/events?limit=100", 20))
    server.stop()
    row(f"events: worst GET /v1/events (limit 1 and 100) after {changes:,} changes (vs a customer list)",
        "≤ 50 ms", worst, "ms", baseline, "lower")


def targets(emulator, row, count: int) -> None:
    server = emulator("--clock", "manual")
    control = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer targets"}, timeout=60)
    probe = httpx.Client(base_url=server.url, timeout=30)
    quiet = _health_latencies(probe, 50)
    for number in range(count):
        control.post("/v1/targets/postgres", json={"name": f"t{number}", "connection": {
            "host": "127.0.0.1", "port": 1, "database": "none", "username": "none", "password": "none"}})
    time.sleep(2)  # the writer has started a watcher for every target
    busy = _health_latencies(probe, 200)
    server.stop()
    row(f"targets: worst health latency while a tenant holds {count:,} unreachable Postgres targets",
        "≤ 50 ms", max(busy), "ms", max(quiet), "lower")


def keyed_writes(emulator, row, writes: int) -> None:
    growth = {}
    for keyed in (False, True):
        server = emulator("--clock", "manual", "--records-per-collection", "0", "--changes-per-hour", "0")
        control, stripe = _stripe(server, "keyed")
        before = _rss(server.process.pid)
        metadata = {f"metadata[k{i}]": "v" * 400 for i in range(10)}
        for number in range(writes):
            headers = {"Idempotency-Key": f"write-{number}"} if keyed else {}
            assert stripe.post("/customers", data={"email": f"c{number}@example.com", **metadata},
                               headers=headers).status_code == 200
        growth[keyed] = _rss(server.process.pid) - before
        server.stop()
    row(f"keyed writes: memory growth of {writes:,} Stripe writes with an Idempotency-Key (vs without)",
        "≤ 1.2×", growth[True] / 1e6, "MB", growth[False] / 1e6, "lower")


def reset_tenants(emulator, row, tenants: int) -> None:
    server = emulator("--clock", "manual", "--records-per-collection", "20", "--changes-per-hour", "0")
    sizes = {}
    for number in range(1, tenants + 1):
        control, stripe = _stripe(server, "reused")
        for write in range(5):
            stripe.post("/customers", data={"email": f"r{write}@example.com"}, headers={"Idempotency-Key": f"k{write}"})
        control.post("/_emulator/reset")
        control.close()
        stripe.close()
        if number in (tenants // 5, tenants):
            sizes[number] = _rss(server.process.pid)
    server.stop()
    first, last = tenants // 5, tenants
    per_tenant_late = (sizes[last] - sizes[first]) / (last - first)
    row(f"reset tenants: memory growth per tenant over tenants {first:,} → {last:,} that used the Stripe API "
        "(vs the average over all)", "≈ 0", per_tenant_late / 1e3, "KB", sizes[last] / last / 1e3, "lower")
