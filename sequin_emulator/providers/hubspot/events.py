"""A HubSpot portal's webhook events, as the model's changes make them: `contact.creation` (and a
`contact.propertyChange` for each property the creation set), `*.propertyChange` for each property an update
changed, `*.deletion` on archiving, `*.associationChange` for each side of an association made or removed.

HubSpot keeps no event log a client can read; events are only made while the portal's app has a target URL
(`Account.webhook_endpoints`), so a portal without webhooks pays nothing.
"""

from __future__ import annotations

import orjson

from sequin_emulator.domain import provider_webhooks
from sequin_emulator.domain.provider_events import ProviderEvent
from sequin_emulator.domain.upstream import Account, UpstreamObject
from sequin_emulator.providers.hubspot.definitions import portal_id, seeded_number

STAMPS = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})  # not events
OWN_LIFE = "CRM_UI"  # `changeSource` of what the portal's users do
API = "API"  # of writes through its API (and Sequin's mutations)


def watched(account: Account) -> bool:
    """Whether the portal's app is sent events now (else none are made)."""
    return any(provider_webhooks.sending(e) for e in account.webhook_endpoints.values())


def _emit(account: Account, obj: UpstreamObject, kind: str, now: int, source: str, **fields: object) -> None:
    events = account.events
    position = events.base + len(events.kept)
    event_id = seeded_number(account.seed, f"event|{position}", 1, 2**48)
    subscription_type = f"{obj.collection}.{kind}"
    payload = {"eventId": event_id, "portalId": portal_id(account.seed), "occurredAt": now // 1000,
               "subscriptionType": subscription_type, "objectId": int(obj.id), **fields, "changeSource": source}
    if source == OWN_LIFE:
        payload["sourceId"] = f"userId:{seeded_number(account.seed, 'user', 1_000_000, 9_000_000)}"
    events.append(ProviderEvent(str(event_id), now, subscription_type, orjson.dumps(payload)))


def _property_changes(account: Account, obj: UpstreamObject, before: dict, now: int, source: str) -> None:
    for name, value in obj.data["properties"].items():
        if name not in STAMPS and value != before.get(name):
            _emit(account, obj, "propertyChange", now, source, propertyName=name,
                  propertyValue="" if value is None else value)


def creation_events(account: Account, obj: UpstreamObject, now: int, source: str) -> None:
    _emit(account, obj, "creation", now, source, changeFlag="CREATED")
    _property_changes(account, obj, {}, now, source)


def property_change_events(account: Account, obj: UpstreamObject, before: dict, now: int, source: str) -> None:
    """Events for the properties that differ from `before` (the properties as they were)."""
    _property_changes(account, obj, before, now, source)


def deletion_event(account: Account, obj: UpstreamObject, now: int, source: str) -> None:
    _emit(account, obj, "deletion", now, source, changeFlag="DELETED")


def association_events(account: Account, one: UpstreamObject, other: UpstreamObject, present: bool, now: int,
               source: str) -> None:
    """`associationChange` for each side, as HubSpot sends one per object."""
    for a, b in ((one, other), (other, one)):
        _emit(account, a, "associationChange", now, source,
              associationType=f"{a.collection.upper()}_TO_{b.collection.upper()}", fromObjectId=int(a.id),
              toObjectId=int(b.id), associationRemoved=not present, isPrimaryAssociation=False)


def merge_event(account: Account, primary: UpstreamObject, merged: list[str], moved: int, now: int,
                source: str) -> None:
    _emit(account, primary, "merge", now, source, primaryObjectId=int(primary.id),
          mergedObjectIds=[int(i) for i in merged], newObjectId=int(primary.id), numberOfPropertiesMoved=moved)


def privacy_deletion_event(account: Account, contact: UpstreamObject, now: int, source: str) -> None:
    _emit(account, contact, "privacyDeletion", now, source)
