"""The official SDKs read every simulated record, and the code users write against them works: `stripe` (16.x)
turns each Stripe object into its typed class; `hubspot-api-client` (12.x) deserializes each CRM record, with its
associations, into its model."""

from __future__ import annotations

import json

import pytest
from stripe._util import convert_to_stripe_object

from tests.providers.test_rules import _live_a_week

STRIPE_CLASSES = {"customer": "Customer", "subscription": "Subscription", "invoice": "Invoice", "charge": "Charge",
                  "payment_intent": "PaymentIntent", "product": "Product", "price": "Price", "refund": "Refund"}


@pytest.fixture(scope="module")
def stripe_account():
    return _live_a_week("stripe", 11)[0]


@pytest.fixture(scope="module")
def hubspot_portal():
    return _live_a_week("hubspot", 11)[0]


def test_the_stripe_sdk_reads_every_record_and_users_code_works(stripe_account):
    seen: dict[str, int] = {}
    for obj in stripe_account.objects.values():
        parsed = convert_to_stripe_object(obj.data)
        assert type(parsed).__name__ == ("Customer" if obj.deleted and obj.collection == "customer" else
                                         STRIPE_CLASSES[obj.collection])
        seen[obj.collection] = seen.get(obj.collection, 0) + 1
        if obj.collection == "invoice":
            assert parsed.lines.data[0].price.id.startswith("price_")
            assert parsed.number.startswith(stripe_account.objects[("customer", parsed.customer)].data["invoice_prefix"])
        elif obj.collection == "charge":
            assert parsed.outcome.type in ("authorized", "issuer_declined")
            assert parsed.payment_method_details.card.exp_year >= 2024
        elif obj.collection == "subscription":
            assert parsed["items"].data[0].price.recurring.interval in ("month", "year")
        elif obj.collection == "customer" and not obj.deleted:
            assert parsed.address.state and parsed.invoice_settings.default_payment_method.startswith("pm_1")
    assert all(seen[c] >= 30 for c in STRIPE_CLASSES)


class _Response:
    """What `ApiClient.deserialize` reads: a response with its JSON body."""

    def __init__(self, data: dict) -> None:
        self.data = json.dumps(data)


def test_the_hubspot_sdk_reads_every_record_with_its_associations(hubspot_portal):
    from hubspot.crm.companies import ApiClient as Companies
    from hubspot.crm.contacts import ApiClient as Contacts
    from hubspot.crm.deals import ApiClient as Deals

    clients = {"contact": Contacts(), "company": Companies(), "deal": Deals()}
    associated = 0
    for obj in hubspot_portal.objects.values():
        model = clients[obj.collection].deserialize(_Response(obj.data), "SimplePublicObjectWithAssociations")
        assert model.id == obj.id and model.archived == obj.deleted and model.created_at.year >= 2023
        assert model.properties == obj.data["properties"]
        for association in (model.associations or {}).values():
            associated += 1
            assert all(result.id.isdigit() and "_to_" in result.type for result in association.results)
        if obj.collection == "deal" and model.properties["dealstage"] == "closedwon":
            assert model.properties["closedate"]
    assert associated > 100
