"""A simulated account's own webhook endpoints (Stripe's `/v1/webhook_endpoints`, a HubSpot portal's app): which of
the account's events each one is sent, in which requests, and their retries. No I/O here, and no provider's wire
format: the provider's `WebhookStyle` says what an endpoint wants, how many events go in one request, the body and
the retry schedule; the sender makes the requests and signs them the provider's way (the plugin's `sign_webhook`).

An endpoint is sent every event the account emits after it was created that it wants, at most `style.batch` per
request; a failed request is tried again when the style says, with the same events, or given up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sequin_emulator.domain.provider_events import Batch, Endpoint, ProviderEvent, WebhookStyle
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.upstream import Account


@dataclass(frozen=True)
class EndpointAttempt:
    account_key: str
    endpoint_id: str
    first: int  # the position of the request's first event: its batch's key
    url: str
    body: bytes
    secret: str
    provider: str
    attempt: int
    events: int  # how many events it carries
    timeout: float  # seconds


def add(account: Account, data: dict) -> Endpoint:
    """A new endpoint, sent the events emitted from now on."""
    events = account.events
    endpoint = account.webhook_endpoints[data["id"]] = Endpoint(data, events.base + len(events.kept))
    return endpoint


def sending(endpoint: Endpoint) -> bool:
    """Whether the endpoint is sent events now: enabled, with a URL."""
    return endpoint.data["status"] == "enabled" and bool(endpoint.data["url"])


def _found(tenant: Tenant, account_key: str, endpoint_id: str) -> tuple[Account, Endpoint, WebhookStyle] | None:
    account = tenant.accounts.get(account_key)
    endpoint = account.webhook_endpoints.get(endpoint_id) if account is not None else None
    if account is None or endpoint is None or account.provider.webhooks is None:
        return None
    return account, endpoint, account.provider.webhooks


def _take(account: Account, endpoint: Endpoint, style: WebhookStyle, now: int) -> None:
    """Put the endpoint's next wanted events into requests, while fewer than `style.most_out` are waiting."""
    events = account.events
    end = events.base + len(events.kept)
    while endpoint.position < end and len(endpoint.out) < style.most_out:
        positions: list[int] = []
        while endpoint.position < end and len(positions) < style.batch:
            if style.wants(endpoint.data, events.kept[endpoint.position - events.base]):
                positions.append(endpoint.position)
            endpoint.position += 1
        if positions:
            endpoint.out[positions[0]] = Batch(positions, 0, now)


def due(tenant: Tenant, account_key: str, endpoint_id: str) -> list[EndpointAttempt]:
    found = _found(tenant, account_key, endpoint_id)
    if found is None:
        return []
    account, endpoint, style = found
    data, events, now = endpoint.data, account.events, tenant.now()
    end = events.base + len(events.kept)
    if not sending(endpoint):
        endpoint.position = end  # what happens while it is off is never sent (as on Stripe and HubSpot)
        return []
    endpoint.keep_within(events.base, end)
    _take(account, endpoint, style, now)
    attempts, room = [], style.concurrency(data) - len(endpoint.in_flight)
    for first, batch in endpoint.out.items():
        if room <= 0:
            break
        if first in endpoint.in_flight or batch.due_at > now:
            continue
        batch.attempts += 1
        endpoint.in_flight.add(first)
        room -= 1
        sent: list[ProviderEvent] = [events.kept[p - events.base] for p in batch.positions]
        attempts.append(EndpointAttempt(account_key, endpoint_id, first, data["url"],
                                        style.body(account.seed, data, sent, batch.attempts), data["secret"],
                                        account.provider.name, batch.attempts, len(sent), style.timeout))
    return attempts


def delivered(tenant: Tenant, attempt: EndpointAttempt) -> None:
    found = _found(tenant, attempt.account_key, attempt.endpoint_id)
    batch = found[1].out.pop(attempt.first, None) if found is not None else None
    if found is not None and batch is not None:
        found[1].in_flight.discard(attempt.first)
        found[1].delivered += len(batch.positions)


def failed(tenant: Tenant, attempt: EndpointAttempt, status: int | None, retry_after: float | None) -> None:
    """Try again when the provider's schedule says, or give the events up."""
    found = _found(tenant, attempt.account_key, attempt.endpoint_id)
    batch = found[1].out.get(attempt.first) if found is not None else None
    if found is None or batch is None:
        return
    account, endpoint, style = found
    endpoint.in_flight.discard(attempt.first)
    draw = random.Random(f"{account.seed}|{attempt.endpoint_id}|{attempt.first}|{batch.attempts}").random()
    wait = style.retry_in(batch.attempts, status, retry_after, draw)
    if wait is None:
        del endpoint.out[attempt.first]
    else:
        batch.due_at = tenant.now() + wait


def next_due_at(tenant: Tenant, account_key: str, endpoint_id: str) -> int | None:
    found = _found(tenant, account_key, endpoint_id)
    if found is None:
        return None
    endpoint = found[1]
    return min((batch.due_at for first, batch in endpoint.out.items() if first not in endpoint.in_flight),
               default=None)


def pending(account: Account, position: int) -> int:
    """How many of the account's endpoints have yet to be sent the event at `position` (Stripe's
    `pending_webhooks`): those it waits in a request of, and enabled ones that want it and have not reached it."""
    style = account.provider.webhooks
    if style is None:
        return 0
    event = account.events.kept[position - account.events.base]
    count = 0
    for endpoint in account.webhook_endpoints.values():
        if any(position in batch.positions for batch in endpoint.out.values()):
            count += 1
        elif endpoint.position <= position and sending(endpoint) and style.wants(endpoint.data, event):
            count += 1
    return count
