"""Syncs: one upstream account, a set of its collections, and the stream they are written to."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.domain import credentials, engine, streams
from emulator.domain.catalog import collection_ids, default_rate_limit, provider_of_kind
from emulator.domain.errors import Invalid
from emulator.domain.tenant import Tenant

IMMUTABLE = ("provider", "stream_id", "credential_id")


@dataclass
class Sync:
    id: str
    provider: str
    stream_id: str
    name: str
    status: str
    collection_ids: list[str]
    rate_limit: dict
    credential_id: str
    max_age_days: int | None
    sync_frequency: str
    metadata: dict
    external_id: str | None
    initial_backfill_completed_at: int | None
    created_at: int
    updated_at: int


def _rate_limit(body: dict) -> dict:
    return {"max_concurrent_requests": 0, **{k: int(v) for k, v in body.items()}}


def _check_collections(provider: str, wanted: list[str]) -> dict[str, list[str]]:
    offered = collection_ids(provider)
    return {f"collection_ids.{i}": [f"is not a collection of {provider}"
                                    + (f" (offered: {', '.join(offered)})" if offered else
                                       "; the emulator simulates stripe and hubspot")]
            for i, cid in enumerate(wanted) if cid not in offered}


def create(tenant: Tenant, body: dict) -> Sync:
    errors: dict[str, list[str]] = {}
    if "stream_id" in body and tenant.streams.find(body["stream_id"]) is None:
        errors["stream_id"] = ["is not a stream of this organization"]
    inline, credential_id = body.get("credential"), body.get("credential_id")
    inline = credentials.nested(inline) if inline is not None else None
    provider = body.get("provider")
    implied: str | None
    if (inline is None) == (credential_id is None):
        errors["credential_id"] = ["exactly one of credential and credential_id is required"]
    else:
        if inline is not None:
            implied = provider_of_kind(inline["properties"]["kind"])
        else:
            existing = tenant.credentials.find(str(credential_id))
            implied = existing.provider if existing else None
            if existing is None:
                errors["credential_id"] = ["is not a credential of this organization"]
        if implied is not None and provider is not None and provider != implied:
            errors["provider"] = [f"does not match the credential's provider ({implied})"]
        provider = provider or implied
    if provider is not None:
        errors.update(_check_collections(provider, body["collection_ids"]))
    if errors:
        raise Invalid(errors)
    assert provider is not None  # a credential, inline or found, implies it
    if inline is not None:
        credential_id = credentials.import_(tenant, inline, prefix="credential.").id
    assert credential_id is not None
    stream_id = streams.stream_id_or_default(tenant, body)
    now = tenant.now()
    sync = tenant.syncs.add(Sync(
        id=tenant.ids.next(), provider=provider, stream_id=stream_id, name=body["name"],
        status=body.get("status", "active"), collection_ids=list(body["collection_ids"]),
        rate_limit=_rate_limit(body["rate_limit"]) if "rate_limit" in body else default_rate_limit(provider),
        credential_id=credential_id, max_age_days=_int_or_none(body.get("max_age_days")),
        sync_frequency=body.get("sync_frequency", "continuous"), metadata=body.get("metadata", {}),
        external_id=body.get("external_id"), initial_backfill_completed_at=None, created_at=now, updated_at=now))
    engine.start(tenant, sync)
    return sync


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


def update(tenant: Tenant, sync_id: str, body: dict) -> Sync:
    sync = tenant.syncs.get(sync_id)
    errors = {key: ["cannot be changed after the sync is created"]
              for key in IMMUTABLE if key in body and body[key] != getattr(sync, key)}
    if "credential" in body:
        errors["credential"] = ["cannot be changed after the sync is created"]
    if "collection_ids" in body:
        errors.update(_check_collections(sync.provider, body["collection_ids"]))
    if errors:
        raise Invalid(errors)
    for key in ("name", "status", "sync_frequency", "metadata", "external_id"):
        if key in body:
            setattr(sync, key, body[key])
    if "collection_ids" in body:
        sync.collection_ids = list(body["collection_ids"])
    if "rate_limit" in body:
        sync.rate_limit = _rate_limit(body["rate_limit"])
    if "max_age_days" in body:
        sync.max_age_days = _int_or_none(body["max_age_days"])
    sync.updated_at = tenant.now()
    engine.reconcile(tenant, sync)
    return sync


def delete(tenant: Tenant, sync_id: str) -> Sync:
    """Stop the sync; the records it wrote stay in the stream."""
    engine.stop(tenant, sync_id)
    return tenant.syncs.remove(sync_id)
