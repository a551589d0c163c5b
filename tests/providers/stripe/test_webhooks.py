"""A simulated Stripe account's webhook endpoints, driven by the official `stripe` SDK: created with a secret shown
once, sent every enabled event the account emits, signed so that `stripe.Webhook.construct_event` accepts it,
retried on the emulator's clock when the endpoint fails, and silent once disabled or deleted."""

from __future__ import annotations

import time

import pytest
import stripe

from sequin_emulator.testing import WebhookReceiver


def _events(receiver: WebhookReceiver, secret: str, count: int) -> list[stripe.Event]:
    return [stripe.Webhook.construct_event(d.body, d.headers["stripe-signature"], secret)
            for d in receiver.wait_for(count)]


def test_an_endpoint_gets_its_enabled_events_signed_for_the_sdk(account, receiver):
    client = account.stripe
    endpoint = client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["customer.created"],
                                                "metadata": {"app": "billing"}})
    assert endpoint.id.startswith("we_") and endpoint.secret.startswith("whsec_") and endpoint.status == "enabled"
    assert "secret" not in client.webhook_endpoints.retrieve(endpoint.id)  # answered on create only
    assert [e.id for e in client.webhook_endpoints.list().data] == [endpoint.id]
    customer = client.customers.create({"email": "hooked@example.com"})
    client.customers.update(customer.id, {"name": "Not enabled"})  # customer.updated: not sent
    [event] = _events(receiver, endpoint.secret, 1)
    assert event.type == "customer.created" and event.data.object.id == customer.id
    assert isinstance(event.data.object, stripe.Customer)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(receiver.received[0].body, receiver.received[0].headers["stripe-signature"],
                                       "whsec_wrong")
    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_a_failing_endpoint_is_retried_on_the_clock_then_given_up(account, receiver):
    receiver.status = 500
    client = account.stripe
    endpoint = client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    client.products.create({"name": "Spice"})
    first = receiver.wait_for(1)[0]

    def tries() -> list[dict]:
        journal = account.sequin.get("/_emulator/journal?limit=1000").json()["data"]
        return [e["webhook"] for e in journal if e.get("webhook", {}).get("endpoint_id") == endpoint.id]

    for step, attempts in (("5m", 2), ("1h", 3), ("3h", 4), ("1d", 4)):
        deadline = time.monotonic() + 10
        while len(tries()) < attempts - 1 and time.monotonic() < deadline:  # the failure recorded, a retry due
            time.sleep(0.01)
        account.sequin.advance(step)
        assert len(receiver.wait_for(attempts)) == attempts
    assert receiver.received[-1].body == first.body  # the same event, signed afresh
    time.sleep(0.3)
    assert len(receiver.received) == 4  # three retries, then given up
    assert sorted(t["attempt"] for t in tries()) == [1, 2, 3, 4] and all(t["error"] for t in tries())


def test_disabled_and_deleted_endpoints_are_sent_nothing(account, receiver):
    client = account.stripe
    endpoint = client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    assert client.webhook_endpoints.update(endpoint.id, {"disabled": True}).status == "disabled"
    client.customers.create({"email": "quiet@example.com"})
    time.sleep(0.3)
    assert receiver.received == []
    assert client.webhook_endpoints.delete(endpoint.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.webhook_endpoints.retrieve(endpoint.id)
    for url in ("ftp://nope", "http://127.0.0.1/\x00x"):
        with pytest.raises(stripe.InvalidRequestError) as bad:
            client.webhook_endpoints.create({"url": url, "enabled_events": ["*"]})
        assert bad.value.param == "url"


def test_endpoints_survive_export_and_import(account, receiver):
    client = account.stripe
    endpoint = client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["product.created"]})
    state = account.sequin.get("/_emulator/state").json()
    saved = next(a for a in state["accounts"].values() if a.get("webhook_endpoints"))
    assert saved["webhook_endpoints"][0]["data"]["secret"] == endpoint.secret
    account.sequin.request("PUT", "/_emulator/state", state).raise_for_status()
    client.products.create({"name": "After import"})
    [event] = _events(receiver, endpoint.secret, 1)
    assert event.type == "product.created" and event.data.object.name == "After import"


def test_an_imported_endpoint_whose_place_is_past_the_events_starts_at_their_end(account, receiver):
    client = account.stripe
    client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["product.created"]})
    state = account.sequin.get("/_emulator/state").json()
    saved = next(a for a in state["accounts"].values() if a.get("webhook_endpoints"))["webhook_endpoints"][0]
    saved["position"] += 1000
    saved["out"] = [[saved["position"] + 5, 1, 0]]
    account.sequin.request("PUT", "/_emulator/state", state).raise_for_status()
    client.products.create({"name": "Still sent"})
    assert receiver.wait_for(1)[0].json()["data"]["object"]["name"] == "Still sent"


def test_an_events_pending_webhooks_counts_the_endpoints_it_has_yet_to_reach(account, receiver):
    receiver.status = 500
    client = account.stripe
    client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["product.created"]})
    product = client.products.create({"name": "Saffron"})
    receiver.wait_for(1)
    [event] = client.events.list({"type": "product.created"}).data[:1]
    assert event.data.object.id == product.id and event.pending_webhooks == 1
    assert client.events.retrieve(event.id).pending_webhooks == 1
    receiver.status = 200
    account.sequin.advance("6m")
    receiver.wait_for(2)
    deadline = time.monotonic() + 10
    while client.events.retrieve(event.id).pending_webhooks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.events.retrieve(event.id).pending_webhooks == 0


def test_an_account_holds_at_most_stripes_16_endpoints_and_they_survive_a_round_trip(account, receiver):
    client = account.stripe
    for _ in range(16):
        client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["customer.created"]})
    with pytest.raises(stripe.InvalidRequestError) as full:
        client.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["customer.created"]})
    assert "maximum number of webhook endpoints (16)" in str(full.value.user_message)
    state = account.sequin.get("/_emulator/state").json()
    account.sequin.request("PUT", "/_emulator/state", state).raise_for_status()  # a full account still imports
    assert len(client.webhook_endpoints.list({"limit": 100}).data) == 16
