"""JSON encoding of large values in slices, yielding to the event loop between them.

A state export of a large account is hundreds of megabytes of JSON: encoded in one call it would hold the event
loop (every tenant's requests) for a second or more. Long lists are encoded `SLICE` items at a time into
`orjson.Fragment`s, with a pause after each; the final encoding then only copies bytes. The caller keeps the
value from changing meanwhile (a tenant's export holds the tenant's turn).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

SLICE = 500  # list items encoded between two pauses (a few ms of work)


async def dumps(value: Any) -> bytes:
    return orjson.dumps(await _sliced(value))


async def _sliced(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: await _sliced(item) for key, item in value.items()}
    if isinstance(value, list) and len(value) > SLICE:
        parts = []
        for start in range(0, len(value), SLICE):
            encoded = orjson.dumps(value[start:start + SLICE])  # items whole: a long list holds many small ones
            parts.append(encoded[1:-1])
            await asyncio.sleep(0)
        return orjson.Fragment(b"[" + b",".join(parts) + b"]")
    if isinstance(value, list):
        return [await _sliced(item) for item in value]
    return value
