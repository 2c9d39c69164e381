"""The sliding-window limiter (mockserver/core/ratelimit.py) against a reference written here.

Groove's doc: not more than the limit per minute per token; "a sliding window calculation across
the current and last minutes"; X-RateLimit-Reset is "the time (in epoch seconds) at which API
calls are guaranteed to be available again", "calculated to be the moment in time when the
sliding average dips below the limit"; calls made while limited still count.

The reference keeps plain per-minute counts and exact fractions:
    value(t) = count[minute(t) - 1] * (1 - elapsed_in_minute(t) / 60) + count[minute(t)]
A call is allowed when the value before it is below the limit (so a call at the Reset second
is always allowed, as the doc guarantees); Remaining is how many more calls at this instant
would be allowed; Reset is the first whole second, not before now, at which the value (with no
further calls) is below the limit, found by scanning seconds.
"""
from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from fractions import Fraction

from hypothesis import given, settings, strategies as st

from mockserver.core.ratelimit import SlidingWindow

T0 = 1705314600           # 2024-01-15T10:30:00Z, the start of a minute
PROPS = settings(max_examples=50, deadline=None, derandomize=True, database=None)


class Reference:
    def __init__(self) -> None:
        self.counts: dict[str, defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))

    def value(self, key: str, t: Fraction) -> Fraction:
        minute = math.floor(t / 60)
        elapsed = t - minute * 60
        counts = self.counts[key]
        return counts[minute - 1] * (1 - elapsed / 60) + counts[minute]

    def hit(self, key: str, t: Fraction, limit: int) -> tuple[bool, int, int]:
        before = self.value(key, t)
        self.counts[key][math.floor(t / 60)] += 1
        after = before + 1
        allowed = before < limit
        remaining = max(0, math.ceil(limit - after))
        s = math.ceil(t)
        while self.value(key, Fraction(s)) >= limit:
            s += 1
        return allowed, remaining, s


def decide(window: SlidingWindow, key: str, t: float, limit: int) -> tuple[bool, int, int]:
    d = window.hit(key, t, limit)
    assert d.limit == limit
    return d.allowed, d.remaining, d.reset


# -- the documented behaviour, worked by hand ------------------------------------------------
def test_a_full_minute_then_refused_with_the_reset_one_second_into_the_next_minute():
    w = SlidingWindow()
    for i in range(1, 101):
        assert decide(w, "tok", T0, 100) == (True, 100 - i, T0 if i < 100 else T0 + 61)
    # 101 calls now: the value sinks below 100 once 1/101 of the next minute has passed
    assert decide(w, "tok", T0, 100) == (False, 0, T0 + 61)
    # refused calls count too: 121 calls sink below 100 after 21/121 of the next minute (10.4 s)
    for _ in range(19):
        w.hit("tok", T0 + 30, 100)
    assert decide(w, "tok", T0 + 59, 100) == (False, 0, T0 + 60 + 11)
    # another key is untouched
    assert decide(w, "other", T0 + 59, 100) == (True, 99, T0 + 59)


def test_the_previous_minute_weighs_by_the_share_still_in_the_window():
    w = SlidingWindow()
    for _ in range(100):
        w.hit("tok", T0 + 59, 100)          # all in minute m, at its second 59
    # second 30 of m + 1: 100 * 30/60 + 1
    assert decide(w, "tok", T0 + 90, 100) == (True, 49, T0 + 90)
    for _ in range(48):
        assert w.hit("tok", T0 + 90, 100).allowed
    assert decide(w, "tok", T0 + 90, 100) == (True, 0, T0 + 91)   # 100: 50 + 50
    # the value before this call is 100: refused; 50 + 51 dips below 100 after second 30.6
    assert decide(w, "tok", T0 + 90, 100) == (False, 0, T0 + 91)
    # at the Reset second the value is 100 * 29/60 + 51 = 99.33: the call is allowed
    allowed, remaining, _ = decide(w, "tok", T0 + 91, 100)
    assert allowed and remaining == 0
    # and in minute m + 2 only minute m + 1 counts: 52 * 59/60 at its second 1
    assert decide(w, "tok", T0 + 121, 100) == (True, 48, T0 + 121)


def test_a_call_at_every_reset_second_is_allowed():
    """X-RateLimit-Reset: "the time at which API calls are guaranteed to be available again"."""
    w = SlidingWindow()
    t, limit, allowed_after_reset = T0 + 40.0, 7, 0
    for _ in range(30):
        d = w.hit("tok", t, limit)
        if not d.allowed:
            t = float(d.reset)
            assert w.hit("tok", t, limit).allowed
            allowed_after_reset += 1
        t += 0.125
    assert allowed_after_reset >= 3


def test_an_idle_key_is_purged_and_at_most_max_keys_are_kept():
    w = SlidingWindow(max_keys=3)
    w.hit("a", T0, 10)
    w.hit("b", T0 + 60, 10)
    assert len(w) == 2
    w.hit("b", T0 + 179, 10)                 # minute m + 2: "a", idle since m, goes
    assert len(w) == 1 and "a" not in w.snapshot()
    for key in "cde":
        w.hit(key, T0 + 179, 10)
    assert len(w) == 3 and set(w.snapshot()) == {"c", "d", "e"}   # "b", least recently used
    w.hit("c", T0 + 179, 10)
    w.hit("f", T0 + 179, 10)
    assert set(w.snapshot()) == {"c", "e", "f"}
    # a purged key starts afresh
    assert decide(w, "a", T0 + 180, 10) == (True, 9, T0 + 180)


def test_a_key_seen_in_the_previous_minute_is_kept():
    w = SlidingWindow()
    for _ in range(5):
        w.hit("a", T0 + 30, 5)
    w.hit("b", T0 + 61, 5)                   # minute m + 1: "a" still weighs
    assert "a" in w.snapshot()
    # 5 * 59/60 before the call: allowed; 5 * (1 - e/60) + 1 < 5 once e > 12 s
    assert decide(w, "a", T0 + 61, 5) == (True, 0, T0 + 73)


# -- properties --------------------------------------------------------------------------------
# Instants on a grid of 1/8 s: exact in a float, so the reference needs no rounding rule.
gap = st.one_of(st.just(0), st.integers(0, 16), st.integers(0, 8 * 70), st.integers(0, 8 * 200))
calls = st.lists(st.tuples(gap, st.sampled_from(["a", "a", "a", "b"])), min_size=1, max_size=80)


@PROPS
@given(calls=calls, limit=st.integers(3, 10), start=st.integers(0, 8 * 60 - 1))
def test_decisions_and_headers_equal_the_reference(calls, limit, start):
    window, ref = SlidingWindow(), Reference()
    t = Fraction(T0) + Fraction(start, 8)
    for gap_eighths, key in calls:
        t += Fraction(gap_eighths, 8)
        assert decide(window, key, float(t), limit) == ref.hit(key, t, limit), (key, t)


@PROPS
@given(calls=calls, limits=st.lists(st.integers(3, 10), min_size=1, max_size=4))
def test_a_limit_changed_between_calls_is_applied_from_the_next_call(calls, limits):
    window, ref = SlidingWindow(), Reference()
    t = Fraction(T0)
    for i, (gap_eighths, key) in enumerate(calls):
        t += Fraction(gap_eighths, 8)
        limit = limits[i % len(limits)]
        assert decide(window, key, float(t), limit) == ref.hit(key, t, limit)


@PROPS
@given(calls=st.lists(st.tuples(st.integers(-8 * 130, 8 * 130), st.sampled_from("abcde")),
                      min_size=1, max_size=60),
       max_keys=st.integers(1, 4))
def test_purging_once_a_minute_keeps_what_purging_every_call_keeps(calls, max_keys):
    """The window skips its purge within the minute it last purged in (its keys are in the
    order of their last call): it holds what purging on every call would hold, whatever the
    clock does (back and forth included)."""
    window, always = SlidingWindow(max_keys), SlidingWindow(max_keys)
    t = T0
    for step, key in calls:
        t += step / 8
        always._purged = None  # as before: a purge on every call
        assert window.hit(key, t, 3) == always.hit(key, t, 3)
        assert window.snapshot() == always.snapshot()
        assert list(window._counts) == list(always._counts)


def test_a_window_restored_out_of_order_still_purges_a_stale_key_when_it_reaches_the_front():
    minute = T0 * 1000 // 60_000
    w = SlidingWindow().restore(OrderedDict([("a", (minute, 1, 0)), ("c", (minute, 1, 0)),
                                             ("b", (minute - 5, 1, 0))]))  # b: stale, behind
    for key in ("x", "a", "c"):  # the last one leaves b at the front
        w.hit(key, T0, 3)
    assert list(w.snapshot()) == ["a", "c", "x"]
