"""A simulated HubSpot portal answers HubSpot's CRM v3 API, driven by the official `hubspot-api-client` against a
running emulator: create, read, update, list with paging and archive; batch calls; search with filter groups and
sorts; associations both ways; errors in HubSpot's envelope; faults; and the full loop through a Sequin sync."""

from __future__ import annotations

import itertools

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.contacts import SimplePublicObjectInput as ContactUpdate
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput

from tests.providers.synced_account import SyncedAccount

TOKEN = "pat-na1-emulated-token"
_hubs = itertools.count()


class Portal(SyncedAccount):
    """A synced HubSpot portal and an SDK client for its own API."""

    def __init__(self, url: str) -> None:
        super().__init__(url, {"kind": "hubspot", "hub_id": 9000 + next(_hubs), "refresh_token": "rt",
                               "access_token": TOKEN}, ["hubspot:contact", "hubspot:company", "hubspot:deal"])
        self.host = self.base
        self.client = HubSpot(access_token=TOKEN, host=self.host)


def test_contacts_round_trip_page_and_archive(portal):
    contacts = portal.client.crm.contacts
    made = contacts.basic_api.create(ContactInput(properties={"email": "grace@example.com", "firstname": "Grace",
                                                              "lifecyclestage": "lead"}))
    assert made.id and made.properties["email"] == "grace@example.com" and made.properties["lastname"] is None
    read = contacts.basic_api.get_by_id(made.id, properties=["email", "lifecyclestage"])
    assert read.properties == {"email": "grace@example.com", "lifecyclestage": "lead"}
    updated = contacts.basic_api.update(made.id, ContactUpdate(properties={"lastname": "Hopper"}))
    assert updated.properties["lastname"] == "Hopper"
    every = contacts.get_all(properties=["email"])  # the SDK pages with `after`
    upstream = {c["id"] for c in portal.sequin.upstream(portal.sync["credential_id"], "hubspot:contact")}
    assert {c.id for c in every} == upstream and made.id in upstream
    first = contacts.basic_api.get_page(limit=5)
    assert len(first.results) == 5 and first.paging.next.after
    contacts.basic_api.archive(made.id)
    with pytest.raises(ApiException) as gone:
        contacts.basic_api.get_by_id(made.id)
    assert gone.value.status == 404 and "OBJECT_NOT_FOUND" in gone.value.body
    assert contacts.basic_api.get_by_id(made.id, archived=True).archived is True


def test_property_rules_and_auth_errors_come_in_hubspots_envelope(portal):
    contacts = portal.client.crm.contacts
    with pytest.raises(ApiException) as invalid:
        contacts.basic_api.create(ContactInput(properties={"email": "not-an-email"}))
    assert invalid.value.status == 400 and "VALIDATION_ERROR" in invalid.value.body
    with pytest.raises(DealsApiException) as enum:
        portal.client.crm.deals.basic_api.create(DealInput(properties={"dealname": "X", "dealstage": "nope"}))
    assert enum.value.status == 400 and "nope was not one of the allowed options" in enum.value.body
    stranger = HubSpot(access_token="pat-someone-else", host=portal.host)
    with pytest.raises(ApiException) as denied:
        stranger.crm.contacts.basic_api.get_page()
    assert denied.value.status == 401


def test_batches_and_search(portal):
    contacts = portal.client.crm.contacts
    created = contacts.batch_api.create(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"properties": {"email": f"batch{i}@example.com", "firstname": f"B{i}", "lastname": "Batch"}}
        for i in range(3)]))
    ids = sorted(c.id for c in created.results)
    assert len(ids) == 3
    read = contacts.batch_api.read(BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in ids],
                                                                      properties=["email"]))
    assert sorted(c.properties["email"] for c in read.results) == [f"batch{i}@example.com" for i in range(3)]
    contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": ids[0], "properties": {"jobtitle": "Admiral"}}]))
    found = contacts.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "lastname", "operator": "EQ", "value": "Batch"}]}],
        sorts=[{"propertyName": "email", "direction": "DESCENDING"}], properties=["email", "jobtitle"], limit=2))
    assert found.total == 3 and [c.properties["email"] for c in found.results] == ["batch2@example.com",
                                                                                  "batch1@example.com"]
    assert found.paging.next.after
    either = contacts.search_api.do_search(PublicObjectSearchRequest(filter_groups=[
        {"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "admiral"}]},
        {"filters": [{"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "batch2"}]}]))
    assert either.total == 2
    by_words = contacts.search_api.do_search(PublicObjectSearchRequest(query="b1 batch"))
    assert [c.properties["email"] for c in by_words.results] == ["batch1@example.com"]
    contacts.batch_api.archive({"inputs": [{"id": i} for i in ids]})
    assert contacts.search_api.do_search(PublicObjectSearchRequest(filter_groups=[
        {"filters": [{"propertyName": "lastname", "operator": "EQ", "value": "Batch"}]}])).total == 0


def test_associations_both_ways(portal):
    crm = portal.client.crm
    company = crm.companies.basic_api.create(CompanyInput(properties={"name": "Initech", "domain": "initech.example"}))
    contact = crm.contacts.basic_api.create(ContactInput(properties={"email": "peter@initech.example"}, associations=[
        {"to": {"id": company.id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]))
    linked = crm.companies.basic_api.get_by_id(company.id, associations=["contacts"])
    assert [r.id for r in linked.associations["contacts"].results] == [contact.id]
    deal = crm.deals.basic_api.create(DealInput(properties={"dealname": "Printers", "dealstage": "closedwon",
                                                            "amount": "1200"}))
    assert deal.properties["closedate"], "a deal created closed gets its close date"
    crm.associations.v4.basic_api.create_default("deals", deal.id, "contacts", contact.id)
    from_contact = crm.contacts.basic_api.get_by_id(contact.id, associations=["deals", "companies"])
    assert [r.id for r in from_contact.associations["deals"].results] == [deal.id]
    crm.associations.v4.basic_api.archive("deals", deal.id, "contacts", contact.id)
    assert "deals" not in (crm.contacts.basic_api.get_by_id(contact.id, associations=["deals"]).associations or {})


def test_writes_reach_consumers_faults_apply(portal):
    made = portal.client.crm.contacts.basic_api.create(ContactInput(properties={"email": "loop@example.com"}))
    portal.sequin.advance("4h")  # a continuous sync polls within seconds; 4h covers any frequency
    records = portal.sequin.drain(portal.consumer["id"])
    assert made.id in [r["upstream_id"] for r in records if r["collection_id"] == "hubspot:contact"]
    settings = f"/_emulator/upstream/{portal.sync['credential_id']}/settings"
    for fault, status in [("outage", 500), ("throttle", 429), ("revoked", 401)]:
        portal.sequin.request("PUT", settings, {fault: True})
        with pytest.raises(ApiException) as failed:
            HubSpot(access_token=TOKEN, host=portal.host, retry=None).crm.contacts.basic_api.get_page()
        assert failed.value.status == status
        portal.sequin.request("PUT", settings, {fault: False})
