"""A simulated account's own webhook endpoints (Stripe's `/v1/webhook_endpoints`): which of the account's events
each one is sent, and its retries. No I/O here, and no provider's wire format: the sender makes the requests and
signs them the provider's way (the plugin's `sign_webhook`).

An endpoint is sent every event the account emits after it was created whose type it enabled, one event per
request; a failed attempt is retried `RETRIES` later (Stripe's test mode: three retries over a few hours), then
given up. At most `MOST_OUT` of an endpoint's events are out at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sequin_emulator.domain.provider_events import Endpoint
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.upstream import Account

MINUTE = 60 * 1_000_000
RETRIES = (5 * MINUTE, 60 * MINUTE, 180 * MINUTE)  # after the first, second and third failure
MOST_OUT = 10


@dataclass(frozen=True)
class EndpointAttempt:
    account_key: str
    endpoint_id: str
    position: int
    url: str
    body: bytes
    secret: str
    provider: str
    attempt: int


def add(account: Account, data: dict) -> Endpoint:
    """A new endpoint, sent the events emitted from now on."""
    events = account.events
    endpoint = account.webhook_endpoints[data["id"]] = Endpoint(data, events.base + len(events.kept))
    return endpoint


def due(tenant: Tenant, account_key: str, endpoint_id: str) -> list[EndpointAttempt]:
    account = tenant.accounts.get(account_key)
    endpoint = account.webhook_endpoints.get(endpoint_id) if account is not None else None
    if account is None or endpoint is None or endpoint.data["status"] != "enabled":
        return []
    events, now = account.events, tenant.now()
    end = events.base + len(events.kept)
    endpoint.keep_within(events.base, end)
    while endpoint.position < end and len(endpoint.out) < MOST_OUT:
        if endpoint.wants(events.kept[endpoint.position - events.base].type):
            endpoint.out[endpoint.position] = [0, now]
        endpoint.position += 1
    attempts = []
    for position, state in list(endpoint.out.items()):
        if position in endpoint.in_flight or state[1] > now:
            continue
        state[0] += 1
        endpoint.in_flight.add(position)
        attempts.append(EndpointAttempt(account_key, endpoint_id, position, endpoint.data["url"],
                                        events.kept[position - events.base].payload, endpoint.data["secret"],
                                        account.provider.name, state[0]))
    return attempts


def _endpoint(tenant: Tenant, attempt: EndpointAttempt) -> Endpoint | None:
    account = tenant.accounts.get(attempt.account_key)
    return account.webhook_endpoints.get(attempt.endpoint_id) if account is not None else None


def delivered(tenant: Tenant, attempt: EndpointAttempt) -> None:
    endpoint = _endpoint(tenant, attempt)
    if endpoint is not None and endpoint.out.pop(attempt.position, None) is not None:
        endpoint.in_flight.discard(attempt.position)
        endpoint.delivered += 1


def failed(tenant: Tenant, attempt: EndpointAttempt) -> None:
    """Try again after the next of `RETRIES`, or give the event up after the last."""
    endpoint = _endpoint(tenant, attempt)
    state = endpoint.out.get(attempt.position) if endpoint is not None else None
    if endpoint is None or state is None:
        return
    endpoint.in_flight.discard(attempt.position)
    if state[0] > len(RETRIES):
        del endpoint.out[attempt.position]
    else:
        state[1] = tenant.now() + RETRIES[state[0] - 1]


def next_due_at(tenant: Tenant, account_key: str, endpoint_id: str) -> int | None:
    account = tenant.accounts.get(account_key)
    endpoint = account.webhook_endpoints.get(endpoint_id) if account is not None else None
    if endpoint is None:
        return None
    return min((state[1] for position, state in endpoint.out.items() if position not in endpoint.in_flight),
               default=None)
