"""What a HubSpot portal is: its ids (the portal's is the credential's `hub_id`, its app's and owners' derive from its
seed), and its properties: the ones HubSpot defines for the object types the model keeps (their
names, types and enumeration options), the owners a record may name in `hubspot_owner_id`, the custom properties
the portal's users create (`Account.extras`, saved with the account), and how a value is checked against a
property's type, in HubSpot's words. The model validates every write with `writable(account, collection)`."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.upstream import Account
from sequin_emulator.providers.base import POOLS

PROPERTIES = {
    "contact": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname", "phone",
                "company", "jobtitle", "city", "lifecyclestage"),
    "company": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name", "industry", "city",
                "numberofemployees", "phone"),
    "deal": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
             "pipeline"),
}
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
          "contractsent", "closedwon", "closedlost")
INDUSTRIES = ("COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL", "MARKETING_AND_ADVERTISING")
JOBS = ("Engineer", "Account Executive", "Product Manager", "CFO", "Designer", "Support Lead")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CLOSED = ("closedwon", "closedlost")
# property → its type, HubSpot's way: "string", "number", "datetime", or the options of an enumeration
PROPERTY_TYPES: dict[str, dict[str, str | tuple[str, ...]]] = {
    "contact": {"email": "string", "firstname": "string", "lastname": "string", "phone": "string",
                "company": "string", "jobtitle": "string", "city": "string", "lifecyclestage": LIFECYCLE},
    "company": {"domain": "string", "name": "string", "industry": INDUSTRIES, "city": "string",
                "numberofemployees": "number", "phone": "string"},
    "deal": {"amount": "number", "closedate": "datetime", "dealname": "string", "dealstage": STAGES,
             "pipeline": ("default",)},
}
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
PLURAL = {"contact": "contacts", "company": "companies", "deal": "deals"}
SINGULAR = {plural: singular for singular, plural in PLURAL.items()}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HUB_ID = re.compile(r"hub_id=(\d{1,15})$")
Kind = str | tuple[str, ...]  # "string", "number", "date", "datetime", or the options of an enumeration
CUSTOM_TYPES: dict[str, Kind] = {"string": "string", "number": "number", "date": "date", "datetime": "datetime",
                                 "bool": ("true", "false")}  # a custom property's `type` → its values' rule
OWNERS = 4  # each portal's users who own records
OWNERS_SINCE = "2020-01-06T09:00:00.000Z"  # when they joined: before any history a portal is made with


def seeded(seed: str, purpose: str) -> int:
    """A 48-bit number derived from the portal's seed for one purpose: the same every time."""
    return int(hashlib.sha256(f"{seed}|{purpose}".encode()).hexdigest()[:12], 16)


def seeded_number(seed: str, purpose: str, low: int, span: int) -> int:
    return seeded(seed, purpose) % span + low


def portal_id(seed: str) -> int:
    found = HUB_ID.search(seed)
    return int(found.group(1)) if found else seeded_number(seed, "portal", 10_000_000, 90_000_000)


def app_id(seed: str) -> int:
    return seeded_number(seed, "app", 1_000_000, 9_000_000)


def client_secret(seed: str) -> str:
    """The app's OAuth client secret (UUID-shaped, as HubSpot's): what its webhook signatures are keyed with."""
    digest = hashlib.sha256(f"{seed}|client-secret".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def owners(seed: str) -> list[dict]:
    """The portal's owners (HubSpot's `PublicOwner`), made from its seed: the same every time."""
    found = []
    for number in range(OWNERS):
        digest = seeded(seed, f"owner|{number}")
        first = POOLS.first_names[digest % len(POOLS.first_names)]
        last = POOLS.last_names[digest // 7 % len(POOLS.last_names)]
        user = 1_000_000 + digest % 9_000_000
        found.append({"id": str(10_000_000 + digest % 90_000_000), "email": f"{first}.{last}@example.com".lower(),
                      "type": "PERSON", "firstName": first, "lastName": last, "userId": user,
                      "userIdIncludingInactive": user, "createdAt": OWNERS_SINCE, "updatedAt": OWNERS_SINCE,
                      "archived": False, "teams": []})
    return found


def custom(account: Account, collection: str) -> list[dict]:
    """The custom properties of a collection (HubSpot's `Property` objects), oldest first."""
    return account.extras.get("properties", {}).get(collection, [])


def kind_of(definition: dict) -> Kind:
    """How a custom property's values are checked: its type's rule, or its enumeration's options."""
    if definition["type"] == "enumeration":
        return tuple(option["value"] for option in definition.get("options", []))
    kind: Kind = CUSTOM_TYPES[definition["type"]]
    return kind


def writable(account: Account, collection: str) -> dict[str, Kind]:
    """Every property a write to the collection may set, with its kind: HubSpot's, the owner, the custom ones."""
    return {**PROPERTY_TYPES[collection], "hubspot_owner_id": tuple(o["id"] for o in owners(account.seed)),
            **{p["name"]: kind_of(p) for p in custom(account, collection)}}


def iso(micros: int) -> str:
    """HubSpot's timestamps: ISO 8601 with milliseconds and `Z`."""
    value = datetime.fromtimestamp(micros // MICROS, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{value}.{(micros % MICROS) // 1000:03d}Z"


def value_problem(kind: str | tuple[str, ...], value: str | None) -> str | None:
    """Why HubSpot refuses `value` for a property of this type, in its words."""
    if value is None or value == "":
        return None
    if isinstance(kind, tuple):
        return None if value in kind else f"{value} was not one of the allowed options: [{', '.join(kind)}]"
    if kind == "number":
        return None if NUMBER.match(value) else f"{value} was not a valid number."
    if kind == "date" and not (DATE.match(value) and parsed_datetime(value) is not None):
        return f"{value} was not a valid date: use YYYY-MM-DD."
    if kind == "datetime" and parsed_datetime(value) is None:
        return f"{value} was not a valid date: use ISO 8601 (2024-01-15 or 2024-01-15T09:30:00Z) or Unix milliseconds."
    return None


def parsed_datetime(value: str) -> int | None:
    """µs since the epoch of an ISO 8601 date or date-time, or of Unix milliseconds; None if it is neither."""
    try:
        if value.isascii() and value.isdigit():
            micros = int(value[:20]) * 1000
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            micros = int(moment.timestamp()) * MICROS + moment.microsecond
        iso(micros)  # a moment HubSpot can show (years 1 to 9999 in UTC), or None
    except (ValueError, OverflowError, OSError):
        return None
    return micros


def normalized(kind: Any, value: str | None) -> str | None:
    """Date-times are stored as HubSpot returns them (ISO 8601, milliseconds, `Z`); other values as given."""
    if kind == "datetime" and value:
        moment = parsed_datetime(value)
        return None if moment is None else iso(moment)
    return value
