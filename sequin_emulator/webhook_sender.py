"""Pushing webhook consumers' messages to their URLs: one asyncio task per consumer, one HTTP client for all.

The domain (`sequin_emulator.domain.webhooks`) says what is due and keeps each consumer's place and retries; this
module only makes the requests and reports back. A consumer's task sleeps until the tenant signals a change (a
write, a clock move, a settled attempt) or its next retry comes due on the tenant's clock; each attempt runs as its
own task, at most `max_in_flight` of a consumer's at once (the domain hands out no more). Every attempt is in the
tenant's journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator

import httpx

from sequin_emulator.domain import webhooks
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.timefmt import format_micros

LOG = logging.getLogger("sequin_emulator.webhooks")
OWN_TRAFFIC = "sequin_emulator_own_traffic"  # set on the sender's transport: `mock()` lets its requests through
RECONCILE_EVERY = 0.1  # how soon a new consumer starts and a deleted one stops
AT_ONCE = 64  # attempts under way at once, over every consumer: httpx's pool slows down badly with long queues
PER_ORIGIN = 8  # of those, to one scheme://host:port: its quickest pace here, and a slow endpoint holds no more
IDLE = 1.0  # a consumer with nothing due looks again at least this often (it is woken by changes anyway)


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


class WebhookSender:
    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants
        self.tasks: dict[tuple[str, str], asyncio.Task] = {}  # (token, consumer id) → its task
        self.identity: dict[str, int] = {}  # token → id() of the tenant its tasks serve
        self.attempts: set[asyncio.Task] = set()
        self.slots = asyncio.Semaphore(AT_ONCE)
        self.origin_slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # origin → (slots, [attempts])
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=AT_ONCE,
                                                                 max_keepalive_connections=AT_ONCE))
        setattr(transport, OWN_TRAFFIC, True)  # the emulator's own requests: `mock()` lets them through untouched
        self.http = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)

    async def run(self) -> None:
        """Start and stop consumer tasks as consumers come and go. Never returns."""
        while True:
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - the last line of defence: log and keep delivering
                LOG.exception("the webhook sender failed a round; it goes on")
            await asyncio.sleep(RECONCILE_EVERY)

    def reconcile(self) -> None:
        wanted: set[tuple[str, str]] = set()
        for tenant in self.tenants.with_webhooks():
            if self.identity.get(tenant.token) != id(tenant):  # new, or replaced by a reset or an import
                self.identity[tenant.token] = id(tenant)
                for key in [k for k in self.tasks if k[0] == tenant.token]:
                    self.tasks.pop(key).cancel()
            wanted |= {(tenant.token, c.id) for c in tenant.webhook_consumers}
        for key in set(self.tasks) - wanted:
            self.tasks.pop(key).cancel()
        for key in wanted - set(self.tasks):
            task = self.tasks[key] = asyncio.create_task(self._follow(*key))
            task.add_done_callback(functools.partial(self._ended, key))

    def _ended(self, key: tuple[str, str], task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            LOG.error("the webhook consumer %s failed; it starts again", key[1], exc_info=task.exception())
        if self.tasks.get(key) is task:  # it failed while still wanted: the next round starts it again
            del self.tasks[key]

    async def close(self) -> None:
        for task in [*self.tasks.values(), *self.attempts]:
            task.cancel()
        await self.http.aclose()

    async def _follow(self, token: str, consumer_id: str) -> None:
        tenant = self.tenants.find(token)
        if tenant is None:
            return
        woken = asyncio.Event()
        tenant.listeners.add(woken.set)
        try:
            while self.tenants.find(token) is tenant and tenant.webhook_consumers.find(consumer_id) is not None:
                woken.clear()
                for attempt in webhooks.due(tenant, consumer_id):
                    task = asyncio.create_task(self._attempt(tenant, attempt))
                    self.attempts.add(task)
                    task.add_done_callback(self.attempts.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self._until_due(tenant, consumer_id))
        finally:
            tenant.listeners.discard(woken.set)

    @staticmethod
    def _until_due(tenant: Tenant, consumer_id: str) -> float:
        """Wall seconds until the consumer's next retry falls due on the tenant's clock (a manual clock only moves
        when advanced, which wakes the task), at most `IDLE`."""
        at, rate = webhooks.next_due_at(tenant, consumer_id), tenant.clock.rate
        if at is None or rate <= 0:
            return IDLE
        return min(IDLE, max(0.0, (at - tenant.now()) / 1e6 / rate) + 0.001)

    @contextlib.asynccontextmanager
    async def _origin_slot(self, url: str) -> AsyncIterator[None]:
        """One of the URL's origin's `PER_ORIGIN` slots; an origin's entry lives only while attempts use it."""
        origin = _origin(url)
        slots, users = self.origin_slots.setdefault(origin, (asyncio.Semaphore(PER_ORIGIN), [0]))
        users[0] += 1
        try:
            async with slots:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self.origin_slots[origin]

    async def _attempt(self, tenant: Tenant, attempt: webhooks.Attempt) -> None:
        started, status, error = time.perf_counter(), None, None
        if tenant.faults.latency_ms:
            await asyncio.sleep(tenant.faults.latency_ms / 1000)
        try:
            async with self._origin_slot(attempt.url), self.slots:
                response = await self.http.post(attempt.url, content=attempt.body, headers=attempt.headers,
                                                timeout=attempt.timeout_ms / 1000)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the endpoint answered {status}"
        except httpx.TimeoutException:
            error = f"no answer within {attempt.timeout_ms} ms"
        except (httpx.HTTPError, OSError, ValueError) as exc:  # refused, reset, a URL httpx cannot send to
            error = f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # noqa: BLE001 - never leave a message under way for good: it fails, and is logged
            LOG.exception("a webhook delivery to %s failed unexpectedly", attempt.url)
            error = f"{type(exc).__name__}: {exc}"[:300]
        if self.tenants.find(tenant.token) is not tenant:
            return  # reset or imported meanwhile: the attempt belongs to a tenant that is gone
        if error is None:
            webhooks.delivered(tenant, attempt.consumer_id, attempt.idx)
        else:
            webhooks.failed(tenant, attempt.consumer_id, attempt.idx, error)
        tenant.journal.append({
            "time": format_micros(tenant.now()), "method": "POST", "path": attempt.url, "query": "",
            "status": status or 0, "webhook": {
                "consumer_id": attempt.consumer_id, "delivery_id": attempt.headers["sequin-delivery-id"],
                "attempt": int(attempt.headers["sequin-attempt"]), "error": error,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)}})
