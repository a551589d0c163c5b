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
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sequin_emulator.domain import catalog, provider_webhooks, webhooks
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.timefmt import format_micros

if TYPE_CHECKING:
    import aiohttp

LOG = logging.getLogger("sequin_emulator.webhooks")
RECONCILE_EVERY = 0.1  # how soon a new consumer starts and a deleted one stops
AT_ONCE = 64  # attempts under way at once, over every consumer (the others wait their turn before their timeout runs)
PER_ORIGIN = 8  # of those, to one scheme://host:port: its quickest pace here, and a slow endpoint holds no more
IDLE = 1.0  # a consumer with nothing due looks again at least this often (it is woken by changes anyway)


def _seconds(retry_after: str | None) -> float | None:
    """A `Retry-After` in seconds (its date form is not read), at most a day."""
    try:
        value = float(retry_after) if retry_after else math.nan
    except ValueError:
        return None
    return min(max(value, 0.0), 86400.0) if math.isfinite(value) else None


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@dataclass(frozen=True)
class Outgoing:
    """One POST, ready to send, and how to report its outcome."""

    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float  # seconds
    journal: dict  # who sent it: `consumer_id` or `endpoint_id`, `delivery_id`, `attempt`
    settle: Callable[[Tenant, Answer], None]


@dataclass(frozen=True)
class Answer:
    """How an attempt ended: `error` is None when it was acknowledged (a 2xx)."""

    error: str | None
    status: int | None = None  # None: no answer
    retry_after: float | None = None  # the answer's `Retry-After`, in seconds


class ConsumerTarget:
    """A webhook consumer of the tenant (`domain.webhooks`)."""

    def __init__(self, consumer_id: str) -> None:
        self.consumer_id = consumer_id

    def alive(self, tenant: Tenant) -> bool:
        return tenant.webhook_consumers.find(self.consumer_id) is not None

    def due(self, tenant: Tenant) -> list[Outgoing]:
        return [Outgoing(a.url, a.body, a.headers, a.timeout_ms / 1000,
                         {"consumer_id": a.consumer_id, "delivery_id": a.headers["sequin-delivery-id"],
                          "attempt": int(a.headers["sequin-attempt"])}, functools.partial(self._settle, a.idx))
                for a in webhooks.due(tenant, self.consumer_id)]

    def _settle(self, idx: int, tenant: Tenant, answer: Answer) -> None:
        if answer.error is None:
            webhooks.delivered(tenant, self.consumer_id, idx)
        else:
            webhooks.failed(tenant, self.consumer_id, idx, answer.error)

    def next_due_at(self, tenant: Tenant) -> int | None:
        return webhooks.next_due_at(tenant, self.consumer_id)


class EndpointTarget:
    """A webhook endpoint of a simulated account (Stripe's, a HubSpot app's), signed the provider's way at send
    time (a new signature for every attempt: receivers refuse old timestamps)."""

    def __init__(self, account_key: str, endpoint_id: str) -> None:
        self.account_key, self.endpoint_id = account_key, endpoint_id

    def alive(self, tenant: Tenant) -> bool:
        account = tenant.accounts.get(self.account_key)
        return account is not None and self.endpoint_id in account.webhook_endpoints

    def due(self, tenant: Tenant) -> list[Outgoing]:
        outgoing = []
        for a in provider_webhooks.due(tenant, self.account_key, self.endpoint_id):
            plugin = catalog.plugin(a.provider)
            sign = plugin.sign_webhook if plugin is not None else None
            headers = sign(a.secret, a.url, a.body, int(time.time() * 1000)) if sign is not None else {}
            outgoing.append(Outgoing(a.url, a.body, headers, a.timeout,
                                     {"endpoint_id": a.endpoint_id, "delivery_id": f"{a.endpoint_id}:{a.first}",
                                      "attempt": a.attempt, "events": a.events}, functools.partial(self._settle, a)))
        return outgoing

    @staticmethod
    def _settle(attempt: provider_webhooks.EndpointAttempt, tenant: Tenant, answer: Answer) -> None:
        if answer.error is None:
            provider_webhooks.delivered(tenant, attempt)
        else:
            provider_webhooks.failed(tenant, attempt, answer.status, answer.retry_after)

    def next_due_at(self, tenant: Tenant) -> int | None:
        return provider_webhooks.next_due_at(tenant, self.account_key, self.endpoint_id)


Target = ConsumerTarget | EndpointTarget


class WebhookSender:
    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants
        self.tasks: dict[tuple[str, ...], asyncio.Task] = {}  # (token, consumer id | account key, endpoint id) → task
        self.identity: dict[str, int] = {}  # token → id() of the tenant its tasks serve
        self.attempts: set[asyncio.Task] = set()
        self.slots = asyncio.Semaphore(AT_ONCE)
        self.origin_slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # origin → (slots, [attempts])
        self._http: aiohttp.ClientSession | None = None  # made in the running loop, on the first attempt

    async def run(self) -> None:
        """Start and stop consumer tasks as consumers come and go. Never returns."""
        while True:
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - the last line of defence: log and keep delivering
                LOG.exception("the webhook sender failed a round; it goes on")
            await asyncio.sleep(RECONCILE_EVERY)

    def reconcile(self) -> None:
        wanted: dict[tuple[str, ...], Target] = {}
        for tenant in self.tenants.with_webhooks():
            if self.identity.get(tenant.token) != id(tenant):  # new, or replaced by a reset or an import
                self.identity[tenant.token] = id(tenant)
                for key in [k for k in self.tasks if k[0] == tenant.token]:
                    self.tasks.pop(key).cancel()
            for consumer in tenant.webhook_consumers:
                wanted[(tenant.token, consumer.id)] = ConsumerTarget(consumer.id)
            for account_key, account in tenant.accounts.items():
                for endpoint_id in account.webhook_endpoints:
                    wanted[(tenant.token, account_key, endpoint_id)] = EndpointTarget(account_key, endpoint_id)
        for key in set(self.tasks) - set(wanted):
            self.tasks.pop(key).cancel()
        for key in set(wanted) - set(self.tasks):
            task = self.tasks[key] = asyncio.create_task(self._follow(key[0], wanted[key]))
            task.add_done_callback(functools.partial(self._ended, key))

    def _ended(self, key: tuple[str, ...], task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            LOG.error("webhook deliveries of %s failed; they start again", key[-1], exc_info=task.exception())
        if self.tasks.get(key) is task:  # it failed while still wanted: the next round starts it again
            del self.tasks[key]

    async def close(self) -> None:
        for task in [*self.tasks.values(), *self.attempts]:
            task.cancel()
        if self._http is not None:
            await self._http.close()

    def _session(self) -> aiohttp.ClientSession:
        """One client for every delivery: aiohttp (not the user-facing httpx, which `mock()` intercepts) at ten
        times httpx's requests per second here; no proxy settings from the environment, no redirects followed."""
        import aiohttp  # on the first delivery: it takes a sixth of a second to import

        if self._http is None:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=AT_ONCE, limit_per_host=0),
                                               trust_env=False, skip_auto_headers=("User-Agent",))
        return self._http

    async def _follow(self, token: str, target: Target) -> None:
        tenant = self.tenants.find(token)
        if tenant is None:
            return
        woken = asyncio.Event()
        tenant.listeners.add(woken.set)
        try:
            while self.tenants.find(token) is tenant and target.alive(tenant):
                woken.clear()
                for outgoing in target.due(tenant):
                    task = asyncio.create_task(self._attempt(tenant, outgoing))
                    self.attempts.add(task)
                    task.add_done_callback(self.attempts.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self._until_due(tenant, target))
        finally:
            tenant.listeners.discard(woken.set)

    @staticmethod
    def _until_due(tenant: Tenant, target: Target) -> float:
        """Wall seconds until the target's next retry falls due on the tenant's clock (a manual clock only moves
        when advanced, which wakes the task), at most `IDLE`."""
        at, rate = target.next_due_at(tenant), tenant.clock.rate
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

    async def _attempt(self, tenant: Tenant, outgoing: Outgoing) -> None:
        import aiohttp

        started, status, error, retry_after = time.perf_counter(), None, None, None
        if tenant.faults.latency_ms:
            await asyncio.sleep(tenant.faults.latency_ms / 1000)
        try:
            async with self._origin_slot(outgoing.url), self.slots, self._session().post(
                    outgoing.url, data=outgoing.body, headers=outgoing.headers, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=outgoing.timeout)) as response:
                await response.read()
                status = response.status
                if not 200 <= status < 300:
                    error = f"the endpoint answered {status}"
                    retry_after = _seconds(response.headers.get("retry-after"))
        except TimeoutError:
            error = f"no answer within {outgoing.timeout:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # refused, reset, a URL that cannot be sent to
            error = f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # noqa: BLE001 - never leave a message under way for good: it fails, and is logged
            LOG.exception("a webhook delivery to %s failed unexpectedly", outgoing.url)
            error = f"{type(exc).__name__}: {exc}"[:300]
        if self.tenants.find(tenant.token) is not tenant:
            return  # reset or imported meanwhile: the attempt belongs to a tenant that is gone
        outgoing.settle(tenant, Answer(error, status, retry_after))
        tenant.journal.append({
            "time": format_micros(tenant.now()), "method": "POST", "path": outgoing.url, "query": "",
            "status": status or 0, "webhook": {**outgoing.journal, "error": error,
                                               "duration_ms": round((time.perf_counter() - started) * 1000, 1)}})
