"""The simulated upstream account behind each credential: found or generated on first use."""

from __future__ import annotations

import dataclasses
import random

from emulator.domain.errors import Invalid
from emulator.domain.inputs import UpstreamSettingsChanges, given
from emulator.domain.memory import collector_paused
from emulator.domain.models import Credential
from emulator.domain.tenant import Tenant
from emulator.domain.upstream import Account, AccountSettings
from emulator.providers import simulated

SIZE_FIELDS = ("records_per_collection", "history_days")


def find(tenant: Tenant, credential: Credential) -> Account | None:
    return tenant.accounts.get(credential.account_key)


def account_for(tenant: Tenant, credential: Credential, settings: UpstreamSettingsChanges | None = None) -> Account:
    """The credential's account, generated now (from the emulator seed and the account identity) if new."""
    key = credential.account_key
    account = tenant.accounts.get(key)
    if account is not None:
        return account
    provider = simulated(credential.provider)
    if provider is None:
        raise Invalid.field("credential_id", f"{credential.provider} accounts are not simulated; "
                                             "the emulator simulates stripe and hubspot")
    seed = f"{tenant.seed}:{key}"
    base = dataclasses.replace(tenant.account_defaults, **(given(settings) if settings else {}))
    account = tenant.accounts[key] = Account(provider, seed, base, rng=random.Random(seed))
    with collector_paused(freeze=True):
        provider.populate(account, tenant.now())
    account.schedule_next_change(tenant.now())
    return account


def configure(tenant: Tenant, credential: Credential, changes: UpstreamSettingsChanges) -> AccountSettings:
    """Apply control-plane settings. Size and history shape the account when it is generated, so they can only
    be set before; rates and faults apply at once."""
    account = find(tenant, credential)
    if account is None:
        return account_for(tenant, credential, changes).settings
    settings = given(changes)
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
