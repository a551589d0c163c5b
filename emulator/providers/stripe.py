"""Simulated Stripe accounts, in API version 2023-08-16 shapes.

Every object starts from Stripe's own sample object for its type (so its keys and nested shapes are exactly
Stripe's default response), then gets realistic, consistent values: a subscription's customer and price exist,
an invoice's subscription exists, a charge's payment intent and invoice exist, a price's product exists.
Changes follow Stripe's model: customers and products are deleted (leaving a stub), subscriptions are
canceled, invoices voided or paid, prices archived, charges refunded.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import orjson

from emulator.domain.clock import MICROS
from emulator.domain.errors import Invalid
from emulator.domain.upstream import Account, Change, Provider, UpstreamObject
from emulator.providers.base import POOLS, history_times, token, unknown_fields

API_VERSION = "2023-08-16"
EVENT_VERBS = {"insert": "created", "update": "updated", "delete": "deleted"}  # a change's kind, in Stripe's events
DATA = Path(__file__).resolve().parent / "data" / "stripe"
PREFIXES = {"customer": ("cus", 14), "product": ("prod", 14), "subscription_item": ("si", 14),
            "subscription": ("sub", 24), "invoice": ("in", 24), "charge": ("ch", 24), "payment_intent": ("pi", 24),
            "price": ("price", 24), "line_item": ("il", 24), "event": ("evt", 24), "invoice_item": ("ii", 24),
            "balance_transaction": ("txn", 24)}
# Order matters: each collection refers only to ones before it.
COLLECTIONS = ("product", "price", "customer", "subscription", "invoice", "payment_intent", "charge")
DELETABLE = {"customer", "product"}
# collection → (the collection it points to, its field holding the id, the field there pointing back)
BACK_REFERENCES = {
    "price": ("product", "product", "default_price"),
    "invoice": ("subscription", "subscription", "latest_invoice"),
    "charge": ("payment_intent", "payment_intent", "latest_charge"),
}  # the others change state instead of disappearing
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AMOUNTS = (500, 900, 1500, 2000, 4900, 9900, 19900)
CUSTOMER_FIELDS = {"email", "name", "phone", "description", "metadata", "balance", "address", "preferred_locales"}
PRODUCT_FIELDS = {"name", "description", "metadata", "active", "url", "unit_label", "statement_descriptor"}


@functools.cache
def templates() -> dict:
    return json.loads((DATA / "fixtures.json").read_text())


@functools.cache
def _template_bytes(kind: str) -> bytes:
    return orjson.dumps(templates()[kind])


def fresh(value) -> dict:
    """A deep copy of JSON data (several times faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(value))


@functools.cache
def collection_fields() -> dict:
    return json.loads((DATA / "collections.json").read_text())


def seconds(micros: int) -> int:
    return micros // MICROS


class Stripe(Provider):
    name = "stripe"
    collections = ("customer", "subscription", "invoice", "charge", "payment_intent", "product", "price")

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

    # ------------------------------------------------------------ building objects

    def _new_id(self, account: Account, kind: str) -> str:
        prefix, length = PREFIXES[kind]
        return f"{prefix}_{token(account.rng, length)}"

    def _base(self, account: Account, kind: str, created: int) -> dict:
        obj = orjson.loads(_template_bytes(kind))
        obj["id"] = self._new_id(account, kind)
        for key, value in (("created", seconds(created)), ("livemode", False), ("metadata", {})):
            if key in obj:
                obj[key] = value
        return obj

    def _pick(self, account: Account, collection: str, refs: dict | None = None) -> UpstreamObject | None:
        """The object a new one refers to: the given one (while populating), else a random live one."""
        if refs and collection in refs:
            return refs[collection]
        return account.random_live(collection)

    def _build(self, account: Account, collection: str, created: int, refs: dict | None = None) -> dict | None:
        rng = account.rng
        if collection == "product":
            obj = self._base(account, "product", created)
            noun = rng.choice(POOLS.words).capitalize()
            obj.update(name=f"{noun} {rng.choice(['Plan', 'Pro', 'Team', 'Kit', 'Box', 'License'])}",
                       description=f"The {noun.lower()} offering", default_price=None, updated=seconds(created),
                       images=[], features=[])
            return obj
        if collection == "price":
            product = self._pick(account, "product", refs)
            if product is None:
                return None
            obj = self._base(account, "price", created)
            amount = rng.choice(AMOUNTS)
            obj.update(product=product.id, unit_amount=amount, unit_amount_decimal=str(amount),
                       recurring={"aggregate_usage": None, "interval": rng.choice(["month", "year"]),
                                  "interval_count": 1, "usage_type": "licensed"})
            return obj
        if collection == "customer":
            obj = self._base(account, "customer", created)
            first, last = rng.choice(POOLS.first_names), rng.choice(POOLS.last_names)
            city, state, postcode, street = rng.choice(POOLS.cities)
            obj.update(name=f"{first} {last}", email=f"{first}.{last}@{rng.choice(POOLS.domains)}".lower(),
                       phone=rng.choice(POOLS.phones), description=None,
                       address={"city": city, "country": "US", "line1": street, "line2": None, "postal_code": postcode,
                                "state": state},
                       invoice_prefix=token(rng, 8).upper(), next_invoice_sequence=rng.randint(1, 20))
            return obj
        if collection == "subscription":
            customer, price = self._pick(account, "customer", refs), self._pick(account, "price", refs)
            if customer is None or price is None:
                return None
            obj = self._base(account, "subscription", created)
            start = seconds(created)
            item = self._base(account, "subscription_item", created)
            item.update(price=fresh(price.data), subscription=obj["id"], quantity=rng.randint(1, 5), tax_rates=[])
            obj.update(customer=customer.id, start_date=start, billing_cycle_anchor=start, current_period_start=start,
                       current_period_end=start + 30 * 86400, status="active", cancel_at=None, canceled_at=None,
                       ended_at=None, trial_start=None, trial_end=None, latest_invoice=None, default_payment_method=None,
                       items={"data": [item], "has_more": False, "object": "list",
                              "url": f"/v1/subscription_items?subscription={obj['id']}"})
            return obj
        if collection == "invoice":
            subscription = self._pick(account, "subscription", refs)
            if subscription is None:
                return None
            sub = subscription.data
            item = sub["items"]["data"][0]
            amount = item["price"]["unit_amount"] * item["quantity"]
            obj = self._base(account, "invoice", created)
            line = self._base(account, "line_item", created)
            line.update(amount=amount, amount_excluding_tax=amount, price=fresh(item["price"]),
                        quantity=item["quantity"], subscription=sub["id"], subscription_item=item["id"],
                        type="subscription", proration=False, description=None,
                        period={"start": sub["current_period_start"], "end": sub["current_period_end"]})
            del line["invoice_item"]  # subscription lines come from the subscription, not an invoice item
            customer = account.get("customer", sub["customer"])
            paid = account.rng.random() < 0.7
            obj.update(customer=sub["customer"], subscription=sub["id"], billing_reason="subscription_cycle",
                       customer_email=customer.data["email"] if customer else None,
                       customer_name=customer.data["name"] if customer else None,
                       amount_due=amount, amount_paid=amount if paid else 0, amount_remaining=0 if paid else amount,
                       subtotal=amount, subtotal_excluding_tax=amount, total=amount, total_excluding_tax=amount,
                       status="paid" if paid else "open", paid=paid, attempted=True, attempt_count=1,
                       number=f"{token(rng, 8).upper()}-{rng.randint(1, 9999):04d}",
                       period_start=sub["current_period_start"], period_end=sub["current_period_end"],
                       status_transitions={"finalized_at": seconds(created), "marked_uncollectible_at": None,
                                           "paid_at": seconds(created) if paid else None, "voided_at": None},
                       lines={"data": [line], "has_more": False, "object": "list", "url": f"/v1/invoices/{obj['id']}/lines"})
            return obj
        if collection == "payment_intent":
            invoice = self._pick(account, "invoice", refs)
            if invoice is None:
                return None
            obj = self._base(account, "payment_intent", created)
            inv = invoice.data
            obj.update(amount=inv["amount_due"], amount_received=inv["amount_paid"], customer=inv["customer"],
                       invoice=inv["id"], canceled_at=None, status="succeeded" if inv["paid"] else "requires_payment_method",
                       client_secret=f"{obj['id']}_secret_{token(rng, 25)}", latest_charge=None)
            return obj
        if collection == "charge":
            intent = self._pick(account, "payment_intent", refs)
            if intent is None:
                return None
            pi = intent.data
            obj = self._base(account, "charge", created)
            customer = account.get("customer", pi["customer"]) if pi["customer"] else None
            obj.update(amount=pi["amount"], amount_captured=pi["amount"], amount_refunded=0, captured=True, paid=True,
                       refunded=False, status="succeeded", customer=pi["customer"], invoice=pi["invoice"],
                       payment_intent=pi["id"], description=None,
                       balance_transaction=self._new_id(account, "balance_transaction"),
                       billing_details={**obj["billing_details"], "name": customer.data["name"] if customer else None,
                                        "email": customer.data["email"] if customer else None},
                       receipt_email=customer.data["email"] if customer else None, receipt_url=None,
                       refunds={"data": [], "has_more": False, "object": "list", "url": f"/v1/charges/{obj['id']}/refunds"})
            return obj
        raise ValueError(collection)

    def _store_new(self, account: Account, collection: str, data: dict, created: int, log: bool,
                   refs: dict | None = None) -> Change | None:
        """Add a new object; with `log`, as a change (after the account's creation), else as history."""
        obj = UpstreamObject(collection, data["id"], created, created, data)
        if refs is not None:
            refs[collection] = obj
        change = None
        if log:
            change = account.record(obj, "insert", created)
        else:
            account.order.setdefault(collection, []).append(obj.id)
            account.objects[(collection, obj.id)] = obj
        self._link_back(account, obj, created, log)
        return change

    def _link_back(self, account: Account, obj: UpstreamObject, now: int, log: bool) -> None:
        """Keep the references that point back: a product's default price, a subscription's latest invoice,
        a payment intent's latest charge."""
        back = BACK_REFERENCES.get(obj.collection)
        if back is None:
            return
        collection, field, target_field = back
        target = account.get(collection, obj.data[field])
        if target is None or target.deleted:
            return
        target.data[target_field] = obj.id
        if collection == "product":
            target.data["updated"] = seconds(now)
        if log:
            account.record(target, "update", now)

    # ------------------------------------------------------------ the account's life

    def populate(self, account: Account, now: int) -> None:
        count = account.settings.records_per_collection
        times = history_times(account, count, now)
        for created in times:
            refs: dict = {}  # each history step is a chain: product, its price, a customer, their subscription...
            for step, collection in enumerate(COLLECTIONS):
                at = created + step * MICROS
                data = self._build(account, collection, at, refs)
                if data is not None:
                    self._store_new(account, collection, data, at, log=False, refs=refs)

    def random_change(self, account: Account, now: int) -> Change | None:
        rng = account.rng
        collection = rng.choice(COLLECTIONS)
        roll = rng.random()
        target = self._pick(account, collection)
        if roll < 0.4 or target is None:
            data = self._build(account, collection, now)
            return None if data is None else self._store_new(account, collection, data, now, log=True)
        if roll < 0.9:
            return self._evolve(account, target, now)
        return self._remove(account, target, now)

    def _evolve(self, account: Account, obj: UpstreamObject, now: int) -> Change:
        """A typical update of each type."""
        rng, data = account.rng, obj.data
        if obj.collection == "customer":
            data["balance"] = rng.choice([0, 0, -500, 1500])
            data["metadata"] = {"tier": rng.choice(["free", "pro", "enterprise"])}
        elif obj.collection == "product":
            data["description"] = f"The {rng.choice(POOLS.words)} offering"
            data["updated"] = seconds(now)
        elif obj.collection == "price":
            data["nickname"] = rng.choice(POOLS.words).capitalize()
        elif obj.collection == "subscription":
            data["cancel_at_period_end"] = not data["cancel_at_period_end"]
            data["cancel_at"] = data["current_period_end"] if data["cancel_at_period_end"] else None
        elif obj.collection == "invoice":
            if data["status"] == "open":
                data.update(status="paid", paid=True, amount_paid=data["amount_due"], amount_remaining=0)
                data["status_transitions"]["paid_at"] = seconds(now)
            else:
                data["metadata"] = {"reviewed": "true"}
        elif obj.collection == "payment_intent":
            data["description"] = f"Payment for {data['invoice']}"
        elif obj.collection == "charge":
            data.update(amount_refunded=data["amount"], refunded=True)
        return account.record(obj, "update", now)

    def _remove(self, account: Account, obj: UpstreamObject, now: int) -> Change:
        """Stripe's delete model: stubs for customers and products, state changes for the rest."""
        data = obj.data
        if obj.collection in DELETABLE:
            obj.deleted = True
            return account.record(obj, "delete", now)
        if obj.collection == "subscription":
            data.update(status="canceled", canceled_at=seconds(now), ended_at=seconds(now), cancel_at_period_end=False,
                        cancellation_details={"comment": None, "feedback": None, "reason": "cancellation_requested"})
        elif obj.collection == "invoice":
            if data["status"] == "paid":
                return self._evolve(account, obj, now)
            data.update(status="void", amount_remaining=0)
            data["status_transitions"]["voided_at"] = seconds(now)
        elif obj.collection == "price":
            data["active"] = False
        elif obj.collection == "payment_intent":
            if data["status"] == "succeeded":
                return self._evolve(account, obj, now)
            data.update(status="canceled", canceled_at=seconds(now), cancellation_reason="abandoned")
        elif obj.collection == "charge":
            data.update(amount_refunded=data["amount"], refunded=True)
        return account.record(obj, "update", now)

    # ------------------------------------------------------------ writes from outside (injections, mutations)

    def check_data(self, collection: str, data: dict) -> None:
        allowed = {"customer": CUSTOMER_FIELDS, "product": PRODUCT_FIELDS}.get(collection)
        if allowed is None:
            raise Invalid.field("collection_id", f"stripe:{collection} cannot be written here; "
                                "write stripe:customer or stripe:product")
        errors = unknown_fields(data, allowed)
        email = data.get("email")
        if email is not None and (not isinstance(email, str) or not EMAIL.match(email)):
            errors["data.email"] = ["Invalid email address: must look like name@example.com"]
        for key in ("name", "description", "phone"):
            if key in data and data[key] is not None and not isinstance(data[key], str):
                errors[f"data.{key}"] = ["must be a string"]
        if "metadata" in data and (not isinstance(data["metadata"], dict)
                                   or not all(isinstance(v, str) for v in data["metadata"].values())):
            errors["data.metadata"] = ["must be an object of string values"]
        if collection == "product" and "name" in data and not data["name"]:
            errors["data.name"] = ["is required"]
        if errors:
            raise Invalid(errors, summary="Stripe rejected the request: " + next(iter(errors.values()))[0] + ".")

    def insert(self, account: Account, collection: str, data: dict, now: int) -> Change:
        self.validate(account, "insert", collection, None, data)
        obj = self._build(account, collection, now)
        assert obj is not None  # only customers and products are written, and they need no other object
        obj.update(data)
        if collection == "product":
            obj["updated"] = seconds(now)
        change = self._store_new(account, collection, obj, now, log=True)
        assert change is not None  # log=True always records the change
        return change

    def update(self, account: Account, collection: str, object_id: str, data: dict, now: int) -> Change:
        self.validate(account, "update", collection, object_id, data)
        obj = self.existing(account, collection, object_id)
        obj.data.update(data)
        if collection == "product":
            obj.data["updated"] = seconds(now)
        return account.record(obj, "update", now)

    def delete(self, account: Account, collection: str, object_id: str, now: int) -> Change:
        self.validate(account, "delete", collection, object_id, {})
        return self._remove(account, self.existing(account, collection, object_id), now)

    # ------------------------------------------------------------ Stripe's own views

    @staticmethod
    def stub(obj: UpstreamObject) -> dict:
        """What `GET /v1/<type>/<id>` answers for a deleted customer or product."""
        return {"id": obj.id, "object": obj.collection, "deleted": True}

    def event(self, account: Account, change: Change) -> dict:
        """The Stripe event for a change (`customer.updated`, `customer.subscription.deleted`, ...)."""
        noun = "customer.subscription" if change.collection == "subscription" else change.collection
        kind = EVENT_VERBS[change.kind]
        if change.collection == "subscription" and change.snapshot.data["status"] == "canceled":
            kind = "deleted"
        event = orjson.loads(_template_bytes("event"))
        event.update(id=f"evt_{token(account.rng, 24)}", api_version=API_VERSION, created=seconds(change.time),
                     type=f"{noun}.{kind}", data={"object": fresh(change.snapshot.data)})
        return event

