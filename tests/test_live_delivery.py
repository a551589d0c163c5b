"""Delivery over real HTTP on the real clock: long polling, and many workers sharing one consumer."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import httpx
import pytest

from sequin_emulator.launcher import running_emulator

RECORDS = 400
WORKERS = 8
PROVOKED = 10  # messages worker 0 nacks on purpose, once each


@pytest.fixture(scope="module")
def server():
    with running_emulator("--seed", "5", "--records-per-collection", "0", "--changes-per-hour", "0") as url:
        yield url


@pytest.fixture
def setup(server):
    """`setup(token, **consumer)`: a client of the server for a new tenant, with a stream, a Stripe sync and a
    consumer; every client is closed after the test."""
    with contextlib.ExitStack() as stack:
        def make(token: str, **consumer) -> tuple[httpx.Client, dict, dict]:
            http = stack.enter_context(httpx.Client(base_url=server, headers={"Authorization": f"Bearer {token}"},
                                                    timeout=10))
            stream = http.post("/v1/streams", json={"slug": "live"}).json()
            sync = http.post("/v1/syncs", json={
                "stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
            created = http.post("/v1/http-consumers", json={"stream_id": stream["id"], **consumer}).json()
            return http, sync, created
        yield make


def _inject(http: httpx.Client, sync: dict, upstream_ids: list[str]) -> None:
    records = [{"collection_id": "stripe:customer", "upstream_id": uid, "data": {"id": uid}} for uid in upstream_ids]
    response = http.post(f"/_emulator/streams/{sync['stream_id']}/records", json={"sync_id": sync["id"], "records": records})
    assert response.status_code == 200


def test_long_poll_wakes_as_soon_as_a_record_arrives(setup):
    http, sync, consumer = setup("long-poll")
    result: dict = {}

    def wait():
        started = time.monotonic()
        result["answer"] = http.post(f"/v1/http-consumers/{consumer['id']}/next", json={"wait_for": 10000}).json()
        result["elapsed"] = time.monotonic() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    _inject(http, sync, ["cus_late"])
    waiter.join(timeout=15)
    assert [m["record"]["upstream_id"] for m in result["answer"]["data"]] == ["cus_late"]
    assert 0.25 <= result["elapsed"] < 5  # woke on the write, long before wait_for
    started = time.monotonic()
    empty = http.get(f"/v1/http-consumers/{consumer['id']}/next?wait_for=300").json()
    assert empty["data"] == [] and 0.25 <= time.monotonic() - started < 5


def test_long_poll_wakes_when_an_ack_deadline_passes(setup):
    http, sync, consumer = setup("deadline", ack_wait_ms=300)
    _inject(http, sync, ["cus_1"])
    first = http.post(f"/v1/http-consumers/{consumer['id']}/next").json()
    started = time.monotonic()
    again = http.post(f"/v1/http-consumers/{consumer['id']}/next", json={"wait_for": 10000}).json()
    assert [m["record"]["upstream_id"] for m in again["data"]] == ["cus_1"]
    assert again["data"][0]["ack_token"] != first["data"][0]["ack_token"]
    assert 0.1 <= time.monotonic() - started < 5


def test_eight_workers_on_one_consumer_lose_nothing_and_duplicate_nothing(setup):
    http, sync, consumer = setup("workers")
    upstream_ids = [f"cus_{i:04d}" for i in range(RECORDS)]
    for start in range(0, RECORDS, 100):
        _inject(http, sync, upstream_ids[start:start + 100])
    deliveries: Counter = Counter()
    acked: Counter = Counter()
    settled: Counter = Counter()  # status → ack and nack answers
    provoked: set[str] = set()
    lock = threading.Lock()
    give_up = time.monotonic() + 60

    def work(worker: int) -> None:
        with httpx.Client(base_url=http.base_url, headers=http.headers, timeout=10) as client:
            while time.monotonic() < give_up:
                with lock:
                    if sum(acked.values()) >= RECORDS:
                        return
                answer = client.post(f"/v1/http-consumers/{consumer['id']}/next",
                                     json={"batch_size": 10, "wait_for": 200}).json()
                to_ack, to_nack = [], []
                with lock:
                    for message in answer["data"]:
                        uid = message["record"]["upstream_id"]
                        deliveries[uid] += 1
                        if worker == 0 and len(provoked) < PROVOKED and uid not in provoked:
                            provoked.add(uid)
                            to_nack.append(message["ack_token"])
                        else:
                            to_ack.append(message["ack_token"])
                            acked[uid] += 1
                for verb, tokens in (("nack", to_nack), ("ack", to_ack)):
                    if tokens:
                        response = client.post(f"/v1/http-consumers/{consumer['id']}/{verb}", json={"ack_tokens": tokens})
                        with lock:
                            settled[response.status_code] += 1  # asserted in the main thread, where failures fail

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "every worker finished in time"
    assert set(settled) == {204}, settled
    assert set(acked) == set(upstream_ids), "every record arrives"
    assert all(n == 1 for n in acked.values()), "each is acked once"
    assert sum(deliveries.values()) == RECORDS + len(provoked), "no redelivery but the provoked ones"
    assert all(deliveries[uid] == 2 for uid in provoked)
    info = http.get(f"/v1/http-consumers/{consumer['id']}/next").json()["info"]
    assert info == {"num_pending": 0, "num_ack_pending": 0}
