"""Simulated records are faithful: Stripe objects validate against Stripe's spec in strict mode with exactly
the default key set; HubSpot objects fit the CRM v3 schema and its invariants."""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from sequin_emulator.domain.catalog import PLUGIN_OF
from sequin_emulator.domain.timefmt import parse_timestamp
from sequin_emulator.domain.upstream import Account, AccountSettings
from sequin_emulator.providers.hubspot.model import PROPERTIES, modified_property
from sequin_emulator.providers.stripe.model import INCLUDABLE, Stripe
from tests.providers.stripe import schema as stripe_schema

NOW = 1_704_067_200_000_000  # 2024-01-01
HUBSPOT_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "hubspot" / "crm-v3.project-schema.json"


def account(provider: str, seed: int, records: int = 40, changes: int = 300) -> Account:
    """An account generated at NOW, then living `changes` of its own changes (one a minute), with whatever falls
    due meanwhile."""
    acct = Account(PLUGIN_OF[provider].model, str(seed),
                   AccountSettings(records_per_collection=records, changes_per_hour=60))
    acct.rng = random.Random(seed)
    acct.provider.populate(acct, NOW)
    acct.schedule_next_change(NOW)
    for _ in range(changes):
        step = acct.next_step_at()
        assert step is not None
        acct.provider.step(acct, step)
    return acct


@pytest.fixture(scope="module")
def stripe_accounts():
    return [account("stripe", seed) for seed in (1, 2, 3)]


def test_the_shipped_fixtures_pass_the_validator():
    for name, sample in stripe_schema.fixtures().items():
        assert stripe_schema.errors(name, sample) == [], name


@pytest.mark.parametrize("collection", PLUGIN_OF["stripe"].model.collections)
def test_stripe_objects_validate_strictly_with_the_default_key_set(stripe_accounts, collection):
    seen = 0
    # the sample object's keys, less those 2023-08-16 returns only when expanded (a charge's `refunds`)
    expected_keys = set(stripe_schema.fixtures()[collection]) - set(INCLUDABLE.get(collection, ()))
    for acct in stripe_accounts:
        for obj in (o for o in acct.objects.values() if o.collection == collection):
            assert stripe_schema.errors(collection, obj.data) == [], obj.data["id"]
            assert set(obj.data) == expected_keys
            seen += 1
    assert seen >= (30 if collection == "refund" else 100)  # refunds are rarer: about one in ten changes of a week


def test_stripe_cross_references_hold(stripe_accounts):
    for acct in stripe_accounts:
        def exists(collection, object_id, acct=acct):
            return acct.get(collection, object_id) is not None
        for obj in acct.objects.values():
            data = obj.data
            if obj.collection == "subscription":
                assert exists("customer", data["customer"])
                assert exists("price", data["items"]["data"][0]["price"]["id"])
                assert data["current_period_start"] < data["current_period_end"]
            elif obj.collection == "invoice":
                assert exists("subscription", data["subscription"]) and exists("customer", data["customer"])
                assert data["amount_remaining"] == data["amount_due"] - data["amount_paid"] or data["status"] == "void"
            elif obj.collection == "price":
                assert exists("product", data["product"])
            elif obj.collection == "charge":
                assert exists("payment_intent", data["payment_intent"]) and exists("invoice", data["invoice"])
            elif obj.collection == "refund":
                charge = acct.get("charge", data["charge"])
                assert charge is not None and data["payment_intent"] == charge.data["payment_intent"]
                assert 0 < data["amount"] <= charge.data["amount_refunded"] <= charge.data["amount"]
            assert obj.data["id"].startswith(
                {
                    "customer": "cus_",
                    "product": "prod_",
                    "price": "price_",
                    "invoice": "in_",
                    "subscription": "sub_",
                    "charge": "ch_",
                    "payment_intent": "pi_",
                    "refund": "re_",
                }[obj.collection]
            )


def test_stripe_delete_model(stripe_accounts):
    kinds = {(c.collection, c.kind) for acct in stripe_accounts for c in acct.changes}
    assert ("customer", "delete") in kinds and ("product", "delete") in kinds
    assert not any(kind == "delete" for collection, kind in kinds if collection not in ("customer", "product"))
    statuses = {(o.collection, o.data.get("status"), o.data.get("active"))
                for a in stripe_accounts for o in a.objects.values()}
    assert ("subscription", "canceled", None) in statuses
    assert ("invoice", "void", None) in statuses
    assert ("price", None, False) in statuses  # archived
    stripe = Stripe()
    for acct in stripe_accounts:
        for obj in (o for o in acct.objects.values() if o.deleted):
            assert stripe_schema.errors(f"deleted_{obj.collection}", stripe.stub(obj)) == []


def test_stripe_events_validate(stripe_accounts):
    types = set()
    for acct in stripe_accounts:
        new_refunds = sum(1 for c in acct.changes.kept if c.collection == "refund" and c.kind == "insert")
        assert len(acct.events) == len(acct.changes.kept) - new_refunds  # every change is an event, but a new
        # refund's (its charge's `charge.refunded` tells, as in API version 2023-08-16)
        for kept in acct.events.kept[:150]:
            event = orjson.loads(kept.payload)
            assert stripe_schema.errors("event", event) == []
            obj = event["data"]["object"]
            assert stripe_schema.errors(f"deleted_{obj['object']}" if obj.get("deleted") else obj["object"], obj) == []
            types.add(event["type"])
    assert {"customer.created", "customer.updated", "customer.deleted", "customer.subscription.deleted",
            "charge.refunded"} <= types


@pytest.mark.parametrize("seed", [1, 2])
def test_hubspot_objects_fit_the_crm_schema_and_invariants(seed):
    schema = json.loads(HUBSPOT_SCHEMA.read_text())
    validator = Draft202012Validator({"$ref": "#/$defs/crmObject", "$defs": schema["$defs"]})
    acct = account("hubspot", seed, records=60)
    archived = 0
    for obj in acct.objects.values():
        data = obj.data
        assert list(validator.iter_errors(data)) == []
        props = data["properties"]
        assert set(props) == set(PROPERTIES[obj.collection])
        assert props["hs_object_id"] == data["id"] and props["createdate"] == data["createdAt"]
        assert props[modified_property(obj.collection)] == data["updatedAt"]
        assert data["updatedAt"] >= data["createdAt"], data  # no change predates the object (nor its associations)
        assert all(v is None or isinstance(v, str) for v in props.values())
        if obj.deleted:
            archived += 1
            assert data["archived"] is True and data["archivedAt"]
    assert archived > 0 and len(acct.objects) >= 180


def test_generation_is_deterministic():
    one, two = account("stripe", 9, changes=50), account("stripe", 9, changes=50)
    assert [o.data for o in one.objects.values()] == [o.data for o in two.objects.values()]
    assert [o.data for o in account("stripe", 10, changes=50).objects.values()] != [o.data for o in one.objects.values()]


def test_upstream_times_are_the_providers_own():
    stripe, hubspot = account("stripe", 4, changes=0), account("hubspot", 4, changes=0)
    for obj in stripe.objects.values():
        created, updated = stripe.provider.upstream_times(obj)
        assert created == obj.data["created"] * 1_000_000 and updated >= created
    for obj in hubspot.objects.values():
        created, updated = hubspot.provider.upstream_times(obj)
        assert (created, updated) == (parse_timestamp(obj.data["createdAt"]), parse_timestamp(obj.data["updatedAt"]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hubspot_history_never_changes_an_object_before_it_exists(seed):
    """Generated history links a new contact or deal only with objects that existed then (#21)."""
    acct = account("hubspot", seed, records=60, changes=0)
    for obj in acct.objects.values():
        assert obj.data["updatedAt"] >= obj.data["createdAt"], obj.data
