"""A simulated Stripe account answers Stripe's own API, driven by the official `stripe` SDK against a running
emulator: create, retrieve, update, list with auto-paging and delete; the lifecycle (a subscription billed and
charged, canceled); errors in Stripe's envelope; idempotency keys; events; faults; and the full loop: an SDK write
reaches a Sequin consumer through the sync, and a Sequin mutation shows in a later SDK read. Every object the SDK
gets back validates strictly against Stripe's published spec."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe

from tests.providers.stripe import schema as stripe_schema
from tests.providers.synced_account import SyncedAccount

KEY = "sk_test_sdk_account"
COLLECTIONS = ["stripe:customer", "stripe:product", "stripe:price", "stripe:subscription", "stripe:invoice",
               "stripe:payment_intent", "stripe:charge", "stripe:refund"]
EXPANDED = {"customer", "invoice", "charge", "payment_intent", "subscription", "product", "price"}


class Account(SyncedAccount):
    """A synced Stripe account and an SDK client for its own API."""

    def __init__(self, url: str) -> None:
        super().__init__(url, {"kind": "stripe_key", "secret": KEY}, COLLECTIONS)
        assert self.base.startswith(f"{url}/_providers/") and self.base.endswith(f"/{self.sync['credential_id']}/stripe")
        self.stripe = stripe.StripeClient(KEY, base_addresses={"api": self.base}, max_network_retries=0).v1

    def valid(self, obj: stripe.StripeObject) -> stripe.StripeObject:
        """`obj` validates against Stripe's spec, its expanded fields as their ids (the project's subset of the
        spec has expandable fields in that form; the test validates the expanded objects on their own)."""
        sent = _as_sent(obj.to_dict())
        collapsed = {k: v["id"] if isinstance(v, dict) and v.get("object") in EXPANDED else v for k, v in sent.items()}
        problems = stripe_schema.errors(obj["object"], collapsed)
        assert not problems, problems[:5]
        return obj


def _as_sent(value):
    """The SDK's dict with its Decimals (`unit_amount_decimal`) back as the strings the API sent."""
    if isinstance(value, dict):
        return {k: _as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value


def test_customers_round_trip_page_and_delete(account):
    client = account.stripe
    created = account.valid(client.customers.create({"email": "ada@example.com", "name": "Ada Lovelace",
                                                     "metadata": {"plan": "pro", "team": "eng"}}))
    assert created.id.startswith("cus_") and created.email == "ada@example.com"
    assert client.customers.retrieve(created.id).name == "Ada Lovelace"
    updated = account.valid(client.customers.update(created.id, {"metadata": {"team": "", "seats": "3"}}))
    assert updated.metadata.to_dict() == {"plan": "pro", "seats": "3"}  # merged; an empty value removes a key
    first = client.customers.list({"limit": 2})
    assert len(first.data) == 2 and first.has_more and first.data[0].id == created.id  # newest first
    every = [c.id for c in client.customers.list({"limit": 2}).auto_paging_iter()]
    upstream = {c["id"] for c in account.sequin.upstream(account.sync["credential_id"], "stripe:customer")}
    assert len(every) == len(set(every)) and set(every) == upstream
    gone = client.customers.delete(created.id)
    assert gone.deleted is True and client.customers.retrieve(created.id).deleted is True
    assert created.id not in [c.id for c in client.customers.list({"limit": 100}).data]


def test_errors_come_in_stripes_envelope(account):
    client = account.stripe
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        client.customers.create({"email": "not-an-email"})
    assert invalid.value.http_status == 400 and invalid.value.param == "email"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.customers.retrieve("cus_nope")
    assert unknown.value.http_status == 404 and unknown.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as integer:
        client.customers.create({"balance": "lots"})
    assert integer.value.code == "parameter_invalid_integer" and integer.value.param == "balance"
    with pytest.raises(stripe.InvalidRequestError) as paging:
        client.customers.list({"limit": 101})
    assert paging.value.param == "limit"
    wrong = stripe.StripeClient("sk_test_someone_else", base_addresses={"api": account.base},
                                max_network_retries=0).v1
    with pytest.raises(stripe.AuthenticationError):
        wrong.customers.list()


def test_products_prices_and_a_subscription_billed_then_canceled(account):
    client = account.stripe
    product = account.valid(client.products.create({"name": "Spice Plan"}))
    price = account.valid(client.prices.create({"product": product.id, "unit_amount": 2500, "currency": "usd",
                                                "recurring": {"interval": "month"}}))
    assert client.products.retrieve(product.id).default_price == price.id
    assert [p.id for p in client.prices.list({"product": product.id}).data] == [price.id]
    customer = client.customers.create({"email": "paul@arrakis.example"})
    subscription = account.valid(client.subscriptions.create({
        "customer": customer.id, "items": [{"price": price.id, "quantity": 2}], "expand": ["latest_invoice"]}))
    assert subscription.status == "active" and subscription["items"].data[0].quantity == 2
    invoice = account.valid(subscription.latest_invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 5000 and invoice.billing_reason == "subscription_create"
    intent = account.valid(client.payment_intents.retrieve(invoice.payment_intent, {"expand": ["latest_charge"]}))
    assert intent.status == "succeeded" and intent.latest_charge.paid is True
    assert [i.id for i in client.invoices.list({"customer": customer.id}).data] == [invoice.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.invoices.void_invoice(invoice.id)  # paid: not open
    with pytest.raises(stripe.InvalidRequestError):
        client.products.delete(product.id)  # it has a price
    archived = client.prices.update(price.id, {"active": False})
    assert archived.active is False
    with pytest.raises(stripe.InvalidRequestError):
        client.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
    canceled = account.valid(client.subscriptions.cancel(subscription.id))
    assert canceled.status == "canceled" and canceled.cancellation_details.reason == "cancellation_requested"
    assert subscription.id not in [s.id for s in client.subscriptions.list().data]  # canceled ones only on request
    assert subscription.id in [s.id for s in client.subscriptions.list({"status": "canceled"}).data]


def test_invoices_made_by_hand_and_direct_charges(account):
    client = account.stripe
    customer = client.customers.create({"email": "manual@example.com"})
    draft = account.valid(client.invoices.create({"customer": customer.id, "description": "Consulting"}))
    assert draft.status == "draft" and draft.number is None and draft.lines.data == []
    paid = account.valid(client.invoices.finalize_invoice(draft.id))
    assert paid.status == "paid" and paid.number.endswith("-0001"), "finalized for 0: paid at once"
    with pytest.raises(stripe.InvalidRequestError):
        client.invoices.finalize_invoice(draft.id)
    doomed = client.invoices.create({"customer": customer.id})
    assert client.invoices.delete(doomed.id).deleted is True
    charge = account.valid(client.charges.create({"amount": 1234, "currency": "usd", "customer": customer.id}))
    assert charge.paid and charge.payment_intent is None and charge.payment_method_details.card.last4
    assert [c.id for c in client.charges.list({"customer": customer.id}).data] == [charge.id]


def test_every_object_the_api_lists_validates_against_stripes_spec(account):
    client = account.stripe
    for listing in (client.customers, client.products, client.prices, client.subscriptions, client.invoices,
                    client.payment_intents, client.charges):
        for obj in listing.list({"limit": 100}).auto_paging_iter():
            account.valid(obj)


def test_payment_intents_confirm_and_cancel(account):
    client = account.stripe
    confirmed = account.valid(client.payment_intents.create({"amount": 1999, "currency": "usd", "confirm": True,
                                                             "payment_method": "pm_card_visa"}))
    assert confirmed.status == "succeeded" and confirmed.amount_received == 1999
    charge = account.valid(client.charges.retrieve(confirmed.latest_charge))
    assert charge.payment_intent == confirmed.id and charge.amount == 1999
    assert confirmed.payment_method.startswith("pm_1"), "a test card name becomes a card of the account"
    with pytest.raises(stripe.CardError) as declined:
        client.payment_intents.create({"amount": 700, "currency": "usd", "confirm": True,
                                       "payment_method": "pm_card_chargeDeclinedInsufficientFunds"})
    assert declined.value.http_status == 402 and declined.value.code == "card_declined"
    error = declined.value.error
    assert error is not None and error.payment_intent is not None
    failed = client.payment_intents.retrieve(error.payment_intent.id, {"expand": ["latest_charge"]})
    assert failed.status == "requires_payment_method" and failed.last_payment_error.decline_code == \
        "insufficient_funds" and failed.latest_charge.status == "failed"
    with pytest.raises(stripe.CardError):
        client.charges.create({"amount": 900, "currency": "usd", "source": "tok_chargeDeclined"})
    pending = client.payment_intents.create({"amount": 500, "currency": "usd"})
    assert pending.status == "requires_payment_method"
    assert account.valid(client.payment_intents.cancel(pending.id)).status == "canceled"


def test_idempotency_keys_and_events(account):
    client = account.stripe
    once = client.customers.create({"email": "idem@example.com"}, {"idempotency_key": "create-idem"})
    again = client.customers.create({"email": "idem@example.com"}, {"idempotency_key": "create-idem"})
    assert once.id == again.id
    with pytest.raises(stripe.IdempotencyError):
        client.customers.create({"email": "other@example.com"}, {"idempotency_key": "create-idem"})
    assert [c.email for c in client.customers.list({"email": "idem@example.com"}).data] == ["idem@example.com"]
    events = client.events.list({"type": "customer.created", "limit": 100}).data
    assert once.id in [e.data.object.id for e in events]
    assert client.events.retrieve(events[0].id).id == events[0].id


def test_sdk_writes_reach_consumers_and_mutations_reach_the_sdk(account):
    client = account.stripe
    created = client.customers.create({"email": "loop@example.com"})
    account.sequin.advance("5s")  # the sync polls
    records = account.sequin.drain(account.consumer["id"])
    assert created.id in [r["upstream_id"] for r in records if r["collection_id"] == "stripe:customer"]
    account.sequin.post("/v1/mutations/run", {"sync_id": account.sync["id"], "collection_id": "stripe:customer",
                                              "kind": "update", "records": [{"upstream_id": created.id,
                                                                             "data": {"name": "Via Sequin"}}]})
    assert client.customers.retrieve(created.id).name == "Via Sequin"


def test_the_accounts_faults_apply_to_its_api(account):
    settings = f"/_emulator/upstream/{account.sync['credential_id']}/settings"
    for fault, error, status in [("outage", stripe.APIError, 500), ("throttle", stripe.RateLimitError, 429),
                                 ("revoked", stripe.AuthenticationError, 401)]:
        account.sequin.request("PUT", settings, {fault: True})
        with pytest.raises(error) as raised:
            account.stripe.customers.list()
        assert raised.value.http_status == status
        account.sequin.request("PUT", settings, {fault: False})
    assert account.stripe.customers.list().data
