"""The Stripe API tests' emulator (still, on a manual clock) and a synced account on it, per test."""

from __future__ import annotations

from tests.providers.stripe.test_api import Account
from tests.providers.synced_account import synced_fixtures

emulator_url, account = synced_fixtures(Account, records_per_collection=3)
