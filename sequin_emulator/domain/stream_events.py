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
from collections.abc import Iterator

import orjson

from sequin_emulator.domain.deferred import Deferred
from sequin_emulator.domain.records import FilterKey, Moves, PositionLog, RecordVersion, StreamLog, compact_json

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


class Event:
    __slots__ = ("idx", "filter_key", "version", "kind", "changes")

    def __init__(self, version: RecordVersion, kind: str, changes: bytes | None) -> None:
        self.idx: int = version.idx
        self.filter_key: FilterKey = version.filter_key
        self.version, self.kind, self.changes = version, kind, changes  # changes: JSON of the prior values

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


class EventLog(PositionLog[Event]):
    def record(self, version: RecordVersion, previous: RecordVersion | None, data: dict, deleted: bool,
               now: int) -> Moves | None:
        """Log the event of `version` (`previous`: the version it supersedes, if any; `data`: its data).
        Returns the moves of a trim, when one happened, for the event consumers of the stream."""
        previous_data = None if previous is None else orjson.loads(previous.payload)
        if deleted:
            event = Event(version, "deleted", None)
        elif previous_data is None or previous_data["deleted"]:
            event = Event(version, "created", None)
        else:
            event = Event(version, "updated", _changes(previous_data["data"], data))
        self._append(event, now)
        return self._trim(now) if len(self.entries) % TRIM_AFTER == 0 else None

    def _trim(self, now: int) -> Moves | None:
        cut = self.first_position_since(now - RETENTION)
        if cut < TRIM_AFTER:
            return None
        kept = range(cut, len(self.entries))
        self._keep(kept)
        return Moves(kept)

    def position_of(self, version: RecordVersion) -> int | None:
        position = bisect_left(self.idxs, version.idx)
        found = self.entries[position] if position < len(self.entries) else None
        return position if found is not None and found.version is version else None

    def by_idx(self, idx: int) -> Event | None:
        position = bisect_left(self.idxs, idx)
        found = self.entries[position] if position < len(self.entries) else None
        return found if found is not None and found.idx == idx else None

    def events_after(self, idx: int) -> Iterator[Event]:
        return (event for _, event in self.after(idx))

    # ------------------------------------------------------------ saving

    def to_json(self, log: StreamLog) -> Deferred:
        """Each event as `[kind, changes, inserted_at, version]`, where `version` is the position of the version in
        the record log when it is live there, else the record itself (the file holds a live version once)."""
        return Deferred(list(zip(self.entries, self.inserted_at, strict=True)), lambda item: _event_json(log, *item))

    @classmethod
    def from_json(cls, stream_id: str, saved: list | None, log: StreamLog) -> EventLog:
        """The events `to_json` saved; a snapshot from before events were kept gets one per live record."""
        if saved is None:
            live = [(p, v) for p, v in enumerate(log.entries) if v is not None]
            return cls(stream_id, [Event(v, "deleted" if orjson.loads(v.payload)["deleted"] else "created", None)
                                   for _, v in live], [log.inserted_at[p] for p, _ in live])
        events: list[Event | None] = []
        for kind, changes, _, version in saved:
            if isinstance(version, int):
                found = log.entries[version]
                assert found is not None  # the snapshot's checks made sure
            else:
                found = RecordVersion(version["updated_idx"], (version["sync_id"], version["collection_id"],
                                                               version["upstream_id"]),
                                      (version["provider"], version["sync_id"], version["collection_id"]),
                                      None, compact_json(version))
            events.append(Event(found, kind, None if changes is None else compact_json(changes)))
        return cls(stream_id, events, [inserted_at for _, _, inserted_at, _ in saved])


def _event_json(log: StreamLog, event: Event | None, inserted_at: int) -> list:
    assert event is not None  # event logs have no empty slots
    position = log.position_of(event.version)
    version = position if position is not None else orjson.Fragment(event.version.payload)
    changes = None if event.changes is None else orjson.Fragment(event.changes)
    return [event.kind, changes, inserted_at, version]
