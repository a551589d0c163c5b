"""The emulator's ASGI app served from a thread of the calling process, without a socket: one event loop in its
own thread runs the app (its lifespan, its background work and each request), and callers on any thread hand it
requests and wait for the answers. The in-process mode (`sequin_emulator.in_process`) is built on it: a request
costs a hand-over between threads, not an HTTP round trip."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx

Message = MutableMapping[str, Any]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


App = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
               Awaitable[None]]


class AsgiBridge:
    """Start with `start()` (runs the app's lifespan start-up), stop with `stop()` (its shutdown)."""

    def __init__(self, app: App, host: str) -> None:
        self.app, self.host = app, host
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sequin-emulator-in-process", daemon=True)
        self._shutdown: asyncio.Event | None = None
        self._lifespan: asyncio.Future | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    async def _start(self) -> None:
        started: asyncio.Future = self.loop.create_future()
        self._shutdown = asyncio.Event()
        sent_startup = False

        async def receive() -> Message:
            nonlocal sent_startup
            if not sent_startup:
                sent_startup = True
                return {"type": "lifespan.startup"}
            assert self._shutdown is not None
            await self._shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set_result(None)
            elif message["type"] == "lifespan.startup.failed":
                started.set_exception(RuntimeError(message.get("message", "the app did not start")))

        self._lifespan = asyncio.ensure_future(self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
        await started

    async def _stop(self) -> None:
        if self._shutdown is not None and self._lifespan is not None:
            self._shutdown.set()
            await self._lifespan

    def call(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        """One request (`target`: path and query) answered by the app, from any thread but the loop's."""
        return asyncio.run_coroutine_threadsafe(self._call(method, target, headers, body), self.loop).result()

    async def _call(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        path, _, query = target.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "client": ("127.0.0.1", 0), "server": (self.host, 443),
                 "headers": [(b"host", self.host.encode()), (b"content-length", str(len(body)).encode()),
                             *((k.lower().encode(), v.encode()) for k, v in headers)]}
        delivered = False
        answered = asyncio.Event()
        start: Message = {}
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        await self.app(scope, receive, send)
        answered.set()
        return Answer(start.get("status", 500), [(k.decode("latin-1"), v.decode("latin-1")) for k, v in
                                                 start.get("headers", [])], b"".join(chunks))


class BridgeTransport(httpx.BaseTransport):
    """An httpx transport to the bridge: a client built on it talks to the app with no socket."""

    def __init__(self, bridge: AsgiBridge) -> None:
        self.bridge = bridge

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode()
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in ("host", "content-length")]
        answer = self.bridge.call(request.method, target, headers, request.read())
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body, request=request)
