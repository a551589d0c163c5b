"""Simulated Stripe accounts, in API version 2023-08-16 shapes, following Stripe's own rules.

Every object starts from Stripe's sample object for its type (so its keys and nested shapes are Stripe's default
response) and is then kept consistent with the others at every moment of the emulator's clock, by one model that
generated history, changes of the account's own, injections and mutations all go through:

- A subscription bills its price's interval (a month or a year, calendar-aligned); at each period's end it renews
  (a `subscription_cycle` invoice), or ends if it was set to cancel at period end. Its first invoice is a
  `subscription_create` one; a trial's first invoice is for 0 and needs no payment.
- An invoice is finalized at once (`number` from the customer's `invoice_prefix` and sequence, hosted URL and PDF)
  and paid by one payment intent, with the customer's card. A payment intent has at most one succeeded charge and
  its status follows its charges; the invoice points back at both. A declined attempt leaves a failed charge, the
  invoice open with its `next_payment_attempt` and the subscription `past_due`; Stripe retries after 3, 5 and
  7 days, then marks the invoice uncollectible and cancels the subscription.
- Charges carry an `outcome` and the payment method of their payment intent: a card from a varied set of
  Stripe's test cards, valid at the charge's date (an expired card is replaced, as a customer would). Refunds
  never exceed the amount; `refunds` is not in a charge unless expanded, as in this API version.
- Deleting a customer cancels its subscriptions; a product with prices is archived, never deleted; archived
  prices get no new subscriptions. Every timestamp is derived; none is a sample's.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import heapq
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.provider_events import ProviderEvent
from sequin_emulator.domain.upstream import Account, Change, Provider, UpstreamObject
from sequin_emulator.providers.base import POOLS, history_times, token, unknown_fields
from sequin_emulator.providers.stripe.cards import decline_of, kept
from sequin_emulator.providers.stripe.delivery import StripeWebhooks
from sequin_emulator.providers.stripe.rules import Problem, Refused, parameter_problem

API_VERSION = "2023-08-16"
DATA = Path(__file__).resolve().parent / "data"
PREFIXES = {"customer": ("cus", 14), "product": ("prod", 14), "subscription_item": ("si", 14),
            "subscription": ("sub", 24), "invoice": ("in", 24), "charge": ("ch", 24), "payment_intent": ("pi", 24),
            "price": ("price", 24), "line_item": ("il", 24), "event": ("evt", 24), "invoice_item": ("ii", 24),
            "balance_transaction": ("txn", 24), "refund": ("re", 24)}
INCLUDABLE = {"charge": ("refunds",)}  # in the sample object, but only returned when expanded in 2023-08-16
AMOUNTS = (500, 900, 1500, 2000, 4900, 9900, 19900)
DAY_SECONDS = 86400  # Stripe times are epoch seconds
RETRY_AFTER_DAYS = (3, 5, 7)  # Stripe's default retry schedule; after the last, the invoice is uncollectible
TRIAL_DAYS = 14
POPULATE_SLICE = 20  # subscriptions (with what they bring) made between two pauses of a generation: ~15 ms
# Stripe's test cards: (brand, last4, funding, issuing country); a payment method id picks one (see `card`)
CARDS = (("visa", "4242", "credit", "US"), ("visa", "1881", "credit", "US"), ("visa", "5556", "debit", "US"),
         ("mastercard", "4444", "credit", "US"), ("mastercard", "8210", "debit", "US"),
         ("mastercard", "5100", "prepaid", "US"), ("amex", "8431", "credit", "US"), ("discover", "1117", "credit", "US"),
         ("diners", "0004", "credit", "US"), ("jcb", "0505", "credit", "JP"), ("unionpay", "0005", "credit", "CN"),
         ("visa", "0077", "credit", "GB"), ("mastercard", "0003", "credit", "CA"))
DECLINES = (("insufficient_funds", "Your card has insufficient funds."),
            ("generic_decline", "Your card was declined."), ("do_not_honor", "Your card was declined."))
DECLINE_RATE = 0.12
CHURN_AT_RENEWAL = 0.04  # a subscription that ends at a renewal without having been set to (a lapsed customer)
CUSTOMER_FIELDS = {"email", "name", "phone", "description", "metadata", "balance", "address", "preferred_locales"}
PRODUCT_FIELDS = {"name", "description", "metadata", "active", "url", "unit_label", "statement_descriptor"}


@functools.cache
def templates() -> dict:
    return json.loads((DATA / "fixtures.json").read_text())


@functools.cache
def _template_bytes(kind: str) -> bytes:
    template = {k: v for k, v in templates()[kind].items() if k not in INCLUDABLE.get(kind, ())}
    return orjson.dumps(template)


def fresh(value: Any) -> Any:
    """A deep copy of JSON data (several times faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(value))


@functools.cache
def collection_fields() -> dict:
    return json.loads((DATA / "collections.json").read_text())


def seconds(micros: int) -> int:
    return micros // MICROS


def add_interval(start: int, interval: str, anchor: int) -> int:
    """`start` (seconds) plus one month or year, on the anchor's day of the month (the 31st becomes the last day
    of a shorter month), at the anchor's time of day: Stripe's billing periods."""
    moment, day = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(anchor, UTC).day
    year, month = (moment.year + 1, moment.month) if interval == "year" else \
        (moment.year + moment.month // 12, moment.month % 12 + 1)
    return int(moment.replace(year=year, month=month, day=min(day, calendar.monthrange(year, month)[1])).timestamp())


@functools.lru_cache(maxsize=4096)
def card(payment_method: str) -> dict:
    """The card behind a payment method id: which test card, and its expiry, derived from the id. The id carries
    its issue month after `pm_1` (Stripe's own ids start with their time), so the card is valid from then for
    2 to 5 years. (Cached: read it, never change it.)"""
    digest = hashlib.blake2b(payment_method.encode(), digest_size=4).digest()
    brand, last4, funding, country = CARDS[digest[0] % len(CARDS)]
    issued = int(payment_method[4:10], 36)  # months since 1970
    expires = issued + 24 + digest[1] % 36
    return {"brand": brand, "last4": last4, "funding": funding, "country": country, "exp_year": 1970 + expires // 12,
            "exp_month": expires % 12 + 1, "fingerprint": token_of(payment_method, 16)}


def token_of(value: str, length: int) -> str:
    """Letters and digits derived from `value` (for fingerprints: the same card, the same fingerprint)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=16).digest(), "big")
    return "".join(alphabet[(number >> (6 * i)) % 62] for i in range(length))


def card_valid_at(payment_method: str, moment: int) -> bool:
    details = card(payment_method)
    when = datetime.fromtimestamp(moment, UTC)
    return (when.year, when.month) <= (details["exp_year"], details["exp_month"])


class Stripe(Provider):
    name = "stripe"
    collections = ("customer", "subscription", "invoice", "charge", "payment_intent", "product", "price", "refund")
    webhooks = StripeWebhooks()

    def fields(self, collection: str) -> list[dict]:
        return [{**f, "primary_key": f["name"] == "id"} for f in collection_fields()[collection]]

    def stored_object_problem(self, collection: str, object_id: str, data: dict) -> str | None:
        problem = super().stored_object_problem(collection, object_id, data)
        if problem is None and (type(data.get("created")) is not int or data.get("object") != collection):
            return f"its data is not a Stripe {collection} (`object` and `created` in seconds)"
        return problem

    def upstream_times(self, obj: UpstreamObject) -> tuple[int, int]:
        """`created` as Stripe shows it (whole seconds), and the time of the change (the event) behind this version."""
        return obj.data["created"] * MICROS, obj.updated

    # ------------------------------------------------------------ storing

    def store_new(self, account: Account, data: dict, now: int, log: bool) -> UpstreamObject:
        """A new object of the account, made of `data` (from `new_data`), stored at `now`."""
        obj = UpstreamObject(data["object"], data["id"], now, now, data)
        account.record(obj, "insert", now, log)
        return obj

    def new_id(self, account: Account, kind: str) -> str:
        prefix, length = PREFIXES[kind]
        return f"{prefix}_{token(account.rng, length)}"

    def new_data(self, account: Account, kind: str, now: int) -> dict:
        """A new object's data of `kind`, from Stripe's sample, with a fresh id, created now, in test mode."""
        obj = orjson.loads(_template_bytes(kind))
        obj["id"] = self.new_id(account, kind)
        for key, value in (("created", seconds(now)), ("livemode", False), ("metadata", {})):
            if key in obj:
                obj[key] = value
        return obj

    def new_payment_method(self, account: Account, now: int) -> str:
        """A new card's payment method id, its issue month (months since 1970, base 36) after `pm_1`."""
        moment = datetime.fromtimestamp(seconds(now), UTC)
        months, digits = max(0, (moment.year - 1970) * 12 + moment.month - 1), ""
        for _ in range(6):
            digits, months = "0123456789abcdefghijklmnopqrstuvwxyz"[months % 36] + digits, months // 36
        return f"pm_1{digits}{token(account.rng, 18)}"

    # ------------------------------------------------------------ catalogue and customers

    def _product(self, account: Account, now: int, log: bool, data: dict | None = None) -> UpstreamObject:
        rng, obj = account.rng, self.new_data(account, "product", now)
        noun = rng.choice(POOLS.words).capitalize()
        obj.update(name=f"{noun} {rng.choice(['Plan', 'Pro', 'Team', 'Kit', 'Box', 'License'])}",
                   description=f"The {noun.lower()} offering", default_price=None, updated=seconds(now), images=[],
                   features=[], active=True)
        obj.update(data or {})
        return self.store_new(account, obj, now, log)

    def _price(self, account: Account, product: UpstreamObject, now: int, log: bool) -> UpstreamObject:
        rng, obj = account.rng, self.new_data(account, "price", now)
        amount = rng.choice(AMOUNTS)
        interval = "year" if rng.random() < 0.25 else "month"
        obj.update(product=product.id, unit_amount=amount * (10 if interval == "year" else 1),
                   unit_amount_decimal=str(amount * (10 if interval == "year" else 1)), active=True,
                   recurring={"aggregate_usage": None, "interval": interval, "interval_count": 1,
                              "usage_type": "licensed"})
        price = self.store_new(account, obj, now, log)
        if product.data["default_price"] is None:
            product.data.update(default_price=price.id, updated=seconds(now))
            account.record(product, "update", now, log)
        return price

    def _customer(self, account: Account, now: int, log: bool, data: dict | None = None,
                  card_id: str | None = None) -> UpstreamObject:
        rng, obj = account.rng, self.new_data(account, "customer", now)
        first, last = rng.choice(POOLS.first_names), rng.choice(POOLS.last_names)
        city, state, postcode, street = rng.choice(POOLS.cities)
        obj.update(name=f"{first} {last}", email=f"{first}.{last}@{rng.choice(POOLS.domains)}".lower(),
                   phone=rng.choice(POOLS.phones), description=None,
                   address={"city": city, "country": "US", "line1": street, "line2": None, "postal_code": postcode,
                            "state": state},
                   invoice_prefix=token(rng, 8).upper(), next_invoice_sequence=1,
                   invoice_settings={**obj["invoice_settings"],
                                     "default_payment_method": card_id or self.new_payment_method(account, now)})
        obj.update(data or {})
        return self.store_new(account, obj, now, log)

    # ------------------------------------------------------------ subscriptions and their invoices

    def subscribe(self, account: Account, customer: UpstreamObject, price: UpstreamObject, now: int,
                   log: bool, trial_days: int | None = None, quantity: int | None = None,
                   decline: bool | None = None) -> UpstreamObject:
        """A new subscription and its first invoice. The account's own (and history) pick a trial, a quantity and
        the payment's outcome at random; the Stripe API passes what it was asked for."""
        rng, obj = account.rng, self.new_data(account, "subscription", now)
        start = seconds(now)
        if trial_days is None:
            trial_days = TRIAL_DAYS if rng.random() < 0.2 else 0
        trial = trial_days > 0
        end = start + trial_days * DAY_SECONDS if trial else add_interval(start, price.data["recurring"]["interval"], start)
        item = self.new_data(account, "subscription_item", now)
        item.update(price=fresh(price.data), subscription=obj["id"], quantity=quantity or rng.randint(1, 5),
                    tax_rates=[])
        obj.update(customer=customer.id, start_date=start, billing_cycle_anchor=start if not trial else end,
                   current_period_start=start, current_period_end=end, status="trialing" if trial else "active",
                   cancel_at=None, canceled_at=None, cancel_at_period_end=False, ended_at=None,
                   trial_start=start if trial else None, trial_end=end if trial else None, latest_invoice=None,
                   default_payment_method=None, next_pending_invoice_item_invoice=None,
                   cancellation_details={"comment": None, "feedback": None, "reason": None},
                   items={"data": [item], "has_more": False, "object": "list",
                          "url": f"/v1/subscription_items?subscription={obj['id']}"})
        subscription = self.store_new(account, obj, now, log)
        self._bill(account, subscription, now, log, "subscription_create", decline)
        self._schedule(account, subscription)
        return subscription

    def _bill(self, account: Account, subscription: UpstreamObject, now: int, log: bool, reason: str,
              decline: bool | None = None) -> None:
        """The invoice for the subscription's current period, finalized, and its first payment attempt."""
        sub = subscription.data
        customer = account.get("customer", sub["customer"])
        assert customer is not None  # a subscription's customer is never forgotten (deleted ones are stubs)
        item = sub["items"]["data"][0]
        amount = 0 if sub["status"] == "trialing" else item["price"]["unit_amount"] * item["quantity"]
        invoice = self.new_data(account, "invoice", now)
        line = self.new_data(account, "line_item", now)
        price = item["price"]
        product = account.get("product", price["product"])
        line.update(amount=amount, amount_excluding_tax=amount, price=fresh(price), quantity=item["quantity"],
                    subscription=sub["id"], subscription_item=item["id"], type="subscription", proration=False,
                    description=f"{item['quantity']} × {product.data['name'] if product else price['product']} "
                                f"(at ${price['unit_amount'] / 100:.2f} / {price['recurring']['interval']})",
                    period={"start": sub["current_period_start"], "end": sub["current_period_end"]},
                    unit_amount_excluding_tax=str(item["price"]["unit_amount"]))
        del line["invoice_item"]  # subscription lines come from the subscription, not an invoice item
        self.draft_invoice(invoice, customer.data, now)
        invoice.update(
            subscription=sub["id"], billing_reason=reason, amount_due=amount, amount_remaining=amount, subtotal=amount,
            subtotal_excluding_tax=amount, total=amount, total_excluding_tax=amount,
            period_start=sub["current_period_start"], period_end=sub["current_period_end"], auto_advance=True,
            webhooks_delivered_at=seconds(now), subscription_details={"metadata": fresh(sub["metadata"])})
        invoice["lines"]["data"].append(line)
        self._finalized(account, invoice, customer, now, log)
        new = self.store_new(account, invoice, now, log)
        sub["latest_invoice"] = new.id
        account.record(subscription, "update", now, log)
        if amount == 0:
            _paid_at_once(invoice, now)
            account.record(new, "update", now, log)
        else:
            self.attempt_payment(account, new, now, log, decline)

    @staticmethod
    def draft_invoice(invoice: dict, customer: dict, now: int) -> None:
        """An invoice's fields as a draft for the customer, for nothing yet (a new invoice's base is `invoice`)."""
        at = seconds(now)
        invoice.update(
            customer=customer["id"], subscription=None, billing_reason="manual", customer_email=customer["email"],
            customer_name=customer["name"], customer_phone=customer["phone"],
            customer_address=fresh(customer["address"]), amount_due=0, amount_paid=0, amount_remaining=0, subtotal=0,
            subtotal_excluding_tax=0, total=0, total_excluding_tax=0, status="draft", paid=False, attempted=False,
            attempt_count=0, number=None, period_start=at, period_end=at, auto_advance=False, due_date=None,
            effective_at=None, webhooks_delivered_at=None, next_payment_attempt=None, charge=None, payment_intent=None,
            hosted_invoice_url=None, invoice_pdf=None, subscription_details={"metadata": None},
            status_transitions={"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None,
                                "voided_at": None},
            lines={"data": [], "has_more": False, "object": "list", "url": f"/v1/invoices/{invoice['id']}/lines"})

    def _finalized(self, account: Account, invoice: dict, customer: UpstreamObject, now: int, log: bool) -> None:
        """Stripe's finalization: the invoice opens, numbered from the customer's prefix and next sequence (the
        customer changes too), with its hosted page and PDF."""
        sequence = customer.data["next_invoice_sequence"]
        customer.data["next_invoice_sequence"] = sequence + 1
        account.record(customer, "update", now, log)
        at, secret = seconds(now), token(account.rng, 24)
        invoice.update(status="open", number=f"{customer.data['invoice_prefix']}-{sequence:04d}", effective_at=at,
                       hosted_invoice_url=f"https://invoice.stripe.com/i/acct_1Emulator/test_{secret}",
                       invoice_pdf=f"https://pay.stripe.com/invoice/acct_1Emulator/test_{secret}/pdf?s=ap")
        invoice["status_transitions"]["finalized_at"] = at

    def finalize(self, account: Account, invoice_obj: UpstreamObject, now: int) -> None:
        """A draft invoice (made through the API) finalized; one for 0 is paid at once, as on Stripe."""
        customer = account.objects[("customer", invoice_obj.data["customer"])]
        self._finalized(account, invoice_obj.data, customer, now, log=True)
        if invoice_obj.data["amount_due"] == 0:
            _paid_at_once(invoice_obj.data, now)
        account.record(invoice_obj, "update", now)

    def attempt_payment(self, account: Account, invoice_obj: UpstreamObject, now: int, log: bool,
                        decline: bool | None = None) -> None:
        """One payment attempt of an open invoice, with the customer's card: a charge that succeeds or is declined,
        on the invoice's one payment intent (made at the first attempt)."""
        rng, invoice, at = account.rng, invoice_obj.data, seconds(now)
        customer = account.get("customer", invoice["customer"])
        assert customer is not None
        method = self.current_card(account, customer, now, log)
        intent_obj = account.get("payment_intent", invoice["payment_intent"]) if invoice["payment_intent"] else None
        if intent_obj is None:
            pi = self.new_data(account, "payment_intent", now)
            pi.update(amount=invoice["amount_due"], customer=invoice["customer"], invoice=invoice["id"],
                      canceled_at=None, description="Subscription creation" if invoice["billing_reason"] ==
                      "subscription_create" else "Subscription update", payment_method=method,
                      client_secret=f"{pi['id']}_secret_{token(rng, 25)}", latest_charge=None,
                      status="requires_payment_method", amount_received=0, last_payment_error=None,
                      setup_future_usage="off_session")
            intent_obj = self.store_new(account, pi, now, log)
            invoice["payment_intent"] = intent_obj.id
        pi = intent_obj.data
        forced = decline_of(account, method)  # a declining test card keeps declining
        declined = forced is not None or (rng.random() < DECLINE_RATE if decline is None else decline)
        charge = self.new_charge(account, pi, customer.data, method, now, declined)
        charge_obj = self.store_new(account, charge, now, log)
        pi.update(payment_method=method, latest_charge=charge_obj.id)
        invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1, charge=charge_obj.id)
        subscription = account.get("subscription", invoice["subscription"])
        if declined:
            code, message = forced or rng.choice(DECLINES)
            pi.update(status="requires_payment_method", last_payment_error={
                "charge": charge_obj.id, "code": "card_declined", "decline_code": code,
                "doc_url": "https://stripe.com/docs/error-codes/card-declined", "message": message,
                "type": "card_error"})
            retries = invoice["attempt_count"] - 1
            if retries < len(RETRY_AFTER_DAYS):
                invoice["next_payment_attempt"] = at + RETRY_AFTER_DAYS[retries] * DAY_SECONDS
                if subscription is not None and subscription.data["status"] == "active":
                    subscription.data["status"] = "past_due"
                    account.record(subscription, "update", now, log)
            else:  # out of retries: Stripe's default marks the invoice uncollectible and cancels the subscription
                invoice.update(status="uncollectible", next_payment_attempt=None, auto_advance=False)
                invoice["status_transitions"]["marked_uncollectible_at"] = at
                if subscription is not None:
                    self.end_subscription(account, subscription, now, log, "payment_failed")
        else:
            pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None)
            invoice.update(status="paid", paid=True, amount_paid=invoice["amount_due"], amount_remaining=0,
                           next_payment_attempt=None, auto_advance=False)
            invoice["status_transitions"]["paid_at"] = at
            if subscription is not None and subscription.data["status"] == "past_due":
                subscription.data["status"] = "active"
                account.record(subscription, "update", now, log)
        account.record(intent_obj, "update", now, log)
        account.record(invoice_obj, "update", now, log)
        self._schedule(account, invoice_obj)

    def current_card(self, account: Account, customer: UpstreamObject, now: int, log: bool) -> str:
        """The customer's card; one that has expired by `now` (or none at all) is replaced first, as the customer
        would."""
        settings = customer.data["invoice_settings"]
        if not settings["default_payment_method"] or not card_valid_at(settings["default_payment_method"], seconds(now)):
            settings["default_payment_method"] = self.new_payment_method(account, now)
            account.record(customer, "update", now, log)
        return str(settings["default_payment_method"])

    def new_charge(self, account: Account, pi: dict, customer: dict, method: str, now: int, declined: bool) -> dict:
        rng, obj = account.rng, self.new_data(account, "charge", now)
        details = card(method)
        address = customer["address"] or obj["billing_details"]["address"]
        obj.update(
            amount=pi["amount"], amount_captured=0 if declined else pi["amount"], amount_refunded=0,
            captured=not declined, paid=not declined, refunded=False, status="failed" if declined else "succeeded",
            customer=pi["customer"], invoice=pi["invoice"], payment_intent=pi["id"], description=pi["description"],
            payment_method=method, receipt_email=customer["email"],
            balance_transaction=None if declined else self.new_id(account, "balance_transaction"),
            failure_code="card_declined" if declined else None,
            failure_message="Your card was declined." if declined else None,
            calculated_statement_descriptor="EMULATOR", receipt_number=None,
            receipt_url=None if declined else f"https://pay.stripe.com/receipts/payment/{token(rng, 40)}",
            billing_details={"address": fresh(address), "email": customer["email"], "name": customer["name"],
                             "phone": customer["phone"]},
            outcome={"network_status": "declined_by_network" if declined else "approved_by_network",
                     "reason": rng.choice(DECLINES)[0] if declined else None, "risk_level": "normal",
                     "risk_score": rng.randint(5, 60),
                     "seller_message": "The bank did not return any further details with this decline."
                     if declined else "Payment complete.", "type": "issuer_declined" if declined else "authorized"},
            payment_method_details={"card": {
                **obj["payment_method_details"]["card"], "brand": details["brand"], "last4": details["last4"],
                "funding": details["funding"], "country": details["country"], "exp_month": details["exp_month"],
                "exp_year": details["exp_year"], "fingerprint": details["fingerprint"], "network": details["brand"],
                "checks": {"address_line1_check": "pass", "address_postal_code_check": "pass", "cvc_check": "pass"}},
                "type": "card"})
        return obj

    def end_subscription(self, account: Account, subscription: UpstreamObject, now: int, log: bool, reason: str) -> None:
        """The subscription ends now (canceled by the customer, or for failed payments)."""
        sub, at = subscription.data, seconds(now)
        sub.update(status="canceled", ended_at=at, canceled_at=sub["canceled_at"] or at, cancel_at=None,
                   cancel_at_period_end=False,
                   cancellation_details={"comment": None, "feedback": None, "reason": reason})
        account.record(subscription, "update", now, log)

    def _renew(self, account: Account, subscription: UpstreamObject, now: int, log: bool) -> None:
        """The current period ended: the subscription ends if set to (or lapses), else a new period is billed."""
        sub = subscription.data
        if sub["cancel_at_period_end"] or account.rng.random() < CHURN_AT_RENEWAL:
            self.end_subscription(account, subscription, now, log, "cancellation_requested")
            return
        interval = sub["items"]["data"][0]["price"]["recurring"]["interval"]
        start = sub["current_period_end"]
        if sub["status"] == "trialing":
            sub["status"] = "active"
        sub.update(current_period_start=start, current_period_end=add_interval(start, interval,
                                                                               sub["billing_cycle_anchor"]))
        self._bill(account, subscription, now, log, "subscription_cycle")

    # ------------------------------------------------------------ what falls due

    def _due_time(self, obj: UpstreamObject) -> int | None:
        """When an object next needs the account's attention (µs), if it does."""
        data = obj.data
        if obj.collection == "subscription" and data["status"] in ("active", "trialing", "past_due"):
            return int(data["current_period_end"]) * MICROS
        if obj.collection == "invoice" and data["status"] == "open" and data["next_payment_attempt"] is not None:
            return int(data["next_payment_attempt"]) * MICROS
        return None

    def _schedule(self, account: Account, obj: UpstreamObject) -> None:
        due = self._due_time(obj)
        if due is not None and account.agenda is not None:
            heapq.heappush(account.agenda, (due, obj.collection, obj.id))

    def _agenda(self, account: Account) -> list[tuple[int, str, str]]:
        """The due times, rebuilt from the objects when missing (a restored account); stale entries are skipped."""
        if account.agenda is None:
            account.agenda = [(due, obj.collection, obj.id) for obj in account.objects.values()
                              if (due := self._due_time(obj)) is not None]
            heapq.heapify(account.agenda)
        agenda = account.agenda
        while agenda:
            due, collection, object_id = agenda[0]
            obj = account.get(collection, object_id)
            if obj is not None and self._due_time(obj) == due:
                break
            heapq.heappop(agenda)
        return agenda

    def next_due(self, account: Account) -> int | None:
        agenda = self._agenda(account)
        return agenda[0][0] if agenda else None

    def run_due(self, account: Account, now: int, log: bool = True) -> None:
        agenda = self._agenda(account)
        while agenda and agenda[0][0] <= now:
            _, collection, object_id = heapq.heappop(agenda)
            obj = account.objects[(collection, object_id)]
            if collection == "subscription":
                self._renew(account, obj, now, log)
                self._schedule(account, obj)
            else:
                self.attempt_payment(account, obj, now, log)
            agenda = self._agenda(account)

    # ------------------------------------------------------------ the account's life

    def populating(self, account: Account, now: int) -> Iterator[None]:
        """History: `records_per_collection` products, prices, customers and subscriptions, spread over
        `history_days`, each subscription billed and renewed up to `now` by the same rules as later."""
        account.agenda = []
        for number, created in enumerate(history_times(account, account.settings.records_per_collection, now)):
            self.run_due(account, created, log=False)
            product = self._product(account, created, log=False)
            price = self._price(account, product, created + MICROS, log=False)
            customer = self._customer(account, created + 2 * MICROS, log=False)
            self.subscribe(account, customer, price, created + 3 * MICROS, log=False)
            if number % POPULATE_SLICE == POPULATE_SLICE - 1:
                yield
        for number in itertools.count():  # what falls due after the last creation, up to now
            due = self.next_due(account)
            if due is None or due > now:
                break
            self.run_due(account, due, log=False)
            if number % POPULATE_SLICE == POPULATE_SLICE - 1:
                yield

    def random_change(self, account: Account, now: int) -> Change | None:
        """One of the account's own changes, by weight; returns the last change it logged, if any."""
        before, roll = len(account.changes), account.rng.random()
        threshold = 0.0
        for weight, action in self._actions():
            threshold += weight
            if roll < threshold:
                action(account, now)
                break
        return account.changes[len(account.changes) - 1] if len(account.changes) > before else None

    def _actions(self) -> tuple[tuple[float, Callable[[Account, int], object]], ...]:
        return (
            (0.15, self._new_business),
            (0.25, lambda account, now: self._touch(account, "customer", now)),
            (0.07, lambda account, now: self._remove_one(account, "customer", now)),
            (0.05, lambda account, now: self._touch(account, "product", now)),
            (0.03, lambda account, now: self._product(account, now, log=True)),  # in the catalogue, not priced yet
            (0.05, lambda account, now: self._remove_one(account, "product", now)),
            (0.07, lambda account, now: self._touch(account, "price", now)),
            (0.13, lambda account, now: self._touch(account, "subscription", now)),
            (0.10, self._refund),
            (0.05, lambda account, now: self._touch(account, "invoice", now)),
            (0.05, self._void_one),
        )

    def _remove_one(self, account: Account, collection: str, now: int) -> None:
        target = account.random_live(collection)
        if target is not None:
            remove = self._delete_customer if collection == "customer" else self._delete_product
            remove(account, target, now, True)

    def _new_business(self, account: Account, now: int) -> None:
        """A new customer subscribing to an active price (a new product and price, sometimes first)."""
        price = self._active_price(account)
        if price is None or account.rng.random() < 0.15:
            product = self._product(account, now, log=True)
            price = self._price(account, product, now, log=True)
        customer = self._customer(account, now, log=True)
        self.subscribe(account, customer, price, now, log=True)

    def _active_price(self, account: Account) -> UpstreamObject | None:
        for _ in range(8):
            price = account.random_live("price")
            if price is None:
                return None
            product = account.get("product", price.data["product"])
            if price.data["active"] and product is not None and not product.deleted and product.data["active"]:
                return price
        return None

    def _touch(self, account: Account, collection: str, now: int) -> None:
        """A typical update of one object of the collection."""
        obj = account.random_live(collection)
        if obj is None:
            return
        rng, data = account.rng, obj.data
        if collection == "customer":
            data["balance"] = rng.choice([0, 0, -500, 1500])
            data["metadata"] = {"tier": rng.choice(["free", "pro", "enterprise"])}
        elif collection == "product":
            data.update(description=f"The {rng.choice(POOLS.words)} offering", updated=seconds(now))
        elif collection == "price":
            if data["active"] and rng.random() < 0.4:
                data["active"] = False  # archived: no new subscriptions; existing ones go on
            else:
                data["nickname"] = rng.choice(POOLS.words).capitalize()
        elif collection == "subscription":
            if data["status"] == "canceled":
                return
            if rng.random() < 0.25:
                self.end_subscription(account, obj, now, log=True, reason="cancellation_requested")
                return
            wanted = not data["cancel_at_period_end"]
            data.update(cancel_at_period_end=wanted, cancel_at=data["current_period_end"] if wanted else None,
                        canceled_at=seconds(now) if wanted else None)
        elif collection == "invoice":
            data["metadata"] = {"reviewed": "true"}
        account.record(obj, "update", now)

    def _void_one(self, account: Account, now: int) -> None:
        """Void an invoice still waiting for a retried payment (the merchant gives up on it)."""
        waiting = sorted(object_id for _, collection, object_id in self._agenda(account) if collection == "invoice"
                         and account.objects[("invoice", object_id)].data["status"] == "open")
        if waiting:
            self.void_invoice(account, account.objects[("invoice", account.rng.choice(waiting))], now)

    def mark_uncollectible(self, account: Account, invoice_obj: UpstreamObject, now: int) -> None:
        """No more payment attempts of an open invoice (it can still be paid); its subscription is left as it is."""
        invoice = invoice_obj.data
        invoice.update(status="uncollectible", next_payment_attempt=None, auto_advance=False)
        invoice["status_transitions"]["marked_uncollectible_at"] = seconds(now)
        account.record(invoice_obj, "update", now)  # its retry falls off the agenda: nothing is due any more

    def void_invoice(self, account: Account, invoice_obj: UpstreamObject, now: int) -> None:
        invoice = invoice_obj.data
        invoice.update(status="void", amount_remaining=0, next_payment_attempt=None, auto_advance=False)
        invoice["status_transitions"]["voided_at"] = seconds(now)
        account.record(invoice_obj, "update", now)
        intent = account.get("payment_intent", invoice["payment_intent"]) if invoice["payment_intent"] else None
        if intent is not None and intent.data["status"] != "succeeded":
            intent.data.update(status="canceled", canceled_at=seconds(now), cancellation_reason="void_invoice")
            account.record(intent, "update", now)
        subscription = account.get("subscription", invoice["subscription"])
        if subscription is not None and subscription.data["status"] == "past_due":
            subscription.data["status"] = "active"
            account.record(subscription, "update", now)

    def _refund(self, account: Account, now: int) -> None:
        """The account refunds a payment: all of what is left of it, or half."""
        charge = account.random_live("charge")
        if charge is None or charge.data["status"] != "succeeded" or not charge.data["captured"] or \
                charge.data["refunded"]:
            return
        left = charge.data["amount"] - charge.data["amount_refunded"]
        self.refund(account, charge, left if account.rng.random() < 0.7 else max(1, left // 2), now,
                    reason="requested_by_customer")

    def refund(self, account: Account, charge: UpstreamObject, amount: int, now: int, reason: str | None = None,
               metadata: dict | None = None) -> UpstreamObject:
        """A refund of `amount` of a captured charge (at most what is left of it, the caller checks): a `refund`
        object, and the charge's `amount_refunded` and `refunded` following, told by `charge.refunded`."""
        data = charge.data
        refund = self.new_data(account, "refund", now)
        refund.update(amount=amount, charge=charge.id, currency=data["currency"], payment_intent=data["payment_intent"],
                      reason=reason, status="succeeded", metadata=metadata or {},
                      balance_transaction=self.new_id(account, "balance_transaction"))
        created = self.store_new(account, refund, now, log=True)
        data["amount_refunded"] += amount
        data["refunded"] = data["amount_refunded"] == data["amount"]
        account.record(charge, "update", now, event="charge.refunded")
        return created

    def _delete_customer(self, account: Account, customer: UpstreamObject, now: int, log: bool) -> Change | None:
        """Stripe cancels a deleted customer's subscriptions, then leaves a stub."""
        for sub_id in list(account.order.get("subscription", ())):
            sub = account.objects[("subscription", sub_id)]
            if sub.data["customer"] == customer.id and sub.data["status"] != "canceled":
                self.end_subscription(account, sub, now, log, "cancellation_requested")
        customer.deleted = True
        return account.record(customer, "delete", now, log)

    def _delete_product(self, account: Account, product: UpstreamObject, now: int, log: bool) -> Change | None:
        """Stripe refuses to delete a product that has prices: it is archived instead."""
        has_prices = any(account.objects[("price", pid)].data["product"] == product.id
                         for pid in account.order.get("price", ()))
        product.data.update(active=False, updated=seconds(now))
        if has_prices:
            return account.record(product, "update", now, log)
        product.deleted = True
        return account.record(product, "delete", now, log)

    # ------------------------------------------------------------ writes from outside (injections, mutations)

    def check_data(self, account: Account, collection: str, data: dict, object_id: str | None = None) -> None:
        allowed = {"customer": CUSTOMER_FIELDS, "product": PRODUCT_FIELDS}.get(collection)
        if allowed is None:
            raise Invalid.field("collection_id", f"stripe:{collection} cannot be written here; "
                                "write stripe:customer or stripe:product")
        problems = {path: Problem("parameter_unknown", reasons[0])
                    for path, reasons in unknown_fields(data, allowed).items()}
        for key, value in data.items():
            if key in allowed and (problem := parameter_problem(key, value)) is not None:
                problems[f"data.{key}"] = problem
        if collection == "product" and "name" in data and not data["name"]:
            problems["data.name"] = Problem("parameter_missing", "Missing required param: name.")
        if problems:
            raise Refused(problems)

    def insert(self, account: Account, collection: str, data: dict, now: int) -> Change:
        self.validate(account, "insert", collection, None, data)
        if collection == "customer":
            self._customer(account, now, log=True, data=data)
        else:
            self._product(account, now, log=True, data=data)
        return account.changes[len(account.changes) - 1]

    def create_customer(self, account: Account, data: dict, now: int, card_id: str | None) -> UpstreamObject:
        """A customer written through the API, paying with `card_id` (a card of the account) if given, else a card
        of its own."""
        self.validate(account, "insert", "customer", None, data)
        customer = self._customer(account, now, log=True, data=data, card_id=card_id)
        if card_id is not None and card_id in kept(account):
            kept(account)[card_id]["customer"] = customer.id
        return customer

    def update(self, account: Account, collection: str, object_id: str, data: dict, now: int) -> Change:
        self.validate(account, "update", collection, object_id, data)
        obj = self.existing(account, collection, object_id)
        obj.data.update(data)
        if collection == "product":
            obj.data["updated"] = seconds(now)
        return account.record(obj, "update", now)

    def delete(self, account: Account, collection: str, object_id: str, now: int) -> Change:
        self.validate(account, "delete", collection, object_id, {})
        obj = self.existing(account, collection, object_id)
        change = self._delete_customer(account, obj, now, log=True) if collection == "customer" else \
            self._delete_product(account, obj, now, log=True)
        assert change is not None  # logged
        return change

    # ------------------------------------------------------------ Stripe's own views

    @staticmethod
    def stub(obj: UpstreamObject) -> dict:
        """What `GET /v1/<type>/<id>` answers for a deleted customer or product."""
        return {"id": obj.id, "object": obj.collection, "deleted": True}

    def event_of(self, account: Account, change: Change, position: int,
                 event: str | None = None) -> ProviderEvent | None:
        """The Stripe event for a change, as Stripe names it (`invoice.paid`, `charge.failed`,
        `customer.subscription.deleted`, ...: `event` when the caller names it, else `event_type`), with
        `data.previous_attributes` (the top-level fields that changed since the object's last event) and `request`
        (the API request that made it, null for the account's own changes). Its id derives from the account and the
        change's position, so the same calls give the same events."""
        latest = account.events.latest_of(change.id)
        previous = orjson.loads(latest.payload)["data"]["object"] if latest is not None else None
        kind = event or event_type(change, previous)
        if kind is None:
            return None
        envelope = orjson.loads(_template_bytes("event"))
        event_id = f"evt_{hashlib.sha256(f'{account.seed}|{position}'.encode()).hexdigest()[:24]}"
        data = self.stub(change.snapshot) if change.snapshot.deleted else change.snapshot.data
        told: dict[str, Any] = {"object": data}
        if change.kind == "update" and previous is not None:
            changed = {k: previous[k] for k in data if k in previous and previous[k] != data[k]}
            if changed:
                told["previous_attributes"] = changed
        request = account.api_state.get("request") or {"id": None, "idempotency_key": None}
        envelope.update(id=event_id, api_version=API_VERSION, created=seconds(change.time), type=kind, data=told,
                        livemode=False, pending_webhooks=0, request=request)
        return ProviderEvent(event_id, change.time, kind, orjson.dumps(envelope), change.id)


INVOICE_STATUS_EVENTS = {"open": "invoice.finalized", "paid": "invoice.paid", "void": "invoice.voided",
                         "uncollectible": "invoice.marked_uncollectible"}
INTENT_STATUS_EVENTS = {"succeeded": "payment_intent.succeeded", "canceled": "payment_intent.canceled",
                        "requires_capture": "payment_intent.amount_capturable_updated",
                        "requires_action": "payment_intent.requires_action", "processing": "payment_intent.processing"}


def event_type(change: Change, previous: dict | None) -> str | None:
    """Stripe's type of the event a change makes, from the object's state and (when known) the state its last
    event told; None where Stripe sends none (a payment intent's metadata, a new refund in 2023-08-16). Without a
    previous state (an object from before anyone watched), its status is taken to be what changed."""
    data, collection = change.snapshot.data, change.collection
    noun = "customer.subscription" if collection == "subscription" else collection
    if change.kind == "delete":
        return f"{noun}.deleted"
    if change.kind == "insert":
        if collection == "charge":
            return "charge.failed" if data.get("status") == "failed" else "charge.succeeded"
        return None if collection == "refund" else f"{noun}.created"
    updated = UPDATED.get(collection)
    return updated(data, previous) if updated is not None else f"{noun}.updated"


def _moved(data: dict, previous: dict | None) -> bool:
    """Whether the status changed (or may have: nothing was told of the object before)."""
    return previous is None or previous.get("status") != data.get("status")


def _subscription_updated(data: dict, previous: dict | None) -> str:
    canceled = data["status"] == "canceled" and _moved(data, previous)
    return "customer.subscription.deleted" if canceled else "customer.subscription.updated"


def _invoice_updated(data: dict, previous: dict | None) -> str:
    if _moved(data, previous) and data["status"] in INVOICE_STATUS_EVENTS:
        return INVOICE_STATUS_EVENTS[data["status"]]
    if previous is not None and data["status"] == "open" and data["attempt_count"] > previous.get("attempt_count", 0):
        return "invoice.payment_failed"
    return "invoice.updated"


def _intent_updated(data: dict, previous: dict | None) -> str | None:
    if _moved(data, previous) and data["status"] in INTENT_STATUS_EVENTS:
        return INTENT_STATUS_EVENTS[data["status"]]
    error = data.get("last_payment_error")
    failed = error and (previous is None or previous.get("last_payment_error") != error)
    return "payment_intent.payment_failed" if failed else None  # Stripe has no payment_intent.updated


def _charge_updated(data: dict, previous: dict | None) -> str:
    if previous is not None and data["amount_refunded"] > previous.get("amount_refunded", 0):
        return "charge.refunded"
    if previous is not None and data["captured"] and not previous.get("captured", True):
        return "charge.captured"
    return "charge.updated"


UPDATED: dict[str, Callable[[dict, dict | None], str | None]] = {
    "subscription": _subscription_updated, "invoice": _invoice_updated, "payment_intent": _intent_updated,
    "charge": _charge_updated, "refund": lambda data, previous: "charge.refund.updated"}


def _paid_at_once(invoice: dict, now: int) -> None:
    """An invoice for nothing is paid when it is finalized."""
    invoice.update(status="paid", paid=True, auto_advance=False)
    invoice["status_transitions"]["paid_at"] = seconds(now)
