"""Payment methods on a simulated Stripe account, driven by the official `stripe` SDK: cards made from Stripe's test
tokens, attached to customers, listed, made the default for invoices, detached; and dunning on demand: a customer
whose default card declines sees its renewal fail, the subscription go `past_due`, the retries on Stripe's
schedule, and either a recovery with a new card or the invoice uncollectible and the subscription canceled."""

from __future__ import annotations

import pytest
import stripe


def _subscribed(account, card: str):
    """A customer paying with `card`, subscribed to a new monthly price, and the subscription."""
    client = account.stripe
    product = client.products.create({"name": "Dunning"})
    price = client.prices.create({"product": product.id, "unit_amount": 1500, "currency": "usd",
                                  "recurring": {"interval": "month"}})
    customer = client.customers.create({"email": "renewal@example.com", "payment_method": card,
                                        "invoice_settings": {"default_payment_method": card}})
    return customer, client.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})


def test_cards_from_test_tokens_attached_listed_and_made_the_default(account):
    client = account.stripe
    made = account.valid(client.payment_methods.create({"type": "card", "card": {"token": "tok_mastercard"},
                                                        "metadata": {"wallet": "main"}}))
    assert made.id.startswith("pm_1") and made.type == "card" and made.customer is None
    assert made.card.last4 and made.card.exp_year >= 2024 and made.metadata.to_dict() == {"wallet": "main"}
    customer = client.customers.create({"email": "cards@example.com", "payment_method": "pm_card_visa",
                                        "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    default = customer.invoice_settings.default_payment_method
    assert default.startswith("pm_1") and client.payment_methods.retrieve(default).customer == customer.id
    attached = client.payment_methods.attach(made.id, {"customer": customer.id})
    assert attached.customer == customer.id
    listed = client.payment_methods.list({"customer": customer.id, "type": "card"}).data
    assert [m.id for m in listed] == [default, made.id]  # newest first
    updated = client.customers.update(customer.id, {"invoice_settings": {"default_payment_method": made.id}})
    assert updated.invoice_settings.default_payment_method == made.id
    other = client.customers.create({"email": "other@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as not_theirs:
        client.customers.update(other.id, {"invoice_settings": {"default_payment_method": made.id}})
    assert not_theirs.value.param == "invoice_settings[default_payment_method]"
    with pytest.raises(stripe.InvalidRequestError) as taken:
        client.payment_methods.attach(made.id, {"customer": other.id})
    assert taken.value.code == "payment_method_unexpected_state"
    detached = client.payment_methods.detach(made.id)
    assert detached.customer is None
    assert client.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    with pytest.raises(stripe.InvalidRequestError) as gone:
        client.payment_methods.retrieve("pm_1nothing0000000000000000")
    assert gone.value.http_status == 404


def test_a_declining_card_runs_dunning_to_cancellation(account):
    client = account.stripe
    customer, subscription = _subscribed(account, "pm_card_visa")
    assert subscription.status == "active"
    declining = client.payment_methods.attach("pm_card_chargeDeclinedInsufficientFunds", {"customer": customer.id})
    client.customers.update(customer.id, {"invoice_settings": {"default_payment_method": declining.id}})
    account.sequin.advance("31d")  # the renewal
    renewed = client.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    invoice = renewed.latest_invoice
    assert renewed.status == "past_due" and invoice.billing_reason == "subscription_cycle"
    assert invoice.status == "open" and invoice.attempt_count == 1 and invoice.next_payment_attempt
    intent = client.payment_intents.retrieve(invoice.payment_intent)
    assert intent.last_payment_error.decline_code == "insufficient_funds"
    for days in ("3d", "5d", "7d"):  # Stripe's retries, then the end
        account.sequin.advance(days)
    ended = client.subscriptions.retrieve(subscription.id)
    assert ended.status == "canceled" and ended.cancellation_details.reason == "payment_failed"
    final = client.invoices.retrieve(invoice.id)
    assert final.status == "uncollectible" and final.attempt_count == 4
    types = {e.type for e in client.events.list({"limit": 100}).data}
    assert {"invoice.payment_failed", "invoice.marked_uncollectible", "customer.subscription.deleted",
            "charge.failed"} <= types


def test_a_new_card_recovers_a_past_due_subscription(account):
    client = account.stripe
    customer, subscription = _subscribed(account, "pm_card_chargeDeclined")
    first = client.invoices.retrieve(client.subscriptions.retrieve(subscription.id).latest_invoice)
    assert first.status == "open" and first.attempt_count == 1  # the first payment declined too
    good = client.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.customers.update(customer.id, {"invoice_settings": {"default_payment_method": good.id}})
    account.sequin.advance("3d")  # the first retry, with the new card
    assert client.invoices.retrieve(first.id).status == "paid"
    assert client.subscriptions.retrieve(subscription.id).status == "active"


def test_an_unpaid_invoice_marked_uncollectible_can_still_be_paid(account):
    client = account.stripe
    customer, subscription = _subscribed(account, "pm_card_chargeDeclined")
    invoice_id = client.subscriptions.retrieve(subscription.id).latest_invoice
    given_up = client.invoices.mark_uncollectible(invoice_id)
    assert given_up.status == "uncollectible" and given_up.next_payment_attempt is None
    assert given_up.status_transitions.marked_uncollectible_at
    account.sequin.advance("10d")  # no retries of an uncollectible invoice
    assert client.invoices.retrieve(invoice_id).attempt_count == 1
    with pytest.raises(stripe.InvalidRequestError) as not_sent:
        client.invoices.send_invoice(invoice_id)
    assert "send_invoice" in str(not_sent.value.user_message)
    good = client.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    client.customers.update(customer.id, {"invoice_settings": {"default_payment_method": good.id}})
    assert client.invoices.pay(invoice_id).status == "paid"
    types = [e.type for e in client.events.list({"limit": 30}).data]
    assert "invoice.marked_uncollectible" in types and types.index("invoice.paid") < types.index(
        "invoice.marked_uncollectible")  # newest first


def test_error_if_incomplete_refuses_a_subscription_whose_first_payment_would_fail(account):
    client = account.stripe
    customer, _ = _subscribed(account, "pm_card_chargeDeclinedExpiredCard")
    price = client.prices.list({"limit": 1}).data[0]
    before = len(client.subscriptions.list({"customer": customer.id, "status": "all"}).data)
    with pytest.raises(stripe.CardError) as declined:
        client.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                     "payment_behavior": "error_if_incomplete"})
    assert declined.value.http_status == 402 and declined.value.code == "card_declined"
    assert "expired" in str(declined.value.user_message)  # the test card's decline, in Stripe's words
    assert len(client.subscriptions.list({"customer": customer.id, "status": "all"}).data) == before
