"""HTTP consumers: a cursor over one stream, shared by any number of workers."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.domain import streams
from emulator.domain.delivery import ANY, ConsumerCursor, Settings
from emulator.domain.errors import Invalid
from emulator.domain.records import RecordVersion
from emulator.domain.tenant import Tenant

DEFAULTS = {"deliver_policy": "all", "ack_wait_ms": 30000, "max_deliver": -1, "max_ack_pending": 1000}

FILTER_KEYS = ("provider", "sync_id", "collection_id")


@dataclass
class HttpConsumer:
    id: str
    stream_id: str
    name: str | None
    deliver_policy: str
    ack_wait_ms: int
    max_deliver: int
    max_ack_pending: int
    filters: dict
    metadata: dict
    created_at: int
    updated_at: int


def _settings(body: dict) -> dict:
    """The consumer settings in `body`, with `ack_wait` folded into `ack_wait_ms`."""
    if "ack_wait" in body and "ack_wait_ms" in body and body["ack_wait"] != body["ack_wait_ms"]:
        raise Invalid.field("ack_wait", "is an alias of ack_wait_ms and disagrees with it")
    settings = {k: body[k] for k in ("name", "deliver_policy", "metadata") if k in body}
    for key in ("ack_wait_ms", "max_deliver", "max_ack_pending"):
        if key in body:
            settings[key] = int(body[key])
    if "ack_wait" in body:
        settings["ack_wait_ms"] = int(body["ack_wait"])
    if "filters" in body:
        settings["filters"] = {key: body["filters"].get(key, ANY) for key in FILTER_KEYS}
    return settings


def create(tenant: Tenant, body: dict) -> HttpConsumer:
    if "stream_id" in body and tenant.streams.find(body["stream_id"]) is None:
        raise Invalid.field("stream_id", "is not a stream of this organization")
    settings = {**DEFAULTS, "name": None, "metadata": {}, "filters": dict.fromkeys(FILTER_KEYS, ANY), **_settings(body)}
    stream_id = streams.stream_id_or_default(tenant, body)
    now = tenant.now()
    consumer = tenant.consumers.add(HttpConsumer(id=tenant.ids.next(), stream_id=stream_id,
                                                 created_at=now, updated_at=now, **settings))
    cursor = tenant.cursors[consumer.id] = ConsumerCursor(consumer.id)
    cursor.start(tenant.logs[consumer.stream_id], consumer.deliver_policy, now, delivery_settings(consumer))
    return consumer


def update(tenant: Tenant, consumer_id: str, body: dict) -> HttpConsumer:
    consumer = tenant.consumers.get(consumer_id)
    if "stream_id" in body and body["stream_id"] != consumer.stream_id:
        raise Invalid.field("stream_id", "cannot be changed after the consumer is created")
    settings = _settings(body)
    replay = settings.get("deliver_policy", consumer.deliver_policy) != consumer.deliver_policy
    for key, value in settings.items():
        setattr(consumer, key, value)
    consumer.updated_at = tenant.now()
    if replay:
        tenant.cursors[consumer.id].start(tenant.logs[consumer.stream_id], consumer.deliver_policy, tenant.now(),
                                          delivery_settings(consumer))
        tenant.notify()
    return consumer


def delete(tenant: Tenant, consumer_id: str) -> HttpConsumer:
    consumer = tenant.consumers.remove(consumer_id)
    del tenant.cursors[consumer_id]
    return consumer


def delivery_settings(consumer: HttpConsumer) -> Settings:
    return Settings(consumer.ack_wait_ms, consumer.max_deliver, consumer.max_ack_pending, consumer.filters)


def _cursor(tenant: Tenant, consumer_id: str):
    consumer = tenant.consumers.get(consumer_id)
    return consumer, tenant.cursors[consumer_id], tenant.logs[consumer.stream_id], delivery_settings(consumer)


def receive(tenant: Tenant, consumer_id: str, batch_size: int) -> tuple[list[tuple[str, RecordVersion]], dict]:
    """`next`: up to `batch_size` messages, and the consumer's counts after handing them out."""
    _, cursor, log, settings = _cursor(tenant, consumer_id)
    now = tenant.now()
    messages = cursor.next(log, now, batch_size, settings)
    return messages, cursor.info(log, now, settings)


def available(tenant: Tenant, consumer_id: str) -> int:
    _, cursor, log, settings = _cursor(tenant, consumer_id)
    return cursor.available(log, tenant.now(), settings)


def next_deadline(tenant: Tenant, consumer_id: str) -> int | None:
    """When the earliest delivery still out times out (emulator time), if any."""
    return tenant.cursors[consumer_id].next_deadline()


def ack(tenant: Tenant, consumer_id: str, tokens: list[str]) -> None:
    _, cursor, log, settings = _cursor(tenant, consumer_id)
    cursor.ack(log, tenant.now(), tokens, settings)
    tenant.notify()


def has_acked(tenant: Tenant, consumer_id: str, versions: list[RecordVersion]) -> bool:
    """Has the consumer acked these versions (or will it never receive them: another stream, filtered out)?"""
    _, cursor, log, settings = _cursor(tenant, consumer_id)
    positions = [log.position.get(v.key) for v in versions]
    return all(position is None or log.entries[position] is not versions[i]
               or not settings.matches(versions[i].filter_key) or cursor.acked(position)
               for i, position in enumerate(positions))


def nack(tenant: Tenant, consumer_id: str, tokens: list[str]) -> None:
    _, cursor, log, settings = _cursor(tenant, consumer_id)
    cursor.nack(log, tenant.now(), tokens, settings)
    tenant.notify()
