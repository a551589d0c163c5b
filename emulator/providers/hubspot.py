"""Simulated HubSpot portals: CRM v3 contacts, companies and deals.

Records use HubSpot's object envelope (`id`, `properties`, `createdAt`, `updatedAt`, `archived`, and
`archivedAt` once archived). Every property value is a string or null; `hs_object_id` equals `id`, `createdate`
equals `createdAt`, and the last-modified property (`lastmodifieddate` on contacts, `hs_lastmodifieddate`
elsewhere) always equals `updatedAt`. Deleting archives.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from emulator.domain.clock import MICROS
from emulator.domain.errors import Invalid
from emulator.domain.upstream import Account, Change, Provider, UpstreamObject
from emulator.providers.base import POOLS, history_times, unknown_fields

PROPERTIES = {
    "contact": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname", "phone",
                "company", "jobtitle", "city", "lifecyclestage"),
    "company": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name", "industry", "city",
                "numberofemployees", "phone"),
    "deal": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
             "pipeline"),
}
SYSTEM = {"createdate", "hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"}
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
          "contractsent", "closedwon", "closedlost")
INDUSTRIES = ("COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL", "MARKETING_AND_ADVERTISING")
JOBS = ("Engineer", "Account Executive", "Product Manager", "CFO", "Designer", "Support Lead")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def iso(micros: int) -> str:
    """HubSpot's timestamps: ISO 8601 with milliseconds and `Z`."""
    value = datetime.fromtimestamp(micros // MICROS, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{value}.{(micros % MICROS) // 1000:03d}Z"


def modified_property(collection: str) -> str:
    return "lastmodifieddate" if collection == "contact" else "hs_lastmodifieddate"


class HubSpot(Provider):
    name = "hubspot"
    collections = ("contact", "company", "deal")

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

    def _properties(self, account: Account, collection: str) -> dict:
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
        return {"amount": str(rng.choice([500, 1200, 5000, 25000])), "closedate": None,
                "dealname": f"{rng.choice(POOLS.companies)} - {rng.choice(['New', 'Renewal', 'Upsell'])}",
                "dealstage": rng.choice(STAGES[:5]), "pipeline": "default"}

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

    def populate(self, account: Account, now: int) -> None:
        for collection in self.collections:
            for created in history_times(account, account.settings.records_per_collection, now):
                obj = self._new(account, collection, created, self._properties(account, collection))
                account.order.setdefault(collection, []).append(obj.id)
                account.objects[(collection, obj.id)] = obj

    def random_change(self, account: Account, now: int) -> Change | None:
        rng = account.rng
        collection = rng.choice(self.collections)
        target = account.random_live(collection)
        roll = rng.random()
        if roll < 0.35 or target is None:
            return self._insert(account, collection, self._properties(account, collection), now)
        if roll < 0.9:
            fresh = self._properties(account, collection)
            key = rng.choice(sorted(fresh))
            return self._update(account, target, {key: fresh[key]}, now)
        return self._archive(account, target, now)

    def _insert(self, account: Account, collection: str, properties: dict, now: int) -> Change:
        return account.record(self._new(account, collection, now, properties), "insert", now)

    def _update(self, account: Account, obj: UpstreamObject, properties: dict, now: int) -> Change:
        obj.data["properties"].update(properties)
        self._stamp(obj, now)
        return account.record(obj, "update", now)

    def _archive(self, account: Account, obj: UpstreamObject, now: int) -> Change:
        obj.deleted = True
        self._stamp(obj, now)
        obj.data.update(archived=True, archivedAt=iso(now))
        return account.record(obj, "delete", now)

    def check_data(self, collection: str, data: dict) -> None:
        self._checked(collection, data)

    def _checked(self, collection: str, data: dict) -> dict:
        """The `properties` of a write, validated as HubSpot would (strings or null, known, no system ones)."""
        self.check_collection(collection)
        errors = unknown_fields(data, {"properties"})
        properties = data.get("properties", {})
        if not isinstance(properties, dict):
            errors["data.properties"] = ["must be an object"]
            properties = {}
        for key, value in properties.items():
            path = f"data.properties.{key}"
            if key not in PROPERTIES[collection] or key in SYSTEM:
                errors[path] = [f"Property \"{key}\" does not exist or is read-only"]
            elif value is not None and not isinstance(value, str):
                errors[path] = ["must be a string or null (HubSpot property values are strings)"]
        email = properties.get("email")
        if collection == "contact" and isinstance(email, str) and not EMAIL.match(email):
            errors["data.properties.email"] = ["Property values were not valid: invalid email address"]
        if errors:
            raise Invalid(errors, summary="HubSpot rejected the request: " + next(iter(errors.values()))[0] + ".")
        return properties

    def insert(self, account: Account, collection: str, data: dict, now: int) -> Change:
        properties = {**self._properties(account, collection), **self._checked(collection, data)}
        return self._insert(account, collection, properties, now)

    def update(self, account: Account, collection: str, object_id: str, data: dict, now: int) -> Change:
        self.validate(account, "update", collection, object_id, data)
        return self._update(account, self.existing(account, collection, object_id), self._checked(collection, data), now)

    def delete(self, account: Account, collection: str, object_id: str, now: int) -> Change:
        self.validate(account, "delete", collection, object_id, {})
        return self._archive(account, self.existing(account, collection, object_id), now)
