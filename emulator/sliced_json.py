"""JSON encoding of large values in slices, yielding to the event loop between them.

A state export of a large account is hundreds of megabytes of JSON: encoded in one call it would hold the event
loop (every tenant's requests) for a second or more. Long lists, and the snapshot's `Deferred` lists whose items
are made only now, are encoded `SLICE` items at a time into `orjson.Fragment`s, with a pause after each; the final
encoding then only copies bytes. The caller keeps the value from changing meanwhile (a tenant's export holds the
tenant's turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from emulator.domain.deferred import Deferred, materialized

SLICE = 500  # list items made and encoded between two pauses (a few ms of work)


async def dumps(value: Any) -> bytes:
    return orjson.dumps(await _sliced(value))


def dumps_now(value: Any) -> bytes:
    """All at once, for when nothing else runs (the save at shutdown)."""
    return orjson.dumps(value, default=materialized)


async def _sliced(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: await _sliced(item) for key, item in value.items()}
    if isinstance(value, Deferred):
        return await _in_slices(value.source, value.make)
    if isinstance(value, list) and len(value) > SLICE:
        return await _in_slices(value, None)
    if isinstance(value, list):
        return [await _sliced(item) for item in value]
    return value


async def _in_slices(items: Sequence[Any], make: Any) -> orjson.Fragment:
    parts = []
    for start in range(0, len(items), SLICE):
        chunk = items[start:start + SLICE]
        encoded = orjson.dumps([make(item) for item in chunk] if make else chunk)  # items whole: many small ones
        if len(encoded) > 2:
            parts.append(encoded[1:-1])
        await asyncio.sleep(0)
    return orjson.Fragment(b"[" + b",".join(parts) + b"]")
