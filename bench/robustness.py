"""Benchmarks of the promises that nothing a client does stalls the server or grows it without end.

Each is measured against a baseline in the same run:
- pauses: the worst request latency while a 100,000-object account sits in memory and traffic churns, against
  the same traffic on an emulator without the account (a full garbage collection over the account's objects
  would show as one slow request);
- long advance: the worst latency of `GET /_emulator/health` while another tenant advances a failing sync by
  999,999 days, against health's worst latency with nothing else running;
- export: the worst latency of `GET /_emulator/health` while another tenant exports the state of a
  10,000-per-collection Stripe account, against health's worst latency with nothing else running;
- growth: how much the server's memory grows per simulated hour on a scaled clock (x3600) with a sync and a
  draining consumer, against how much the live data it holds grows (the account's objects as JSON);
- wrk: the management rows again with a C load generator (`wrk`, when installed), so the client is not what
  is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import httpx
from load import request_bytes, timed

STRIPE = {"kind": "stripe_key", "secret": "sk_bench"}
HUBSPOT = {"kind": "hubspot", "hub_id": 4242, "refresh_token": "rt"}
ALL_STRIPE = [f"stripe:{c}" for c in ("customer", "subscription", "invoice", "charge", "payment_intent", "product",
                                      "price")]


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _churn(port: int, sync_id: str, seconds: float) -> float:
    """Worst latency (ms) of 4 connections reading a sync and creating streams (garbage to collect)."""
    def make(n: int, i: int) -> bytes:
        if i % 2:
            return request_bytes("POST", "/v1/streams", json.dumps({"slug": f"c{n}-{i}"}).encode())
        return request_bytes("GET", f"/v1/syncs/{sync_id}")
    _, latencies = asyncio.run(timed(port, make, 4, seconds))
    return latencies[-1] * 1000


def pauses(emulator, row, seconds: float) -> None:
    worst = {}
    for label, size in (("big", 10_000), ("none", 0)):
        server = emulator("--clock", "manual", "--changes-per-hour", "0", "--records-per-collection", str(size))
        http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=120)
        sync = http.post("/v1/syncs", json={"name": "s", "collection_ids": ALL_STRIPE,
                                            "credential": {"properties": STRIPE}}).json()
        http.post("/v1/syncs", json={"name": "h", "collection_ids": ["hubspot:contact"],
                                     "credential": {"properties": HUBSPOT}})
        worst[label] = _churn(server.port, sync["id"], seconds)
        server.stop()
    row("pauses: worst request latency, 100,000-object account in memory, churning traffic", "≤ 50 ms",
        worst["big"], "ms", worst["none"], "lower")


def _health_latencies(probe: httpx.Client, count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        probe.get("/_emulator/health")
        found.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)
    return found


def long_advance(emulator, row, samples: int) -> None:
    server = emulator("--clock", "manual", "--records-per-collection", "20")
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer failing"}, timeout=120)
    sync = http.post("/v1/syncs", json={"name": "s", "collection_ids": ALL_STRIPE,
                                        "credential": {"properties": STRIPE}}).json()
    http.put(f"/_emulator/upstream/{sync['credential_id']}/settings", json={"outage": True, "changes_per_hour": 1000})
    probe = httpx.Client(base_url=server.url, timeout=30)
    quiet = _health_latencies(probe, samples)
    busy: list[float] = []
    advancing = threading.Thread(target=lambda: http.post("/_emulator/clock/advance", json={"by": "999999d"}))
    advancing.start()
    while advancing.is_alive():
        busy.extend(_health_latencies(probe, 5))
    advancing.join()
    server.stop()
    row(f"long advance: worst health latency while a failing sync advances 999,999 days ({len(busy)} probes)",
        "≤ 100 ms", max(busy), "ms", max(quiet), "lower")


def export(emulator, row, size: int, exports: int) -> None:
    server = emulator("--clock", "manual", "--records-per-collection", str(size), "--changes-per-hour", "0")
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer exporting"}, timeout=300)
    credential = http.post("/v1/credentials", json={"properties": STRIPE}).json()
    http.get(f"/_emulator/upstream/{credential['id']}")  # the account, generated
    probe = httpx.Client(base_url=server.url, timeout=30)
    quiet = _health_latencies(probe, 50)
    busy: list[float] = []
    sizes: list[int] = []
    for _ in range(exports):  # downloaded by curl: the probe's own process stays idle but for the probe
        exporting = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", "-H",
                                      "Authorization: Bearer exporting", f"{server.url}/_emulator/state"],
                                     stdout=subprocess.PIPE, text=True)
        while exporting.poll() is None:
            busy.extend(_health_latencies(probe, 5))
        sizes.append(int(exporting.communicate()[0] or 0))
    server.stop()
    row(f"export: worst health latency while another tenant exports a {size:,}-per-collection account "
        f"({exports} × {sizes[0] / 1e6:.0f} MB, {len(busy)} probes)", "≤ 50 ms", max(busy), "ms", max(quiet), "lower")


def growth(emulator, row, seconds: float) -> None:
    server = emulator("--clock", "scaled", "--clock-scale", "3600", "--records-per-collection", "20")
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer grow"}, timeout=60)
    sync = http.post("/v1/syncs", json={"name": "s", "collection_ids": ALL_STRIPE,
                                        "credential": {"properties": STRIPE}}).json()
    consumer = http.post("/v1/http-consumers", json={}).json()

    def live_bytes() -> int:
        return sum(len(json.dumps(http.get(f"/_emulator/upstream/{sync['credential_id']}/records",
                                           params={"collection_id": c}).json()["data"])) for c in ALL_STRIPE)

    def drain(until: float) -> None:
        while time.perf_counter() < until:
            answer = http.post(f"/v1/http-consumers/{consumer['id']}/next", json={"batch_size": 1000}).json()
            tokens = [m["ack_token"] for m in answer["data"]]
            if tokens:
                http.post(f"/v1/http-consumers/{consumer['id']}/ack", json={"ack_tokens": tokens})
            else:
                time.sleep(0.05)

    drain(time.perf_counter() + seconds / 4)  # warm-up: allocator pools, caches
    rss, live, clock = _rss(server.process.pid), live_bytes(), http.get("/_emulator/clock").json()["now"]
    drain(time.perf_counter() + seconds)
    rss_after, live_after = _rss(server.process.pid), live_bytes()
    hours = (_parse(http.get("/_emulator/clock").json()["now"]) - _parse(clock)) / 3600
    server.stop()
    row(
        f"growth: resident memory per simulated hour, x3600 clock, drained ({hours:.0f} h)",
        "≤ 8× the live data (objects + served JSON)",
        (rss_after - rss) / hours / 1e6,
        "MB/h",
        (live_after - live) / hours / 1e6,
        "lower",
    )


def _parse(stamp: str) -> float:
    from sequin_emulator.domain.timefmt import parse_timestamp
    return parse_timestamp(stamp) / 1e6


def wrk(emulator, bare, row, seconds: float) -> None:
    if shutil.which("wrk") is None:
        print("  wrk: not installed (Debian's `wrk` package); skipped", flush=True)
        return
    server = emulator("--clock", "manual", "--records-per-collection", "0", "--changes-per-hour", "0")
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"})
    sync = http.post("/v1/syncs", json={"name": "s", "collection_ids": ["stripe:customer"],
                                        "credential": {"properties": STRIPE}}).json()
    body = http.get(f"/v1/syncs/{sync['id']}").content
    path = f"/v1/syncs/{sync['id']}"
    ours = _wrk(server.url + path, seconds)
    server.stop()
    baseline = bare(body)
    theirs = _wrk(baseline.url + path, seconds)
    baseline.stop()
    row("wrk: GET /v1/syncs/{id}, 32 connections, 2 threads: requests/s", "≥ 50% of bare", ours, "req/s", theirs,
        "higher")


def _wrk(url: str, seconds: float) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.headers["Authorization"] = "Bearer bench"\n')
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{max(1, int(seconds))}s", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    return statistics.fmean(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec"))
