"""What a provider plugin tells the emulator about itself, in one frozen record: the domain asks the catalogue for
these records and never looks inside a provider's folder.

A provider is a folder under `sequin_emulator/providers/` that exports one `ProviderPlugin` and has one line in the
registry (`sequin_emulator.providers.PLUGINS`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sequin_emulator.domain.models import RateLimit
from sequin_emulator.domain.upstream import Provider


@dataclass(frozen=True)
class CollectionId:
    """Sequin's name of a collection, `provider:collection` (`stripe:customer`): built and read here only."""

    provider: str
    name: str

    @classmethod
    def parse(cls, text: str) -> CollectionId:
        provider, _, name = text.partition(":")
        return cls(provider, name)

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


@dataclass(frozen=True)
class CredentialKind:
    """A kind of credential (`stripe_key`, `hubspot_oauth2`, ...): the properties naming the upstream account it
    opens, most specific first. Fields in `same_as` hold the same thing as another field and are spelt with its
    name in the identity (a Stripe key is the same account whichever field holds it). An OAuth kind has `issued`:
    the properties the provider's consent gives, derived from the code (hex digits)."""

    name: str
    provider: str
    identity: tuple[str, ...]
    same_as: Mapping[str, str] = field(default_factory=dict)
    issued: Callable[[str], dict] | None = None


@dataclass(frozen=True)
class ProviderPlugin:
    """One provider, simulated: its model (the domain's `Provider` interface), how Sequin names and paces it, how
    its credentials are told apart, and its own wire API (served by the HTTP layer; the domain never calls it).
    `key_fields`: where a credential keeps the key the provider's API takes, the first one present wins.
    `rate_limit` is a new sync's default; `continuous_poll` how often a `continuous` sync polls for changes (µs;
    a `4h` sync polls every 4 hours, whatever the provider)."""

    name: str
    display_name: str
    model: Provider
    credential_kinds: tuple[CredentialKind, ...]
    rate_limit: RateLimit
    continuous_poll: int = 2_000_000
    key_fields: tuple[str, ...] = ()
    wire: object | None = None  # a `sequin_emulator.providers.wire.WireApi`, typed loosely: no HTTP in the domain
    api_hosts: tuple[str, ...] = ()  # where the real provider's API answers (`sequin_emulator.mock` takes them over)
    sign_webhook: Callable[[str, str, bytes, int], dict[str, str]] | None = None  # (secret, url, body, unix ms)
    # → the headers of a webhook request, signed the provider's way

    @property
    def collections(self) -> tuple[str, ...]:
        return tuple(self.model.collections)

    def key_of(self, properties: Mapping[str, object]) -> str | None:
        """The key a credential with these properties presents to the provider's API."""
        return next((str(properties[f]) for f in self.key_fields if properties.get(f)), None)
