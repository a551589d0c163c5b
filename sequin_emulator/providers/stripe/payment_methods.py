"""Stripe's `/v1/payment_methods` on a simulated account: cards made from test tokens, retrieved, listed by customer,
attached and detached. What the account keeps of each is `cards.py`'s; the card's details follow from its id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sequin_emulator.providers.stripe.cards import DECLINING, attached_to, customer_of, kept, new_card, ours
from sequin_emulator.providers.stripe.errors import StripeError, missing
from sequin_emulator.providers.stripe.model import card, seconds, templates
from sequin_emulator.providers.stripe.paging import paged


def test_name(named: str) -> bool:
    """Stripe's test payment methods and tokens (`pm_card_visa`, `tok_mastercard`, `tok_chargeDeclined`, ...)."""
    return named.startswith(("pm_card_", "tok_")) or named in DECLINING


def card_for(api: Any, named: str, now: int, customer: str | None = None) -> str:
    """The account's card that `named` is: a new card for a test name (as on Stripe, each use makes one), else a
    card of the account (404 if it has none by that id)."""
    if test_name(named):
        return new_card(api.account, api.model.new_payment_method(api.account, now), named, seconds(now), customer)
    if not ours(named) or (named not in kept(api.account) and customer_of(api.account, named) is None):
        raise missing("payment_method", named)
    return named


def shown(api: Any, card_id: str) -> dict:
    """The PaymentMethod object of one of the account's cards."""
    record = kept(api.account).get(card_id)
    customer_id = record["customer"] if record is not None else customer_of(api.account, card_id)
    if record is None and customer_id is None:
        raise missing("payment_method", card_id)
    owner = api.account.get("customer", customer_id) if customer_id else None
    details, sample = card(card_id), templates()["payment_method"]
    holder = owner.data if owner is not None else {}
    return {**sample, "id": card_id, "livemode": False,
            "created": record["created"] if record is not None else (owner.data["created"] if owner else 0),
            "customer": customer_id, "metadata": record["metadata"] if record is not None else {},
            "billing_details": {"address": holder.get("address") or {k: None for k in sample["billing_details"][
                "address"]}, "email": holder.get("email"), "name": holder.get("name"), "phone": holder.get("phone")},
            "card": {**sample["card"], **{k: details[k] for k in ("brand", "last4", "funding", "country", "exp_month",
                                                                  "exp_year", "fingerprint")},
                     "networks": {"available": [details["brand"]], "preferred": None}}}


def create(api: Any, request: Any) -> dict:
    params = request.params
    token = (params.get("card") or {}).get("token") if isinstance(params.get("card"), dict) else None
    if params.get("type", "card") != "card" or token is None:
        raise StripeError(400, "Only card payment methods made from a test token are served: type=card with "
                          "card[token]=tok_visa (or another of Stripe's test tokens).", "parameter_missing", "card")
    if not test_name(token):
        raise StripeError(400, f"No such token: '{token}'", "resource_missing", "card[token]")
    card_id = card_for(api, token, request.now)
    kept(api.account)[card_id]["metadata"] = {k: v for k, v in (params.get("metadata") or {}).items() if v != ""}
    return shown(api, card_id)


def _card(api: Any, card_id: str) -> dict:
    """What the account keeps of a card, kept from now on if it was a customer's default made on its own."""
    record = kept(api.account).get(card_id)
    if record is None:
        view = shown(api, card_id)  # 404 if it is no card of the account
        record = kept(api.account)[card_id] = {"created": view["created"], "customer": view["customer"],
                                               "metadata": {}, "declines": None}
    return record


def get(api: Any, request: Any, card_id: str) -> dict:
    return shown(api, card_id)


def update(api: Any, request: Any, card_id: str) -> dict:
    record = _card(api, card_id)
    if isinstance(request.params.get("metadata"), dict):
        record["metadata"] = {k: v for k, v in {**record["metadata"], **request.params["metadata"]}.items() if v != ""}
    return shown(api, card_id)


def attach(api: Any, request: Any, card_id: str) -> dict:
    customer_id = request.params.get("customer")
    if not customer_id:
        raise StripeError(400, "Missing required param: customer.", "parameter_missing", "customer")
    customer = api.account.get("customer", customer_id)
    if customer is None or customer.deleted:
        raise missing("customer", customer_id)
    if test_name(card_id):
        return shown(api, card_for(api, card_id, request.now, customer_id))
    record = _card(api, card_id)
    if record["customer"] not in (None, customer_id):
        raise StripeError(400, "The payment method you provided has already been attached to a customer.",
                          "payment_method_unexpected_state", None)
    record["customer"] = customer_id
    return shown(api, card_id)


def detach(api: Any, request: Any, card_id: str) -> dict:
    record = _card(api, card_id)
    if record["customer"] is None:
        raise StripeError(400, "The payment method you provided is not attached to a customer so detachment is "
                          "impossible.", "payment_method_unexpected_state", None)
    customer = api.account.get("customer", record["customer"])
    record["customer"] = None
    if customer is not None and customer.data["invoice_settings"]["default_payment_method"] == card_id:
        customer.data["invoice_settings"]["default_payment_method"] = None
        api.account.record(customer, "update", request.now)
    return shown(api, card_id)


def listing(api: Any, request: Any) -> dict:
    """A customer's cards, newest first, paged as every Stripe list."""
    params = request.params
    customer_id = params.get("customer")
    if not customer_id:
        raise StripeError(400, "Missing required param: customer.", "parameter_missing", "customer")
    if api.account.get("customer", customer_id) is None:
        raise missing("customer", customer_id)
    page, more = paged(attached_to(api.account, customer_id), params, "payment_method")
    return {"object": "list", "data": [shown(api, i) for i in page], "has_more": more,
            "url": "/v1/payment_methods"}


HANDLERS: dict[str, Callable[..., Any]] = {
    "stripeCreatePaymentMethod": create, "stripeGetPaymentMethod": get, "stripeUpdatePaymentMethod": update,
    "stripeAttachPaymentMethod": attach, "stripeDetachPaymentMethod": detach, "stripeListPaymentMethods": listing}
