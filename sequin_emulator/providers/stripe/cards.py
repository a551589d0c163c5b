"""A simulated Stripe account's payment methods: Stripe's test names (`pm_card_visa`, `tok_chargeDeclined`, ...)
that become new cards of the account, which cards decline and how, and which customer each is attached to.

A card's details (brand, last 4, expiry) follow from its id (`model.card`); what the account keeps of a card made
through the API is in `Account.extras["payment_methods"]`, saved with the account: its customer, metadata, and
the decline it brings (a declining test card keeps declining, so renewals of a subscription it pays fail, and
dunning runs its course). The cards the account makes on its own (its customers' defaults) are kept nowhere: a
customer's default card is attached to it.
"""

from __future__ import annotations

from typing import Any

from sequin_emulator.domain.upstream import Account

DECLINES = {"generic_decline": "Your card was declined.", "insufficient_funds": "Your card has insufficient funds.",
            "expired_card": "Your card has expired."}
# Stripe's test names that decline, with their decline code
DECLINING = {"pm_card_chargeDeclined": "generic_decline", "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
             "pm_card_chargeDeclinedExpiredCard": "expired_card", "tok_chargeDeclined": "generic_decline",
             "tok_chargeDeclinedInsufficientFunds": "insufficient_funds", "tok_chargeDeclinedExpiredCard": "expired_card"}


def ours(named: str) -> bool:
    """Whether `named` is a card id of the emulator's making (`pm_1` and its issue month), not a test name."""
    return named.startswith("pm_1") and len(named) > 10 and named[4:10].isalnum()


def kept(account: Account) -> dict[str, dict]:
    """The account's cards made through the API, by id."""
    found: dict[str, dict] = account.extras.setdefault("payment_methods", {})
    return found


def decline_of(account: Account, payment_method: str) -> tuple[str, str] | None:
    """(decline code, message) of a card that declines, or of a declining test name; None if it pays."""
    code = DECLINING.get(payment_method) or (account.extras.get("payment_methods", {}).get(payment_method) or {}).get(
        "declines")
    return (code, DECLINES[code]) if code else None


def new_card(account: Account, card_id: str, named: str, created: int, customer: str | None = None,
             metadata: dict | None = None) -> str:
    """Keep a new card (`card_id`, made for the test name `named`), declining as that name does."""
    kept(account)[card_id] = {"created": created, "customer": customer, "metadata": metadata or {},
                              "declines": DECLINING.get(named)}
    return card_id


def customer_of(account: Account, card_id: str) -> str | None:
    """The customer a card is attached to: as kept, or the customer whose default card it is."""
    record = account.extras.get("payment_methods", {}).get(card_id)
    if record is not None:
        return record["customer"]
    return next((i for i in account.order.get("customer", ()) if _default_of(account, i) == card_id), None)


def attached_to(account: Account, customer_id: str) -> list[str]:
    """A customer's cards, newest first: those attached through the API, and its default card."""
    cards = [i for i, r in kept(account).items() if r["customer"] == customer_id][::-1]
    default = _default_of(account, customer_id)
    return cards + [default] if default and default not in cards else cards


def _default_of(account: Account, customer_id: str) -> Any:
    customer = account.get("customer", customer_id)
    return customer.data["invoice_settings"]["default_payment_method"] if customer is not None else None
