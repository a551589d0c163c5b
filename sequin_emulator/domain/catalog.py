"""What the emulator knows of each provider: credential kinds, upstream-account identity and default rate
limits; the collections come from the provider plugins.

Only Stripe and HubSpot are simulated; credentials and OAuth apps of the other providers are stored, but a
sync needs a provider with a plugin.
"""

from __future__ import annotations

from dataclasses import dataclass

from sequin_emulator.providers import simulated

SECRET_KEYS = frozenset({"secret", "secret_key", "access_token", "refresh_token", "password", "client_secret"})
MASK = "***********"


@dataclass(frozen=True)
class CredentialKind:
    provider: str
    identity: tuple[str, ...]  # properties naming the upstream account, most specific first


# Stripe's key may stand in any of these fields (the docs used all three): the same key is the same account.
STRIPE_KEY_FIELDS = ("secret", "secret_key", "access_token")
# Fields that name the same thing as another: the identity is spelt with the first name.
SYNONYMS = {field: STRIPE_KEY_FIELDS[0] for field in STRIPE_KEY_FIELDS}

CREDENTIAL_KINDS: dict[str, CredentialKind] = {
    "stripe_key": CredentialKind("stripe", STRIPE_KEY_FIELDS),
    "stripe_oauth2": CredentialKind("stripe", ("stripe_user_id", *STRIPE_KEY_FIELDS)),
    "hubspot": CredentialKind("hubspot", ("hub_id",)),
    "hubspot_oauth2": CredentialKind("hubspot", ("hub_id",)),
    "salesforce": CredentialKind("salesforce", ("instance_url",)),
    "salesforce_oauth2": CredentialKind("salesforce", ("instance_url",)),
    "airtable_oauth2": CredentialKind("airtable", ("airtable_uid",)),
    "github_app": CredentialKind("github", ("installation_id",)),
    "linear_oauth2": CredentialKind("linear", ("linear_org_id", "access_token")),
    "checkout_champ_password": CredentialKind("checkout_champ", ("login_id",)),
}

# Stripe: backfill 50 requests/s (sync-process/rate-limits); HubSpot: its OAuth-app limit of 100 per 10 s.
DEFAULT_RATE_LIMITS: dict[str, dict[str, int]] = {
    "stripe": {"allowed_requests": 50, "interval": 1, "max_concurrent_requests": 0},
    "hubspot": {"allowed_requests": 100, "interval": 10, "max_concurrent_requests": 0},
}



def provider_of_kind(kind: str) -> str:
    return CREDENTIAL_KINDS[kind].provider


def account_identity(properties: dict) -> tuple[str, str] | None:
    """(provider, account key) of the upstream account these credential properties open, if known."""
    kind = CREDENTIAL_KINDS[properties["kind"]]
    for field in kind.identity:
        if properties.get(field) is not None:
            return kind.provider, f"{SYNONYMS.get(field, field)}={properties[field]}"
    return None


def collection_ids(provider: str) -> tuple[str, ...]:
    """The collection ids a sync of `provider` may select: those of its simulated provider plugin, if any."""
    plugin = simulated(provider)
    return tuple(f"{provider}:{name}" for name in plugin.collections) if plugin else ()


def default_rate_limit(provider: str) -> dict[str, int]:
    return dict(DEFAULT_RATE_LIMITS[provider])  # syncs exist only for simulated providers


def masked(value):
    """A copy of `value` with every secret field masked, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if k in SECRET_KEYS and v is not None else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
