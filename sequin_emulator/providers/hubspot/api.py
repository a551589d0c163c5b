"""HubSpot's CRM v3 objects API over a simulated portal, for `hubspot-api-client`: contacts, companies and deals.

Served: list (`limit`, `after`, `properties`, `associations`, `archived`), read, create, update, archive; the
batch read / create / update / archive endpoints; search (filter groups with HubSpot's operators, sorts, paging);
and associations between the types the model links (v3 list, v4 default create and remove). Writes go through the
portal's model (`model.py` beside this): the same property rules and messages, associations kept both ways, and
every change in the portal's change log, where syncs find it. Errors come in HubSpot's envelope.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.upstream import Account, UpstreamObject
from sequin_emulator.providers.hubspot.definitions import writable
from sequin_emulator.providers.hubspot.errors import HubSpotError, archived_flag, collection_of, limit_of, shaped
from sequin_emulator.providers.hubspot.events import API
from sequin_emulator.providers.hubspot.model import PLURAL, PROPERTIES, SINGULAR, Duplicate, HubSpot, iso, with_email
from sequin_emulator.providers.hubspot.portal_api import HANDLERS as PORTAL_HANDLERS
from sequin_emulator.providers.hubspot.webhooks import HANDLERS as WEBHOOK_HANDLERS
from sequin_emulator.providers.wire import Refusal, WireAnswer, WireApi, WireCall

DEFAULT_PROPERTIES = {
    "contact": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "company": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deal": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
             "pipeline"),
}
LIMITS = {"list": 100, "search": 200}
MOST_FILTERS = 18  # over every filter group of a search (HubSpot's limit; 6 per group, 5 groups, in the document)
SEARCHABLE = {"contact": ("firstname", "lastname", "email", "phone", "company"), "company": ("name", "domain", "phone"),
              "deal": ("dealname", "pipeline", "dealstage")}  # what a search's `query` looks in
BATCH_BODIES = {"read": "HubSpotBatchRead", "create": "HubSpotBatchCreate", "update": "HubSpotBatchUpdate",
                "archive": "HubSpotBatchArchive"}


def _missing(object_id: str) -> HubSpotError:
    return HubSpotError(404, f"Object not found.  objectId are usually numeric. (id {object_id})", "OBJECT_NOT_FOUND")


def _names(value: Any, field: str = "properties") -> list[str]:
    """A `properties` / `associations` parameter: a comma-separated string, repeated, or a JSON list of strings."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise HubSpotError(400, f"{field} must be a list of property names (strings)")
    return [name.strip() for item in items for name in item.split(",") if name.strip()]


def _scalar(value: str | float | bool | None) -> str | None:
    """A filter's value (a string, number or boolean, by the document) as HubSpot compares it: as text."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _comparable(value: str | None) -> Any:
    """A property value as search compares it: numbers as numbers, date-times as epoch ms, text as lower case."""
    if value is None:
        return None
    number = _number(value)
    if number is not None:
        return number
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000
    except (ValueError, OverflowError, OSError):  # not a date, or one past what a date can be: compared as text
        return value.lower()


@dataclass
class Call:
    path_params: dict[str, str]
    query: dict[str, Any]
    body: Any
    now: int


class HubSpotApi:
    """One simulated portal's CRM API."""

    def __init__(self, account: Account, model: HubSpot) -> None:
        self.account, self.model = account, model
        self._properties: dict[str, frozenset[str]] = {}

    def _known(self, collection: str) -> frozenset[str]:
        """The portal's properties of a collection (a requested one without a value is answered as null)."""
        if collection not in self._properties:
            self._properties[collection] = frozenset({*PROPERTIES[collection], *writable(self.account, collection)})
        return self._properties[collection]

    # ---------------------------------------------------------------- views

    def _object(self, collection: str, object_id: str, archived: bool = False) -> UpstreamObject:
        obj = self.account.get(collection, object_id)
        if obj is None or obj.deleted != archived or (archived and obj.id in self._erased()):
            raise _missing(object_id)
        return obj

    def _erased(self) -> set[str]:
        """Contacts deleted for good (GDPR): not even archived reads show them."""
        return set(self.account.extras.get("erased", ()))

    def _merge(self, collection: str, body: dict, now: int) -> dict:
        primary_id, other_id = body["primaryObjectId"], body["objectIdToMerge"]
        if primary_id == other_id:
            raise HubSpotError(400, "An object cannot be merged with itself.")
        primary, merged = self._object(collection, primary_id), self._object(collection, other_id)
        return self._view(self.model.merge(self.account, primary, merged, now), [])

    def _gdpr_delete(self, body: dict, now: int) -> tuple[int, None]:
        contact_id = self._id_of("contact", body["objectId"], body.get("idProperty"))
        contact = self.account.get("contact", contact_id)
        if contact is None or contact_id in self._erased():
            raise _missing(body["objectId"])
        self.model.erase(self.account, contact, now)
        return 204, None

    def _view(self, obj: UpstreamObject, properties: list[str], associations: list[str] | None = None) -> dict:
        """The object as HubSpot returns it: only the properties asked for (its defaults otherwise)."""
        props = obj.data["properties"]
        wanted = properties or list(DEFAULT_PROPERTIES[obj.collection])
        known = self._known(obj.collection)
        view: dict[str, Any] = {"id": obj.id, "properties": {name: props.get(name) for name in wanted
                                                              if name in props or name in known},
                                "createdAt": obj.data["createdAt"], "updatedAt": obj.data["updatedAt"],
                                "archived": obj.deleted}
        if obj.deleted:
            view["archivedAt"] = obj.data.get("archivedAt")
        linked = {}
        for plural in associations or []:
            results = self.model.associations(obj, plural)
            if results:
                linked[plural] = {"results": [dict(r) for r in results]}
        if linked:
            view["associations"] = linked
        return view

    def _in_order(self, collection: str, archived: bool) -> list[UpstreamObject]:
        ids, erased = self.account.order.get(collection, ()), self._erased() if archived else set()
        return [o for o in (self.account.objects[(collection, i)] for i in ids)
                if o.deleted == archived and o.id not in erased]

    def _paged(self, objects: list[UpstreamObject], after: Any, limit: int) -> tuple[list[UpstreamObject], dict | None]:
        """HubSpot pages by an opaque `after`: here the position of the next object."""
        start = 0
        if after is not None:
            text = str(after) if isinstance(after, str | int) and not isinstance(after, bool) else "?"
            if not (text.isascii() and text.isdigit()) or len(text) > 12:
                raise HubSpotError(400, f"after must be a paging cursor from an earlier answer, not {text[:20]}")
            start = int(text)
        page = objects[start:start + limit]
        if start + limit < len(objects):
            return page, {"next": {"after": str(start + limit)}}
        return page, None

    def _list(self, collection: str, query: dict) -> dict:
        limit = limit_of(query.get("limit"), LIMITS["list"])
        archived = archived_flag(query.get("archived"))
        page, paging = self._paged(self._in_order(collection, archived), query.get("after"), limit)
        properties, associations = _names(query.get("properties")), _names(query.get("associations"))
        answer: dict[str, Any] = {"results": [self._view(o, properties, associations) for o in page]}
        if paging:
            answer["paging"] = paging
        return answer

    def _read(self, collection: str, object_id: str, query: dict) -> dict:
        archived = archived_flag(query.get("archived"))
        obj = self._object(collection, self._id_of(collection, object_id, query.get("idProperty"), archived), archived)
        return self._view(obj, _names(query.get("properties")), _names(query.get("associations")))

    def _id_of(self, collection: str, given: str, id_property: Any, archived: bool = False) -> str:
        """The id an object is named by: itself, or (`idProperty=email`, contacts) the contact with that email."""
        if id_property in (None, "hs_object_id"):
            return given
        if id_property != "email" or collection != "contact":
            raise HubSpotError(400, f"idProperty {str(id_property)[:100]} is not a unique property of {collection} "
                                    "objects (contacts take email).")
        found = with_email(self.account, given, archived)
        if found is None:
            raise _missing(given)
        return found

    def _associations_of(self, collection: str, object_id: str, to_type: str) -> dict:
        obj = self._object(collection, object_id)
        plural = to_type if to_type in SINGULAR else PLURAL.get(to_type, "")
        return {"results": [dict(r) for r in self.model.associations(obj, plural)]}

    # ---------------------------------------------------------------- writes

    def _write(self, action: Callable[..., Any], *arguments: Any) -> Any:
        try:
            return action(*arguments)
        except Duplicate as exc:
            raise HubSpotError(409, f"Contact already exists. Existing ID: {exc.existing_id}", "CONFLICT") from None
        except Invalid as exc:
            _, reasons = next(iter(exc.errors.items()))
            raise HubSpotError(400, f"Property values were not valid: {reasons[0]}") from None

    def _create(self, collection: str, body: Any, now: int) -> dict:
        given = self._write(self.model.checked_properties, self.account, collection,
                            {"properties": body["properties"]})
        obj = self.model.create(self.account, collection, given, now, self._targets(collection, body), source=API)
        return self._view(obj, [])

    def _targets(self, collection: str, body: Any) -> list[UpstreamObject]:
        """The objects a create's `associations` name (`[{"to": {"id"}, "types": [...]}]`), all checked before
        anything is written; the other object's type is found by its id (ids are unique across a portal)."""
        targets = []
        for association in body.get("associations") or []:
            other_id = str(association["to"]["id"])
            other = next((self.account.get(c, other_id) for c in PLURAL if self.account.get(c, other_id)), None)
            if other is None or other.deleted or other.collection == collection:
                raise HubSpotError(400, f"The association target {other_id[:50]} is not an object this one can be "
                                   "associated with")
            targets.append(other)
        return targets

    def _update(self, collection: str, object_id: str, body: Any, now: int) -> dict:
        self._object(collection, object_id)
        self._write(self.model.update, self.account, collection, object_id, {"properties": body["properties"]}, now)
        return self._view(self.account.objects[(collection, object_id)], [])

    def _archive(self, collection: str, object_id: str, now: int) -> None:
        obj = self.account.get(collection, object_id)
        if obj is None:
            raise _missing(object_id)
        if not obj.deleted:  # archiving twice is fine, as on HubSpot
            self.model.delete(self.account, collection, object_id, now)

    def _associate(self, collection: str, object_id: str, to_type: str, to_id: str, present: bool,
                   now: int) -> tuple[int, Any]:
        obj = self._object(collection, object_id)
        other_collection = SINGULAR.get(to_type) or (to_type if to_type in PLURAL else None)
        if other_collection is None or other_collection == collection:
            raise HubSpotError(400, f"{PLURAL[collection]} cannot be associated with {to_type}")
        other = self._object(other_collection, to_id)
        self.model.associate(self.account, obj, other, present, now, log=True, source=API)
        if not present:
            return 204, None
        return 200, {"status": "COMPLETE", "results": [{"from": {"id": obj.id}, "to": {"id": other.id},
                                                         "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                                                             "associationTypeId": 1}}],
                     "startedAt": iso(now), "completedAt": iso(now)}

    def _batch(self, collection: str, action: str, body: Any, now: int) -> tuple[int, Any]:
        inputs, started = body["inputs"], iso(now)
        if action == "read":
            return self._batch_read(collection, body, started, now)
        elif action == "create":
            self._check_all(collection, inputs, existing=False)
            results = [self._create(collection, item, now) for item in inputs]
        elif action == "update":
            self._check_all(collection, inputs, existing=True)
            results = [self._update(collection, str(item["id"]), item, now) for item in inputs]
        else:  # archive (the router takes only the actions of BATCH_BODIES)
            ids = [str(item["id"]) for item in inputs]
            for object_id in ids:  # all found before any is archived: a batch is all or nothing
                if self.account.get(collection, object_id) is None:
                    raise _missing(object_id)
            for object_id in ids:
                self._archive(collection, object_id, now)
            return 204, None
        answer = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(now)}
        return (201 if action == "create" else 200), answer

    def _batch_read(self, collection: str, body: dict, started: str, now: int) -> tuple[int, Any]:
        """The objects found, and (a 207) an `OBJECT_NOT_FOUND` error naming the ids that are not, as HubSpot."""
        properties, results, missing = _names(body.get("properties")), [], []
        for item in body["inputs"]:
            try:
                results.append(self._view(self._object(collection, self._id_of(
                    collection, str(item["id"]), body.get("idProperty"))), properties))
            except HubSpotError as error:
                if error.status != 404:
                    raise
                missing.append(str(item["id"]))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                  "completedAt": iso(now)}
        if not missing:
            return 200, answer
        answer.update(numErrors=1, errors=[{
            "status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing},
            "message": f"Could not get some {collection.upper()} objects, they may be deleted or not exist. Check "
                       "that ids are valid."}])
        return 207, answer

    def _check_all(self, collection: str, inputs: list[dict], existing: bool) -> None:
        """Every input of a batch checked before any is written: a batch is all or nothing (two of its contacts
        with one email included)."""
        emails: dict[str, str] = {}
        for number, item in enumerate(inputs):
            object_id = str(item["id"]) if existing else None
            if object_id is not None:
                self._object(collection, object_id)
            self._write(self.model.checked_properties, self.account, collection, {"properties": item["properties"]},
                        object_id)
            if not existing:
                self._targets(collection, item)
            email = item["properties"].get("email") if collection == "contact" else None
            if isinstance(email, str):
                if email.lower() in emails:
                    raise HubSpotError(400, f"Duplicate email {email[:254]} in the batch (inputs "
                                            f"{emails[email.lower()]} and {number}).")
                emails[email.lower()] = str(number)

    # ---------------------------------------------------------------- search

    def _search(self, collection: str, body: dict) -> dict:
        """Over a body of the document's shape (`HubSpotSearch`: at most 5 filter groups, each filter a property
        name, one of HubSpot's operators and plain values)."""
        groups = body.get("filterGroups") or []
        if sum(len(g.get("filters", [])) for g in groups) > MOST_FILTERS:
            raise HubSpotError(400, f"A search may have at most {MOST_FILTERS} filters over all its filter groups "
                                    "(and 6 in one group, 5 groups).")
        terms = (body.get("query") or "").lower().split()
        sorts, properties = _sorts(body.get("sorts") or []), _names(body.get("properties"))
        matching = [o for o in self._in_order(collection, False)
                    if (not groups or any(all(self._matches(o, f) for f in g.get("filters", [])) for g in groups))
                    and (not terms or _found(o, terms))]
        for name, descending in reversed(sorts):
            present = [o for o in matching if o.data["properties"].get(name) is not None]
            absent = [o for o in matching if o.data["properties"].get(name) is None]
            present.sort(key=lambda o: _sort_key(o.data["properties"][name]), reverse=descending)
            matching = present + absent
        limit = limit_of(body.get("limit"), LIMITS["search"])
        page, paging = self._paged(matching, body.get("after"), limit)
        answer: dict[str, Any] = {"total": len(matching), "results": [self._view(o, properties) for o in page]}
        if paging:
            answer["paging"] = paging
        return answer

    def _matches(self, obj: UpstreamObject, rule: dict) -> bool:
        """Whether `obj` passes a filter (checked by `_check_filter` first)."""
        name, operator = rule["propertyName"], rule["operator"]
        value = obj.id if name == "hs_object_id" else obj.data["properties"].get(name)
        if operator == "HAS_PROPERTY":
            return value not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if operator in ("IN", "NOT_IN"):
            options = {(_scalar(v) or "").lower() for v in rule.get("values") or []}
            inside = value is not None and value.lower() in options
            return inside if operator == "IN" else not inside
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = (_scalar(rule.get("value")) or "").lower().strip("*")
            found = value is not None and token in value.lower()
            return found if operator == "CONTAINS_TOKEN" else not found
        mine = _comparable(value)
        if operator == "BETWEEN":
            low, high = _comparable(_scalar(rule.get("value"))), \
                _comparable(_scalar(rule.get("highValue")))
            return mine is not None and _ordered(low, mine) and _ordered(mine, high)
        theirs = _comparable(_scalar(rule.get("value")))
        if operator == "EQ":
            return mine == theirs
        if operator == "NEQ":
            return mine != theirs
        if mine is None or theirs is None or type(mine) is not type(theirs):
            return False
        return {"LT": mine < theirs, "LTE": mine <= theirs, "GT": mine > theirs, "GTE": mine >= theirs}[operator]


def _sorts(value: list) -> list[tuple[str, bool]]:
    """A search's `sorts` (property names, or `{"propertyName", "direction"}`) as (name, descending)."""
    return [(sort, False) if isinstance(sort, str) else (sort["propertyName"], sort.get("direction") == "DESCENDING")
            for sort in value]


def _found(obj: UpstreamObject, terms: list[str]) -> bool:
    """A search's `query`: every word is in one of the type's searchable properties (HubSpot's defaults)."""
    props = obj.data["properties"]
    text = " ".join(str(props.get(name) or "") for name in SEARCHABLE[obj.collection]).lower()
    return all(term in text for term in terms)


def _sort_key(value: str) -> tuple[int, Any]:
    """Numbers and dates before text, so a property holding both sorts instead of failing."""
    comparable = _comparable(value)
    return (0, comparable) if isinstance(comparable, float) else (1, str(comparable))


def _ordered(low: Any, high: Any) -> bool:
    return low is not None and high is not None and type(low) is type(high) and low <= high


def correlation_id(tag: str) -> str:
    """A request's correlation id, HubSpot's UUID-shaped one, from the request's tag."""
    digest = hashlib.sha256(tag.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _of(call: Call) -> str:
    return collection_of(call.path_params["object_type"])


def _batch(action: str) -> Callable[[HubSpotApi, Call], tuple[int, Any]]:
    return lambda api, call: api._batch(_of(call), action, shaped(BATCH_BODIES[action], call.body), call.now)


def _archived_one(api: HubSpotApi, call: Call) -> tuple[int, Any]:
    api._archive(_of(call), call.path_params["id"], call.now)
    return 204, None


def _associating(present: bool) -> Callable[[HubSpotApi, Call], tuple[int, Any]]:
    def associate(api: HubSpotApi, call: Call) -> tuple[int, Any]:
        given = call.path_params
        return api._associate(_of(call), given["id"], given["to_object_type"], given["to_id"], present, call.now)
    return associate


# each operation of openapi/providers.yaml, as a function of (api, call) → (status, body)
HANDLERS: dict[str, Callable[[HubSpotApi, Call], tuple[int, Any]]] = {
    "hubspotList": lambda api, call: (200, api._list(_of(call), call.query)),
    "hubspotCreate": lambda api, call: (201, api._create(_of(call), shaped("HubSpotInput", call.body), call.now)),
    "hubspotRead": lambda api, call: (200, api._read(_of(call), call.path_params["id"], call.query)),
    "hubspotUpdate": lambda api, call: (200, api._update(_of(call), call.path_params["id"],
                                                         shaped("HubSpotInput", call.body), call.now)),
    "hubspotArchive": _archived_one,
    "hubspotAssociations": lambda api, call: (200, api._associations_of(_of(call), call.path_params["id"],
                                                                        call.path_params["to_object_type"])),
    "hubspotSearch": lambda api, call: (200, api._search(_of(call), shaped("HubSpotSearch", call.body))),
    **{f"hubspotBatch{action.title()}": _batch(action) for action in BATCH_BODIES},
    "hubspotAssociateDefault": _associating(True),
    "hubspotDisassociate": _associating(False),
    "hubspotMerge": lambda api, call: (200, api._merge(_of(call), shaped("HubSpotMerge", call.body), call.now)),
    "hubspotGdprDelete": lambda api, call: api._gdpr_delete(shaped("HubSpotGdprDelete", call.body), call.now),
    **PORTAL_HANDLERS,
    **WEBHOOK_HANDLERS,
}


class HubSpotWire(WireApi):
    """HubSpot's CRM API as the HTTP layer drives it: JSON bodies, query parameters (a repeated one as a list),
    and errors in HubSpot's envelope with a correlation id."""

    handlers = HANDLERS

    def answer(self, account: Account, call: WireCall) -> WireAnswer:
        try:
            body = orjson.loads(call.body) if call.body.strip() else None
            query: dict[str, Any] = {}
            for key, value in call.query:  # `properties=a&properties=b` as a list
                held = query.get(key)
                query[key] = value if held is None else [*held, value] if isinstance(held, list) else [held, value]
            status, answer = self.handlers[call.operation](
                HubSpotApi(account, account.provider),  # type: ignore[arg-type]
                Call(dict(call.path_params), query, body, call.now))
        except HubSpotError as error:
            return _json(error.status, error.body(correlation_id(call.tag)))
        except (orjson.JSONDecodeError, ValueError) as error:
            return _json(400, HubSpotError(400, f"Invalid input JSON: {error}").body(correlation_id(call.tag)))
        return _json(status, answer)

    def refusal(self, status: int, message: str, why: Refusal, tag: str) -> WireAnswer:
        category = {Refusal.ROUTE: "NOT_FOUND", Refusal.METHOD: "METHOD_NOT_ALLOWED", Refusal.ACCOUNT: "OBJECT_NOT_FOUND",
                    Refusal.KEY: "INVALID_AUTHENTICATION", Refusal.BUG: "INTERNAL_ERROR", Refusal.BODY: "VALIDATION_ERROR",
                    }.get(why) or {401: "INVALID_AUTHENTICATION", 429: "RATE_LIMITS"}.get(status, "INTERNAL_ERROR")
        if why is Refusal.KEY:
            message = f"Authentication credentials not found. {message}"
        return _json(status, HubSpotError(status, message, category).body(correlation_id(tag)))


def _json(status: int, body: object) -> WireAnswer:
    return WireAnswer(status, None if body is None else orjson.dumps(body))
