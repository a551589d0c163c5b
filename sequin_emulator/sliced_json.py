"""JSON encoding of large values in slices, yielding to the event loop between them.

A state export of a large account is hundreds of megabytes of JSON: encoded in one call, or even joined into one
buffer, it would hold the event loop (every tenant's requests) for a second or more. `chunks` encodes the value
piece by piece: long lists, and the snapshot's `Deferred` lists whose items are made only now, `SLICE` items at a
time with a pause after each, and hands the JSON out in pieces of about `CHUNK` bytes, so it can be sent or
written as it comes, never copied whole. The caller keeps the value from changing meanwhile (a tenant's export
holds the tenant's turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import orjson

from sequin_emulator.domain.deferred import Deferred, materialized

SLICE = 500  # list items made and encoded between two pauses (a few ms of work)
CHUNK = 1 << 16


async def chunks(value: Any) -> AsyncIterator[bytes]:
    """The value's JSON in pieces of about `CHUNK` bytes, with a pause after each slice of a long list."""
    pending: list[bytes] = []
    size = 0
    async for piece in _pieces(value):
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def dumps_now(value: Any) -> bytes:
    """All at once, for when nothing else runs (the save at shutdown)."""
    return orjson.dumps(value, default=materialized)


async def _pieces(value: Any) -> AsyncIterator[bytes]:
    if isinstance(value, dict):
        yield b"{"
        for index, (key, item) in enumerate(value.items()):
            yield (b"," if index else b"") + orjson.dumps(key) + b":"
            async for piece in _pieces(item):
                yield piece
        yield b"}"
    elif isinstance(value, Deferred) or (isinstance(value, list) and len(value) > SLICE):
        items, make = (value.source, value.make) if isinstance(value, Deferred) else (value, None)
        yield b"["
        for index, encoded in enumerate(_slices(items, make)):
            yield (b"," if index else b"") + encoded
            await asyncio.sleep(0)
        yield b"]"
    elif isinstance(value, list):
        yield b"["
        for index, item in enumerate(value):
            if index:
                yield b","
            async for piece in _pieces(item):
                yield piece
        yield b"]"
    else:
        yield orjson.dumps(value, default=materialized)


def _slices(items: Sequence[Any], make: Any) -> Iterator[bytes]:
    """Each non-empty slice of the list as its items' JSON, without the brackets."""
    for start in range(0, len(items), SLICE):
        chunk = items[start:start + SLICE]
        encoded = orjson.dumps([make(item) for item in chunk] if make else chunk)  # items whole: many small ones
        if len(encoded) > 2:
            yield encoded[1:-1]
