"""What the provider API tests share: an emulator on a still, manual clock, and a tenant whose sync of one
simulated account is backfilled, with a consumer that has read everything so far."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sequin_emulator.launcher import running_emulator
from sequin_emulator.testing import TenantClient

_tokens = itertools.count()


@contextlib.contextmanager
def still_emulator(records_per_collection: int) -> Iterator[str]:
    with running_emulator("--clock", "manual", "--start-time", "2024-01-01T00:00:00Z", "--changes-per-hour", "0",
                          "--records-per-collection", str(records_per_collection)) as url:
        yield url


class SyncedAccount:
    def __init__(self, url: str, properties: dict, collection_ids: list[str]) -> None:
        self.sequin = TenantClient(url, token=f"synced-{properties['kind']}-{next(_tokens)}")
        stream = self.sequin.post("/v1/streams", {"slug": "main"}).json()
        self.sync = self.sequin.post("/v1/syncs", {"stream_id": stream["id"], "name": properties["kind"],
                                                   "collection_ids": collection_ids,
                                                   "credential": {"properties": properties}}).json()
        self.sequin.wait_for_backfill(self.sync["id"])
        self.consumer = self.sequin.post("/v1/http-consumers", {"stream_id": stream["id"]}).json()
        self.sequin.drain(self.consumer["id"])
        self.base = self.sequin.api_base(self.sync["credential_id"])

    def close(self) -> None:
        self.sequin.close()


def synced_fixtures(made: Callable[[str], SyncedAccount], records_per_collection: int) -> tuple[Any, Any]:
    """A provider's test fixtures: its still emulator (one per module) and a fresh synced account on it per test."""

    @pytest.fixture(scope="module")
    def emulator_url() -> Iterator[str]:
        with still_emulator(records_per_collection) as url:
            yield url

    @pytest.fixture
    def account(emulator_url: str) -> Iterator[SyncedAccount]:
        synced = made(emulator_url)
        yield synced
        synced.close()

    return emulator_url, account
