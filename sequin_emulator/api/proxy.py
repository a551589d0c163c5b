"""The Proxy API: `/v1/proxy/sync/{sync_id}/{path}` and `/v1/proxy/credential/{credential_id}/{path}`.

A request authenticated by the Sequin token reaches the credential's simulated account as `{path}` of the
provider's own API, answered exactly as the account's own base answers it (`provider_api`). Through a sync,
requests share the sync's rate limit, in wall-clock time (a caller waits in real time, whatever the emulator's
clock does), and writes reach the sync's stream at once, as a mutation's do.
"""

from __future__ import annotations

import math
import time
from collections import deque

from starlette.responses import Response

from sequin_emulator.api import provider_api
from sequin_emulator.api.generation import account_ready
from sequin_emulator.api.handlers import Call, operation, wait_until
from sequin_emulator.domain import accounts, catalog, engine, mutations
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.models import Credential, RateLimit, Sync
from sequin_emulator.domain.plugins import ProviderPlugin

LONGEST_WAIT = 10.0  # seconds a request over the sync's rate limit waits, at most; beyond, the provider's 429


class Pacer:
    """The wall-clock times of each sync's proxied requests in the last `interval` seconds, reserved slots
    included: a request takes the next free slot of its sync's rate limit."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}

    def reserve(self, sync_id: str, limit: RateLimit, now: float) -> float | None:
        """How long to wait before sending (0: at once), the slot taken; None (nothing taken) when the wait
        would pass `LONGEST_WAIT`."""
        window = self._sent.setdefault(sync_id, deque())
        while window and window[0] <= now - limit.interval:
            window.popleft()
        if len(window) < limit.allowed_requests:
            window.append(now)
            return 0.0
        at = window[len(window) - limit.allowed_requests] + limit.interval  # when a slot frees for this request
        if at - now > LONGEST_WAIT:
            return None
        window.append(at)
        return at - now


def _plugin(credential: Credential) -> ProviderPlugin:
    plugin = catalog.plugin(credential.provider)
    if plugin is None or plugin.wire is None:
        raise Invalid.field("credential_id", f"is a {catalog.display_name(credential.provider)} credential; the "
                                             f"emulator simulates {', '.join(catalog.simulated_names())} accounts "
                                             "only, so there is nothing to proxy to")
    return plugin


async def _proxy(call: Call, credential: Credential, sync: Sync | None) -> Response:
    plugin, request = _plugin(credential), call.request
    if sync is not None:
        wait = request.app.state.proxy_pacer.reserve(sync.id, sync.rate_limit, time.monotonic())
        if wait is None:
            return provider_api.throttled(plugin, request, math.ceil(sync.rate_limit.interval))
        if wait > 0:
            await wait_until(call.tenant, lambda: False, round(wait * 1000))  # a stop ends the wait at once
            if call.tenants.stopping:
                return provider_api.throttled(plugin, request, math.ceil(sync.rate_limit.interval))
    tenant = call.tenants.get(call.tenant.token)  # a reset or an import meanwhile: the state as it is now
    credential = tenant.credentials.get(credential.id)
    await account_ready(tenant, credential, request.app.state.turns.exclusive)
    engine.catch_up(tenant)
    account = accounts.account_for(tenant, credential)
    since = len(account.changes)
    response = await provider_api.proxied(request, plugin, tenant, account, "/" + call.params["path"])
    sync = tenant.syncs.find(sync.id) if sync is not None else None
    if sync is not None:
        mutations.write_through(tenant, sync, account, since)
    return response


METHODS = ("Get", "Post", "Put", "Patch", "Delete")


async def proxy_through_sync(call: Call) -> Response:
    sync = call.tenant.syncs.get(call.params["sync_id"])
    return await _proxy(call, call.tenant.credentials.get(sync.credential_id), sync)


async def proxy_through_credential(call: Call) -> Response:
    return await _proxy(call, call.tenant.credentials.get(call.params["credential_id"]), None)


for _method in METHODS:  # one handler per path, for each method the spec names an operation of
    operation(f"proxyThroughSync{_method}")(proxy_through_sync)
    operation(f"proxyThroughCredential{_method}")(proxy_through_credential)
