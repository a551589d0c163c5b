"""The sync engine's progress on one sync: where its backfills are, how far it read its account's change log,
when it may make its next request. A sync owns its run; the engine (`sequin_emulator.domain.engine`) drives it."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

from sequin_emulator.domain.randomness import rng_from_state, rng_state
from sequin_emulator.domain.upstream import Account


@dataclass
class Backfill:
    collection: str  # the provider's name, e.g. "customer"
    pending: list[str] | None = None  # object ids, oldest first; taken at the first page
    offset: int = 0

    @property
    def done(self) -> bool:
        return self.pending is not None and self.offset >= len(self.pending)


@dataclass
class SyncRun:
    sync_id: str
    account_key: str
    next_request_at: int
    next_poll_at: int
    cursor: int  # how much of the account's change log this sync has read
    backfills: dict[str, Backfill] = field(default_factory=dict)  # collection id → progress
    failures: int = 0  # consecutive failed requests
    polled_last: bool = False  # the last request was a poll (during a backfill, pages and due polls alternate)
    last_error: str | None = None
    rng: random.Random = field(default_factory=random.Random)

    @property
    def backfilling(self) -> bool:
        return any(not b.done for b in self.backfills.values())

    def work_at(self, account: Account, frequency: int) -> int | None:
        """When this sync next has a request to make, or None if it has nothing to do for now.

        A poll that would find nothing is skipped: the next poll that matters is the first one due at or after
        the account's next change. (A sync whose requests are failing keeps trying at its back-off pace, so
        its health reflects the fault even when the account is quiet.)
        """
        if self.backfilling:
            return self.next_request_at  # backfill pages, with polls in between when they fall due
        if self.failures or account.settings.faulty:
            return max(self.next_request_at, self.next_poll_at)
        if self.cursor < len(account.changes):
            news = account.changes[self.cursor].time
        elif (step := account.next_step_at()) is not None:
            news = step
        else:
            return None
        poll = self.next_poll_at
        if poll < news:
            poll += -(-(news - poll) // frequency) * frequency  # the first regular poll at or after the news
        return max(self.next_request_at, poll)

    def to_json(self) -> dict:
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("backfills", "rng")}
        return {**plain, "backfills": {cid: dataclasses.asdict(b) for cid, b in self.backfills.items()},
                "rng": rng_state(self.rng)}

    @classmethod
    def from_json(cls, saved: dict) -> SyncRun:
        return cls(**{**saved, "backfills": {cid: Backfill(**b) for cid, b in saved["backfills"].items()},
                      "rng": rng_from_state(saved["rng"])})
