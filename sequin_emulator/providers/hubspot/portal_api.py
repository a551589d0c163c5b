"""A HubSpot portal's setup APIs, as CRM code reads and changes them: the Properties API (HubSpot's own properties
of contacts, companies and deals, the owner property, custom properties and groups), the Owners API and the
Pipelines API (deals' default pipeline, whose stages are the values `dealstage` takes).

Custom properties and groups live in the account (`Account.extras`, saved with it); the model checks every
write against them (`definitions.writable`). Owners are made from the portal's seed; the pipeline is HubSpot's
default one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sequin_emulator.providers.hubspot.definitions import (
    PROPERTY_TYPES,
    STAGES,
    Kind,
    custom,
    kind_of,
    owners,
    writable,
)
from sequin_emulator.providers.hubspot.errors import HubSpotError, archived_flag, collection_of, limit_of, shaped
from sequin_emulator.providers.hubspot.model import iso

NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MOST_DEFINED = 1000  # custom properties, and property groups, per object type (HubSpot's limit)
EPOCH = "2020-01-06T09:00:00.000Z"  # when HubSpot's own definitions were made, as the portal shows them
READ_ONLY: dict[str, dict[str, str]] = {  # system properties: HubSpot's type of each (their values are HubSpot's)
    "contact": {"createdate": "datetime", "hs_object_id": "number", "lastmodifieddate": "datetime"},
    "company": {"createdate": "datetime", "hs_object_id": "number", "hs_lastmodifieddate": "datetime"},
    "deal": {"createdate": "datetime", "hs_object_id": "number", "hs_lastmodifieddate": "datetime"},
}
LABELS = {"email": "Email", "firstname": "First Name", "lastname": "Last Name", "phone": "Phone Number",
          "company": "Company Name", "jobtitle": "Job Title", "city": "City", "lifecyclestage": "Lifecycle Stage",
          "domain": "Company Domain Name", "name": "Name", "industry": "Industry",
          "numberofemployees": "Number of Employees", "amount": "Amount", "closedate": "Close Date",
          "dealname": "Deal Name", "dealstage": "Deal Stage", "pipeline": "Pipeline", "createdate": "Create Date",
          "hs_object_id": "Record ID", "lastmodifieddate": "Last Modified Date",
          "hs_lastmodifieddate": "Last Modified Date", "hubspot_owner_id": "Owner"}
GROUPS = {"contact": ("contactinformation", "Contact information"),
          "company": ("companyinformation", "Company information"),
          "deal": ("dealinformation", "Deal information")}
FIELD_TYPES = {"string": ("text", "textarea", "file", "calculation_equation"), "number": ("number",
               "calculation_equation"), "date": ("date",), "datetime": ("date",), "bool": ("booleancheckbox",),
               "enumeration": ("select", "radio", "checkbox", "booleancheckbox", "calculation_equation")}
PIPELINE = {"id": "default", "label": "Sales Pipeline", "displayOrder": 0}
STAGE_LABELS = {"appointmentscheduled": ("Appointment Scheduled", "0.2"), "qualifiedtobuy": ("Qualified To Buy", "0.4"),
                "presentationscheduled": ("Presentation Scheduled", "0.6"),
                "decisionmakerboughtin": ("Decision Maker Bought-In", "0.8"), "contractsent": ("Contract Sent", "0.9"),
                "closedwon": ("Closed Won", "1.0"), "closedlost": ("Closed Lost", "0.0")}


# ---------------------------------------------------------------- properties


def _option(value: str, order: int, label: str | None = None) -> dict:
    return {"label": label or value.replace("_", " ").title(), "value": value, "displayOrder": order,
            "hidden": False}


def _hubspots(name: str, kind: Kind | str, collection: str, read_only: bool = False, **more: Any) -> dict:
    """One of HubSpot's own property definitions, as the Properties API shows it."""
    if isinstance(kind, tuple):
        kind_type, field_type, options = "enumeration", "select", [_option(v, i) for i, v in enumerate(kind)]
    else:
        kind_type, options = kind, []
        field_type = {"number": "number", "datetime": "date", "date": "date"}.get(kind, "text")
    return {"name": name, "label": LABELS.get(name, name.replace("_", " ").title()), "type": kind_type,
            "fieldType": field_type, "description": "", "groupName": GROUPS[collection][0], "options": options,
            "displayOrder": -1, "calculated": False, "externalOptions": False, "hasUniqueValue": name == "hs_object_id",
            "hidden": False, "hubspotDefined": True, "formField": not read_only, "archived": False,
            "createdAt": EPOCH, "updatedAt": EPOCH,
            "modificationMetadata": {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": read_only},
            **more}


def _all(api: Any, collection: str) -> list[dict]:
    """Every property of the collection: the system ones, HubSpot's writable ones, the owner, the custom ones."""
    own = [_hubspots(name, kind, collection, read_only=True) for name, kind in READ_ONLY[collection].items()]
    own += [_hubspots(name, kind, collection) for name, kind in PROPERTY_TYPES[collection].items()]
    owner = _hubspots("hubspot_owner_id", (), collection, referencedObjectType="OWNER", externalOptions=True)
    owner["options"] = [_option(o["id"], i, f"{o['firstName']} {o['lastName']}")
                        for i, o in enumerate(owners(api.account.seed))]
    return [*own, owner, *custom(api.account, collection)]


def _property(api: Any, collection: str, name: str) -> dict:
    found = next((p for p in _all(api, collection) if p["name"] == name), None)
    if found is None:
        raise HubSpotError(404, f"Unable to find property {name[:100]} of {collection} objects.", "OBJECT_NOT_FOUND")
    return found


def _checked_name(what: str, name: str) -> None:
    if not NAME.match(name):
        raise HubSpotError(400, f"{what} name {name[:100]!r} is not valid: use lower-case letters, digits and "
                                "underscores, beginning with a letter.")


def _room(held: int, what: str, collection: str) -> None:
    """Refuse one more definition past HubSpot's limit of `MOST_DEFINED` per object type."""
    if held >= MOST_DEFINED:
        raise HubSpotError(400, f"The portal has reached its limit of {MOST_DEFINED:,} {what} for {collection} "
                                "objects.")


def _options(given: list[dict]) -> list[dict]:
    """A definition's options as HubSpot keeps them: in the order given, unless told otherwise."""
    return [{"description": "", "hidden": False, "displayOrder": i, **option} for i, option in enumerate(given)]


def _checked_shape(kind_type: str, field_type: str, options: list[dict] | None) -> None:
    """HubSpot's rules on a definition: a field type its type allows, options for an enumeration only, unique."""
    if field_type not in FIELD_TYPES[kind_type]:
        raise HubSpotError(400, f"Property type {kind_type} is not compatible with field type {field_type}; it "
                                f"takes {', '.join(FIELD_TYPES[kind_type])}.")
    if kind_type == "enumeration" and not options:
        raise HubSpotError(400, "An enumeration property needs at least one option.")
    if kind_type != "enumeration" and options:
        raise HubSpotError(400, f"Options are only for enumeration properties, not {kind_type}.")
    values = [o["value"] for o in options or []]
    if len(set(values)) != len(values):
        raise HubSpotError(400, "Option values must be unique.")


def _group_exists(api: Any, collection: str, group: str) -> None:
    if group not in {g["name"] for g in _groups(api, collection)}:
        raise HubSpotError(400, f"Property group {group[:100]} does not exist for {collection} objects.")


def list_properties(api: Any, call: Any) -> tuple[int, Any]:
    return 200, {"results": _all(api, collection_of(call.path_params["object_type"]))}


def get_property(api: Any, call: Any) -> tuple[int, Any]:
    return 200, _property(api, collection_of(call.path_params["object_type"]), call.path_params["property_name"])


def create_property(api: Any, call: Any) -> tuple[int, Any]:
    body = shaped("HubSpotPropertyCreate", call.body)
    collection, name = collection_of(call.path_params["object_type"]), body["name"]
    _checked_name("Property", name)
    if name in writable(api.account, collection) or name in READ_ONLY[collection]:
        raise HubSpotError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    _checked_shape(body["type"], body["fieldType"], body.get("options"))
    _group_exists(api, collection, body["groupName"])
    _room(len(custom(api.account, collection)), "custom properties", collection)
    now = iso(call.now)
    made = {"name": name, "label": body["label"], "type": body["type"], "fieldType": body["fieldType"],
            "description": body.get("description", ""), "groupName": body["groupName"],
            "options": _options(body.get("options", [])),
            "displayOrder": body.get("displayOrder", -1), "calculated": False, "externalOptions": False,
            "hasUniqueValue": body.get("hasUniqueValue", False), "hidden": body.get("hidden", False),
            "hubspotDefined": False, "formField": body.get("formField", True), "archived": False,
            "createdAt": now, "updatedAt": now,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False}}
    api.account.extras.setdefault("properties", {}).setdefault(collection, []).append(made)
    return 201, made


def _custom(api: Any, call: Any) -> tuple[str, dict]:
    collection, name = collection_of(call.path_params["object_type"]), call.path_params["property_name"]
    found = _property(api, collection, name)
    if found.get("hubspotDefined"):
        raise HubSpotError(400, f"{name} is defined by HubSpot: it cannot be changed or archived.", "READ_ONLY")
    return collection, found


def update_property(api: Any, call: Any) -> tuple[int, Any]:
    body = shaped("HubSpotPropertyUpdate", call.body)
    collection, found = _custom(api, call)
    changed = {**found, **body}
    if "options" in body:
        changed["options"] = _options(body["options"])
    _checked_shape(changed["type"], changed["fieldType"], changed.get("options"))
    _group_exists(api, collection, changed["groupName"])
    changed["updatedAt"] = iso(call.now)
    kind_of(changed)  # a type the checks know
    found.clear()
    found.update(changed)
    return 200, found


def archive_property(api: Any, call: Any) -> tuple[int, Any]:
    collection, found = _custom(api, call)
    custom(api.account, collection).remove(found)
    return 204, None


# ---------------------------------------------------------------- property groups


def _groups(api: Any, collection: str) -> list[dict]:
    name, label = GROUPS[collection]
    return [{"name": name, "label": label, "displayOrder": -1, "archived": False},
            *api.account.extras.get("groups", {}).get(collection, [])]


def list_groups(api: Any, call: Any) -> tuple[int, Any]:
    return 200, {"results": _groups(api, collection_of(call.path_params["object_type"]))}


def get_group(api: Any, call: Any) -> tuple[int, Any]:
    collection, name = collection_of(call.path_params["object_type"]), call.path_params["group_name"]
    found = next((g for g in _groups(api, collection) if g["name"] == name), None)
    if found is None:
        raise HubSpotError(404, f"Unable to find property group {name[:100]}.", "OBJECT_NOT_FOUND")
    return 200, found


def create_group(api: Any, call: Any) -> tuple[int, Any]:
    body = shaped("HubSpotPropertyGroupCreate", call.body)
    collection = collection_of(call.path_params["object_type"])
    _checked_name("Group", body["name"])
    _room(len(_groups(api, collection)) - 1, "property groups", collection)
    if body["name"] in {g["name"] for g in _groups(api, collection)}:
        raise HubSpotError(409, f"Property group named '{body['name']}' already exists.", "OBJECT_ALREADY_EXISTS")
    made = {"name": body["name"], "label": body["label"], "displayOrder": body.get("displayOrder", -1),
            "archived": False}
    api.account.extras.setdefault("groups", {}).setdefault(collection, []).append(made)
    return 201, made


# ---------------------------------------------------------------- owners


def list_owners(api: Any, call: Any) -> tuple[int, Any]:
    query = call.query
    found = [] if archived_flag(query.get("archived")) else owners(api.account.seed)
    if query.get("email"):
        found = [o for o in found if o["email"] == str(query["email"]).lower()]
    start = int(query["after"]) if str(query.get("after", "")).isdigit() else 0
    limit = limit_of(query.get("limit"), 500, default=100)
    page = found[start:start + limit]
    answer: dict[str, Any] = {"results": page}
    if start + limit < len(found):
        answer["paging"] = {"next": {"after": str(start + limit)}}
    return 200, answer


def get_owner(api: Any, call: Any) -> tuple[int, Any]:
    wanted, id_property = call.path_params["owner_id"], call.query.get("idProperty", "id")
    if id_property not in ("id", "userId"):
        raise HubSpotError(400, f"idProperty must be id or userId, not {str(id_property)[:30]}")
    by_user = id_property == "userId"
    found = next((o for o in owners(api.account.seed) if str(o["userId"] if by_user else o["id"]) == wanted), None)
    if found is None or archived_flag(call.query.get("archived")):
        raise HubSpotError(404, f"No owner with {'userId' if by_user else 'id'} {wanted[:30]}.", "OBJECT_NOT_FOUND")
    return 200, found


# ---------------------------------------------------------------- pipelines


def _stages() -> list[dict]:
    return [{"id": stage, "label": STAGE_LABELS[stage][0], "displayOrder": order, "archived": False,
             "metadata": {"isClosed": str(stage in ("closedwon", "closedlost")).lower(),
                          "probability": STAGE_LABELS[stage][1]},
             "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT", "createdAt": EPOCH, "updatedAt": EPOCH}
            for order, stage in enumerate(STAGES)]


def _pipelines(call: Any) -> list[dict]:
    collection = collection_of(call.path_params["object_type"])
    if collection != "deal":
        raise HubSpotError(400, f"{collection} objects have no pipelines (deals do).")
    return [{**PIPELINE, "stages": _stages(), "archived": False, "createdAt": EPOCH, "updatedAt": EPOCH}]


def _pipeline(call: Any) -> dict:
    found = next((p for p in _pipelines(call) if p["id"] == call.path_params["pipeline_id"]), None)
    if found is None:
        raise HubSpotError(404, f"No pipeline {call.path_params['pipeline_id'][:50]}.", "OBJECT_NOT_FOUND")
    return found


HANDLERS: dict[str, Callable[[Any, Any], tuple[int, Any]]] = {
    "hubspotListProperties": list_properties, "hubspotGetProperty": get_property,
    "hubspotCreateProperty": create_property, "hubspotUpdateProperty": update_property,
    "hubspotArchiveProperty": archive_property, "hubspotListPropertyGroups": list_groups,
    "hubspotGetPropertyGroup": get_group, "hubspotCreatePropertyGroup": create_group,
    "hubspotListOwners": list_owners, "hubspotGetOwner": get_owner,
    "hubspotListPipelines": lambda api, call: (200, {"results": _pipelines(call)}),
    "hubspotGetPipeline": lambda api, call: (200, _pipeline(call)),
    "hubspotListPipelineStages": lambda api, call: (200, {"results": _pipeline(call)["stages"]}),
}
