"""How Stripe sends its events to webhook endpoints: one event per request, the event's JSON as the body, signed
with the endpoint's secret, and tried again three times over a few hours (Stripe's test mode) before it is given
up."""

from __future__ import annotations

import hashlib
import hmac

from sequin_emulator.domain.provider_events import ProviderEvent, WebhookStyle

MINUTE = 60 * 1_000_000
RETRIES = (5 * MINUTE, 60 * MINUTE, 180 * MINUTE)  # after the first, second and third failure


class StripeWebhooks(WebhookStyle):
    def wants(self, endpoint: dict, event: ProviderEvent) -> bool:
        enabled = endpoint["enabled_events"]
        return "*" in enabled or event.type in enabled

    def body(self, account_seed: str, endpoint: dict, events: list[ProviderEvent], attempt: int) -> bytes:
        return events[0].payload

    def retry_in(self, attempt: int, status: int | None, retry_after: float | None, draw: float) -> int | None:
        return RETRIES[attempt - 1] if attempt <= len(RETRIES) else None


def signature_headers(secret: str, url: str, body: bytes, unix_ms: int) -> dict[str, str]:
    """`Stripe-Signature: t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the whole whsec_ secret>` and
    the test mode's dummy `v0`, as `stripe.Webhook.construct_event` checks it (with its 300 s tolerance: `t` is
    the wall clock's, re-signed for every attempt)."""
    unix_seconds = unix_ms // 1000
    v1 = hmac.new(secret.encode(), f"{unix_seconds}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={unix_seconds},v1={v1},v0={'0' * 64}", "Content-Type": "application/json",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
