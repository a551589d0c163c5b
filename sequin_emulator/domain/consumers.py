"""HTTP consumers: a cursor over one stream, shared by any number of workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sequin_emulator.domain import streams
from sequin_emulator.domain.delivery import ConsumerCursor, DeliveryRules
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.inputs import ConsumerChanges, NewConsumer, given
from sequin_emulator.domain.models import HttpConsumer
from sequin_emulator.domain.records import PositionLog, RecordVersion
from sequin_emulator.domain.stream_events import EventLog
from sequin_emulator.domain.tenant import Tenant


def create(tenant: Tenant, new: NewConsumer) -> HttpConsumer:
    if new.stream_id is not None and tenant.streams.find(new.stream_id) is None:
        raise Invalid.field("stream_id", "is not a stream of this organization")
    stream_id = streams.stream_id_or_default(tenant, new.stream_id)
    now = tenant.now()
    consumer = tenant.consumers.add(HttpConsumer(
        id=tenant.ids.next(), stream_id=stream_id, name=new.name, deliver_policy=new.deliver_policy,
        ack_wait_ms=new.ack_wait_ms, max_deliver=new.max_deliver, max_ack_pending=new.max_ack_pending,
        filters=new.filters, metadata=new.metadata, created_at=now, updated_at=now, kind=new.kind))
    consumer.cursor.start(_log(tenant, consumer), consumer.deliver_policy, now, consumer.rules)
    return consumer


def update(tenant: Tenant, consumer_id: str, changes: ConsumerChanges) -> HttpConsumer:
    consumer = tenant.consumers.get(consumer_id)
    setting = given(changes, consumer, fixed=("stream_id",))
    replay = setting.get("deliver_policy", consumer.deliver_policy) != consumer.deliver_policy
    for key, value in setting.items():
        setattr(consumer, key, value)
    consumer.updated_at = tenant.now()
    if replay:
        consumer.cursor.start(_log(tenant, consumer), consumer.deliver_policy, tenant.now(), consumer.rules)
        tenant.notify()
    return consumer


def delete(tenant: Tenant, consumer_id: str) -> HttpConsumer:
    return tenant.consumers.remove(consumer_id)


def _log(tenant: Tenant, consumer: HttpConsumer) -> PositionLog:
    """What the consumer reads: its stream's records, or its stream's events."""
    stream = tenant.streams.get(consumer.stream_id)
    return stream.events if consumer.kind == "events" else stream.log


def _cursor(tenant: Tenant, consumer_id: str) -> tuple[HttpConsumer, ConsumerCursor, PositionLog, DeliveryRules]:
    consumer = tenant.consumers.get(consumer_id)
    return consumer, consumer.cursor, _log(tenant, consumer), consumer.rules


def receive(tenant: Tenant, consumer_id: str, batch_size: int) -> tuple[list[tuple[str, Any]], dict]:
    """`next`: up to `batch_size` messages (record versions, or events for an events consumer), and the
    consumer's counts after handing them out."""
    _, cursor, log, rules = _cursor(tenant, consumer_id)
    now = tenant.now()
    picked = cursor.next(log, now, batch_size, rules)
    entry: Callable[[int], Any] = log.event if isinstance(log, EventLog) else log.entries.__getitem__
    return [(token, entry(position)) for token, position in picked], cursor.info(log, now, rules)


def available(tenant: Tenant, consumer_id: str) -> int:
    _, cursor, log, rules = _cursor(tenant, consumer_id)
    return cursor.available(log, tenant.now(), rules)


def next_deadline(tenant: Tenant, consumer_id: str) -> int | None:
    """When the earliest delivery still out times out (emulator time), if any."""
    return tenant.consumers.get(consumer_id).cursor.next_deadline()


def ack(tenant: Tenant, consumer_id: str, tokens: list[str]) -> None:
    _, cursor, log, rules = _cursor(tenant, consumer_id)
    cursor.ack(log, tenant.now(), tokens, rules)
    tenant.notify()


def has_acked(tenant: Tenant, consumer_id: str, versions: list[RecordVersion]) -> bool:
    """Has the consumer acked these versions (or will it never receive them: another stream, filtered out)?"""
    _, cursor, log, rules = _cursor(tenant, consumer_id)
    positions = [log.position_of(v) for v in versions]
    return all(position is None or not rules.matches(versions[i].filter_key) or cursor.acked(position)
               for i, position in enumerate(positions))


def nack(tenant: Tenant, consumer_id: str, tokens: list[str]) -> None:
    _, cursor, log, rules = _cursor(tenant, consumer_id)
    cursor.nack(log, tenant.now(), tokens, rules)
    tenant.notify()
