"""Writing into users' PostgreSQL databases: one asyncio task per Postgres consumer, one small connection pool
(psycopg 3) per target, a watcher per target for its `health`.

The domain (`sequin_emulator.domain.postgres`) says what to write and keeps each consumer's place; this module only talks
to the databases and reports back. A batch is staged with COPY into a temporary table and upserted from there in
the same transaction, so a batch is all or nothing and as quick as COPY allows; the upsert applies only a higher
`updated_idx`, so writing a batch again (after a failure, a replay) changes nothing. A failed write is retried
with back-off (0.1 s, doubling, at most 60 s between tries), nothing moving on until it succeeds, so nothing is
lost or reordered; a dropped table is created again and everything written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import heapq
import logging
import weakref
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sequin_emulator.domain import postgres
from sequin_emulator.domain.models import PostgresTarget
from sequin_emulator.domain.tenant import Tenant, Tenants

LOG = logging.getLogger("sequin_emulator.postgres")
RETRY_FIRST, RETRY_MOST = 0.1, 60.0  # seconds between tries of a failed write: first, and at most
IDLE = 1.0  # a caught-up consumer looks again at least this often (it is woken by new records anyway)
RECONCILE_EVERY = 0.1  # how soon a new consumer starts and a deleted one stops
WATCH_OK = 5.0  # how often a target's database is checked while it answers (while not: as failed writes back off)
CHECKS_AT_ONCE = 4  # health checks under way at once, whatever the number of targets
CHECKS_PER_SECOND = 200  # at most, overall: a check costs about a millisecond of the event loop even when it fails
FIRST_CHECK_SPREAD = 1.0  # seconds over which new targets' first checks are spread (an import of thousands)
CONNECT_TIMEOUT = 5  # seconds

COLUMNS = ("sequin_id uuid PRIMARY KEY, sync_id uuid NOT NULL, sync_external_id text, sync_metadata jsonb, "
           "collection_id text NOT NULL, upstream_id text NOT NULL, upstream_created_at timestamptz, "
           "upstream_updated_at timestamptz, updated_idx bigint NOT NULL, deleted boolean NOT NULL, data jsonb, "
           "inserted_at timestamptz NOT NULL, updated_at timestamptz NOT NULL")
NAMES = [column.split()[0] for column in COLUMNS.split(", ")]
KEPT_ON_UPDATE = {"sequin_id", "inserted_at"}  # a new version updates everything else
STAGE = "sequin_emulator_batch"
CREATE_STAGE = f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({COLUMNS.replace(' PRIMARY KEY', '')}) ON COMMIT DELETE ROWS"
COPY_STAGE = f"COPY {STAGE} ({', '.join(NAMES)}) FROM STDIN"


def _create(table: str) -> sql.Composed:
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (" + COLUMNS + ")").format(sql.Identifier(table))


def _upsert(table: str) -> sql.Composed:
    columns = sql.SQL(", ").join(map(sql.Identifier, NAMES))
    updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
                                 for name in NAMES if name not in KEPT_ON_UPDATE)
    return sql.SQL("INSERT INTO {table} AS t ({columns}) SELECT {columns} FROM {stage} ON CONFLICT (sequin_id) "
                   "DO UPDATE SET {updates} WHERE t.updated_idx < EXCLUDED.updated_idx").format(
        table=sql.Identifier(table), columns=columns, stage=sql.Identifier(STAGE), updates=updates)


def _without_nul(value: Any) -> Any:
    """PostgreSQL's text and jsonb cannot hold U+0000: it is written as U+FFFD (the replacement character)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def row(payload: bytes) -> tuple:
    """A record (its JSON as the stream serves it) as the table's row; JSON columns as JSON text."""
    r = orjson.loads(payload)
    if b"\\u0000" in payload:  # rare: only then is the record walked
        r = _without_nul(r)
    sync = r["sync"]
    return (r["id"], r["sync_id"], sync["external_id"], orjson.dumps(sync["metadata"]).decode(), r["collection_id"],
            r["upstream_id"], r["upstream_created_at"], r["upstream_updated_at"], r["updated_idx"], r["deleted"],
            orjson.dumps(r["data"]).decode(), r["inserted_at"], r["inserted_at"])


def conninfo(target: PostgresTarget) -> str:
    c = target.connection
    return _conninfo(c["host"], c["port"], c["database"], c["username"], c["password"])


@functools.lru_cache(maxsize=4096)
def _conninfo(host: str, port: int, database: str, username: str, password: str) -> str:
    """Built once per distinct setting (the writer asks for every target's every round)."""
    return make_conninfo(host=host, port=port, dbname=database, user=username, password=password,
                         connect_timeout=CONNECT_TIMEOUT, application_name="sequin-emulator")


class MissingTable(Exception):
    """The consumer's table is gone (dropped while the consumer ran)."""


class PostgresWriter:
    """Keeps a task running for every Postgres consumer of every tenant, and a pool for every target in use."""

    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants
        self.tasks: dict[tuple[str, str, str], asyncio.Task] = {}  # ("consumer", token, consumer id) → its task
        self.pools: dict[tuple[str, str, str], AsyncConnectionPool] = {}  # (token, target id, conninfo) → pool
        self.tables: set[tuple[tuple[str, str, str], str]] = set()  # (pool key, table) known to exist
        self.staged: weakref.WeakSet[psycopg.AsyncConnection] = weakref.WeakSet()  # connections with the stage table
        self.due: list[tuple[float, str, str, int, float]] = []  # (when, token, target id, generation, back-off)
        self.watched: dict[tuple[str, str], int] = {}  # (token, target id) → generation of its heap entry
        self.checkers: list[asyncio.Task] = []
        self.shapes: dict[str, tuple[int, ...]] = {}  # token → (tenant identity, targets' and consumers' versions)

    async def run(self) -> None:
        """Start and stop consumer tasks and target watches as resources come and go. Never returns."""
        self.checkers = [asyncio.create_task(self._checker()) for _ in range(CHECKS_AT_ONCE)]
        while True:
            try:
                await self.reconcile()
            except Exception:  # noqa: BLE001 - the last line of defence: log and keep delivering
                LOG.exception("the Postgres writer failed a round; it goes on")
            await asyncio.sleep(RECONCILE_EVERY)

    async def reconcile(self) -> None:
        """Only tenants whose targets or consumers changed (or that were replaced) are looked at closely, so a
        round costs the number of tenants with targets, not the number of targets (an import of 10,000)."""
        seen: set[str] = set()
        for tenant in list(self.tenants.with_targets()):  # awaits below: tenants may come and go meanwhile
            seen.add(tenant.token)
            shape = (id(tenant), tenant.targets.version, tenant.postgres_consumers.version)
            if self.shapes.get(tenant.token) != shape:
                replaced = self.shapes.get(tenant.token, (id(tenant),))[0] != id(tenant)
                self.shapes[tenant.token] = shape
                await self._follow(tenant.token, {("consumer", tenant.token, c.id) for c in tenant.postgres_consumers}
                                   | {("target", tenant.token, t.id) for t in tenant.targets}, replaced)
        for token in [t for t in self.shapes if t not in seen]:
            del self.shapes[token]
            await self._follow(token, set(), replaced=True)

    async def _follow(self, token: str, wanted: set[tuple[str, str, str]], replaced: bool) -> None:
        """Make the tasks of `token` those `wanted` (all anew when the tenant was replaced), closing the pools of
        targets that are gone."""
        consumers = {k for k in wanted if k[0] == "consumer"}
        for key in [k for k in self.tasks if k[1] == token and (replaced or k not in consumers)]:
            self.tasks.pop(key).cancel()
        for key in consumers - set(self.tasks):
            task = self.tasks[key] = asyncio.create_task(self._consume(key[1], key[2]))
            task.add_done_callback(functools.partial(self._ended, key))
        targets = {k[2] for k in wanted if k[0] == "target"}
        for watched in [k for k in self.watched if k[0] == token and k[1] not in targets]:
            del self.watched[watched]  # its heap entry is skipped when it comes due
        for target_id in targets:
            if replaced or (token, target_id) not in self.watched:
                self._watch(token, target_id)
        for pool_key in [k for k in self.pools if k[0] == token and (replaced or k[1] not in targets)]:
            await self._close_pool(pool_key)

    def _ended(self, key: tuple[str, str, str], task: asyncio.Task) -> None:
        """A task that ended while still wanted (it failed) is started again at the next round."""
        if self.tasks.get(key) is task:
            del self.tasks[key]
            self.shapes.pop(key[1], None)

    async def _close_pool(self, pool_key: tuple[str, str, str]) -> None:
        await self.pools.pop(pool_key).close()
        self.tables = {t for t in self.tables if t[0] != pool_key}

    async def close(self) -> None:
        """Stop every task and close every pool (the server is stopping)."""
        tasks = [*self.tasks.values(), *self.checkers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        for pool in self.pools.values():
            await pool.close()
        self.pools.clear()

    # ---------------------------------------------------------------- pools

    @staticmethod
    def _pool_key(tenant: Tenant, target: PostgresTarget) -> tuple[str, str, str]:
        return tenant.token, target.id, conninfo(target)

    async def _pool(self, tenant: Tenant, target: PostgresTarget) -> AsyncConnectionPool:
        key = self._pool_key(tenant, target)
        pool = self.pools.get(key)
        if pool is None:
            for old in [k for k in self.pools if k[:2] == key[:2]]:  # the target's settings changed
                await self._close_pool(old)
            pool = self.pools[key] = AsyncConnectionPool(key[2], min_size=1, max_size=2, open=False,
                                                          timeout=CONNECT_TIMEOUT, reconnect_timeout=0,
                                                          check=AsyncConnectionPool.check_connection,
                                                          name=f"target-{target.id}")
            await pool.open(wait=False)
        return pool

    @staticmethod
    async def _reason(target: PostgresTarget, exc: Exception) -> str:
        """The driver's own message: a pool that cannot connect only says it timed out, so ask the database."""
        if isinstance(exc, PoolTimeout):
            try:
                connection = await psycopg.AsyncConnection.connect(conninfo(target))
                await connection.close()
            except psycopg.Error as direct:
                return str(direct).strip()
        return str(exc).strip() or type(exc).__name__

    # ---------------------------------------------------------------- the tasks

    def _current(self, token: str, tenant: Tenant | None) -> Tenant | None:
        """The tenant of `token` now, or None if it was replaced (a reset or an import) since `tenant`."""
        now = self.tenants.find(token)
        return now if now is tenant else None

    async def _check(self, target: PostgresTarget) -> None:
        """One health check: a connection of its own (a target nobody writes to gets no pool)."""
        connection = await psycopg.AsyncConnection.connect(conninfo(target))
        try:
            await connection.execute("SELECT 1")
        finally:
            await connection.close()

    def _watch(self, token: str, target_id: str) -> None:
        """Keep the target's health current from now on. Its first check waits a moment drawn from its id, so
        thousands of targets imported at once are not all checked at once."""
        key = (token, target_id)
        generation = self.watched[key] = self.watched.get(key, 0) + 1
        spread = FIRST_CHECK_SPREAD * int(hashlib.sha256(target_id.encode()).hexdigest()[:4], 16) / 65536
        heapq.heappush(self.due, (asyncio.get_running_loop().time() + spread, token, target_id, generation,
                                  RETRY_FIRST))

    async def _checker(self) -> None:
        """One of `CHECKS_AT_ONCE` workers taking due checks from one heap: however many targets there are, a
        few wake at a time (a task per target made thousands wake together, and the event loop stalled)."""
        loop = asyncio.get_running_loop()
        while True:
            if not self.due or self.due[0][0] > loop.time():
                await asyncio.sleep(min(0.5, self.due[0][0] - loop.time()) if self.due else 0.5)
                continue
            _, token, target_id, generation, backoff = heapq.heappop(self.due)
            tenant = self.tenants.find(token)
            target = tenant.targets.find(target_id) if tenant is not None else None
            if target is None or self.watched.get((token, target_id)) != generation:
                continue  # deleted, or watched again since (a newer entry is in the heap)
            try:
                await self._check(target)
                if (current := self._current(token, tenant)) is not None:
                    postgres.connected(current, target)
                pause, backoff = WATCH_OK, RETRY_FIRST
            except (psycopg.Error, OSError) as exc:
                if (current := self._current(token, tenant)) is not None:
                    postgres.unreachable(current, target, str(exc).strip() or type(exc).__name__)
                pause, backoff = backoff, min(backoff * 2, RETRY_MOST)
            heapq.heappush(self.due, (loop.time() + pause, token, target_id, generation, backoff))
            await asyncio.sleep(CHECKS_AT_ONCE / CHECKS_PER_SECOND)

    def _still(self, token: str, tenant: Tenant, consumer_id: str, consumer: object) -> bool:
        """Is `consumer` still the consumer of that id in the tenant of `token` (after an await)?"""
        return self._current(token, tenant) is not None and tenant.postgres_consumers.find(consumer_id) is consumer

    async def _consume(self, token: str, consumer_id: str) -> None:
        """Write the consumer's batches, one transaction each, until it is deleted (or its tenant replaced)."""
        woken = asyncio.Event()
        tenant = self.tenants.find(token)
        if tenant is None:
            return
        tenant.listeners.add(woken.set)
        backoff = RETRY_FIRST
        try:
            while self._current(token, tenant) and (consumer := tenant.postgres_consumers.find(consumer_id)):
                woken.clear()
                batch = postgres.next_batch(tenant, consumer)
                target = tenant.targets.get(consumer.target_id)
                if batch is None and (self._pool_key(tenant, target), consumer.table_name) in self.tables:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), IDLE)
                    continue
                try:  # with nothing to write yet, this makes the table, so the app finds it from the start
                    await self._write(tenant, target, consumer.table_name, batch)
                except MissingTable:
                    if self._still(token, tenant, consumer_id, consumer):
                        postgres.table_missing(tenant, consumer)
                    continue
                except (psycopg.Error, PoolTimeout, OSError) as exc:
                    reason = await self._reason(target, exc)
                    if self._still(token, tenant, consumer_id, consumer):
                        postgres.failed(tenant, consumer, target, reason)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RETRY_MOST)
                    continue
                backoff = RETRY_FIRST
                if self._still(token, tenant, consumer_id, consumer):
                    postgres.connected(tenant, target)
                    if batch is None:
                        postgres.table_ready(tenant, consumer)
                    else:
                        postgres.committed(tenant, consumer, batch)
        finally:
            tenant.listeners.discard(woken.set)

    async def _write(self, tenant: Tenant, target: PostgresTarget, table: str, batch: postgres.Batch | None) -> None:
        """One transaction: make sure the table is there, stage the rows with COPY, upsert them."""
        pool = await self._pool(tenant, target)
        known = (self._pool_key(tenant, target), table)
        async with pool.connection() as connection:
            staged = connection in self.staged
            async with connection.transaction(), connection.cursor() as cursor:
                if known not in self.tables:
                    await cursor.execute(_create(table))
                if batch is not None:
                    if not staged:
                        await cursor.execute(CREATE_STAGE)
                    async with cursor.copy(COPY_STAGE) as copy:
                        for payload in batch.rows:
                            await copy.write_row(row(payload))
                    try:
                        await cursor.execute(_upsert(table))
                    except psycopg.errors.UndefinedTable:
                        self.tables.discard(known)
                        raise MissingTable(table) from None
            if batch is not None:  # only once committed: a rolled-back transaction takes its temporary table along
                self.staged.add(connection)
        self.tables.add(known)
