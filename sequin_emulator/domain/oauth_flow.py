"""The Sequin-hosted OAuth flow: start-auth → start link → simulated consent → code → credential.

Links and codes are single-use and expire after 5 minutes of the issuing tenant's clock. Because the link
and token endpoints carry no bearer token, the tenant is found from the link or code itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from sequin_emulator.domain.catalog import CREDENTIAL_KINDS
from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.errors import Invalid, NotFound, Unauthorized
from sequin_emulator.domain.ids import derived_uuid
from sequin_emulator.domain.inputs import CodeExchange, StartAuth
from sequin_emulator.domain.tenant import Tenant, Tenants

LIFETIME = 5 * 60 * MICROS
MAX_STATE_BYTES = 5 * 1024
# Kinds a provider's OAuth consent can produce (the others are imported, never issued by a flow).
OAUTH_KINDS = ("stripe_oauth2", "hubspot_oauth2", "salesforce_oauth2", "airtable_oauth2", "linear_oauth2", "github_app")


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
    offered = [k for k in OAUTH_KINDS if CREDENTIAL_KINDS[k].provider == app.provider]
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
    grant.properties = _issued_properties(grant.credential_kind, code)
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


def _issued_properties(kind: str, seed: str) -> dict:
    """The credential properties a provider would issue on consent, derived from the code."""
    number = int(seed[:12], 16)
    by_kind: dict[str, dict[str, Any]] = {
        "stripe_oauth2": {"access_token": f"sk_test_{seed}", "refresh_token": f"rt_{seed}",
                          "stripe_user_id": f"acct_{seed[:16]}", "test": True},
        "hubspot_oauth2": {"hub_id": number % 90_000_000 + 10_000_000, "hub_domain": f"hub-{seed[:8]}.hubspot.com",
                           "refresh_token": f"hs-{seed}", "scopes": ["crm.objects.contacts.read", "oauth"]},
        "salesforce_oauth2": {"instance_url": f"https://org-{seed[:10]}.my.salesforce.com/", "refresh_token": f"sf-{seed}"},
        "airtable_oauth2": {"airtable_uid": f"usr{seed[:14]}", "refresh_token": f"at-{seed}", "scope": "data.records:read"},
        "linear_oauth2": {"access_token": f"lin_oauth_{seed}", "scope": "read", "linear_org_id": seed[:12],
                          "linear_org_name": f"Org {seed[:6]}"},
        "github_app": {"installation_id": number % 90_000_000 + 1, "account_type": "Organization",
                       "account_login": f"org-{seed[:8]}"},
    }
    return {"kind": kind, **by_kind[kind]}
