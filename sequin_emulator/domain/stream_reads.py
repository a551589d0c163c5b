"""The E1 read API: the records and the events of every stream of a tenant, paged by an opaque cursor.

E1 had no streams: a tenant read the records (and the events) of all its syncs. Here they are read straight
from the streams' logs, merged in `updated_idx` order (one sequence per tenant, so the merge is the order of
the writes), with no copy of the data. The cursor is the last `updated_idx` returned, base64-encoded as
Sequin's own cursors were (`NjA3` is "607"): it survives a state export and import, and a compaction.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from sequin_emulator.domain.errors import Invalid, NotFound
from sequin_emulator.domain.records import FilterKey, RecordVersion, StreamLog
from sequin_emulator.domain.stream_events import Event, EventLog, event_id, idx_of_event_id
from sequin_emulator.domain.tenant import Tenant


@dataclass(frozen=True)
class ReadFilters:
    """What a read keeps (None: anything); `collection` is the older spelling of `collection_id`."""

    sync_id: str | None = None
    provider: str | None = None
    collection_id: str | None = None
    collection: str | None = None

    def matcher(self) -> Callable[[FilterKey], bool]:
        if self.collection is not None and self.collection_id is not None and self.collection != self.collection_id:
            raise Invalid.field("collection", "names another collection than collection_id (send one of them)")
        wanted = (self.provider, self.sync_id, self.collection_id or self.collection)
        return lambda key: all(w is None or w == k for w, k in zip(wanted, key, strict=True))


def encode_cursor(idx: int) -> str:
    return base64.b64encode(str(idx).encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The `updated_idx` an `after_cursor` names; 422 for anything that is not a cursor of ours."""
    try:
        bare = cursor.rstrip("=")  # padded or not
        text = base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True).decode()
        if text.isdigit() and len(text) < 19:
            return int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise Invalid.field("after_cursor", "is not a cursor this API answered")


L = TypeVar("L", StreamLog, EventLog)


def _page(logs: list[L], filters: ReadFilters, after: str | None,
          limit: int) -> list[tuple[L, int, RecordVersion]]:
    """Up to `limit` (log, position, version) of the logs' entries after the cursor, in `updated_idx` order."""
    matches = filters.matcher()
    found = merged(logs, decode_cursor(after) if after is not None else 0)
    return list(itertools.islice((item for item in found if matches(item[2].filter_key)), limit))


def merged(logs: list[L], idx: int) -> Iterator[tuple[L, int, RecordVersion]]:
    """(log, position, version) of the logs' live entries after `idx`, in `updated_idx` order (one sequence per
    organization, so this is the order of the writes)."""
    return heapq.merge(*(_positions(log, idx) for log in logs), key=lambda item: item[2].idx)


def _positions(log: L, idx: int) -> Iterator[tuple[L, int, RecordVersion]]:
    return ((log, position, version) for position, version in log.after(idx))


def records(tenant: Tenant, filters: ReadFilters, after: str | None, limit: int) -> list[tuple[int, RecordVersion]]:
    """Up to `limit` live records after the cursor, earliest first, as (inserted_at, version)."""
    page = _page([stream.log for stream in tenant.streams], filters, after, limit)
    return [(log.inserted_at[position], version) for log, position, version in page]


def events(tenant: Tenant, filters: ReadFilters, after: str | None, limit: int) -> list[Event]:
    """Up to `limit` events after the cursor, earliest first."""
    page = _page([stream.events for stream in tenant.streams], filters, after, limit)
    return [log.event(position) for log, position, _ in page]


def event(tenant: Tenant, text: str) -> Event:
    idx = idx_of_event_id(text)
    if idx is None:
        raise NotFound.resource("event", text)
    for stream in tenant.streams:
        found = stream.events.by_idx(idx)
        if found is not None and event_id(stream.id, idx) == text:
            return found
    raise NotFound.resource("event", text)
