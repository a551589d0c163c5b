"""The sync engine on the manual clock: backfill pacing, max_age_days, frequencies, faults, determinism."""

from __future__ import annotations

import pytest

from sequin_emulator.domain.timefmt import parse_timestamp
from sequin_emulator.domain.upstream import AccountSettings
from tests.conftest import START, Api

STILL = dict(changes_per_hour=0)


@pytest.fixture
def emulator(start_emulator):
    """`emulator(seed, **account)`: a tenant on an emulator of its own, simulated accounts shaped by `account`."""
    return lambda seed=7, **account: start_emulator(
        "engine", seed=seed, accounts=AccountSettings(**{"records_per_collection": 20, **account}))


def faulty_sync(api: Api, stream: dict, faults: dict, **fields) -> dict:
    """A Stripe sync whose upstream account has `faults` from the start."""
    cred = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk_test_1", "test": True}})
    api.ok("PUT", f"/_emulator/upstream/{cred['id']}/settings", faults)
    return api.sync(stream["id"], credential=None, credential_id=cred["id"], **fields)


def seconds_after_start(timestamp: str) -> float:
    return (parse_timestamp(timestamp) - parse_timestamp(START)) / 1e6


@pytest.fixture
def stripe(emulator):
    api = emulator(records_per_collection=250, **STILL)
    stream = api.stream()
    return api, stream, api.consumer(stream["id"])


def test_backfill_time_follows_the_rate_limit(stripe):
    api, stream, consumer = stripe
    sync = api.sync(stream["id"], collection_ids=["stripe:customer", "stripe:invoice"], sync_frequency="4h",
                    rate_limit={"allowed_requests": 2, "interval": 1})
    assert sync["initial_backfill_completed_at"] is None
    customers = len(api.upstream(sync["credential_id"], "stripe:customer"))
    invoices = len(api.upstream(sync["credential_id"], "stripe:invoice"))  # one per billed period: more
    assert customers == 250 and invoices > 250
    # pages of 100, one request every 0.5 s from t=0: the last page at (pages - 1) / 2 s
    last = (-(-customers // 100) + -(-invoices // 100) - 1) * 0.5
    api.ok("POST", "/_emulator/clock/advance", {"by": f"{int(last * 1000) - 1}ms"})
    assert api.ok("GET", f"/v1/syncs/{sync['id']}")["initial_backfill_completed_at"] is None
    api.ok("POST", "/_emulator/clock/advance", {"by": "1ms"})
    done = api.ok("GET", f"/v1/syncs/{sync['id']}")["initial_backfill_completed_at"]
    assert seconds_after_start(done) == last
    records = api.drain(consumer["id"])
    assert [r["collection_id"] for r in records] == ["stripe:customer"] * customers + ["stripe:invoice"] * invoices
    created = [r["upstream_created_at"] for r in records[:customers]]
    assert created == sorted(created)  # oldest first
    assert all(seconds_after_start(r["inserted_at"]) in (0, 0.5, 1.0) for r in records[:customers])


def test_max_concurrent_requests_caps_the_pace(stripe):
    api, stream, _ = stripe
    sync = api.sync(stream["id"], sync_frequency="4h",
                    rate_limit={"allowed_requests": 1000, "interval": 1, "max_concurrent_requests": 1})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    # 3 pages, each simulated request taking 100 ms with one at a time: the last starts at 0.2 s
    assert seconds_after_start(api.ok("GET", f"/v1/syncs/{sync['id']}")["initial_backfill_completed_at"]) == 0.2


def test_max_age_days_limits_the_backfill(emulator):
    api = emulator(records_per_collection=100, history_days=90, **STILL)
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    api.sync(stream["id"], max_age_days=30)
    api.ok("POST", "/_emulator/clock/advance", {"by": "10s"})
    records = api.drain(consumer["id"])
    assert 10 < len(records) < 70  # about a third of 100 spread over 90 days
    assert all(seconds_after_start(r["upstream_created_at"]) >= -30 * 86400 for r in records)


def _customer_id(api: Api, consumer: dict) -> str:
    return api.drain(consumer["id"])[0]["upstream_id"]


@pytest.fixture
def backfilled(emulator):
    """A quiet Stripe customer sync whose backfill (20 customers) is done; returns (api, consumer, sync, a customer id)."""
    api = emulator(**STILL)
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    sync = api.sync(stream["id"])
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    return api, consumer, sync, _customer_id(api, consumer)


@pytest.mark.parametrize("frequency,unseen_after,seen_after", [("continuous", "200ms", "300ms"), ("4h", "1h", "3h")])
def test_changes_arrive_at_the_sync_frequency(emulator, frequency, unseen_after, seen_after):
    """Stripe's events are polled twice a second in `continuous` mode (Sequin's Stripe page), every 4 hours in `4h`."""
    api = emulator(**STILL)
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    sync = api.sync(stream["id"], sync_frequency=frequency)
    api.ok("POST", "/_emulator/clock/advance", {"by": "1250ms"})  # the change comes between two polls
    customer = _customer_id(api, consumer)
    change = api.ok("POST", f"/_emulator/upstream/{sync['credential_id']}/changes",
                    {"kind": "update", "collection_id": "stripe:customer", "upstream_id": customer,
                     "data": {"email": "paul@arrakis.example"}})
    assert change["kind"] == "update" and change["data"]["email"] == "paul@arrakis.example"
    api.ok("POST", "/_emulator/clock/advance", {"by": unseen_after})
    assert api.drain(consumer["id"]) == []  # upstream now, but not polled yet
    api.ok("POST", "/_emulator/clock/advance", {"by": seen_after})
    [record] = api.drain(consumer["id"])
    assert record["upstream_id"] == customer and record["data"]["email"] == "paul@arrakis.example"


def test_injected_insert_and_delete_reach_the_stream_as_record_and_tombstone(backfilled):
    api, consumer, sync, _ = backfilled
    url = f"/_emulator/upstream/{sync['credential_id']}/changes"
    new = api.ok("POST", url, {"kind": "insert", "collection_id": "stripe:customer", "data": {"email": "a@b.example"}})
    gone = api.ok("POST", url, {"kind": "delete", "collection_id": "stripe:customer", "upstream_id": new["upstream_id"]})
    assert gone["deleted"] is True
    api.ok("POST", "/_emulator/clock/advance", {"by": "2s"})
    records = api.drain(consumer["id"])
    assert [(r["upstream_id"], r["deleted"]) for r in records] == [(new["upstream_id"], True)]  # once, latest version
    assert records[0]["data"]["email"] == "a@b.example"
    bad = api.post(url, {"kind": "update", "collection_id": "stripe:customer", "upstream_id": new["upstream_id"],
                         "data": {"email": "x"}})
    assert bad.status_code == 404  # deleted upstream
    invalid = api.post(url, {"kind": "insert", "collection_id": "stripe:customer", "data": {"email": "not-an-email"}})
    assert invalid.status_code == 422 and "data.email" in invalid.json()["validation_errors"]
    unknown = api.post(url, {"kind": "insert", "collection_id": "hubspot:contact", "data": {}})
    assert unknown.status_code == 422


def test_disabled_sync_pauses_and_resumes(backfilled):
    api, consumer, sync, customer = backfilled
    api.ok("PATCH", f"/v1/syncs/{sync['id']}", {"status": "disabled"})
    api.ok("POST", f"/_emulator/upstream/{sync['credential_id']}/changes",
           {"kind": "update", "collection_id": "stripe:customer", "upstream_id": customer, "data": {"name": "Paused"}})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1m"})
    assert api.drain(consumer["id"]) == []
    api.ok("PATCH", f"/v1/syncs/{sync['id']}", {"status": "active"})
    api.ok("POST", "/_emulator/clock/advance", {"by": "2s"})
    assert [r["data"]["name"] for r in api.drain(consumer["id"])] == ["Paused"]


def test_adding_a_collection_backfills_it_and_removing_one_stops_its_changes(backfilled):
    api, consumer, sync, _ = backfilled
    api.ok("PATCH", f"/v1/syncs/{sync['id']}", {"collection_ids": ["stripe:product"]})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    products = api.drain(consumer["id"])
    assert {r["collection_id"] for r in products} == {"stripe:product"} and len(products) == 20
    patched = api.ok("GET", f"/v1/syncs/{sync['id']}")
    api.ok("POST", f"/_emulator/upstream/{sync['credential_id']}/changes",
           {"kind": "insert", "collection_id": "stripe:customer", "data": {}})
    api.ok("POST", "/_emulator/clock/advance", {"by": "5s"})
    assert api.drain(consumer["id"]) == [] and patched["collection_ids"] == ["stripe:product"]


def test_outage_stalls_then_recovers_with_health_notes(emulator):
    api = emulator(**STILL)
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    sync = faulty_sync(api, stream, {"outage": True})
    cred = {"id": sync["credential_id"]}
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    health = api.ok("GET", f"/v1/syncs/{sync['id']}")["health"]
    assert health["status"] == "warn" and "unavailable" in health["notes"][0]
    api.ok("POST", "/_emulator/clock/advance", {"by": "1m"})
    health = api.ok("GET", f"/v1/syncs/{sync['id']}")["health"]
    assert health["status"] == "error" and health["provider"]["status"] == "error"
    assert api.drain(consumer["id"]) == []
    assert api.ok("GET", "/v1/syncs?health.status=error")["data"][0]["id"] == sync["id"]
    api.ok("PUT", f"/_emulator/upstream/{cred['id']}/settings", {"outage": False})
    api.ok("POST", "/_emulator/clock/advance", {"by": "2m"})
    recovered = api.ok("GET", f"/v1/syncs/{sync['id']}")
    assert recovered["health"] == {"status": "healthy", "sync_id": sync["id"]}
    assert recovered["initial_backfill_completed_at"] is not None and len(api.drain(consumer["id"])) == 20


def test_revoked_credential_errors_until_imported_again(emulator):
    api = emulator(**STILL)
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    sync = faulty_sync(api, stream, {"revoked": True})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    health = api.ok("GET", f"/v1/syncs/{sync['id']}")["health"]
    assert health["status"] == "error" and health["credential"]["status"] == "error"
    credential = api.ok("GET", f"/v1/credentials/{sync['credential_id']}")
    assert credential["health"]["status"] == "error" and "401" in credential["health"]["notes"][0]
    assert api.drain(consumer["id"]) == []
    api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk_test_1", "test": True}})
    assert api.ok("GET", f"/v1/credentials/{sync['credential_id']}")["health"]["status"] == "ok"
    api.ok("POST", "/_emulator/clock/advance", {"by": "2m"})
    assert api.ok("GET", f"/v1/syncs/{sync['id']}")["health"]["status"] == "healthy"
    assert len(api.drain(consumer["id"])) == 20


def test_throttling_slows_progress_and_warns(stripe):
    api, stream, _ = stripe
    sync = faulty_sync(api, stream, {"throttle": True}, sync_frequency="4h",
                       rate_limit={"allowed_requests": 2, "interval": 1})
    api.ok("POST", "/_emulator/clock/advance", {"by": "10s"})
    found = api.ok("GET", f"/v1/syncs/{sync['id']}")
    assert seconds_after_start(found["initial_backfill_completed_at"]) == 4.0  # 3 pages, 2 s apart instead of 0.5 s
    assert found["health"]["status"] == "warn" and "429" in found["health"]["notes"][0]


def test_error_rate_slows_but_completes(stripe):
    api, stream, consumer = stripe
    sync = faulty_sync(api, stream, {"error_rate": 0.5}, sync_frequency="4h",
                       rate_limit={"allowed_requests": 2, "interval": 1})
    api.ok("POST", "/_emulator/clock/advance", {"by": "5m"})
    found = api.ok("GET", f"/v1/syncs/{sync['id']}")
    assert seconds_after_start(found["initial_backfill_completed_at"]) > 1.0
    assert len(api.drain(consumer["id"])) == 250


def test_size_is_fixed_once_the_account_exists(emulator):
    api = emulator(**STILL)
    sync = api.sync(api.stream()["id"])
    refused = api.put(f"/_emulator/upstream/{sync['credential_id']}/settings", {"records_per_collection": 5})
    assert refused.status_code == 422 and "records_per_collection" in refused.json()["validation_errors"]
    cred = api.ok("POST", "/v1/credentials", {"properties": {"kind": "hubspot", "hub_id": 5, "refresh_token": "r"}})
    settings = api.ok("PUT", f"/_emulator/upstream/{cred['id']}/settings", {"records_per_collection": 3})
    assert settings["records_per_collection"] == 3


def test_deleting_a_sync_keeps_its_records_and_stops_changes(emulator):
    api = emulator()
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    sync = api.sync(stream["id"])
    api.ok("POST", "/_emulator/clock/advance", {"by": "1s"})
    api.ok("DELETE", f"/v1/syncs/{sync['id']}")
    assert len(api.drain(consumer["id"])) >= 20  # what it wrote stays
    api.ok("POST", "/_emulator/clock/advance", {"by": "1h"})
    assert api.drain(consumer["id"]) == []


def _run(emulator, seed: int) -> list[str]:
    api = emulator(seed=seed, records_per_collection=30)
    stream = api.stream()
    consumer = api.consumer(stream["id"])
    api.sync(stream["id"], collection_ids=list(f"stripe:{c}" for c in ("customer", "subscription", "invoice", "price")))
    api.ok("POST", "/v1/syncs", {"stream_id": stream["id"], "name": "crm", "collection_ids": ["hubspot:contact"],
                                 "credential": {"properties": {"kind": "hubspot", "hub_id": 9, "refresh_token": "r"}}})
    answers = []
    for _ in range(6):
        api.ok("POST", "/_emulator/clock/advance", {"by": "40m"})
        answer = api.post(f"/v1/http-consumers/{consumer['id']}/next", {"batch_size": 1000})
        answers.append(answer.text)
        api.ack(consumer, [m["ack_token"] for m in answer.json()["data"]])
    return answers


def test_a_manual_clock_run_is_byte_for_byte_reproducible(emulator):
    first = _run(emulator, 11)
    assert first == _run(emulator, 11)
    assert first != _run(emulator, 12)
    everything = "".join(first)
    for marker in ['"deleted":true', '"collection_id":"stripe:invoice"', '"collection_id":"hubspot:contact"']:
        assert marker in everything


def test_collections_api(emulator):
    api = emulator(**STILL)
    stripe_cred = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk"}})
    listed = api.ok("GET", f"/v1/collections/{stripe_cred['id']}")["data"]
    assert {c["id"] for c in listed} == {f"stripe:{c}" for c in ("customer", "subscription", "invoice", "charge",
                                                                  "payment_intent", "product", "price", "refund")}
    customer = api.ok("GET", f"/v1/collections/{stripe_cred['id']}/stripe:customer")
    email = next(f for f in customer["fields"] if f["name"] == "email")
    assert email == {"id": "stripe:customer:email", "name": "email", "accessor": "email", "type": "text",
                     "primary_key": False}
    assert next(f for f in customer["fields"] if f["name"] == "id")["primary_key"] is True
    assert api.get(f"/v1/collections/{stripe_cred['id']}/hubspot:contact").status_code == 404
    hub = api.ok("POST", "/v1/credentials", {"properties": {"kind": "hubspot", "hub_id": 1, "refresh_token": "r"}})
    contact = api.ok("GET", f"/v1/collections/{hub['id']}/hubspot:contact")
    assert {"accessor": "properties.email", "name": "email"}.items() <= next(
        f for f in contact["fields"] if f["name"] == "email").items()
    started = api.ok("POST", f"/v1/collections/{hub['id']}/refresh/start")
    assert started["status"] == "processing"
    api.ok("POST", "/_emulator/clock/advance", {"by": "3s"})
    assert api.ok("GET", f"/v1/collections/{hub['id']}/refresh/status")["status"] == "succeeded"
    airtable = api.ok("POST", "/v1/credentials", {"properties": {"kind": "airtable_oauth2", "airtable_uid": "u",
                                                                 "refresh_token": "r"}})
    assert api.ok("GET", f"/v1/collections/{airtable['id']}") == {"data": []}
