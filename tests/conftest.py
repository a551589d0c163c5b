"""Shared fixtures: an in-process emulator on a manual clock that checks its own answers against the spec."""

from __future__ import annotations

import contextlib
import itertools
import os
import warnings
from collections.abc import Callable, Iterator
from functools import partialmethod

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*")

from starlette.testclient import TestClient  # noqa: E402

from sequin_emulator.api.app import create_app  # noqa: E402
from sequin_emulator.config import ServerConfig  # noqa: E402
from sequin_emulator.domain.tenant import ClockStart  # noqa: E402
from sequin_emulator.domain.timefmt import parse_timestamp  # noqa: E402
from sequin_emulator.domain.upstream import AccountSettings  # noqa: E402
from sequin_emulator.testing import TenantClient  # noqa: E402
from tests.postgres_server import PostgresServer, binaries  # noqa: E402

START = "2024-01-01T00:00:00Z"
_tokens = itertools.count()
pytest_plugins = ("pytester",)


QUIET = AccountSettings(records_per_collection=0, changes_per_hour=0)  # upstream accounts that stay empty


def make_config(**overrides) -> ServerConfig:
    """An emulator on a manual clock whose simulated accounts are empty and still, unless overridden, so tests
    see exactly the records they inject."""
    base = dict(seed=7, validate_responses=True, clock=ClockStart(mode="manual", start=parse_timestamp(START)),
                accounts=QUIET)
    return ServerConfig(**{**base, **overrides})


class Api(TenantClient):
    """The project's test client (`sequin_emulator.testing.TenantClient`) on an in-process emulator, with the requests
    most tests make."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        super().__init__(token=token, http=client)
        if not token:
            self.headers = {}

    put = partialmethod(TenantClient.request, "PUT")
    patch = partialmethod(TenantClient.request, "PATCH")
    delete = partialmethod(TenantClient.request, "DELETE")

    def ok(self, method: str, path: str, json=None, status: int = 200) -> dict:
        response = self.request(method, path, json)
        assert response.status_code == status, response.text
        return response.json()

    # the resources most tests need
    def stream(self, slug: str = "dev") -> dict:
        return self.ok("POST", "/v1/streams", {"slug": slug})

    def sync(self, stream_id: str, **fields) -> dict:
        body = {"stream_id": stream_id, "name": "Stripe prod", "collection_ids": ["stripe:customer"],
                "credential": {"properties": {"kind": "stripe_key", "secret": "sk_test_1", "test": True}}, **fields}
        body = {key: value for key, value in body.items() if value is not None}
        return self.ok("POST", "/v1/syncs", body)

    def consumer(self, stream_id: str, **fields) -> dict:
        return self.ok("POST", "/v1/http-consumers", {"stream_id": stream_id, **fields})

    def write_records(self, sync: dict, *upstream_ids: str, collection_id: str = "stripe:customer", deleted: bool = False,
               data: dict | None = None) -> list[dict]:
        """Write records into the sync's stream through the control plane; returns them as written."""
        records = [{"collection_id": collection_id, "upstream_id": uid, "deleted": deleted,
                    "data": data if data is not None else {"id": uid}} for uid in upstream_ids]
        return self.ok("POST", f"/_emulator/streams/{sync['stream_id']}/records",
                       {"sync_id": sync["id"], "records": records})["data"]

    def next(self, consumer: dict, batch_size: int = 1, **options) -> dict:
        return self.ok("POST", f"/v1/http-consumers/{consumer['id']}/next", {"batch_size": batch_size, **options})

    def ack(self, consumer: dict, tokens: list[str], verb: str = "ack") -> None:
        response = self.post(f"/v1/http-consumers/{consumer['id']}/{verb}", {"ack_tokens": tokens})
        assert response.status_code == 204, response.text


@contextlib.contextmanager
def emulator_api(token: str | None = "tenant", **config) -> Iterator[Api]:
    """A tenant on an in-process emulator of its own, configured as `make_config(**config)`, stopped on exit."""
    with TestClient(create_app(make_config(**config)), follow_redirects=False) as client:
        yield Api(client, token)


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Api]]:
    """`start_emulator(token, **config)`: `emulator_api` for a test; every emulator started stops after it."""
    with contextlib.ExitStack() as stack:
        yield lambda token="tenant", **config: stack.enter_context(emulator_api(token, **config))


@pytest.fixture
def client(start_emulator) -> TestClient:
    return start_emulator().http


@pytest.fixture
def api(client) -> Api:
    return Api(client, f"tenant-{next(_tokens)}")


@pytest.fixture
def other(client) -> Api:
    """A second tenant on the same emulator."""
    return Api(client, f"other-{next(_tokens)}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (tests/postgres_server.py), stopped at the end."""
    bin_dir = binaries()
    if bin_dir is None:
        message = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: Debian's `postgresql` package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bin_dir)
    yield server
    server.close()
