"""The registry of simulated providers: one line per provider folder, each exporting its `ProviderPlugin`
(`sequin_emulator.domain.plugins`). The domain reads this through `sequin_emulator.domain.catalog` only."""

from __future__ import annotations

from sequin_emulator.domain.plugins import ProviderPlugin
from sequin_emulator.providers import hubspot, stripe

PLUGINS: tuple[ProviderPlugin, ...] = (
    stripe.PLUGIN,
    hubspot.PLUGIN,
)
