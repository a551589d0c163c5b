"""The invariant checker: every rule the simulated Stripe and HubSpot accounts promise to keep, as a function that
lists what breaks them in an account at a moment of its clock. `tests/providers/test_rules.py` runs it over long
simulated histories."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.upstream import Account
from sequin_emulator.providers.hubspot.definitions import CLOSED, PROPERTY_TYPES, parsed_datetime
from sequin_emulator.providers.hubspot.model import PLURAL, SINGULAR
from sequin_emulator.providers.stripe.model import TRIAL_DAYS, add_interval, card

SAMPLE_TIME = 1234567890  # the timestamp in Stripe's sample objects: never left in a generated one
US_STATES = {"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
             "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
             "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"}


def _values(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)
    else:
        yield value


def stripe_violations(account: Account, now: int) -> list[str]:
    """Every broken rule of a Stripe account at `now` (µs), as `rule: object id`."""
    found: list[str] = []
    objects = defaultdict(list)
    for obj in account.objects.values():
        objects[obj.collection].append(obj)
        if SAMPLE_TIME in _values(obj.data):
            found.append(f"a sample timestamp is left: {obj.id}")
    by_id = {(obj.collection, obj.id): obj.data for obj in account.objects.values()}
    refunded_by: dict[str, int] = defaultdict(int)
    for obj in objects["refund"]:
        refunded_by[obj.data["charge"]] += obj.data["amount"]
    charges_of: dict[str, list[dict]] = defaultdict(list)
    for obj in objects["charge"]:
        charges_of[obj.data["payment_intent"]].append(obj.data)
    intents_of: dict[str, list[dict]] = defaultdict(list)
    for obj in objects["payment_intent"]:
        intents_of[obj.data["invoice"]].append(obj.data)
    invoices_of: dict[str, list[dict]] = defaultdict(list)
    for obj in objects["invoice"]:
        invoices_of[obj.data["subscription"]].append(obj.data)
    prices_of = Counter(obj.data["product"] for obj in objects["price"])

    for charge in (o.data for o in objects["charge"]):
        cid = charge["id"]
        if "refunds" in charge:
            found.append(f"a charge includes `refunds` (only when expanded in 2023-08-16): {cid}")
        if charge["outcome"] is None:
            found.append(f"a charge has no outcome: {cid}")
        if not 0 <= charge["amount_refunded"] <= charge["amount"] or \
                charge["refunded"] != (charge["amount_refunded"] == charge["amount"]):
            found.append(f"a charge's refunds do not add up: {cid}")
        if (charge["status"] == "succeeded") != charge["paid"] or (charge["captured"] and not charge["paid"]):
            found.append(f"a charge's status disagrees with paid / captured: {cid}")
        released = charge["amount"] - charge["amount_captured"] if charge["captured"] else 0  # a partial capture's
        if charge["captured"] and refunded_by[cid] != charge["amount_refunded"] - released:
            found.append(f"a charge's refund objects do not add up to its amount_refunded: {cid}")
        details = card(charge["payment_method"])
        when = datetime.fromtimestamp(charge["created"], UTC)
        if (when.year, when.month) > (details["exp_year"], details["exp_month"]):
            found.append(f"a charge was made with an expired card: {cid}")
        shown = charge["payment_method_details"]["card"]
        if (shown["last4"], shown["exp_year"], shown["exp_month"]) != \
                (details["last4"], details["exp_year"], details["exp_month"]):
            found.append(f"a charge's card details are not its payment method's: {cid}")
        if ("payment_intent", charge["payment_intent"]) not in by_id:
            found.append(f"a charge's payment intent does not exist: {cid}")

    for intent in (o.data for o in objects["payment_intent"]):
        pid, charges = intent["id"], charges_of[intent["id"]]
        succeeded = [c for c in charges if c["status"] == "succeeded"]
        if len(succeeded) > 1:
            found.append(f"a payment intent has several succeeded charges: {pid}")
        if (intent["status"] == "succeeded") != bool(succeeded):
            found.append(f"a payment intent's status does not follow its charges: {pid} {intent['status']}")
        if intent["amount_received"] != (intent["amount"] if succeeded else 0):
            found.append(f"a payment intent's amount_received is wrong: {pid}")
        if charges and intent["latest_charge"] != max(charges, key=lambda c: (c["created"], c["id"]))["id"] and \
                intent["latest_charge"] not in {c["id"] for c in charges}:
            found.append(f"a payment intent's latest_charge is not one of its charges: {pid}")
        latest = by_id.get(("charge", intent["latest_charge"])) if intent["latest_charge"] else None
        if latest is not None and latest["payment_method"] != intent["payment_method"]:
            found.append(f"a payment intent's payment method is not its latest charge's: {pid}")
        owner = by_id.get(("invoice", intent["invoice"]))
        if owner is None or owner["payment_intent"] != pid:
            found.append(f"a payment intent's invoice does not point back at it: {pid}")

    for invoice in (o.data for o in objects["invoice"]):
        iid, intents = invoice["id"], intents_of[invoice["id"]]
        if len(intents) > 1:
            found.append(f"an invoice has several payment intents: {iid}")
        paying = by_id.get(("payment_intent", invoice["payment_intent"])) if invoice["payment_intent"] else None
        if invoice["amount_due"] > 0 and paying is None:
            found.append(f"an invoice with an amount has no payment intent: {iid}")
        if paying is not None and invoice["charge"] not in {c["id"] for c in charges_of[paying["id"]]}:
            found.append(f"an invoice's charge is not one of its payment intent's: {iid}")
        if invoice["status"] == "paid" and invoice["amount_due"] > 0 and (
                paying is None or paying["status"] != "succeeded"
                or by_id.get(("charge", invoice["charge"]), {}).get("status") != "succeeded"):
            found.append(f"a paid invoice's payment intent or charge did not succeed: {iid}")
        if invoice["status"] != "paid" and paying is not None and \
                any(c["status"] == "succeeded" for c in charges_of[paying["id"]]):
            found.append(f"an unpaid invoice has a succeeded charge: {iid} {invoice['status']}")
        if invoice["status"] != "void" and invoice["amount_remaining"] != invoice["amount_due"] - invoice["amount_paid"]:
            found.append(f"an invoice's amounts do not add up: {iid}")
        if invoice["status"] == "paid" and invoice["amount_paid"] != invoice["amount_due"]:
            found.append(f"a paid invoice is not paid in full: {iid}")
        customer = by_id.get(("customer", invoice["customer"]))
        if customer is None or not invoice["number"].startswith(f"{customer['invoice_prefix']}-"):
            found.append(f"an invoice's number does not use its customer's prefix: {iid}")
        if not invoice["hosted_invoice_url"] or not invoice["invoice_pdf"]:
            found.append(f"a finalized invoice has no hosted URL or PDF: {iid}")
        if invoice["status"] == "open" and (invoice["next_payment_attempt"] is None
                                            or invoice["next_payment_attempt"] * MICROS <= now - MICROS):
            found.append(f"an open invoice has no retry ahead: {iid}")

    for subscription in (o.data for o in objects["subscription"]):
        sid, price = subscription["id"], subscription["items"]["data"][0]["price"]
        invoices = sorted(invoices_of[sid], key=lambda i: (i["period_start"], i["created"]))
        if not invoices:
            found.append(f"a subscription has no invoice: {sid}")
            continue
        if invoices[0]["billing_reason"] != "subscription_create" or \
                any(i["billing_reason"] != "subscription_cycle" for i in invoices[1:]):
            found.append(f"a subscription's invoices have the wrong billing_reason: {sid}")
        periods = Counter(i["period_start"] for i in invoices)
        if max(periods.values()) > 1:
            found.append(f"a subscription has several invoices for one period: {sid}")
        if subscription["latest_invoice"] != invoices[-1]["id"]:
            found.append(f"a subscription's latest_invoice is not its last invoice: {sid}")
        if not price["active"]:
            found.append(f"a subscription was created on an archived price: {sid}")
        live = subscription["status"] in ("active", "trialing", "past_due")
        if live and subscription["current_period_end"] * MICROS <= now - MICROS:
            found.append(f"a live subscription's period has ended without a renewal: {sid}")
        start, end = subscription["current_period_start"], subscription["current_period_end"]
        trial = subscription["trial_end"] is not None and end == subscription["trial_end"]
        expected = start + TRIAL_DAYS * 86400 if trial else \
            add_interval(start, price["recurring"]["interval"], subscription["billing_cycle_anchor"])
        if end != expected:
            found.append(f"a subscription's period is not its price's interval: {sid}")
        holder = account.get("customer", subscription["customer"])
        if holder is not None and holder.deleted and live:
            found.append(f"a deleted customer's subscription goes on: {sid}")

    for product in objects["product"]:
        if product.deleted and (prices_of[product.id] or product.data["active"]):
            found.append(f"a product with prices was deleted, or a deleted one is active: {product.id}")
    for customer in (o.data for o in objects["customer"]):
        address = customer["address"]
        if address and address["country"] == "US" and address["state"] not in US_STATES:
            found.append(f"a US address has a state that is not one: {customer['id']}")
    return found


def hubspot_violations(account: Account, now: int) -> list[str]:
    """Every broken rule of a HubSpot portal at `now` (µs)."""
    found: list[str] = []
    for obj in account.objects.values():
        props, oid = obj.data["properties"], obj.id
        for name, kind in PROPERTY_TYPES[obj.collection].items():
            value = props[name]
            if value is None:
                continue
            if isinstance(kind, tuple) and value not in kind:
                found.append(f"{name} is not one of its options: {oid} {value}")
            elif kind == "number" and not value.replace(".", "", 1).lstrip("-").isdigit():
                found.append(f"{name} is not a number: {oid} {value}")
            elif kind == "datetime" and parsed_datetime(value) is None:
                found.append(f"{name} is not a date: {oid} {value}")
        if obj.collection == "deal" and props["dealstage"] in CLOSED and props["closedate"] is None:
            found.append(f"a closed deal has no closedate: {oid}")
        if obj.deleted:
            continue
        for plural, association in obj.data.get("associations", {}).items():
            for result in association["results"]:
                other = account.get(SINGULAR[plural], result["id"])
                if other is None or other.deleted:
                    found.append(f"an association points at an archived or missing object: {oid} → {result['id']}")
                    continue
                back = other.data.get("associations", {}).get(PLURAL[obj.collection], {}).get("results", [])
                if not any(r["id"] == oid for r in back):
                    found.append(f"an association is one-sided: {oid} → {result['id']}")
                if result["type"] != f"{obj.collection}_to_{other.collection}":
                    found.append(f"an association has the wrong type: {oid} {result['type']}")
    return found
