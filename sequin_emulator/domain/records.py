"""The stream store: each record once, in its latest version, in append order.

A stream's log is an append-only list of positions. Writing a new version of a record empties the slot of the
old version and appends the new one, so positions only grow and a consumer's progress is one integer. Each
version is serialized to JSON once, when written, because it will be served many times; memory grows with
records, never with consumers. The stream's events (`events.EventLog`) are a log of the same kind.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar

import orjson

from sequin_emulator.domain.deferred import Deferred
from sequin_emulator.domain.ids import derived_uuid
from sequin_emulator.domain.timefmt import format_micros

RecordKey = tuple[str, str, str]  # (sync_id, collection_id, upstream_id)
FilterKey = tuple[str, str, str]  # (provider, sync_id, collection_id)


def _key(saved: list[str]) -> tuple[str, str, str]:
    first, second, third = saved
    return first, second, third


def compact_json(value: object) -> bytes:
    """JSON bytes that take only their own size: orjson's result keeps a larger buffer (8 KiB for a 1 KiB
    record), which for a stream of a million records is the difference between 1 and 8 GiB."""
    return memoryview(orjson.dumps(value)).tobytes()


class RecordVersion:
    """One version of one record, as written to the stream; `payload` is its JSON, ready to serve."""

    __slots__ = ("idx", "key", "filter_key", "upstream_created_at", "payload")

    def __init__(self, idx: int, key: RecordKey, filter_key: FilterKey, upstream_created_at: int | None,
                 payload: bytes) -> None:
        self.idx, self.key, self.filter_key = idx, key, filter_key
        self.upstream_created_at, self.payload = upstream_created_at, payload

    @property
    def record(self) -> dict:
        return orjson.loads(self.payload)


class Entry(Protocol):
    """What a log holds at a position: a record version, or an event."""

    @property
    def idx(self) -> int: ...

    @property
    def filter_key(self) -> FilterKey: ...


E = TypeVar("E", bound=Entry)


class PositionLog(Generic[E]):
    """Entries at positions that only grow, with `updated_idx` never decreasing along them: the part of a log a
    consumer's cursor reads (`ConsumerCursor` works on any). Live counts per block of positions (and per provider /
    sync / collection) make a consumer's `num_pending` exact without scanning the whole log."""

    block = 1024  # positions per block of live counts

    def __init__(self, stream_id: str, entries: list[E | None] | None = None,
                 inserted_at: list[int] | None = None) -> None:
        self.stream_id = stream_id
        self.entries: list[E | None] = entries or []
        self.inserted_at = array("q", inserted_at or ())  # per position, for the `1h` deliver policy
        self._index()

    def _index(self) -> None:
        """Build the lookups from `entries`."""
        # `updated_idx` per position, never decreasing (an emptied slot repeats the one before), to find the
        # entries written after a given idx by bisection
        self.idxs = array("q")
        last = 0
        for entry in self.entries:
            last = entry.idx if entry is not None else last
            self.idxs.append(last)
        self._blocks: list[Counter] = []  # live entries per FilterKey, per block of positions
        self._block_live: list[int] = []  # live entries per block of positions
        for start in range(0, len(self.entries), self.block):
            block = [e for e in self.entries[start:start + self.block] if e is not None]
            self._blocks.append(Counter(e.filter_key for e in block))
            self._block_live.append(len(block))

    def _append(self, entry: E, now: int) -> int:
        position = len(self.entries)
        if position % self.block == 0:
            self._blocks.append(Counter())
            self._block_live.append(0)
        self.entries.append(entry)
        self.inserted_at.append(now)
        self.idxs.append(entry.idx)
        self._blocks[-1][entry.filter_key] += 1
        self._block_live[-1] += 1
        return position

    def _empty(self, position: int) -> None:
        old = self.entries[position]
        assert old is not None
        self.entries[position] = None
        self._blocks[position // self.block][old.filter_key] -= 1
        self._block_live[position // self.block] -= 1

    def _keep(self, kept: Sequence[int]) -> None:
        """Keep only the entries at `kept` (old positions, in order), renumbered from 0."""
        self.entries = [self.entries[position] for position in kept]
        self.inserted_at = array("q", (self.inserted_at[position] for position in kept))
        self._index()

    def count_after(self, start: int, matches: Callable[[FilterKey], bool] | None) -> int:
        """Live entries at positions >= `start` whose filter key `matches` (None: every entry)."""
        end_of_block = min(len(self.entries), (start // self.block + 1) * self.block)
        if matches is None:  # the common, unfiltered consumer: C-speed counting only
            partial = self.entries[start:end_of_block]
            return len(partial) - partial.count(None) + sum(self._block_live[start // self.block + 1:])
        count = sum(1 for e in self.entries[start:end_of_block] if e is not None and matches(e.filter_key))
        for block in self._blocks[start // self.block + 1:]:
            count += sum(n for fk, n in block.items() if n and matches(fk))
        return count

    def after(self, idx: int) -> Iterator[tuple[int, E]]:
        """(position, entry) of the live entries with an `updated_idx` above `idx`, in log order."""
        entries = self.entries
        for position in range(bisect_right(self.idxs, idx), len(entries)):
            entry = entries[position]
            if entry is not None:
                yield position, entry

    def first_position_since(self, time: int) -> int:
        return bisect_left(self.inserted_at, time)

    def last_position(self, matches: Callable[[FilterKey], bool]) -> int | None:
        for position in range(len(self.entries) - 1, -1, -1):
            entry = self.entries[position]
            if entry is not None and matches(entry.filter_key):
                return position
        return None

    def position_of(self, version: RecordVersion) -> int | None:
        """The live position of what this log holds for `version`, if it holds it still."""
        raise NotImplementedError


class StreamLog(PositionLog[RecordVersion]):
    """A stream's records, each once in its latest version. Writing a new version empties the slot of the old
    one and appends the new one, so positions only grow and a consumer's progress is one integer."""

    compact_after = 1024  # superseded slots kept at least before a compaction (then: once they outnumber live)

    def _index(self) -> None:
        super()._index()
        self.position: dict[RecordKey, int] = {}  # live position of every record
        for position, version in enumerate(self.entries):
            if version is not None:
                self.position[version.key] = position

    def __len__(self) -> int:
        return len(self.position)

    @property
    def superseded(self) -> int:
        """Slots emptied by newer versions."""
        return len(self.entries) - len(self.position)

    def wants_compaction(self) -> bool:
        return self.superseded > max(self.compact_after, len(self.position))

    def compact(self) -> list[int]:
        """Drop the emptied slots (a record updated forever would otherwise grow the log forever). Returns the
        old positions of the entries kept, in order: the entry now at `i` was at `kept[i]` (see `Moves`)."""
        kept = [position for position, version in enumerate(self.entries) if version is not None]
        self._keep(kept)
        return kept

    def to_json(self) -> dict:
        return {"entries": Deferred(list(self.entries), _entry_json),
                "inserted_at": list(self.inserted_at)}

    @classmethod
    def from_json(cls, stream_id: str, saved: dict) -> StreamLog:
        entries: list[RecordVersion | None] = [
            None if entry is None else
            RecordVersion(entry["record"]["updated_idx"], _key(entry["key"]), _key(entry["filter_key"]),
                          entry["upstream_created_at"], compact_json(entry["record"]))
            for entry in saved["entries"]]
        return cls(stream_id, entries, saved["inserted_at"])

    def write(self, *, idx: int, now: int, sync: dict, provider: str, collection_id: str, upstream_id: str,
              data: dict, deleted: bool, upstream_created_at: int | None, upstream_updated_at: int | None) -> RecordVersion:
        """Append a new version of a record, removing the old one. `sync` is `{id, external_id, metadata}`."""
        key = (sync["id"], collection_id, upstream_id)
        old_position = self.position.get(key)
        if old_position is not None:
            old = self.entries[old_position]
            assert old is not None
            if upstream_created_at is None:
                upstream_created_at = old.upstream_created_at
            self._empty(old_position)
        record = {
            "id": derived_uuid("record", self.stream_id, *key), "stream_id": self.stream_id, "sync_id": sync["id"],
            "sync": sync, "provider": provider, "collection_id": collection_id, "upstream_id": upstream_id,
            "updated_idx": idx, "upstream_created_at": format_micros(upstream_created_at),
            "upstream_updated_at": format_micros(upstream_updated_at), "inserted_at": format_micros(now),
            "deleted": deleted, "data": data,
        }
        version = RecordVersion(idx, key, (provider, sync["id"], collection_id), upstream_created_at,
                                compact_json(record))
        self.position[key] = self._append(version, now)
        return version

    def latest(self, key: RecordKey) -> RecordVersion | None:
        position = self.position.get(key)
        return None if position is None else self.entries[position]

    def position_of(self, version: RecordVersion) -> int | None:
        position = self.position.get(version.key)
        return position if position is not None and self.entries[position] is version else None

    def versions_after(self, idx: int) -> Iterator[RecordVersion]:
        """The live versions with an `updated_idx` above `idx`, in stream order."""
        return (version for _, version in self.after(idx))


class Moves:
    """Where positions went in a compaction, for whoever holds positions (consumer cursors)."""

    def __init__(self, kept: Sequence[int]) -> None:
        self.kept = kept

    def new(self, old: int) -> int:
        """The new place of a live entry; for any other position, the place of the first live entry after it
        (what a cursor, the first position not yet handed out, needs)."""
        return bisect_left(self.kept, old)

    def live(self, old: int) -> bool:
        """Was the entry at `old` kept (it was live, not superseded)?"""
        place = bisect_left(self.kept, old)
        return place < len(self.kept) and self.kept[place] == old


def _entry_json(version: RecordVersion | None) -> dict | None:
    if version is None:
        return None
    return {"key": list(version.key), "filter_key": list(version.filter_key),
            "upstream_created_at": version.upstream_created_at, "record": orjson.Fragment(version.payload)}
