"""Answers kept by idempotency key, as Stripe keeps them: a retry with the same key gets the first answer again
(errors included: a declined payment retried is the same decline, not a second charge), for 24 hours of the
emulator's clock, and a key reused with other parameters is refused.

Bounded: past `MOST` keys or `MOST_BYTES` of answers the oldest is forgotten first (the official SDKs key every
POST, so a long test run would otherwise grow without end); a request is kept as a digest, not whole. The store
lives in its account, so a reset or a replaced tenant drops it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from sequin_emulator.domain.clock import MICROS

KEPT_FOR = 24 * 3600 * MICROS
MOST = 5000
MOST_BYTES = 16 << 20


@dataclass(frozen=True)
class Kept:
    fingerprint: bytes  # a digest of what was asked (method, path, parameters)
    status: int
    body: bytes  # the answer's JSON
    at: int  # µs, when it was first answered


class KeptAnswers:
    def __init__(self) -> None:
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    def find(self, key: str, now: int) -> Kept | None:
        self._expire(now)
        return self._kept.get(key)

    def keep(self, key: str, answer: Kept) -> None:
        self._forget(key)
        self._kept[key] = answer
        self._bytes += len(answer.body)
        while len(self._kept) > MOST or self._bytes > MOST_BYTES:
            self._forget(next(iter(self._kept)))

    def _forget(self, key: str) -> None:
        gone = self._kept.pop(key, None)
        if gone is not None:
            self._bytes -= len(gone.body)

    def _expire(self, now: int) -> None:
        """Keys are in the order they were first answered, so the expired ones are at the front."""
        while self._kept:
            oldest = next(iter(self._kept))
            if self._kept[oldest].at + KEPT_FOR > now:
                return
            self._forget(oldest)
