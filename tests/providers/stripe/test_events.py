"""A simulated Stripe account's events as Stripe names them, read through the official `stripe` SDK: the types
webhook handlers switch on (`invoice.paid`, `charge.failed`, `payment_intent.payment_failed`, ...), none where
Stripe sends none, `data.previous_attributes` on updates, and `request` naming the API call that made them."""

from __future__ import annotations

import pytest
import stripe


def _since(client, marker):
    """The events after the one with id `marker` (all, if None), oldest first."""
    return list(reversed(client.events.list({"limit": 100, **({"ending_before": marker} if marker else {})}).data))


def _last(client) -> str | None:
    """The latest event's id, if there is one."""
    newest = client.events.list({"limit": 1}).data
    return newest[0].id if newest else None


def _monthly(client, name: str, email: str):
    """A new monthly price of a new product, and a new customer to subscribe to it."""
    product = client.products.create({"name": name})
    price = client.prices.create({"product": product.id, "unit_amount": 2500, "currency": "usd",
                                  "recurring": {"interval": "month"}})
    return price, client.customers.create({"email": email})


def test_a_subscription_bills_with_the_events_handlers_expect(account):
    client = account.stripe
    price, customer = _monthly(client, "Spice", "leto@example.com")
    marker = _last(client)
    client.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
    types = [e.type for e in _since(client, marker)]
    assert {"customer.subscription.created", "invoice.created", "invoice.paid", "payment_intent.succeeded",
            "charge.succeeded"} <= set(types), types  # (a subscription's invoice is made open: no invoice.finalized)
    assert not any(t.endswith(".updated") and t.startswith("payment_intent") for t in types)
    assert types.index("invoice.created") < types.index("invoice.paid")


def test_a_declined_payment_tells_of_its_failure(account):
    client = account.stripe
    marker = _last(client)
    with pytest.raises(stripe.CardError):
        client.payment_intents.create({"amount": 1500, "currency": "usd", "confirm": True,
                                       "payment_method": "pm_card_chargeDeclined"})
    types = [e.type for e in _since(client, marker)]
    assert types == ["payment_intent.created", "charge.failed", "payment_intent.payment_failed"], types


def test_updates_carry_previous_attributes_and_the_request_that_made_them(account):
    client = account.stripe
    customer = client.customers.create({"email": "jessica@example.com", "name": "Jessica"})
    renamed = client.customers.update(customer.id, {"name": "Lady Jessica"})
    [event] = _since(client, client.events.list({"type": "customer.created", "limit": 1}).data[0].id)
    assert event.type == "customer.updated" and event.data.object.name == "Lady Jessica"
    assert event.data.previous_attributes.to_dict() == {"name": "Jessica"}
    assert event.request.id == renamed.last_response.request_id and event.request.id.startswith("req_")

    intent = client.payment_intents.create({"amount": 900, "currency": "usd"})
    marker = _last(client)
    client.payment_intents.update(intent.id, {"metadata": {"order": "7"}})
    assert _since(client, marker) == []  # Stripe has no payment_intent.updated

    draft = client.invoices.create({"customer": customer.id})
    marker = _last(client)
    client.invoices.finalize_invoice(draft.id)
    finalized = _since(client, marker)[-1]  # after the customer's next_invoice_sequence
    assert finalized.type == "invoice.paid"  # for 0: paid at once
    assert finalized.data.previous_attributes.status == "draft" and finalized.data.object.status == "paid"

    marker = _last(client)
    mutated = account.sequin.post("/v1/mutations/run", {
        "kind": "update", "sync_id": account.sync["id"], "collection_id": "stripe:customer",
        "records": [{"upstream_id": customer.id, "data": {"name": "Bene Gesserit"}}]})
    assert mutated.status_code == 200, mutated.text
    [by_sequin] = _since(client, marker)
    assert by_sequin.type == "customer.updated" and by_sequin.request.id is None  # not a call to this API


def test_expand_reaches_four_levels_and_list_items(account):
    client = account.stripe
    price, customer = _monthly(client, "Depth", "deep@example.com")
    subscription = client.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                                "expand": ["latest_invoice.payment_intent"]})
    intent = subscription.latest_invoice.payment_intent
    assert intent.object == "payment_intent" and intent.status == "succeeded" and intent.client_secret
    deep = client.subscriptions.retrieve(subscription.id, {"expand": [
        "latest_invoice.payment_intent.latest_charge.customer", "customer"]})
    charge = deep.latest_invoice.payment_intent.latest_charge
    assert charge.object == "charge" and charge.customer.id == customer.id and deep.customer.email
    listed = client.invoices.list({"customer": customer.id, "expand": ["data.payment_intent.latest_charge"]}).data
    assert listed[0].payment_intent.latest_charge.object == "charge"
    with pytest.raises(stripe.InvalidRequestError) as too_deep:
        client.subscriptions.retrieve(subscription.id, {"expand": [
            "latest_invoice.payment_intent.latest_charge.customer.default_source"]})
    assert "more than 4 levels" in str(too_deep.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice.nothing"]})
    assert unknown.value.param == "expand"
