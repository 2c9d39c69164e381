"""Bounded memos: a dict remembers answers until it holds its limit, then starts over."""
from __future__ import annotations

from typing import Hashable, TypeVar

V = TypeVar("V")


def keep(memo: dict, key: Hashable, value: V, limit: int) -> V:
    """`memo[key] = value`, the whole memo dropped first when it already holds `limit` entries.
    A drop costs one miss per key afterwards; a hit pays nothing for the bound (an LRU would
    reorder on every hit, on the hot path). Returns `value`."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
