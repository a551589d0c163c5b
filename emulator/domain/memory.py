"""Keeping Python's cycle collector out of bulk work.

Simulated accounts and stream records are large trees of plain dicts and lists with no reference cycles.
Building them triggers the cycle collector over and over, and each full pass walks the whole, growing heap:
generating 100,000 Stripe objects took 2.5x longer with it running. Nothing built here can form a cycle,
so pausing it for the duration loses nothing.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
