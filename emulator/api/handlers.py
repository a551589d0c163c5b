"""One small function per operation: take the validated call, ask the domain, return what to render.

A handler returns `(status, payload)`; operations without a handler answer 501 until their issue lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emulator import __version__
from emulator.api import views
from emulator.domain import consumers, credentials, oauth_apps, oauth_flow, streams, syncs
from emulator.domain.errors import Invalid
from emulator.domain.store import metadata_matches
from emulator.domain.tenant import Tenant, Tenants
from emulator.domain.timefmt import format_micros, parse_duration, parse_timestamp


@dataclass
class Call:
    tenants: Tenants
    tenant: Tenant | None
    params: dict[str, Any]
    body: Any
    request: Request


Reply = tuple[int, Any]
HANDLERS: dict[str, Callable[[Call], Reply]] = {}


def operation(operation_id: str):
    def register(fn: Callable[[Call], Reply]) -> Callable[[Call], Reply]:
        HANDLERS[operation_id] = fn
        return fn
    return register


def _dig(view: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        view = view.get(key) if isinstance(view, dict) else None
    return view


def filtered(items: list[dict], params: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict:
    """The list envelope of the rendered `items` matching every filter in `params` (dotted paths allowed)."""
    wanted = {k: v for k, v in params.items() if k not in ignore and k != "metadata"}
    return views.listing([item for item in items
                          if metadata_matches(item["metadata"], params.get("metadata"))
                          and all(_dig(item, k) == v for k, v in wanted.items())])


# ---------------------------------------------------------------- streams

@operation("createStream")
def create_stream(call: Call) -> Reply:
    return 200, views.stream(call.tenant, streams.create(call.tenant, call.body))


@operation("listStreams")
def list_streams(call: Call) -> Reply:
    return 200, views.listing([views.stream(call.tenant, s) for s in call.tenant.streams.newest_first()])


@operation("getStream")
def get_stream(call: Call) -> Reply:
    return 200, views.stream(call.tenant, call.tenant.streams.get(call.params["id"]))


@operation("updateStream")
def update_stream(call: Call) -> Reply:
    return 200, views.stream(call.tenant, streams.update(call.tenant, call.params["id"], call.body))


@operation("deleteStream")
def delete_stream(call: Call) -> Reply:
    return 200, views.deleted(streams.delete(call.tenant, call.params["id"]).id)


# ---------------------------------------------------------------- credentials

@operation("importCredential")
def import_credential(call: Call) -> Reply:
    return 200, views.credential(call.tenant, credentials.import_(call.tenant, call.body))


@operation("listCredentials")
def list_credentials(call: Call) -> Reply:
    items = [views.credential(call.tenant, c) for c in call.tenant.credentials.newest_first()]
    return 200, filtered(items, call.params)


@operation("getCredential")
def get_credential(call: Call) -> Reply:
    return 200, views.credential(call.tenant, call.tenant.credentials.get(call.params["id"]))


@operation("updateCredential")
def update_credential(call: Call) -> Reply:
    return 200, views.credential(call.tenant, credentials.update(call.tenant, call.params["id"], call.body))


@operation("deleteCredential")
def delete_credential(call: Call) -> Reply:
    return 200, views.deleted(credentials.delete(call.tenant, call.params["id"]).id)


@operation("startAuth")
def start_auth(call: Call) -> Reply:
    token = oauth_flow.start(call.tenants, call.tenant, call.body)
    return 200, {"start_url": str(call.request.url_for("openAuthLink", token=token))}


@operation("openAuthLink")
def open_auth_link(call: Call) -> Response:
    return RedirectResponse(oauth_flow.consent(call.tenants, call.params["token"]), status_code=302)


@operation("exchangeCode")
def exchange_code(call: Call) -> Reply:
    return 200, oauth_flow.exchange(call.tenants, call.body)


# ---------------------------------------------------------------- oauth apps

@operation("createOAuthApp")
def create_oauth_app(call: Call) -> Reply:
    return 200, views.oauth_app(oauth_apps.create(call.tenant, call.body))


@operation("listOAuthApps")
def list_oauth_apps(call: Call) -> Reply:
    reveal = call.params.get("truncate_secrets") is False
    items = [views.oauth_app(a, reveal_secret=reveal) for a in call.tenant.oauth_apps.newest_first()]
    return 200, filtered(items, call.params, ignore=("truncate_secrets",))


@operation("getOAuthApp")
def get_oauth_app(call: Call) -> Reply:
    return 200, views.oauth_app(call.tenant.oauth_apps.get(call.params["id"]))


@operation("updateOAuthApp")
def update_oauth_app(call: Call) -> Reply:
    return 200, views.oauth_app(oauth_apps.update(call.tenant, call.params["id"], call.body))


@operation("deleteOAuthApp")
def delete_oauth_app(call: Call) -> Reply:
    return 200, views.deleted(oauth_apps.delete(call.tenant, call.params["id"]).id)


# ---------------------------------------------------------------- syncs

@operation("createSync")
def create_sync(call: Call) -> Reply:
    return 200, views.sync(call.tenant, syncs.create(call.tenant, call.body))


@operation("listSyncs")
def list_syncs(call: Call) -> Reply:
    return 200, filtered([views.sync(call.tenant, s) for s in call.tenant.syncs.newest_first()], call.params)


@operation("getSync")
def get_sync(call: Call) -> Reply:
    return 200, views.sync(call.tenant, call.tenant.syncs.get(call.params["id"]))


@operation("updateSync")
def update_sync(call: Call) -> Reply:
    return 200, views.sync(call.tenant, syncs.update(call.tenant, call.params["id"], call.body))


@operation("deleteSync")
def delete_sync(call: Call) -> Reply:
    return 200, views.deleted(syncs.delete(call.tenant, call.params["id"]).id)


# ---------------------------------------------------------------- http consumers

@operation("createHttpConsumer")
def create_http_consumer(call: Call) -> Reply:
    return 200, views.http_consumer(consumers.create(call.tenant, call.body))


@operation("listHttpConsumers")
def list_http_consumers(call: Call) -> Reply:
    items = [views.http_consumer(c) for c in call.tenant.consumers.newest_first()]
    return 200, filtered(items, call.params)


@operation("getHttpConsumer")
def get_http_consumer(call: Call) -> Reply:
    return 200, views.http_consumer(call.tenant.consumers.get(call.params["id"]))


@operation("updateHttpConsumer")
def update_http_consumer(call: Call) -> Reply:
    return 200, views.http_consumer(consumers.update(call.tenant, call.params["id"], call.body))


@operation("deleteHttpConsumer")
def delete_http_consumer(call: Call) -> Reply:
    return 200, views.deleted(consumers.delete(call.tenant, call.params["id"]).id)


# ---------------------------------------------------------------- control plane

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
def set_clock(call: Call) -> Reply:
    body = call.body
    try:
        now = parse_timestamp(body["now"]) if "now" in body else None
    except ValueError:
        raise Invalid.field("now", "is not a real date and time") from None
    if now is not None and now < call.tenant.clock.now():
        raise Invalid.field("now", "is before the clock's current time; the clock never goes backwards")
    call.tenant.clock.set(mode=body.get("mode"), scale=body.get("scale"), now=now)
    return 200, _clock(call.tenant)


@operation("advanceClock")
def advance_clock(call: Call) -> Reply:
    call.tenant.clock.advance(parse_duration(call.body["by"]))
    return 200, _clock(call.tenant)


@operation("getJournal")
def get_journal(call: Call) -> Reply:
    entries = list(call.tenant.journal)[::-1][: call.params.get("limit", 100)]
    return 200, views.listing(entries)


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
