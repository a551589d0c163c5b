"""The emulator's clock: real, scaled or manual time, in integer microseconds since the epoch.

Integer microseconds keep timestamps exact (floats drift at that precision) and make manual-clock runs
byte-for-byte reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MICROS = 1_000_000
EARLIEST = 0  # 1970-01-01T00:00:00Z: the emulator's clock never shows an earlier time
LATEST = 253_370_764_800_000_000  # 9999-01-01T00:00:00Z: nor a later one (a year's history stays printable)


def wall_micros() -> int:
    return time.time_ns() // 1000


class Clock:
    """Emulator time as `base + (wall - wall_base) * rate`: rate 1 real, `scale` scaled, 0 manual.

    Switching modes re-anchors at the current emulator time, so time never jumps backwards.
    """

    def __init__(self, mode: str = "real", now: int | None = None, scale: float = 1.0,
                 wall: Callable[[], int] = wall_micros) -> None:
        self._wall = wall
        self.mode = mode
        self.scale = float(scale)
        self._wall_base = wall()
        self._base = self._wall_base if now is None else now
        self.moved = False  # set or advanced by hand since it was built

    @property
    def rate(self) -> float:
        return {"real": 1.0, "scaled": self.scale, "manual": 0.0}[self.mode]

    def now(self) -> int:
        if self.mode == "manual":
            return self._base
        return min(LATEST, self._base + int((self._wall() - self._wall_base) * self.rate))

    def set(self, mode: str | None = None, scale: float | None = None, now: int | None = None) -> None:
        """Change mode and/or scale, and optionally move forward to `now`. The clock never goes backwards: a
        clock that moves by itself and has passed `now` meanwhile stays where it is."""
        current = self.now()
        if now is not None:
            current, self.moved = max(now, current), True
        if mode is not None:
            self.mode = mode
        if scale is not None:
            self.scale = float(scale)
        self._base, self._wall_base = current, self._wall()

    def advance(self, micros: int) -> int:
        self._base += micros
        self.moved = True
        return self.now()
