"""Credentials: access to one upstream account. Importing is an upsert per upstream account."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.domain.catalog import account_identity, provider_of_kind
from emulator.domain.errors import Invalid
from emulator.domain.health import Health
from emulator.domain.tenant import Tenant


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
    identity: tuple[str, str] | None
    created_at: int
    updated_at: int


def account_key(credential: Credential) -> str:
    """Which simulated upstream account a credential opens: its identity, else (unidentifiable) its own id."""
    return "|".join(credential.identity) if credential.identity else credential.id


ENVELOPE = ("oauth_app_id", "metadata")  # the flat form's fields that are not the kind's own


def nested(body: dict) -> dict:
    """An import body in the `properties` form: the flat form (`kind` and its fields at the top level, as the
    getting-started page wrote it) is folded into `properties`; the schema already refused a mix of both."""
    if "kind" not in body:
        return body
    return {"properties": {k: v for k, v in body.items() if k not in ENVELOPE},
            **{k: body[k] for k in ENVELOPE if k in body}}


def check_import(tenant: Tenant, body: dict, prefix: str = "") -> None:
    """Referential checks of an import body; `prefix` locates it inside a larger body (a sync's `credential`)."""
    app_id = body.get("oauth_app_id")
    if app_id is None:
        return
    app = tenant.oauth_apps.find(app_id)
    if app is None:
        raise Invalid.field(f"{prefix}oauth_app_id", "is not an OAuth app of this organization")
    provider = provider_of_kind(body["properties"]["kind"])
    if app.provider != provider:
        raise Invalid.field(f"{prefix}oauth_app_id", f"is an OAuth app of {app.provider}, not of {provider}")


def import_(tenant: Tenant, body: dict, prefix: str = "") -> Credential:
    body = nested(body)
    check_import(tenant, body, prefix)
    properties = body["properties"]
    identity = account_identity(properties)
    now = tenant.now()
    existing = next((c for c in tenant.credentials if identity and c.identity == identity), None)
    name = body.get("name", properties.get("name"))
    if existing is not None:
        existing.kind, existing.properties = properties["kind"], properties
        existing.name = name if name is not None else existing.name
        existing.oauth_app_id = body.get("oauth_app_id", existing.oauth_app_id)
        existing.metadata = body.get("metadata", existing.metadata)
        existing.updated_at = now
        account = tenant.accounts.get(account_key(existing))
        if account is not None and account.settings.revoked:  # a fresh token: the account opens again
            account.settings.revoked = False
        existing.health = Health.ok(now)
        return existing
    return tenant.credentials.add(Credential(
        id=tenant.ids.next(), provider=provider_of_kind(properties["kind"]), kind=properties["kind"], name=name,
        properties=properties, oauth_app_id=body.get("oauth_app_id"), metadata=body.get("metadata", {}),
        health=Health.ok(now), identity=identity, created_at=now, updated_at=now))


def update(tenant: Tenant, credential_id: str, body: dict) -> Credential:
    return tenant.credentials.update(credential_id, body, ("name", "metadata"), tenant.now())


def delete(tenant: Tenant, credential_id: str) -> Credential:
    users = [f"sync {s.id}" for s in tenant.syncs if s.credential_id == credential_id]
    return tenant.credentials.remove_unused(credential_id, users)
