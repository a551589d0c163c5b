"""OAuth apps: a customer's own provider OAuth client, used to issue credentials."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.domain.health import Health
from emulator.domain.tenant import Tenant


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


def create(tenant: Tenant, body: dict) -> OAuthApp:
    now = tenant.now()
    return tenant.oauth_apps.add(OAuthApp(
        id=tenant.ids.next(), provider=body["provider"], name=body["name"], client_id=body["client_id"],
        client_secret=body["client_secret"], metadata=body.get("metadata", {}), health=Health.ok(now),
        created_at=now, updated_at=now))


def update(tenant: Tenant, app_id: str, body: dict) -> OAuthApp:
    return tenant.oauth_apps.update(app_id, body, ("name", "client_secret", "metadata"), tenant.now())


def delete(tenant: Tenant, app_id: str) -> OAuthApp:
    users = [f"credential {c.id}" for c in tenant.credentials if c.oauth_app_id == app_id]
    return tenant.oauth_apps.remove_unused(app_id, users)
