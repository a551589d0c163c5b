"""Answers kept by idempotency key, as Stripe keeps them: a retry with the same key gets the first answer again
(errors included: a declined payment retried is the same decline, not a second charge), for 24 hours of the
emulator's clock, and a key reused with other parameters is refused.

Bounded: past `MOST` keys the oldest is forgotten first (the official SDKs key every POST, so a long test run
would otherwise grow without end). The store lives in its account, so a reset or a replaced tenant drops it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from emulator.domain.clock import MICROS

KEPT_FOR = 24 * 3600 * MICROS
MOST = 5000


@dataclass(frozen=True)
class Kept:
    fingerprint: bytes  # what was asked (method, path, parameters)
    status: int
    body: bytes  # the answer's JSON
    at: int  # µs, when it was first answered


class KeptAnswers:
    def __init__(self) -> None:
        self._kept: OrderedDict[str, Kept] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def find(self, key: str, now: int) -> Kept | None:
        self._expire(now)
        return self._kept.get(key)

    def keep(self, key: str, answer: Kept) -> None:
        self._kept[key] = answer
        self._kept.move_to_end(key)
        while len(self._kept) > MOST:
            self._kept.popitem(last=False)

    def _expire(self, now: int) -> None:
        """Keys are in the order they were first answered, so the expired ones are at the front."""
        while self._kept:
            oldest = next(iter(self._kept.values()))
            if oldest.at + KEPT_FOR > now:
                return
            self._kept.popitem(last=False)
