"""Webhook consumers: the resources, and what each delivers next. No I/O here.

The sender (`sequin_emulator.webhook_sender`) asks for a consumer's due attempts, POSTs them, and reports back:
`delivered` settles a message, `failed` schedules its next attempt (1 s, doubling, at most an hour later, on the
emulator's clock) or, 24 hours after its first failure, stops the consumer. A consumer covers every version its
filters match (records: each live version; events: every change), in `updated_idx` order across the
organization's streams, at most `max_in_flight` out at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from sequin_emulator.domain import stream_reads
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.health import Health
from sequin_emulator.domain.ids import derived_uuid
from sequin_emulator.domain.inputs import NewWebhookConsumer, WebhookConsumerChanges, given
from sequin_emulator.domain.models import WebhookConsumer
from sequin_emulator.domain.records import RecordVersion
from sequin_emulator.domain.stream_events import KINDS
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.timefmt import format_micros
from sequin_emulator.domain.webhook_cursor import Pending

ANY = "*"
NOT_YET = "nothing delivered yet"


@dataclass(frozen=True)
class Attempt:
    """One POST to make: its body, and the headers that name and sign it."""

    consumer_id: str
    idx: int
    url: str
    body: bytes
    headers: dict[str, str]
    timeout_ms: int


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` with the consumer's secret."""
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ the resources

def _checked_filters(kind: str, filters: dict) -> dict:
    if kind == "records" and filters.get("event", ANY) != ANY:
        raise Invalid.field("filters.event", "filters events by type; a records consumer takes * only")
    return {"sync_id": filters.get("sync_id", ANY), "collection_id": filters.get("collection_id", ANY),
            "event": filters.get("event", ANY)}


def create(tenant: Tenant, new: NewWebhookConsumer) -> WebhookConsumer:
    now, consumer_id = tenant.now(), tenant.ids.next()
    secret = "whsec_" + hashlib.blake2b(f"webhook-secret|{tenant.seed}|{consumer_id}".encode(),
                                        digest_size=24).hexdigest()
    consumer = tenant.webhook_consumers.add(WebhookConsumer(
        id=consumer_id, name=new.name, url=new.url, kind=new.kind, filters=_checked_filters(new.kind, new.filters),
        start=new.start, secret=secret, timeout_ms=new.timeout_ms, max_in_flight=new.max_in_flight,
        active=new.active, metadata=new.metadata, health=Health("warn", now, [NOT_YET]), created_at=now,
        updated_at=now))
    consumer.cursor.picked_idx = tenant.last_idx if new.start == "end" else 0
    tenant.notify()
    return consumer


def update(tenant: Tenant, consumer_id: str, changes: WebhookConsumerChanges) -> WebhookConsumer:
    consumer = tenant.webhook_consumers.get(consumer_id)
    setting = given(changes, consumer, fixed=("kind", "start"))
    if "filters" in setting:
        setting["filters"] = _checked_filters(consumer.kind, {**consumer.filters, **setting["filters"]})
    now = tenant.now()
    if setting.get("active") and not consumer.active:  # resumed: what it was retrying is due now, 24 hours anew
        for pending in consumer.cursor.out.values():
            pending.due_at, pending.failing_since = now, None
        consumer.health = Health("warn", now, ["resumed"])
    for key, value in setting.items():
        setattr(consumer, key, value)
    consumer.updated_at = now
    tenant.notify()
    return consumer


def delete(tenant: Tenant, consumer_id: str) -> WebhookConsumer:
    return tenant.webhook_consumers.remove(consumer_id)


def progress(consumer: WebhookConsumer) -> dict[str, int]:
    """Messages acknowledged ever, out now, of those the ones that failed at least once, and attempts under way."""
    out = consumer.cursor.out.values()
    return {"delivered": consumer.cursor.delivered, "pending": len(out),
            "retrying": sum(1 for p in out if p.failing_since is not None),
            "in_flight": sum(1 for p in out if p.in_flight)}


# ------------------------------------------------------------------ delivery

def _covers(consumer: WebhookConsumer, version: RecordVersion, kind: str | None) -> bool:
    """Does the consumer send this version (`kind`: the event it wrote, for an events consumer)?"""
    wanted = consumer.filters
    if consumer.kind == "records":
        kind = None
    return ((wanted["sync_id"] == ANY or wanted["sync_id"] == version.key[0])
            and (wanted["collection_id"] == ANY or wanted["collection_id"] == version.key[1])
            and (wanted["event"] == ANY or kind is None or wanted["event"] == kind))


def _candidates(tenant: Tenant, consumer: WebhookConsumer) -> Iterator[tuple[str, RecordVersion, str | None]]:
    """(stream id, version, event kind) of every version after the consumer's place, in `updated_idx` order."""
    after = consumer.cursor.picked_idx
    if consumer.kind == "events":
        for log, position, version in stream_reads.merged([stream.events for stream in tenant.streams], after):
            yield log.stream_id, version, KINDS[log.kinds[position]]
    else:
        for records, _, version in stream_reads.merged([stream.log for stream in tenant.streams], after):
            yield records.stream_id, version, None


def _pick(tenant: Tenant, consumer: WebhookConsumer, now: int) -> None:
    """Take the next messages, in order, until `max_in_flight` are out or the next one's object has one out."""
    cursor = consumer.cursor
    for stream_id, version, kind in _candidates(tenant, consumer):
        if len(cursor.out) >= consumer.max_in_flight:
            return
        if _covers(consumer, version, kind):
            if cursor.busy(version.key):
                return  # its object's earlier version first
            cursor.out[version.idx] = Pending(version.idx, stream_id, version.key, due_at=now)
        cursor.picked_idx = version.idx


def due(tenant: Tenant, consumer_id: str) -> list[Attempt]:
    """The attempts to make now (each marked under way), for an active consumer."""
    consumer = tenant.webhook_consumers.get(consumer_id)
    if not consumer.active:
        return []
    now = tenant.now()
    attempts = []
    for pending in _ready(tenant, consumer, now):
        body = _body(tenant, consumer, pending)
        if body is None:  # its event was trimmed (the consumer was stopped for over a week): nothing to send
            del consumer.cursor.out[pending.idx]
            continue
        pending.attempts += 1
        pending.in_flight = True
        timestamp = str(now // 1_000_000)
        attempts.append(Attempt(consumer.id, pending.idx, consumer.url, body, {
            "content-type": "application/json", "sequin-consumer-id": consumer.id,
            "sequin-delivery-id": derived_uuid("delivery", consumer.id, pending.idx),
            "sequin-attempt": str(pending.attempts), "sequin-timestamp": timestamp,
            "sequin-signature": signature(consumer.secret, timestamp, body)}, consumer.timeout_ms))
    return attempts


def _ready(tenant: Tenant, consumer: WebhookConsumer, now: int) -> list[Pending]:
    """The messages to attempt now: new ones are picked only while nothing is failing (see `next_up`)."""
    if not consumer.cursor.failing():
        _pick(tenant, consumer, now)
    return [p for p in consumer.cursor.next_up() if p.due_at <= now]


def _body(tenant: Tenant, consumer: WebhookConsumer, pending: Pending) -> bytes | None:
    """What `next` would give for the message, without the ack token. The stream's event log keeps every version
    for a week, superseded ones too, so a message retried after its record changed is sent as it was picked."""
    stream = tenant.streams.find(pending.stream_id)
    event = stream.events.by_idx(pending.idx) if stream is not None else None
    if event is None:
        return None
    if consumer.kind == "events":
        return orjson.dumps({"event": event.as_json()})
    return b'{"record":' + event.version.payload + b"}"


def delivered(tenant: Tenant, consumer_id: str, idx: int) -> None:
    consumer = tenant.webhook_consumers.find(consumer_id)
    pending = consumer.cursor.out.pop(idx, None) if consumer is not None else None
    if consumer is None or pending is None:
        return
    consumer.cursor.delivered += 1
    if consumer.active and not consumer.cursor.failing():
        consumer.health = Health("ok", tenant.now(), [])
    tenant.notify()


def failed(tenant: Tenant, consumer_id: str, idx: int, why: str) -> None:
    """An attempt failed: try again later, or stop the consumer once the message has failed for 24 hours."""
    consumer = tenant.webhook_consumers.find(consumer_id)
    pending = consumer.cursor.out.get(idx) if consumer is not None else None
    if consumer is None or pending is None:
        return
    now = tenant.now()
    pending.failed(now, why)
    if not consumer.active:
        pass  # stopped meanwhile (by another message's 24 hours, or an update): its health says why
    elif pending.gave_up(now):
        consumer.active = False
        consumer.health = Health("error", now, [
            f"stopped: deliveries to {consumer.url} failed for 24 hours ({why}); set active to true to resume"])
    else:
        retrying = sum(1 for p in consumer.cursor.out.values() if p.failing_since is not None)
        since = min(p.failing_since for p in consumer.cursor.out.values() if p.failing_since is not None)
        consumer.health = Health("warn", now, [f"retrying {retrying} message(s) since {format_micros(since)}: {why}"])
    tenant.notify()


def next_due_at(tenant: Tenant, consumer_id: str) -> int | None:
    consumer = tenant.webhook_consumers.find(consumer_id)
    return consumer.cursor.next_due_at() if consumer is not None and consumer.active else None


def has_delivered(tenant: Tenant, consumer_id: str, versions: list[RecordVersion]) -> bool:
    """Has the endpoint acknowledged these versions (or will the consumer never send them: filtered out)?"""
    consumer = tenant.webhook_consumers.get(consumer_id)
    cursor = consumer.cursor
    return all(not _covers(consumer, version, _kind_of(tenant, version))
               or (version.idx <= cursor.picked_idx and version.idx not in cursor.out) for version in versions)


def _kind_of(tenant: Tenant, version: RecordVersion) -> str | None:
    """The event a version wrote (created, updated, deleted), from whichever stream logged it."""
    for stream in tenant.streams:
        event = stream.events.by_idx(version.idx)
        if event is not None:
            return event.kind
    return None
