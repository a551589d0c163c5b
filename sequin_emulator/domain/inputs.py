"""What the domain is asked to do, as typed values: one dataclass per request body the domain takes.

The spec layer builds them (`sequin_emulator.spec.bodies.parse`) from a body already valid against the schema each names
in `SCHEMA`, with the spec's defaults filled in: the spec is the only place a default is written. A create's
field without a Python default must get one from the spec (or be required there); an update's fields default
to `UNSET`, "left out: keep the current value". `normalize` turns an accepted wire variant into the one form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from sequin_emulator.domain.errors import Invalid


class Unset:
    """The value of an update's field the body left out."""

    _instance: ClassVar[Unset | None] = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


def given(changes: Any, resource: Any = None, fixed: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields an update sets, by name; the `fixed` ones (immutable) are accepted only with the `resource`'s
    current value, and left out."""
    setting = {f.name: value for f in dataclasses.fields(changes) if (value := getattr(changes, f.name)) is not UNSET}
    for name in fixed:
        if setting.pop(name, getattr(resource, name)) != getattr(resource, name):
            raise Invalid.field(name, "cannot be changed after the consumer is created")
    return setting


# ------------------------------------------------------------------ streams

@dataclass(frozen=True)
class NewStream:
    SCHEMA: ClassVar[str] = "StreamCreate"
    slug: str


@dataclass(frozen=True)
class StreamChanges:
    SCHEMA: ClassVar[str] = "StreamUpdate"
    slug: str | Unset = UNSET


# ------------------------------------------------------------------ OAuth apps

@dataclass(frozen=True)
class NewOAuthApp:
    SCHEMA: ClassVar[str] = "OAuthAppCreate"
    provider: str
    client_id: str
    client_secret: str
    name: str
    metadata: dict


@dataclass(frozen=True)
class OAuthAppChanges:
    SCHEMA: ClassVar[str] = "OAuthAppUpdate"
    name: str | Unset = UNSET
    client_secret: str | Unset = UNSET
    metadata: dict | Unset = UNSET


# ------------------------------------------------------------------ credentials

ENVELOPE = ("oauth_app_id", "metadata")  # the flat import form's fields that are not the kind's own


@dataclass(frozen=True)
class CredentialImport:
    """An import, in the `properties` form. Left out (or a null name): a new credential has no name (unless its
    properties have one), no OAuth app and `{}` metadata; an import of an existing one keeps its own."""

    SCHEMA: ClassVar[str] = "CredentialImport"
    properties: dict
    name: str | None | Unset = UNSET
    oauth_app_id: str | None | Unset = UNSET
    metadata: dict | Unset = UNSET

    @staticmethod
    def normalize(body: dict) -> dict:
        """The flat form (`kind` and its fields at the top level, as the getting-started page wrote it) folded
        into `properties`; the schema already refused a mix of both forms."""
        if "kind" not in body:
            return body
        return {"properties": {k: v for k, v in body.items() if k not in ENVELOPE},
                **{k: body[k] for k in ENVELOPE if k in body}}

    @property
    def kind(self) -> str:
        return str(self.properties["kind"])


@dataclass(frozen=True)
class CredentialChanges:
    SCHEMA: ClassVar[str] = "CredentialUpdate"
    name: str | Unset = UNSET
    metadata: dict | Unset = UNSET


# ------------------------------------------------------------------ syncs

@dataclass(frozen=True)
class NewSync:
    SCHEMA: ClassVar[str] = "SyncCreate"
    name: str
    collection_ids: list[str]
    status: str
    max_age_days: int | None
    sync_frequency: str
    metadata: dict
    external_id: str | None
    provider: str | None = None  # None: the credential's
    stream_id: str | None = None  # None: the default stream
    rate_limit: dict | None = None  # None: the provider's
    credential: CredentialImport | None = None  # exactly one of credential and credential_id
    credential_id: str | None = None


@dataclass(frozen=True)
class SyncChanges:
    SCHEMA: ClassVar[str] = "SyncUpdate"
    name: str | Unset = UNSET
    collection_ids: list[str] | Unset = UNSET
    rate_limit: dict | Unset = UNSET
    status: str | Unset = UNSET
    max_age_days: int | None | Unset = UNSET
    sync_frequency: str | Unset = UNSET
    metadata: dict | Unset = UNSET
    external_id: str | None | Unset = UNSET
    provider: str | Unset = UNSET  # the immutable ones: accepted only with their current value
    stream_id: str | Unset = UNSET
    credential_id: str | Unset = UNSET
    credential: dict | Unset = UNSET  # always refused


# ------------------------------------------------------------------ HTTP consumers

def _fold(body: dict, alias: str, name: str, path: str = "") -> dict:
    """`alias` (an earlier name) into `name`; both at once must agree."""
    if alias not in body:
        return body
    folded = {k: v for k, v in body.items() if k != alias}
    if folded.setdefault(name, body[alias]) != body[alias]:
        raise Invalid.field(f"{path}{alias}", f"is an alias of {name} and disagrees with it")
    return folded


def _fold_consumer_aliases(body: dict) -> dict:
    """The E1 names of an HTTP consumer's fields: `ack_wait` for `ack_wait_ms`, and in `filters` `resource_id`
    for `sync_id` (the stream-apis pages' create example)."""
    body = _fold(body, "ack_wait", "ack_wait_ms")
    if isinstance(body.get("filters"), dict):
        body = {**body, "filters": _fold(body["filters"], "resource_id", "sync_id", "filters.")}
    return body


@dataclass(frozen=True)
class NewConsumer:
    SCHEMA: ClassVar[str] = "HttpConsumerCreate"
    deliver_policy: str
    ack_wait_ms: int
    max_deliver: int
    max_ack_pending: int
    filters: dict
    metadata: dict
    kind: str  # records or events
    stream_id: str | None = None  # None: the default stream
    name: str | None = None
    normalize = staticmethod(_fold_consumer_aliases)


@dataclass(frozen=True)
class ConsumerChanges:
    SCHEMA: ClassVar[str] = "HttpConsumerUpdate"
    name: str | Unset = UNSET
    deliver_policy: str | Unset = UNSET
    ack_wait_ms: int | Unset = UNSET
    max_deliver: int | Unset = UNSET
    max_ack_pending: int | Unset = UNSET
    filters: dict | Unset = UNSET
    metadata: dict | Unset = UNSET
    stream_id: str | Unset = UNSET  # immutable: accepted only with its current value
    normalize = staticmethod(_fold_consumer_aliases)


# ------------------------------------------------------------------ Postgres targets and consumers

@dataclass(frozen=True)
class NewPostgresTarget:
    SCHEMA: ClassVar[str] = "PostgresTargetCreate"
    name: str
    connection: dict
    metadata: dict
    ssh_tunnel_id: str | None = None


@dataclass(frozen=True)
class PostgresTargetChanges:
    SCHEMA: ClassVar[str] = "PostgresTargetUpdate"
    name: str | Unset = UNSET
    connection: dict | Unset = UNSET  # only the fields given change
    ssh_tunnel_id: str | None | Unset = UNSET
    metadata: dict | Unset = UNSET


@dataclass(frozen=True)
class NewPostgresConsumer:
    SCHEMA: ClassVar[str] = "PostgresConsumerCreate"
    name: str
    target_id: str
    syncs: list[str]
    active: bool
    table_name: str
    metadata: dict


@dataclass(frozen=True)
class PostgresConsumerChanges:
    SCHEMA: ClassVar[str] = "PostgresConsumerUpdate"
    name: str | Unset = UNSET
    target_id: str | Unset = UNSET  # immutable: accepted only with its current value
    syncs: list[str] | Unset = UNSET
    active: bool | Unset = UNSET
    table_name: str | Unset = UNSET  # immutable, as target_id
    metadata: dict | Unset = UNSET


@dataclass(frozen=True)
class PostgresConsumerWait:
    SCHEMA: ClassVar[str] = "AwaitPostgresConsumer"
    timeout_ms: int


# ------------------------------------------------------------------ webhook consumers

@dataclass(frozen=True)
class NewWebhookConsumer:
    SCHEMA: ClassVar[str] = "WebhookConsumerCreate"
    name: str
    url: str
    kind: str
    filters: dict
    start: str
    timeout_ms: int
    max_in_flight: int
    active: bool
    metadata: dict


@dataclass(frozen=True)
class WebhookConsumerChanges:
    SCHEMA: ClassVar[str] = "WebhookConsumerUpdate"
    name: str | Unset = UNSET
    url: str | Unset = UNSET
    kind: str | Unset = UNSET  # immutable: accepted only with its current value
    filters: dict | Unset = UNSET
    start: str | Unset = UNSET  # immutable, as kind
    timeout_ms: int | Unset = UNSET
    max_in_flight: int | Unset = UNSET
    active: bool | Unset = UNSET
    metadata: dict | Unset = UNSET


# ------------------------------------------------------------------ writes to streams and upstream accounts

@dataclass(frozen=True)
class AppendedRecord:
    collection_id: str
    upstream_id: str
    deleted: bool
    data: dict


@dataclass(frozen=True)
class RecordsAppend:
    SCHEMA: ClassVar[str] = "RecordAppend"
    sync_id: str
    records: list[AppendedRecord]


@dataclass(frozen=True)
class Mutation:
    SCHEMA: ClassVar[str] = "MutationRequest"
    kind: str  # create | update | delete: the Mutation API's words (upstream: insert | update | delete)
    sync_id: str
    collection_id: str
    await_consumer_ids: list[str]
    await_consumers_timeout: int
    records: list[dict] | None = None
    upstream_ids: list[str] | None = None


@dataclass(frozen=True)
class UpstreamChange:
    SCHEMA: ClassVar[str] = "UpstreamChange"
    kind: str  # insert | update | delete
    collection_id: str
    data: dict
    upstream_id: str | None = None  # None on an insert: the provider makes one up


@dataclass(frozen=True)
class UpstreamSettingsChanges:
    SCHEMA: ClassVar[str] = "UpstreamSettings"
    records_per_collection: int | Unset = UNSET
    history_days: int | Unset = UNSET
    changes_per_hour: float | Unset = UNSET
    outage: bool | Unset = UNSET
    error_rate: float | Unset = UNSET
    revoked: bool | Unset = UNSET
    throttle: bool | Unset = UNSET


# ------------------------------------------------------------------ the OAuth link flow

@dataclass(frozen=True)
class StartAuth:
    SCHEMA: ClassVar[str] = "StartAuth"
    oauth_app_id: str
    credential_kind: str
    redirect_url: str
    state: Any = None


@dataclass(frozen=True)
class CodeExchange:
    SCHEMA: ClassVar[str] = "CodeExchange"
    code: str
    client_id: str
    client_secret: str
