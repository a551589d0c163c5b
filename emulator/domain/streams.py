"""Streams: the named logs that syncs write to and HTTP consumers read from."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.domain.errors import Invalid
from emulator.domain.tenant import Tenant


@dataclass
class Stream:
    id: str
    slug: str
    created_at: int
    updated_at: int


def _ensure_unique_slug(tenant: Tenant, slug: str, current: Stream | None = None) -> None:
    if any(s.slug == slug and s is not current for s in tenant.streams):
        raise Invalid.field("slug", f"is already used by another stream ({slug!r})")


def create(tenant: Tenant, body: dict) -> Stream:
    _ensure_unique_slug(tenant, body["slug"])
    now = tenant.now()
    return tenant.streams.add(Stream(id=tenant.ids.next(), slug=body["slug"], created_at=now, updated_at=now))


def update(tenant: Tenant, stream_id: str, body: dict) -> Stream:
    stream = tenant.streams.get(stream_id)
    if "slug" in body:
        _ensure_unique_slug(tenant, body["slug"], stream)
        stream.slug = body["slug"]
    stream.updated_at = tenant.now()
    return stream


def delete(tenant: Tenant, stream_id: str) -> Stream:
    users = [f"sync {s.id}" for s in tenant.syncs if s.stream_id == stream_id]
    users += [f"HTTP consumer {c.id}" for c in tenant.consumers if c.stream_id == stream_id]
    return tenant.streams.remove_unused(stream_id, users)
