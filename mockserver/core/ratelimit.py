"""A sliding-window rate limiter over the current and the previous minute, on the mock clock.

The value at an instant is `previous * (share of the previous minute still in the window) +
current`. A call is allowed when the value before it is below the limit. Every call counts,
refused ones too. All arithmetic is in integer milliseconds, so a decision never depends on
float rounding.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

from .settings import DEFAULTS

MINUTE_MS = 60_000


class Decision(NamedTuple):  # immutable; built on every call, which a frozen dataclass costs more
    allowed: bool
    limit: int
    remaining: int
    reset: int          # epoch seconds: from then on the sliding value is below the limit


class SlidingWindow:
    """Counts per key (an access token), bounded: a key idle for two minutes counts nothing and
    is purged, and at most `max_keys` are kept (the least recently used goes first)."""

    __slots__ = ("max_keys", "_counts", "_purged", "_latest", "_ordered")

    def __init__(self, max_keys: int = DEFAULTS["max_sessions"]) -> None:  # keys: access tokens
        self.max_keys = max(1, max_keys)
        # key -> (minute, count in that minute, count in the minute before)
        self._counts: OrderedDict[str, tuple[int, int, int]] = OrderedDict()
        # Keys are kept in the order of their last call, so while the clock only moves forward
        # their minutes never fall from front to back (`_ordered`), and once the front is
        # purged in a minute nothing stale is left until the next one: the purge then runs
        # once a minute (`_purged`), not on every call. A clock set back ends that for good.
        self._purged: int | None = None
        self._latest = 0
        self._ordered = True
    def _window(self, key: str, minute: int) -> tuple[int, int]:
        """(previous, current) counts for `minute`."""
        hit = self._counts.get(key)
        if hit is None:
            return 0, 0
        seen, current, previous = hit
        if seen == minute:
            return previous, current
        if seen == minute - 1:
            return current, 0
        return (previous, current) if seen > minute else (0, 0)  # a clock set back: as recorded

    def hit(self, key: str, now: float, limit: int) -> Decision:
        """Count one call at `now` and decide it."""
        t = int(now * 1000)
        minute, into = divmod(t, MINUTE_MS)
        previous, current = self._window(key, minute)
        current += 1
        counts = self._counts
        counts[key] = (minute, current, previous)
        counts.move_to_end(key)
        if minute >= self._latest:
            self._latest = minute
        else:
            self._ordered = False
        if not self._ordered or minute != self._purged or len(counts) > self.max_keys:
            self._purge(minute)
            self._purged = minute
        # value * MINUTE_MS, exactly, this call counted
        scaled = previous * (MINUTE_MS - into) + current * MINUTE_MS
        # Allowed while the value before this call is below the limit: then a call at `reset`
        # (the value below the limit) is allowed, as the doc guarantees; the remaining calls
        # are the ones that would still be allowed at this instant.
        allowed = scaled - MINUTE_MS < limit * MINUTE_MS
        remaining = max(0, -((scaled - limit * MINUTE_MS) // MINUTE_MS))
        return Decision(allowed, limit, remaining, reset_at(t, previous, current, limit))

    def _purge(self, minute: int) -> None:
        counts = self._counts
        while counts:
            key, (seen, _, _) = next(iter(counts.items()))
            if seen >= minute - 1 and len(counts) <= self.max_keys:
                return
            del counts[key]

    def forget(self, key: str) -> None:
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)

    def snapshot(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in sorted(self._counts.items())}

    def copy(self) -> "SlidingWindow":
        return SlidingWindow(self.max_keys).restore(OrderedDict(self._counts))

    def restore(self, counts: OrderedDict[str, tuple[int, int, int]]) -> "SlidingWindow":
        """Take these counts (a snapshot's), in their order."""
        self._counts = counts
        minutes = [m for m, _, _ in counts.values()]
        self._latest = max(minutes, default=0)
        self._ordered = all(a <= b for a, b in zip(minutes, minutes[1:]))
        self._purged = None
        return self


def reset_at(t_ms: int, previous: int, current: int, limit: int) -> int:
    """The first whole epoch second, not before `t_ms`, at which the sliding value (with no more
    calls) is below `limit`."""
    minute, into = divmod(t_ms, MINUTE_MS)
    start = minute * MINUTE_MS
    # In this minute the value is previous * (MINUTE_MS - e) / MINUTE_MS + current, e >= into.
    if current < limit:
        if previous * (MINUTE_MS - into) < (limit - current) * MINUTE_MS:
            first_ms = t_ms
        else:  # smallest e with previous * (MINUTE_MS - e) < (limit - current) * MINUTE_MS
            first_ms = start + (previous * MINUTE_MS - (limit - current) * MINUTE_MS) \
                // previous + 1
    else:
        # Next minute: current becomes the previous count, weighted down to zero over it.
        first_ms = start + MINUTE_MS + (current - limit) * MINUTE_MS // current + 1
    return -(-first_ms // 1000)  # ceil to whole seconds
