"""The simulated upstream account behind each credential: found or generated on first use."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

from sequin_emulator.domain.catalog import simulated, simulated_names
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.inputs import UpstreamSettingsChanges, given
from sequin_emulator.domain.memory import collector_paused
from sequin_emulator.domain.models import Credential
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.upstream import Account, AccountSettings

SIZE_FIELDS = ("records_per_collection", "history_days")
MOST_HISTORY = 900_000  # records per collection × history days that a client may ask an account to be made with


def find(tenant: Tenant, credential: Credential) -> Account | None:
    return tenant.accounts.get(credential.account_key)


def account_for(tenant: Tenant, credential: Credential, settings: UpstreamSettingsChanges | None = None) -> Account:
    """The credential's account, generated now (from the emulator seed and the account identity) if new."""
    account = tenant.accounts.get(credential.account_key)
    if account is not None:
        return account
    for _ in generating(tenant, credential, settings):
        pass
    return tenant.accounts[credential.account_key]


def generating(tenant: Tenant, credential: Credential,
               settings: UpstreamSettingsChanges | None = None) -> Iterator[None]:
    """Generate the credential's account in steps (a `yield` between slices, so the HTTP layer can answer other
    tenants meanwhile); the tenant gets the account once it is whole. Nothing to do if it exists."""
    key = credential.account_key
    if key in tenant.accounts:
        return
    provider = simulated(credential.provider)
    if provider is None:
        raise Invalid.field("credential_id", f"{credential.provider} accounts are not simulated; "
                                             f"the emulator simulates {simulated_names()}")
    seed = f"{tenant.seed}:{key}"
    base = dataclasses.replace(tenant.account_defaults, **(given(settings) if settings else {}))
    check_size(base.records_per_collection, base.history_days)
    account = Account(provider, seed, base, rng=random.Random(seed))
    now = tenant.now()
    with collector_paused(freeze=True):
        yield from provider.populating(account, now)
    account.schedule_next_change(now)
    tenant.accounts[key] = account


def check_size(records_per_collection: int, history_days: int, path: str = "") -> None:
    """Refuse a history larger than `MOST_HISTORY` object-days: it would take minutes and gigabytes to make (a
    year of monthly bills for each of 10,000 subscriptions is millions of objects)."""
    if records_per_collection * history_days > MOST_HISTORY:
        raise Invalid.field(f"{path}records_per_collection",
                            f"times history_days must be at most {MOST_HISTORY:,} (e.g. 10,000 records over 90 days); "
                            f"{records_per_collection:,} × {history_days:,} is more")


def configure(tenant: Tenant, credential: Credential, changes: UpstreamSettingsChanges) -> AccountSettings:
    """Apply control-plane settings. Size and history shape the account when it is generated, so they can only
    be set before; rates and faults apply at once."""
    account = find(tenant, credential)
    if account is None:
        return account_for(tenant, credential, changes).settings
    settings = given(changes)
    check_size(settings.get("records_per_collection", account.settings.records_per_collection),
               settings.get("history_days", account.settings.history_days))
    fixed = {f: ["is fixed once the account exists (set it before the first sync uses the credential)"]
             for f in SIZE_FIELDS if f in settings and settings[f] != getattr(account.settings, f)}
    if fixed:
        raise Invalid(fixed)
    rate_changed = "changes_per_hour" in settings and settings["changes_per_hour"] != account.settings.changes_per_hour
    for name, value in settings.items():
        setattr(account.settings, name, value)
    if rate_changed:
        account.schedule_next_change(tenant.now())
    return account.settings
