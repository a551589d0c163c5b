"""A tenant's whole state as plain JSON, and back.

Everything is in it: resources, stream contents, every consumer's delivery state (so consumers resume exactly
where they were), simulated accounts with their change logs and random generators, the sync engine's progress
and the clock. `export(restore(s)) == s` for every snapshot `s`.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections import Counter

import orjson

from emulator.domain.clock import Clock
from emulator.domain.consumers import HttpConsumer
from emulator.domain.credentials import Credential
from emulator.domain.delivery import ConsumerCursor, Delivery
from emulator.domain.engine import Backfill, SyncRun
from emulator.domain.errors import Invalid
from emulator.domain.health import Health
from emulator.domain.ids import IdFactory
from emulator.domain.oauth_apps import OAuthApp
from emulator.domain import records
from emulator.domain.records import RecordVersion, StreamLog, compact_json
from emulator.domain.streams import Stream
from emulator.domain.syncs import Sync
from emulator.domain.tenant import Faults, Tenant, Tenants
from emulator.domain.upstream import Account, AccountSettings, Change, UpstreamObject
from emulator.providers import PROVIDERS

VERSION = 1


def _rng(generator: random.Random) -> list:
    version, state, gauss = generator.getstate()
    return [version, list(state), gauss]


def _restore_rng(saved: list) -> random.Random:
    generator = random.Random()
    generator.setstate((saved[0], tuple(saved[1]), saved[2]))
    return generator


# ------------------------------------------------------------------ export

def _log(log: StreamLog) -> dict:
    return {"entries": [None if v is None else {"key": list(v.key), "filter_key": list(v.filter_key),
                                                "upstream_created_at": v.upstream_created_at,
                                                "record": orjson.loads(v.payload)} for v in log.entries],
            "inserted_at": list(log.inserted_at)}


def _cursor(cursor: ConsumerCursor) -> dict:
    return {"cursor": cursor.cursor, "issued": cursor.issued, "last_received": cursor.last_received,
            "out": [dataclasses.astuple(d) for d in cursor.out.values()],
            "again": [[position, count] for position, count in cursor.again.items()]}


def _account(account: Account) -> dict:
    return {"provider": account.provider.name, "seed": account.seed, "settings": account.settings.as_dict(),
            "objects": [dataclasses.asdict(o) for o in account.objects.values()],
            "order": account.order, "changes": [dataclasses.asdict(c) for c in account.changes],
            "next_change_at": account.next_change_at, "rng": _rng(account.rng)}


def _run(run: SyncRun) -> dict:
    return {**{f.name: getattr(run, f.name) for f in dataclasses.fields(run) if f.name not in ("backfills", "rng")},
            "backfills": {cid: dataclasses.asdict(b) for cid, b in run.backfills.items()}, "rng": _rng(run.rng)}


def export(tenant: Tenant) -> dict:
    def rows(store):
        return [dataclasses.asdict(item) for item in store]

    return {
        "version": VERSION,
        "clock": {"mode": tenant.clock.mode, "now": tenant.clock.now(), "scale": tenant.clock.scale},
        "ids": {"seed": tenant.ids.seed, "namespace": tenant.ids.namespace, "count": tenant.ids.count},
        "last_idx": tenant.last_idx, "account_defaults": tenant.account_defaults.as_dict(),
        "streams": rows(tenant.streams), "oauth_apps": rows(tenant.oauth_apps), "credentials": rows(tenant.credentials),
        "syncs": rows(tenant.syncs), "consumers": rows(tenant.consumers),
        "logs": {sid: _log(log) for sid, log in tenant.logs.items()},
        "cursors": {cid: _cursor(c) for cid, c in tenant.cursors.items()},
        "accounts": {key: _account(a) for key, a in tenant.accounts.items()},
        "runs": {sid: _run(r) for sid, r in tenant.runs.items()},
        "refreshes": tenant.refreshes, "faults": dataclasses.asdict(tenant.faults),
    }


# ------------------------------------------------------------------ restore

def _restore_log(stream_id: str, saved: dict) -> StreamLog:
    log = StreamLog(stream_id)
    log.inserted_at.extend(saved["inserted_at"])
    for position, entry in enumerate(saved["entries"]):
        if position % records.BLOCK == 0:
            log._blocks.append(Counter())
            log._block_live.append(0)
        if entry is None:
            log.entries.append(None)
            continue
        version = RecordVersion(entry["record"]["updated_idx"], tuple(entry["key"]), tuple(entry["filter_key"]),
                                entry["upstream_created_at"], compact_json(entry["record"]))
        log.entries.append(version)
        log.position[version.key] = position
        log._blocks[-1][version.filter_key] += 1
        log._block_live[-1] += 1
    return log


def _restore_cursor(consumer_id: str, saved: dict) -> ConsumerCursor:
    cursor = ConsumerCursor(consumer_id, cursor=saved["cursor"], issued=saved["issued"],
                            last_received=saved["last_received"])
    for fields in saved["out"]:
        delivery = Delivery(*fields)
        cursor.out[delivery.number] = cursor.out_by_position[delivery.position] = delivery
        heapq.heappush(cursor.deadlines, (delivery.deadline, delivery.number))
    for position, count in saved["again"]:
        cursor.again[position] = count
        heapq.heappush(cursor.again_heap, position)
    return cursor


def _object(saved: dict) -> UpstreamObject:
    return UpstreamObject(**saved)


def _restore_account(saved: dict) -> Account:
    account = Account(PROVIDERS[saved["provider"]], saved["seed"], AccountSettings(**saved["settings"]),
                      order=saved["order"], next_change_at=saved["next_change_at"], rng=_restore_rng(saved["rng"]))
    account.objects = {(o["collection"], o["id"]): _object(o) for o in saved["objects"]}
    account.changes = [Change(**{**c, "snapshot": _object(c["snapshot"])}) for c in saved["changes"]]
    return account


def _restore_run(saved: dict) -> SyncRun:
    return SyncRun(**{**saved, "backfills": {cid: Backfill(**b) for cid, b in saved["backfills"].items()},
                      "rng": _restore_rng(saved["rng"])})


def restore(tenants: Tenants, token: str, snapshot: dict) -> Tenant:
    """Replace the tenant of `token` with the snapshot's state (422 when the snapshot does not fit)."""
    if not isinstance(snapshot, dict) or snapshot.get("version") != VERSION:
        raise Invalid.field("version", f"must be {VERSION}: this is not an emulator snapshot of this version")
    try:
        tenant = tenants.reset(token)
        clock = snapshot["clock"]
        tenant.clock = Clock(mode=clock["mode"], now=clock["now"], scale=clock["scale"])
        tenant.ids = IdFactory(snapshot["ids"]["seed"], snapshot["ids"]["namespace"])  # ids go on as they were
        tenant.ids.count, tenant.last_idx = snapshot["ids"]["count"], snapshot["last_idx"]
        tenant.account_defaults = AccountSettings(**snapshot["account_defaults"])
        for row in snapshot["streams"]:
            stream = tenant.streams.add(Stream(**row))
            tenant.stream_slugs[stream.slug] = stream.id
        for row in snapshot["oauth_apps"]:
            tenant.oauth_apps.add(OAuthApp(**{**row, "health": Health(**row["health"])}))
        for row in snapshot["credentials"]:
            identity = tuple(row["identity"]) if row["identity"] else None
            tenant.credentials.add(Credential(**{**row, "health": Health(**row["health"]), "identity": identity}))
        for row in snapshot["syncs"]:
            tenant.syncs.add(Sync(**row))
        for row in snapshot["consumers"]:
            tenant.consumers.add(HttpConsumer(**row))
        tenant.logs = {sid: _restore_log(sid, saved) for sid, saved in snapshot["logs"].items()}
        tenant.cursors = {cid: _restore_cursor(cid, saved) for cid, saved in snapshot["cursors"].items()}
        tenant.accounts = {key: _restore_account(saved) for key, saved in snapshot["accounts"].items()}
        tenant.runs = {sid: _restore_run(saved) for sid, saved in snapshot["runs"].items()}
        tenant.refreshes = snapshot["refreshes"]
        tenant.faults = Faults(**snapshot["faults"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        tenants.reset(token)
        raise Invalid({"snapshot": [f"does not fit: {type(exc).__name__}: {exc}"]},
                      summary="The snapshot could not be imported; the tenant was left empty.") from None
    return tenant
