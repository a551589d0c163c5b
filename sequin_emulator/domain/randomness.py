"""Random generators as plain JSON and back, so a restored tenant draws exactly what the saved one would have."""

from __future__ import annotations

import random


def rng_state(generator: random.Random) -> list:
    version, state, gauss = generator.getstate()
    return [version, list(state), gauss]


def rng_from_state(saved: list) -> random.Random:
    generator = random.Random()
    generator.setstate((saved[0], tuple(saved[1]), saved[2]))
    return generator
