"""The provider plugin interface, and what the simulated providers share.

A provider knows its collections and their fields, how to fill a new account, how its objects change on
their own, and how it validates and applies writes (injections and mutations). Everything is deterministic
given the account's random generator.
"""

from __future__ import annotations

import base64
import functools
import random
from abc import ABC, abstractmethod

from emulator.domain.clock import MICROS
from emulator.domain.errors import Invalid, NotFound
from emulator.domain.upstream import Account, Change, UpstreamObject

DAY = 86400 * MICROS


class Pools:
    """Realistic values drawn once from Faker (seeded), then picked by each account's own generator: Faker is
    too slow to call per record, and one shared Faker would tie accounts' values to each other's order."""

    SIZE = 400

    @functools.cached_property
    def _faker(self):
        from faker import Faker  # imported on first use: it costs a quarter of a second

        faker = Faker("en_US")
        faker.seed_instance(20230816)
        return faker

    @functools.cached_property
    def first_names(self) -> list[str]:
        return [self._faker.first_name() for _ in range(self.SIZE)]

    @functools.cached_property
    def last_names(self) -> list[str]:
        return [self._faker.last_name() for _ in range(self.SIZE)]

    @functools.cached_property
    def companies(self) -> list[str]:
        return [self._faker.company() for _ in range(self.SIZE)]

    @functools.cached_property
    def domains(self) -> list[str]:
        return [self._faker.domain_name() for _ in range(self.SIZE)]

    @functools.cached_property
    def cities(self) -> list[tuple[str, str, str, str]]:
        return [(self._faker.city(), self._faker.state_abbr(), self._faker.postcode(), self._faker.street_address())
                for _ in range(self.SIZE)]

    @functools.cached_property
    def phones(self) -> list[str]:
        return [f"+1{self._faker.msisdn()[3:]}" for _ in range(self.SIZE)]

    @functools.cached_property
    def words(self) -> list[str]:
        return [self._faker.word() for _ in range(self.SIZE)]


POOLS = Pools()


_ALPHANUMERIC_ONLY = str.maketrans("+/", "Az")


def token(rng: random.Random, length: int) -> str:
    """`length` random letters and digits (base64 of random bytes, its two symbols swapped for letters)."""
    return base64.b64encode(rng.randbytes(length)).decode()[:length].translate(_ALPHANUMERIC_ONLY)


class Provider(ABC):
    name: str
    collections: tuple[str, ...]

    @abstractmethod
    def fields(self, collection: str) -> list[dict]:
        """`[{name, type, primary_key?}]` of a collection, for the Collections API."""

    @abstractmethod
    def populate(self, account: Account, now: int) -> None:
        """Fill a new account with its history: objects created over `history_days` before `now`."""

    @abstractmethod
    def random_change(self, account: Account, now: int) -> Change | None:
        """One change the upstream makes on its own (a new customer, an updated deal, a voided invoice...)."""

    @abstractmethod
    def check_data(self, collection: str, data: dict) -> None:
        """Raise Invalid, with the provider's own words, for data it would refuse to write."""

    def validate(self, account: Account, kind: str, collection: str, object_id: str | None, data: dict) -> None:
        """Raise Invalid or NotFound, as the provider would, for a write (`insert`, `update`, `delete`)."""
        self.check_collection(collection)
        if kind != "insert":
            self.existing(account, collection, object_id or "")
        if kind != "delete":
            self.check_data(collection, data)

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

    # shared helpers

    def existing(self, account: Account, collection: str, object_id: str) -> UpstreamObject:
        obj = account.get(collection, object_id)
        if obj is None or obj.deleted:
            raise NotFound(f"No {self.name} {collection} with id {object_id} in this account.")
        return obj

    def check_collection(self, collection: str, path: str = "collection_id") -> None:
        if collection not in self.collections:
            raise Invalid.field(path, f"is not a collection of {self.name}")

    @staticmethod
    def history_times(account: Account, count: int, now: int) -> list[int]:
        """`count` creation times spread over the account's history, oldest first."""
        span = account.settings.history_days * DAY
        start = now - span
        return sorted(start + int(account.rng.random() * span) for _ in range(count))

    @staticmethod
    def unknown_fields(data: dict, allowed, path: str = "data") -> dict[str, list[str]]:
        return {f"{path}.{key}": ["is not a field this provider accepts"] for key in data if key not in allowed}
