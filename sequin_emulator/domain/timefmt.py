"""Timestamps on the wire: RFC 3339 UTC with microseconds and `Z`, and the documented input forms."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import overload

from sequin_emulator.domain.clock import EARLIEST, LATEST, MICROS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_MICROS = {"ms": 1000, "s": MICROS, "m": 60 * MICROS, "h": 3600 * MICROS, "d": 86400 * MICROS}


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@overload
def format_micros(micros: int) -> str: ...


@overload
def format_micros(micros: None) -> None: ...


@overload
def format_micros(micros: int | None) -> str | None: ...


def format_micros(micros: int | None) -> str | None:
    if micros is None:
        return None
    seconds, rest = divmod(micros, MICROS)
    return f"{_second(seconds)}.{rest:06d}Z"


def parse_timestamp(text: str) -> int:
    """RFC 3339, or the documented `2023-12-15 01:29:29` form (taken as UTC), to epoch microseconds."""
    value = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        delta = value - _EPOCH
    except OverflowError:  # an offset that takes year 1 or 9999 out of range
        raise ValueError("is out of range") from None
    return (delta.days * 86400 + delta.seconds) * MICROS + delta.microseconds


def parse_clock_time(text: str) -> int:
    """A time the emulator's clock may be set to (EARLIEST to LATEST), else ValueError saying why."""
    try:
        micros = parse_timestamp(text)
    except ValueError:
        raise ValueError("is not a real date and time") from None
    if not EARLIEST <= micros <= LATEST:
        raise ValueError("must be between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z")
    return micros


def parse_duration(text: str) -> int:
    """`4h`, `1h30m`, `250ms` ... to microseconds."""
    return sum(int(n) * _UNIT_MICROS[unit] for n, unit in _DURATION_PART.findall(text))


def advanced(now: int, by: str) -> int:
    """`now` moved on by the duration `by`; ValueError when that passes the clock's LATEST."""
    to = now + parse_duration(by)
    if to > LATEST:
        raise ValueError("would take the clock past the start of the year 9999")
    return to
