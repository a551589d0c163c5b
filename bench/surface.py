"""Benchmarks of the documented surface added with the Proxy API and the E1 reads (issue #24), each against a
baseline measured in the same run:

- E1 paging: `GET /v1/records?limit=100` walked by cursor over a loaded stream, against the consume row's loop
  (`next` of 100 + `ack`) over the same stream on the same server;
- proxy overhead: a Stripe customer read through `/v1/proxy/sync/{id}/...` against the same read at the account's
  own base (`/_providers/...`), 32 keep-alive connections each;
- Stripe change → a waiting consumer on a real clock: an upstream change to a waiting `next` (p99), which
  Sequin's Stripe page promises within 1-2 s (the polls run twice a second).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import httpx
import orjson
from load import hammer, read_response, request_bytes


async def _page_loop(port: int, total: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received, cursor, started = 0, None, time.perf_counter()
    while received < total:
        path = "/v1/records?limit=100" + (f"&after_cursor={cursor}" if cursor else "")
        writer.write(request_bytes("GET", path))
        _, body = await read_response(reader)
        page = orjson.loads(body)
        if not page["records"]:
            break
        received += len(page["records"])
        cursor = page["cursor"]
    writer.close()
    return received / (time.perf_counter() - started)


def e1_paging(port: int, records: int, consume_rate: float, row: Callable) -> None:
    """On a server whose stream holds `records` records (the consume row's)."""
    rate = asyncio.run(_page_loop(port, records))
    row("E1 reads: GET /v1/records?limit=100 paged by cursor (baseline: the consume loop)", "≥ 50% of consume",
        rate, "rec/s", consume_rate, "higher")


def proxy_overhead(emulator: Callable, row: Callable, seconds: float) -> None:
    server = emulator("--records-per-collection", "20", "--changes-per-hour", "0")
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=60)
    stream = http.post("/v1/streams", json={"slug": "proxy"}).json()
    sync = http.post("/v1/syncs", json={
        "stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"], "sync_frequency": "4h",
        "rate_limit": {"allowed_requests": 1_000_000, "interval": 1},  # the proxy's pacing, never the bottleneck
        "credential": {"properties": {"kind": "stripe_key", "secret": "sk_bench"}}}).json()
    base = http.get(f"/_emulator/upstream/{sync['credential_id']}").json()["api_base"].removeprefix(server.url)
    customer = http.get(f"/v1/proxy/sync/{sync['id']}/v1/customers?limit=1").json()["data"][0]["id"]
    direct = request_bytes("GET", f"{base}/v1/customers/{customer}", token="sk_bench")
    proxied = request_bytes("GET", f"/v1/proxy/sync/{sync['id']}/v1/customers/{customer}")
    runs: dict[bytes, list[tuple[float, float]]] = {direct: [], proxied: []}
    for request in (direct, proxied, direct, proxied):  # alternating, so neither gains from a warmer server
        runs[request].append(asyncio.run(hammer(server.port, lambda n, i, r=request: r, 32, seconds / 2)))
    server.stop()
    (direct_rate, direct_p99), (proxy_rate, proxy_p99) = ((sum(r for r, _ in runs[k]) / 2, max(p for _, p in runs[k]))
                                                          for k in (direct, proxied))
    row("proxy: GET a Stripe customer through /v1/proxy/sync (baseline: the account's own base), requests/s",
        "≥ 83% of direct (≤ 1.2× its time)", proxy_rate, "req/s", direct_rate, "higher")
    row("proxy: the same, p99", "-", proxy_p99, "ms", direct_p99, "lower")


def stripe_change_to_consumer(emulator: Callable, row: Callable, samples: int) -> None:
    server = emulator("--records-per-collection", "5", "--changes-per-hour", "0")  # the real clock
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=30)
    stream = http.post("/v1/streams", json={"slug": "live"}).json()
    sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                        "credential": {"properties": {"kind": "stripe_key", "secret": "sk_live"}}}).json()
    deadline = time.monotonic() + 30
    while http.get(f"/v1/syncs/{sync['id']}").json()["initial_backfill_completed_at"] is None:
        assert time.monotonic() < deadline, "the backfill did not finish"
        time.sleep(0.05)
    consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"], "deliver_policy": "new"}).json()
    customer = http.get(f"/_emulator/upstream/{sync['credential_id']}/records?collection_id=stripe:customer"
                        ).json()["data"][0]["id"]
    waiter = httpx.Client(base_url=server.url, headers=http.headers, timeout=30)
    latencies = []
    for i in range(samples):
        got: dict = {}

        def wait(got: dict = got) -> None:
            answer = waiter.post(f"/v1/http-consumers/{consumer['id']}/next", json={"wait_for": 10000}).json()
            got["at"] = time.perf_counter()
            waiter.post(f"/v1/http-consumers/{consumer['id']}/ack",
                        json={"ack_tokens": [m["ack_token"] for m in answer["data"]]})

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.05 + (i % 10) * 0.05)  # changes land at every phase of the polls
        sent = time.perf_counter()
        http.post(f"/_emulator/upstream/{sync['credential_id']}/changes", json={
            "kind": "update", "collection_id": "stripe:customer", "upstream_id": customer,
            "data": {"name": f"Change {i}"}})
        thread.join(timeout=15)
        latencies.append(got["at"] - sent)
    server.stop()
    latencies.sort()
    row("Stripe change → waiting next(wait_for) on the real clock, p99 (Sequin: within 1-2 s)", "≤ 1.5 s",
        latencies[max(0, int(len(latencies) * 0.99) - 1)], "s", None, "lower")
