"""A tenant's whole state as plain JSON, and back.

Everything is in it: resources, stream contents, every consumer's delivery state (so consumers resume exactly
where they were), simulated accounts with their change logs and random generators, the sync engine's progress
and the clock. `export(restore(s)) == s` for every snapshot `s`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from sequin_emulator.domain import models
from sequin_emulator.domain.catalog import account_identity, collection_ids, provider_of_kind, simulated, simulated_names
from sequin_emulator.domain.clock import Clock
from sequin_emulator.domain.delivery import ConsumerCursor
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.ids import IdFactory
from sequin_emulator.domain.memory import collector_paused
from sequin_emulator.domain.models import (
    Credential,
    HttpConsumer,
    OAuthApp,
    PostgresConsumer,
    PostgresTarget,
    Stream,
    Sync,
    WebhookConsumer,
    from_row,
)
from sequin_emulator.domain.plugins import CollectionId
from sequin_emulator.domain.records import StreamLog
from sequin_emulator.domain.runs import SyncRun
from sequin_emulator.domain.stream_events import EventLog
from sequin_emulator.domain.table_cursor import TableCursor
from sequin_emulator.domain.tenant import Faults, Tenant, Tenants
from sequin_emulator.domain.upstream import Account, AccountSettings, Provider
from sequin_emulator.domain.webhook_cursor import WebhookCursor

VERSION = 2


def export(tenant: Tenant) -> dict:
    """The tenant as JSON: each resource's row, and each piece of owned state as its class saves it."""
    return {
        "version": VERSION,
        "clock": {"mode": tenant.clock.mode, "now": tenant.clock.now(), "scale": tenant.clock.scale},
        "ids": {"seed": tenant.ids.seed, "namespace": tenant.ids.namespace, "count": tenant.ids.count},
        "last_idx": tenant.last_idx, "account_defaults": tenant.account_defaults.as_dict(),
        **{section: [models.row(item) for item in store] for section, store in (
            ("streams", tenant.streams), ("oauth_apps", tenant.oauth_apps), ("credentials", tenant.credentials),
            ("syncs", tenant.syncs), ("consumers", tenant.consumers))},
        "logs": {stream.id: {**stream.log.to_json(), "events": stream.events.to_json(stream.log)}
                 for stream in tenant.streams},
        "cursors": {consumer.id: consumer.cursor.to_json() for consumer in tenant.consumers},
        "accounts": {key: account.to_json() for key, account in tenant.accounts.items()},
        "runs": {sync.id: run.to_json() for sync, run in tenant.runs()},
        "refreshes": {c.id: c.refresh for c in tenant.credentials if c.refresh is not None},
        "faults": dataclasses.asdict(tenant.faults),
        "targets": [models.row(target) for target in tenant.targets],
        "postgres_consumers": [models.row(consumer) for consumer in tenant.postgres_consumers],
        "table_cursors": {consumer.id: consumer.cursor.to_json() for consumer in tenant.postgres_consumers},
        "webhook_consumers": [models.row(consumer) for consumer in tenant.webhook_consumers],
        "webhook_cursors": {consumer.id: consumer.cursor.to_json() for consumer in tenant.webhook_consumers},
    }


class _Problems:
    """The reference errors found in a snapshot, by dotted path."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, path: str, reason: str) -> None:
        self.found.setdefault(path, []).append(reason)

    def unique(self, rows: list[dict], key: str, section: str) -> dict:
        """Rows by `key`, noting repeats."""
        seen: dict = {}
        for i, row in enumerate(rows):
            if row[key] in seen:
                self.add(f"{section}.{i}.{key}", f"repeats {section}.{seen[row[key]][0]}.{key}")
            seen.setdefault(row[key], (i, row))
        return {value: row for value, (_, row) in seen.items()}

    def same_keys(self, table: dict, wanted: set, path: str, what: str) -> None:
        for key in table.keys() - wanted:
            self.add(f"{path}.{key}", f"is not the id of one of the snapshot's {what}")
        for key in sorted(wanted - table.keys()):
            self.add(path, f"has nothing for {key}")


def _reference_errors(s: dict) -> dict[str, list[str]]:
    """Every place where a snapshot (already valid against the spec's `Snapshot` schema) does not fit together:
    the checks the engine, the stream store and the consumers rely on, one checker per section."""
    p = _Problems()
    rows = _Rows(p, s)
    for check in (_check_credentials, _check_syncs, _check_postgres, _check_webhooks, _check_logs, _check_cursors,
                  _check_accounts, _check_runs):
        check(p, s, rows)
    for credential_id in s["refreshes"]:
        if credential_id not in rows.credentials:
            p.add(f"refreshes.{credential_id}", "is not a credential of the snapshot")
    return p.found


class _Rows:
    """The snapshot's resources by id (repeated ids noted as problems), which the checkers look references up in."""

    def __init__(self, p: _Problems, s: dict) -> None:
        self.streams = p.unique(s["streams"], "id", "streams")
        p.unique(s["streams"], "slug", "streams")
        self.apps = p.unique(s["oauth_apps"], "id", "oauth_apps")
        self.credentials = p.unique(s["credentials"], "id", "credentials")
        self.syncs = p.unique(s["syncs"], "id", "syncs")
        self.consumers = p.unique(s["consumers"], "id", "consumers")
        self.objects_of = {key: {(o["collection"], o["id"]) for o in account["objects"]}
                           for key, account in s["accounts"].items()}


def _check_credentials(p: _Problems, s: dict, rows: _Rows) -> None:
    for i, row in enumerate(s["credentials"]):
        kind = row["properties"]["kind"]
        if row["kind"] != kind or row["provider"] != provider_of_kind(kind):
            p.add(f"credentials.{i}.kind", f"does not match properties.kind ({kind}) and its provider")
        elif list(account_identity(row["properties"]) or []) != list(row["identity"] or []):
            p.add(f"credentials.{i}.identity", "does not match the account its properties name")
        if row["oauth_app_id"] is not None and row["oauth_app_id"] not in rows.apps:
            p.add(f"credentials.{i}.oauth_app_id", "is not an OAuth app of the snapshot")


def _check_syncs(p: _Problems, s: dict, rows: _Rows) -> None:
    for i, row in enumerate(s["syncs"]):
        credential = rows.credentials.get(row["credential_id"])
        if row["stream_id"] not in rows.streams:
            p.add(f"syncs.{i}.stream_id", "is not a stream of the snapshot")
        if credential is None:
            p.add(f"syncs.{i}.credential_id", "is not a credential of the snapshot")
        elif credential["provider"] != row["provider"]:
            p.add(f"syncs.{i}.provider", f"is not the credential's provider ({credential['provider']})")
        if simulated(row["provider"]) is None:
            p.add(f"syncs.{i}.provider", f"is not a simulated provider (the emulator simulates {simulated_names()})")
        for j, cid in enumerate(row["collection_ids"]):
            if cid not in collection_ids(row["provider"]):
                p.add(f"syncs.{i}.collection_ids.{j}", f"is not a collection of {row['provider']}")
    for i, row in enumerate(s["consumers"]):
        if row["stream_id"] not in rows.streams:
            p.add(f"consumers.{i}.stream_id", "is not a stream of the snapshot")


def _check_postgres(p: _Problems, s: dict, rows: _Rows) -> None:
    targets = p.unique(s.get("targets", []), "id", "targets")
    postgres_consumers = p.unique(s.get("postgres_consumers", []), "id", "postgres_consumers")
    for i, row in enumerate(s.get("postgres_consumers", [])):
        if row["target_id"] not in targets:
            p.add(f"postgres_consumers.{i}.target_id", "is not a target of the snapshot")
    p.same_keys(s.get("table_cursors", {}), set(postgres_consumers), "table_cursors", "postgres_consumers")


def _check_webhooks(p: _Problems, s: dict, rows: _Rows) -> None:
    webhook_consumers = p.unique(s.get("webhook_consumers", []), "id", "webhook_consumers")
    p.same_keys(s.get("webhook_cursors", {}), set(webhook_consumers), "webhook_cursors", "webhook_consumers")
    for consumer_id, cursor in s.get("webhook_cursors", {}).items():
        for i, (idx, stream_id, *_) in enumerate(cursor["out"]):
            if idx > cursor["picked_idx"] or stream_id not in rows.streams:
                p.add(f"webhook_cursors.{consumer_id}.out.{i}", "is past the consumer's place, or of no stream")


def _check_logs(p: _Problems, s: dict, rows: _Rows) -> None:
    p.same_keys(s["logs"], set(rows.streams), "logs", "streams")
    for stream_id, log in s["logs"].items():
        path = f"logs.{stream_id}"
        if len(log["inserted_at"]) != len(log["entries"]):
            p.add(f"{path}.inserted_at", "must have one time per entry")
        live: set = set()
        for i, entry in enumerate(log["entries"]):
            if entry is None:
                continue
            record = entry["record"]
            key = [record["sync_id"], record["collection_id"], record["upstream_id"]]
            if entry["key"] != key or entry["filter_key"] != [record["provider"], *key[:2]]:
                p.add(f"{path}.entries.{i}.key", "does not match the record's sync, collection and upstream id")
            if record["stream_id"] != stream_id:
                p.add(f"{path}.entries.{i}.record.stream_id", "is not the stream of this log")
            if record["updated_idx"] > s["last_idx"]:
                p.add(f"{path}.entries.{i}.record.updated_idx", "is past the snapshot's last_idx")
            if tuple(key) in live:
                p.add(f"{path}.entries.{i}.key", "is live at an earlier position too")
            live.add(tuple(key))
        _check_events(p, path, log, s["last_idx"])


def _check_events(p: _Problems, path: str, log: dict, last_idx: int) -> None:
    """Events point at live entries of their log, or carry their record; their `updated_idx` only grows."""
    last = 0
    for i, (_, _, _, version) in enumerate(log.get("events", [])):
        if isinstance(version, int):
            if version >= len(log["entries"]) or log["entries"][version] is None:
                p.add(f"{path}.events.{i}", "names a position of the log that holds no record")
                continue
            version = log["entries"][version]["record"]
        if not last < version["updated_idx"] <= last_idx:
            p.add(f"{path}.events.{i}", "is out of updated_idx order, or past the snapshot's last_idx")
        last = version["updated_idx"]


def _check_cursors(p: _Problems, s: dict, rows: _Rows) -> None:
    p.same_keys(s["cursors"], set(rows.consumers), "cursors", "consumers")
    for consumer_id, cursor in s["cursors"].items():
        consumer = rows.consumers.get(consumer_id)
        log = s["logs"].get(consumer["stream_id"]) if consumer else None
        if consumer is None or log is None:
            continue
        read = log.get("events", []) if consumer.get("kind") == "events" else log["entries"]
        size, path = len(read), f"cursors.{consumer_id}"
        if cursor["cursor"] > size:
            p.add(f"{path}.cursor", f"is past the end of its stream's log ({size})")
        if cursor["last_received"] is not None and cursor["last_received"] >= size:
            p.add(f"{path}.last_received", f"is past the end of its stream's log ({size})")
        issued = Counter(number for number, *_ in cursor["out"])
        for i, (number, position, _, _) in enumerate(cursor["out"]):
            if position >= size or not 0 < number <= cursor["issued"] or issued[number] > 1:
                p.add(f"{path}.out.{i}", "names a position past the log, or a delivery number not issued once")
        for i, (position, _) in enumerate(cursor["again"]):
            if position >= size:
                p.add(f"{path}.again.{i}", f"is past the end of its stream's log ({size})")


def _check_accounts(p: _Problems, s: dict, rows: _Rows) -> None:
    for key, account in s["accounts"].items():
        provider, path, objects = simulated(account["provider"]), f"accounts.{key}", rows.objects_of[key]
        if provider is None:
            p.add(f"{path}.provider", f"is not a simulated provider (the emulator simulates {simulated_names()})")
            continue
        for i, obj in enumerate(account["objects"]):
            reason = provider.stored_object_problem(obj["collection"], obj["id"], obj["data"])
            if reason:
                p.add(f"{path}.objects.{i}", reason)
        for collection, ids in account["order"].items():
            missing = [object_id for object_id in ids if (collection, object_id) not in objects]
            if missing:
                p.add(f"{path}.order.{collection}", f"names objects the account does not have ({missing[0]})")
        for i, change in enumerate(account["changes"]):
            snap = change["snapshot"]
            reason = provider.stored_object_problem(snap["collection"], snap["id"], snap["data"])
            if (snap["collection"], snap["id"]) != (change["collection"], change["id"]):
                reason = "its snapshot is of another object"
            if reason:
                p.add(f"{path}.changes.{i}", reason)


def _check_runs(p: _Problems, s: dict, rows: _Rows) -> None:
    for sync_id, run in s["runs"].items():
        sync, account, path = rows.syncs.get(sync_id), s["accounts"].get(run["account_key"]), f"runs.{sync_id}"
        if sync is None or run["sync_id"] != sync_id:
            p.add(path, "is not the run of a sync of the snapshot")
            continue
        if account is None or account["provider"] != sync["provider"]:
            p.add(f"{path}.account_key", "is not an account of the snapshot of the sync's provider")
            continue
        if not account["changes_base"] <= run["cursor"] <= account["changes_base"] + len(account["changes"]):
            p.add(f"{path}.cursor", "is outside its account's change log")
        objects = rows.objects_of[run["account_key"]]
        for cid, backfill in run["backfills"].items():
            where = f"{path}.backfills.{cid}"
            if cid not in sync["collection_ids"] or CollectionId.parse(cid).name != backfill["collection"]:
                p.add(where, "is not a collection of the sync")
            pending = backfill["pending"] or []
            if backfill["offset"] > len(pending):
                p.add(f"{where}.offset", f"is past the end of pending ({len(pending)})")
            if any((backfill["collection"], object_id) not in objects for object_id in pending):
                p.add(f"{where}.pending", "names objects the account does not have")


def restore(tenants: Tenants, token: str, snapshot: dict) -> Tenant:
    """Replace the tenant of `token` with the snapshot's state. The snapshot is valid against the spec's
    `Snapshot` schema (the API and the state-file loader check that); here its references are checked, and
    the new tenant is built aside: a snapshot that does not fit is a 422, and the tenant stays as it was."""
    problems = _reference_errors(snapshot)
    if problems:
        path, reasons = next(iter(problems.items()))
        raise Invalid(problems, summary=f"The snapshot does not fit together ({path} {reasons[0]}); "
                                        "the tenant was left as it was.")
    tenant = tenants.build(token)
    with collector_paused(freeze=True):
        clock = snapshot["clock"]
        tenant.clock = Clock(mode=clock["mode"], now=clock["now"], scale=clock["scale"])
        tenant.ids = IdFactory(snapshot["ids"]["seed"], snapshot["ids"]["namespace"])  # ids go on as they were
        tenant.ids.count, tenant.last_idx = snapshot["ids"]["count"], snapshot["last_idx"]
        tenant.account_defaults = AccountSettings(**snapshot["account_defaults"])
        for saved in snapshot["streams"]:
            stream = tenant.streams.add(from_row(Stream, saved))
            saved_log = snapshot["logs"][stream.id]
            stream.log = StreamLog.from_json(stream.id, saved_log)
            stream.events = EventLog.from_json(stream.id, saved_log.get("events"), stream.log)
        for saved in snapshot["oauth_apps"]:
            tenant.oauth_apps.add(from_row(OAuthApp, saved))
        for saved in snapshot["credentials"]:
            credential = tenant.credentials.add(from_row(Credential, saved))
            credential.refresh = snapshot["refreshes"].get(credential.id)
        for saved in snapshot["syncs"]:
            sync = tenant.syncs.add(from_row(Sync, saved))
            run = snapshot["runs"].get(sync.id)
            sync.run = None if run is None else SyncRun.from_json(run)
        for saved in snapshot["consumers"]:
            consumer = tenant.consumers.add(from_row(HttpConsumer, saved))
            consumer.cursor = ConsumerCursor.from_json(consumer.id, snapshot["cursors"][consumer.id])
        tenant.accounts = {key: Account.from_json(saved, _simulated(saved["provider"]))
                           for key, saved in snapshot["accounts"].items()}
        tenant.faults = Faults(**snapshot["faults"])
        for saved in snapshot.get("targets", []):
            tenant.targets.add(from_row(PostgresTarget, saved))
        for saved in snapshot.get("postgres_consumers", []):
            postgres_consumer = tenant.postgres_consumers.add(from_row(PostgresConsumer, saved))
            postgres_consumer.cursor = TableCursor.from_json(snapshot["table_cursors"][postgres_consumer.id])
        for saved in snapshot.get("webhook_consumers", []):
            webhook_consumer = tenant.webhook_consumers.add(from_row(WebhookConsumer, saved))
            webhook_consumer.cursor = WebhookCursor.from_json(snapshot["webhook_cursors"][webhook_consumer.id])
    return tenants.replace(token, tenant)


def _simulated(provider: str) -> Provider:
    model = simulated(provider)
    assert model is not None, provider  # the snapshot's references were checked first
    return model
