"""The simulated accounts keep their providers' rules at every moment of long histories: generated history, changes
of their own, what falls due (renewals, retries), injections and mutations, over a simulated week per seed."""

from __future__ import annotations

import random

import pytest

from sequin_emulator.domain.catalog import PLUGIN_OF
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.upstream import Account, AccountSettings
from tests.providers.rules import hubspot_violations, stripe_violations

START = 1_704_067_200_000_000  # 2024-01-01
WEEK = 7 * 86400 * 1_000_000
CHECKERS = {"stripe": stripe_violations, "hubspot": hubspot_violations}


def _write(account: Account, rng: random.Random, now: int) -> None:
    """An injection or mutation of the kinds users make, valid as the provider wants it."""
    provider = account.provider
    if provider.name == "stripe":
        collection = rng.choice(["customer", "product"])
        live = account.live(collection)
        kind = rng.choice(["insert", "update", "delete"]) if live else "insert"
        data: dict = {"customer": {"email": f"user{rng.randint(1, 999)}@example.com", "balance": rng.randint(-500, 500),
                             "address": {"city": "Austin", "country": "US", "state": "TX", "line1": "1 Main St"}},
                "product": {"name": "Injected", "active": rng.random() < 0.8}}[collection]
    else:
        collection = rng.choice(["contact", "company", "deal"])
        live = account.live(collection)
        kind = rng.choice(["insert", "update", "delete"]) if live else "insert"
        data = {"contact": {"properties": {"email": f"user{now}@example.com"}},  # unique: HubSpot's rule
                "company": {"properties": {"numberofemployees": str(rng.randint(1, 999))}},
                "deal": {"properties": {"dealstage": rng.choice(["closedwon", "closedlost", "qualifiedtobuy"]),
                                        "amount": f"{rng.randint(1, 99999)}.50"}}}[collection]
    if kind == "insert":
        provider.insert(account, collection, data, now)
    elif kind == "update":
        provider.update(account, collection, rng.choice(live).id, data, now)
    else:
        provider.delete(account, collection, rng.choice(live).id, now)


def _live_a_week(provider: str, seed: int) -> tuple[Account, int]:
    """An account generated at START, living a week at 30 changes an hour, with a write from outside every 20
    steps; the checker runs on the generated history, every 500 steps and at the end. Returns it and its steps."""
    account = Account(PLUGIN_OF[provider].model, f"rules-{seed}",
                      AccountSettings(records_per_collection=30, history_days=120, changes_per_hour=30))
    account.rng, rng = random.Random(seed), random.Random(seed + 1000)
    account.provider.populate(account, START)
    assert CHECKERS[provider](account, START) == []
    account.schedule_next_change(START)
    steps = 0
    while (at := account.next_step_at()) is not None and at < START + WEEK:
        account.provider.step(account, at)
        steps += 1
        if steps % 20 == 0:
            _write(account, rng, at)
        if steps % 500 == 0:
            assert CHECKERS[provider](account, at) == [], f"after {steps} steps"
    assert CHECKERS[provider](account, START + WEEK) == []
    return account, steps


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_stripe_account_keeps_stripes_rules_for_a_week(seed):
    account, steps = _live_a_week("stripe", seed)
    assert steps > 800
    kinds = {(c.collection, c.kind) for c in account.changes.kept}
    statuses = {(o.collection, o.data.get("status")) for o in account.objects.values()}
    # the week saw every part of the model at work
    assert {("subscription", "active"), ("subscription", "canceled"), ("invoice", "paid"), ("charge", "failed"),
            ("charge", "succeeded"), ("payment_intent", "succeeded")} <= statuses
    assert {("customer", "delete"), ("invoice", "insert"), ("charge", "update")} <= kinds
    reasons = {o.data["billing_reason"] for o in account.objects.values() if o.collection == "invoice"}
    assert reasons == {"subscription_create", "subscription_cycle"}
    cards = {(o.data["payment_method_details"]["card"]["brand"], o.data["payment_method_details"]["card"]["last4"])
             for o in account.objects.values() if o.collection == "charge"}
    assert len(cards) >= 8  # a varied set of test cards, not one sample card


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_hubspot_portal_keeps_hubspots_rules_for_a_week(seed):
    account, steps = _live_a_week("hubspot", seed)
    assert steps > 800
    deals = [o for o in account.objects.values() if o.collection == "deal"]
    assert any(o.data["properties"]["dealstage"] == "closedwon" for o in deals)
    contacts = [o for o in account.objects.values() if o.collection == "contact" and not o.deleted]
    assert sum("companies" in o.data.get("associations", {}) for o in contacts) > len(contacts) / 4


def test_periods_roll_over_at_the_price_interval_and_yearly_prices_bill_yearly():
    account, _ = _live_a_week("stripe", 5)
    intervals: dict[str, set[int]] = {}
    for sub in (o.data for o in account.objects.values() if o.collection == "subscription"):
        if sub["trial_end"] != sub["current_period_end"]:
            days = (sub["current_period_end"] - sub["current_period_start"]) / 86400
            intervals.setdefault(sub["items"]["data"][0]["price"]["recurring"]["interval"], set()).add(round(days))
    assert intervals["month"] <= {28, 29, 30, 31} and intervals["year"] <= {365, 366}


@pytest.mark.parametrize("data,field,words", [
    ({"address": "1 Main St"}, "data.address", "Invalid object"),
    ({"balance": "lots"}, "data.balance", "Invalid integer"),
    ({"balance": 1.5}, "data.balance", "Invalid integer"),
    ({"email": "not-an-email"}, "data.email", "Invalid email address"),
    ({"metadata": {"plan": 3}}, "data.metadata", "Metadata values must be strings"),
    ({"address": {"city": 3}}, "data.address", "Invalid string"),
    ({"preferred_locales": "en"}, "data.preferred_locales", "Invalid array"),
])
def test_stripe_refuses_customer_writes_as_stripe_does(data, field, words):
    account, _ = _live_a_week_short("stripe")
    customer = account.live("customer")[0]
    with pytest.raises(Invalid) as refused:
        account.provider.update(account, "customer", customer.id, data, START + 1)
    assert words in refused.value.errors[field][0]
    assert words in refused.value.summary


def test_stripe_refuses_bad_product_writes_and_archives_products_that_have_prices():
    account, _ = _live_a_week_short("stripe")
    product = next(o for o in account.live("product") if any(p.data["product"] == o.id for p in account.live("price")))
    with pytest.raises(Invalid) as refused:
        account.provider.update(account, "product", product.id, {"active": "yes"}, START + 1)
    assert refused.value.errors["data.active"] == ["Invalid boolean: \"yes\""]
    change = account.provider.delete(account, "product", product.id, START + 2)
    assert change.kind == "update" and product.data["active"] is False and not product.deleted


def test_deleting_a_customer_cancels_its_subscriptions():
    account, _ = _live_a_week_short("stripe")
    sub = next(o for o in account.live("subscription") if o.data["status"] in ("active", "trialing"))
    account.provider.delete(account, "customer", sub.data["customer"], START + 5_000_000)
    assert sub.data["status"] == "canceled" and sub.data["ended_at"] == (START + 5_000_000) // 1_000_000
    assert stripe_violations(account, START + 5_000_000) == []


@pytest.mark.parametrize("properties,field,words", [
    ({"amount": "lots"}, "amount", "was not a valid number"),
    ({"closedate": "tomorrow"}, "closedate", "was not a valid date"),
    ({"dealstage": "no-such-stage"}, "dealstage", "was not one of the allowed options"),
    ({"hs_object_id": "1"}, "hs_object_id", "does not exist or is read-only"),
])
def test_hubspot_refuses_deal_writes_as_hubspot_does(properties, field, words):
    account, _ = _live_a_week_short("hubspot")
    deal = account.live("deal")[0]
    with pytest.raises(Invalid) as refused:
        account.provider.update(account, "deal", deal.id, {"properties": properties}, START + 1)
    assert words in refused.value.errors[f"data.properties.{field}"][0]


def test_a_deal_closed_won_gets_its_closedate_and_dates_are_stored_as_hubspot_returns_them():
    account, _ = _live_a_week_short("hubspot")
    deal = next(o for o in account.live("deal") if o.data["properties"]["dealstage"] not in ("closedwon", "closedlost"))
    account.provider.update(account, "deal", deal.id, {"properties": {"dealstage": "closedwon"}}, START + 1_000)
    assert deal.data["properties"]["closedate"] == "2024-01-01T00:00:00.001Z"
    account.provider.update(account, "deal", deal.id, {"properties": {"closedate": "2024-02-01"}}, START + 2_000)
    assert deal.data["properties"]["closedate"] == "2024-02-01T00:00:00.000Z"


def test_archiving_a_company_removes_it_from_its_contacts_associations():
    account, _ = _live_a_week_short("hubspot")
    contact = next(o for o in account.live("contact") if "companies" in o.data.get("associations", {}))
    company_id = contact.data["associations"]["companies"]["results"][0]["id"]
    account.provider.delete(account, "company", company_id, START + 1)
    assert company_id not in {r["id"] for r in contact.data.get("associations", {}).get("companies", {}).get(
        "results", [])}
    assert hubspot_violations(account, START + 1) == []


def _live_a_week_short(provider: str) -> tuple[Account, int]:
    """A freshly generated account (its history only), for the write rules."""
    account = Account(PLUGIN_OF[provider].model, "writes", AccountSettings(records_per_collection=20))
    account.rng = random.Random(7)
    account.provider.populate(account, START)
    return account, 0


def test_the_checker_finds_each_kind_of_broken_rule():
    """The checker is not vacuous: break the rules one by one in a healthy account and it names each."""
    account, _ = _live_a_week_short("stripe")
    objects = {c: [o for o in account.objects.values() if o.collection == c] for c in account.provider.collections}
    paid = next(o for o in objects["invoice"] if o.data["status"] == "paid" and o.data["amount_due"] > 0)
    account.objects[("payment_intent", paid.data["payment_intent"])].data["status"] = "requires_payment_method"
    objects["charge"][0].data["refunds"] = {"data": []}
    live = next(o for o in objects["subscription"] if o.data["status"] == "active")
    live.data["current_period_end"] = START // 1_000_000 - 86400
    objects["customer"][0].data["address"]["state"] = "PR"
    objects["product"][0].data["created"] = 1234567890
    found = "\n".join(stripe_violations(account, START))
    for words in ["status does not follow its charges", "includes `refunds`", "period has ended without a renewal",
                  "a state that is not one", "sample timestamp"]:
        assert words in found
    portal, _ = _live_a_week_short("hubspot")
    deal = portal.live("deal")[0]
    deal.data["properties"].update(dealstage="closedwon", closedate=None, amount="lots")
    found = "\n".join(hubspot_violations(portal, START))
    assert "closed deal has no closedate" in found and "amount is not a number" in found
