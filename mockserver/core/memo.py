"""The one way the mock remembers work on its hot paths: a `Memo`, owned by the object that
fills it (an app's router, a vendor's service), with a named size.

A memo remembers answers until it holds its size, then starts over: a drop costs one miss per
key afterwards, and a hit pays nothing for the bound (an LRU reorders on every hit, on the hot
path). A memo may also bound the total weight of what it keeps (the tokens of parsed GraphQL
documents). What a memo keeps must stay right for as long as it is kept: a memo of answers that
depend on a store is keyed by the store's version (see the vendors' stores).

Constants built from the package's own files, never from a request (Groove's GraphQL schema,
the contracts), are built once per process with `functools.lru_cache` instead: they hold no
request data (tests/core/test_memo.py holds the package to that).
"""
from __future__ import annotations

from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    """A dict bounded by `size` entries (and `max_weight`, when given, by the sum of the
    weights `keep` is told)."""

    __slots__ = ("size", "max_weight", "weight")

    def __init__(self, size: int, max_weight: int | None = None) -> None:
        super().__init__()
        self.size = size
        self.max_weight = max_weight
        self.weight = 0

    def keep(self, key: K, value: V, weight: int = 0) -> V:
        """`self[key] = value`, everything dropped first when it is full. Returns `value`."""
        if len(self) >= self.size or (self.max_weight is not None
                                      and self.weight + weight > self.max_weight):
            self.clear()
        self[key] = value
        self.weight += weight
        return value

    def clear(self) -> None:
        super().clear()
        self.weight = 0
