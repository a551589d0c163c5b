"""What the simulated providers share: realistic value pools, random tokens and history times. The interface
they implement (`sequin_emulator.domain.upstream.Provider`) belongs to the domain that calls it."""

from __future__ import annotations

import base64
import functools
import random
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.upstream import Account

if TYPE_CHECKING:
    from faker import Faker

DAY_MICROS = 86400 * MICROS


class Pools:
    """Realistic values drawn once from Faker (seeded), then picked by each account's own generator: Faker is
    too slow to call per record, and one shared Faker would tie accounts' values to each other's order."""

    SIZE = 400

    @functools.cached_property
    def _faker(self) -> Faker:
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
        """(city, state, ZIP code, street): the 50 states and DC only, as `country: "US"` requires (Faker would
        mix in territories such as PR and GU, which are countries of their own in an address)."""
        return [(self._faker.city(), self._faker.state_abbr(include_territories=False,
                                                            include_freely_associated_states=False),
                 self._faker.postcode(), self._faker.street_address()) for _ in range(self.SIZE)]

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


def history_times(account: Account, count: int, now: int) -> list[int]:
    """`count` creation times spread over the account's history, oldest first."""
    span = account.settings.history_days * DAY_MICROS
    start = now - span
    return sorted(start + int(account.rng.random() * span) for _ in range(count))


def sendable_url(url: object) -> bool:
    """Whether a webhook endpoint's URL is one requests can be sent to: http(s), a host, no spaces or control
    characters (a NUL byte would fail every delivery)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c <= " " or c == "\x7f" for c in url)


def unknown_fields(data: dict, allowed: Collection[str], path: str = "data") -> dict[str, list[str]]:
    return {f"{path}.{key}": ["is not a field this provider accepts"] for key in data if key not in allowed}
