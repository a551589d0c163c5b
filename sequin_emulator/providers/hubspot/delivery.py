"""How HubSpot sends a portal's events to its app's target URL: batches of up to 100 events, one entry per event
and matching subscription, signed with the app's client secret (v1 and v3), tried again up to 10 times over about
17 hours (HubSpot documents "10 times over 24 hours"; its older docs doubled the wait from minutes), never after a
400, 401, 403, 404 or 405, and after a 429's `Retry-After`."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from sequin_emulator.domain.provider_events import ProviderEvent, WebhookStyle
from sequin_emulator.providers.hubspot.definitions import app_id

APP = "app"  # the key of the app among the account's webhook endpoints
DEFAULT_CONCURRENCY = 10
MINUTE = 60 * 1_000_000
RETRIES = 10
NOT_RETRIED = frozenset({400, 401, 403, 404, 405})
# escapes HubSpot decodes in the URI before signing it with v3 (and verifiers do too)
V3_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
              "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


class HubSpotWebhooks(WebhookStyle):
    batch = 100
    timeout = 10.0  # HubSpot's requests say `X-HubSpot-Timeout-Millis: 10000`

    def wants(self, endpoint: dict, event: ProviderEvent) -> bool:
        return any(True for _ in _matching(endpoint, event))

    def body(self, account_seed: str, endpoint: dict, events: list[ProviderEvent], attempt: int) -> bytes:
        app, entries = app_id(account_seed), []
        for event in events:
            payload = orjson.loads(event.payload)
            head = {"eventId": payload.pop("eventId"), "subscriptionId": 0, "portalId": payload.pop("portalId"),
                    "appId": app, "occurredAt": payload.pop("occurredAt"),
                    "subscriptionType": payload.pop("subscriptionType"), "attemptNumber": attempt - 1}
            for subscription in _matching(endpoint, event, {**head, **payload}):
                entries.append({**head, "subscriptionId": int(subscription["id"]), **payload})
        return orjson.dumps(entries)

    def retry_in(self, attempt: int, status: int | None, retry_after: float | None, draw: float) -> int | None:
        if status in NOT_RETRIED or attempt > RETRIES:
            return None
        if status == 429 and retry_after is not None:
            return int(retry_after * 1_000_000)
        return int(2 ** (attempt - 1) * MINUTE * (0.8 + 0.4 * draw))

    def concurrency(self, endpoint: dict) -> int:
        return int(endpoint["throttling"]["maxConcurrentRequests"])


def _matching(endpoint: dict, event: ProviderEvent, payload: dict | None = None) -> list[dict]:
    """The active subscriptions of the app an event matches: its type, and for a property change its property."""
    found = [s for s in endpoint["subscriptions"] if s["active"] and s["eventType"] == event.type]
    if found and event.type.endswith(".propertyChange"):
        name = (payload if payload is not None else orjson.loads(event.payload))["propertyName"]
        found = [s for s in found if s.get("propertyName") == name]
    return found


def signature_headers(secret: str, url: str, body: bytes, unix_ms: int) -> dict[str, str]:
    """HubSpot's headers: `X-HubSpot-Signature` v1 (SHA-256 of secret + body, hex) and `X-HubSpot-Signature-v3`
    (base64 HMAC-SHA256 keyed with the secret over method + URI + body + timestamp) with
    `X-HubSpot-Request-Timestamp` in milliseconds, which `Signature.is_valid` checks (within 5 minutes)."""
    text, timestamp = body.decode(), str(unix_ms)
    uri = url
    for escape, char in V3_DECODED.items():
        uri = uri.replace(escape, char).replace(escape.lower(), char)
    v3 = hmac.new(secret.encode(), f"POST{uri}{text}{timestamp}".encode(), hashlib.sha256).digest()
    return {"Content-Type": "application/json",
            "X-HubSpot-Signature-Version": "v1",
            "X-HubSpot-Signature": hashlib.sha256(f"{secret}{text}".encode()).hexdigest(),
            "X-HubSpot-Signature-v3": base64.b64encode(v3).decode(),
            "X-HubSpot-Request-Timestamp": timestamp, "X-HubSpot-Timeout-Millis": "10000",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client)"}
