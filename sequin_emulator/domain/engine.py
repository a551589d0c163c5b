"""The sync engine: backfills each active sync's collections into its stream, then detects changes.

Everything happens on the tenant's clock, as discrete steps at known times: an upstream account making a change on
its own, or a sync making one request (a backfill page of up to 100 records, oldest first, or a poll of the
account's change log, as often as the provider's plugin says for a `continuous` sync: Stripe's events twice a
second, others every 2 s; every 4 hours for a `4h` sync). `run_until(t)` runs every step due by `t` in time order,
each stamped with its own time, so advancing a manual clock is deterministic. Requests are paced by the sync's
`rate_limit`: one every `interval / allowed_requests` seconds, and no faster than `max_concurrent_requests`
simulated requests of `REQUEST_LATENCY` each can go. Provider faults (outage, error rate, revoked credential, 429s)
make requests fail or slow down; the sync retries with back-off and its health says why.
"""

from __future__ import annotations

import logging
import random

from sequin_emulator.domain import accounts, streams
from sequin_emulator.domain.catalog import display_name, poll_every
from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.health import Health
from sequin_emulator.domain.memory import collector_paused
from sequin_emulator.domain.models import Sync
from sequin_emulator.domain.plugins import CollectionId
from sequin_emulator.domain.runs import Backfill, SyncRun
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.upstream import Account

LOG = logging.getLogger("sequin_emulator")
PAGE_SIZE = 100
REQUEST_LATENCY = 100_000  # µs a simulated upstream request takes
MAX_BACKOFF = 60 * MICROS
THROTTLE_SLOWDOWN = 4  # with 429s, each request costs this many request slots
ERROR_AFTER = 3  # consecutive failures before a sync's health is error rather than warn
MAX_CHANGES_PER_RUN = 10_000
MAX_REQUESTS_PER_RUN = 10_000  # per sync: a failing sync retries every minute, 525,600 times a simulated year


# ------------------------------------------------------------------ lifecycle hooks (called by syncs)

def start(tenant: Tenant, sync: Sync) -> None:
    credential = tenant.credentials.get(sync.credential_id)
    account = accounts.account_for(tenant, credential)
    now = tenant.now()
    run_until(tenant, now)  # the account's own changes up to now are history, not news
    sync.run = SyncRun(sync.id, credential.account_key, next_request_at=now,
                       next_poll_at=now + poll_every(sync.provider, sync.sync_frequency), cursor=len(account.changes),
                       rng=random.Random(f"{tenant.seed}:{sync.id}"))
    reconcile(tenant, sync)


def reconcile(tenant: Tenant, sync: Sync) -> None:
    """Follow a sync's settings: backfill added collections, forget removed ones, resume after a pause."""
    run = sync.run
    if run is None:
        return
    run.backfills = {cid: run.backfills.get(cid) or Backfill(CollectionId.parse(cid).name) for cid in sync.collection_ids}
    now = tenant.now()
    run.next_request_at = max(run.next_request_at, now)
    run.next_poll_at = max(run.next_poll_at, now) if sync.status == "active" else run.next_poll_at
    if all(b.done for b in run.backfills.values()) and sync.initial_backfill_completed_at is None and run.backfills:
        sync.initial_backfill_completed_at = now


# ------------------------------------------------------------------ running

def advance_clock(tenant: Tenant, to: int) -> None:
    """Move the tenant's clock to `to`, running every step that falls due on the way, each at its own time."""
    run_until(tenant, to)
    set_clock(tenant, to)


def set_clock(tenant: Tenant, to: int) -> None:
    """Move the clock to `to` once everything due before it has run (a clock that moves by itself may have
    passed `to` meanwhile: it stays where it is)."""
    tenant.clock.set(now=to)
    tenant.notify()


class Steps:
    """What each account and sync did in one advance (which may run in slices), for the caps: an account's
    changes, a sync's requests."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}  # by id() of the account or sync run

    def count(self, target: object, amount: int = 1) -> int:
        self.done[id(target)] = self.done.get(id(target), 0) + amount
        return self.done[id(target)]


def run_until(tenant: Tenant, until: int, steps: Steps | None = None, limit: int | None = None) -> bool:
    """Run every step due at or before `until`, earliest first (accounts before syncs at the same time).

    One advance makes at most MAX_CHANGES_PER_RUN changes per account on its own, and MAX_REQUESTS_PER_RUN
    requests per sync; past that the account stays quiet, and the sync idle, until `until` (so advancing a
    clock by a year neither generates millions of changes nor retries a failing sync half a million times).
    With `limit`, stops after that many steps and returns False if more are due: call again with the same
    `steps` to go on (the API layer does, yielding to other clients in between).
    """
    if tenant.engine_fault is not None:
        return True  # stopped by a bug (see catch_up); the organization's API still answers
    step = _next_step(tenant, until)
    if step is None:
        return True
    steps = steps or Steps()
    taken = 0
    with collector_paused():
        while step is not None:
            if limit is not None and taken >= limit:
                return False
            at, _, target = step
            taken += 1
            if isinstance(target, Account):
                logged = len(target.changes)
                _account_change(tenant, target, at)
                if steps.count(target, max(1, len(target.changes) - logged)) >= MAX_CHANGES_PER_RUN:
                    target.schedule_next_change(until)
                    target.quiet_until = until
            else:
                _request(tenant, target, at)
                if steps.count(target) >= MAX_REQUESTS_PER_RUN:
                    target.next_request_at = max(target.next_request_at, until + 1)
            step = _next_step(tenant, until)
        _forget_read_changes(tenant)
    return True


def _forget_read_changes(tenant: Tenant) -> None:
    """Drop the changes every sync of an account has read: nothing reads them again (a new sync starts at the
    end of the log, and backfills from the objects' current state)."""
    for key, account in tenant.accounts.items():
        readers = [run.cursor for _, run in tenant.runs() if run.account_key == key]
        account.changes.forget_before(min(readers, default=len(account.changes)))


def catch_up(tenant: Tenant) -> None:
    """Run what fell due on the tenant's clock."""
    run_contained(tenant, tenant.now())


def run_contained(tenant: Tenant, until: int, steps: Steps | None = None, limit: int | None = None) -> bool:
    """`run_until`, for callers that must go on answering. A failure inside the engine is a bug of the
    emulator: it is logged with its traceback, the tenant's engine stops (its syncs' health says why) and
    everything else of the tenant, and of every other tenant, goes on. A reset or a state import starts it
    again."""
    try:
        return run_until(tenant, until, steps, limit)
    except Exception as exc:  # noqa: BLE001 - contain any bug to the tenant it happened in
        LOG.error("the sync engine failed for organization %s; its syncs stop until a reset", tenant.org_id,
                  exc_info=exc)
        tenant.engine_fault = f"{type(exc).__name__}: {exc}"
        return True


Step = tuple[int, int, "Account | SyncRun"]  # (time, order, what makes the step): the earliest runs first


def _next_step(tenant: Tenant, until: int) -> Step | None:
    best: Step | None = None
    for order, account in enumerate(tenant.accounts.values()):
        at = account.next_step_at()
        if at is not None and at <= until:
            candidate: Step = (at, order, account)
            best = candidate if best is None or candidate[:2] < best[:2] else best
    for order, (sync, run) in enumerate(tenant.runs(), start=len(tenant.accounts)):
        if sync.status != "active":
            continue
        at = run.work_at(tenant.accounts[run.account_key], poll_every(sync.provider, sync.sync_frequency))
        if at is not None and at <= until:
            candidate = (at, order, run)
            best = candidate if best is None or candidate[:2] < best[:2] else best
    return best


def _account_change(tenant: Tenant, account: Account, at: int) -> None:
    account.quiet_until = None
    account.provider.step(account, at)


def _spacing(sync: Sync) -> int:
    limit = sync.rate_limit
    spacing = limit.interval * MICROS // limit.allowed_requests
    if limit.max_concurrent_requests:
        spacing = max(spacing, REQUEST_LATENCY // limit.max_concurrent_requests)
    return spacing


def _request(tenant: Tenant, run: SyncRun, at: int) -> None:
    sync = tenant.syncs.get(run.sync_id)
    account = tenant.accounts[run.account_key]
    failure = _fault(tenant, sync, account, run)
    if failure is not None:
        run.failures += 1
        run.last_error = failure
        run.next_request_at = at + min(MAX_BACKOFF, MICROS * 2 ** min(run.failures, 6))
        return
    run.failures, run.last_error = 0, None
    slots = THROTTLE_SLOWDOWN if account.settings.throttle else 1
    run.next_request_at = at + _spacing(sync) * slots
    backfilling = run.backfilling
    # during a backfill a due poll takes its turn between pages, never two turns in a row: with requests
    # spaced 2 s or more apart a poll is always due, and the backfill would never get a page
    if not backfilling or (at >= run.next_poll_at and not run.polled_last):
        run.polled_last = True
        _poll(tenant, sync, run, account, at)
    else:
        run.polled_last = False
        _backfill_page(tenant, sync, run, account, at)


def _fault(tenant: Tenant, sync: Sync, account: Account, run: SyncRun) -> str | None:
    """Why this request fails, if it does."""
    name = display_name(sync.provider)
    settings = account.settings
    if settings.revoked:
        credential = tenant.credentials.get(sync.credential_id)
        if credential.health.status != "error":
            credential.health = Health("error", tenant.now(), [
                f"We're receiving 401s from {name} for this credential. It was probably revoked; "
                "import it again to resume."])
        return f"{name} answers 401 Unauthorized: the credential was revoked."
    if settings.outage:
        return f"{name} is unavailable: requests fail with 503 Service Unavailable."
    if settings.error_rate and run.rng.random() < settings.error_rate:
        return f"{name} answered a request with 500 Internal Server Error."
    return None


def _write(tenant: Tenant, sync: Sync, account: Account, collection: str, object_id: str, at: int) -> None:
    obj = account.get(collection, object_id)
    assert obj is not None  # a backfill lists objects of the account, which never forgets one
    created, updated = account.provider.upstream_times(obj)
    streams.write_record(tenant, sync, str(CollectionId(sync.provider, collection)), object_id, obj.data,
                         deleted=obj.deleted, upstream_created_at=created, upstream_updated_at=updated, at=at)


def _backfill_page(tenant: Tenant, sync: Sync, run: SyncRun, account: Account, at: int) -> None:
    backfill = next(b for b in run.backfills.values() if not b.done)
    if backfill.pending is None:
        cutoff = None if sync.max_age_days is None else at - sync.max_age_days * 86400 * MICROS
        live = [o for o in account.live(backfill.collection) if cutoff is None or o.created >= cutoff]
        backfill.pending = [o.id for o in sorted(live, key=lambda o: (o.created, o.id))]
    page = backfill.pending[backfill.offset:backfill.offset + PAGE_SIZE]
    backfill.offset += len(page)
    for object_id in page:
        obj = account.get(backfill.collection, object_id)
        if obj is not None and not obj.deleted:
            _write(tenant, sync, account, backfill.collection, object_id, at)
    if sync.initial_backfill_completed_at is None and all(b.done for b in run.backfills.values()):
        sync.initial_backfill_completed_at = at


def _poll(tenant: Tenant, sync: Sync, run: SyncRun, account: Account, at: int) -> None:
    """Read up to a page of the account's change log, and write what concerns this sync."""
    wanted = {b.collection for b in run.backfills.values()}
    read = 0
    while run.cursor < len(account.changes) and read < PAGE_SIZE and account.changes[run.cursor].time <= at:
        change = account.changes[run.cursor]
        run.cursor += 1
        read += 1
        if change.collection in wanted and change.written_by != sync.id:
            snapshot = change.snapshot
            created, updated = account.provider.upstream_times(snapshot)
            streams.write_record(tenant, sync, str(CollectionId(sync.provider, change.collection)), change.id, snapshot.data,
                                 deleted=snapshot.deleted, upstream_created_at=created, upstream_updated_at=updated,
                                 at=at)
    more = run.cursor < len(account.changes) and account.changes[run.cursor].time <= at
    run.next_poll_at = at if more else at + poll_every(sync.provider, sync.sync_frequency)


# ------------------------------------------------------------------ health

def sync_health(tenant: Tenant, sync: Sync) -> dict:
    """`{status, sync_id}`, plus `notes`, `credential` (a Health) and `provider` when the sync is not healthy."""
    run = sync.run
    account = tenant.accounts.get(run.account_key) if run else None
    healthy = {"status": "healthy", "sync_id": sync.id}
    if run is None or account is None:
        return healthy
    notes, provider_notes = [], []
    name = display_name(sync.provider)
    status = "healthy"
    if tenant.engine_fault is not None:
        status = "error"
        notes.append("The emulator's sync engine stopped for this organization because of a bug in the emulator "
                     f"({tenant.engine_fault}); POST /_emulator/reset or import a state to start it again.")
    if run.failures:
        status = "error" if run.failures >= ERROR_AFTER or account.settings.revoked else "warn"
        notes.append(f"The last {run.failures} request(s) to {name} failed: {run.last_error}")
        provider_notes.append(run.last_error)
    if account.settings.throttle:
        status = "warn" if status == "healthy" else status
        notes.append(f"{name} is rate limiting this sync (429 Too Many Requests); it is progressing slowly.")
        provider_notes.append(f"Receiving 429s from {name}.")
    if status == "healthy":
        return healthy
    return {"status": status, "sync_id": sync.id, "notes": notes,
            "credential": tenant.credentials.get(sync.credential_id).health,
            "provider": {"status": "error" if status == "error" else "warn", "notes": provider_notes}}
