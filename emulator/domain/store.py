"""An ordered in-memory table of one resource kind, with the lookups every resource needs."""

from __future__ import annotations

from typing import Generic, Iterator, Protocol, TypeVar

import orjson

from emulator.domain.errors import NotFound


class HasId(Protocol):
    id: str


T = TypeVar("T", bound=HasId)


class Store(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, item: T) -> T:
        self._items[item.id] = item
        return item

    def get(self, item_id: str) -> T:
        try:
            return self._items[item_id]
        except KeyError:
            raise NotFound.resource(self.kind, item_id) from None

    def find(self, item_id: str) -> T | None:
        return self._items.get(item_id)

    def remove(self, item_id: str) -> T:
        item = self.get(item_id)
        del self._items[item_id]
        return item

    def newest_first(self) -> list[T]:
        return list(reversed(self._items.values()))

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def _canonical(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def metadata_matches(metadata: dict, wanted: dict | None) -> bool:
    """True when `metadata` has every key of `wanted` with an equal JSON value (`true` is not `1`)."""
    if not wanted:
        return True
    return all(key in metadata and _canonical(metadata[key]) == _canonical(value) for key, value in wanted.items())
