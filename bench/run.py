"""The emulator's benchmarks, each against a baseline measured in the same run; prints one table.

    .venv/bin/python bench/run.py [--quick] [--no-prism] [--only postgres|providers|reliability|surface|webhooks]

Rows: figure, target, measured value, baseline, ratio. Baselines: a bare Starlette app on uvicorn serving the
same bytes (start-up, throughput, latency), plain copying plus JSON encoding of the same records (generation),
a plain psycopg COPY / INSERT into the same PostgreSQL server (Postgres consumers, bench/postgres.py), and
localstripe serving the same SDK workload (the Stripe API, bench/stripe_api.py).
`--quick` shortens every measurement (for a smoke run); the figures in RESULTS.md come from a full run.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import postgres  # noqa: E402
import reliability  # noqa: E402
import robustness  # noqa: E402
import stripe_api  # noqa: E402
import surface  # noqa: E402
import webhooks  # noqa: E402
from load import hammer, read_response, request_bytes  # noqa: E402

from sequin_emulator.launcher import free_port, wait_healthy  # noqa: E402

QUIET = ["--records-per-collection", "0", "--changes-per-hour", "0"]
ROWS: list[tuple[str, str, str, str, str]] = []


def row(figure: str, target: str, value: float, unit: str, baseline: float | None, better: str) -> None:
    """`better` is "higher" or "lower": the ratio is always value / baseline."""
    ratio = f"{value / baseline:.2f}" if baseline else "-"
    base = f"{baseline:,.3g} {unit}" if baseline is not None else "-"
    ROWS.append((figure, target, f"{value:,.3g} {unit}", base, ratio))
    print(f"  {figure}: {value:,.3g} {unit} (baseline {base}, ratio {ratio}, {better} is better)", flush=True)


class Server:
    def __init__(self, argv: list[str], env: dict | None = None) -> None:
        self.port = free_port()
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, *argv, *self._port_args(argv)], cwd=ROOT,
                                        env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_healthy(self.url, timeout=30, process=self.process)
        self.startup = time.perf_counter() - started

    def _port_args(self, argv: list[str]) -> list[str]:
        return ["--port", str(self.port)] if "sequin_emulator" in argv else [str(self.port)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def emulator(*args: str) -> Server:
    return Server(["-m", "sequin_emulator", "serve", *args])


def bare(body: bytes = b'{"status":"ok"}') -> Server:
    handle = tempfile.NamedTemporaryFile(delete=False, suffix=".json")
    handle.write(body)
    handle.close()
    return Server([str(ROOT / "bench" / "bare_app.py")], env={"BARE_BODY_FILE": handle.name})


# ------------------------------------------------------------------ 1. cold start

def cold_start(runs: int) -> None:
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(runs):
        for servers, start in ((ours, emulator), (theirs, bare)):
            server = start()
            servers.append(server.startup)
            server.stop()
    row("cold start (process start → first 200 from health), median", "≤ 0.8 s", statistics.median(ours), "s",
        statistics.median(theirs), "lower")


# ------------------------------------------------------------------ 2. management throughput

def management(seconds: float) -> None:
    server = emulator(*QUIET)
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"})
    stream = http.post("/v1/streams", json={"slug": "bench"}).json()
    sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                        "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
    sync_body = http.get(f"/v1/syncs/{sync['id']}").content
    stream_body = http.post("/v1/streams", json={"slug": "sample"}).content
    get_sync = request_bytes("GET", f"/v1/syncs/{sync['id']}")

    def post_stream(n: int, i: int) -> bytes:
        return request_bytes("POST", "/v1/streams", json.dumps({"slug": f"s{n}-{i}"}).encode())

    results = {}
    for name, make in (("get", lambda n, i: get_sync), ("post", post_stream)):
        results[name] = asyncio.run(hammer(server.port, make, 32, seconds))
    server.stop()
    for name, body, make in (("get", sync_body, lambda n, i: get_sync), ("post", stream_body, post_stream)):
        baseline = bare(body)
        base_rate, base_p99 = asyncio.run(hammer(baseline.port, make, 32, seconds))
        baseline.stop()
        rate, p99 = results[name]
        label = "GET /v1/syncs/{id}" if name == "get" else "POST /v1/streams"
        row(f"{label}, 32 keep-alive connections: requests/s", "≥ 50% of bare", rate, "req/s", base_rate, "higher")
        row(f"{label}, 32 keep-alive connections: p99", "-", p99, "ms", base_p99, "lower")


# ------------------------------------------------------------------ 3. consume throughput

def _customer(i: int) -> dict:
    from sequin_emulator.providers.stripe.model import templates

    record = copy.deepcopy(templates()["customer"])
    record.update(id=f"cus_{i:014d}", email=f"customer{i}@example.com", name=f"Customer {i}")
    return record


async def _consume_loop(port: int, consumer_path: str, total: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received, started = 0, time.perf_counter()
    next_request = request_bytes("POST", f"{consumer_path}/next", b'{"batch_size":100}')
    while received < total:
        writer.write(next_request)
        _, body = await read_response(reader)
        answer = orjson.loads(body)
        tokens = [m["ack_token"] for m in answer["data"]]
        received += len(tokens)
        writer.write(request_bytes("POST", f"{consumer_path}/ack", orjson.dumps({"ack_tokens": tokens})))
        await read_response(reader)
    writer.close()
    return received / (time.perf_counter() - started)


def consume(records: int) -> None:
    server = emulator(*QUIET)
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=60)
    stream = http.post("/v1/streams", json={"slug": "consume"}).json()
    sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                        "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
    for start in range(0, records, 1000):
        batch = [{"collection_id": "stripe:customer", "upstream_id": f"cus_{i:014d}", "data": _customer(i)}
                 for i in range(start, min(records, start + 1000))]
        http.post(f"/_emulator/streams/{stream['id']}/records", json={"sync_id": sync["id"], "records": batch})
    consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"]}).json()
    sample = http.post(f"/v1/http-consumers/{consumer['id']}/next", json={"batch_size": 100}).content
    http.patch(f"/v1/http-consumers/{consumer['id']}", json={"deliver_policy": "new"})
    http.patch(f"/v1/http-consumers/{consumer['id']}", json={"deliver_policy": "all"})  # replay from the start
    rate = asyncio.run(_consume_loop(server.port, f"/v1/http-consumers/{consumer['id']}", records))
    baseline = bare(sample)
    base_rate = asyncio.run(_consume_loop(baseline.port, "/v1", records))
    baseline.stop()
    row("consume: next(batch_size=100) + ack over HTTP, Stripe customers", "≥ 20,000 rec/s and ≥ 50% of bare", rate,
        "rec/s", base_rate, "higher")
    surface.e1_paging(server.port, records, rate, row)  # the same stream, read the E1 way
    server.stop()


# ------------------------------------------------------------------ 4. generation

def generation(records: int) -> None:
    from sequin_emulator.domain import engine, streams, syncs
    from sequin_emulator.domain.inputs import NewStream, NewSync
    from sequin_emulator.domain.tenant import ClockStart, Tenants
    from sequin_emulator.domain.upstream import AccountSettings
    from sequin_emulator.providers.stripe.model import Stripe
    from sequin_emulator.spec.bodies import parse

    per_collection = records // len(Stripe.collections)
    tenants = Tenants(seed=1, clock=ClockStart(mode="manual", start=1_704_067_200_000_000),
                      accounts=AccountSettings(records_per_collection=per_collection, changes_per_hour=0,
                                               history_days=60))  # within the 900,000 record-days an account may ask
    tenant = tenants.get("bench")
    started = time.perf_counter()
    stream = streams.create(tenant, NewStream("gen"))
    sync = syncs.create(tenant, parse(NewSync, {
        "stream_id": stream.id, "name": "s", "collection_ids": [f"stripe:{c}" for c in Stripe.collections],
        "rate_limit": {"allowed_requests": 1000, "interval": 1},
        "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}))
    engine.advance_clock(tenant, tenant.now() + 3600 * 1_000_000)
    elapsed = time.perf_counter() - started
    written = len(stream.log)
    assert sync.initial_backfill_completed_at is not None
    started = time.perf_counter()
    for i in range(written):
        orjson.dumps(_customer(i))
    base = written / (time.perf_counter() - started)
    row(f"generation: {written:,} Stripe records backfilled on the manual clock", "≥ 20,000 rec/s", written / elapsed,
        "rec/s", base, "higher")


# ------------------------------------------------------------------ 5. memory

MEMORY_SCRIPT = """
import copy, os, sys
sys.path.insert(0, {root!r})
from sequin_emulator.domain import streams, syncs
from sequin_emulator.domain.inputs import NewStream, NewSync
from sequin_emulator.domain.tenant import ClockStart, Tenants
from sequin_emulator.domain.upstream import AccountSettings
from sequin_emulator.providers.stripe.model import templates
from sequin_emulator.spec.bodies import parse

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

tenant = Tenants(clock=ClockStart(mode="manual", start=0), accounts=AccountSettings(records_per_collection=0)).get("m")
stream = streams.create(tenant, NewStream("m"))
sync = syncs.create(tenant, parse(NewSync, {{"stream_id": stream.id, "name": "s", "collection_ids": ["stripe:customer"],
                                         "credential": {{"properties": {{"kind": "stripe_key", "secret": "sk"}}}}}}))
template = templates()["customer"]
before = rss()
size = 0
for i in range({records}):
    data = dict(template, id="cus_%014d" % i, email="customer%d@example.com" % i, name="Customer %d" % i)
    size += len(streams.write_record(tenant, sync, "stripe:customer", data["id"], data).payload)
print(rss() - before, size)
"""


def memory(records: int) -> None:
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT.format(root=str(ROOT), records=records)],
                         capture_output=True, text=True, check=True).stdout.split()
    grown, json_bytes = int(out[0]), int(out[1])
    row(f"memory: resident bytes per stored record ({records:,} records)", "≤ 2× JSON size", grown / records, "B",
        json_bytes / records, "lower")


# ------------------------------------------------------------------ 6. change propagation

def propagation(samples: int) -> None:
    server = emulator(*QUIET)
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=30)
    stream = http.post("/v1/streams", json={"slug": "prop"}).json()
    sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                        "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
    consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"]}).json()
    latencies = []
    waiter = httpx.Client(base_url=server.url, headers=http.headers, timeout=30)
    for i in range(samples):
        got: dict = {}

        def wait(got: dict = got) -> None:
            answer = waiter.post(f"/v1/http-consumers/{consumer['id']}/next", json={"wait_for": 10000}).json()
            got["at"] = time.perf_counter()
            waiter.post(f"/v1/http-consumers/{consumer['id']}/ack", json={"ack_tokens": [answer["data"][0]["ack_token"]]})

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.01)
        sent = time.perf_counter()
        http.post(f"/_emulator/streams/{stream['id']}/records", json={
            "sync_id": sync["id"], "records": [{"collection_id": "stripe:customer", "upstream_id": f"c{i}"}]})
        thread.join(timeout=15)
        latencies.append((got["at"] - sent) * 1000)
    server.stop()
    baseline = bare()
    with httpx.Client(base_url=baseline.url) as client:
        base = []
        for _ in range(samples):
            started = time.perf_counter()
            client.get("/x")
            base.append((time.perf_counter() - started) * 1000)
    baseline.stop()
    latencies.sort()
    base.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    row("change propagation: write → waiting next(wait_for), p99", "≤ 20 ms", p99, "ms",
        base[max(0, int(len(base) * 0.99) - 1)], "lower")


# ------------------------------------------------------------------ 7. isolation

def isolation(count: int) -> None:
    from sequin_emulator.domain.tenant import Tenants

    tenants = Tenants()
    started = time.perf_counter()
    for i in range(count):
        tenants.get(f"tenant-{i}")
        tenants.reset(f"tenant-{i}")
    cost = (time.perf_counter() - started) / count * 1000
    started = time.perf_counter()
    for i in range(count):
        dict(token=f"tenant-{i}", streams={}, syncs={})
    base = (time.perf_counter() - started) / count * 1000
    row("isolation: a new tenant plus its reset", "≤ 1 ms", cost, "ms", base, "lower")


# ------------------------------------------------------------------ 8. peer

def prism(seconds: float) -> None:
    npx = shutil.which("npx")
    if npx is None:
        print("  prism: skipped (npx is not available)")
        return
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([npx, "--yes", "@stoplight/prism-cli@5", "mock", "-p", str(port), "-h", "127.0.0.1",
                                str(ROOT / "openapi" / "sequin.yaml")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.perf_counter() + 180
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            print("  prism: skipped (it did not start within 180 s; npm may be unreachable)")
            return
        startup = time.perf_counter() - started
        rate, _ = asyncio.run(hammer(port, lambda n, i: request_bytes("GET", "/v1/streams"), 32, seconds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    ours = emulator(*QUIET)
    our_rate, _ = asyncio.run(hammer(ours.port, lambda n, i: request_bytes("GET", "/v1/streams"), 32, seconds))
    ours.stop()
    row("peer: Prism mock start-up, first run including npx download", "-", startup, "s", None, "lower")
    row("peer: GET /v1/streams, 32 connections, emulator (baseline: Prism)", "-", our_rate, "req/s", rate, "higher")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--no-prism", action="store_true")
    parser.add_argument("--only", choices=["postgres", "providers", "reliability", "surface", "webhooks"],
                        help="run only these rows")
    args = parser.parse_args()
    q = args.quick
    print("running benchmarks" + (" (quick)" if q else ""), flush=True)
    if args.only is None:
        everything_else(args)
    if args.only in (None, "postgres"):
        postgres.throughput(emulator, row, _customer, 10_000 if q else 100_000)
        postgres.lag(emulator, row, 20 if q else 200)
    if args.only in (None, "providers"):
        stripe_api.throughput(emulator, row, 100 if q else 1000)
    if args.only in (None, "surface"):
        if args.only == "surface":
            consume(2000 if q else 100_000)
        surface.proxy_overhead(emulator, row, 1.0 if q else 5.0)
        surface.stripe_change_to_consumer(emulator, row, 10 if q else 100)
    if args.only in (None, "webhooks"):
        webhooks.throughput(emulator, bare, row, _customer, 2000 if q else 20_000)
        webhooks.latency(emulator, row, 20 if q else 200)
        webhooks.retrying(emulator, row, _customer, 2.0 if q else 10.0)
    if args.only in (None, "reliability"):
        robustness.export(emulator, row, 1000 if q else 10_000, 1 if q else 3)
        reliability.events(emulator, row, 10_000 if q else 100_000)
        reliability.targets(emulator, row, 1000 if q else 10_000)
        reliability.keyed_writes(emulator, row, 1000 if q else 10_000)
        reliability.reset_tenants(emulator, row, 100 if q else 1000)
    widths = [max(len(r[i]) for r in ROWS + [("figure", "target", "measured", "baseline", "ratio")]) for i in range(5)]
    print()
    for r in [("figure", "target", "measured", "baseline", "ratio")] + ROWS:
        print(" | ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)))


def everything_else(args: argparse.Namespace) -> None:
    q = args.quick
    cold_start(2 if q else 7)
    management(1.0 if q else 5.0)
    consume(2000 if q else 20000)
    generation(7000 if q else 100_000)
    memory(20_000 if q else 1_000_000)
    propagation(20 if q else 200)
    isolation(200 if q else 5000)
    robustness.pauses(emulator, row, 2.0 if q else 10.0)
    robustness.long_advance(emulator, row, 20 if q else 200)
    robustness.growth(emulator, row, 8.0 if q else 60.0)
    robustness.wrk(emulator, bare, row, 1.0 if q else 5.0)
    if not args.no_prism:
        prism(1.0 if q else 5.0)


if __name__ == "__main__":
    main()
