"""The Mutation API: write to a sync's upstream account, and put the result in its stream at once.

A mutation is validated whole before anything is written (all records or none). Its changes are logged
upstream like any other, so other syncs of the account see them at their next poll; the mutating sync writes
them straight away and skips them when it polls.
"""

from __future__ import annotations

from sequin_emulator.domain import accounts, consumers, postgres, streams, upstream_writes
from sequin_emulator.domain.errors import Invalid, NotFound
from sequin_emulator.domain.inputs import Mutation
from sequin_emulator.domain.plugins import CollectionId
from sequin_emulator.domain.records import RecordVersion
from sequin_emulator.domain.tenant import Tenant

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
    unknown = {f"await_consumer_ids.{i}": ["is not an HTTP or Postgres consumer of this organization"]
               for i, cid in enumerate(mutation.await_consumer_ids)
               if tenant.consumers.find(cid) is None and tenant.postgres_consumers.find(cid) is None}
    if unknown:
        raise Invalid(unknown)
    account = accounts.account_for(tenant, tenant.credentials.get(sync.credential_id))
    provider, collection = account.provider, CollectionId.parse(mutation.collection_id).name
    operation = OPERATIONS[mutation.kind]
    writes = _writes(mutation)
    errors: dict[str, list[str]] = {}
    for path, upstream_id, data in writes:
        try:
            provider.validate(account, operation, collection, upstream_id, data)
        except Invalid as exc:  # `data.email` of a record is `records.N.data.email` of the mutation
            errors.update({(f"{path}.{key}" if key.startswith("data") else key): reasons
                           for key, reasons in exc.errors.items()})
        except NotFound as exc:
            target = path if path.startswith("upstream_ids") else f"{path}.upstream_id"
            errors[target] = [exc.summary]
    if errors:
        raise Invalid(errors, summary=f"{provider.name} rejected the mutation; nothing was written: "
                                      f"{next(iter(errors))} {next(iter(errors.values()))[0]}")
    written = []
    for _, upstream_id, data in writes:
        change = upstream_writes.apply(tenant, account, operation, collection, upstream_id, data)
        change.written_by = sync.id
        created, updated = provider.upstream_times(change.snapshot)
        written.append(streams.write_record(tenant, sync, mutation.collection_id, change.id, change.snapshot.data,
                                            deleted=change.snapshot.deleted, upstream_created_at=created,
                                            upstream_updated_at=updated))
    return written


def awaited(tenant: Tenant, consumer_ids: list[str], versions: list[RecordVersion]) -> bool:
    """Have all these consumers acked (HTTP) or committed to their table (Postgres) all these versions, or been
    deleted meanwhile?"""
    return all(consumers.has_acked(tenant, cid, versions) if tenant.consumers.find(cid)
               else postgres.has_committed(tenant, cid, versions) for cid in consumer_ids)
