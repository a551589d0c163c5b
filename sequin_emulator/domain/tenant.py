"""Tenants: every API token is its own organization, with its own state, clock and id sequence.

Like LocalStack's per-account stores, a tenant is a plain object; resetting one means building it again.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sequin_emulator.domain.clock import Clock
from sequin_emulator.domain.ids import IdFactory, derived_uuid
from sequin_emulator.domain.models import (
    Credential,
    HttpConsumer,
    OAuthApp,
    PostgresConsumer,
    PostgresTarget,
    Stream,
    Sync,
    WebhookConsumer,
)
from sequin_emulator.domain.runs import SyncRun
from sequin_emulator.domain.store import Store
from sequin_emulator.domain.upstream import Account, AccountSettings

JOURNAL_SIZE = 1000


@dataclass(frozen=True)
class ClockStart:
    """How a new tenant's clock starts: `start` None means "now" on the wall clock."""

    mode: str = "real"
    start: int | None = None
    scale: float = 1.0

    def build(self) -> Clock:
        return Clock(mode=self.mode, now=self.start, scale=self.scale)


@dataclass
class Faults:
    api_rate_limit: int | None = None
    latency_ms: int = 0


@dataclass
class Tenant:
    token: str
    org_id: str
    ids: IdFactory
    clock: Clock
    streams: Store[Stream] = field(default_factory=lambda: Store("stream", unique="slug"))
    oauth_apps: Store[OAuthApp] = field(default_factory=lambda: Store("OAuth app"))
    credentials: Store[Credential] = field(default_factory=lambda: Store("credential"))
    syncs: Store[Sync] = field(default_factory=lambda: Store("sync"))
    consumers: Store[HttpConsumer] = field(default_factory=lambda: Store("HTTP consumer"))
    targets: Store[PostgresTarget] = field(default_factory=lambda: Store("Postgres target"))
    postgres_consumers: Store[PostgresConsumer] = field(default_factory=lambda: Store("Postgres consumer"))
    webhook_consumers: Store[WebhookConsumer] = field(default_factory=lambda: Store("webhook consumer"))
    seed: int = 0
    account_defaults: AccountSettings = field(default_factory=AccountSettings)  # how new simulated accounts are shaped
    accounts: dict[str, Account] = field(default_factory=dict)  # account key → simulated upstream account
    last_idx: int = 0  # the tenant's one `updated_idx` sequence
    faults: Faults = field(default_factory=Faults)
    journal: deque[dict] = field(default_factory=lambda: deque(maxlen=JOURNAL_SIZE))
    listeners: set[Callable[[], None]] = field(default_factory=set)  # told when records may have become available
    engine_fault: str | None = None  # why the sync engine stopped for this tenant (a bug), if it did
    stop_waiting: bool = False  # replaced by a reset or an import, or the server is stopping: waiters answer now

    def now(self) -> int:
        return self.clock.now()

    def runs(self) -> Iterator[tuple[Sync, SyncRun]]:
        """Every sync the engine runs, with its run, in creation order."""
        for sync in self.syncs:
            if sync.run is not None:
                yield sync, sync.run

    def next_idx(self) -> int:
        self.last_idx += 1
        return self.last_idx

    def notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    def pristine(self, clock: ClockStart) -> bool:
        """Nothing to lose: no resources, no accounts, no faults, the clock as every new tenant's. Only
        its journal would go if it were forgotten and built again on its next request."""
        return not (len(self.streams) or len(self.oauth_apps) or len(self.credentials) or len(self.syncs)
                    or len(self.consumers) or len(self.targets) or len(self.postgres_consumers)
                    or len(self.webhook_consumers) or self.accounts
                    or self.listeners or self.last_idx) \
            and self.faults == Faults() and not self.clock.moved and self.clock.mode == clock.mode \
            and self.clock.scale == clock.scale and self.engine_fault is None


def org_id_of(token: str) -> str:
    return derived_uuid("org", token)


class Tenants:
    """Token → tenant. With `api_keys`, only those tokens are tenants (strict mode).

    Without `api_keys` any token is a tenant, so a client minting tokens could grow the table without end:
    past `PRISTINE_LIMIT` tenants, pristine ones (nothing but a journal: see `Tenant.pristine`) are forgotten,
    oldest first; their token gets an identical new tenant on its next request.
    """

    PRISTINE_LIMIT = 10_000

    def __init__(self, seed: int = 0, clock: ClockStart = ClockStart(),
                 api_keys: frozenset[str] | None = None, accounts: AccountSettings | None = None) -> None:
        self.seed = seed
        self.clock_settings = clock
        self.api_keys = api_keys
        self.account_defaults = accounts or AccountSettings()
        self._tenants: dict[str, Tenant] = {}
        self._orgs: dict[str, str] = {}  # org id → token (the provider APIs' addresses name the org)
        self._engines: dict[str, None] = {}  # tokens of tenants with simulated accounts (an ordered set)
        self._evicted_at = 0  # the table's size at the last eviction sweep
        self.grants: dict = {}  # OAuth start links and codes → their Grant (sequin_emulator.domain.oauth_flow)
        self.stopping = False

    def accepts(self, token: str) -> bool:
        return self.api_keys is None or token in self.api_keys

    def get(self, token: str) -> Tenant:
        tenant = self._tenants.get(token)
        if tenant is None:
            tenant = self._tenants[token] = self.build(token)
            self._orgs[tenant.org_id] = token
            floor = max(self.PRISTINE_LIMIT, self._evicted_at)
            if len(self._tenants) > floor + floor // 10:  # a sweep per 10% of growth: amortized O(1)
                self._forget_pristine(keep=token)
        return tenant

    def find(self, token: str) -> Tenant | None:
        """The tenant of `token` if there is one (never making one)."""
        return self._tenants.get(token)

    def by_org(self, org_id: str) -> Tenant | None:
        """The tenant whose org id this is, if there is one."""
        token = self._orgs.get(org_id)
        return self._tenants.get(token) if token is not None else None

    def _forget_pristine(self, keep: str) -> None:
        for token, tenant in list(self._tenants.items()):
            if len(self._tenants) <= self.PRISTINE_LIMIT:
                break
            if token != keep and tenant.pristine(self.clock_settings):
                del self._tenants[token]
                self._orgs.pop(tenant.org_id, None)
        self._evicted_at = len(self._tenants)  # all left have state: sweep again only after more growth

    def reset(self, token: str) -> Tenant:
        return self.replace(token, self.build(token))

    def replace(self, token: str, tenant: Tenant) -> Tenant:
        """Put `tenant` in the place of `token`'s; whoever waits on the old one is woken to look again."""
        old = self._tenants.get(token)
        self._tenants[token] = tenant
        self._orgs[tenant.org_id] = token
        if old is not None:
            old.stop_waiting = True
            old.notify()
        self.note(tenant)
        return tenant

    def stop(self) -> None:
        """The server is stopping: every long poll and awaited mutation answers with what there is, now."""
        self.stopping = True
        for tenant in self._tenants.values():
            tenant.stop_waiting = True
            tenant.notify()

    def note(self, tenant: Tenant) -> None:
        """Keep track of the tenants whose sync engine has something to run (after each request and load)."""
        if tenant.accounts:
            self._engines[tenant.token] = None

    def with_moving_engines(self) -> Iterator[Tenant]:
        """Tenants with simulated accounts whose clock moves by itself: the only ones the ticker must visit."""
        for token in list(self._engines):
            tenant = self._tenants.get(token)
            if tenant is None or not tenant.accounts:
                del self._engines[token]
            elif tenant.clock.rate > 0:
                yield tenant

    def with_targets(self) -> Iterator[Tenant]:
        """Tenants with Postgres targets or consumers: the only ones the writer must visit."""
        for tenant in self._tenants.values():
            if len(tenant.targets) or len(tenant.postgres_consumers):
                yield tenant

    def with_webhooks(self) -> Iterator[Tenant]:
        """Tenants with webhook consumers, or accounts with webhook endpoints: the only ones the sender visits."""
        for tenant in self._tenants.values():
            if len(tenant.webhook_consumers) or any(a.webhook_endpoints for a in tenant.accounts.values()):
                yield tenant

    def build(self, token: str) -> Tenant:
        """A new tenant for `token`, not yet in place (see `replace`)."""
        org_id = org_id_of(token)
        return Tenant(token=token, org_id=org_id, ids=IdFactory(self.seed, org_id), clock=self.clock_settings.build(),
                      seed=self.seed, account_defaults=dataclasses.replace(self.account_defaults),
                      stop_waiting=self.stopping)

    def __iter__(self) -> Iterator[Tenant]:
        return iter(list(self._tenants.values()))
