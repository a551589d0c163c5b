"""The Management API resources, as plain objects. Each owns the state that lives and dies with it (moto's
backends, LocalStack's stores): a stream its log of records, an HTTP consumer its delivery cursor, a sync the
engine's run, a credential its collection refresh, a Postgres or webhook consumer its place in the streams. Deleting a
resource takes its state along; nothing to keep in step.

`row` / `from_row` turn a resource into its snapshot row and back, the same way for all: the fields marked
`owned` are saved by their own classes (`StreamLog`, `ConsumerCursor`, `SyncRun`, `TableCursor`, `WebhookCursor`),
not in the row.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sequin_emulator.domain.delivery import ConsumerCursor, DeliveryRules
from sequin_emulator.domain.health import Health
from sequin_emulator.domain.records import StreamLog
from sequin_emulator.domain.runs import SyncRun
from sequin_emulator.domain.stream_events import EventLog
from sequin_emulator.domain.table_cursor import TableCursor
from sequin_emulator.domain.webhook_cursor import WebhookCursor

OWNED = {"owned": True}  # field metadata: the resource's own state, not part of its row


def owned(**kwargs: Any) -> Any:
    return field(metadata=OWNED, repr=False, compare=False, **kwargs)


@dataclass
class Stream:
    id: str
    slug: str
    created_at: int
    updated_at: int
    log: StreamLog = owned(init=False)  # the stream's records
    events: EventLog = owned(init=False)  # every change written to it

    def __post_init__(self) -> None:
        self.log = StreamLog(self.id)
        self.events = EventLog(self.id)


@dataclass
class OAuthApp:
    id: str
    provider: str
    name: str
    client_id: str
    client_secret: str
    metadata: dict
    health: Health
    created_at: int
    updated_at: int


@dataclass
class Credential:
    id: str
    provider: str
    kind: str
    name: str | None
    properties: dict
    oauth_app_id: str | None
    metadata: dict
    health: Health
    identity: tuple[str, str] | None  # the upstream account it opens (see catalog.account_identity)
    created_at: int
    updated_at: int
    refresh: dict | None = owned(default=None)  # the last collection refresh: {started, succeeded} (µs)

    @property
    def account_key(self) -> str:
        """Which simulated upstream account it opens: its identity, else (unidentifiable) its own id."""
        return "|".join(self.identity) if self.identity else self.id


@dataclass(frozen=True)
class RateLimit:
    """How fast a sync may call its provider: `allowed_requests` per `interval` seconds, and at most
    `max_concurrent_requests` at once (0: no bound)."""

    allowed_requests: int
    interval: int
    max_concurrent_requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"allowed_requests": self.allowed_requests, "interval": self.interval,
                "max_concurrent_requests": self.max_concurrent_requests}


@dataclass
class Sync:
    id: str
    provider: str
    stream_id: str
    name: str
    status: str
    collection_ids: list[str]
    rate_limit: RateLimit
    credential_id: str
    max_age_days: int | None
    sync_frequency: str
    metadata: dict
    external_id: str | None
    initial_backfill_completed_at: int | None
    created_at: int
    updated_at: int
    run: SyncRun | None = owned(default=None)  # the engine's progress; None before it starts


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
    kind: str = "records"  # what it delivers: the stream's records, or its events
    cursor: ConsumerCursor = owned(init=False)  # where its workers are in the stream (or its events)

    def __post_init__(self) -> None:
        self.cursor = ConsumerCursor(self.id)

    @property
    def rules(self) -> DeliveryRules:
        return DeliveryRules(self.ack_wait_ms, self.max_deliver, self.max_ack_pending, self.filters)


@dataclass
class PostgresTarget:
    """A database of the user's, which Postgres consumers write into."""

    id: str
    name: str
    connection: dict  # host, port, database, username, password
    metadata: dict
    health: Health  # set by the writer: whether the database answered
    created_at: int
    updated_at: int


@dataclass
class PostgresConsumer:
    """Writes every record version of its syncs into a table of its target."""

    id: str
    name: str
    target_id: str
    syncs: list[str]  # sync ids, or ["*"]: every sync of the organization
    active: bool
    table_name: str
    metadata: dict
    health: Health  # set by the writer: whether its writes succeed
    created_at: int
    updated_at: int
    cursor: TableCursor = owned(default_factory=TableCursor)  # what is committed to the table

    def covers(self, sync_id: str) -> bool:
        return self.syncs == ["*"] or sync_id in self.syncs


@dataclass
class WebhookConsumer:
    """Pushes the records (or events) its filters cover, across the organization's streams, to a URL."""

    id: str
    name: str
    url: str
    kind: str  # records or events
    filters: dict  # sync_id, collection_id, event ("*": any)
    start: str  # beginning or end
    secret: str
    timeout_ms: int
    max_in_flight: int
    active: bool
    metadata: dict
    health: Health
    created_at: int
    updated_at: int
    cursor: WebhookCursor = owned(default_factory=WebhookCursor)  # what is delivered, under way, retrying


Resource = Stream | OAuthApp | Credential | Sync | HttpConsumer | PostgresTarget | PostgresConsumer | WebhookConsumer
R = TypeVar("R", Stream, OAuthApp, Credential, Sync, HttpConsumer, PostgresTarget, PostgresConsumer, WebhookConsumer)


def row(resource: Resource) -> dict:
    """The resource's own fields as JSON-ready values (nested dataclasses as dicts, tuples as lists)."""
    return {f.name: _plain(getattr(resource, f.name)) for f in dataclasses.fields(resource) if not f.metadata}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return list(value) if isinstance(value, tuple) else value


def from_row(cls: type[R], saved: dict) -> R:
    """The resource a `row` describes, its owned state new (the caller restores that from its own save)."""
    hints = _HINTS[cls]
    return cls(**{name: _typed(hints[name], value) for name, value in saved.items()})


_HINTS: dict[type, dict[str, Any]] = {cls: typing.get_type_hints(cls)
                                      for cls in (Stream, OAuthApp, Credential, Sync, HttpConsumer, PostgresTarget,
                                                  PostgresConsumer, WebhookConsumer)}


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    for kind in typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,):
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            return kind(**value)
        if typing.get_origin(kind) is tuple:
            return tuple(value)
    return value
