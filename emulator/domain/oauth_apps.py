"""OAuth apps: a customer's own provider OAuth client, used to issue credentials."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.domain.errors import Invalid
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
    app = tenant.oauth_apps.get(app_id)
    for key in ("name", "client_secret", "metadata"):
        if key in body:
            setattr(app, key, body[key])
    app.updated_at = tenant.now()
    return app


def delete(tenant: Tenant, app_id: str) -> OAuthApp:
    tenant.oauth_apps.get(app_id)
    users = [c.id for c in tenant.credentials if c.oauth_app_id == app_id]
    if users:
        raise Invalid({"id": [f"the OAuth app is still used by credential {', '.join(users)}"]},
                      summary=f"OAuth app {app_id} still issues credentials; delete them first: {', '.join(users)}.")
    return tenant.oauth_apps.remove(app_id)
