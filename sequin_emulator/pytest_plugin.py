"""pytest plugin (entry point `pytest11`): an emulator for the session, and an isolated tenant per test.

Fixtures:
- `sequin_emulator`: the session's emulator base URL. Started on a free loopback port in a child process (or
  in a thread with `--sequin-inprocess`), or an already running one with `--sequin-url`. Under pytest-xdist
  every worker starts its own.
- `sequin`: an `sequin_emulator.testing.TenantClient` with a fresh token, so tests never see each other's data.
- `sequin_mock`: an in-process emulator for this test (`sequin_emulator.mock()`): the test's code reaches it at
  the real hosts (`api.sequin.io`, `api.stripe.com`, `api.hubapi.com`); its `tenant` is the TenantClient.
- `webhook_receiver`: a real HTTP server on a free loopback port (`sequin_emulator.testing.WebhookReceiver`) that
  keeps what it receives: point a webhook consumer at its `url`, then `wait_for(n)` and `verify_signature`.

The marker `@pytest.mark.sequin(scenario=..., clock=..., start_time=..., seed=...)` states the world a test starts
in, for both: `scenario` is loaded, the clock starts at `start_time` in `clock` mode (`manual` unless said), and
`seed` seeds the mock (the session's emulator keeps the seed it was started with).

Options: `--sequin-url URL`, `--sequin-inprocess`, and the ini setting `sequin_emulator_args` for extra
`serve` arguments (default `--clock manual --changes-per-hour 0`: time moves only when a test says so).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sequin_emulator.launcher import HOST, free_port, running_emulator, wait_healthy
from sequin_emulator.scenario import starting_at
from sequin_emulator.testing import TenantClient, WebhookReceiver

DEFAULT_ARGS = ["--clock", "manual", "--changes-per-hour", "0"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sequin-emulator")
    group.addoption("--sequin-url", help="use this running emulator instead of starting one")
    group.addoption("--sequin-inprocess", action="store_true",
                    help="serve the session emulator from a thread of the test process (quicker to start)")
    parser.addini("sequin_emulator_args", type="args", default=DEFAULT_ARGS,
                  help="arguments for `sequin-emulator serve` of the session emulator")


@contextlib.contextmanager
def _in_thread(args: list[str]) -> Iterator[str]:
    import uvicorn

    from sequin_emulator.api.app import create_app
    from sequin_emulator.cli import build_parser, config_from

    port = free_port()
    config = config_from(build_parser().parse_args(["serve", "--port", str(port), *args]))
    server = uvicorn.Server(uvicorn.Config(create_app(config), host=HOST, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://{HOST}:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def sequin_emulator(request: pytest.FixtureRequest) -> Iterator[str]:
    config = request.config
    if config.getoption("sequin_url"):
        yield config.getoption("sequin_url")
        return
    args = list(config.getini("sequin_emulator_args"))
    with (_in_thread(args) if config.getoption("sequin_inprocess") else running_emulator(*args)) as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sequin(scenario=None, clock=None, start_time=None, seed=None): the world "
                                       "the `sequin` and `sequin_mock` fixtures start the test in")


def _world(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The test's `sequin` marker, as keywords (a positional argument is the scenario)."""
    marker = request.node.get_closest_marker("sequin")
    if marker is None:
        return {}
    world = dict(marker.kwargs)
    if marker.args:
        world.setdefault("scenario", marker.args[0])
    unknown = set(world) - {"scenario", "clock", "start_time", "seed"}
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.sequin takes scenario, clock, start_time and seed, not {sorted(unknown)}")
    return world


@pytest.fixture
def sequin(sequin_emulator: str, request: pytest.FixtureRequest) -> Iterator[TenantClient]:
    tenant = TenantClient(sequin_emulator)
    world = _world(request)
    try:
        start = starting_at(world.get("scenario"), world.get("clock"), world.get("start_time"))
        if start is not None:
            tenant.load(start)
        yield tenant
    finally:
        with contextlib.suppress(Exception):
            tenant.reset()
        tenant.close()


@pytest.fixture
def sequin_mock(request: pytest.FixtureRequest) -> Iterator[Any]:
    from sequin_emulator.in_process import mock

    world = _world(request)
    start = starting_at(world.get("scenario"), world.get("clock"), world.get("start_time"))  # the stated start wins
    with mock(start, seed=world.get("seed") or 0, clock=world.get("clock") or "manual") as emulator:
        yield emulator


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver
