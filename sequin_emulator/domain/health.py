"""The `{status, notes, time}` health of credentials and OAuth apps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Health:
    status: str
    time: int
    notes: list[str] = field(default_factory=list)

    @classmethod
    def ok(cls, time: int) -> Health:
        return cls("ok", time)
