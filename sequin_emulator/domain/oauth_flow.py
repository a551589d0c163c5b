"""The Sequin-hosted OAuth flow: start-auth → start link → simulated consent → code → credential.

Links and codes are single-use and expire after 5 minutes of the issuing tenant's clock. Because the link
and token endpoints carry no bearer token, the tenant is found from the link or code itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from sequin_emulator.domain import catalog
from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.errors import Invalid, NotFound, Unauthorized
from sequin_emulator.domain.ids import derived_uuid
from sequin_emulator.domain.inputs import CodeExchange, StartAuth
from sequin_emulator.domain.tenant import Tenant, Tenants

LIFETIME = 5 * 60 * MICROS
MAX_STATE_BYTES = 5 * 1024


@dataclass
class Grant:
    """A pending start link or code: who issued it, for what, until when."""

    tenant_token: str
    oauth_app_id: str
    credential_kind: str
    redirect_url: str
    state: Any
    expires_at: int
    properties: dict | None = None  # set on the code, once consent was given


def start(tenants: Tenants, tenant: Tenant, request: StartAuth) -> str:
    """Validate a start-auth request and return the start link's token."""
    app = tenant.oauth_apps.find(request.oauth_app_id)
    if app is None:
        raise Invalid.field("oauth_app_id", "is not an OAuth app of this organization")
    kind = request.credential_kind
    offered = catalog.oauth_kinds(app.provider)
    if kind not in offered:
        raise Invalid.field("credential_kind", f"is not an OAuth credential kind of {app.provider}"
                            + (f" (use {', '.join(offered)})" if offered else ""))
    state = request.state
    if len(orjson.dumps(state)) > MAX_STATE_BYTES:
        raise Invalid.field("state", f"must be at most {MAX_STATE_BYTES} bytes as JSON")
    token = _unguessable(tenant)
    tenants.grants[token] = Grant(tenant.token, app.id, kind, request.redirect_url, state, tenant.now() + LIFETIME)
    return token


def _unguessable(tenant: Tenant) -> str:
    """A link token or code: deterministic, and unique across tenants, whose links and codes share one table
    (two tenants that imported the same snapshot hand out the same ids, but never the same org_id)."""
    return derived_uuid("oauth-grant", tenant.org_id, tenant.ids.next()).replace("-", "")


def _take(tenants: Tenants, key: str, what: str) -> tuple[Tenant, Grant]:
    grant = tenants.grants.pop(key, None)
    tenant = tenants.get(grant.tenant_token) if grant else None
    if grant is None or tenant is None or tenant.now() > grant.expires_at \
            or tenant.oauth_apps.find(grant.oauth_app_id) is None:
        raise NotFound(f"This {what} is unknown, already used or expired.")
    return tenant, grant


def consent(tenants: Tenants, link_token: str) -> str:
    """Open a start link: the user consents, and the redirect URL (with code and state) comes back."""
    tenant, grant = _take(tenants, link_token, "link")
    code = _unguessable(tenant)
    grant.properties = catalog.issued_properties(grant.credential_kind, code)
    grant.expires_at = tenant.now() + LIFETIME
    tenants.grants[code] = grant
    state = grant.state if isinstance(grant.state, str) or grant.state is None else orjson.dumps(grant.state).decode()
    query = urlencode({"code": code, **({"state": state} if state is not None else {})})
    return f"{grant.redirect_url}{'&' if '?' in grant.redirect_url else '?'}{query}"


def exchange(tenants: Tenants, request: CodeExchange) -> dict:
    grant = tenants.grants.get(request.code)
    if grant is None or grant.properties is None:
        raise Invalid.field("code", "is unknown, already used or expired")
    app = tenants.get(grant.tenant_token).oauth_apps.find(grant.oauth_app_id)
    if app is None or request.client_id != app.id or request.client_secret != app.client_secret:
        raise Unauthorized("client_id and client_secret do not match the OAuth app that issued this code.")
    try:
        _take(tenants, request.code, "code")
    except NotFound:
        raise Invalid.field("code", "is unknown, already used or expired") from None
    return {"credential": {"oauth_app_id": app.id, "properties": grant.properties}, "state": grant.state}
