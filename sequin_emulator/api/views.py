"""The wire shape of every resource: domain objects (and what the domain computed about them) in, JSON-ready
dicts out, secrets masked. Views compute nothing: a sync's health comes from the engine, through the handler."""

from __future__ import annotations

from sequin_emulator.domain.catalog import MASK, masked
from sequin_emulator.domain.health import Health
from sequin_emulator.domain.models import (
    Credential,
    HttpConsumer,
    OAuthApp,
    PostgresConsumer,
    PostgresTarget,
    Stream,
    Sync,
    WebhookConsumer,
)
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.timefmt import format_micros as ts


def health(h: Health) -> dict:
    return {"status": h.status, "notes": list(h.notes), "time": ts(h.time)}


def sync_health(found: dict) -> dict:
    """The engine's `sync_health`, its credential's `Health` rendered."""
    return {**found, "credential": health(found["credential"])} if "credential" in found else found


def stream(tenant: Tenant, s: Stream) -> dict:
    return {"id": s.id, "slug": s.slug, "org_id": tenant.org_id, "created_at": ts(s.created_at),
            "updated_at": ts(s.updated_at)}


def oauth_app(app: OAuthApp, reveal_secret: bool = False) -> dict:
    return {"id": app.id, "provider": app.provider, "name": app.name, "client_id": app.client_id,
            "client_secret": app.client_secret if reveal_secret else MASK, "metadata": app.metadata,
            "health": health(app.health), "created_at": ts(app.created_at), "updated_at": ts(app.updated_at)}


def credential(tenant: Tenant, c: Credential) -> dict:
    app = tenant.oauth_apps.find(c.oauth_app_id) if c.oauth_app_id else None
    return {"id": c.id, "provider": c.provider, "kind": c.kind, "name": c.name, "properties": masked(c.properties),
            "oauth_app_id": c.oauth_app_id, "oauth_app": oauth_app(app) if app else {"kind": "sequin"},
            "health": health(c.health), "metadata": c.metadata, "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at)}


def sync(tenant: Tenant, s: Sync, found_health: dict) -> dict:
    return {"id": s.id, "provider": s.provider, "stream_id": s.stream_id, "name": s.name, "status": s.status,
            "org_id": tenant.org_id, "health": sync_health(found_health),
            "collection_ids": list(s.collection_ids), "rate_limit": s.rate_limit.as_dict(),
            "credential_id": s.credential_id, "credential": credential(tenant, tenant.credentials.get(s.credential_id)),
            "max_age_days": s.max_age_days, "sync_frequency": s.sync_frequency,
            "initial_backfill_completed_at": ts(s.initial_backfill_completed_at), "metadata": s.metadata,
            "external_id": s.external_id, "created_at": ts(s.created_at), "updated_at": ts(s.updated_at)}


def http_consumer(c: HttpConsumer) -> dict:
    return {"id": c.id, "stream_id": c.stream_id, "name": c.name, "kind": c.kind, "deliver_policy": c.deliver_policy,
            "ack_wait_ms": c.ack_wait_ms, "max_deliver": c.max_deliver, "max_ack_pending": c.max_ack_pending,
            "filters": dict(c.filters), "metadata": c.metadata, "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at)}


def postgres_target(t: PostgresTarget) -> dict:
    return {"id": t.id, "name": t.name, "kind": "postgres", "health": health(t.health),
            "connection": {**t.connection, "password": MASK}, "ssh_tunnel_id": None, "metadata": t.metadata,
            "created_at": ts(t.created_at), "updated_at": ts(t.updated_at)}


def postgres_consumer(c: PostgresConsumer) -> dict:
    return {"id": c.id, "name": c.name, "active": c.active, "syncs": list(c.syncs), "target_id": c.target_id,
            "table_name": c.table_name, "health": health(c.health), "metadata": c.metadata,
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at)}


def webhook_consumer(c: WebhookConsumer, progress: dict[str, int], reveal_secret: bool = False) -> dict:
    """The consumer, its secret in full on create only, with its delivery `progress` (`webhooks.progress`)."""
    return {"id": c.id, "name": c.name, "url": c.url, "kind": c.kind, "filters": dict(c.filters), "start": c.start,
            "secret": c.secret if reveal_secret else MASK, "timeout_ms": c.timeout_ms,
            "max_in_flight": c.max_in_flight, "active": c.active, "health": health(c.health), **progress,
            "metadata": c.metadata, "created_at": ts(c.created_at), "updated_at": ts(c.updated_at)}


def deleted(resource_id: str) -> dict:
    return {"id": resource_id, "deleted": True}


def listing(items: list) -> dict:
    return {"data": items}
