"""OAuth apps: a customer's own provider OAuth client, used to issue credentials."""

from __future__ import annotations

from sequin_emulator.domain.health import Health
from sequin_emulator.domain.inputs import NewOAuthApp, OAuthAppChanges
from sequin_emulator.domain.models import OAuthApp
from sequin_emulator.domain.tenant import Tenant


def create(tenant: Tenant, new: NewOAuthApp) -> OAuthApp:
    now = tenant.now()
    return tenant.oauth_apps.add(OAuthApp(
        id=tenant.ids.next(), provider=new.provider, name=new.name, client_id=new.client_id,
        client_secret=new.client_secret, metadata=new.metadata, health=Health.ok(now), created_at=now, updated_at=now))


def update(tenant: Tenant, app_id: str, changes: OAuthAppChanges) -> OAuthApp:
    return tenant.oauth_apps.update(app_id, changes, tenant.now())


def delete(tenant: Tenant, app_id: str) -> OAuthApp:
    users = [f"credential {c.id}" for c in tenant.credentials if c.oauth_app_id == app_id]
    return tenant.oauth_apps.remove_unused(app_id, users)
