"""Stripe (API version 2023-08-16): a simulated account billed by Stripe's rules (`model.py`), its REST API for the
official SDKs (`api.py`, with its form encoding in `forms.py`, its parameter rules read from the provider document
in `params.py` and its error envelope in `errors.py`), and Stripe's sample objects (`data/`, MIT)."""

from __future__ import annotations

from sequin_emulator.domain.plugins import CredentialKind, ProviderPlugin, RateLimit
from sequin_emulator.providers.stripe.api import StripeWire
from sequin_emulator.providers.stripe.delivery import signature_headers
from sequin_emulator.providers.stripe.model import Stripe

# Stripe's key may stand in any of these fields (Sequin's docs used all three): the same key is the same account.
KEY_FIELDS = ("secret", "secret_key", "access_token")
SAME_AS = {field: KEY_FIELDS[0] for field in KEY_FIELDS}


def _issued(seed: str) -> dict:
    return {"access_token": f"sk_test_{seed}", "refresh_token": f"rt_{seed}", "stripe_user_id": f"acct_{seed[:16]}",
            "test": True}


PLUGIN = ProviderPlugin(
    name="stripe", display_name="Stripe", model=Stripe(),
    credential_kinds=(CredentialKind("stripe_key", "stripe", KEY_FIELDS, SAME_AS),
                      CredentialKind("stripe_oauth2", "stripe", ("stripe_user_id", *KEY_FIELDS), SAME_AS, _issued)),
    rate_limit=RateLimit(allowed_requests=50, interval=1),  # a backfill's 50 requests/s (sync-process/rate-limits)
    continuous_poll=500_000,  # Sequin polls Stripe's events twice a second: changes in the stream within 1-2 s
    key_fields=KEY_FIELDS, wire=StripeWire(), api_hosts=("api.stripe.com",),
    sign_webhook=signature_headers)
