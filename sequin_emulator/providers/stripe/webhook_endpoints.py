"""Stripe's `/v1/webhook_endpoints` on a simulated account.

The endpoints live in the account (`Account.webhook_endpoints`, saved with it); what each is sent, and when it is
tried again, is the domain's (`sequin_emulator.domain.provider_webhooks`, by the rules of `delivery.py` beside this).
The secret is answered on create only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sequin_emulator.domain import provider_webhooks
from sequin_emulator.providers.base import sendable_url, token
from sequin_emulator.providers.stripe.errors import StripeError, missing
from sequin_emulator.providers.stripe.model import API_VERSION, seconds
from sequin_emulator.providers.stripe.paging import paged

ANY_EVENT = "*"
MOST_ENDPOINTS = 16  # Stripe's limit per account


def _url(params: dict, required: bool) -> str | None:
    url = params.get("url")
    if url is None:
        if required:
            raise StripeError(400, "Missing required param: url.", "parameter_missing", "url")
        return None
    if not sendable_url(url):
        raise StripeError(400, f"Invalid URL: {url}. URLs must begin with http:// or https://.", "url_invalid", "url")
    return url


def _events(params: dict, required: bool) -> list[str] | None:
    events = params.get("enabled_events")
    if events is None:
        if required:
            raise StripeError(400, "Missing required param: enabled_events.", "parameter_missing", "enabled_events")
        return None
    if not events or any(not isinstance(e, str) or not e for e in events):
        raise StripeError(400, "Invalid array: enabled_events must name event types (or *).", "parameter_invalid_empty",
                          "enabled_events")
    return list(dict.fromkeys(events))


def _shown(data: dict) -> dict:
    """The endpoint as every answer but create's shows it: without its secret."""
    return {k: v for k, v in data.items() if k != "secret"}


def create(api: Any, request: Any) -> dict:
    params, account = request.params, api.account
    url, events = _url(params, required=True), _events(params, required=True)
    if len(account.webhook_endpoints) >= MOST_ENDPOINTS:
        raise StripeError(400, f"You have reached the maximum number of webhook endpoints ({MOST_ENDPOINTS}) for this "
                          "account: delete one first.", None, None)
    endpoint_id = f"we_1{token(account.rng, 23)}"
    data = {"id": endpoint_id, "object": "webhook_endpoint", "api_version": params.get("api_version") or API_VERSION,
            "application": None, "created": seconds(request.now), "description": params.get("description") or None,
            "enabled_events": events, "livemode": False,
            "metadata": {k: v for k, v in params.get("metadata", {}).items() if v != ""}
            if isinstance(params.get("metadata"), dict) else {},
            "secret": f"whsec_{token(account.rng, 32)}", "status": "enabled", "url": url}
    provider_webhooks.add(account, data)
    return dict(data)


def _endpoint(api: Any, endpoint_id: str) -> Any:
    endpoint = api.account.webhook_endpoints.get(endpoint_id)
    if endpoint is None:
        raise missing("webhook_endpoint", endpoint_id)
    return endpoint


def get(api: Any, request: Any, endpoint_id: str) -> dict:
    return _shown(_endpoint(api, endpoint_id).data)


def update(api: Any, request: Any, endpoint_id: str) -> dict:
    endpoint, params = _endpoint(api, endpoint_id), request.params
    data = endpoint.data
    url, events = _url(params, required=False), _events(params, required=False)
    if url is not None:
        data["url"] = url
    if events is not None:
        data["enabled_events"] = events
    if "description" in params:
        data["description"] = params["description"] or None
    if isinstance(params.get("metadata"), dict):
        data["metadata"] = {k: v for k, v in {**data["metadata"], **params["metadata"]}.items() if v != ""}
    if "disabled" in params:
        data["status"] = "disabled" if params["disabled"] == "true" else "enabled"
    return _shown(data)


def delete(api: Any, request: Any, endpoint_id: str) -> dict:
    _endpoint(api, endpoint_id)
    del api.account.webhook_endpoints[endpoint_id]
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def listing(api: Any, request: Any) -> dict:
    """Newest first, paged by `starting_after` / `ending_before` as every Stripe list."""
    page, more = paged(list(api.account.webhook_endpoints)[::-1], request.params, "webhook_endpoint")
    return {"object": "list", "data": [_shown(api.account.webhook_endpoints[i].data) for i in page],
            "has_more": more, "url": "/v1/webhook_endpoints"}


HANDLERS: dict[str, Callable[..., Any]] = {"stripeCreateWebhookEndpoint": create, "stripeGetWebhookEndpoint": get,
            "stripeUpdateWebhookEndpoint": update, "stripeDeleteWebhookEndpoint": delete,
            "stripeListWebhookEndpoints": listing}
