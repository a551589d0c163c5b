"""The simulated accounts' own APIs over HTTP, for the providers' official SDKs:

- `/_providers/{org_id}/{credential_id}/stripe/v1/...` answers as Stripe does
  (`stripe.StripeClient(key, base_addresses={"api": ".../_providers/{id}/stripe"})`);
- `/_providers/{org_id}/{credential_id}/hubspot/crm/...` answers as HubSpot's CRM API does
  (`hubspot.HubSpot(access_token=token, host=".../_providers/{id}/hubspot")`).

This layer finds the account, checks the caller's key against the credential's own, applies the account's faults
(`outage` → 500, `revoked` → 401, `throttle` → 429 with Retry-After, `error_rate` → that share of 500s), reads the
provider's encoding and renders its envelope; `sequin_emulator.providers.stripe_api` / `hubspot_api` do the rest.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sequin_emulator.api.generation import account_ready
from sequin_emulator.domain import accounts, engine
from sequin_emulator.domain.catalog import STRIPE_KEY_FIELDS
from sequin_emulator.domain.models import Credential
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.upstream import Account
from sequin_emulator.providers import forms
from sequin_emulator.providers.document import methods_of
from sequin_emulator.providers.hubspot_api import Call, HubSpotApi, HubSpotError, correlation_id
from sequin_emulator.providers.stripe import API_VERSION
from sequin_emulator.providers.stripe_api import Request as StripeRequest
from sequin_emulator.providers.stripe_api import StripeApi
from sequin_emulator.providers.stripe_errors import StripeError

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


def _presented_key(request: Request) -> str | None:
    """The caller's key: a bearer token, or (Stripe) basic auth's user name."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def _masked(key: str) -> str:
    return f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else "****"


def _fault(account: Account, draw: str) -> tuple[int, str] | None:
    """The account's fault for this request, as (status, reason), if one applies."""
    settings = account.settings
    if settings.revoked:
        return 401, "the credential was revoked"
    if settings.outage:
        return 500, "the simulated account has an outage"
    if settings.throttle:
        return 429, "the simulated account is throttled"
    if settings.error_rate and random.Random(f"{account.seed}|{draw}").random() < settings.error_rate:
        return 500, "an error (the account's error_rate)"
    return None


class _Served:
    """What every provider request needs: its number (for ids that follow the call order), tenant, account."""

    def __init__(self, request: Request, provider: str) -> None:
        tenants: Tenants = request.app.state.tenants
        self.tenants, self.provider = tenants, provider
        self.number = next(request.app.state.provider_requests)
        self.tag = hashlib.sha256(f"{tenants.seed}|{self.number}".encode()).hexdigest()
        self.found = _find(tenants, request.path_params["org_id"], request.path_params["credential_id"], provider)

    async def account(self, request: Request, expected: str | None) -> tuple[Tenant, Credential, Account] | str:
        """The tenant, credential and account, caught up to now, after any clock advance of the tenant's (as for
        `/v1` requests, nobody sees a tenant half-advanced); or why the caller may not use them."""
        assert self.found is not None
        tenant, credential = self.found
        key = _presented_key(request)
        if key is None:
            return "You did not provide an API key or access token (Authorization: Bearer ...)."
        if key != expected:
            return f"Invalid API Key provided: {_masked(key)}"
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


# ------------------------------------------------------------------ Stripe

def _stripe_json(status: int, body: dict, served: _Served, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Request-Id": f"req_{served.tag[:14]}", "Stripe-Version": API_VERSION, **(headers or {})})


def _unserved(request: Request, provider: str, below: str) -> tuple[int, str, dict[str, str]] | None:
    """A path the provider document does not have (404), or a method it does not give the path (405, with
    `Allow`), before anything else is looked at."""
    methods = methods_of(provider, below + request.path_params["rest"])
    if methods is None:
        return 404, f"Unrecognized request URL ({request.method[:10]}: {below}{request.path_params['rest'][:200]}).", {}
    allowed = (*methods, "HEAD") if "GET" in methods else methods
    if request.method not in allowed:
        return 405, f"The method {request.method[:10]} is not served for this path (it serves {', '.join(methods)}).", \
            {"Allow": ", ".join(allowed)}
    return None


async def stripe_endpoint(request: Request) -> Response:
    served = _Served(request, "stripe")
    unserved = _unserved(request, "stripe", "/v1/")
    if unserved is not None:
        status, message, headers = unserved
        return _stripe_json(status, StripeError(status, message).body(), served, headers)
    try:
        return await _stripe(request, served)
    except Exception:  # noqa: BLE001 - the last line of defence: a bug of ours, in Stripe's envelope
        LOG.exception("the Stripe API failed on %s %s", request.method, request.url.path)
        return _stripe_json(500, StripeError(500, "An unexpected error occurred in the emulator (it is logged).",
                                             kind="api_error").body(), served)


async def _stripe(request: Request, served: _Served) -> Response:
    if served.found is None:
        return _stripe_json(404, StripeError(404, "No simulated Stripe account at this address: the credential id "
                                             "names no Stripe credential of the emulator.").body(), served)
    properties = served.found[1].properties
    found = await served.account(request, next((properties[f] for f in STRIPE_KEY_FIELDS if properties.get(f)), None))
    if isinstance(found, str):
        return _stripe_json(401, StripeError(401, found).body(), served)
    tenant, credential, account = found
    fault = _fault(account, served.tag)
    if fault is not None:
        status, reason = fault
        kind = "api_error" if status == 500 else "invalid_request_error"
        code = {401: "api_key_expired", 429: "rate_limit"}.get(status)
        return _stripe_json(status, StripeError(status, f"Request failed: {reason}.", code, kind=kind).body(), served,
                            {"Retry-After": str(RETRY_AFTER)} if status == 429 else None)
    try:
        raw = await _body(request)
        params = forms.parse(parse_qsl(request.url.query, keep_blank_values=True) +
                             parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        parts = request.path_params["rest"].split("/")
        answer = StripeApi(account, account.provider).handle(  # type: ignore[arg-type]
            StripeRequest(request.method, parts, params, tenant.now()), request.headers.get("idempotency-key"))
    except StripeError as error:
        return _stripe_json(error.status, error.body(), served)
    except (forms.FormError, ValueError) as error:
        return _stripe_json(400, StripeError(400, str(error), "parameter_invalid_string").body(), served)
    tenant.notify()
    return Response(answer.body, status_code=answer.status, media_type="application/json", headers={
        "Request-Id": f"req_{served.tag[:14]}", "Stripe-Version": API_VERSION,
        **({"Idempotent-Replayed": "true"} if answer.replayed else {})})


# ------------------------------------------------------------------ HubSpot

def _hubspot_json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def hubspot_endpoint(request: Request) -> Response:
    served = _Served(request, "hubspot")
    correlation = correlation_id(served.tag, served.number)
    unserved = _unserved(request, "hubspot", "/crm/")
    if unserved is not None:
        status, message, headers = unserved
        return _hubspot_json(status, HubSpotError(status, message, "NOT_FOUND" if status == 404 else
                                                  "METHOD_NOT_ALLOWED").body(correlation), headers)
    try:
        return await _hubspot(request, served, correlation)
    except Exception:  # noqa: BLE001 - the last line of defence: a bug of ours, in HubSpot's envelope
        LOG.exception("the HubSpot API failed on %s %s", request.method, request.url.path)
        return _hubspot_json(500, HubSpotError(500, "An unexpected error occurred in the emulator (it is logged).",
                                               "INTERNAL_ERROR").body(correlation))


async def unknown_endpoint(request: Request) -> Response:
    """Any other path below `/_providers/`: a 404 in the envelope of the provider the path names."""
    path = request.url.path
    if "/hubspot" in path:
        return _hubspot_json(404, HubSpotError(404, f"No route for {request.method} {path[:200]}", "NOT_FOUND")
                             .body(correlation_id(path, 0)))
    return Response(orjson.dumps(StripeError(404, f"Unrecognized request URL ({request.method}: {path[:200]}).")
                                 .body()), status_code=404, media_type="application/json")


async def _hubspot(request: Request, served: _Served, correlation: str) -> Response:
    if served.found is None:
        return _hubspot_json(404, HubSpotError(404, "No simulated HubSpot portal at this address: the credential id "
                                               "names no HubSpot credential of the emulator.", "OBJECT_NOT_FOUND")
                             .body(correlation))
    properties = served.found[1].properties
    found = await served.account(request, properties.get("access_token") or properties.get("refresh_token"))
    if isinstance(found, str):
        return _hubspot_json(401, HubSpotError(401, f"Authentication credentials not found. {found}",
                                               "INVALID_AUTHENTICATION").body(correlation))
    tenant, credential, account = found
    fault = _fault(account, served.tag)
    if fault is not None:
        status, reason = fault
        category = {401: "INVALID_AUTHENTICATION", 429: "RATE_LIMITS", 500: "INTERNAL_ERROR"}[status]
        return _hubspot_json(status, HubSpotError(status, f"Request failed: {reason}.", category).body(correlation),
                             {"Retry-After": str(RETRY_AFTER)} if status == 429 else None)
    try:
        raw = await _body(request)
        body = orjson.loads(raw) if raw.strip() else None
        query: dict[str, object] = {}
        for key in request.query_params:  # a repeated parameter (`properties=a&properties=b`) as a list
            values = request.query_params.getlist(key)
            query[key] = values if len(values) > 1 else values[0]
        api = HubSpotApi(account, account.provider)  # type: ignore[arg-type]
        parts = [p for p in request.path_params["rest"].split("/") if p]
        status, answer = api.handle(Call(request.method, parts, query, body, tenant.now()))
    except HubSpotError as error:
        return _hubspot_json(error.status, error.body(correlation))
    except (orjson.JSONDecodeError, ValueError) as error:
        return _hubspot_json(400, HubSpotError(400, f"Invalid input JSON: {error}").body(correlation))
    tenant.notify()
    return _hubspot_json(status, answer)

