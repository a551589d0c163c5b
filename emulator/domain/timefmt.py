"""Timestamps on the wire: RFC 3339 UTC with microseconds and `Z`, and the documented input forms."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone

from emulator.domain.clock import MICROS

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z, the last time a timestamp can show
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_MICROS = {"ms": 1000, "s": MICROS, "m": 60 * MICROS, "h": 3600 * MICROS, "d": 86400 * MICROS}


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def format_micros(micros: int | None) -> str | None:
    if micros is None:
        return None
    seconds, rest = divmod(micros, MICROS)
    return f"{_second(seconds)}.{rest:06d}Z"


def parse_timestamp(text: str) -> int:
    """RFC 3339, or the documented `2023-12-15 01:29:29` form (taken as UTC), to epoch microseconds."""
    value = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * MICROS + delta.microseconds


def parse_duration(text: str) -> int:
    """`4h`, `1h30m`, `250ms` ... to microseconds."""
    return sum(int(n) * _UNIT_MICROS[unit] for n, unit in _DURATION_PART.findall(text))
