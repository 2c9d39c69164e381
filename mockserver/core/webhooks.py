"""Outbound webhooks: real HTTP POSTs in the background, journaled under the vendor's name.

A vendor hands over the messages one admin action causes, in order; they go out one after
another (a receiver sees them in the order the vendor would send them). The caller waits at most
`wait_budget` seconds in total, so a receiver that is down or hangs never holds an admin call
for long; whatever is still on its way finishes in the background and lands in the journal.

A vendor whose API retries a failed delivery passes its `Retry` schedule; without one a message
is sent once. Retries are due by the mock clock: they go out as real time passes, or at once when
the clock is moved past their time (a frozen clock never sends one early). Each attempt is
journaled as any delivery is.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
import math
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from itertools import count
from time import perf_counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .journal import Call

if TYPE_CHECKING:
    from .clock import Clock
    from .journal import Journal

log = logging.getLogger("mockserver")

DELIVERY_TIMEOUT = 2.0   # per POST: connect + answer
WAIT_BUDGET = 2.0        # per admin call, for all of its deliveries together
# Messages waiting for a retry (bodies held until then): all tenants together, and one tenant's
# share, so a tenant whose receiver is down cannot take the others' retries.
MAX_PENDING_RETRIES = 5_000
MAX_PENDING_PER_TENANT = 500


@dataclass(frozen=True)
class Outbound:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Retry:
    """A vendor's delivery schedule: attempt i goes `delays[i]` seconds of the mock clock after
    attempt i-1 ended (`_next`), `delays[0]` being 0 (the first goes at once); `len(delays)`
    attempts in all, then the message is dropped. An attempt fails unless the receiver answers
    2xx."""

    delays: tuple[float, ...]

    def __post_init__(self) -> None:
        try:
            delays = tuple(float(d) for d in self.delays)
        except (TypeError, ValueError):
            raise ValueError("delays must be numbers of seconds") from None
        if not delays or delays[0] != 0.0 \
                or not all(math.isfinite(d) and d >= 0.0 for d in delays):
            raise ValueError("delays start with 0 and are finite, non-negative seconds")
        object.__setattr__(self, "delays", delays)

    @property
    def attempts(self) -> int:
        return len(self.delays)


@dataclass(eq=False)
class _Pending:
    """One message on a retry schedule, from its first failure until delivered or dropped."""

    vendor: str
    tenant: str
    msg: Outbound
    retry: Retry
    due: float           # the mock-clock time its next (or latest) attempt is due
    made: int = 1        # attempts made
    cancelled: bool = False


def _post(msg: Outbound, timeout: float) -> tuple[int | None, bytes, str | None]:
    req = urllib.request.Request(msg.url, data=msg.body, headers=msg.headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(65536), None
    except urllib.error.HTTPError as exc:  # the receiver answered, with an error status
        return exc.code, exc.read(65536), None
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, never raised
        return None, b"", f"{type(exc).__name__}: {exc}"


class Webhooks:
    def __init__(self, clock: "Clock", journal: "Journal", *,
                 timeout: float = DELIVERY_TIMEOUT, wait_budget: float = WAIT_BUDGET) -> None:
        self.clock = clock
        self.journal = journal
        self.timeout = timeout
        self.wait_budget = wait_budget
        self._running: set[asyncio.Task] = set()  # strong references until each task ends
        # Retries: a heap of (due, order, pending); every admitted message, whether waiting in
        # the heap or on its way, counted by tenant against the bounds.
        self._heap: list[tuple[float, int, _Pending]] = []
        self._order = count()
        self._admitted: set[_Pending] = set()
        self._per_tenant: Counter[str] = Counter()
        self._retrying: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the one the retries wait on
        self._timer: asyncio.TimerHandle | None = None
        clock.on_change(self._clock_moved)

    async def deliver(self, vendor: str, tenant: str, msg: Outbound) -> Call:
        """POST one message; the journal records the outcome (kind "webhook")."""
        started = perf_counter()
        try:  # the URL is whatever a client registered: "http://[::1" does not even split
            parts = urlsplit(msg.url)
            scheme, path = parts.scheme, parts.path or "/"
        except ValueError:
            scheme, path = "", "/"
        if scheme in ("http", "https"):
            status, answer, error = await asyncio.to_thread(_post, msg, self.timeout)
        else:
            status, answer, error = None, b"", f"not an http(s) URL: {msg.url!r}"
        call = Call(id=self.journal.next_id(), at=self.clock.time(), vendor=vendor,
                    kind="webhook", method="POST", path=path,
                    url=msg.url, status=status, tenant=tenant,
                    duration_ms=(perf_counter() - started) * 1000.0,
                    raw_headers=[(k.lower().encode("latin-1"), v.encode("latin-1"))
                                 for k, v in msg.headers.items()],
                    raw_body=msg.body, response_body=answer, error=error,
                    secrets=self.journal.secrets_of(vendor))
        self.journal.record(call)
        return call

    async def send(self, vendor: str, tenant: str, messages: list[Outbound],
                   retry: Retry | None = None) -> list[Call | None]:
        """Deliver `messages` in order; the outcome of each one's first attempt within the wait
        budget, None for those still on their way. With `retry`, a failed one is sent again on
        that schedule (the same bytes and headers), in the background."""
        done: list[Call | None] = [None] * len(messages)

        async def run() -> None:
            for i, msg in enumerate(messages):
                due = self.clock.time()
                done[i] = call = await self.deliver(vendor, tenant, msg)
                if retry is not None and retry.attempts > 1 and not delivered(call):
                    self._first_failed(_Pending(vendor, tenant, msg, retry, due), call)

        if not messages:
            return done
        task = asyncio.get_running_loop().create_task(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.wait_budget)
        except asyncio.TimeoutError:
            pass
        return list(done)

    async def drain(self) -> None:
        """Wait for every delivery still on its way (tests, shutdown); retries not yet due stay
        pending."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    # Retries. Everything below runs on the event loop but `_clock_moved`.

    def pending(self, tenant: str | None = None) -> int:
        """Messages waiting for a retry (or on their way to one): all, or one tenant's."""
        return len(self._admitted) if tenant is None else self._per_tenant[tenant]

    def cancel(self, tenant: str | None = None) -> int:
        """Drop the pending retries of `tenant` (None: every tenant's); how many."""
        gone = [p for p in self._admitted if tenant is None or p.tenant == tenant]
        for p in gone:
            p.cancelled = True
            self._release(p)
        if gone:  # rebuilt, not left to be popped: a frozen clock never pops them
            self._heap = [e for e in self._heap if not e[2].cancelled]
            heapq.heapify(self._heap)
            if self._timer is not None and not self._heap:
                self._timer.cancel()
                self._timer = None
        return len(gone)

    async def run_due(self) -> None:
        """Send every retry the mock clock has made due and wait, at most the wait budget, for
        the attempts on their way (the control plane, after moving the clock)."""
        self._start_due()
        if self._retrying:
            await asyncio.wait(set(self._retrying), timeout=self.wait_budget)

    def _first_failed(self, p: _Pending, call: Call) -> None:
        if len(self._admitted) >= MAX_PENDING_RETRIES \
                or self._per_tenant[p.tenant] >= MAX_PENDING_PER_TENANT:
            log.warning("webhook to %s not retried: %d retries pending already (tenant %s: %d)",
                        p.msg.url, len(self._admitted), p.tenant, self._per_tenant[p.tenant])
            return
        self._admitted.add(p)
        self._per_tenant[p.tenant] += 1
        if self._next(p, call):
            self._spawn(p)

    def _release(self, p: _Pending) -> None:
        if p in self._admitted:
            self._admitted.discard(p)
            self._per_tenant[p.tenant] -= 1
            if not self._per_tenant[p.tenant]:
                del self._per_tenant[p.tenant]

    def _next(self, p: _Pending, call: Call) -> bool:
        """After a failed attempt: schedule the next one; True when it is due already (the
        clock jumped past it), dropped when none is left. The delay runs from the attempt's
        end: on the mock clock, from when it was due, plus the time it took unless the clock
        stands still."""
        if p.cancelled:
            return False
        if p.made >= p.retry.attempts:
            self._release(p)
            return False
        took = 0.0 if self.clock.frozen else call.duration_ms / 1000.0
        p.due += took + p.retry.delays[p.made]
        if p.due <= self.clock.time():
            return True
        heapq.heappush(self._heap, (p.due, next(self._order), p))
        self._loop = asyncio.get_running_loop()
        self._arm()
        return False

    async def _attempt(self, p: _Pending) -> None:
        again = True
        try:
            while again:
                call = await self.deliver(p.vendor, p.tenant, p.msg)
                p.made += 1
                if delivered(call):
                    self._release(p)
                    return
                again = self._next(p, call)
        except BaseException:  # cancelled with its loop: its slot is free again
            self._release(p)
            raise

    def _start_due(self) -> None:
        now = self.clock.time()
        while self._heap and self._heap[0][0] <= now:
            p = heapq.heappop(self._heap)[2]
            if not p.cancelled:
                self._spawn(p)
        self._arm()

    def _spawn(self, p: _Pending) -> None:
        task = asyncio.get_running_loop().create_task(self._attempt(p))
        for tasks in (self._running, self._retrying):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def _arm(self) -> None:
        """One timer for the first retry due, in real time; none while the clock is frozen (it
        moves only when told, and `_clock_moved` follows it). A timer, not a sleeping task:
        nothing is left pending on a loop that closes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._heap and not self.clock.frozen:
            self._loop = loop = asyncio.get_running_loop()
            wait = max(0.0, self._heap[0][0] - self.clock.time())
            self._timer = loop.call_later(wait, self._start_due)

    def _clock_moved(self) -> None:
        """The clock's listener, in whichever thread moved it: what became due goes out on the
        loop the retries wait on."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self._heap:
            return
        try:
            loop.call_soon_threadsafe(self._start_due)
        except RuntimeError:  # the loop closed in between
            pass


def delivered(call: Call | None) -> bool:
    return call is not None and call.error is None and call.status is not None \
        and 200 <= call.status < 300
