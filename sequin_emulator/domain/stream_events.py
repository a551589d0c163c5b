"""A stream's events: every change written to it, as the E1 events stream and event consumers see it.

Where the record log keeps each record once, in its latest version, the event log keeps one entry per version
written: `created` (the first version of an object, or the first after its deletion), `updated` (with the prior
values of the top-level fields of `data` that changed) or `deleted` (the last known data). An event holds the
very `RecordVersion` the record log holds, so a live version is in memory once; only the versions superseded
since are kept for their events, and only for `RETENTION` of emulator time (a Kafka topic's retention): older
events are trimmed in batches, and event consumers' positions move along as they do after a compaction.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left

import orjson

from sequin_emulator.domain.deferred import Deferred
from sequin_emulator.domain.records import Moves, PositionLog, RecordVersion, StreamLog, compact_json

DAY = 86_400 * 1_000_000
RETENTION = 7 * DAY  # emulator time an event is kept
TRIM_AFTER = 1024  # expired events kept at least before a trim


def event_id(stream_id: str, idx: int) -> str:
    """A UUID-shaped id, unique per stream and version, whose last group is the version's `updated_idx`: an event
    is found by its id without an index of ids."""
    h = hashlib.blake2b(f"event\x1f{stream_id}\x1f{idx}".encode(), digest_size=10).hexdigest()
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{h[16:20]}-{idx:012x}"


def idx_of_event_id(text: str) -> int | None:
    """The `updated_idx` an event id names, if it is shaped like one."""
    head, _, last = text.rpartition("-")
    if len(head) != 23 or len(last) != 12:
        return None
    try:
        return int(last, 16)
    except ValueError:
        return None


KINDS = ("created", "updated", "deleted")


class Event:
    """One event, as read: a view of the log's entry at a position (the log keeps no object per event)."""

    __slots__ = ("version", "kind", "changes")

    def __init__(self, version: RecordVersion, kind: str, changes: bytes | None) -> None:
        self.version, self.kind, self.changes = version, kind, changes  # changes: JSON of the prior values

    @property
    def idx(self) -> int:
        return self.version.idx

    def as_json(self) -> dict:
        """The event as the E1 events API and event consumers deliver it."""
        record = orjson.loads(self.version.payload)
        event = {"event_id": event_id(record["stream_id"], self.idx), "event": self.kind,
                 "event_inserted_at": record["inserted_at"], "stream_id": record["stream_id"],
                 "sync_id": record["sync_id"], "provider": record["provider"],
                 "collection_id": record["collection_id"], "upstream_id": record["upstream_id"],
                 "updated_idx": self.idx, "upstream_created_at": record["upstream_created_at"],
                 "upstream_updated_at": record["upstream_updated_at"], "data": record["data"]}
        if self.changes is not None:
            event["changes"] = orjson.loads(self.changes)
        return event


def _changes(before: dict, after: dict) -> bytes:
    """The prior values of the top-level fields that changed (null: the field is new), in a stable order."""
    fields = [*after, *(name for name in before if name not in after)]
    return compact_json({name: before.get(name) for name in fields if before.get(name) != after.get(name)})


class EventLog(PositionLog[RecordVersion]):
    """The versions written to a stream, in order, each the event that wrote it: the entries are the record log's
    own `RecordVersion`s; beside them only a kind per position and, for updates, the prior values by idx."""

    def __init__(self, stream_id: str, entries: list[RecordVersion | None] | None = None,
                 inserted_at: list[int] | None = None, kinds: bytes = b"",
                 changes: dict[int, bytes] | None = None) -> None:
        super().__init__(stream_id, entries, inserted_at)
        self.kinds = bytearray(kinds)  # per position, an index into KINDS
        self.changes = changes or {}  # idx → JSON of the prior values, for `updated` events

    def record(self, version: RecordVersion, previous: RecordVersion | None, data: dict, deleted: bool,
               now: int) -> Moves | None:
        """Log the event of `version` (`previous`: the version it supersedes, if any; `data`: its data).
        Returns the moves of a trim, when one happened, for the event consumers of the stream."""
        previous_record = None if previous is None or deleted else orjson.loads(previous.payload)
        if deleted:
            kind = 2
        elif previous_record is None or previous_record["deleted"]:
            kind = 0
        else:
            kind = 1
            self.changes[version.idx] = _changes(previous_record["data"], data)
        self._append(version, now)
        self.kinds.append(kind)
        return self._trim(now) if len(self.entries) % TRIM_AFTER == 0 else None

    def _trim(self, now: int) -> Moves | None:
        cut = self.first_position_since(now - RETENTION)
        if cut < TRIM_AFTER:
            return None
        kept = range(cut, len(self.entries))
        self._keep(kept)
        del self.kinds[:cut]
        oldest = self.idxs[0]
        self.changes = {idx: changes for idx, changes in self.changes.items() if idx >= oldest}
        return Moves(kept)

    def event(self, position: int) -> Event:
        version = self.entries[position]
        assert version is not None  # an event log has no empty slots
        return Event(version, KINDS[self.kinds[position]], self.changes.get(version.idx))

    def position_of(self, version: RecordVersion) -> int | None:
        position = bisect_left(self.idxs, version.idx)
        return position if position < len(self.entries) and self.entries[position] is version else None

    def by_idx(self, idx: int) -> Event | None:
        position = bisect_left(self.idxs, idx)
        found = self.entries[position] if position < len(self.entries) else None
        return self.event(position) if found is not None and found.idx == idx else None

    # ------------------------------------------------------------ saving

    def to_json(self, log: StreamLog) -> Deferred:
        """Each event as `[kind, changes, inserted_at, version]`, where `version` is the position of the version in
        the record log when it is live there, else the record itself (the file holds a live version once). The
        export runs in the tenant's exclusive turn, so the record log does not move while this is encoded."""
        entries, kinds, times, changes = list(self.entries), bytes(self.kinds), self.inserted_at[:], self.changes

        def make(position: int) -> list:
            version = entries[position]
            assert version is not None  # an event log has no empty slots
            at = log.position_of(version)
            saved = changes.get(version.idx)
            return [KINDS[kinds[position]], None if saved is None else orjson.Fragment(saved), times[position],
                    at if at is not None else orjson.Fragment(version.payload)]

        return Deferred(range(len(entries)), make)

    @classmethod
    def from_json(cls, stream_id: str, saved: list | None, log: StreamLog) -> EventLog:
        """The events `to_json` saved; a snapshot from before events were kept gets one per live record."""
        if saved is None:
            live = [(p, v) for p, v in enumerate(log.entries) if v is not None]
            return cls(stream_id, [v for _, v in live], [log.inserted_at[p] for p, _ in live],
                       bytes(2 if orjson.loads(v.payload)["deleted"] else 0 for _, v in live))
        versions: list[RecordVersion | None] = []
        changes: dict[int, bytes] = {}
        for _, saved_changes, _, version in saved:
            if isinstance(version, int):
                found = log.entries[version]
                assert found is not None  # the snapshot's checks made sure
            else:
                found = RecordVersion(version["updated_idx"], (version["sync_id"], version["collection_id"],
                                                               version["upstream_id"]),
                                      (version["provider"], version["sync_id"], version["collection_id"]),
                                      None, compact_json(version))
            versions.append(found)
            if saved_changes is not None:
                changes[found.idx] = compact_json(saved_changes)
        return cls(stream_id, versions, [inserted_at for _, _, inserted_at, _ in saved],
                   bytes(KINDS.index(kind) for kind, _, _, _ in saved), changes)
