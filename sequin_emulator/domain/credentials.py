"""Credentials: access to one upstream account. Importing is an upsert per upstream account."""

from __future__ import annotations

from sequin_emulator.domain.catalog import account_identity, provider_of_kind
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.health import Health
from sequin_emulator.domain.inputs import CredentialChanges, CredentialImport, Unset
from sequin_emulator.domain.models import Credential
from sequin_emulator.domain.tenant import Tenant


def check_import(tenant: Tenant, request: CredentialImport, prefix: str = "") -> None:
    """Referential checks of an import; `prefix` locates it inside a larger body (a sync's `credential`)."""
    if not isinstance(request.oauth_app_id, str):
        return
    app = tenant.oauth_apps.find(request.oauth_app_id)
    if app is None:
        raise Invalid.field(f"{prefix}oauth_app_id", "is not an OAuth app of this organization")
    provider = provider_of_kind(request.kind)
    if app.provider != provider:
        raise Invalid.field(f"{prefix}oauth_app_id", f"is an OAuth app of {app.provider}, not of {provider}")


def import_(tenant: Tenant, request: CredentialImport, prefix: str = "") -> Credential:
    check_import(tenant, request, prefix)
    properties = request.properties
    identity = account_identity(properties)
    now = tenant.now()
    existing = next((c for c in tenant.credentials if identity and c.identity == identity), None)
    name = properties.get("name") if isinstance(request.name, Unset) else request.name
    if existing is not None:
        existing.kind, existing.properties = request.kind, properties
        existing.name = name if name is not None else existing.name
        if not isinstance(request.oauth_app_id, Unset):
            existing.oauth_app_id = request.oauth_app_id
        if not isinstance(request.metadata, Unset):
            existing.metadata = request.metadata
        existing.updated_at = now
        account = tenant.accounts.get(existing.account_key)
        if account is not None and account.settings.revoked:  # a fresh token: the account opens again
            account.settings.revoked = False
        existing.health = Health.ok(now)
        return existing
    return tenant.credentials.add(Credential(
        id=tenant.ids.next(), provider=provider_of_kind(request.kind), kind=request.kind, name=name,
        properties=properties, oauth_app_id=None if isinstance(request.oauth_app_id, Unset) else request.oauth_app_id,
        metadata={} if isinstance(request.metadata, Unset) else request.metadata,
        health=Health.ok(now), identity=identity, created_at=now, updated_at=now))


def update(tenant: Tenant, credential_id: str, changes: CredentialChanges) -> Credential:
    return tenant.credentials.update(credential_id, changes, tenant.now())


def delete(tenant: Tenant, credential_id: str) -> Credential:
    users = [f"sync {s.id}" for s in tenant.syncs if s.credential_id == credential_id]
    return tenant.credentials.remove_unused(credential_id, users)
