"""Simulated providers, each a plugin behind the small interface of `emulator.domain.upstream.Provider`."""

from __future__ import annotations

from emulator.domain.upstream import Provider
from emulator.providers.hubspot import HubSpot
from emulator.providers.stripe import Stripe

PROVIDERS: dict[str, Provider] = {p.name: p for p in (Stripe(), HubSpot())}


def simulated(name: str) -> Provider | None:
    return PROVIDERS.get(name)
