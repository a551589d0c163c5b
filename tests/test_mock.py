"""`sequin_emulator.mock()`: unchanged user code (the real hosts, the official SDKs, no base URL) talks to an
in-process emulator through httpx (sync and async), requests and urllib3; other hosts pass through or are
refused; the test reads the same state through the mock's TenantClient."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest
import requests
import stripe
import urllib3
from hubspot import HubSpot

import sequin_emulator
from sequin_emulator.in_process import MockError

STRIPE_KEY = "sk_test_basic"  # the shipped stripe-basic scenario's key
HUBSPOT_TOKEN = "pat-mock"
WORLD = {
    "clock": {"mode": "manual", "now": "2024-01-01T00:00:00Z"},
    "credentials": [
        {"name": "stripe", "properties": {"kind": "stripe_key", "secret": STRIPE_KEY},
         "upstream": {"records_per_collection": 2, "changes_per_hour": 0}},
        {"name": "hubspot", "properties": {"kind": "hubspot", "hub_id": 41, "refresh_token": "rt",
                                                        "access_token": HUBSPOT_TOKEN},
         "upstream": {"records_per_collection": 2, "changes_per_hour": 0}}],
    "streams": [{"slug": "main"}],
    "syncs": [{"name": "stripe", "stream": "main", "credential": "stripe", "collection_ids": ["stripe:customer"]},
              {"name": "hubspot", "stream": "main", "credential": "hubspot", "collection_ids": ["hubspot:contact"]}],
    "consumers": [{"name": "worker", "stream": "main"}],
}


# ------------------------------------------------------------------ the user's code, unchanged

def app_lists_syncs_with_httpx() -> list[str]:
    answer = httpx.get("https://api.sequin.io/v1/syncs", headers={"Authorization": "Bearer my-app-token"})
    answer.raise_for_status()
    return sorted(s["name"] for s in answer.json()["data"])


async def app_lists_syncs_async() -> list[str]:
    async with httpx.AsyncClient() as client:
        answer = await client.get("https://api.sequin.io/v1/syncs", headers={"Authorization": "Bearer t"})
    return sorted(s["name"] for s in answer.json()["data"])


def app_creates_a_stripe_customer(email: str) -> str:
    stripe.api_key = STRIPE_KEY  # no base URL: the real host
    return str(stripe.Customer.create(email=email).id)


def app_creates_a_hubspot_contact(email: str) -> str:
    from hubspot.crm.contacts import SimplePublicObjectInputForCreate

    client = HubSpot(access_token=HUBSPOT_TOKEN)
    return str(client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": email})).id)


# ------------------------------------------------------------------ tests

@pytest.fixture
def world() -> Iterator[sequin_emulator.mock]:
    with sequin_emulator.mock(WORLD) as m:
        m.tenant.wait_for_backfill(m.tenant.get("/v1/syncs").json()["data"][0]["id"], steps=60)
        yield m


def test_the_sequin_api_through_httpx_sync_and_async(world):
    assert app_lists_syncs_with_httpx() == ["hubspot", "stripe"]
    assert asyncio.run(app_lists_syncs_async()) == ["hubspot", "stripe"]


def test_the_stripe_sdk_without_a_base_url_reaches_the_account_holding_its_key(world):
    customer_id = app_creates_a_stripe_customer("new@example.com")
    credential = world.tenant.get("/v1/credentials").json()["data"]
    stripe_id = next(c["id"] for c in credential if c["provider"] == "stripe")
    upstream = world.tenant.upstream(stripe_id, "stripe:customer")
    assert customer_id.startswith("cus_") and customer_id in {c["id"] for c in upstream}
    world.tenant.advance("1m")
    worker = world.tenant.load({"consumers": [{"name": "late", "stream": "main"}]})["consumers"]["late"]
    seen = {r["upstream_id"] for r in world.tenant.drain(worker)}
    assert customer_id in seen  # the sync picked the SDK's write up, in the same emulator


def test_the_hubspot_sdk_through_urllib3(world):
    contact_id = app_creates_a_hubspot_contact("crm@example.com")
    credentials = world.tenant.get("/v1/credentials").json()["data"]
    hubspot_id = next(c["id"] for c in credentials if c["provider"] == "hubspot")
    assert contact_id in {c["id"] for c in world.tenant.upstream(hubspot_id, "hubspot:contact")}


def test_the_hubspot_webhooks_api_with_its_developer_key_in_the_query(world):
    from hubspot.webhooks import SubscriptionCreateRequest

    credentials = world.tenant.get("/v1/credentials").json()["data"]
    hubspot_id = next(c["id"] for c in credentials if c["provider"] == "hubspot")
    app_id = world.tenant.get(f"/_emulator/upstream/{hubspot_id}").json()["app"]["app_id"]
    developer = HubSpot(api_key=HUBSPOT_TOKEN).webhooks  # `hapikey=...` to api.hubapi.com
    made = developer.subscriptions_api.create(app_id, SubscriptionCreateRequest(event_type="contact.creation"))
    assert [s.id for s in developer.subscriptions_api.get_all(app_id).results] == [made.id]


def test_requests_and_plain_urllib3(world):
    answer = requests.get("https://api.stripe.com/v1/customers?limit=1", auth=(STRIPE_KEY, ""), timeout=5)
    assert answer.status_code == 200 and answer.json()["object"] == "list"
    raw = urllib3.PoolManager().request("GET", "https://api.hubapi.com/crm/v3/objects/contacts?limit=1",
                                        headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"})
    assert raw.status == 200 and len(raw.json()["results"]) == 1


def test_an_unknown_key_gets_the_providers_401_and_a_shared_key_is_an_error(world):
    wrong = requests.get("https://api.stripe.com/v1/customers", auth=("sk_test_nobody", ""), timeout=5)
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "invalid_request_error"
    world.tenant.load({"credentials": [{"name": "twin", "properties": {"kind": "stripe_oauth2",
                                                                        "stripe_user_id": "acct_twin",
                                                                        "access_token": STRIPE_KEY}}]})
    with pytest.raises(MockError, match="held by 2"):
        requests.get("https://api.stripe.com/v1/customers", auth=(STRIPE_KEY, ""), timeout=5)


@pytest.fixture
def receiver() -> Iterator[str]:
    """A real HTTP server on loopback: another host the user's code calls."""
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_other_hosts_pass_through_or_are_refused(receiver):
    with sequin_emulator.mock():
        assert httpx.get(receiver).text == "hello" and requests.get(receiver, timeout=5).text == "hello"
    with sequin_emulator.mock(block_other_hosts=True), pytest.raises(MockError, match="127.0.0.1"):
        httpx.get(receiver)
    assert httpx.get(receiver).text == "hello"  # outside the mock, nothing is patched


def test_the_decorator_gives_each_call_its_own_emulator():
    @sequin_emulator.mock("stripe-basic")
    def count_customers() -> int:
        stripe.api_key = STRIPE_KEY
        before = len(stripe.Customer.list(limit=100).data)
        stripe.Customer.create(email="once@example.com")
        return before

    assert count_customers() == count_customers()

    @sequin_emulator.mock()
    async def list_syncs() -> list[str]:
        return await app_lists_syncs_async()

    assert asyncio.run(list_syncs()) == []


def test_the_same_seed_gives_the_same_ids():
    def run() -> list[str]:
        with sequin_emulator.mock(WORLD, seed=5):
            return [app_creates_a_stripe_customer(f"{n}@example.com") for n in range(3)]

    assert run() == run()


def test_server_true_serves_the_same_state_over_http():
    with sequin_emulator.mock(server=True) as m:
        assert m.url is not None and m.url.startswith("http://127.0.0.1:")
        m.tenant.load({"streams": [{"slug": "shared"}]})
        over_http = httpx.get(f"{m.url}/v1/streams", headers={"Authorization": "Bearer mock"})
        assert [s["slug"] for s in over_http.json()["data"]] == ["shared"]
        assert app_lists_syncs_with_httpx() == []  # the in-process route works beside it
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{m.url}/_emulator/health")  # stopped with the mock


def test_faults_apply_in_process_as_over_http(world):
    credentials = world.tenant.get("/v1/credentials").json()["data"]
    stripe_id = next(c["id"] for c in credentials if c["provider"] == "stripe")
    assert world.tenant.request("PUT", f"/_emulator/upstream/{stripe_id}/settings", json={"outage": True}).is_success
    down = requests.get("https://api.stripe.com/v1/customers", auth=(STRIPE_KEY, ""), timeout=5)
    assert down.status_code == 500 and down.json()["error"]["type"] == "api_error"
    assert world.tenant.request("PUT", "/_emulator/faults", json={"api_rate_limit": 1}).is_success
    answers = [httpx.get("https://api.sequin.io/v1/syncs").status_code for _ in range(3)]
    assert 429 in answers  # the tenant's own rate limit, as over HTTP


def test_webhook_deliveries_are_the_emulators_own_traffic_even_when_other_hosts_are_blocked():
    from sequin_emulator.testing import WebhookReceiver, verify_signature

    with WebhookReceiver() as receiver, sequin_emulator.mock(WORLD, block_other_hosts=True) as m:
        hook = m.tenant.post("/v1/consumers/webhook", {"name": "hooks", "url": receiver.url}).json()
        m.tenant.advance("5s")  # the syncs backfill: 2 customers and 2 contacts
        deliveries = receiver.wait_for(4)
        assert {verify_signature(d.body, d.headers, hook["secret"])["record"]["provider"] for d in deliveries} \
            == {"stripe", "hubspot"}
        with pytest.raises(MockError):
            httpx.get(receiver.url)  # the user's own request to the same host is refused
