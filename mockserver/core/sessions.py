"""Live credentials of one tenant (access tokens, intent sessions): bounded and self-purging.

They belong to the tenant's store, so a reset clears them and deleting a tenant drops them. Every
entry of a table lives the same time, so insertion order is expiry order: purging pops from the
front, and the size cap (`--max-sessions`) evicts the oldest first.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Iterator, TypeVar

V = TypeVar("V")


class Sessions(Generic[V]):
    __slots__ = ("limit", "_items")

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def add(self, key: str, value: V, expires_at: float, now: float) -> None:
        self.purge(now)
        self._items[key] = (expires_at, value)
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, key: str, now: float) -> V | None:
        """The live value under `key`; None when unknown or expired (by the mock clock)."""
        hit = self._items.get(key)
        if hit is None or hit[0] <= now:
            return None
        return hit[1]

    def pop(self, key: str) -> V | None:
        """Remove and return the value under `key`, expired or not (single-use entries)."""
        hit = self._items.pop(key, None)
        return hit[1] if hit is not None else None

    def purge(self, now: float) -> None:
        items = self._items
        while items:
            expires_at, _ = next(iter(items.values()))
            if expires_at > now:
                return
            items.popitem(last=False)

    def live(self, now: float) -> list[tuple[str, float, V]]:
        """(key, expires_at, value) of every live entry, oldest first (state snapshots)."""
        return [(k, exp, v) for k, (exp, v) in self._items.items() if exp > now]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))
