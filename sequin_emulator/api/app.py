"""The Starlette application: one route per spec path, and one pipeline for every operation.

Pipeline (after Prism): route → authenticate → admit (the tenant's turn, its API rate limit) → catch up (run
what fell due on the tenant's clock) → validate parameters and body → handle → render → journal (→ validate
the response, when asked). Errors become the contract's statuses and bodies through `problems`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sequin_emulator import scenario, state_file
from sequin_emulator.api import handlers, problems, provider_api, proxy
from sequin_emulator.api.problems import ApiError, JSONResponse
from sequin_emulator.config import ServerConfig
from sequin_emulator.domain import catalog, engine
from sequin_emulator.domain.errors import DomainError
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.timefmt import format_micros
from sequin_emulator.providers.document import document as provider_document
from sequin_emulator.spec.document import Operation, load_spec, operations
from sequin_emulator.spec.validation import parameter_errors, schema_errors, validated


class ResponseMismatch(AssertionError):
    """An answer that breaks the spec: always a bug of the emulator, surfaced loudly in strict mode."""


class Turns:
    """Operations that move a tenant's clock far run in slices, letting other clients be answered in between;
    meanwhile the tenant's own other requests wait their turn, so nobody sees it half-advanced."""

    def __init__(self) -> None:
        self._busy: dict[str, asyncio.Event] = {}  # token → set when its exclusive operation ends

    def busy(self, token: str) -> bool:
        return token in self._busy

    async def wait(self, token: str) -> None:
        while (done := self._busy.get(token)) is not None:
            await done.wait()

    @contextlib.asynccontextmanager
    async def exclusive(self, token: str) -> AsyncIterator[None]:
        await self.wait(token)
        done = self._busy[token] = asyncio.Event()
        try:
            yield
        finally:
            del self._busy[token]
            done.set()


class Pipeline:
    def __init__(self, config: ServerConfig, tenants: Tenants, static_paths: dict[str, list[str]]) -> None:
        self.config = config
        self.tenants = tenants
        self.turns = Turns()
        self.static_paths = static_paths  # paths without parameters → their methods, to tell 405 from 404
        self._window: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # token → [wall second, count]

    def endpoint(self, by_method: dict[str, Operation]) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            op = by_method.get(request.method) or by_method["GET"]  # HEAD is GET without a body
            tenant: Tenant | None = None
            if request.method == "HEAD" and not op.head_allowed:
                return problems.head_not_allowed(request.url.path, list(by_method)).response()
            try:
                tenant = self._authenticate(op, request)
                if tenant is not None:
                    tenant = await self._admit(tenant, request)
                    engine.catch_up(tenant)
                response = await self._run(op, request, tenant)
            except ApiError as exc:
                response = exc.response()
            except DomainError as exc:
                response = problems.answer(exc)
            if tenant is not None:
                tenant = self.tenants.get(tenant.token)
                self._record(tenant, request, response.status_code)
                self.tenants.note(tenant)
            if self.config.validate_responses and response.status_code != 405:  # 405 answers the path, not op
                self._check_response(op, response)
            return response
        return serve

    def _authenticate(self, op: Operation, request: Request) -> Tenant | None:
        """The caller's tenant, for a secured operation."""
        if not op.secured:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise problems.malformed_authorization()
        if not self.tenants.accepts(token):
            raise problems.key_not_accepted()
        return self.tenants.get(token)

    async def _admit(self, tenant: Tenant, request: Request) -> Tenant:
        """The tenant's turn (after any clock advance of its own), then its API rate limit. Returns the tenant
        as it is now (a reset or an import meanwhile replaced it)."""
        await self.turns.wait(tenant.token)
        tenant = self.tenants.get(tenant.token)
        if request.scope["path"].startswith("/v1/"):
            self._throttle(tenant)
        return tenant

    def _throttle(self, tenant: Tenant) -> None:
        limit = tenant.faults.api_rate_limit
        if limit is None:
            return
        second = int(time.monotonic())
        window = self._window[tenant.token]
        if window[0] != second:
            window[0], window[1] = second, 0
        window[1] += 1
        if window[1] > limit:
            raise problems.rate_limited(limit)

    async def _run(self, op: Operation, request: Request, tenant: Tenant | None) -> Response:
        params = self._parameters(op, request)
        body = await self._body(op, request)
        handler = handlers.HANDLERS[op.operation_id]
        if tenant is not None and tenant.faults.latency_ms and request.scope["path"].startswith("/v1/"):
            await asyncio.sleep(tenant.faults.latency_ms / 1000)
        call = handlers.Call(self.tenants, tenant, params, body, request, self.turns.exclusive)
        result = handler(call)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Response):
            return result
        status, payload = result
        return Response(status_code=status) if payload is None else JSONResponse(payload, status_code=status)

    def _parameters(self, op: Operation, request: Request) -> dict[str, Any]:
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for param in op.parameters:
            source = request.path_params if param.location == "path" else request.query_params
            if param.location not in ("path", "query"):
                continue
            raw = source.get(param.name)
            if raw is None:
                if param.required:
                    errors[param.name] = ["is required"]
                elif "default" in param.schema:
                    values[param.name] = param.schema["default"]
                continue
            value, found = parameter_errors(param, raw)
            if found and param.location == "path":
                if request.url.path in self.static_paths:  # e.g. PATCH /v1/credentials/start-auth
                    raise problems.method_not_allowed(request.method, request.url.path,
                                                      self.static_paths[request.url.path])
                raise problems.not_found_path(request.url.path, param.name, found[param.name][0])
            errors.update(found)
            values[param.name] = value
        if errors:
            raise problems.invalid_parameters(errors)
        return values

    async def _body(self, op: Operation, request: Request) -> Any:
        if op.body_pointer is None or request.method in ("GET", "HEAD", "DELETE"):
            return None  # a body on a GET is tolerated and ignored
        raw = await self._read_limited(request, op.body_limit or self.config.body_limit)
        if not raw.strip():
            if op.body_required:
                raise problems.empty_body()
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise problems.not_json() from None
        if not isinstance(body, dict):
            raise problems.not_an_object()
        body, errors = validated(op.body_pointer, body, max_depth=op.max_depth)
        if errors:
            raise problems.invalid_body(errors)
        return body

    async def _read_limited(self, request: Request, limit: int) -> bytes:
        too_large = problems.too_large(limit)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _record(self, tenant: Tenant, request: Request, status: int) -> None:
        scope = request.scope  # not request.url: parsing a URL per request is measurable on the consume path
        tenant.journal.append({"time": format_micros(tenant.now()), "method": request.method, "path": scope["path"],
                               "query": scope["query_string"].decode("latin-1"), "status": status})

    def _check_response(self, op: Operation, response: Response) -> None:
        documented = op.responses.get(str(response.status_code))
        if documented is None:
            raise ResponseMismatch(f"{op.operation_id} answered {response.status_code}, which the spec does not list")
        pointer = op.response_schema_pointer(response.status_code)
        if pointer is not None and not isinstance(response, StreamingResponse):  # a stream (the export) is not
            # held whole; importing it back validates it against the same schema
            problems = schema_errors(pointer, orjson.loads(response.body))
            if problems:
                raise ResponseMismatch(f"{op.operation_id} {response.status_code} breaks its schema: {problems}")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's routing failures: no route (404), or a route without the method (405)."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = [m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()]
        return problems.method_not_allowed(request.method, request.url.path, allowed).response()
    if exc.status_code == 404:
        return problems.no_route(request.url.path).response()
    return problems.error(exc.status_code, exc.detail, dict(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> Response:
    return problems.internal(exc).response()


def _route_name(ops: dict[str, Operation]) -> str:
    """Routes are named after their first operation, so handlers can build URLs with `url_for`."""
    return next(iter(ops.values())).operation_id


async def _tick(tenants: Tenants, turns: Turns, every: float) -> None:
    """Run the sync engine of every tenant whose clock moves by itself and that has something for it to run
    (a simulated account); tenants in the middle of an exclusive operation are left to it. Nothing stops it."""
    while True:
        await asyncio.sleep(every)
        try:
            for tenant in tenants.with_moving_engines():
                if not turns.busy(tenant.token):
                    engine.catch_up(tenant)
        except Exception:  # noqa: BLE001 - catch_up contains engine bugs; this is the last line of defence
            engine.LOG.exception("the background ticker failed a round; it goes on")


async def _save_every(tenants: Tenants, turns: Turns, path: str, seconds: float) -> None:
    """`--state-interval`: save the state file this often, so a SIGKILL loses at most that much."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await state_file.save_while_serving(tenants, path, turns.exclusive)
        except OSError:
            engine.LOG.exception("could not save the state file %s; trying again in %s s", path, seconds)


def stopping(app: Starlette) -> None:
    """Called as a stop is asked for (a signal, from any thread): long polls and awaited mutations answer with
    what there is at once, instead of holding the stop back until they time out."""
    loop = getattr(app.state, "loop", None)
    if loop is not None:
        loop.call_soon_threadsafe(app.state.tenants.stop)


class Anything(PathConvertor):
    """A path's rest, newlines and all (an id may hold any character; Starlette's `path` stops at a newline)."""

    regex = r"[\s\S]*"


register_url_convertor("anything", Anything())


def _check_credential_kinds() -> None:
    """Refuse to start when a credential kind the catalogue knows (a plugin's, or a stored-only one) is not one
    the spec accepts: its credentials could never be made."""
    documented = set(load_spec()["components"]["schemas"]["CredentialProperties"]["discriminator"]["mapping"])
    missing = sorted(set(catalog.CREDENTIAL_KINDS) - documented)
    if missing:
        raise RuntimeError(f"credential kinds not in openapi/sequin.yaml's CredentialProperties: {', '.join(missing)}")


def create_app(config: ServerConfig | None = None, tenants: Tenants | None = None) -> Starlette:
    config = config or ServerConfig()
    tenants = tenants or Tenants(seed=config.seed, clock=config.clock, api_keys=config.api_keys,
                                 accounts=config.accounts)
    unserved = [op.operation_id for op in operations() if op.operation_id not in handlers.HANDLERS]
    if unserved:
        raise RuntimeError(f"operations in the spec without a handler: {', '.join(unserved)}")
    provider_api.check_handlers()
    _check_credential_kinds()
    by_path: dict[str, dict[str, Operation]] = defaultdict(dict)
    for op in operations():
        by_path[op.path][op.method] = op
    pipeline = Pipeline(config, tenants, {path: list(ops) for path, ops in by_path.items() if "{" not in path})
    routes = [Route(next(iter(ops.values())).route_path, pipeline.endpoint(ops), methods=list(ops), name=_route_name(ops))
              for path, ops in by_path.items()]
    spec_json = orjson.dumps(load_spec())
    routes.append(Route("/openapi.json", lambda request: Response(spec_json, media_type="application/json"),
                        methods=["GET"]))
    providers_json = orjson.dumps(provider_document())  # read once: the provider APIs' checks use it too
    routes.append(Route("/_providers/openapi.json", lambda request: Response(providers_json,
                                                                             media_type="application/json"),
                        methods=["GET"]))
    # every method reaches the provider's router, so an unserved one is answered in the provider's envelope
    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes.append(Route("/_providers/{org_id}/{credential_id}/{provider}/{rest:anything}",
                        provider_api.provider_endpoint, methods=every))
    routes.append(Route("/_providers/{rest:anything}", provider_api.unknown_endpoint, methods=every))
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.loop = asyncio.get_running_loop()  # for stopping() from a signal handler
        from sequin_emulator.postgres_writer import PostgresWriter  # psycopg loads only when a server runs
        from sequin_emulator.webhook_sender import WebhookSender

        writer, sender = PostgresWriter(tenants), WebhookSender(tenants)
        tasks = [asyncio.create_task(_tick(tenants, pipeline.turns, config.tick_seconds)),
                 asyncio.create_task(writer.run()), asyncio.create_task(sender.run())]
        if config.state_file and config.state_interval:
            tasks.append(asyncio.create_task(_save_every(tenants, pipeline.turns, config.state_file, config.state_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await writer.close()  # the pools' connections closed, not left to the database to notice
            await sender.close()
            if config.state_file:
                state_file.save(tenants, config.state_file)

    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error},
                    lifespan=lifespan)
    app.state.tenants = tenants
    app.state.config = config
    app.state.turns = pipeline.turns  # the provider APIs wait for a tenant's clock advance too
    app.state.provider_requests = itertools.count()  # request ids follow the call order
    app.state.proxy_pacer = proxy.Pacer()  # the Proxy API's use of each sync's rate limit
    if config.state_file:
        state_file.load(tenants, config.state_file)
    if config.demo:
        from sequin_emulator.demo import load_demo

        load_demo(tenants)
    for path in config.scenarios:
        scenario.load_file(tenants, path)
    for tenant in tenants:
        tenants.note(tenant)
    return app
