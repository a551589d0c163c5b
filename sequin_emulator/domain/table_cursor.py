"""How far a Postgres consumer got: which record versions are committed to its table.

Its place is an `updated_idx` (one sequence per organization, in stream order across streams), so it survives
stream compactions and needs no position bookkeeping: every covered version at or below `done_idx` is
committed. Syncs newly covered by a PATCH are replayed up to where the consumer was (`replay_*`) before it goes
on. `epoch` changes whenever the place is moved by anything but a commit, so a write that was in flight then is
not counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class TableCursor:
    done_idx: int = 0
    replay_syncs: list[str] = field(default_factory=list)  # syncs whose versions up to replay_upto are still due
    replay_upto: int = 0
    replay_done: int = 0  # replayed up to here
    epoch: int = 0

    def replay(self, sync_ids: list[str]) -> None:
        """Write again what these syncs already wrote (up to where the consumer is), before going on."""
        self.replay_syncs = sorted({*self.replay_syncs, *sync_ids})
        self.replay_upto, self.replay_done = self.done_idx, 0
        self.epoch += 1

    def rewind(self) -> None:
        """Start over from the first version (the table was dropped: write it all again)."""
        self.done_idx, self.replay_syncs, self.replay_upto, self.replay_done = 0, [], 0, 0
        self.epoch += 1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, saved: dict) -> TableCursor:
        return cls(**saved)
