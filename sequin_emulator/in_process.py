"""Test without a server, in moto's style: inside `mock()`, the user's own code calling `https://api.sequin.io`,
`https://api.stripe.com` or `https://api.hubapi.com` (hard-coded, through the official SDKs) talks to an
in-process emulator, with no socket:

    with sequin_emulator.mock(scenario="stripe-basic") as m:
        stripe.api_key = "sk_test_basic"
        stripe.Customer.create(email="a@example.com")   # reaches the simulated Stripe account holding that key
        m.tenant.advance("1m")                           # the same state, through the test client

HTTP made through `httpx` (sync and async), `requests` and `urllib3` (what `stripe` and `hubspot-api-client`
use) is intercepted at the transport: a request to a host the emulator answers goes to the emulator's app in this
process; any other passes through untouched, or is refused with `MockError` under `block_other_hosts=True`.

- `api.sequin.io`: the Sequin API, as the mock's one organization (whatever token the code sends).
- A provider's host (`api.stripe.com`, `api.hubapi.com`, from each plugin's record): the simulated account of the
  mock's organization whose credential holds the key the request carries (bearer or basic auth); a key held by two
  credentials is a `MockError`, never a guess; a key held by none gets the provider's 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

import httpx

from sequin_emulator.asgi_bridge import Answer, AsgiBridge, BridgeTransport
from sequin_emulator.config import ServerConfig
from sequin_emulator.domain.plugins import ProviderPlugin
from sequin_emulator.domain.tenant import ClockStart
from sequin_emulator.domain.timefmt import parse_clock_time
from sequin_emulator.domain.upstream import AccountSettings
from sequin_emulator.providers import document
from sequin_emulator.providers.wire import Refusal, WireApi, masked, presented_key
from sequin_emulator.testing import TenantClient

SEQUIN_HOSTS = ("api.sequin.io",)
TOKEN = "mock"  # the mock's organization
F = TypeVar("F", bound=Callable[..., Any])


class MockError(Exception):
    """A request the mock refuses to guess about: a key held by two credentials, or a host it was told to block."""


class mock:  # noqa: N801 - used like moto's mock_aws: a verb, in lower case
    """An in-process emulator and the interception of HTTP to the hosts it answers; a context manager, a decorator
    (sync and async functions) and, through the pytest plugin, the `sequin_mock` fixture.

    `scenario` (a shipped scenario's name, a file, or a mapping) is loaded on entry; `seed`, `clock` (`manual` by
    default: time moves when the test says), `start_time` and `accounts` (how new simulated accounts are shaped:
    empty and still by default) set up the emulator."""

    def __init__(self, scenario: str | Path | dict | None = None, *, seed: int = 0, clock: str = "manual",
                 start_time: str | None = None, accounts: AccountSettings | None = None,
                 block_other_hosts: bool = False, server: bool = False) -> None:
        self._given: dict[str, Any] = dict(scenario=scenario, seed=seed, clock=clock, start_time=start_time,
                                           accounts=accounts, block_other_hosts=block_other_hosts, server=server)
        self.url: str | None = None  # with `server=True`: where the same emulator also answers over HTTP
        self.scenario, self.block_other_hosts = scenario, block_other_hosts
        self.config = ServerConfig(
            seed=seed, clock=ClockStart(mode=clock, start=parse_clock_time(start_time) if start_time else None),
            accounts=accounts or AccountSettings(records_per_collection=0, changes_per_hour=0))
        self._stack: contextlib.ExitStack | None = None

    # ------------------------------------------------------------ set-up

    def __enter__(self) -> mock:
        with contextlib.ExitStack() as stack:  # a failed start stops what it had started
            self._start(stack)
            self._stack = stack.pop_all()
        return self

    def _start(self, stack: contextlib.ExitStack) -> None:
        from sequin_emulator.api.app import create_app
        from sequin_emulator.domain import catalog
        from sequin_emulator.scenario import starting_at

        self.app = create_app(self.config)
        self.bridge = AsgiBridge(self.app, SEQUIN_HOSTS[0])
        self.bridge.start()
        stack.callback(self.bridge.stop)
        self.http = stack.enter_context(httpx.Client(transport=BridgeTransport(self.bridge),
                                                     base_url=f"https://{SEQUIN_HOSTS[0]}", timeout=None))
        self.tenant = TenantClient(http=self.http, token=TOKEN)
        self.hosts = {host: plugin for plugin in catalog.PLUGIN_OF.values() for host in plugin.api_hosts}
        if self._given["server"]:
            self._serve(stack)
        start = starting_at(self.scenario, None, self._given["start_time"])
        self.ids = self.tenant.load(start) if start is not None else {}  # the scenario's ids by name
        for patch in _patches(self):
            stack.enter_context(patch)

    def _serve(self, stack: contextlib.ExitStack) -> None:
        """The same app, on the same loop, also served over HTTP on a free loopback port (for code that needs a
        URL: webhook receivers' callers, subprocesses); the mock's organization is the token `mock` there."""
        import uvicorn

        from sequin_emulator.launcher import HOST, free_port, wait_healthy

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(self.app, host=HOST, port=port, lifespan="off", log_level="warning"))
        serving = asyncio.run_coroutine_threadsafe(server.serve(), self.bridge.loop)

        def stop() -> None:
            server.should_exit = True
            serving.result(timeout=10)

        stack.callback(stop)
        self.url = f"http://{HOST}:{port}"
        wait_healthy(self.url)

    def __exit__(self, *exc: object) -> None:
        assert self._stack is not None
        self._stack.close()
        self._stack = None

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def within(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await func(*args, **kwargs)
            return cast(F, within)

        @functools.wraps(func)
        def within_sync(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)
        return cast(F, within_sync)

    def _fresh(self) -> mock:
        """A decorated function gets its own emulator each call, as a test should."""
        return mock(**self._given)

    # ------------------------------------------------------------ routing

    def routes(self, host: str) -> bool:
        return host in SEQUIN_HOSTS or host in self.hosts

    def answer(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        """A request to a host the emulator answers, answered by the in-process app."""
        routed = self.route(url, headers)
        if isinstance(routed, Answer):
            return routed
        target, sent = routed
        return self.bridge.call(method, target, sent, body)

    def route(self, url: str, headers: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]] | Answer:
        """Where the app answers a request to `url` (its path and query there) and the headers it gets; or the
        provider's 401 when no account of the mock holds the key."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        sent = [(k, v) for k, v in headers if k.lower() not in ("host", "content-length", "transfer-encoding")]
        if parts.hostname in SEQUIN_HOSTS:
            return path, [(k, v) for k, v in sent if k.lower() != "authorization"] + [("Authorization",
                                                                                       f"Bearer {TOKEN}")]
        plugin = self.hosts[parts.hostname or ""]
        authorization = next((v for k, v in sent if k.lower() == "authorization"), "")
        credential_id = self._credential_of(plugin, presented_key(authorization) or _query_key(parts.query))
        if credential_id is None:  # no account holds the key: the provider's own 401
            refused = cast(WireApi, plugin.wire).refusal(401, "Invalid API Key provided: no simulated account "
                                                         "of the mock holds it.", Refusal.KEY, "0" * 14)
            return Answer(401, [("content-type", "application/json"), *refused.headers.items()], refused.body or b"")
        return f"/_providers/{self._org_id()}/{credential_id}/{plugin.name}{path}", sent

    def _org_id(self) -> str:
        return str(self.app.state.tenants.get(TOKEN).org_id)

    def _credential_of(self, plugin: ProviderPlugin, key: str | None) -> str | None:
        holders = [c for c in self.app.state.tenants.get(TOKEN).credentials
                   if c.provider == plugin.name and key is not None and plugin.key_of(c.properties) == key]
        if len(holders) > 1:
            raise MockError(f"The key {masked(key or '')} is held by {len(holders)} {plugin.display_name} credentials "
                            f"of the mock's organization ({', '.join(c.id for c in holders)}); give each its own key.")
        return holders[0].id if holders else None


def _query_key(query: str) -> str | None:
    """A key carried in the query, where an operation's security puts it there (HubSpot's `hapikey`)."""
    names = set(document.key_parameters().values())
    return next((value for name, value in parse_qsl(query) if name in names and value), None)


# ------------------------------------------------------------------ interception, one patch per client library

def _patches(m: mock) -> Iterator[contextlib.AbstractContextManager[None]]:
    yield _patched(httpx.HTTPTransport, "handle_request", lambda original: _httpx_sync(m, original))
    yield _patched(httpx.AsyncHTTPTransport, "handle_async_request", lambda original: _httpx_async(m, original))
    with contextlib.suppress(ImportError):
        import urllib3.connectionpool

        yield _patched(urllib3.connectionpool.HTTPConnectionPool, "urlopen", lambda original: _urllib3(m, original))


@contextlib.contextmanager
def _patched(owner: type, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """Replace `owner.name` by a wrapper of whatever is there now (another mocking library's patch included), and
    put that back on exit."""
    original = owner.__dict__[name]
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _refused(m: mock, host: str) -> None:
    if m.block_other_hosts:
        raise MockError(f"A request to {host} inside sequin_emulator.mock(block_other_hosts=True): only the hosts "
                        f"the emulator answers ({', '.join([*SEQUIN_HOSTS, *m.hosts])}) are reachable.")


def _httpx_sync(m: mock, original: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
    def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if not m.routes(request.url.host):
            _refused(m, request.url.host)
            return original(transport, request)
        answer = m.answer(request.method, str(request.url), list(request.headers.multi_items()), request.read())
        return httpx.Response(answer.status, headers=_plain(answer.headers), content=answer.body, request=request)
    return handle_request


def _httpx_async(m: mock, original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_async_request(transport: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        if not m.routes(request.url.host):
            _refused(m, request.url.host)
            return cast(httpx.Response, await original(transport, request))
        body = await request.aread()
        answer = await asyncio.to_thread(m.answer, request.method, str(request.url),
                                         list(request.headers.multi_items()), body)
        return httpx.Response(answer.status, headers=_plain(answer.headers), content=answer.body, request=request)
    return handle_async_request


def _plain(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The answer's headers, less those that describe an encoding the body no longer has."""
    return [(k, v) for k, v in headers if k.lower() not in ("content-encoding", "transfer-encoding")]


def _urllib3(m: mock, original: Callable[..., Any]) -> Callable[..., Any]:
    import io

    import urllib3

    def urlopen(pool: urllib3.connectionpool.HTTPConnectionPool, method: str, url: str, body: Any = None,
                headers: Any = None, *args: Any, **kwargs: Any) -> Any:
        host = pool.host
        if not m.routes(host):
            _refused(m, host)
            return original(pool, method, url, body, headers, *args, **kwargs)
        full = url if url.startswith(("http://", "https://")) else f"{pool.scheme}://{host}{url}"
        data = body.encode() if isinstance(body, str) else (body.read() if hasattr(body, "read") else (body or b""))
        answer = m.answer(method, full, list(dict(headers or {}).items()), bytes(data))
        return urllib3.HTTPResponse(body=io.BytesIO(answer.body), headers=urllib3.HTTPHeaderDict(_plain(answer.headers)),
                                    status=answer.status,
                                    preload_content=kwargs.get("preload_content", True), decode_content=False,
                                    request_method=method, request_url=full)
    return urlopen
