"""Refunds and manual captures on a simulated Stripe account, driven by the official `stripe` SDK: full and partial
refunds of a charge or a payment intent, never more than is left; an authorized payment captured in full or in
part (the rest released) or canceled; the charges following, `charge.refunded` events, refunds synced as
`stripe:refund`, and every object valid against Stripe's published spec."""

from __future__ import annotations

import pytest
import stripe


def _paid(client, amount: int, **more) -> stripe.PaymentIntent:
    return client.payment_intents.create({"amount": amount, "currency": "usd", "payment_method": "pm_card_visa",
                                          "confirm": True, **more})


def _refused(call, code: str) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        call()
    assert refused.value.code == code, refused.value.user_message
    return refused.value


def test_a_payment_refunded_in_full_by_its_intent(account):
    client = account.stripe
    intent = _paid(client, 2500)
    refund = account.valid(client.refunds.create({"payment_intent": intent.id, "reason": "requested_by_customer",
                                                  "metadata": {"ticket": "42"}}))
    assert refund.id.startswith("re_") and refund.status == "succeeded" and refund.amount == 2500
    assert refund.charge == intent.latest_charge and refund.payment_intent == intent.id
    charge = account.valid(client.charges.retrieve(intent.latest_charge))
    assert charge.amount_refunded == 2500 and charge.refunded is True
    _refused(lambda: client.refunds.create({"charge": charge.id}), "charge_already_refunded")
    expanded = client.charges.retrieve(charge.id, {"expand": ["refunds"]})
    assert [r.id for r in expanded.refunds.data] == [refund.id]
    assert [r.id for r in client.refunds.list({"charge": charge.id}).data] == [refund.id]
    assert client.refunds.update(refund.id, {"metadata": {"ticket": ""}}).metadata.to_dict() == {}
    assert client.refunds.retrieve(refund.id, {"expand": ["charge"]}).charge.id == charge.id
    _refused(lambda: client.refunds.cancel(refund.id), "refund_cancel_unsupported")
    types = [e.type for e in client.events.list({"limit": 5}).data]
    assert types[0] == "charge.refund.updated" and "charge.refunded" in types  # its metadata, then the refund
    assert "refund.created" not in types  # no such event in API version 2023-08-16
    synced = {r["id"]: r for r in account.sequin.upstream(account.sync["credential_id"], "stripe:refund")}
    assert synced[refund.id]["amount"] == 2500


def test_partial_refunds_never_exceed_what_is_left(account):
    client = account.stripe
    charge = client.charges.create({"amount": 2000, "currency": "usd", "source": "tok_visa"})
    for amount in (500, 700):
        client.refunds.create({"charge": charge.id, "amount": amount})
    assert client.charges.retrieve(charge.id).amount_refunded == 1200
    too_much = _refused(lambda: client.refunds.create({"charge": charge.id, "amount": 900}), "amount_too_large")
    assert too_much.param == "amount" and "$8.00" in str(too_much.user_message)
    rest = client.refunds.create({"charge": charge.id})
    assert rest.amount == 800 and client.charges.retrieve(charge.id).refunded is True
    assert len(client.refunds.list({"charge": charge.id}).data) == 3
    _refused(lambda: client.refunds.create({}), "parameter_missing")
    declined = client.payment_intents.create({"amount": 900, "currency": "usd", "payment_method": "pm_card_visa"})
    _refused(lambda: client.refunds.create({"payment_intent": declined.id}), "charge_not_refundable")
    with pytest.raises(stripe.InvalidRequestError) as nothing:
        client.refunds.create({"charge": "ch_nothing"})
    assert nothing.value.http_status == 404


def test_an_authorization_is_captured_in_part_or_released(account):
    client = account.stripe
    held = _paid(client, 2000, capture_method="manual")
    assert held.status == "requires_capture" and held.amount_capturable == 2000 and held.amount_received == 0
    charge = client.charges.retrieve(held.latest_charge)
    assert charge.captured is False and charge.amount_captured == 0 and charge.status == "succeeded"
    _refused(lambda: client.refunds.create({"charge": charge.id}), "charge_not_refundable")
    _refused(lambda: client.payment_intents.capture(held.id, {"amount_to_capture": 2500}), "amount_too_large")
    captured = account.valid(client.payment_intents.capture(held.id, {"amount_to_capture": 1500}))
    assert captured.status == "succeeded" and captured.amount_received == 1500 and captured.amount_capturable == 0
    charge = account.valid(client.charges.retrieve(held.latest_charge))
    assert (charge.captured, charge.amount_captured, charge.amount_refunded, charge.refunded) == (True, 1500, 500, False)
    _refused(lambda: client.payment_intents.capture(held.id), "payment_intent_unexpected_state")
    assert client.refunds.create({"payment_intent": held.id}).amount == 1500  # what was captured

    released = _paid(client, 3000, capture_method="manual")
    canceled = client.payment_intents.cancel(released.id)
    assert canceled.status == "canceled" and canceled.amount_capturable == 0
    charge = client.charges.retrieve(released.latest_charge)
    assert charge.refunded is True and charge.amount_refunded == 3000 and charge.captured is False
    automatic = _paid(client, 1000)
    _refused(lambda: client.payment_intents.capture(automatic.id), "payment_intent_unexpected_state")
    types = {e.type for e in client.events.list({"limit": 20}).data}
    assert {"payment_intent.amount_capturable_updated", "charge.captured", "payment_intent.succeeded",
            "payment_intent.canceled", "charge.refunded"} <= types
