"""Simulated providers, each a plugin behind the small interface of `sequin_emulator.domain.upstream.Provider`."""

from __future__ import annotations

from sequin_emulator.domain.upstream import Provider
from sequin_emulator.providers.hubspot import HubSpot
from sequin_emulator.providers.stripe import Stripe

PROVIDERS: dict[str, Provider] = {p.name: p for p in (Stripe(), HubSpot())}


def simulated(name: str) -> Provider | None:
    return PROVIDERS.get(name)
