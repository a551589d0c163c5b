"""Simulated HubSpot portals: CRM v3 contacts, companies and deals, following HubSpot's own rules.

Records use HubSpot's object envelope (`id`, `properties`, `createdAt`, `updatedAt`, `archived`, and
`archivedAt` once archived), with `associations` in CRM v3's shape. Every property value is a string or null;
`hs_object_id` equals `id`, `createdate` equals `createdAt`, and the last-modified property (`lastmodifieddate` on
contacts, `hs_lastmodifieddate` elsewhere) always equals `updatedAt`. Deleting archives.

- Properties have HubSpot's definitions (`PROPERTY_TYPES`): numbers, date-times, enumerations with their options,
  read-only system properties; a write that breaks one is refused with HubSpot's message.
- A deal that reaches `closedwon` or `closedlost` gets its `closedate` (then, unless one was set).
- Associations are symmetric: a contact's companies list the contact, a deal's contacts and companies list the
  deal; archiving an object removes it from the associations of the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.upstream import Account, Change, Provider, UpstreamObject
from sequin_emulator.providers.base import POOLS, history_times, unknown_fields
from sequin_emulator.providers.hubspot.definitions import (
    CLOSED,
    EMAIL,
    INDUSTRIES,
    JOBS,
    LIFECYCLE,
    PLURAL,
    PROPERTIES,
    SINGULAR,
    STAGES,
    app_id,
    client_secret,
    iso,
    normalized,
    value_problem,
    writable,
)
from sequin_emulator.providers.hubspot.delivery import HubSpotWebhooks
from sequin_emulator.providers.hubspot.events import (
    API,
    OWN_LIFE,
    STAMPS,
    association_events,
    creation_events,
    deletion_event,
    merge_event,
    privacy_deletion_event,
    property_change_events,
    watched,
)

# which associations each object type carries, and HubSpot's name of each direction
ASSOCIATED = {"contact": ("companies", "deals"), "company": ("contacts", "deals"), "deal": ("contacts", "companies")}


def modified_property(collection: str) -> str:
    return "lastmodifieddate" if collection == "contact" else "hs_lastmodifieddate"


POPULATE_SLICE = 200  # objects made between two pauses of a generation


class Duplicate(Invalid):
    """A contact's email is another live contact's (HubSpot's 409 `CONFLICT`; the Mutation API's 400)."""

    def __init__(self, existing_id: str) -> None:
        super().__init__({"data.properties.email": [f"is the email of contact {existing_id}"]},
                         summary=f"HubSpot rejected the request: Contact already exists. Existing ID: {existing_id}")
        self.existing_id = existing_id


class HubSpot(Provider):
    name = "hubspot"
    collections = ("contact", "company", "deal")
    webhooks = HubSpotWebhooks()

    def app(self, account: Account) -> dict:
        return {"app_id": app_id(account.seed), "client_secret": client_secret(account.seed)}

    def fields(self, collection: str) -> list[dict]:
        envelope: list[dict] = [{"name": "id", "type": "text", "primary_key": True},
                                {"name": "createdAt", "type": "timestamp"}, {"name": "updatedAt", "type": "timestamp"},
                                {"name": "archived", "type": "boolean"}]
        return envelope + [{"name": prop, "accessor": f"properties.{prop}", "type": "text"}
                           for prop in PROPERTIES[collection]]

    def stored_object_problem(self, collection: str, object_id: str, data: dict) -> str | None:
        problem = super().stored_object_problem(collection, object_id, data)
        if problem is None and not isinstance(data.get("properties"), dict):
            return "its data has no `properties` object"
        return problem

    def upstream_times(self, obj: UpstreamObject) -> tuple[int, int]:
        """`createdAt` and `updatedAt`, to HubSpot's millisecond precision."""
        return obj.created // 1000 * 1000, obj.updated // 1000 * 1000

    def _next_id(self, account: Account) -> str:
        count = sum(len(ids) for ids in account.order.values())
        return str(account.rng.randint(1, 50) + 100 * (count + 1))

    def _properties(self, account: Account, collection: str, now: int) -> dict:
        rng = account.rng
        if collection == "contact":
            first, last = rng.choice(POOLS.first_names), rng.choice(POOLS.last_names)
            return {"email": f"{first}.{last}@{rng.choice(POOLS.domains)}".lower(), "firstname": first, "lastname": last,
                    "phone": rng.choice(POOLS.phones), "company": rng.choice(POOLS.companies),
                    "jobtitle": rng.choice(JOBS), "city": rng.choice(POOLS.cities)[0],
                    "lifecyclestage": rng.choice(LIFECYCLE)}
        if collection == "company":
            return {"domain": rng.choice(POOLS.domains), "name": rng.choice(POOLS.companies),
                    "industry": rng.choice(INDUSTRIES), "city": rng.choice(POOLS.cities)[0],
                    "numberofemployees": str(rng.choice([5, 12, 50, 250, 1200])), "phone": rng.choice(POOLS.phones)}
        stage = rng.choice(STAGES)
        deal = {"amount": str(rng.choice([500, 1200, 5000, 25000])), "closedate": None,
                "dealname": f"{rng.choice(POOLS.companies)} - {rng.choice(['New', 'Renewal', 'Upsell'])}",
                "dealstage": stage, "pipeline": "default"}
        _close(deal, now)
        return deal

    def _stamp(self, obj: UpstreamObject, now: int) -> None:
        """Keep the envelope and the system properties in step with the object's times."""
        obj.updated = now
        props = obj.data["properties"]
        props.update(hs_object_id=obj.id, createdate=iso(obj.created))
        props[modified_property(obj.collection)] = iso(now)
        obj.data.update(createdAt=iso(obj.created), updatedAt=iso(now))

    def _new(self, account: Account, collection: str, created: int, properties: dict) -> UpstreamObject:
        object_id = self._next_id(account)
        props = dict.fromkeys(PROPERTIES[collection])
        props.update(properties)
        obj = UpstreamObject(collection, object_id, created, created,
                             {"id": object_id, "properties": props, "createdAt": "", "updatedAt": "", "archived": False})
        self._stamp(obj, created)
        return obj

    def _save(self, account: Account, obj: UpstreamObject, kind: str, now: int, log: bool) -> Change | None:
        """Store an object's new state, its envelope and system properties stamped with the time."""
        self._stamp(obj, now)
        return account.record(obj, kind, now, logged=log)

    # ------------------------------------------------------------ associations

    @staticmethod
    def associations(obj: UpstreamObject, plural: str) -> list[dict]:
        return obj.data.get("associations", {}).get(plural, {}).get("results", [])

    def _link(self, obj: UpstreamObject, other: UpstreamObject, present: bool) -> None:
        """Add (or remove) `other` among `obj`'s associations, sorted by id, empty types left out."""
        associations = obj.data.setdefault("associations", {})
        plural = PLURAL[other.collection]
        results = [r for r in self.associations(obj, plural) if r["id"] != other.id]
        if present:
            results.append({"id": other.id, "type": f"{obj.collection}_to_{other.collection}"})
        if results:
            associations[plural] = {"results": sorted(results, key=lambda r: int(r["id"]))}
        else:
            associations.pop(plural, None)
        if not associations:
            del obj.data["associations"]

    def associate(self, account: Account, one: UpstreamObject, other: UpstreamObject, present: bool, now: int,
                  log: bool, source: str = OWN_LIFE) -> None:
        """Both directions at once; both objects change (one not stored yet is left to its creator to store)."""
        self._link(one, other, present)
        self._link(other, one, present)
        for obj in (one, other):
            if (obj.collection, obj.id) in account.objects:
                self._save(account, obj, "update", now, log)
        if log and watched(account):
            association_events(account, one, other, present, now, source)

    def _associated(self, account: Account, obj: UpstreamObject) -> list[UpstreamObject]:
        found = []
        for plural in ASSOCIATED[obj.collection]:
            for result in self.associations(obj, plural):
                other = account.get(SINGULAR[plural], result["id"])
                if other is not None:
                    found.append(other)
        return found

    # ------------------------------------------------------------ the portal's life

    def create(self, account: Account, collection: str, properties: dict, now: int,
               associated: Sequence[UpstreamObject] = (), log: bool = True,
               source: str = OWN_LIFE) -> UpstreamObject:
        """The one way an object comes to be (the history, the portal's own life, its API, mutations): the given
        properties (the others empty), HubSpot's deal rule, and its associations, kept on both sides."""
        obj = self._new(account, collection, now, properties)
        if collection == "deal":
            _close(obj.data["properties"], now)
        for other in associated:
            self._link(obj, other, True)
            self._link(other, obj, True)
        self._save(account, obj, "insert", now, log)
        for other in associated:
            self._save(account, other, "update", now, log)
        if log and watched(account):
            creation_events(account, obj, now, source)
            for other in associated:
                association_events(account, obj, other, True, now, source)
        return obj

    def _made_up(self, account: Account, collection: str, now: int, log: bool) -> UpstreamObject:
        """A new object as a portal's users make them: made-up properties, a contact with a company, a deal with a
        contact and that contact's company."""
        associated: list[UpstreamObject] = []
        if collection == "contact" and account.rng.random() < 0.8:
            company = _existing_at(account, "company", now)
            associated += [company] if company is not None else []
        elif collection == "deal":
            contact = _existing_at(account, "contact", now)
            if contact is not None:
                associated.append(contact)
                associated += [account.objects[("company", r["id"])] for r in self.associations(contact, "companies")[:1]]
        return self.create(account, collection, self._properties(account, collection, now), now, associated, log)

    def populating(self, account: Account, now: int) -> Iterator[None]:
        for collection in ("company", "contact", "deal"):  # what an object is associated with exists first
            times = history_times(account, account.settings.records_per_collection, now)
            for number, created in enumerate(times):
                self._made_up(account, collection, created, log=False)
                if number % POPULATE_SLICE == POPULATE_SLICE - 1:
                    yield

    def random_change(self, account: Account, now: int) -> Change | None:
        rng = account.rng
        collection = rng.choice(self.collections)
        target = account.random_live(collection)
        roll = rng.random()
        before = len(account.changes)
        if roll < 0.3 or target is None:
            self._made_up(account, collection, now, log=True)
        elif roll < 0.8:
            fresh = self._properties(account, collection, now)
            key = rng.choice(sorted(fresh))
            if collection == "deal" and rng.random() < 0.5:  # deals mostly move along the pipeline
                stage = target.data["properties"]["dealstage"]
                key, fresh[key] = "dealstage", STAGES[min(STAGES.index(stage) + 1, len(STAGES) - 1)] \
                    if stage not in CLOSED else stage
            self._update(account, target, {key: fresh[key]}, now)
        elif roll < 0.9 and collection == "contact":
            self._move(account, target, now)
        else:
            self._archive(account, target, now)
        return account.changes[len(account.changes) - 1] if len(account.changes) > before else None

    def _move(self, account: Account, contact: UpstreamObject, now: int) -> None:
        """The contact changes jobs: another company."""
        company = account.random_live("company")
        for result in self.associations(contact, "companies"):
            self.associate(account, contact, account.objects[("company", result["id"])], False, now, log=True)
        if company is not None:
            self.associate(account, contact, company, True, now, log=True)

    def _update(self, account: Account, obj: UpstreamObject, properties: dict, now: int,
                source: str = OWN_LIFE) -> Change:
        props = obj.data["properties"]
        before = dict(props) if watched(account) else None
        props.update(properties)
        if obj.collection == "deal":
            _close(props, now)
        change = self._save(account, obj, "update", now, log=True)
        assert change is not None
        if before is not None:
            property_change_events(account, obj, before, now, source)
        return change

    def _archive(self, account: Account, obj: UpstreamObject, now: int, source: str = OWN_LIFE) -> Change:
        for other in self._associated(account, obj):
            self._link(other, obj, False)
            self._save(account, other, "update", now, log=True)
        obj.deleted = True
        obj.data.update(archived=True, archivedAt=iso(now))
        change = self._save(account, obj, "delete", now, log=True)
        assert change is not None
        if watched(account):
            deletion_event(account, obj, now, source)
        return change

    def merge(self, account: Account, primary: UpstreamObject, merged: UpstreamObject, now: int) -> UpstreamObject:
        """HubSpot's merge: the primary keeps its values and takes the other's where it has none, takes its
        associations and lists it in `hs_merged_object_ids`; the other is archived."""
        props, theirs = primary.data["properties"], merged.data["properties"]
        before = dict(props) if watched(account) else None
        moved = [k for k, v in theirs.items() if k not in STAMPS and v not in (None, "") and props.get(k) in (None, "")]
        props.update({k: theirs[k] for k in moved})
        props["hs_merged_object_ids"] = ";".join([*filter(None, (props.get("hs_merged_object_ids") or "").split(";")),
                                                  merged.id])
        others = [o for o in self._associated(account, merged) if o.id != primary.id]
        self._archive(account, merged, now, API)
        for other in others:
            self.associate(account, primary, other, True, now, log=True, source=API)
        self._save(account, primary, "update", now, log=True)
        if before is not None:
            merge_event(account, primary, props["hs_merged_object_ids"].split(";"), len(moved), now, API)
            property_change_events(account, primary, before, now, API)
        return primary

    def erase(self, account: Account, contact: UpstreamObject, now: int) -> None:
        """HubSpot's GDPR delete: the contact's properties erased, archived, and gone even from archived reads."""
        props = contact.data["properties"]
        props.update({k: None for k in props if k not in STAMPS})
        if contact.deleted:
            self._save(account, contact, "delete", now, log=True)
        else:
            self._archive(account, contact, now, API)
        account.extras.setdefault("erased", []).append(contact.id)
        if watched(account):
            privacy_deletion_event(account, contact, now, API)

    # ------------------------------------------------------------ writes from outside (injections, mutations)

    def check_data(self, account: Account, collection: str, data: dict, object_id: str | None = None) -> None:
        self.checked_properties(account, collection, data, object_id)

    def checked_properties(self, account: Account, collection: str, data: dict,
                           object_id: str | None = None) -> dict:
        """The `properties` of a write (to `object_id`, or a new object), validated as HubSpot validates them:
        the portal's properties and their types, a contact's email unique; values normalized (dates to ISO 8601)."""
        self.check_collection(collection)
        errors = unknown_fields(data, {"properties"})
        properties = data.get("properties", {})
        if not isinstance(properties, dict):
            errors["data.properties"] = ["must be an object"]
            properties = {}
        kinds, checked = writable(account, collection), {}
        for key, value in properties.items():
            path = f"data.properties.{key}"
            if key not in kinds:
                errors[path] = [f"Property \"{key}\" does not exist or is read-only"]
            elif value is not None and not isinstance(value, str):
                errors[path] = ["must be a string or null (HubSpot property values are strings)"]
            elif (problem := value_problem(kinds[key], value)) is not None:
                errors[path] = [problem]
            else:
                checked[key] = normalized(kinds[key], value)
        email = properties.get("email")
        if collection == "contact" and isinstance(email, str) and not EMAIL.match(email):
            errors["data.properties.email"] = [f"{email} is not a valid email address."]
        if errors:
            raise Invalid(errors, summary="HubSpot rejected the request: Property values were not valid: "
                                          + next(iter(errors.values()))[0])
        if collection == "contact" and isinstance(email, str):
            taken = with_email(account, email, besides=object_id)
            if taken is not None:
                raise Duplicate(taken)
        return checked

    def insert(self, account: Account, collection: str, data: dict, now: int) -> Change:
        given = self.checked_properties(account, collection, data)
        properties = {**self._properties(account, collection, now), **given}
        if collection == "deal":
            properties["closedate"] = given.get("closedate")  # the made-up stage's date does not carry over
        self.create(account, collection, properties, now, source=API)
        return account.changes[len(account.changes) - 1]

    def update(self, account: Account, collection: str, object_id: str, data: dict, now: int) -> Change:
        self.validate(account, "update", collection, object_id, data)
        given = self.checked_properties(account, collection, data, object_id)
        return self._update(account, self.existing(account, collection, object_id), given, now, API)

    def delete(self, account: Account, collection: str, object_id: str, now: int) -> Change:
        self.validate(account, "delete", collection, object_id, {})
        return self._archive(account, self.existing(account, collection, object_id), now, API)


def with_email(account: Account, email: str, archived: bool = False, besides: str | None = None) -> str | None:
    """The id of a live (or archived) contact other than `besides` with this email, case-insensitively: emails are
    unique among live contacts (an erased one has none)."""
    wanted = email.lower()
    return next((c.id for c in (account.objects[("contact", i)] for i in account.order.get("contact", ()))
                 if c.deleted == archived and c.id != besides
                 and (c.data["properties"].get("email") or "").lower() == wanted), None)


def _existing_at(account: Account, collection: str, now: int) -> UpstreamObject | None:
    """A random live object that already existed at `now` (history is generated type by type, so a contact's
    company must not be one created after the contact): an association never predates either side."""
    for _ in range(8):
        obj = account.random_live(collection)
        if obj is None:
            return None
        if obj.created <= now:
            return obj
    return None


def _close(deal: dict, now: int) -> None:
    """HubSpot's rule: a deal closed (won or lost) without a close date gets one, then."""
    if deal["dealstage"] in CLOSED and deal["closedate"] is None:
        deal["closedate"] = iso(now)
