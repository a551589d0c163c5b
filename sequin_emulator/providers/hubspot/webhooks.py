"""A HubSpot portal's app and its Webhooks API v3 (`/webhooks/v3/{appId}/settings` and `/subscriptions`, as
`hubspot-api-client`'s `webhooks` API calls it).

The app is the account's one webhook endpoint (`Account.webhook_endpoints["app"]`, saved with the account): its
`data` holds the settings (`url` is the target URL), the client secret and the subscriptions. What is sent, when
and how is `delivery.py`'s, beside this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sequin_emulator.domain import provider_webhooks
from sequin_emulator.domain.provider_events import Endpoint
from sequin_emulator.providers.base import sendable_url
from sequin_emulator.providers.hubspot.definitions import app_id, client_secret, writable
from sequin_emulator.providers.hubspot.delivery import APP, DEFAULT_CONCURRENCY
from sequin_emulator.providers.hubspot.errors import HubSpotError, shaped
from sequin_emulator.providers.hubspot.model import PROPERTIES, iso

MOST_SUBSCRIPTIONS = 1000  # per app

def _app(api: Any, call: Any, create: bool = False) -> Endpoint | None:
    """The portal's app as the path names it (another app id is a 404), made on its first setting."""
    account = api.account
    if call.path_params["app_id"] != str(app_id(account.seed)):
        raise HubSpotError(404, f"App {call.path_params['app_id'][:20]} not found for this developer account.",
                            "OBJECT_NOT_FOUND")
    app = account.webhook_endpoints.get(APP)
    if app is None and create:
        app = provider_webhooks.add(account, {
            "id": APP, "url": None, "secret": client_secret(account.seed), "status": "disabled",
            "throttling": {"maxConcurrentRequests": DEFAULT_CONCURRENCY}, "createdAt": None, "updatedAt": None,
            "subscriptions": [], "subscriptions_made": 0})
    return app


def _settings(data: dict) -> dict:
    return {"targetUrl": data["url"], "throttling": data["throttling"], "createdAt": data["createdAt"],
            "updatedAt": data["updatedAt"]}


def get_settings(api: Any, call: Any) -> tuple[int, Any]:
    app = _app(api, call)
    if app is None or not app.data["url"]:
        raise HubSpotError(404, "No webhook settings for this app: set a target URL first.", "OBJECT_NOT_FOUND")
    return 200, _settings(app.data)


def configure(api: Any, call: Any) -> tuple[int, Any]:
    body = shaped("HubSpotWebhookSettingsInput", call.body)
    if not sendable_url(body["targetUrl"]):
        raise HubSpotError(400, f"targetUrl must be an http or https URL, not {body['targetUrl'][:100]!r}")
    app = _app(api, call, create=True)
    assert app is not None
    data, now = app.data, iso(call.now)
    data.update(url=body["targetUrl"], throttling=body["throttling"], status="enabled", updatedAt=now)
    data["createdAt"] = data["createdAt"] or now
    return 200, _settings(data)


def clear(api: Any, call: Any) -> tuple[int, Any]:
    app = _app(api, call)
    if app is not None:
        app.data.update(url=None, status="disabled", createdAt=None, updatedAt=None)
    return 204, None


def _shown(subscription: dict) -> dict:
    return {k: v for k, v in subscription.items() if k != "objectTypeId"}


def subscriptions(api: Any, call: Any) -> tuple[int, Any]:
    app = _app(api, call)
    return 200, {"results": [_shown(s) for s in app.data["subscriptions"]] if app is not None else []}


def subscribe(api: Any, call: Any) -> tuple[int, Any]:
    body = shaped("HubSpotWebhookSubscriptionInput", call.body)
    event_type, name = body["eventType"], body.get("propertyName")
    noun, _, verb = event_type.partition(".")
    if verb == "propertyChange" and name is None:
        raise HubSpotError(400, f"propertyName is required for {event_type} subscriptions (one property each).")
    if verb != "propertyChange" and name is not None:
        raise HubSpotError(400, f"propertyName is only for propertyChange subscriptions, not {event_type}.")
    if name is not None and noun in PROPERTIES and name not in {*PROPERTIES[noun], *writable(api.account, noun)}:
        raise HubSpotError(400, f"Property {name[:100]} does not exist on {noun} objects.")
    app = _app(api, call, create=True)
    assert app is not None
    data = app.data
    if len(data["subscriptions"]) >= MOST_SUBSCRIPTIONS:
        raise HubSpotError(400, f"The app has reached its limit of {MOST_SUBSCRIPTIONS:,} subscriptions.")
    if any(s["eventType"] == event_type and s.get("propertyName") == name for s in data["subscriptions"]):
        raise HubSpotError(409, f"The app already has a subscription to {event_type}"
                                 f"{f' for {name}' if name else ''}.", "CONFLICT")
    data["subscriptions_made"] += 1
    now = iso(call.now)
    subscription = {"id": str(app_id(api.account.seed) * 10 + data["subscriptions_made"]), "eventType": event_type,
                    **({"propertyName": name} if name is not None else {}), "active": bool(body.get("active", False)),
                    "createdAt": now, "updatedAt": now}
    data["subscriptions"].append(subscription)
    return 201, subscription


def _subscription(api: Any, call: Any, subscription_id: str) -> dict:
    app = _app(api, call)
    found = next((s for s in app.data["subscriptions"] if s["id"] == subscription_id), None) if app else None
    if found is None:
        raise HubSpotError(404, f"Subscription {subscription_id[:20]} not found.", "OBJECT_NOT_FOUND")
    return found


def get_subscription(api: Any, call: Any) -> tuple[int, Any]:
    return 200, _subscription(api, call, call.path_params["subscription_id"])


def update_subscription(api: Any, call: Any) -> tuple[int, Any]:
    body = shaped("HubSpotWebhookSubscriptionPatch", call.body)
    subscription = _subscription(api, call, call.path_params["subscription_id"])
    subscription.update(active=body["active"], updatedAt=iso(call.now))
    return 200, subscription


def unsubscribe(api: Any, call: Any) -> tuple[int, Any]:
    subscription = _subscription(api, call, call.path_params["subscription_id"])
    api.account.webhook_endpoints[APP].data["subscriptions"].remove(subscription)
    return 204, None


def update_batch(api: Any, call: Any) -> tuple[int, Any]:
    """All or nothing: every id is found before any subscription changes."""
    inputs = shaped("HubSpotWebhookBatchUpdate", call.body)["inputs"]
    found = [(_subscription(api, call, str(item["id"])), item["active"]) for item in inputs]
    now = iso(call.now)
    for subscription, active in found:
        subscription.update(active=active, updatedAt=now)
    return 200, {"status": "COMPLETE", "results": [s for s, _ in found], "requestedAt": now, "startedAt": now,
                 "completedAt": now}


HANDLERS: dict[str, Callable[[Any, Any], tuple[int, Any]]] = {
    "hubspotGetWebhookSettings": get_settings, "hubspotConfigureWebhookSettings": configure,
    "hubspotClearWebhookSettings": clear, "hubspotListWebhookSubscriptions": subscriptions,
    "hubspotCreateWebhookSubscription": subscribe, "hubspotGetWebhookSubscription": get_subscription,
    "hubspotUpdateWebhookSubscription": update_subscription, "hubspotDeleteWebhookSubscription": unsubscribe,
    "hubspotBatchUpdateWebhookSubscriptions": update_batch}
