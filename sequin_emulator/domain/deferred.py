"""A list in a snapshot whose items are made only as it is encoded.

A large account's snapshot has hundreds of thousands of objects: building each one's JSON-ready dict up front holds
the event loop for a tenth of a second and more. A `Deferred` keeps the source items (references, copied once)
and how to make each; the encoder makes them slice by slice (`sequin_emulator.sliced_json`), or all at once where
nothing else runs (`materialize`, as orjson's `default`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class Deferred:
    """Not a dataclass: orjson would encode a dataclass itself instead of asking `materialized`."""

    __slots__ = ("make", "source")

    def __init__(self, source: Sequence[Any], make: Callable[[Any], Any]) -> None:
        self.source, self.make = source, make

    def __len__(self) -> int:
        return len(self.source)

    def materialize(self) -> list:
        return [self.make(item) for item in self.source]


def materialized(value: Any) -> Any:
    """orjson's `default` for snapshots: a `Deferred` becomes its list."""
    if isinstance(value, Deferred):
        return value.materialize()
    raise TypeError(f"{type(value).__name__} is not JSON")
