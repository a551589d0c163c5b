"""The same Stripe workload through the official `stripe` SDK against the emulator's Stripe API and against
localstripe (a pip-installable stateful fake Stripe, the `bench` extra), in the same run: create customers,
retrieve each, then list them all in pages of 100 (auto-paging). Operations per second, higher is better."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import stripe

from sequin_emulator.launcher import free_port

KEY = "sk_test_bench_workload"


def _workload(client: stripe.StripeClient, customers: int) -> float:
    """Operations per second: `customers` creates, as many retrieves, and the pages of a full listing (after a
    few untimed calls: the emulator builds its name and address pools on the first customer)."""
    for _ in range(3):
        client.v1.customers.retrieve(client.v1.customers.create({"email": "warm@example.com"}).id)
    started = time.perf_counter()
    ids = [client.v1.customers.create({"email": f"c{i}@example.com", "name": f"Customer {i}"}).id
           for i in range(customers)]
    for customer_id in ids:
        client.v1.customers.retrieve(customer_id)
    listed = list(client.v1.customers.list({"limit": 100}).auto_paging_iter())
    pages = customers // 100 + 1
    assert {c.id for c in listed} >= set(ids)  # (3 warm-up customers more)
    return (2 * customers + pages) / (time.perf_counter() - started)


def _client(base: str) -> stripe.StripeClient:
    return stripe.StripeClient(KEY, base_addresses={"api": base}, max_network_retries=0,
                               http_client=stripe.HTTPXClient(allow_sync_methods=True))


def throughput(emulator: Callable, row: Callable, customers: int) -> None:
    program = shutil.which("localstripe", path=str(Path(sys.executable).parent)) or shutil.which("localstripe")
    if program is None:
        print("  Stripe API vs localstripe: skipped (pip install 'sequin-emulator[bench]' brings localstripe)")
        return
    server = emulator("--records-per-collection", "0", "--changes-per-hour", "0")
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer bench"}, timeout=30) as http:
            credential = http.post("/v1/credentials", json={"properties": {"kind": "stripe_key", "secret": KEY}}).json()
            http.get(f"/_emulator/upstream/{credential['id']}/records", params={"collection_id": "stripe:customer"})
            base = http.get(f"/_emulator/upstream/{credential['id']}").json()["api_base"]
        ours = _workload(_client(base), customers)
    finally:
        server.stop()
    port = free_port()
    peer = subprocess.Popen([program, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/customers", auth=(KEY, ""), timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        theirs = _workload(_client(f"http://127.0.0.1:{port}"), customers)
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    row(f"Stripe API via stripe-python: {customers} creates + retrieves + list pages", "≥ 2× localstripe", ours,
        "ops/s", theirs, "higher")
