"""Stripe's REST API (version 2023-08-16) over a simulated account, for the official SDKs.

The writes go through the same model as everything else in the account (`sequin_emulator.providers.stripe.model`): a
subscription created here is billed, charged and renewed by Stripe's rules, and every change is in the account's
change log, where syncs find it at their next poll. What is served: customers, products, prices, subscriptions,
invoices, payment intents and charges (create where Stripe lets an API user create them, retrieve, update, list,
and the lifecycle calls), events from the account's change log, `expand[]` one level, list paging and `created`
filters, idempotency keys, and Stripe's error envelope and statuses.

Parameters arrive as strings (form encoding); each operation converts what it takes, with Stripe's messages.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from sequin_emulator.domain import provider_webhooks
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.provider_events import ProviderEvent
from sequin_emulator.domain.upstream import Account, UpstreamObject
from sequin_emulator.providers.kept_answers import Kept, KeptAnswers
from sequin_emulator.providers.stripe.cards import customer_of, decline_of
from sequin_emulator.providers.stripe.errors import StripeError, missing
from sequin_emulator.providers.stripe.forms import FormError
from sequin_emulator.providers.stripe.forms import parse as parse_form
from sequin_emulator.providers.stripe.model import (
    API_VERSION,
    CUSTOMER_FIELDS,
    PRODUCT_FIELDS,
    Stripe,
    fresh,
    seconds,
)
from sequin_emulator.providers.stripe.params import check as check_params
from sequin_emulator.providers.stripe.payment_methods import HANDLERS as PAYMENT_METHOD_HANDLERS
from sequin_emulator.providers.stripe.payment_methods import card_for
from sequin_emulator.providers.stripe.rules import Refused
from sequin_emulator.providers.stripe.search import SEARCHABLE, matcher
from sequin_emulator.providers.stripe.webhook_endpoints import HANDLERS as ENDPOINT_HANDLERS
from sequin_emulator.providers.wire import Refusal, WireAnswer, WireApi, WireCall

LIST_LIMIT = 10  # Stripe's default for `limit` (its bounds are in the provider document)
INTEGERS = {"balance", "unit_amount", "amount", "quantity", "trial_period_days", "limit", "interval_count"}
BOOLEANS = {"active", "cancel_at_period_end", "confirm", "livemode"}
# what `expand[]` may name, per object: the field holds an id of that collection
MOST_EXPAND_LEVELS = 4
EXPANDABLE: dict[str, dict[str, str | None]] = {
    "customer": {"default_source": None},
    "product": {"default_price": "price"},
    "price": {"product": "product"},
    "subscription": {"customer": "customer", "latest_invoice": "invoice"},
    "invoice": {"customer": "customer", "subscription": "subscription", "charge": "charge",
                "payment_intent": "payment_intent"},
    "payment_intent": {"customer": "customer", "invoice": "invoice", "latest_charge": "charge"},
    "charge": {"customer": "customer", "invoice": "invoice", "payment_intent": "payment_intent", "refunds": None},
    "refund": {"charge": "charge", "payment_intent": "payment_intent"},
}
PATHS = {"customers": "customer", "products": "product", "prices": "price", "subscriptions": "subscription",
         "invoices": "invoice", "payment_intents": "payment_intent", "charges": "charge", "refunds": "refund"}
PATH_OF = {collection: path for path, collection in PATHS.items()}


# Parameters reach the handlers checked against the provider document (`stripe_params`): kinds and bounds hold,
# so these only convert, and say what the document cannot (a parameter an operation requires).

def _integer(params: dict, key: str) -> int | None:
    return int(params[key]) if key in params else None


def _boolean(params: dict, key: str) -> bool | None:
    return params[key] == "true" if key in params else None


def _string(params: dict, key: str, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None and required:
        raise StripeError(400, f"Missing required param: {key}.", "parameter_missing", key)
    return value


def _typed(params: dict, allowed: set[str]) -> dict:
    """The writable fields of a customer or product (checked by `stripe_params`), typed as the model wants them
    ('' unsets, as on Stripe)."""
    data: dict[str, Any] = {}
    for key, value in params.items():
        if key == "expand" or key not in allowed:
            continue
        if key in INTEGERS:
            data[key] = _integer(params, key)
        elif key in BOOLEANS:
            data[key] = _boolean(params, key)
        elif key == "metadata":
            data[key] = value or {}
        elif key == "address" and value == "":
            data[key] = None
        else:
            data[key] = None if value == "" and key not in ("name", "email") else value
    return data


def _invalid(exc: Invalid) -> StripeError:
    """The model's refusal as Stripe's 400, with the code the rule gave (a `Refused`), else Stripe's generic one."""
    path, reasons = next(iter(exc.errors.items()))
    problem = exc.problems.get(path) if isinstance(exc, Refused) else None
    return StripeError(400, reasons[0], problem.code if problem else "parameter_invalid_string",
                       path.removeprefix("data."))


@dataclass
class Request:
    method: str
    path: str  # below the provider's base: /v1/customers/cus_1
    params: dict
    now: int  # µs, the tenant's clock


@dataclass
class Answer:
    status: int
    body: bytes  # JSON
    replayed: bool = False  # the answer kept for an Idempotency-Key, given again


KEPT_STATUSES = (200, 402)  # Stripe keeps the answers of requests that ran, not of refused parameters


@dataclass
class StripeApi:
    """One simulated account's Stripe API. Answers to keyed POSTs are kept in the account (`KeptAnswers`)."""

    account: Account
    model: Stripe

    # ---------------------------------------------------------------- dispatch

    def handle(self, operation: str, handler: Callable[..., Any], ids: list[str], request: Request,
               idempotency_key: str | None = None) -> Answer:
        key = idempotency_key if idempotency_key and request.method == "POST" else None
        keeping: tuple[KeptAnswers, str, bytes] | None = None  # only keyed requests pay for a digest
        if key is not None:
            kept: KeptAnswers = self.account.api_state.setdefault("kept_answers", KeptAnswers())
            fingerprint = hashlib.sha256(orjson.dumps([request.method, request.path, request.params],
                                                      option=orjson.OPT_SORT_KEYS)).digest()
            seen = kept.find(key, request.now)
            if seen is not None:
                if seen.fingerprint != fingerprint:
                    raise StripeError(400, "Keys for idempotent requests can only be used with the same parameters "
                                      "they were first used with.", "idempotency_key_in_use", kind="idempotency_error")
                return Answer(seen.status, seen.body, replayed=True)
            keeping = kept, key, fingerprint
        check_params(operation, request.params)
        try:
            status, body = 200, orjson.dumps(handler(self, request, *ids))
        except StripeError as error:
            if error.status not in KEPT_STATUSES:
                raise
            status, body = error.status, orjson.dumps(error.body())
        if keeping is not None:
            kept, key, fingerprint = keeping
            kept.keep(key, Kept(fingerprint, status, body, request.now))
        return Answer(status, body)

    # ---------------------------------------------------------------- reading

    def _object(self, collection: str, object_id: str) -> UpstreamObject:
        obj = self.account.get(collection, object_id)
        if obj is None or (obj.deleted and collection != "customer"):
            raise missing(collection, object_id)
        return obj

    def _live_customer(self, customer_id: str) -> UpstreamObject:
        """A customer that can still pay: a deleted one is missing, as on Stripe."""
        customer = self._object("customer", customer_id)
        if customer.deleted:
            raise missing("customer", customer_id)
        return customer

    def _visible(self, collection: str, object_id: str) -> dict:
        """An object as `GET /v1/<type>/<id>` answers it (a deleted customer as Stripe's stub)."""
        obj = self._object(collection, object_id)
        return self.model.stub(obj) if obj.deleted else obj.data

    def _expanded(self, data: dict, params: dict, prefix: str = "") -> dict:
        """`data` as JSON-ready, with the fields named by `expand[]` replaced by their objects, to Stripe's four
        levels (`latest_invoice.payment_intent`); a list's items are expanded by `data.`-prefixed paths."""
        out = fresh(data)
        for path in params.get("expand", []):
            if prefix and not path.startswith(prefix):
                continue
            parts = path.removeprefix(prefix).split(".")
            if len(parts) > MOST_EXPAND_LEVELS:
                raise StripeError(400, f"You cannot expand more than {MOST_EXPAND_LEVELS} levels of a property. "
                                  f"Property: {path}", "parameter_invalid_string", "expand")
            self._expand(out, parts, path)
        return out

    def _expand(self, obj: dict, parts: list[str], path: str) -> None:
        """Expand `parts[0]` of `obj` in place, then the rest of the path within what it became."""
        collection, name = obj.get("object", ""), parts[0]
        expandable = EXPANDABLE.get(collection, {})
        if name not in expandable:
            raise StripeError(400, f"This property cannot be expanded ({path}).", "parameter_invalid_string",
                              "expand")
        target, value = expandable[name], obj.get(name)
        if collection == "charge" and name == "refunds":
            refunds = [fresh(r.data) for r in (self.account.objects[("refund", i)]
                                               for i in reversed(self.account.order.get("refund", [])))
                       if r.data["charge"] == obj["id"]]
            obj["refunds"] = {"object": "list", "data": refunds, "has_more": False,
                              "url": f"/v1/charges/{obj['id']}/refunds"}
        elif target is not None and isinstance(value, str):
            found = self.account.get(target, value)
            if found is not None:
                obj[name] = fresh(self.model.stub(found) if found.deleted else found.data)
        if len(parts) > 1 and isinstance(obj.get(name), dict):  # a null stays null, as on Stripe
            self._expand(obj[name], parts[1:], path)

    def _list(self, collection: str, request: Request) -> dict:
        """Newest first, walking the collection from its newest object (creation order is `created` order) and
        stopping once the page is full: a page costs what it shows, not what the account holds."""
        params = request.params
        limit = _integer(params, "limit") or LIST_LIMIT
        filters = self._filters(collection, params)
        after, before = _string(params, "starting_after"), _string(params, "ending_before")
        if after is not None and before is not None:
            raise StripeError(400, "You may only specify one of these parameters: ending_before, starting_after.",
                              "parameter_invalid_string", "ending_before")
        ids = self.account.order.get(collection, [])
        cursor = after if after is not None else before
        if cursor is not None:
            obj = self.account.get(collection, cursor)
            if obj is None or obj.deleted:
                raise missing(collection, cursor)
        if after is not None:
            positions: range = range(ids.index(after) - 1, -1, -1)  # older than the cursor
        elif before is not None:
            positions = range(ids.index(before) + 1, len(ids))  # newer than the cursor, nearest first
        else:
            positions = range(len(ids) - 1, -1, -1)
        found = self._walk(collection, positions, lambda data: all(f(data) for f in filters), limit)
        has_more, page = len(found) > limit, found[:limit]
        if before is not None:
            page.reverse()
        return {"object": "list", "data": [self._expanded(item, params, "data.") for item in page],
                "has_more": has_more, "url": f"/v1/{PATH_OF[collection]}"}

    def _walk(self, collection: str, positions: range, wanted: Callable[[dict], bool], limit: int) -> list[dict]:
        """The live objects at these positions of the collection's order that are wanted, at most `limit` + 1 (the
        one past the page says there are more): a page costs what it shows."""
        ids, found = self.account.order.get(collection, []), []
        for position in positions:
            obj = self.account.objects[(collection, ids[position])]
            if not obj.deleted and wanted(obj.data):
                found.append(obj.data)
                if len(found) > limit:
                    break
        return found

    def _filters(self, collection: str, params: dict) -> list[Callable[[dict], bool]]:
        filters: list[Callable[[dict], bool]] = []
        created = params.get("created")
        if isinstance(created, dict):
            for op in ("gt", "gte", "lt", "lte"):
                if op in created:
                    filters.append(_created(op, _integer(created, op) or 0))
        elif created is not None:
            moment = _integer(params, "created")
            filters.append(lambda d: d["created"] == moment)
        for key in ("customer", "product", "subscription", "payment_intent", "email", "price", "charge"):
            value = params.get(key)
            if value is None:
                continue
            filters.append(_priced(value) if key == "price" else _field_is(key, value))
        if "active" in params:
            wanted = _boolean(params, "active")
            filters.append(lambda d: d.get("active") == wanted)
        status = params.get("status")
        if collection == "subscription" and status != "all":
            filters.append((lambda d: d["status"] == status) if status else (lambda d: d["status"] != "canceled"))
        elif status is not None and collection in ("invoice", "payment_intent"):
            filters.append(lambda d: d["status"] == status)
        return filters

    def _search(self, collection: str, request: Request) -> dict:
        """The objects the query matches, newest first; `next_page` is the last one's id (opaque to callers)."""
        params = request.params
        matches, limit = matcher(collection, _string(params, "query", required=True) or ""), \
            _integer(params, "limit") or LIST_LIMIT
        ids, page = self.account.order.get(collection, []), _string(params, "page")
        start = len(ids) - 1
        if page is not None:
            if page not in ids:
                raise StripeError(400, f"Invalid page: {page[:100]}", "parameter_invalid_string", "page")
            start = ids.index(page) - 1
        found = self._walk(collection, range(start, -1, -1), matches, limit)
        shown = found[:limit]
        return {"object": "search_result", "data": [self._expanded(d, params, "data.") for d in shown],
                "has_more": len(found) > limit, "next_page": shown[-1]["id"] if len(found) > limit else None,
                "url": f"/v1/{PATH_OF[collection]}/search"}

    # ---------------------------------------------------------------- events

    def _events(self, request: Request) -> dict:
        """Newest first, filtered by `type` (`customer.*` wildcards), `types[]` and `created`; the page's cost
        follows its `limit`, not the number of events kept."""
        params, events = request.params, self.account.events
        limit = _integer(params, "limit") or LIST_LIMIT
        kinds = [params["type"]] if "type" in params else params.get("types") or []
        created = self._filters("event", params)

        def wanted(event: ProviderEvent) -> bool:
            return (not kinds or any(event.type == k or (k.endswith(".*") and event.type.startswith(k[:-1]))
                                     for k in kinds)) and all(f({"created": seconds(event.time)}) for f in created)

        after, before = _string(params, "starting_after"), _string(params, "ending_before")
        for named in (after, before):
            if named is not None and events.find(named) is None:
                raise missing("event", named)
        found = list(itertools.islice(events.walk(older_than=after, newer_than=before, wanted=wanted), limit + 1))
        page = found[:limit]
        if before is not None:
            page.reverse()
        return {"object": "list", "data": [self._shown(e) for e in page], "has_more": len(found) > limit,
                "url": "/v1/events"}

    def _event(self, event_id: str) -> Any:
        event = self.account.events.find(event_id)
        if event is None:
            raise missing("event", event_id)
        return self._shown(event)

    def _shown(self, event: ProviderEvent) -> Any:
        """An event as kept, with `pending_webhooks` counting the endpoints it has yet to reach."""
        pending = provider_webhooks.pending(self.account, self.account.events.position_of(event.id)) \
            if self.account.webhook_endpoints else 0
        return orjson.Fragment(event.payload) if not pending else {**orjson.loads(event.payload),
                                                                   "pending_webhooks": pending}

    # ---------------------------------------------------------------- writing

    def _write(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Invalid as exc:
            raise _invalid(exc) from None

    def _create_customer(self, request: Request) -> dict:
        """A customer, paying with `payment_method` (attached to it) when given; its invoices' card is
        `invoice_settings[default_payment_method]`, which must be that one."""
        params = request.params
        data = _typed(params, CUSTOMER_FIELDS)
        named, default = _string(params, "payment_method"), _default_card(params)
        if default and default != named:
            raise _not_attached(default)
        card_id = card_for(self, named, request.now) if named else None
        created = self._write(lambda: self.model.create_customer(self.account, data, request.now, card_id))
        return self._expanded(created.data, params)

    def _create_product(self, request: Request) -> dict:
        data = _typed(request.params, PRODUCT_FIELDS | {"id"})
        _string(request.params, "name", required=True)
        if "id" in data:
            if self.account.get("product", data["id"]) is not None:
                raise StripeError(400, f"Product already exists: {data['id']}", "resource_already_exists", "id")
        change = self._write(lambda: self._product_with_id(data, request.now))
        return self._expanded(self.account.objects[("product", change.id)].data, request.params)

    def _product_with_id(self, data: dict, now: int) -> Any:
        chosen = data.pop("id", None)
        change = self.model.insert(self.account, "product", data, now)
        if chosen is not None:  # Stripe lets a product be created with an id of the caller's choice
            obj = self.account.objects.pop(("product", change.id))
            order = self.account.order["product"]
            order[order.index(change.id)] = chosen
            obj.id, obj.data["id"] = chosen, chosen
            self.account.objects[("product", chosen)] = obj
            change.id = change.snapshot.id = change.snapshot.data["id"] = chosen
        return change

    def _update(self, collection: str, object_id: str, request: Request) -> dict:
        obj = self._object(collection, object_id)
        if obj.deleted:
            raise missing(collection, object_id)
        params = request.params
        if collection in ("customer", "product"):
            data = _typed(params, CUSTOMER_FIELDS if collection == "customer" else PRODUCT_FIELDS)
            if "metadata" in data and data["metadata"]:
                data["metadata"] = _merged_metadata(obj.data["metadata"], data["metadata"])
            default = _default_card(params)
            if collection == "customer" and default is not None:
                if default and customer_of(self.account, default) != object_id:
                    raise _not_attached(default)
                obj.data["invoice_settings"]["default_payment_method"] = default or None  # "" unsets it
            self._write(lambda: self.model.update(self.account, collection, object_id, data, request.now))
            return self._expanded(obj.data, params)
        allowed = {"price": {"active", "metadata", "nickname"}, "subscription": {"metadata", "cancel_at_period_end",
                                                                                  "description"},
                   "invoice": {"metadata", "description"}, "payment_intent": {"metadata", "description"},
                   "charge": {"metadata", "description"}, "refund": {"metadata"}}[collection]
        data = _typed(params, allowed)
        if "metadata" in data:
            data["metadata"] = _merged_metadata(obj.data.get("metadata") or {}, data["metadata"]) \
                if data["metadata"] else {}
        if collection == "subscription" and "cancel_at_period_end" in data:
            if obj.data["status"] == "canceled":
                raise StripeError(400, "A canceled subscription can only update its cancellation_details and "
                                  "metadata.", "resource_missing", "cancel_at_period_end")
            wanted = bool(data["cancel_at_period_end"])
            data.update(cancel_at=obj.data["current_period_end"] if wanted else None,
                        canceled_at=seconds(request.now) if wanted else None)
        obj.data.update(data)
        self.account.record(obj, "update", request.now)
        return self._expanded(obj.data, params)

    def _delete_customer(self, request: Request, object_id: str) -> dict:
        customer = self._live_customer(object_id)
        self.model.delete(self.account, "customer", object_id, request.now)
        return self.model.stub(customer)

    def _delete_product(self, request: Request, object_id: str) -> dict:
        self._object("product", object_id)
        if any(self.account.objects[("price", pid)].data["product"] == object_id
               for pid in self.account.order.get("price", ())):
            raise StripeError(400, "This product cannot be deleted because it has one or more user-created prices.",
                              None, None)
        self.model.delete(self.account, "product", object_id, request.now)
        return self.model.stub(self.account.objects[("product", object_id)])

    def _create_price(self, request: Request) -> dict:
        params = request.params
        product = self._object("product", _string(params, "product", required=True) or "")
        if product.deleted:
            raise missing("product", product.id)
        amount = _integer(params, "unit_amount")
        if amount is None:
            raise StripeError(400, "Missing required param: unit_amount.", "parameter_missing", "unit_amount")
        currency = (_string(params, "currency", required=True) or "").lower()
        interval = (params.get("recurring") or {}).get("interval")  # month or year, by the document's enum
        if interval is None:
            raise StripeError(400, "Missing required param: recurring[interval] (the emulator serves recurring "
                              "prices: month or year).", "parameter_missing", "recurring[interval]")
        price = self.model.new_data(self.account, "price", request.now)
        price.update(product=product.id, unit_amount=amount, unit_amount_decimal=str(amount), currency=currency,
                     active=True, nickname=_string(params, "nickname"),
                     metadata=params.get("metadata") or {},
                     recurring={"aggregate_usage": None, "interval": interval, "interval_count": 1,
                                "usage_type": "licensed"})
        created = self.model.store_new(self.account, price, request.now, log=True)
        if product.data["default_price"] is None:
            product.data.update(default_price=created.id, updated=seconds(request.now))
            self.account.record(product, "update", request.now)
        return self._expanded(created.data, params)

    def _create_subscription(self, request: Request) -> dict:
        params = request.params
        customer = self._live_customer(_string(params, "customer", required=True) or "")
        items = params.get("items")
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise StripeError(400, "Missing required param: items (the emulator serves one item per subscription).",
                              "parameter_missing", "items")
        price = self._object("price", _string(items[0], "price", required=True) or "")
        if not price.data["active"]:
            raise StripeError(400, "The price specified is inactive. This field only accepts active prices.",
                              None, "items[0][price]")
        quantity = _integer(items[0], "quantity")
        trial = _integer(params, "trial_period_days")
        card_id = customer.data["invoice_settings"]["default_payment_method"]
        decline = decline_of(self.account, card_id) if card_id and not trial else None
        if decline is not None and _string(params, "payment_behavior") == "error_if_incomplete":
            code, message = decline  # the first payment would fail: nothing is made, as Stripe does
            raise StripeError(402, message, "card_declined", kind="card_error", decline_code=code)
        subscription = self.model.subscribe(self.account, customer, price, request.now, log=True,
                                             trial_days=trial or 0, quantity=quantity or 1, decline=False)
        if "metadata" in params:
            subscription.data["metadata"] = params["metadata"] or {}
            self.account.record(subscription, "update", request.now)
        return self._expanded(subscription.data, params)

    def _delete_subscription(self, request: Request, object_id: str) -> dict:
        subscription = self._object("subscription", object_id)
        if subscription.data["status"] == "canceled":
            raise StripeError(404, f"No such subscription: '{object_id}'", "resource_missing", "id")
        self.model.end_subscription(self.account, subscription, request.now, log=True, reason="cancellation_requested")
        return self._expanded(subscription.data, request.params)

    def _open_invoice(self, object_id: str, action: str, also: tuple[str, ...] = ()) -> UpstreamObject:
        """An invoice the action applies to: open (or in one of `also`)."""
        invoice = self._object("invoice", object_id)
        if invoice.data["status"] != "open" and invoice.data["status"] not in also:
            raise StripeError(400, f"You can only {action} an open invoice; this one is {invoice.data['status']}.")
        return invoice

    def _settle_invoice(self, request: Request, object_id: str, action: str,
                        settle: Callable[[Account, UpstreamObject, int], None]) -> dict:
        """An open invoice voided or marked uncollectible (`settle`, the model's)."""
        invoice = self._open_invoice(object_id, action)
        settle(self.account, invoice, request.now)
        return self._expanded(invoice.data, request.params)

    def _send_invoice(self, request: Request, object_id: str) -> dict:
        invoice = self._object("invoice", object_id)
        if invoice.data["collection_method"] != "send_invoice":
            raise StripeError(400, "You can only manually send an invoice if its collection method is "
                              "'send_invoice'.", "invoice_not_editable", None)
        return self._expanded(invoice.data, request.params)

    def _create_invoice(self, request: Request) -> dict:
        """A draft invoice for a customer: in this API version it takes no pending invoice items, so it has no
        lines; finalizing it (for 0) marks it paid, as Stripe does. Subscriptions make their own invoices."""
        params = request.params
        customer = self._live_customer(_string(params, "customer", required=True) or "")
        invoice = self.model.new_data(self.account, "invoice", request.now)
        self.model.draft_invoice(invoice, customer.data, request.now)
        invoice.update(description=_string(params, "description"), metadata=params.get("metadata") or {})
        created = self.model.store_new(self.account, invoice, request.now, log=True)
        return self._expanded(created.data, params)

    def _finalize_invoice(self, request: Request, object_id: str) -> dict:
        """A draft becomes open, numbered from the customer's prefix; one for 0 is paid at once."""
        invoice = self._object("invoice", object_id)
        data = invoice.data
        if data["status"] != "draft":
            raise StripeError(400, f"This invoice is already finalized ({data['status']}).")
        self.model.finalize(self.account, invoice, request.now)
        return self._expanded(data, request.params)

    def _delete_invoice(self, request: Request, object_id: str) -> dict:
        invoice = self._object("invoice", object_id)
        if invoice.data["status"] != "draft":
            raise StripeError(400, "You can only delete draft invoices; void a finalized one instead.")
        invoice.deleted = True
        self.account.record(invoice, "delete", request.now)
        return {"id": invoice.id, "object": "invoice", "deleted": True}

    def _create_charge(self, request: Request) -> dict:
        """A charge made directly (not through a payment intent): the customer's card, or a test card token."""
        params = request.params
        amount, currency = _payment(params)
        customer_id, source = _string(params, "customer"), _string(params, "source")
        customer = self._live_customer(customer_id) if customer_id else None
        if customer is None and source is None:
            raise StripeError(400, "Must provide source or customer.", "parameter_missing", "source")
        method, decline = self._method(source, customer, request.now)
        intent = {"id": None, "amount": amount, "customer": customer_id, "invoice": None,
                  "description": _string(params, "description")}
        created = self._charged(intent, customer, method, decline, request.now, currency=currency,
                                metadata=params.get("metadata") or {})
        if decline is not None:
            code, message = decline
            raise StripeError(402, message, "card_declined", kind="card_error", decline_code=code, charge=created.id)
        return self._expanded(created.data, params)

    def _pay_invoice(self, request: Request, object_id: str) -> dict:
        invoice = self._open_invoice(object_id, "pay", also=("uncollectible",))  # Stripe takes late payments
        self.model.attempt_payment(self.account, invoice, request.now, log=True, decline=False)
        return self._expanded(invoice.data, request.params)

    def _confirm_payment_intent(self, request: Request, object_id: str) -> dict:
        intent = self._object("payment_intent", object_id)
        if intent.data["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(400, f"This PaymentIntent's status is {intent.data['status']}; it cannot be confirmed.",
                              "payment_intent_unexpected_state", None)
        named = _string(request.params, "payment_method")
        invoice = self.account.get("invoice", intent.data["invoice"]) if intent.data.get("invoice") else None
        if invoice is not None and invoice.data["status"] == "open":
            self.model.attempt_payment(self.account, invoice, request.now, log=True,
                                       decline=named is not None and decline_of(self.account, named) is not None)
            error = intent.data["last_payment_error"]
            if intent.data["status"] != "succeeded" and error:
                raise StripeError(402, error["message"], "card_declined", kind="card_error",
                                  decline_code=error["decline_code"], charge=error["charge"],
                                  payment_intent=fresh(intent.data))
        else:
            if named is not None:
                intent.data["payment_method"] = named
            self._charge_intent(intent, request.now)
        return self._expanded(intent.data, request.params)

    def _method(self, named: str | None, customer: UpstreamObject | None, now: int) -> tuple[str, tuple | None]:
        """The payment method to charge, and the decline it brings: Stripe's test names (`pm_card_visa`,
        `tok_chargeDeclined`, ...) become a new card of the account, as on Stripe; a card of the account's own
        is used as it is; none is the customer's default card."""
        if named is None:
            if customer is None:
                raise StripeError(400, "You must provide a payment_method, source or customer.", "parameter_missing",
                                  "payment_method")
            return self.model.current_card(self.account, customer, now, log=True), None
        card_id = card_for(self, named, now)
        return card_id, decline_of(self.account, card_id)

    def _charged(self, intent: dict, customer: UpstreamObject | None, method: str, decline: tuple | None,
                 now: int, **fields: Any) -> UpstreamObject:
        """A charge for `intent` (a payment intent's data, or a direct charge's terms), declined if `decline`;
        `fields` set before it is stored, so its first version (the one syncs read) has them."""
        holder = customer.data if customer else {"address": None, "email": None, "name": None, "phone": None}
        charge = self.model.new_charge(self.account, intent, holder, method, now, declined=decline is not None)
        charge.update(fields)
        if decline is not None:
            code, message = decline
            charge.update(failure_code="card_declined", failure_message=message)
            charge["outcome"].update(reason=code, type="issuer_declined")
        return self.model.store_new(self.account, charge, now, log=True)

    def _charge_intent(self, intent: UpstreamObject, now: int) -> None:
        """Charge the intent's payment method; with `capture_method: manual` only authorize it (the charge not
        captured, the intent `requires_capture` until captured or canceled)."""
        customer = self.account.get("customer", intent.data["customer"]) if intent.data.get("customer") else None
        method, decline = self._method(intent.data.get("payment_method"), customer, now)
        manual = intent.data.get("capture_method") == "manual" and decline is None
        held = {"captured": False, "amount_captured": 0, "balance_transaction": None} if manual else {}
        created = self._charged(intent.data, customer, method, decline, now, **held)
        intent.data.update(latest_charge=created.id, payment_method=method)
        if manual:
            intent.data.update(status="requires_capture", amount_capturable=intent.data["amount"],
                               last_payment_error=None)
            self.account.record(intent, "update", now, event="payment_intent.amount_capturable_updated")
            return
        if decline is None:
            intent.data.update(status="succeeded", amount_received=intent.data["amount"], last_payment_error=None)
            self.account.record(intent, "update", now)
            return
        code, message = decline
        intent.data.update(status="requires_payment_method", last_payment_error={
            "charge": created.id, "code": "card_declined", "decline_code": code, "message": message,
            "doc_url": "https://stripe.com/docs/error-codes/card-declined", "type": "card_error"})
        self.account.record(intent, "update", now)
        raise StripeError(402, message, "card_declined", kind="card_error", decline_code=code, charge=created.id,
                          payment_intent=fresh(intent.data))

    def _cancel_payment_intent(self, request: Request, object_id: str) -> dict:
        intent = self._object("payment_intent", object_id)
        if intent.data["status"] in ("succeeded", "canceled"):
            raise StripeError(400, f"You cannot cancel this PaymentIntent because it has a status of "
                              f"{intent.data['status']}.", "payment_intent_unexpected_state", None)
        if intent.data.get("invoice"):
            raise StripeError(400, "You cannot cancel this PaymentIntent because it was created by an invoice; void "
                              "the invoice instead.", "payment_intent_unexpected_state", None)
        if intent.data["status"] == "requires_capture":  # the authorization is released
            charge = self._object("charge", intent.data["latest_charge"])
            charge.data.update(amount_refunded=charge.data["amount"], refunded=True)
            self.account.record(charge, "update", request.now, event="charge.refunded")
        intent.data.update(status="canceled", canceled_at=seconds(request.now), amount_capturable=0,
                           cancellation_reason=_string(request.params, "cancellation_reason") or "requested_by_customer")
        self.account.record(intent, "update", request.now, event="payment_intent.canceled")
        return self._expanded(intent.data, request.params)

    def _capture_payment_intent(self, request: Request, object_id: str) -> dict:
        """Capture what was authorized, or `amount_to_capture` of it (the rest is released, as a partial refund
        of the charge)."""
        intent, params = self._object("payment_intent", object_id), request.params
        if intent.data["status"] != "requires_capture":
            raise StripeError(400, f"This PaymentIntent could not be captured because it has a status of "
                              f"{intent.data['status']}. Only a PaymentIntent with one of the following statuses may "
                              "be captured: requires_capture.", "payment_intent_unexpected_state", None)
        capturable = intent.data["amount_capturable"]
        amount = _integer(params, "amount_to_capture") or capturable
        if amount > capturable:
            raise StripeError(400, f"The amount_to_capture ({amount}) is greater than the amount capturable "
                              f"({capturable}).", "amount_too_large", "amount_to_capture")
        charge = self._object("charge", intent.data["latest_charge"])
        charge.data.update(captured=True, amount_captured=amount, amount_refunded=capturable - amount,
                           balance_transaction=self.model.new_id(self.account, "balance_transaction"))
        self.account.record(charge, "update", request.now, event="charge.captured")
        intent.data.update(status="succeeded", amount_received=amount, amount_capturable=0)
        if isinstance(params.get("metadata"), dict):
            intent.data["metadata"] = _merged_metadata(intent.data.get("metadata") or {}, params["metadata"])
        self.account.record(intent, "update", request.now, event="payment_intent.succeeded")
        return self._expanded(intent.data, params)

    def _create_refund(self, request: Request) -> dict:
        """Refund a succeeded, captured charge (named, or its payment intent's): all that is left of it, or
        `amount` of that."""
        params = request.params
        charge_id, intent_id = _string(params, "charge"), _string(params, "payment_intent")
        if charge_id is None and intent_id is None:
            raise StripeError(400, "One of the following params should be provided for this request: payment_intent "
                              "or charge.", "parameter_missing", "charge")
        if intent_id is not None:
            intent = self._object("payment_intent", intent_id)
            latest = intent.data.get("latest_charge")
            if charge_id is not None and charge_id != latest:
                raise StripeError(400, f"The charge {charge_id} is not the charge of PaymentIntent {intent_id}.",
                                  "parameter_invalid_string", "charge")
            if intent.data["status"] != "succeeded" or not latest:
                raise StripeError(400, f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                                  "refund.", "charge_not_refundable", "payment_intent")
            charge_id = latest
        assert charge_id is not None
        charge = self._object("charge", charge_id)
        data = charge.data
        if data["status"] != "succeeded" or not data["captured"]:
            why = "has failed" if data["status"] != "succeeded" else "has not been captured (cancel its PaymentIntent " \
                "to release it)"
            raise StripeError(400, f"Charge {charge_id} {why}; it cannot be refunded.", "charge_not_refundable", "charge")
        left = data["amount"] - data["amount_refunded"]  # what a partial capture released counts as refunded
        if left <= 0:
            raise StripeError(400, f"Charge {charge_id} has already been refunded.", "charge_already_refunded",
                              "charge")
        amount = _integer(params, "amount") or left
        if amount > left:
            raise StripeError(400, f"Refund amount ({_money(amount, data['currency'])}) is greater than unrefunded "
                              f"amount on charge ({_money(left, data['currency'])})", "amount_too_large", "amount")
        metadata = {k: v for k, v in (params.get("metadata") or {}).items() if v != ""}
        created = self.model.refund(self.account, charge, amount, request.now, _string(params, "reason"), metadata)
        return self._expanded(created.data, params)

    def _cancel_refund(self, request: Request, object_id: str) -> dict:
        refund = self._object("refund", object_id)
        raise StripeError(400, f"You can't cancel refund {refund.id}: its status is {refund.data['status']}, and "
                          "only a refund that requires_action can be canceled.", "refund_cancel_unsupported"
                          if refund.data["status"] != "requires_action" else None, None)

    def _create_payment_intent(self, request: Request) -> dict:
        params = request.params
        amount, currency = _payment(params)
        customer_id = _string(params, "customer")
        if customer_id is not None:
            self._live_customer(customer_id)
        intent = self.model.new_data(self.account, "payment_intent", request.now)
        named = _string(params, "payment_method")
        intent.update(amount=amount, currency=currency, customer=customer_id, invoice=None, canceled_at=None,
                      description=_string(params, "description"), payment_method=named,
                      client_secret=f"{intent['id']}_secret_{hashlib.sha256(intent['id'].encode()).hexdigest()[:25]}",
                      latest_charge=None, amount_received=0, last_payment_error=None,
                      metadata=params.get("metadata") or {}, capture_method=_string(params, "capture_method") or
                      "automatic", amount_capturable=0,
                      status="requires_payment_method" if not params.get("payment_method") else "requires_confirmation")
        created = self.model.store_new(self.account, intent, request.now, log=True)
        if _boolean(params, "confirm"):
            self._charge_intent(created, request.now)
        return self._expanded(created.data, params)


def _default_card(params: dict) -> str | None:
    """`invoice_settings[default_payment_method]`, if given ("" unsets it)."""
    settings = params.get("invoice_settings")
    return settings.get("default_payment_method") if isinstance(settings, dict) else None


def _not_attached(card_id: str) -> StripeError:
    """Stripe's refusal of a default card that is not the customer's."""
    return StripeError(400, f"The customer does not have a payment method with the ID {card_id}. The payment method "
                       "must be attached to the customer.", "resource_missing", "invoice_settings[default_payment_method]")


def _money(amount: int, currency: str) -> str:
    """An amount in a currency's smallest unit as Stripe's messages show it (`$12.50`, `12.50 EUR`)."""
    return f"${amount / 100:.2f}" if currency == "usd" else f"{amount / 100:.2f} {currency.upper()}"


def _payment(params: dict) -> tuple[int, str]:
    """A payment's `amount` (Stripe's minimum is 50 of the currency's smallest unit) and `currency`."""
    amount = _integer(params, "amount")
    if amount is None:
        raise StripeError(400, "Missing required param: amount.", "parameter_missing", "amount")
    return amount, (_string(params, "currency", required=True) or "").lower()


def _created(op: str, bound: int) -> Callable[[dict], bool]:
    compare = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}[op]
    return lambda data: compare(data["created"], bound)


def _field_is(key: str, value: Any) -> Callable[[dict], bool]:
    return lambda data: data.get(key) == value


def _priced(price_id: Any) -> Callable[[dict], bool]:
    return lambda data: data["items"]["data"][0]["price"]["id"] == price_id


def _merged_metadata(current: dict, changes: dict) -> dict:
    """Stripe merges metadata keys; an empty value removes its key."""
    merged = {**current, **changes}
    return {k: v for k, v in merged.items() if v != ""}



def _handlers() -> dict[str, Callable[..., Any]]:
    """Each operation's handler as a function of (api, request, *ids): a table without references back to an
    instance, so no per-request API object forms a reference cycle."""
    def lister(collection: str) -> Callable[..., dict]:
        return lambda api, request: api._list(collection, request)

    def getter(collection: str) -> Callable[..., dict]:
        return lambda api, request, object_id: api._expanded(api._visible(collection, object_id), request.params)

    def updater(collection: str) -> Callable[..., dict]:
        return lambda api, request, object_id: api._update(collection, object_id, request)

    handlers: dict[str, Callable[..., Any]] = {
        "stripeCreateCustomer": StripeApi._create_customer, "stripeDeleteCustomer": StripeApi._delete_customer,
        "stripeCreateProduct": StripeApi._create_product, "stripeDeleteProduct": StripeApi._delete_product,
        "stripeCreatePrice": StripeApi._create_price, "stripeCreateSubscription": StripeApi._create_subscription,
        "stripeCancelSubscription": StripeApi._delete_subscription, "stripeCreateInvoice": StripeApi._create_invoice,
        "stripeDeleteInvoice": StripeApi._delete_invoice, "stripeFinalizeInvoice": StripeApi._finalize_invoice,
        "stripePayInvoice": StripeApi._pay_invoice,
        "stripeVoidInvoice": lambda api, request, object_id: api._settle_invoice(
            request, object_id, "void", api.model.void_invoice),
        "stripeMarkInvoiceUncollectible": lambda api, request, object_id: api._settle_invoice(
            request, object_id, "mark uncollectible", api.model.mark_uncollectible),
        "stripeCreatePaymentIntent": StripeApi._create_payment_intent,
        "stripeConfirmPaymentIntent": StripeApi._confirm_payment_intent,
        "stripeCancelPaymentIntent": StripeApi._cancel_payment_intent, "stripeCreateCharge": StripeApi._create_charge,
        "stripeCapturePaymentIntent": StripeApi._capture_payment_intent,
        "stripeSendInvoice": StripeApi._send_invoice,
        "stripeCreateRefund": StripeApi._create_refund, "stripeCancelRefund": StripeApi._cancel_refund,
        "stripeListEvents": StripeApi._events, "stripeGetEvent": lambda api, request, event_id: api._event(event_id)}
    def searcher(collection: str) -> Callable[..., dict]:
        return lambda api, request: api._search(collection, request)

    for path, collection in PATHS.items():
        plural = "".join(word.title() for word in path.split("_"))
        if collection in SEARCHABLE:
            handlers[f"stripeSearch{plural}"] = searcher(collection)
        handlers[f"stripeList{plural}"] = lister(collection)
        handlers[f"stripeGet{plural[:-1]}"] = getter(collection)
        handlers[f"stripeUpdate{plural[:-1]}"] = updater(collection)
    return {**handlers, **ENDPOINT_HANDLERS, **PAYMENT_METHOD_HANDLERS}


HANDLERS = _handlers()


class StripeWire(WireApi):
    """Stripe's API as the HTTP layer drives it: form-encoded parameters (query and body), the account's
    `StripeApi`, and every answer with Stripe's `Request-Id` and `Stripe-Version` headers."""

    handlers = HANDLERS

    def answer(self, account: Account, call: WireCall) -> WireAnswer:
        headers = {"Request-Id": f"req_{call.tag[:14]}", "Stripe-Version": API_VERSION}
        try:
            params = parse_form(call.query + parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True))
            ids = [call.path_params["id"]] if "id" in call.path_params else []
            request = Request(call.method, call.path, params, call.now)
            key = call.headers.get("idempotency-key")
            account.api_state["request"] = {"id": headers["Request-Id"], "idempotency_key": key}  # its events name it
            try:
                answer = StripeApi(account, account.provider).handle(  # type: ignore[arg-type]
                    call.operation, self.handlers[call.operation], ids, request, key)
            finally:
                del account.api_state["request"]
        except StripeError as error:
            return WireAnswer(error.status, orjson.dumps(error.body()), headers)
        except (FormError, ValueError) as error:
            return WireAnswer(400, orjson.dumps(StripeError(400, str(error), "parameter_invalid_string").body()), headers)
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        return WireAnswer(answer.status, answer.body, headers)

    def refusal(self, status: int, message: str, why: Refusal, tag: str) -> WireAnswer:
        kind = "api_error" if status == 500 else "invalid_request_error"
        code = {401: "api_key_expired", 429: "rate_limit"}.get(status) if why is Refusal.FAULT else None
        if why is Refusal.ROUTE:
            message += " Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
        return WireAnswer(status, orjson.dumps(StripeError(status, message, code, kind=kind).body()),
                          {"Request-Id": f"req_{tag[:14]}", "Stripe-Version": API_VERSION})
