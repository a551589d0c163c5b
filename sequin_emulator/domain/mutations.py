"""The Mutation API: write to a sync's upstream account, and put the result in its stream at once.

A mutation is validated whole before anything is written (all records or none): a malformed mutation is the
Management API's `Invalid`; what the upstream account refuses (its validation, a revoked credential) is
`UpstreamRefused`, and an account that cannot answer (its faults) `UpstreamUnavailable`. Its changes are logged
upstream like any other, so other syncs of the account see them at their next poll; the mutating sync writes
them straight away and skips them when it polls.
"""

from __future__ import annotations

from sequin_emulator.domain import accounts, catalog, consumers, postgres, streams, upstream_writes, webhooks
from sequin_emulator.domain.errors import Invalid, NotFound, UpstreamRefused, UpstreamUnavailable
from sequin_emulator.domain.inputs import Mutation
from sequin_emulator.domain.models import Sync
from sequin_emulator.domain.plugins import CollectionId
from sequin_emulator.domain.records import RecordVersion
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.upstream import Account, Change

OPERATIONS = {"create": "insert", "update": "update", "delete": "delete"}  # the Mutation API's words → upstream's


def _writes(mutation: Mutation) -> list[tuple[str, str | None, dict]]:
    """(path, upstream id, data) of each record the mutation writes."""
    kind = mutation.kind
    if kind == "delete":
        if not mutation.upstream_ids:
            raise Invalid.field("upstream_ids", "is required to delete records")
        return [(f"upstream_ids.{i}", uid, {}) for i, uid in enumerate(mutation.upstream_ids)]
    if not mutation.records:
        raise Invalid.field("records", f"is required to {kind} records")
    missing = {f"records.{i}.upstream_id": [f"is required to {kind} a record"]
               for i, r in enumerate(mutation.records) if kind == "update" and not r.get("upstream_id")}
    if missing:
        raise Invalid(missing)
    return [(f"records.{i}", r.get("upstream_id"), r["data"]) for i, r in enumerate(mutation.records)]


def run(tenant: Tenant, mutation: Mutation) -> list[RecordVersion]:
    sync = tenant.syncs.find(mutation.sync_id)
    if sync is None:
        raise Invalid.field("sync_id", "is not a sync of this organization")
    if mutation.collection_id not in sync.collection_ids:
        raise Invalid.field("collection_id", f"is not one of the sync's collections ({', '.join(sync.collection_ids)})")
    unknown = {f"await_consumer_ids.{i}": ["is not an HTTP, Postgres or webhook consumer of this organization"]
               for i, cid in enumerate(mutation.await_consumer_ids)
               if not any(store.find(cid) for store in (tenant.consumers, tenant.postgres_consumers,
                                                        tenant.webhook_consumers))}
    if unknown:
        raise Invalid(unknown)
    account = accounts.account_for(tenant, tenant.credentials.get(sync.credential_id))
    provider, collection = account.provider, CollectionId.parse(mutation.collection_id).name
    operation = OPERATIONS[mutation.kind]
    writes = _writes(mutation)
    _check_reachable(account, catalog.display_name(sync.provider), f"mutation|{tenant.last_idx}")
    errors: dict[str, list[str]] = {}
    for path, upstream_id, data in writes:
        try:
            provider.validate(account, operation, collection, upstream_id, data)
        except Invalid as exc:  # `data.email` of a record is `records.N.data.email` of the mutation
            if any(not key.startswith("data") for key in exc.errors):
                raise  # about the mutation, not its records (a collection that cannot be written): a 422
            errors.update({f"{path}.{key}": reasons for key, reasons in exc.errors.items()})
        except NotFound as exc:
            target = path if path.startswith("upstream_ids") else f"{path}.upstream_id"
            errors[target] = [exc.summary]
    if errors:
        raise UpstreamRefused(f"{catalog.display_name(sync.provider)} validation error: {next(iter(errors))} "
                              f"{next(iter(errors.values()))[0]} (nothing was written)", errors)
    return [_write(tenant, sync, account, upstream_writes.apply(tenant, account, operation, collection, upstream_id, data))
            for _, upstream_id, data in writes]


def _write(tenant: Tenant, sync: Sync, account: Account, change: Change) -> RecordVersion:
    """Put an upstream change into the sync's stream now; the sync's polls skip it."""
    change.written_by = sync.id
    created, updated = account.provider.upstream_times(change.snapshot)
    return streams.write_record(tenant, sync, f"{account.provider.name}:{change.collection}", change.id,
                                change.snapshot.data, deleted=change.snapshot.deleted, upstream_created_at=created,
                                upstream_updated_at=updated)


def write_through(tenant: Tenant, sync: Sync, account: Account, since: int) -> None:
    """Put the account's changes from position `since` on (the writes of a Proxy API request) into the sync's
    stream now, as a mutation's: those of the sync's collections that no sync wrote yet."""
    changes = account.changes
    for position in range(max(since, changes.base), len(changes)):
        change = changes[position]
        if change.written_by is None and f"{account.provider.name}:{change.collection}" in sync.collection_ids:
            _write(tenant, sync, account, change)


def _check_reachable(account: Account, name: str, draw: str) -> None:
    """The account's faults, as a write through Sequin meets them: a revoked credential refuses it, anything else
    (an outage, throttling, an error) keeps it from being answered in time."""
    fault = account.fault(draw)
    if fault == "revoked":
        raise UpstreamRefused(f"{name} authentication error: the credential was revoked ({name} answers 401)")
    if fault is not None:
        raise UpstreamUnavailable(f"{name} API timed out")


def awaited(tenant: Tenant, consumer_ids: list[str], versions: list[RecordVersion]) -> bool:
    """Have all these consumers acked (HTTP), committed to their table (Postgres) or had their endpoint
    acknowledge (webhook) all these versions, or been deleted meanwhile?"""
    return all(_has(tenant, cid, versions) for cid in consumer_ids)


def _has(tenant: Tenant, consumer_id: str, versions: list[RecordVersion]) -> bool:
    if tenant.consumers.find(consumer_id):
        return consumers.has_acked(tenant, consumer_id, versions)
    if tenant.webhook_consumers.find(consumer_id):
        return webhooks.has_delivered(tenant, consumer_id, versions)
    return postgres.has_committed(tenant, consumer_id, versions)
