"""What the emulator knows of each provider, in one place: the registered provider plugins (simulated: their
models, credential kinds, display names, default rate limits, collections) and the credential kinds of providers
that are stored but not simulated (credentials and OAuth apps of those work; a sync needs a plugin). No other
domain module looks at the providers.
"""

from __future__ import annotations

from typing import Any

from sequin_emulator.domain.models import RateLimit
from sequin_emulator.domain.plugins import CollectionId, CredentialKind, ProviderPlugin
from sequin_emulator.domain.upstream import Provider
from sequin_emulator.providers import PLUGINS

SECRET_KEYS = frozenset({"secret", "secret_key", "access_token", "refresh_token", "password", "client_secret"})
MASK = "***********"


def _number(seed: str) -> int:
    return int(seed[:12], 16)


STORED_ONLY = (
    CredentialKind("salesforce", "salesforce", ("instance_url",)),
    CredentialKind("salesforce_oauth2", "salesforce", ("instance_url",), issued=lambda seed: {
        "instance_url": f"https://org-{seed[:10]}.my.salesforce.com/", "refresh_token": f"sf-{seed}"}),
    CredentialKind("airtable_oauth2", "airtable", ("airtable_uid",), issued=lambda seed: {
        "airtable_uid": f"usr{seed[:14]}", "refresh_token": f"at-{seed}", "scope": "data.records:read"}),
    CredentialKind("github_app", "github", ("installation_id",), issued=lambda seed: {
        "installation_id": _number(seed) % 90_000_000 + 1, "account_type": "Organization",
        "account_login": f"org-{seed[:8]}"}),
    CredentialKind("linear_oauth2", "linear", ("linear_org_id", "access_token"), issued=lambda seed: {
        "access_token": f"lin_oauth_{seed}", "scope": "read", "linear_org_id": seed[:12],
        "linear_org_name": f"Org {seed[:6]}"}),
    CredentialKind("checkout_champ_password", "checkout_champ", ("login_id",)),
)
PLUGIN_OF: dict[str, ProviderPlugin] = {plugin.name: plugin for plugin in PLUGINS}
CREDENTIAL_KINDS: dict[str, CredentialKind] = {
    kind.name: kind for kind in (*(k for p in PLUGINS for k in p.credential_kinds), *STORED_ONLY)}


def plugin(provider: str) -> ProviderPlugin | None:
    return PLUGIN_OF.get(provider)


def simulated(provider: str) -> Provider | None:
    """The model of a simulated provider, or None for one the emulator only stores credentials of."""
    found = PLUGIN_OF.get(provider)
    return found.model if found is not None else None


def simulated_names() -> str:
    """The simulated providers, for messages: `stripe and hubspot`."""
    names = list(PLUGIN_OF)
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def display_name(provider: str) -> str:
    found = PLUGIN_OF.get(provider)
    return found.display_name if found is not None else provider


def provider_of_kind(kind: str) -> str:
    return CREDENTIAL_KINDS[kind].provider


def oauth_kinds(provider: str) -> list[str]:
    """The credential kinds a provider's OAuth consent can produce (the others are imported, never issued)."""
    return [k.name for k in CREDENTIAL_KINDS.values() if k.provider == provider and k.issued is not None]


def issued_properties(kind: str, seed: str) -> dict:
    """The credential properties a provider would issue on consent, derived from the code (hex digits)."""
    issued = CREDENTIAL_KINDS[kind].issued
    assert issued is not None, kind  # only OAuth kinds are issued
    return {"kind": kind, **issued(seed)}


def account_identity(properties: dict) -> tuple[str, str] | None:
    """(provider, account key) of the upstream account these credential properties open, if known."""
    kind = CREDENTIAL_KINDS[properties["kind"]]
    for field in kind.identity:
        if properties.get(field) is not None:
            return kind.provider, f"{kind.same_as.get(field, field)}={properties[field]}"
    return None


def collection_ids(provider: str) -> tuple[str, ...]:
    """The collection ids a sync of `provider` may select: those of its simulated provider plugin, if any."""
    found = PLUGIN_OF.get(provider)
    return tuple(str(CollectionId(provider, name)) for name in found.collections) if found else ()


def default_rate_limit(provider: str) -> RateLimit:
    return PLUGIN_OF[provider].rate_limit  # syncs exist only for simulated providers


FOUR_HOURS = 4 * 3600 * 1_000_000


def poll_every(provider: str, sync_frequency: str) -> int:
    """µs between a sync's polls for changes: its provider's cadence when `continuous`, else 4 hours."""
    return PLUGIN_OF[provider].continuous_poll if sync_frequency == "continuous" else FOUR_HOURS


def masked(value: Any) -> Any:
    """A copy of `value` with every secret field masked, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if k in SECRET_KEYS and v is not None else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
