"""One small function per operation: take the validated call, ask the domain, return what to render.

A handler returns `(status, payload)` or a Response; the app refuses to start if an operation has no handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from sequin_emulator import __version__, scenario, sliced_json
from sequin_emulator.api import problems, provider_api, views
from sequin_emulator.api.generation import account_ready
from sequin_emulator.domain import (
    accounts,
    catalog,
    collections,
    consumers,
    credentials,
    engine,
    inputs,
    mutations,
    oauth_apps,
    oauth_flow,
    postgres,
    snapshot,
    stream_reads,
    streams,
    syncs,
    upstream_writes,
    webhooks,
)
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.models import Sync, WebhookConsumer
from sequin_emulator.domain.records import RecordVersion
from sequin_emulator.domain.store import metadata_matches
from sequin_emulator.domain.stream_events import Event
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.timefmt import advanced, format_micros, parse_clock_time
from sequin_emulator.spec.bodies import parse, with_defaults

T = TypeVar("T")


@dataclass
class Call:
    tenants: Tenants
    caller: Tenant | None  # None only on the operations the spec leaves unsecured (health, the OAuth link)
    params: dict[str, Any]
    body: Any
    request: Request
    exclusive: Callable[[str], AbstractAsyncContextManager[None]]  # hold the tenant's other requests back (see Turns)

    @property
    def tenant(self) -> Tenant:
        """The caller's tenant, for every secured operation (the pipeline authenticated it)."""
        assert self.caller is not None, "an unsecured operation asked for the caller's tenant"
        return self.caller

    def input(self, cls: type[T]) -> T:
        """The body as the domain's typed input, the spec's defaults filled in."""
        return parse(cls, self.body)


ADVANCE_SLICE = 100  # engine steps (~20 ms) between two chances for other clients to be answered


async def _advance(call: Call, to: int) -> None:
    """Move the tenant's clock to `to` in slices, answering other clients in between; the tenant's own other
    requests wait until it is done."""
    tenant = call.tenant
    async with call.exclusive(tenant.token):
        steps = engine.Steps()
        while not engine.run_contained(tenant, to, steps, limit=ADVANCE_SLICE):
            await asyncio.sleep(0)
        engine.set_clock(tenant, to)


Reply = tuple[int, Any]
Handler = Callable[[Call], Reply | Response | Awaitable[Reply | Response]]
HANDLERS: dict[str, Handler] = {}
H = TypeVar("H", bound=Handler)


def operation(operation_id: str) -> Callable[[H], H]:
    """Register the decorated function as the handler of the spec's operation `operation_id`."""
    def register(fn: H) -> H:
        HANDLERS[operation_id] = fn
        return fn
    return register


def _dig(view: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        view = view.get(key) if isinstance(view, dict) else None
    return view


def filtered(items: list[dict], params: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict:
    """The list envelope of the rendered `items` matching every filter in `params` (dotted paths allowed)."""
    wanted = {k: v for k, v in params.items() if k not in ignore and k != "metadata"}
    return views.listing([item for item in items
                          if metadata_matches(item.get("metadata", {}), params.get("metadata"))
                          and all(_dig(item, k) == v for k, v in wanted.items())])


# ---------------------------------------------------------------- management resources
# One named handler per operation, each a line of domain call and view; lists filter what the views rendered.

@operation("createStream")
def create_stream(call: Call) -> Reply:
    return 200, views.stream(call.tenant, streams.create(call.tenant, call.input(inputs.NewStream)))


@operation("listStreams")
def list_streams(call: Call) -> Reply:
    return 200, filtered([views.stream(call.tenant, s) for s in call.tenant.streams.newest_first()], call.params)


@operation("getStream")
def get_stream(call: Call) -> Reply:
    return 200, views.stream(call.tenant, call.tenant.streams.get(call.params["id"]))


@operation("updateStream")
def update_stream(call: Call) -> Reply:
    return 200, views.stream(call.tenant, streams.update(call.tenant, call.params["id"], call.input(inputs.StreamChanges)))


@operation("deleteStream")
def delete_stream(call: Call) -> Reply:
    return 200, views.deleted(streams.delete(call.tenant, call.params["id"]).id)


@operation("importCredential")
def import_credential(call: Call) -> Reply:
    return 200, views.credential(call.tenant, credentials.import_(call.tenant, call.input(inputs.CredentialImport)))


@operation("listCredentials")
def list_credentials(call: Call) -> Reply:
    return 200, filtered([views.credential(call.tenant, c) for c in call.tenant.credentials.newest_first()],
                         call.params)


@operation("getCredential")
def get_credential(call: Call) -> Reply:
    return 200, views.credential(call.tenant, call.tenant.credentials.get(call.params["id"]))


@operation("updateCredential")
def update_credential(call: Call) -> Reply:
    changes = call.input(inputs.CredentialChanges)
    return 200, views.credential(call.tenant, credentials.update(call.tenant, call.params["id"], changes))


@operation("deleteCredential")
def delete_credential(call: Call) -> Reply:
    return 200, views.deleted(credentials.delete(call.tenant, call.params["id"]).id)


@operation("createOAuthApp")
def create_oauth_app(call: Call) -> Reply:
    return 200, views.oauth_app(oauth_apps.create(call.tenant, call.input(inputs.NewOAuthApp)))


@operation("listOAuthApps")
def list_oauth_apps(call: Call) -> Reply:
    """Like the other lists, plus `truncate_secrets=false`, which reveals the client secrets."""
    reveal = not call.params["truncate_secrets"]
    items = [views.oauth_app(a, reveal_secret=reveal) for a in call.tenant.oauth_apps.newest_first()]
    return 200, filtered(items, call.params, ignore=("truncate_secrets",))


@operation("getOAuthApp")
def get_oauth_app(call: Call) -> Reply:
    return 200, views.oauth_app(call.tenant.oauth_apps.get(call.params["id"]))


@operation("updateOAuthApp")
def update_oauth_app(call: Call) -> Reply:
    return 200, views.oauth_app(oauth_apps.update(call.tenant, call.params["id"], call.input(inputs.OAuthAppChanges)))


@operation("deleteOAuthApp")
def delete_oauth_app(call: Call) -> Reply:
    return 200, views.deleted(oauth_apps.delete(call.tenant, call.params["id"]).id)


def _sync(tenant: Tenant, sync: Sync) -> dict:
    return views.sync(tenant, sync, engine.sync_health(tenant, sync))


@operation("createSync")
def create_sync(call: Call) -> Reply:
    return 200, _sync(call.tenant, syncs.create(call.tenant, call.input(inputs.NewSync)))


@operation("listSyncs")
def list_syncs(call: Call) -> Reply:
    """Like the other lists; `health.status=ok` (the getting-started page's word) means `healthy`."""
    params = dict(call.params)
    if params.get("health.status") == "ok":
        params["health.status"] = "healthy"
    return 200, filtered([_sync(call.tenant, s) for s in call.tenant.syncs.newest_first()], params)


@operation("getSync")
def get_sync(call: Call) -> Reply:
    return 200, _sync(call.tenant, call.tenant.syncs.get(call.params["id"]))


@operation("updateSync")
def update_sync(call: Call) -> Reply:
    return 200, _sync(call.tenant, syncs.update(call.tenant, call.params["id"], call.input(inputs.SyncChanges)))


@operation("deleteSync")
def delete_sync(call: Call) -> Reply:
    return 200, views.deleted(syncs.delete(call.tenant, call.params["id"]).id)


@operation("createHttpConsumer")
def create_http_consumer(call: Call) -> Reply:
    return 200, views.http_consumer(consumers.create(call.tenant, call.input(inputs.NewConsumer)))


@operation("listHttpConsumers")
def list_http_consumers(call: Call) -> Reply:
    return 200, filtered([views.http_consumer(c) for c in call.tenant.consumers.newest_first()], call.params)


@operation("getHttpConsumer")
def get_http_consumer(call: Call) -> Reply:
    return 200, views.http_consumer(call.tenant.consumers.get(call.params["id"]))


@operation("updateHttpConsumer")
def update_http_consumer(call: Call) -> Reply:
    return 200, views.http_consumer(consumers.update(call.tenant, call.params["id"], call.input(inputs.ConsumerChanges)))


@operation("deleteHttpConsumer")
def delete_http_consumer(call: Call) -> Reply:
    return 200, views.deleted(consumers.delete(call.tenant, call.params["id"]).id)


@operation("createPostgresTarget")
@operation("createDbPostgresTarget")
def create_postgres_target(call: Call) -> Reply:
    return 200, views.postgres_target(postgres.create_target(call.tenant, call.input(inputs.NewPostgresTarget)))


@operation("listPostgresTargets")
@operation("listDbPostgresTargets")
def list_postgres_targets(call: Call) -> Reply:
    return 200, filtered([views.postgres_target(t) for t in call.tenant.targets.newest_first()], call.params)


@operation("getPostgresTarget")
@operation("getDbPostgresTarget")
def get_postgres_target(call: Call) -> Reply:
    return 200, views.postgres_target(call.tenant.targets.get(call.params["id"]))


@operation("updatePostgresTarget")
@operation("updateDbPostgresTarget")
def update_postgres_target(call: Call) -> Reply:
    changes = call.input(inputs.PostgresTargetChanges)
    return 200, views.postgres_target(postgres.update_target(call.tenant, call.params["id"], changes))


@operation("deletePostgresTarget")
@operation("deleteDbPostgresTarget")
def delete_postgres_target(call: Call) -> Reply:
    return 200, views.deleted(postgres.delete_target(call.tenant, call.params["id"]).id)


@operation("createPostgresConsumer")
def create_postgres_consumer(call: Call) -> Reply:
    return 200, views.postgres_consumer(postgres.create_consumer(call.tenant, call.input(inputs.NewPostgresConsumer)))


@operation("listPostgresConsumers")
def list_postgres_consumers(call: Call) -> Reply:
    sync_id = call.params.get("sync_id")
    found = [c for c in call.tenant.postgres_consumers.newest_first() if sync_id is None or c.covers(sync_id)]
    return 200, filtered([views.postgres_consumer(c) for c in found], call.params, ignore=("sync_id",))


@operation("getPostgresConsumer")
def get_postgres_consumer(call: Call) -> Reply:
    return 200, views.postgres_consumer(call.tenant.postgres_consumers.get(call.params["id"]))


@operation("updatePostgresConsumer")
def update_postgres_consumer(call: Call) -> Reply:
    changes = call.input(inputs.PostgresConsumerChanges)
    return 200, views.postgres_consumer(postgres.update_consumer(call.tenant, call.params["id"], changes))


@operation("deletePostgresConsumer")
def delete_postgres_consumer(call: Call) -> Reply:
    return 200, views.deleted(postgres.delete_consumer(call.tenant, call.params["id"]).id)


def _webhook_consumer(consumer: WebhookConsumer, reveal_secret: bool = False) -> dict:
    return views.webhook_consumer(consumer, webhooks.progress(consumer), reveal_secret)


@operation("createWebhookConsumer")
def create_webhook_consumer(call: Call) -> Reply:
    consumer = webhooks.create(call.tenant, call.input(inputs.NewWebhookConsumer))
    return 200, _webhook_consumer(consumer, reveal_secret=True)


@operation("listWebhookConsumers")
def list_webhook_consumers(call: Call) -> Reply:
    return 200, filtered([_webhook_consumer(c) for c in call.tenant.webhook_consumers.newest_first()], call.params)


@operation("getWebhookConsumer")
def get_webhook_consumer(call: Call) -> Reply:
    return 200, _webhook_consumer(call.tenant.webhook_consumers.get(call.params["id"]))


@operation("updateWebhookConsumer")
def update_webhook_consumer(call: Call) -> Reply:
    changes = call.input(inputs.WebhookConsumerChanges)
    return 200, _webhook_consumer(webhooks.update(call.tenant, call.params["id"], changes))


@operation("deleteWebhookConsumer")
def delete_webhook_consumer(call: Call) -> Reply:
    return 200, views.deleted(webhooks.delete(call.tenant, call.params["id"]).id)


@operation("startAuth")
def start_auth(call: Call) -> Reply:
    token = oauth_flow.start(call.tenants, call.tenant, call.input(inputs.StartAuth))
    return 200, {"start_url": _own_url(call.request, call.request.app.url_path_for("openAuthLink", token=token))}


def _own_url(request: Request, path: str) -> str:
    """An absolute URL on this server, built from the address the request arrived at, never from its `Host`
    header: a client chooses that, and could make the link point anywhere."""
    host, port = request.scope.get("server") or ("127.0.0.1", 7376)
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{port}{path}"


@operation("openAuthLink")
def open_auth_link(call: Call) -> Response:
    return RedirectResponse(oauth_flow.consent(call.tenants, call.params["token"]), status_code=302)


@operation("exchangeCode")
def exchange_code(call: Call) -> Reply:
    return 200, oauth_flow.exchange(call.tenants, call.input(inputs.CodeExchange))


# ---------------------------------------------------------------- collections

@operation("listCollections")
def list_collections(call: Call) -> Reply:
    return 200, views.listing(collections.list_for(call.tenant, call.params["credential_id"]))


@operation("getCollection")
def get_collection(call: Call) -> Reply:
    return 200, collections.get(call.tenant, call.params["credential_id"], call.params["collection_id"])


def _refresh(status: dict) -> dict:
    return {**status, **{k: format_micros(status[k]) for k in ("last_started_at", "last_succeeded_at")}}


@operation("startCollectionsRefresh")
def start_collections_refresh(call: Call) -> Reply:
    return 200, _refresh(collections.start_refresh(call.tenant, call.params["credential_id"]))


@operation("getCollectionsRefreshStatus")
def get_collections_refresh_status(call: Call) -> Reply:
    return 200, _refresh(collections.refresh_status(call.tenant, call.params["credential_id"]))


# ---------------------------------------------------------------- consume

def _message(token: str, entry: RecordVersion | Event) -> bytes:
    if isinstance(entry, Event):
        return b'{"ack_token":"%s","event":%s}' % (token.encode(), orjson.dumps(entry.as_json()))
    return b'{"ack_token":"%s","record":%s}' % (token.encode(), entry.payload)


def _messages_json(messages: list, info: dict) -> Response:
    """The `next` answer, assembled from each record's JSON as it was serialized when written."""
    items = b",".join(_message(token, entry) for token, entry in messages)
    return Response(b'{"data":[' + items + b'],"info":' + orjson.dumps(info) + b"}", media_type="application/json")


async def wait_until(tenant: Tenant, done: Callable[[], bool], timeout_ms: int,
                 wake_at: Callable[[], int | None] = lambda: None) -> bool:
    """Wait until `done()` or `timeout_ms` pass; returns `done()`.

    Sleeps until the tenant signals a change (a write, an ack, a nack, a clock change) or the emulator time
    `wake_at()` comes round (an ack deadline); it never polls in a loop.
    """
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout_ms / 1000
    woken = asyncio.Event()
    tenant.listeners.add(woken.set)
    try:
        while not done():
            if tenant.stop_waiting:  # reset or imported meanwhile, or the server is stopping: answer now
                return False
            timeout = give_up - loop.time()
            if timeout <= 0:
                return False
            moment, rate = wake_at(), tenant.clock.rate
            if moment is not None and rate > 0:
                timeout = min(timeout, max(0.0, (moment - tenant.now()) / 1e6 / rate) + 0.001)
            woken.clear()
            try:
                await asyncio.wait_for(woken.wait(), timeout)
            except TimeoutError:
                engine.catch_up(tenant)
        return True
    finally:
        tenant.listeners.discard(woken.set)


async def _receive(call: Call, options: dict) -> Response:
    """`next`, by GET (options in the query) or POST (in the body); the spec's defaults are filled in."""
    tenant, consumer_id, batch_size = call.tenant, call.params["id"], options["batch_size"]
    if options["wait_for"] > 0:
        await wait_until(tenant, lambda: consumers.available(tenant, consumer_id) >= batch_size, options["wait_for"],
                     lambda: consumers.next_deadline(tenant, consumer_id))
        tenant = call.tenants.get(tenant.token)  # a reset or an import meanwhile: answer from the new state
    return _messages_json(*consumers.receive(tenant, consumer_id, batch_size))


@operation("nextMessages")
async def next_messages(call: Call) -> Response:
    return await _receive(call, call.params)


NEXT_REQUEST = "#/components/schemas/NextRequest"


@operation("receiveMessages")
async def receive_messages(call: Call) -> Response:
    return await _receive(call, with_defaults(NEXT_REQUEST, call.body))


@operation("ackMessages")
def ack_messages(call: Call) -> Reply:
    consumers.ack(call.tenant, call.params["id"], call.body["ack_tokens"])
    return 204, None


@operation("nackMessages")
def nack_messages(call: Call) -> Reply:
    consumers.nack(call.tenant, call.params["id"], call.body["ack_tokens"])
    return 204, None


# ---------------------------------------------------------------- E1 reads

def _read_filters(call: Call) -> stream_reads.ReadFilters:
    return stream_reads.ReadFilters(**{name: call.params.get(name)
                                       for name in ("sync_id", "provider", "collection_id", "collection")})


def _page_json(name: bytes, items: list[bytes], last_idx: int | None) -> Response:
    cursor = b"null" if last_idx is None else b'"%s"' % stream_reads.encode_cursor(last_idx).encode()
    return Response(b'{"%s":[%s],"cursor":%s}' % (name, b",".join(items), cursor), media_type="application/json")


@operation("listRecords")
def list_records(call: Call) -> Response:
    page = stream_reads.records(call.tenant, _read_filters(call), call.params.get("after_cursor"),
                                call.params["limit"])
    # each record's JSON as written, with `created_at` in front
    items = [b'{"created_at":"%s",%s' % (format_micros(inserted_at).encode(), version.payload[1:])
             for inserted_at, version in page]
    return _page_json(b"records", items, page[-1][1].idx if page else None)


@operation("listEvents")
def list_events(call: Call) -> Response:
    page = stream_reads.events(call.tenant, _read_filters(call), call.params.get("after_cursor"), call.params["limit"])
    return _page_json(b"events", [orjson.dumps(event.as_json()) for event in page], page[-1].idx if page else None)


@operation("getEvent")
def get_event(call: Call) -> Reply:
    return 200, stream_reads.event(call.tenant, call.params["event_id"]).as_json()


# ---------------------------------------------------------------- mutations

@operation("runMutation")
async def run_mutation(call: Call) -> Reply:
    mutation = call.input(inputs.Mutation)
    versions = mutations.run(call.tenant, mutation)
    awaited, timeout = mutation.await_consumer_ids, mutation.await_consumers_timeout
    if awaited and not await wait_until(call.tenant, lambda: mutations.awaited(call.tenant, awaited, versions), timeout):
        raise problems.awaited_consumers_late("the emulator is stopping" if call.tenants.stopping
                                              else f"within {timeout} ms")
    return 200, {"records": [version.record for version in versions]}


# ---------------------------------------------------------------- control plane

@operation("awaitPostgresConsumer")
async def await_postgres_consumer(call: Call) -> Reply:
    """Wait until the writer has committed everything the consumer covers (or the time is up)."""
    tenant, consumer_id = call.tenant, call.params["id"]
    tenant.postgres_consumers.get(consumer_id)
    timeout = call.input(inputs.PostgresConsumerWait).timeout_ms

    def caught_up() -> bool:
        consumer = tenant.postgres_consumers.find(consumer_id)
        return consumer is not None and consumer.active and postgres.caught_up(tenant, consumer)

    done = await wait_until(tenant, caught_up, timeout)
    tenant = call.tenants.get(tenant.token)  # a reset or an import meanwhile: answer from the new state
    consumer = tenant.postgres_consumers.get(consumer_id)
    return 200, {"caught_up": done, "pending": postgres.pending(tenant, consumer),
                 "health": views.health(consumer.health)}


@operation("emulatorHealth")
def emulator_health(call: Call) -> Reply:
    return 200, {"status": "ok", "version": __version__}


@operation("resetTenant")
def reset_tenant(call: Call) -> Reply:
    tenant = call.tenants.reset(call.tenant.token)
    return 200, {"org_id": tenant.org_id, "reset": True}


def _clock(tenant: Tenant) -> dict:
    clock = tenant.clock
    return {"mode": clock.mode, "now": format_micros(clock.now()), "scale": clock.scale}


@operation("getClock")
def get_clock(call: Call) -> Reply:
    return 200, _clock(call.tenant)


@operation("setClock")
async def set_clock(call: Call) -> Reply:
    body = call.body
    try:
        now = parse_clock_time(body["now"]) if "now" in body else None
    except ValueError as exc:
        raise Invalid.field("now", str(exc)) from None
    if now is not None and now < call.tenant.clock.now():
        raise Invalid.field("now", "is before the clock's current time; the clock never goes backwards")
    if now is not None:
        await _advance(call, now)
    call.tenant.clock.set(mode=body.get("mode"), scale=body.get("scale"))
    call.tenant.notify()
    return 200, _clock(call.tenant)


@operation("advanceClock")
async def advance_clock(call: Call) -> Reply:
    try:
        to = advanced(call.tenant.now(), call.body["by"])
    except ValueError as exc:
        raise Invalid.field("by", str(exc)) from None
    await _advance(call, to)
    return 200, _clock(call.tenant)


@operation("injectUpstreamChange")
def inject_upstream_change(call: Call) -> Reply:
    request = call.input(inputs.UpstreamChange)
    change = upstream_writes.inject(call.tenant, call.params["credential_id"], request)
    return 200, {"kind": change.kind, "collection_id": request.collection_id, "upstream_id": change.id,
                 "deleted": change.snapshot.deleted, "data": change.snapshot.data}


@operation("listUpstreamRecords")
def list_upstream_records(call: Call) -> Reply:
    return 200, views.listing(upstream_writes.live_objects(call.tenant, call.params["credential_id"],
                                                           call.params["collection_id"]))


@operation("getUpstreamAccount")
async def get_upstream_account(call: Call) -> Reply:
    credential = call.tenant.credentials.get(call.params["credential_id"])
    await account_ready(call.tenant, credential, call.exclusive)
    simulated = catalog.simulated(credential.provider) is not None
    account = accounts.account_for(call.tenant, credential) if simulated else None
    settings = account.settings.as_dict() if account is not None else call.tenant.account_defaults.as_dict()
    base = str(call.request.base_url).rstrip("/")
    return 200, {"credential_id": credential.id, "provider": credential.provider, "settings": settings,
                 "api_base": f"{base}{provider_api.api_path(call.tenant, credential)}" if simulated else None,
                 "app": account.provider.app(account) if account is not None else None}


@operation("setUpstreamSettings")
async def set_upstream_settings(call: Call) -> Reply:
    """A new account is made with these settings, in slices; an existing one takes the rates and faults."""
    credential = call.tenant.credentials.get(call.params["credential_id"])
    changes = call.input(inputs.UpstreamSettingsChanges)
    await account_ready(call.tenant, credential, call.exclusive, changes)
    return 200, accounts.configure(call.tenant, credential, changes).as_dict()


@operation("appendStreamRecords")
def append_stream_records(call: Call) -> Reply:
    written = streams.append(call.tenant, call.params["id"], call.input(inputs.RecordsAppend))
    return 200, views.listing([version.record for version in written])


@operation("loadScenario")
async def load_scenario(call: Call) -> Reply:
    """A scenario's clock moves go the way `advanceClock`'s do: in slices, a failing engine contained."""
    loading = scenario.applying(call.tenant, call.body)
    try:
        while True:
            await _advance(call, next(loading))
    except StopIteration as done:
        return 200, done.value


@operation("exportState")
def export_state(call: Call) -> Response:
    """Streamed as it is encoded, in slices, while the tenant's other requests wait: a large account's export
    (hundreds of MB) neither holds every other tenant back, nor is copied whole, nor changes while it is read."""
    tenant, exclusive = call.tenant, call.exclusive

    async def body() -> AsyncIterator[bytes]:
        async with exclusive(tenant.token):
            async for chunk in sliced_json.chunks(snapshot.export(tenant)):
                yield chunk

    return StreamingResponse(body(), media_type="application/json")


@operation("importState")
def import_state(call: Call) -> Reply:
    tenant = snapshot.restore(call.tenants, call.tenant.token, call.body)
    return 200, {"org_id": tenant.org_id, "imported": True}


@operation("getJournal")
def get_journal(call: Call) -> Reply:
    wanted = {key: call.params[f"webhook_{key}"] for key in ("consumer_id", "endpoint_id")
              if call.params.get(f"webhook_{key}") is not None}
    entries = [e for e in reversed(call.tenant.journal)
               if all(e.get("webhook", {}).get(key) == value for key, value in wanted.items())]
    return 200, views.listing(entries[: call.params["limit"]])


def _faults(tenant: Tenant) -> dict:
    return {"api_rate_limit": tenant.faults.api_rate_limit, "latency_ms": tenant.faults.latency_ms}


@operation("getFaults")
def get_faults(call: Call) -> Reply:
    return 200, _faults(call.tenant)


@operation("setFaults")
def set_faults(call: Call) -> Reply:
    for key, value in call.body.items():
        setattr(call.tenant.faults, key, value)
    return 200, _faults(call.tenant)
