"""Streams: the named logs that syncs write to and HTTP consumers read from."""

from __future__ import annotations

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.inputs import NewStream, RecordsAppend, StreamChanges
from sequin_emulator.domain.models import Stream, Sync
from sequin_emulator.domain.records import Moves, RecordVersion
from sequin_emulator.domain.tenant import Tenant


def _ensure_unique_slug(tenant: Tenant, slug: str, current: Stream | None = None) -> None:
    owner = tenant.streams.with_unique(slug)
    if owner is not None and owner is not current:
        raise Invalid.field("slug", f"is already used by another stream ({slug!r})")


def create(tenant: Tenant, new: NewStream) -> Stream:
    _ensure_unique_slug(tenant, new.slug)
    now = tenant.now()
    return tenant.streams.add(Stream(id=tenant.ids.next(), slug=new.slug, created_at=now, updated_at=now))


DEFAULT_SLUG = "default"


def stream_id_or_default(tenant: Tenant, stream_id: str | None) -> str:
    """`stream_id`, else the organization's default stream, created on first use: syncs and consumers had no
    stream before streams existed, and the getting-started page still creates them without one."""
    if stream_id is not None:
        return stream_id
    existing = tenant.streams.with_unique(DEFAULT_SLUG)
    return (existing or create(tenant, NewStream(DEFAULT_SLUG))).id


def update(tenant: Tenant, stream_id: str, changes: StreamChanges) -> Stream:
    stream = tenant.streams.get(stream_id)
    if isinstance(changes.slug, str):
        _ensure_unique_slug(tenant, changes.slug, stream)
        tenant.streams.set_unique(stream, changes.slug)
    stream.updated_at = tenant.now()
    return stream


def delete(tenant: Tenant, stream_id: str) -> Stream:
    users = [f"sync {s.id}" for s in tenant.syncs if s.stream_id == stream_id]
    users += [f"HTTP consumer {c.id}" for c in tenant.consumers if c.stream_id == stream_id]
    return tenant.streams.remove_unused(stream_id, users)


def write_record(tenant: Tenant, sync: Sync, collection_id: str, upstream_id: str, data: dict, *,
                 deleted: bool = False, upstream_created_at: int | None = None,
                 upstream_updated_at: int | None = None, at: int | None = None) -> RecordVersion:
    """The one way records enter a stream (syncs, injections, mutations): a new version, or a tombstone.

    A tombstone without `data` keeps the record's last known data. `at` is the emulator time of the write
    (the sync engine runs steps at their own times while the clock advances); it defaults to now.
    """
    stream = tenant.streams.get(sync.stream_id)
    log = stream.log
    previous = log.latest((sync.id, collection_id, upstream_id))
    if deleted and not data:
        data = previous.record["data"] if previous is not None else {}
    now = tenant.now() if at is None else at
    version = log.write(idx=tenant.next_idx(), now=now, sync={"id": sync.id, "external_id": sync.external_id,
                                                              "metadata": sync.metadata},
                        provider=sync.provider, collection_id=collection_id, upstream_id=upstream_id, data=data,
                        deleted=deleted, upstream_created_at=upstream_created_at,
                        upstream_updated_at=upstream_updated_at if upstream_updated_at is not None else now)
    trimmed = stream.events.record(version, previous, data, deleted, now)
    if trimmed is not None:
        _remap(tenant, stream.id, "events", trimmed)
    if log.wants_compaction():
        _remap(tenant, stream.id, "records", Moves(log.compact()))
    tenant.notify()
    return version


def _remap(tenant: Tenant, stream_id: str, kind: str, moves: Moves) -> None:
    """Move the positions of the stream's consumers of `kind` along after their log dropped entries: a
    compaction of superseded records (memory follows the live records, however often they change; amortized
    O(1) per write, as one comes only after as many supersessions), or a trim of expired events."""
    for consumer in tenant.consumers:
        if consumer.stream_id == stream_id and consumer.kind == kind:
            consumer.cursor.remap(moves)


def append(tenant: Tenant, stream_id: str, request: RecordsAppend) -> list[RecordVersion]:
    """Write records straight into a stream as the sync `request.sync_id` would (the control plane's injection)."""
    tenant.streams.get(stream_id)
    sync = tenant.syncs.find(request.sync_id)
    if sync is None or sync.stream_id != stream_id:
        raise Invalid.field("sync_id", "is not a sync writing to this stream")
    errors = {f"records.{i}.collection_id": [f"is not one of the sync's collections ({', '.join(sync.collection_ids)})"]
              for i, record in enumerate(request.records) if record.collection_id not in sync.collection_ids}
    if errors:
        raise Invalid(errors)
    return [write_record(tenant, sync, r.collection_id, r.upstream_id, r.data, deleted=r.deleted)
            for r in request.records]
