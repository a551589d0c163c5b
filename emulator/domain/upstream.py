"""Simulated upstream accounts: the third-party system behind a credential (a Stripe account, a HubSpot portal).

An account holds the current state of its objects and a change log (like Stripe's events), which syncs read
to detect inserts, updates and deletes. It is generated deterministically from (emulator seed, credential
identity); its settings (size, history span, change rate) and faults are set through the control plane.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import orjson

from emulator.domain.clock import MICROS

if TYPE_CHECKING:
    from emulator.providers.base import Provider

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
    kind: str  # created | updated | deleted
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
    next_change_at: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    def get(self, collection: str, object_id: str) -> UpstreamObject | None:
        return self.objects.get((collection, object_id))

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

    def record(self, obj: UpstreamObject, kind: str, time: int) -> Change:
        """Store `obj`'s new state and log the change."""
        key = (obj.collection, obj.id)
        if key not in self.objects:
            self.order.setdefault(obj.collection, []).append(obj.id)
        obj.updated = time
        self.objects[key] = obj
        snapshot = UpstreamObject(obj.collection, obj.id, obj.created, obj.updated, orjson.loads(orjson.dumps(obj.data)),
                                  obj.deleted)
        change = Change(time, obj.collection, obj.id, kind, snapshot)
        self.changes.append(change)
        return change

    def schedule_next_change(self, after: int) -> None:
        rate = self.settings.changes_per_hour
        self.next_change_at = None if rate <= 0 else after + max(1, int(self.rng.expovariate(rate) * HOUR))
