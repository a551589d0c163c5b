"""An ordered in-memory table of one resource kind, with the lookups every resource needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

import orjson

from sequin_emulator.domain.errors import Invalid, NotFound
from sequin_emulator.domain.inputs import given


class HasId(Protocol):
    id: str
    updated_at: int


T = TypeVar("T", bound=HasId)


class Store(Generic[T]):
    """Items by id, in insertion order; with `unique`, also by that attribute's value (a stream's slug), which
    only `set_unique` may change."""

    def __init__(self, kind: str, unique: str | None = None) -> None:
        self.kind = kind
        self.unique = unique
        self._items: dict[str, T] = {}
        self._by_unique: dict[Any, T] = {}
        self.version = 0  # counts adds and removes, so a watcher can tell the set of items changed without a scan

    def add(self, item: T) -> T:
        self.version += 1
        self._items[item.id] = item
        if self.unique:
            self._by_unique[getattr(item, self.unique)] = item
        return item

    def with_unique(self, value: Any) -> T | None:
        return self._by_unique.get(value)

    def set_unique(self, item: T, value: Any) -> None:
        assert self.unique is not None
        del self._by_unique[getattr(item, self.unique)]
        setattr(item, self.unique, value)
        self._by_unique[value] = item

    def get(self, item_id: str) -> T:
        try:
            return self._items[item_id]
        except KeyError:
            raise NotFound.resource(self.kind, item_id) from None

    def find(self, item_id: str) -> T | None:
        return self._items.get(item_id)

    def remove(self, item_id: str) -> T:
        item = self.get(item_id)
        self.version += 1
        del self._items[item_id]
        if self.unique:
            del self._by_unique[getattr(item, self.unique)]
        return item

    def update(self, item_id: str, changes: Any, now: int) -> T:
        """Copy the fields an update sets (see `inputs.given`) onto the item, and stamp it."""
        item = self.get(item_id)
        for key, value in given(changes).items():
            setattr(item, key, value)
        item.updated_at = now
        return item

    def remove_unused(self, item_id: str, users: list[str]) -> T:
        """Remove the item, unless other resources (`users`, e.g. "sync <id>") still use it: then 422 naming them."""
        self.get(item_id)
        if users:
            names = ", ".join(users)
            raise Invalid({"id": [f"is still used by {names}"]},
                          summary=f"The {self.kind} {item_id} is still used by {names}; delete them first.")
        return self.remove(item_id)

    def newest_first(self) -> list[T]:
        return list(reversed(self._items.values()))

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def _canonical(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def metadata_matches(metadata: dict, wanted: dict | None) -> bool:
    """True when `metadata` has every key of `wanted` with an equal JSON value (`true` is not `1`)."""
    if not wanted:
        return True
    return all(key in metadata and _canonical(metadata[key]) == _canonical(value) for key, value in wanted.items())
