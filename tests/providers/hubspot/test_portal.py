"""A simulated HubSpot portal set up as CRM code sets one up, through the official `hubspot-api-client`: custom
properties and groups (every write checked against them, kept in snapshots), owners, the deal pipeline; and the
answers HubSpot gives that code must handle: a duplicate contact email (409), a batch read of missing ids (207),
reads by email."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId
from hubspot.crm.contacts import SimplePublicObjectInput as ContactUpdate
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput
from hubspot.crm.pipelines import ApiException as PipelinesApiException
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate, PropertyUpdate

from tests.providers.hubspot.test_api import Portal


def _tier(name: str = "tier", options: tuple[str, ...] = ("gold", "silver")) -> PropertyCreate:
    return PropertyCreate(name=name, label="Tier", type="enumeration", field_type="select", group_name="loyalty",
                          options=[OptionInput(label=o.title(), value=o) for o in options])


def test_custom_properties_are_defined_then_checked_on_every_write(portal: Portal):
    properties, contacts = portal.client.crm.properties, portal.client.crm.contacts.basic_api
    own = {p.name: p for p in properties.core_api.get_all("contacts").results}
    assert own["email"].type == "string" and own["email"].hubspot_defined is True
    assert [o.value for o in own["lifecyclestage"].options][:2] == ["subscriber", "lead"]
    assert own["hs_object_id"].modification_metadata.read_only_value is True

    properties.groups_api.create("contacts", PropertyGroupCreate(name="loyalty", label="Loyalty"))
    made = properties.core_api.create("contacts", _tier())
    assert made.name == "tier" and made.hubspot_defined is False and [o.value for o in made.options] == ["gold", "silver"]
    properties.core_api.create("contacts", PropertyCreate(name="points", label="Points", type="number",
                                                          field_type="number", group_name="loyalty"))
    assert properties.core_api.get_by_name("contacts", "tier").group_name == "loyalty"

    contact = contacts.create(ContactInput(properties={"email": "ada@loyal.example", "tier": "gold", "points": "12"}))
    assert contacts.get_by_id(contact.id, properties=["tier", "points", "email"]).properties == {
        "tier": "gold", "points": "12", "email": "ada@loyal.example"}
    other = contacts.create(ContactInput(properties={"email": "grace@loyal.example"}))
    assert contacts.get_by_id(other.id, properties=["tier"]).properties == {"tier": None}  # defined, no value
    for bad, words in (({"tier": "bronze"}, "allowed options"), ({"points": "many"}, "valid number"),
                       ({"no_such": "x"}, "does not exist")):
        with pytest.raises(ContactsApiException) as refused:
            contacts.update(contact.id, ContactUpdate(properties=bad))
        assert refused.value.status == 400 and words in refused.value.body
    upstream = {c["id"]: c for c in portal.sequin.upstream(portal.sync["credential_id"], "hubspot:contact")}
    assert upstream[contact.id]["properties"]["tier"] == "gold"  # what the sync reads, custom properties included

    with pytest.raises(PropertiesApiException) as twice:
        properties.core_api.create("contacts", _tier())
    assert twice.value.status == 409
    for bad_definition, status in ((_tier(name="Tier Level"), 400), (_tier(name="email"), 409),
                                   (_tier(name="level", options=()), 400)):
        with pytest.raises(PropertiesApiException) as refused_definition:
            properties.core_api.create("contacts", bad_definition)
        assert refused_definition.value.status == status
    with pytest.raises(PropertiesApiException) as no_group:
        properties.core_api.create("contacts", PropertyCreate(name="x1", label="X", type="string", field_type="text",
                                                              group_name="nowhere"))
    assert no_group.value.status == 400
    with pytest.raises(PropertiesApiException) as mismatched:
        properties.core_api.create("contacts", PropertyCreate(name="x2", label="X", type="string",
                                                              field_type="number", group_name="loyalty"))
    assert mismatched.value.status == 400 and "not compatible" in mismatched.value.body
    with pytest.raises(PropertiesApiException) as theirs:
        properties.core_api.archive("contacts", "email")
    assert theirs.value.status == 400

    renamed = properties.core_api.update("contacts", "tier", PropertyUpdate(
        label="Loyalty tier", options=[OptionInput(label=o.title(), value=o) for o in ("gold", "silver", "bronze")]))
    assert renamed.label == "Loyalty tier"
    contacts.update(contact.id, ContactUpdate(properties={"tier": "bronze"}))  # an option added

    state = portal.sequin.get("/_emulator/state").json()
    portal.sequin.request("PUT", "/_emulator/state", state).raise_for_status()
    assert properties.core_api.get_by_name("contacts", "tier").label == "Loyalty tier"  # kept in snapshots
    properties.core_api.archive("contacts", "tier")
    with pytest.raises(ContactsApiException) as archived:
        contacts.update(contact.id, ContactUpdate(properties={"tier": "gold"}))
    assert archived.value.status == 400


def test_owners_and_the_deal_pipeline(portal: Portal):
    crm = portal.client.crm
    owners = crm.owners.owners_api.get_page().results
    assert len(owners) == 4 and all(o.email and o.first_name and o.type == "PERSON" for o in owners)
    assert crm.owners.owners_api.get_by_id(owners[0].id).email == owners[0].email
    assert crm.owners.owners_api.get_by_id(owners[1].user_id, id_property="userId").id == owners[1].id
    assert [o.id for o in crm.owners.owners_api.get_page(email=owners[2].email).results] == [owners[2].id]
    first_two = crm.owners.owners_api.get_page(limit=2)
    assert len(first_two.results) == 2 and first_two.paging.next.after == "2"
    assert crm.owners.owners_api.get_page(after="2", limit=2).results[0].id == owners[2].id

    contact = crm.contacts.basic_api.create(ContactInput(properties={"email": "owned@example.com",
                                                                     "hubspot_owner_id": owners[0].id}))
    assert crm.contacts.basic_api.get_by_id(contact.id, properties=["hubspot_owner_id"]).properties == {
        "hubspot_owner_id": owners[0].id}
    with pytest.raises(ContactsApiException) as nobody:
        crm.contacts.basic_api.update(contact.id, ContactUpdate(properties={"hubspot_owner_id": "1"}))
    assert nobody.value.status == 400

    [pipeline] = crm.pipelines.pipelines_api.get_all("deals").results
    assert pipeline.id == "default" and pipeline.label == "Sales Pipeline"
    stages = crm.pipelines.pipeline_stages_api.get_all("deals", "default").results
    assert [s.id for s in stages][-2:] == ["closedwon", "closedlost"]
    assert {s.id: (s.metadata["probability"], s.metadata["isClosed"]) for s in stages}["closedwon"] == ("1.0", "true")
    assert crm.pipelines.pipelines_api.get_by_id("deals", "default").stages[0].id == stages[0].id
    for stage in stages:
        deal = crm.deals.basic_api.create(DealInput(properties={"dealname": stage.label, "dealstage": stage.id}))
        assert deal.properties["dealstage"] == stage.id  # every stage of the pipeline is a deal's stage
    with pytest.raises(DealsApiException) as no_stage:
        crm.deals.basic_api.create(DealInput(properties={"dealname": "x", "dealstage": "negotiation"}))
    assert no_stage.value.status == 400
    with pytest.raises(PipelinesApiException) as contacts_have_none:
        crm.pipelines.pipelines_api.get_all("contacts")
    assert contacts_have_none.value.status == 400


def test_duplicate_emails_missing_ids_and_reads_by_email(portal: Portal):
    contacts = portal.client.crm.contacts
    first = contacts.basic_api.create(ContactInput(properties={"email": "Unique@Example.com"}))
    with pytest.raises(ContactsApiException) as duplicate:
        contacts.basic_api.create(ContactInput(properties={"email": "unique@example.com"}))
    assert duplicate.value.status == 409 and "CONFLICT" in duplicate.value.body
    assert f"Existing ID: {first.id}" in duplicate.value.body
    second = contacts.basic_api.create(ContactInput(properties={"email": "second@example.com"}))
    with pytest.raises(ContactsApiException) as taken:
        contacts.basic_api.update(second.id, ContactUpdate(properties={"email": "unique@example.com"}))
    assert taken.value.status == 409
    contacts.basic_api.update(first.id, ContactUpdate(properties={"email": "unique@example.com"}))  # its own

    assert contacts.basic_api.get_by_id("unique@example.com", id_property="email").id == first.id
    with pytest.raises(ContactsApiException) as unknown_email:
        contacts.basic_api.get_by_id("nobody@example.com", id_property="email")
    assert unknown_email.value.status == 404

    read = contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": first.id}, {"id": "999999999"}, {"id": second.id}], properties=["email"]))
    assert sorted(r.id for r in read.results) == sorted([first.id, second.id])
    assert read.num_errors == 1 and read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"ids": ["999999999"]}
    by_email = contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "second@example.com"}], id_property="email", properties=["email"]))
    assert [r.id for r in by_email.results] == [second.id]

    refused = portal.sequin.post("/v1/mutations/run", {
        "kind": "create", "sync_id": portal.sync["id"], "collection_id": "hubspot:contact",
        "records": [{"data": {"properties": {"email": "second@example.com"}}}]})
    assert refused.status_code == 400 and "is the email of contact" in refused.json()["error"]


def test_searches_keep_hubspots_filter_limits(portal: Portal):
    from hubspot.crm.contacts import PublicObjectSearchRequest

    search = portal.client.crm.contacts.search_api

    def groups(*sizes: int) -> list[dict]:
        return [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * size} for size in sizes]

    assert search.do_search(PublicObjectSearchRequest(filter_groups=groups(6, 6, 6), limit=1)).total > 0
    for too_many in (groups(6, 6, 6, 1), groups(7)):
        with pytest.raises(ContactsApiException) as refused:
            search.do_search(PublicObjectSearchRequest(filter_groups=too_many))
        assert refused.value.status == 400


def test_merges_and_gdpr_deletes(portal: Portal):
    from hubspot.crm.contacts import PublicGdprDeleteInput, PublicMergeInput

    crm = portal.client.crm
    contacts = crm.contacts.basic_api
    company = crm.companies.basic_api.create({"properties": {"name": "Analytical Engines"}})
    keep = contacts.create(ContactInput(properties={"email": "keep@engines.example", "firstname": "Ada"}))
    other = contacts.create(ContactInput(properties={"email": "other@engines.example", "lastname": "Lovelace"},
                                         associations=[{"to": {"id": company.id}, "types": [
                                             {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]))
    merged = contacts.merge(PublicMergeInput(primary_object_id=keep.id, object_id_to_merge=other.id))
    assert merged.id == keep.id
    read = contacts.get_by_id(keep.id, properties=["email", "firstname", "lastname", "hs_merged_object_ids"],
                              associations=["companies"])
    assert read.properties == {"email": "keep@engines.example", "firstname": "Ada", "lastname": "Lovelace",
                               "hs_merged_object_ids": other.id}  # its own values kept, the empty ones filled
    assert [r.id for r in read.associations["companies"].results] == [company.id]
    assert contacts.get_by_id(other.id, archived=True).archived is True
    with pytest.raises(ContactsApiException) as itself:
        contacts.merge(PublicMergeInput(primary_object_id=keep.id, object_id_to_merge=keep.id))
    assert itself.value.status == 400

    contacts.purge(PublicGdprDeleteInput(object_id="keep@engines.example", id_property="email"))
    for archived in (False, True):
        with pytest.raises(ContactsApiException) as gone:
            contacts.get_by_id(keep.id, archived=archived)
        assert gone.value.status == 404
    assert keep.id not in {c.id for c in contacts.get_page(archived=True, limit=100).results}
    upstream = {c["id"]: c for c in portal.sequin.upstream(portal.sync["credential_id"], "hubspot:contact")}
    assert keep.id not in upstream  # the sync sees it deleted
    with pytest.raises(ContactsApiException) as twice:
        contacts.purge(PublicGdprDeleteInput(object_id=keep.id))
    assert twice.value.status == 404


def test_definitions_stop_at_hubspots_limits_so_that_every_state_imports_again(portal: Portal):
    from hubspot.webhooks import SubscriptionCreateRequest

    from tests.providers.hubspot.test_api import TOKEN

    properties = portal.client.crm.properties
    properties.groups_api.create("contacts", PropertyGroupCreate(name="bulk", label="Bulk"))
    made = properties.core_api.create("contacts", PropertyCreate(name="p0", label="P", type="string",
                                                                 field_type="text", group_name="bulk"))
    app = portal.sequin.get(f"/_emulator/upstream/{portal.sync['credential_id']}").json()["app"]
    developer = HubSpot(api_key=TOKEN, host=portal.host).webhooks
    developer.subscriptions_api.create(app["app_id"], SubscriptionCreateRequest(
        event_type="contact.propertyChange", property_name="p0"))  # a custom property can be watched
    state = portal.sequin.get("/_emulator/state").json()
    saved = next(a for a in state["accounts"].values() if a.get("extras", {}).get("properties"))
    first = saved["extras"]["properties"]["contact"][0]
    assert first["name"] == made.name
    saved["extras"]["properties"]["contact"] = [{**first, "name": f"p{i}"} for i in range(1000)]
    endpoint = saved["webhook_endpoints"][0]["data"]
    endpoint["subscriptions"] = [{**endpoint["subscriptions"][0], "id": str(i + 1), "propertyName": f"p{i}"}
                                 for i in range(1000)]
    portal.sequin.request("PUT", "/_emulator/state", state).raise_for_status()
    with pytest.raises(PropertiesApiException) as full:
        properties.core_api.create("contacts", PropertyCreate(name="p1000", label="P", type="string",
                                                              field_type="text", group_name="bulk"))
    assert full.value.status == 400 and "limit of 1,000" in full.value.body
    with pytest.raises(Exception) as no_room:
        developer.subscriptions_api.create(app["app_id"], SubscriptionCreateRequest(event_type="deal.creation"))
    assert "limit of 1,000 subscriptions" in str(no_room.value)
    state = portal.sequin.get("/_emulator/state").json()
    portal.sequin.request("PUT", "/_emulator/state", state).raise_for_status()  # still imports

