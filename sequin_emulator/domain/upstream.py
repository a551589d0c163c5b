"""Simulated upstream accounts: the third-party system behind a credential (a Stripe account, a HubSpot portal).

An account holds the current state of its objects and a change log (like Stripe's events), which syncs read
to detect inserts, updates and deletes. It is generated deterministically from (emulator seed, credential
identity); its settings (size, history span, change rate) and faults are set through the control plane.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, overload

import orjson

from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.deferred import Deferred
from sequin_emulator.domain.errors import Invalid, NotFound
from sequin_emulator.domain.provider_events import Endpoint, ProviderEvent, ProviderEvents, WebhookStyle
from sequin_emulator.domain.randomness import rng_from_state, rng_state

HOUR = 3600 * MICROS


@dataclass
class AccountSettings:
    records_per_collection: int = 20
    history_days: int = 90
    changes_per_hour: float = 600.0
    outage: bool = False  # every request fails
    error_rate: float = 0.0  # this share of requests fails
    revoked: bool = False  # the credential is refused (401s)
    throttle: bool = False  # requests are answered with 429s, so progress slows down

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def faulty(self) -> bool:
        """Some or all requests fail: a sync keeps trying at its back-off pace, even when nothing changes."""
        return self.outage or self.revoked or self.error_rate > 0


@dataclass
class UpstreamObject:
    collection: str  # e.g. "customer"
    id: str
    created: int  # µs
    updated: int  # µs, the time of the change that produced this state
    data: dict
    deleted: bool = False  # gone upstream (Stripe delete stub, HubSpot archive)


@dataclass
class Change:
    time: int
    collection: str
    id: str
    kind: str  # insert | update | delete
    snapshot: UpstreamObject
    written_by: str | None = None  # a sync that already wrote this change (a mutation), so it skips it


class ChangeLog:
    """An account's changes, oldest first, at absolute positions that never move: syncs read it with a cursor.
    What every reader has read is dropped (`forget_before`), so a long-running account does not grow without
    end; `base` is how many were dropped."""

    def __init__(self, changes: list[Change] | None = None, base: int = 0) -> None:
        self.kept: list[Change] = changes or []
        self.base = base

    def __len__(self) -> int:
        return self.base + len(self.kept)

    def __getitem__(self, position: int) -> Change:
        if position < self.base:
            raise IndexError(f"change {position} was read by every sync and forgotten")
        return self.kept[position - self.base]

    def append(self, change: Change) -> None:
        self.kept.append(change)

    def forget_before(self, position: int) -> None:
        if position > self.base:
            del self.kept[:position - self.base]
            self.base = position


@dataclass
class Account:
    provider: Provider
    seed: str
    settings: AccountSettings
    objects: dict[tuple[str, str], UpstreamObject] = field(default_factory=dict)
    order: dict[str, list[str]] = field(default_factory=dict)  # collection → ids, in creation order
    changes: ChangeLog = field(default_factory=ChangeLog)
    next_change_at: int | None = None  # the next change the account makes on its own (at `changes_per_hour`)
    rng: random.Random = field(default_factory=random.Random)
    quiet_until: int | None = None  # an advance capped its steps: nothing more happens up to this time
    agenda: list[tuple[int, str, str]] | None = None  # the provider's due times (a heap), rebuilt from objects
    events: ProviderEvents = field(default_factory=ProviderEvents)  # the provider's own events (Stripe's; HubSpot's
    # webhook events, while its app has a target)
    webhook_endpoints: dict[str, Endpoint] = field(default_factory=dict)  # where its events are sent, by id
    extras: dict[str, Any] = field(default_factory=dict)  # the provider's own state beyond its objects (saved):
    # HubSpot's custom properties and groups, Stripe's payment methods
    api_state: dict[str, Any] = field(default_factory=dict)  # what its wire API keeps between requests (not saved)

    def next_step_at(self) -> int | None:
        """When the account next does anything: a change of its own, or something falling due (a renewal)."""
        due = self.provider.next_due(self)
        times = [t for t in (self.next_change_at, due) if t is not None]
        if not times:
            return None
        at = min(times)
        return self.quiet_until + 1 if self.quiet_until is not None and at <= self.quiet_until else at

    def get(self, collection: str, object_id: str) -> UpstreamObject | None:
        return self.objects.get((collection, object_id))

    def fault(self, draw: str) -> str | None:
        """The account's fault for one request to its API (`draw` decides an `error_rate` failure, the same way
        for the same draw): `revoked`, `outage`, `throttle` or `error`, or None when it is answered."""
        settings = self.settings
        if settings.revoked:
            return "revoked"
        if settings.outage:
            return "outage"
        if settings.throttle:
            return "throttle"
        if settings.error_rate and random.Random(f"{self.seed}|{draw}").random() < settings.error_rate:
            return "error"
        return None

    def random_live(self, collection: str) -> UpstreamObject | None:
        """A random object that still exists, without listing them all (accounts grow large)."""
        ids = self.order.get(collection)
        if not ids:
            return None
        for _ in range(8):
            obj = self.objects[(collection, self.rng.choice(ids))]
            if not obj.deleted:
                return obj
        live = self.live(collection)
        return self.rng.choice(live) if live else None

    def live(self, collection: str) -> list[UpstreamObject]:
        return [o for o in (self.objects[(collection, i)] for i in self.order.get(collection, ())) if not o.deleted]

    @overload
    def record(self, obj: UpstreamObject, kind: str, time: int, *, event: str | None = None) -> Change: ...

    @overload
    def record(self, obj: UpstreamObject, kind: str, time: int, logged: bool,
               event: str | None = None) -> Change | None: ...

    def record(self, obj: UpstreamObject, kind: str, time: int, logged: bool = True,
               event: str | None = None) -> Change | None:
        """The one way an object's new state is stored: as a change syncs will see (`logged`, the account's life
        and writes from outside), or not (the history a new account is made with, before anyone watched).
        `event` names the provider's event for it when its kind alone does not (Stripe's `charge.refunded`)."""
        key = (obj.collection, obj.id)
        if key not in self.objects:
            self.order.setdefault(obj.collection, []).append(obj.id)
        obj.updated = time
        self.objects[key] = obj
        if not logged:
            return None
        snapshot = UpstreamObject(obj.collection, obj.id, obj.created, obj.updated, orjson.loads(orjson.dumps(obj.data)),
                                  obj.deleted)
        change = Change(time, obj.collection, obj.id, kind, snapshot)
        self.changes.append(change)
        made = self.provider.event_of(self, change, len(self.changes) - 1, event)
        if made is not None:
            self.events.append(made)
        return change

    def schedule_next_change(self, after: int) -> None:
        rate = self.settings.changes_per_hour
        self.next_change_at = None if rate <= 0 else after + max(1, int(self.rng.expovariate(rate) * HOUR))

    def to_json(self) -> dict:
        return {"provider": self.provider.name, "seed": self.seed, "settings": self.settings.as_dict(),
                "objects": Deferred(list(self.objects.values()), _object_json),
                "order": self.order, "changes_base": self.changes.base,
                "changes": Deferred(list(self.changes.kept), _change_json),
                "next_change_at": self.next_change_at, "quiet_until": self.quiet_until, "rng": rng_state(self.rng),
                "events": self.events.to_json(), "extras": self.extras,
                "webhook_endpoints": [endpoint.to_json() for endpoint in self.webhook_endpoints.values()]}

    @classmethod
    def from_json(cls, saved: dict, provider: Provider) -> Account:
        account = cls(provider, saved["seed"], AccountSettings(**saved["settings"]), order=saved["order"],
                      next_change_at=saved["next_change_at"], quiet_until=saved["quiet_until"],
                      rng=rng_from_state(saved["rng"]), extras=saved.get("extras") or {})
        account.objects = {(o["collection"], o["id"]): UpstreamObject(**o) for o in saved["objects"]}
        account.changes = ChangeLog([Change(**{**c, "snapshot": UpstreamObject(**c["snapshot"])})
                                     for c in saved["changes"]], base=saved["changes_base"])
        if "events" in saved:
            account.events = ProviderEvents.from_json(saved["events"])
        end = account.events.base + len(account.events.kept)
        account.webhook_endpoints = {e["data"]["id"]: Endpoint.from_json(e, account.events.base, end)
                                     for e in saved.get("webhook_endpoints", [])}
        return account


def _change_json(change: Change) -> dict:
    return {"time": change.time, "collection": change.collection, "id": change.id, "kind": change.kind,
            "snapshot": _object_json(change.snapshot), "written_by": change.written_by}


def _object_json(obj: UpstreamObject) -> dict:
    """An object for a snapshot: its data by reference, not copied (dataclasses.asdict deep-copies every value,
    which made exporting a large account take seconds); the caller encodes it at once."""
    return {"collection": obj.collection, "id": obj.id, "created": obj.created, "updated": obj.updated,
            "data": obj.data, "deleted": obj.deleted}


class Provider(ABC):
    """The plugin interface of a simulated provider, as the domain calls it: its collections and their fields,
    how to fill a new account, how its objects change on their own, and how it validates and applies writes
    (injections and mutations). Everything is deterministic given the account's random generator."""

    name: str
    collections: tuple[str, ...]
    webhooks: WebhookStyle | None = None  # how it sends its events to webhook endpoints, if it does

    @abstractmethod
    def fields(self, collection: str) -> list[dict]:
        """`[{name, type, primary_key?}]` of a collection, for the Collections API."""

    @abstractmethod
    def populating(self, account: Account, now: int) -> Iterator[None]:
        """Fill a new account with its history (objects created over `history_days` before `now`), pausing now and
        then (a `yield`), so that a large account can be made in slices between other clients' requests."""

    def populate(self, account: Account, now: int) -> None:
        """Fill a new account with its history, at once."""
        for _ in self.populating(account, now):
            pass

    @abstractmethod
    def random_change(self, account: Account, now: int) -> Change | None:
        """One change the upstream makes on its own (a new customer, an updated deal, a voided invoice...)."""

    def event_of(self, account: Account, change: Change, position: int,
                 event: str | None = None) -> ProviderEvent | None:
        """The provider's own event for a change at `position` of the change log (of type `event` when given), if
        it keeps events."""
        return None

    def app(self, account: Account) -> dict | None:
        """The provider's developer app the account's webhooks belong to (`{app_id, client_secret}`), if it has
        one: HubSpot's, whose client secret signs what it sends."""
        return None

    def next_due(self, account: Account) -> int | None:
        """When something next falls due in the account by the provider's own rules (a subscription renews, a
        failed payment is retried), if anything does."""
        return None

    def run_due(self, account: Account, now: int) -> None:
        """Do what has fallen due by `now`, each as changes at `now` (by default nothing ever falls due)."""
        return None

    def step(self, account: Account, now: int) -> None:
        """The account's step at `now`: what fell due, then a change of its own if one is due."""
        self.run_due(account, now)
        if account.next_change_at is not None and account.next_change_at <= now:
            self.random_change(account, now)
            account.schedule_next_change(now)

    @abstractmethod
    def check_data(self, account: Account, collection: str, data: dict, object_id: str | None = None) -> None:
        """Raise Invalid, with the provider's own words, for data the account would refuse to write (to the object
        `object_id`, or a new one)."""

    def validate(self, account: Account, kind: str, collection: str, object_id: str | None, data: dict) -> None:
        """Raise Invalid or NotFound, as the provider would, for a write (`insert`, `update`, `delete`)."""
        self.check_collection(collection)
        if kind != "insert":
            self.existing(account, collection, object_id or "")
        if kind != "delete":
            self.check_data(account, collection, data, object_id)

    @abstractmethod
    def insert(self, account: Account, collection: str, data: dict, now: int) -> Change:
        """Create an object from (partial) `data`, validated the way the provider would."""

    @abstractmethod
    def update(self, account: Account, collection: str, object_id: str, data: dict, now: int) -> Change:
        """Change an object's fields, validated the way the provider would."""

    @abstractmethod
    def delete(self, account: Account, collection: str, object_id: str, now: int) -> Change:
        """Delete (or cancel, void, archive: whatever the provider does) an object."""

    @abstractmethod
    def upstream_times(self, obj: UpstreamObject) -> tuple[int, int]:
        """(upstream_created_at, upstream_updated_at) of an object's current version, in µs."""

    def stored_object_problem(self, collection: str, object_id: str, data: dict) -> str | None:
        """Why an object read back from a snapshot could not be one of this provider's, if it could not: the
        fields the simulation relies on. (What it does with them is checked when it writes.)"""
        if collection not in self.collections:
            return f"is of no collection of {self.name} ({collection})"
        if data.get("id") != object_id:
            return "its data.id is not its id"
        return None

    def existing(self, account: Account, collection: str, object_id: str) -> UpstreamObject:
        obj = account.get(collection, object_id)
        if obj is None or obj.deleted:
            raise NotFound(f"No {self.name} {collection} with id {object_id} in this account.")
        return obj

    def check_collection(self, collection: str, path: str = "collection_id") -> None:
        if collection not in self.collections:
            raise Invalid.field(path, f"is not a collection of {self.name}")
