"""End to end over real HTTP, the way users' code does it: a default emulator, a Stripe sync, a consumer,
and a `next` / process / `ack` loop that sleeps briefly when nothing is pending."""

from __future__ import annotations

import time

import httpx

from sequin_emulator.launcher import running_emulator


def _consume(http: httpx.Client, consumer_id: str, state: dict, seen: list, deadline: float, until) -> None:
    """Drain like a user's worker: upsert by upstream id keeping the highest updated_idx, drop tombstones.
    Stops when `until(last answer)` is true, or at `deadline`."""
    while time.monotonic() < deadline:
        answer = http.get(f"/v1/http-consumers/{consumer_id}/next", params={"batch_size": 20}).json()
        for message in answer["data"]:
            record = message["record"]
            seen.append(record)
            key = (record["collection_id"], record["upstream_id"])
            if key not in state or state[key]["updated_idx"] < record["updated_idx"]:
                state[key] = record
        if answer["data"]:
            assert http.post(f"/v1/http-consumers/{consumer_id}/ack",
                             json={"ack_tokens": [m["ack_token"] for m in answer["data"]]}).status_code == 204
        if until(answer):
            return
        if answer["info"]["num_pending"] == 0:
            time.sleep(0.05)


def test_default_server_backfills_then_trickles_changes():
    # 3600x: one wall second is an emulator hour, so the default change rate shows in seconds
    with running_emulator("--clock", "scaled", "--clock-scale", "3600") as url, \
            httpx.Client(base_url=url, headers={"Authorization": "Bearer user"}, timeout=10) as http:
        stream = http.post("/v1/streams", json={"slug": "prod"}).json()
        sync = http.post("/v1/syncs", json={
            "stream_id": stream["id"], "name": "Stripe", "collection_ids": ["stripe:customer", "stripe:invoice"],
            "credential": {"properties": {"kind": "stripe_key", "secret": "sk_test_user"}}}).json()
        consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"]}).json()
        state: dict = {}
        seen: list = []
        started = time.monotonic()
        _consume(http, consumer["id"], state, seen, started + 20,
                 lambda answer: answer["info"]["num_pending"] == 0 and len(seen) >= 40 and
                 http.get(f"/v1/syncs/{sync['id']}").json()["initial_backfill_completed_at"] is not None)
        backfilled = len(seen)
        assert {r["collection_id"] for r in seen} == {"stripe:customer", "stripe:invoice"} and backfilled >= 40
        assert time.monotonic() - started < 10  # within seconds
        _consume(http, consumer["id"], state, seen, time.monotonic() + 20,
                 lambda answer: any(r["deleted"] for r in seen[backfilled:]) and len(seen) > backfilled + 20)
        live = seen[backfilled:]
        assert any(r["deleted"] for r in live), "tombstones arrive"
        ids = {(r["collection_id"], r["upstream_id"]) for r in seen[:backfilled]}
        assert any((r["collection_id"], r["upstream_id"]) not in ids for r in live), "inserts arrive"
        assert any((r["collection_id"], r["upstream_id"]) in ids and not r["deleted"] for r in live), "updates arrive"


def test_a_real_client_loop_drains_a_backfilled_sync_to_the_upstream_state():
    with running_emulator("--clock", "manual", "--records-per-collection", "150", "--changes-per-hour", "0") as url, \
            httpx.Client(base_url=url, headers={"Authorization": "Bearer drain"}, timeout=10) as http:
        stream = http.post("/v1/streams", json={"slug": "drain"}).json()
        sync = http.post("/v1/syncs", json={
            "stream_id": stream["id"], "name": "Stripe", "sync_frequency": "continuous",
            "collection_ids": ["stripe:customer", "stripe:product"],
            "credential": {"properties": {"kind": "stripe_key", "secret": "sk_test_drain"}}}).json()
        consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"], "ack_wait_ms": 600000}).json()
        http.post("/_emulator/clock/advance", json={"by": "10s"})
        changes = f"/_emulator/upstream/{sync['credential_id']}/changes"
        first = http.get(f"/v1/http-consumers/{consumer['id']}/next").json()["data"][0]["record"]
        http.post(changes, json={"kind": "update", "collection_id": first["collection_id"],
                                 "upstream_id": first["upstream_id"], "data": {"name": "Updated"}})
        product = http.get(f"/_emulator/upstream/{sync['credential_id']}/records",
                           params={"collection_id": "stripe:product"}).json()["data"][0]["id"]
        assert http.post(changes, json={"kind": "delete", "collection_id": "stripe:product",
                                        "upstream_id": product}).status_code == 200
        http.get(f"/v1/http-consumers/{consumer['id']}/next?batch_size=1000")  # more deliveries left to time out
        http.post("/_emulator/clock/advance", json={"by": "10m"})  # the two earlier deliveries time out
        state: dict = {}
        seen: list[dict] = []
        _consume(http, consumer["id"], state, seen, time.monotonic() + 30,
                 lambda answer: answer["info"] == {"num_pending": 0, "num_ack_pending": 0})
        keys = [(r["collection_id"], r["upstream_id"], r["updated_idx"]) for r in seen]
        assert len(keys) == len(set(keys)), "each record version arrives once"
        final = {key: record["data"] for key, record in state.items() if not record["deleted"]}
        upstream = {(collection_id, obj["id"]): obj for collection_id in ("stripe:customer", "stripe:product")
                    for obj in http.get(f"/_emulator/upstream/{sync['credential_id']}/records",
                                        params={"collection_id": collection_id}).json()["data"]}
        assert final == upstream and len(upstream) == 150 + 150  # a product with prices is archived, not deleted
        assert final[(first["collection_id"], first["upstream_id"])]["name"] == "Updated"
