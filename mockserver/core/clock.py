"""The one clock. Every expiry, window, schedule and timestamp reads it, never the system time."""
from __future__ import annotations

import inspect
import math
import time as _time
import weakref
from datetime import datetime, timezone
from typing import Callable

# The instants the mock clock may show: from the Unix epoch to the start of year 9000. Vendors
# compute dates ahead of "now" (expiries, schedules, generated data years ahead), and each must
# still fit a datetime (year 9999 at most): a millennium of headroom keeps every one of them
# representable without each vendor guarding its own arithmetic.
EARLIEST = 0.0
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc).timestamp()
RANGE = "between 1970-01-01 and 9000-01-01"


def parse_iso(value: str) -> datetime:
    """ISO-8601 with a trailing Z (what JS and the vendors write) into an aware UTC datetime."""
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso_ms(dt: datetime) -> str:
    """JavaScript's Date.toISOString(): milliseconds and a Z."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Clock:
    """Real time plus an offset, or frozen at an instant.

    `set` freezes the clock so tests are deterministic; `advance` moves either mode; `real`
    returns to the system time.
    """

    def __init__(self, frozen_at: datetime | str | None = None) -> None:
        self._offset = 0.0
        self._frozen: float | None = None
        self._iso_ms, self._iso = -1, ""
        self._listeners: list[Callable[[], Callable[[], None] | None]] = []
        if frozen_at is not None:
            self.set(frozen_at)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every move (set, advance, real, restore), in the thread that
        moved the clock: work due by the mock clock (webhook retries) runs when time jumps."""
        # A bound method is held weakly: a clock outlives the apps built on it (tests).
        self._listeners.append(weakref.WeakMethod(listener) if inspect.ismethod(listener)
                               else lambda: listener)

    def _moved(self) -> None:
        live = [listener for listener in (ref() for ref in self._listeners) if listener]
        if len(live) < len(self._listeners):  # the apps gone: their listeners too
            self._listeners = [ref for ref in self._listeners if ref() is not None]
        for listener in live:
            listener()

    # The single place the system time is read.
    @staticmethod
    def _system() -> float:
        return _time.time()

    def time(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return self._system() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def iso(self) -> str:
        # Every response carries a timestamp: format each millisecond once.
        t = self.time()
        ms = int(t * 1000)
        if ms != self._iso_ms:
            self._iso_ms, self._iso = ms, iso_ms(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))
        return self._iso

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    @staticmethod
    def _check(t: float) -> float:
        if not (math.isfinite(t) and EARLIEST <= t < LATEST):
            raise ValueError(f"the clock must stay {RANGE}")
        return t

    def set(self, when: datetime | str) -> None:
        """Freeze at `when`; ValueError (and no change) for anything outside the clock's range."""
        try:
            dt = parse_iso(when) if isinstance(when, str) else when
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            t = dt.timestamp()
        except (OverflowError, OSError):
            raise ValueError("not a representable instant") from None
        self._frozen = self._check(t)
        self._moved()

    def advance(self, seconds: float) -> None:
        """Move by `seconds`; ValueError (and no change) when the result leaves the range."""
        if not math.isfinite(seconds):
            raise ValueError("advance must be a finite number of seconds")
        if self._frozen is not None:
            self._frozen = self._check(self._frozen + seconds)
        else:
            self._check(self.time() + seconds)
            self._offset += seconds
        self._moved()

    def real(self) -> None:
        self._frozen = None
        self._offset = 0.0
        self._moved()

    def saved(self) -> dict:
        """What a data dir keeps of the clock (core/datadir.py): frozen at an instant, or real
        time plus an offset."""
        return {"frozen": self._frozen, "offset": self._offset}

    def restore(self, saved: dict) -> None:
        """The clock as `saved` says; ValueError (and no change) for anything else."""
        frozen, offset = saved["frozen"], saved["offset"]
        if frozen is not None:
            self._check(float(frozen))
        if not (isinstance(offset, (int, float)) and math.isfinite(offset)):
            raise ValueError("the clock's offset is no finite number")
        self._frozen = None if frozen is None else float(frozen)
        self._offset = float(offset)
        self._moved()

    def describe(self) -> dict:
        return {"now": self.iso(), "mode": "frozen" if self.frozen else "real",
                "offsetSeconds": 0.0 if self.frozen else self._offset}
