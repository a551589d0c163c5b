"""The HubSpot API tests' emulator (still, on a manual clock) and a synced portal on it, per test."""

from __future__ import annotations

from tests.providers.hubspot.test_api import Portal
from tests.providers.synced_account import synced_fixtures

emulator_url, portal = synced_fixtures(Portal, records_per_collection=12)
