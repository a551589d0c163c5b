"""How far a webhook consumer got: what was picked for delivery, what is still out, and its attempts.

Its place is an `updated_idx` (one sequence per organization, across its streams), as a Postgres consumer's:
every covered version at or below `picked_idx` was picked, and is delivered unless it is in `out`. A message in
`out` is under way or waiting for its next attempt; a later version of the same object is not picked while one
is out, so the versions of an object never overtake each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sequin_emulator.domain.records import RecordKey

HOUR = 3600 * 1_000_000
DAY = 24 * HOUR
FIRST_RETRY = 1_000_000  # µs after a first failure; doubling, at most an hour


@dataclass
class Pending:
    idx: int  # the version's updated_idx
    stream_id: str
    key: RecordKey
    attempts: int = 0  # attempts made so far
    due_at: int = 0  # emulator time of the next attempt
    failing_since: int | None = None  # emulator time of the first failure
    last_error: str | None = None
    in_flight: bool = field(default=False, compare=False)  # an attempt is under way (not saved: due again)

    def failed(self, now: int, why: str) -> None:
        self.in_flight = False
        self.failing_since = now if self.failing_since is None else self.failing_since
        self.last_error = why
        self.due_at = now + min(HOUR, FIRST_RETRY * 2 ** (self.attempts - 1))

    def gave_up(self, now: int) -> bool:
        return self.failing_since is not None and now - self.failing_since >= DAY


@dataclass
class WebhookCursor:
    picked_idx: int = 0
    out: dict[int, Pending] = field(default_factory=dict)  # idx → message not yet acknowledged
    delivered: int = 0  # messages acknowledged, ever

    def busy(self, key: RecordKey) -> bool:
        return any(p.key == key for p in self.out.values())

    def failing(self) -> bool:
        """Whether any message out has failed at least once since it was last sent successfully."""
        return any(p.failing_since is not None for p in self.out.values())

    def next_up(self) -> list[Pending]:
        """The messages whose attempt comes next, once due. While some are failing the consumer probes: one
        attempt at a time, of the failing message due first (a dead endpoint costs one request per back-off, not
        one per message); otherwise every message not under way."""
        failing = [p for p in self.out.values() if p.failing_since is not None]
        if failing:
            return [] if any(p.in_flight for p in self.out.values()) else [min(failing, key=lambda p: (p.due_at, p.idx))]
        return [p for p in self.out.values() if not p.in_flight]

    def next_due_at(self) -> int | None:
        """When the next attempt is due (emulator time)."""
        return min((p.due_at for p in self.next_up()), default=None)

    def to_json(self) -> dict:
        return {"picked_idx": self.picked_idx, "delivered": self.delivered,
                "out": [[p.idx, p.stream_id, list(p.key), p.attempts, p.due_at, p.failing_since, p.last_error]
                        for p in self.out.values()]}

    @classmethod
    def from_json(cls, saved: dict) -> WebhookCursor:
        out = {}
        for idx, stream_id, key, attempts, due_at, failing_since, last_error in saved["out"]:
            out[idx] = Pending(idx, stream_id, (key[0], key[1], key[2]), attempts, due_at, failing_since, last_error)
        return cls(saved["picked_idx"], out, saved["delivered"])
