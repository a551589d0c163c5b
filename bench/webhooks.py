"""Benchmarks of push delivery (webhook consumers), each against a baseline measured in the same run:

- deliveries per second to a local receiver (a bare Starlette app on uvicorn), against the same number of POSTs of
  the same bodies made by a plain `aiohttp.ClientSession` (the sender's client) at the same concurrency;
- a change written to the stream → delivered to the receiver, p99, on the real clock;
- the worst latency of a request to the emulator while 1,000 deliveries are being retried against a dead receiver
  (a scaled clock, so back-offs pass quickly), against the same requests with no webhook consumer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import httpx
import orjson

from sequin_emulator.launcher import free_port
from sequin_emulator.testing import WebhookReceiver
from sequin_emulator.webhook_sender import PER_ORIGIN

STRIPE = {"kind": "stripe_key", "secret": "sk_bench_hooks"}


def _sync(http: httpx.Client) -> tuple[dict, dict]:
    stream = http.post("/v1/streams", json={"slug": "hooks"}).json()
    sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                        "sync_frequency": "4h", "credential": {"properties": STRIPE}}).json()
    return stream, sync


def _write(http: httpx.Client, stream: dict, sync: dict, count: int, customer: Callable[[int], dict]) -> None:
    for start in range(0, count, 1000):
        records = [{"collection_id": "stripe:customer", "upstream_id": f"cus_{i:014d}", "data": customer(i)}
                   for i in range(start, min(count, start + 1000))]
        http.post(f"/_emulator/streams/{stream['id']}/records", json={"sync_id": sync["id"], "records": records})


def throughput(emulator: Callable, bare: Callable, row: Callable, customer: Callable[[int], dict], count: int) -> None:
    receiver = bare()
    server = emulator("--clock", "manual", "--records-per-collection", "0", "--changes-per-hour", "0")
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=120)
    stream, sync = _sync(http)
    _write(http, stream, sync, count, customer)
    started = time.perf_counter()
    hook = http.post("/v1/consumers/webhook", json={"name": "b", "url": f"{receiver.url}/hooks",
                                                    "max_in_flight": 100}).json()
    deadline = started + 300
    while http.get(f"/v1/consumers/webhook/{hook['id']}").json()["delivered"] < count:
        assert time.perf_counter() < deadline, "the deliveries did not finish within 300 s"
        time.sleep(0.02)
    rate = count / (time.perf_counter() - started)
    body = b'{"record":' + orjson.dumps(http.get("/v1/records?limit=1").json()["records"][0]) + b"}"
    server.stop()

    async def plain() -> float:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=PER_ORIGIN)) as client:
            semaphore = asyncio.Semaphore(PER_ORIGIN)

            async def post() -> None:
                async with semaphore, client.post(f"{receiver.url}/hooks", data=body,
                                                  headers={"content-type": "application/json"}) as answer:
                    await answer.read()

            began = time.perf_counter()
            await asyncio.gather(*(post() for _ in range(count)))
            return count / (time.perf_counter() - began)

    base = asyncio.run(plain())
    receiver.stop()
    row(f"webhooks: deliveries/s to a local receiver ({count:,} records, max_in_flight 100; baseline: plain aiohttp "
        f"POSTs, the sender's client, {PER_ORIGIN} at once as it sends to one origin)", "≥ 2,000/s", rate, "msg/s",
        base, "higher")


def latency(emulator: Callable, row: Callable, samples: int) -> None:
    server = emulator("--records-per-collection", "0", "--changes-per-hour", "0")  # the real clock
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=30)
    stream, sync = _sync(http)
    latencies = []
    with WebhookReceiver() as receiver:
        http.post("/v1/consumers/webhook", json={"name": "l", "url": receiver.url, "start": "end"})
        time.sleep(0.3)  # the sender's round picks the consumer up
        for i in range(samples):
            sent = time.perf_counter()
            http.post(f"/_emulator/streams/{stream['id']}/records", json={"sync_id": sync["id"], "records": [
                {"collection_id": "stripe:customer", "upstream_id": f"c{i}", "data": {"id": f"c{i}"}}]})
            receiver.wait_for(i + 1)
            latencies.append((time.perf_counter() - sent) * 1000)
    server.stop()
    latencies.sort()
    row("webhooks: write → delivered to a local receiver on the real clock, p99", "-",
        latencies[max(0, int(len(latencies) * 0.99) - 1)], "ms", None, "lower")


def _worst_latency(url: str, seconds: float) -> float:
    worst, stop = 0.0, time.perf_counter() + seconds
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer probe"}, timeout=30) as probe:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            probe.get("/v1/streams")
            worst = max(worst, (time.perf_counter() - began) * 1000)
            time.sleep(0.005)
    return worst


def retrying(emulator: Callable, row: Callable, customer: Callable[[int], dict], seconds: float) -> None:
    """10 consumers × 100 in flight against a port nobody listens on, on a clock 600× real time (back-offs of up
    to an hour come round every 6 s), while another tenant's requests are timed."""
    worst = {}
    for label, consumers in (("retrying", 10), ("none", 0)):
        server = emulator("--clock", "scaled", "--clock-scale", "600", "--records-per-collection", "0",
                          "--changes-per-hour", "0")
        http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=120)
        stream, sync = _sync(http)
        _write(http, stream, sync, 1000, customer)
        dead = f"http://127.0.0.1:{free_port()}/dead"
        for n in range(consumers):
            http.post("/v1/consumers/webhook", json={"name": f"d{n}", "url": dead, "max_in_flight": 100})
        time.sleep(1.0)  # every consumer's first attempts under way
        worst[label] = _worst_latency(server.url, seconds)
        if consumers:
            journal = http.get("/_emulator/journal?limit=1000").json()["data"]
            assert any(entry.get("webhook") for entry in journal), "no delivery was attempted"
        server.stop()
    row("webhooks: worst request latency of another tenant while 1,000 deliveries retry against a dead receiver "
        "(baseline: no webhook consumers)", "≤ 50 ms", worst["retrying"], "ms", worst["none"], "lower")
