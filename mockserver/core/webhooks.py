"""Outbound webhooks: real HTTP POSTs in the background, journaled under the vendor's name.

A vendor hands over the messages one admin action causes, in order; they go out one after
another (a receiver sees them in the order the vendor would send them). The caller waits at most
`wait_budget` seconds in total, so a receiver that is down or hangs never holds an admin call
for long; whatever is still on its way finishes in the background and lands in the journal.
"""
from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .journal import Call

if TYPE_CHECKING:
    from .clock import Clock
    from .journal import Journal

DELIVERY_TIMEOUT = 2.0   # per POST: connect + answer
WAIT_BUDGET = 2.0        # per admin call, for all of its deliveries together


@dataclass(frozen=True)
class Outbound:
    url: str
    body: bytes
    headers: dict[str, str]


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

    async def send(self, vendor: str, tenant: str, messages: list[Outbound]) -> list[Call | None]:
        """Deliver `messages` in order; the outcome of each one delivered within the wait budget,
        None for those still on their way."""
        done: list[Call | None] = [None] * len(messages)

        async def run() -> None:
            for i, msg in enumerate(messages):
                done[i] = await self.deliver(vendor, tenant, msg)

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
        """Wait for every delivery still on its way (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)


def delivered(call: Call | None) -> bool:
    return call is not None and call.error is None and call.status is not None \
        and 200 <= call.status < 300
