"""The simulated accounts' own APIs over HTTP, for the providers' official SDKs:
`/_providers/{org_id}/{credential_id}/{provider}/...` answers as that provider does, e.g.
`stripe.StripeClient(key, base_addresses={"api": ".../stripe"})`, `hubspot.HubSpot(access_token=token,
host=".../hubspot")`.

This layer is the same for every provider: it finds the documented operation (`openapi/providers.yaml`; an
undocumented path is a 404, an unserved method a 405 with `Allow`), the account, checks the caller's key against
the credential's own, applies the account's faults (`outage` → 500, `revoked` → 401, `throttle` → 429 with
Retry-After, `error_rate` → that share of 500s) and hands the call to the provider's wire API
(`sequin_emulator.providers.wire`), which answers in the provider's encoding and envelope.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import cast
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sequin_emulator.api.generation import account_ready
from sequin_emulator.domain import accounts, catalog, engine
from sequin_emulator.domain.models import Credential
from sequin_emulator.domain.plugins import ProviderPlugin
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.upstream import Account
from sequin_emulator.providers import document
from sequin_emulator.providers.wire import Refusal, WireAnswer, WireApi, WireCall, masked, presented_key

LOG = logging.getLogger("sequin_emulator.providers")
BODY_LIMIT = 1 << 20
RETRY_AFTER = 1  # seconds, for a throttled account


def api_path(tenant: Tenant, credential: Credential) -> str:
    """Where a credential's account answers its provider's API, below the emulator's base URL: the tenant's org id
    and the credential's id, so an address belongs to one tenant even when two imported the same snapshot."""
    return f"/_providers/{tenant.org_id}/{credential.id}/{credential.provider}"


def _find(tenants: Tenants, org_id: str, credential_id: str, provider: str) -> tuple[Tenant, Credential] | None:
    tenant = tenants.by_org(org_id)
    credential = tenant.credentials.find(credential_id) if tenant is not None else None
    if tenant is None or credential is None or credential.provider != provider:
        return None
    return tenant, credential


FAULTS = {"revoked": (401, "the credential was revoked"), "outage": (500, "the simulated account has an outage"),
          "throttle": (429, "the simulated account is throttled"),
          "error": (500, "an error (the account's error_rate)")}  # an account's fault → (status, reason)


def _tag(request: Request) -> str:
    """The request's tag, for request ids that follow the call order (and draws of the `error_rate` fault)."""
    tenants: Tenants = request.app.state.tenants
    number = next(request.app.state.provider_requests)
    return hashlib.sha256(f"{tenants.seed}|{number}".encode()).hexdigest()


class _Served:
    """What every provider request needs: its tag (for request ids that follow the call order), tenant, account."""

    def __init__(self, request: Request, provider: str) -> None:
        tenants: Tenants = request.app.state.tenants
        self.tenants, self.provider = tenants, provider
        self.tag = _tag(request)
        self.found = _find(tenants, request.path_params["org_id"], request.path_params["credential_id"], provider)

    async def account(self, request: Request, expected: str | None,
                      key_parameter: str | None) -> tuple[Tenant, Credential, Account] | str:
        """The tenant, credential and account, caught up to now, after any clock advance of the tenant's (as for
        `/v1` requests, nobody sees a tenant half-advanced); or why the caller may not use them. The key comes in
        `Authorization`, or in the query parameter `key_parameter` when the operation's security says so."""
        assert self.found is not None
        tenant, credential = self.found
        if key_parameter is not None:
            key = request.query_params.get(key_parameter) or None
            if key is None:
                return f"You did not provide a developer API key (the query parameter {key_parameter})."
        else:
            key = presented_key(request.headers.get("authorization", ""))
        if key is None:
            return "You did not provide an API key or access token (Authorization: Bearer ...)."
        if key != expected:
            return f"Invalid API Key provided: {masked(key)}"
        await request.app.state.turns.wait(tenant.token)
        found = _find(self.tenants, tenant.org_id, credential.id, self.provider)  # a reset or import meanwhile
        if found is None:
            return "The credential was deleted while the request waited."
        tenant, credential = found
        await account_ready(tenant, credential, request.app.state.turns.exclusive)
        engine.catch_up(tenant)
        return tenant, credential, accounts.account_for(tenant, credential)


async def _body(request: Request) -> bytes:
    """The body, read no further than the limit (a larger one is refused before it is all in memory)."""
    if request.method not in ("POST", "PATCH", "PUT"):
        return b""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            raise ValueError(f"The request body is over {BODY_LIMIT} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_handlers() -> None:
    """Refuse to start when a provider's wire API lacks a handler for an operation of its paths in the provider
    document, or has one the document does not list (it could never be reached)."""
    for plugin in catalog.PLUGIN_OF.values():
        wire = cast(WireApi | None, plugin.wire)
        documented = document.operations_of(plugin.name)
        handled = frozenset(wire.handlers) if wire is not None else frozenset()
        if documented != handled:
            raise RuntimeError(f"{plugin.name}: operations of openapi/providers.yaml without a handler: "
                               f"{', '.join(sorted(documented - handled)) or 'none'}; handlers of no operation: "
                               f"{', '.join(sorted(handled - documented)) or 'none'}")


def _response(answer: WireAnswer, retry_after: bool = False) -> Response:
    headers = {**answer.headers, **({"Retry-After": str(RETRY_AFTER)} if retry_after else {})}
    if answer.body is None:
        return Response(status_code=answer.status, headers=headers)
    return Response(answer.body, status_code=answer.status, media_type="application/json", headers=headers)


def _route(plugin: ProviderPlugin, request: Request,
           path: str) -> tuple[WireCall | None, tuple[int, str, Refusal] | None, dict]:
    """The documented operation a request for `path` names (a call without its body and clock yet), or why it
    names none: an undocumented path (404), or a method the path does not serve (405, with `Allow`)."""
    found = document.find(plugin.name, path)
    if found is None:
        return None, (404, f"Unrecognized request URL ({request.method[:10]}: {path[:200]}).", Refusal.ROUTE), {}
    documented, values = found
    allowed = (*documented.methods, "HEAD") if "GET" in documented.methods else documented.methods
    method = "GET" if request.method == "HEAD" and "GET" in documented.methods else request.method
    if method not in documented.operations:
        return None, (405, f"The method {request.method[:10]} is not served for this path (it serves "
                           f"{', '.join(documented.methods)}).", Refusal.METHOD), {"Allow": ", ".join(allowed)}
    call = WireCall(documented.operations[method], method, path, values,
                    parse_qsl(request.url.query, keep_blank_values=True),
                    {k.lower(): v for k, v in request.headers.items()}, b"", 0, "")
    return call, None, {}


async def provider_endpoint(request: Request) -> Response:
    """Any request below a provider's base: routed by the provider document, answered by its wire API."""
    plugin = catalog.plugin(request.path_params["provider"])
    if plugin is None or plugin.wire is None:
        return await unknown_endpoint(request)
    wire = cast(WireApi, plugin.wire)
    served = _Served(request, plugin.name)
    return await _routed(request, plugin, "/" + request.path_params["rest"], served.tag,
                         lambda call: _served(request, plugin, wire, served, call))


async def _routed(request: Request, plugin: ProviderPlugin, path: str, tag: str,
                  serve: Callable[[WireCall], Awaitable[Response]]) -> Response:
    """Route a request by the provider's document, then `serve` its call; a failure of ours is a 500 in the
    provider's envelope, logged."""
    wire = cast(WireApi, plugin.wire)
    call, refused, headers = _route(plugin, request, path)
    if refused is not None:
        status, message, why = refused
        answer = wire.refusal(status, message, why, tag)
        answer.headers.update(headers)
        return _response(answer)
    assert call is not None
    try:
        return await serve(call)
    except Exception:  # noqa: BLE001 - the last line of defence: a bug of ours, in the provider's envelope
        LOG.exception("the %s API failed on %s %s", plugin.display_name, request.method, request.url.path)
        return _response(wire.refusal(500, "An unexpected error occurred in the emulator (it is logged).",
                                      Refusal.BUG, tag))


async def _served(request: Request, plugin: ProviderPlugin, wire: WireApi, served: _Served, call: WireCall) -> Response:
    if served.found is None:
        return _response(wire.refusal(404, f"No simulated {plugin.display_name} account at this address: the "
                                      f"credential id names no {plugin.display_name} credential of the emulator.",
                                      Refusal.ACCOUNT, served.tag))
    found = await served.account(request, plugin.key_of(served.found[1].properties),
                                 document.key_parameters().get(call.operation))
    if isinstance(found, str):
        return _response(wire.refusal(401, found, Refusal.KEY, served.tag))
    tenant, _, account = found
    return await _answer(request, wire, tenant, account, call, served.tag)


async def _answer(request: Request, wire: WireApi, tenant: Tenant, account: Account, call: WireCall,
                  tag: str) -> Response:
    """The account's answer to a routed call: its fault if one applies, else its wire API's."""
    fault = account.fault(tag)
    if fault is not None:
        status, reason = FAULTS[fault]
        return _response(wire.refusal(status, f"Request failed: {reason}.", Refusal.FAULT, tag),
                         retry_after=status == 429)
    try:
        body = await _body(request)
    except ValueError as error:
        return _response(wire.refusal(400, str(error), Refusal.BODY, tag))
    answer = wire.answer(account, dataclasses.replace(call, body=body, now=tenant.now(), tag=tag))
    tenant.notify()
    return _response(answer)


async def proxied(request: Request, plugin: ProviderPlugin, tenant: Tenant, account: Account, path: str) -> Response:
    """A request to an account through the Proxy API (its caller authenticated by the Sequin token, the account
    ready): routed, faulted and answered exactly as at the account's own base."""
    tag = _tag(request)
    return await _routed(request, plugin, path, tag,
                         lambda call: _answer(request, cast(WireApi, plugin.wire), tenant, account, call, tag))


def throttled(plugin: ProviderPlugin, request: Request, retry_after: int) -> Response:
    """The provider's 429, for a request the Proxy API's pacing refuses."""
    answer = cast(WireApi, plugin.wire).refusal(429, "Too many requests through this sync: its rate limit is used "
                                                     f"up for longer than the proxy waits; retry after {retry_after} s.",
                                                Refusal.FAULT, _tag(request))
    answer.headers["Retry-After"] = str(retry_after)
    return _response(answer)


async def unknown_endpoint(request: Request) -> Response:
    """Any other path below `/_providers/`: a 404 in the envelope of the provider the path names, if any."""
    parts = request.url.path.split("/")
    plugin = catalog.plugin(parts[4]) if len(parts) > 4 else None
    message = f"Unrecognized request URL ({request.method[:10]}: {request.url.path[:200]})."
    if plugin is not None and plugin.wire is not None:
        return _response(cast(WireApi, plugin.wire).refusal(404, message, Refusal.ROUTE, "0"))
    return Response(orjson.dumps({"error": {"type": "invalid_request_error", "message": message}}), status_code=404,
                    media_type="application/json")
