"""HubSpot: a simulated CRM portal of contacts, companies and deals (`model.py`), its CRM v3/v4 objects API for
`hubspot-api-client` (`api.py`), and its app's webhooks (`webhooks.py`, `events.py`, `delivery.py`)."""

from __future__ import annotations

from sequin_emulator.domain.plugins import CredentialKind, ProviderPlugin, RateLimit
from sequin_emulator.providers.hubspot.api import HubSpotWire
from sequin_emulator.providers.hubspot.delivery import signature_headers
from sequin_emulator.providers.hubspot.model import HubSpot


def _issued(seed: str) -> dict:
    return {"hub_id": int(seed[:12], 16) % 90_000_000 + 10_000_000, "hub_domain": f"hub-{seed[:8]}.hubspot.com",
            "refresh_token": f"hs-{seed}", "scopes": ["crm.objects.contacts.read", "oauth"]}


PLUGIN = ProviderPlugin(
    name="hubspot", display_name="HubSpot", model=HubSpot(),
    credential_kinds=(CredentialKind("hubspot", "hubspot", ("hub_id",)),
                      CredentialKind("hubspot_oauth2", "hubspot", ("hub_id",), issued=_issued)),
    rate_limit=RateLimit(allowed_requests=100, interval=10),  # HubSpot's OAuth-app limit: 100 requests per 10 s
    continuous_poll=2_000_000,  # a search of recently modified objects every 2 s (Sequin's cadence was not public)
    key_fields=("access_token", "refresh_token"), wire=HubSpotWire(), api_hosts=("api.hubapi.com",),
    sign_webhook=signature_headers)
