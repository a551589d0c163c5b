"""Syncs: one upstream account, a set of its collections, and the stream they are written to."""

from __future__ import annotations

from sequin_emulator.domain import credentials, engine, streams
from sequin_emulator.domain.catalog import collection_ids, default_rate_limit, provider_of_kind, simulated_names
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.inputs import NewSync, SyncChanges, given
from sequin_emulator.domain.models import RateLimit, Sync
from sequin_emulator.domain.tenant import Tenant

IMMUTABLE = ("provider", "stream_id", "credential_id")


def _check_collections(provider: str, wanted: list[str]) -> dict[str, list[str]]:
    offered = collection_ids(provider)
    return {f"collection_ids.{i}": [f"is not a collection of {provider}"
                                    + (f" (offered: {', '.join(offered)})" if offered else
                                       f"; the emulator simulates {simulated_names()}")]
            for i, cid in enumerate(wanted) if cid not in offered}


def create(tenant: Tenant, new: NewSync) -> Sync:
    errors: dict[str, list[str]] = {}
    if new.stream_id is not None and tenant.streams.find(new.stream_id) is None:
        errors["stream_id"] = ["is not a stream of this organization"]
    provider, implied = new.provider, None
    if (new.credential is None) == (new.credential_id is None):
        errors["credential_id"] = ["exactly one of credential and credential_id is required"]
    else:
        if new.credential is not None:
            implied = provider_of_kind(new.credential.kind)
        else:
            existing = tenant.credentials.find(str(new.credential_id))
            implied = existing.provider if existing else None
            if existing is None:
                errors["credential_id"] = ["is not a credential of this organization"]
        if implied is not None and provider is not None and provider != implied:
            errors["provider"] = [f"does not match the credential's provider ({implied})"]
        provider = provider or implied
    if provider is not None:
        errors.update(_check_collections(provider, new.collection_ids))
    if errors:
        raise Invalid(errors)
    assert provider is not None  # a credential, inline or found, implies it
    credential_id = new.credential_id
    if new.credential is not None:
        credential_id = credentials.import_(tenant, new.credential, prefix="credential.").id
    assert credential_id is not None
    stream_id = streams.stream_id_or_default(tenant, new.stream_id)
    now = tenant.now()
    sync = tenant.syncs.add(Sync(
        id=tenant.ids.next(), provider=provider, stream_id=stream_id, name=new.name, status=new.status,
        collection_ids=list(new.collection_ids),
        rate_limit=RateLimit(**new.rate_limit) if new.rate_limit is not None else default_rate_limit(provider),
        credential_id=credential_id, max_age_days=new.max_age_days, sync_frequency=new.sync_frequency,
        metadata=new.metadata, external_id=new.external_id, initial_backfill_completed_at=None,
        created_at=now, updated_at=now))
    engine.start(tenant, sync)
    return sync


def update(tenant: Tenant, sync_id: str, changes: SyncChanges) -> Sync:
    sync = tenant.syncs.get(sync_id)
    setting = given(changes)
    errors = {key: ["cannot be changed after the sync is created"]
              for key in IMMUTABLE if key in setting and setting[key] != getattr(sync, key)}
    if "credential" in setting:
        errors["credential"] = ["cannot be changed after the sync is created"]
    if "collection_ids" in setting:
        errors.update(_check_collections(sync.provider, setting["collection_ids"]))
    if errors:
        raise Invalid(errors)
    for key in ("name", "status", "sync_frequency", "metadata", "external_id", "max_age_days"):
        if key in setting:
            setattr(sync, key, setting[key])
    if "collection_ids" in setting:
        sync.collection_ids = list(setting["collection_ids"])
    if "rate_limit" in setting:
        sync.rate_limit = RateLimit(**setting["rate_limit"])
    sync.updated_at = tenant.now()
    engine.reconcile(tenant, sync)
    return sync


def delete(tenant: Tenant, sync_id: str) -> Sync:
    """Stop the sync (its run goes with it); the records it wrote stay in the stream."""
    return tenant.syncs.remove(sync_id)
