"""Making a simulated account in slices, from the HTTP layer: a large account takes seconds to generate, so its
tenant's other requests wait (the tenant's turn, as for a clock advance) while every other tenant is answered
between slices."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sequin_emulator.domain import accounts
from sequin_emulator.domain.catalog import simulated
from sequin_emulator.domain.inputs import UpstreamSettingsChanges
from sequin_emulator.domain.models import Credential
from sequin_emulator.domain.tenant import Tenant


async def account_ready(tenant: Tenant, credential: Credential,
                        exclusive: Callable[[str], AbstractAsyncContextManager[None]],
                        settings: UpstreamSettingsChanges | None = None) -> None:
    """The credential's account exists afterwards (if its provider is simulated), made with `settings` if new."""
    if accounts.find(tenant, credential) is not None or simulated(credential.provider) is None:
        return
    async with exclusive(tenant.token):
        for _ in accounts.generating(tenant, credential, settings):
            await asyncio.sleep(0)
