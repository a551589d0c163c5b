"""Managed Postgres consumers and their targets: the resources, and what each consumer writes next.

No I/O here. The writer (`sequin_emulator.postgres_writer`) asks for a consumer's next batch, writes it into the
database, and reports back: `committed` moves the consumer's place, `failed` records why it could not. What a
consumer covers is every version, in stream order (by `updated_idx`, across the organization's streams), of the
records its syncs wrote.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.health import Health
from sequin_emulator.domain.inputs import (
    NewPostgresConsumer,
    NewPostgresTarget,
    PostgresConsumerChanges,
    PostgresTargetChanges,
    given,
)
from sequin_emulator.domain.models import PostgresConsumer, PostgresTarget
from sequin_emulator.domain.records import RecordVersion
from sequin_emulator.domain.table_cursor import TableCursor
from sequin_emulator.domain.tenant import Tenant

BATCH_ROWS = 1000  # rows per transaction
NOT_YET = "nothing written yet"
PAUSED = "paused (active: false)"


# ------------------------------------------------------------------ targets

def _no_tunnel(ssh_tunnel_id: object) -> None:
    if ssh_tunnel_id is not None:
        raise Invalid.field("ssh_tunnel_id", "the emulator has no SSH tunnels; leave it null and connect directly")


def create_target(tenant: Tenant, new: NewPostgresTarget) -> PostgresTarget:
    _no_tunnel(new.ssh_tunnel_id)
    now = tenant.now()
    return tenant.targets.add(PostgresTarget(
        id=tenant.ids.next(), name=new.name, connection=dict(new.connection), metadata=new.metadata,
        health=Health("warn", now, ["not connected yet"]), created_at=now, updated_at=now))


def update_target(tenant: Tenant, target_id: str, changes: PostgresTargetChanges) -> PostgresTarget:
    target = tenant.targets.get(target_id)
    setting = given(changes)
    _no_tunnel(setting.pop("ssh_tunnel_id", None))
    if "connection" in setting:
        setting["connection"] = {**target.connection, **setting["connection"]}
    for key, value in setting.items():
        setattr(target, key, value)
    target.updated_at = tenant.now()
    tenant.notify()  # the writer reconnects with the new settings
    return target


def delete_target(tenant: Tenant, target_id: str) -> PostgresTarget:
    tenant.targets.get(target_id)
    users = [c.id for c in tenant.postgres_consumers if c.target_id == target_id]
    if users:
        raise Invalid.field("id", f"the target is used by Postgres consumers ({', '.join(users)}); delete them first")
    return tenant.targets.remove(target_id)


# ------------------------------------------------------------------ consumers

def _checked_syncs(tenant: Tenant, syncs: list[str]) -> list[str]:
    if "*" in syncs:
        if syncs != ["*"]:
            raise Invalid.field("syncs", 'is either ["*"] (every sync) or a list of sync ids, not both')
        return syncs
    unknown = {f"syncs.{i}": ["is not a sync of this organization"] for i, sync_id in enumerate(syncs)
               if tenant.syncs.find(sync_id) is None}
    if unknown:
        raise Invalid(unknown)
    return list(dict.fromkeys(syncs))


def create_consumer(tenant: Tenant, new: NewPostgresConsumer) -> PostgresConsumer:
    if tenant.targets.find(new.target_id) is None:
        raise Invalid.field("target_id", "is not a Postgres target of this organization")
    syncs = _checked_syncs(tenant, new.syncs)
    now = tenant.now()
    consumer = tenant.postgres_consumers.add(PostgresConsumer(
        id=tenant.ids.next(), name=new.name, target_id=new.target_id, syncs=syncs, active=new.active,
        table_name=new.table_name, metadata=new.metadata,
        health=Health("warn", now, [NOT_YET if new.active else PAUSED]), created_at=now, updated_at=now))
    tenant.notify()
    return consumer


def update_consumer(tenant: Tenant, consumer_id: str, changes: PostgresConsumerChanges) -> PostgresConsumer:
    consumer = tenant.postgres_consumers.get(consumer_id)
    setting = given(changes, consumer, fixed=("target_id", "table_name"))
    if "syncs" in setting:
        syncs = _checked_syncs(tenant, setting.pop("syncs"))
        if consumer.syncs != ["*"]:
            before = set(consumer.syncs)
            added = [s.id for s in tenant.syncs if s.id not in before] if syncs == ["*"] else \
                [s for s in syncs if s not in before]
            if added:
                consumer.cursor.replay(added)
        consumer.syncs = syncs
    for key, value in setting.items():
        setattr(consumer, key, value)
    if not consumer.active:
        consumer.health = Health("warn", tenant.now(), [PAUSED])
    elif consumer.health.notes == [PAUSED]:
        consumer.health = Health("warn", tenant.now(), ["resuming"])
    consumer.updated_at = tenant.now()
    tenant.notify()
    return consumer


def delete_consumer(tenant: Tenant, consumer_id: str) -> PostgresConsumer:
    consumer = tenant.postgres_consumers.remove(consumer_id)
    tenant.notify()  # the writer stops it
    return consumer


# ------------------------------------------------------------------ what to write

@dataclass(frozen=True)
class Batch:
    """Versions to write in one transaction, and what committing them means for the consumer's place."""

    versions: list[RecordVersion]
    replay: bool  # part of a replay of newly covered syncs
    epoch: int  # the cursor's epoch when the batch was taken

    @property
    def rows(self) -> list[bytes]:
        return [v.payload for v in self.versions]


def _versions(tenant: Tenant, after: int, covers: Callable[[str], bool]) -> Iterator[RecordVersion]:
    """Every live version with an idx above `after` whose sync `covers` accepts, in idx order over all streams."""
    streams = [(v for v in s.log.versions_after(after) if covers(v.key[0])) for s in tenant.streams]
    return heapq.merge(*streams, key=lambda v: v.idx)


def _replay_due(tenant: Tenant, cursor: TableCursor) -> Iterator[RecordVersion]:
    """The versions a replay of newly covered syncs has still to write, in idx order (none without a replay)."""
    if not cursor.replay_syncs:
        return iter(())
    replaying = set(cursor.replay_syncs)
    return itertools.takewhile(lambda v: v.idx <= cursor.replay_upto,
                               _versions(tenant, cursor.replay_done, replaying.__contains__))


def next_batch(tenant: Tenant, consumer: PostgresConsumer, limit: int = BATCH_ROWS) -> Batch | None:
    """What the consumer writes next (a replay first), or None when it has caught up or is paused."""
    if not consumer.active:
        return None
    cursor = consumer.cursor
    if cursor.replay_syncs:
        versions = list(itertools.islice(_replay_due(tenant, cursor), limit))
        if versions:
            return Batch(versions, replay=True, epoch=cursor.epoch)
        cursor.replay_syncs = []
    versions = list(itertools.islice(_versions(tenant, cursor.done_idx, consumer.covers), limit))
    return Batch(versions, replay=False, epoch=cursor.epoch) if versions else None


def table_ready(tenant: Tenant, consumer: PostgresConsumer) -> None:
    """The consumer's table is there (made if it was missing), though there was nothing to write yet."""
    consumer.health = Health.ok(tenant.now())
    tenant.notify()


def committed(tenant: Tenant, consumer: PostgresConsumer, batch: Batch) -> None:
    """The batch is in the table: move the consumer's place past it (unless its place moved meanwhile)."""
    cursor = consumer.cursor
    if batch.epoch == cursor.epoch:
        last = batch.versions[-1].idx
        if batch.replay:
            cursor.replay_done = last
        else:
            cursor.done_idx = max(cursor.done_idx, last)
    consumer.health = Health.ok(tenant.now())
    tenant.notify()  # for awaited mutations and `awaitPostgresConsumer`


def failed(tenant: Tenant, consumer: PostgresConsumer, target: PostgresTarget, reason: str) -> None:
    """A write failed (the writer tries again); `reason` is the database driver's message."""
    consumer.health = Health("error", tenant.now(), [reason])
    unreachable(tenant, target, reason)


def table_missing(tenant: Tenant, consumer: PostgresConsumer) -> None:
    """The table was dropped while the consumer wrote to it: it is created again, and everything written again."""
    consumer.cursor.rewind()
    consumer.health = Health("error", tenant.now(), [f"the table {consumer.table_name} was dropped; creating it "
                                                      "again and writing every record again"])


def unreachable(tenant: Tenant, target: PostgresTarget, reason: str) -> None:
    target.health = Health("error", tenant.now(), [reason])


def connected(tenant: Tenant, target: PostgresTarget) -> None:
    if target.health.status != "ok":
        target.health = Health.ok(tenant.now())


def caught_up(tenant: Tenant, consumer: PostgresConsumer) -> bool:
    """Is everything the consumer covers in its table, and the table there (its last write or check succeeded)?
    Cheap: it looks only for the first version still due."""
    cursor = consumer.cursor
    if consumer.health.status != "ok":
        return False
    if next(_replay_due(tenant, cursor), None) is not None:
        return False
    return next(_versions(tenant, cursor.done_idx, consumer.covers), None) is None


def pending(tenant: Tenant, consumer: PostgresConsumer) -> int:
    """Versions the consumer covers that are not in its table yet (0 when it has caught up)."""
    cursor = consumer.cursor
    return sum(1 for _ in _versions(tenant, cursor.done_idx, consumer.covers)) + \
        sum(1 for _ in _replay_due(tenant, cursor))


def has_committed(tenant: Tenant, consumer_id: str, versions: list[RecordVersion]) -> bool:
    """Are these versions in the consumer's table (or not its to write)? A deleted consumer waits for nothing."""
    consumer = tenant.postgres_consumers.find(consumer_id)
    return consumer is None or all(v.idx <= consumer.cursor.done_idx or not consumer.covers(v.key[0])
                                   for v in versions)
