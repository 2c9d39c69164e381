"""core/webhooks.py's retry schedule: a vendor passes a `Retry`, a failed delivery goes out again
when the mock clock says it is due (moved by a test, or running in real time), each attempt in
the journal, and a vendor that passes none (Gravy) sends once, as before."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from mockserver import Clock, create_app
from mockserver.core import webhooks as core_webhooks
from mockserver.core.journal import Journal
from mockserver.core.webhooks import Outbound, Retry, Webhooks, delivered

from ..conftest import DOC_TIME, Receiver
from ..gravy.conftest import open_connection, set_status, token_for

DOCUMENTED = Retry((0, 1, 5))  # Passage's "3 attempts ... (0ms, 1s, 5s)"


def hooks(**kw: Any) -> tuple[Webhooks, Clock, Journal]:
    clock, journal = Clock(DOC_TIME), Journal()
    return Webhooks(clock, journal, **kw), clock, journal


def attempts(journal: Journal) -> list:
    return sorted(journal.filter(kind="webhook"), key=lambda c: c.id)


def message(url: str, n: int = 0) -> Outbound:
    return Outbound(url, json.dumps({"n": n}).encode(),
                    {"Content-Type": "application/json", "X-Signature": f"sig-{n}"})


async def advance(w: Webhooks, clock: Clock, seconds: float) -> None:
    """What POST /__admin/clock does: move the clock, then send what became due."""
    clock.advance(seconds)
    await w.run_due()


# -- the schedule ------------------------------------------------------------------------------
def test_fails_twice_then_succeeds_on_the_third_attempt_at_0_1_and_6_seconds(flaky):
    w, clock, journal = hooks()
    start = clock.time()

    async def run() -> list:
        first = await w.send("acme", "t_1", [message(flaky.url)], retry=DOCUMENTED)
        seen = [(len(flaky.requests), w.pending())]
        await advance(w, clock, 1)
        seen.append((len(flaky.requests), w.pending()))
        await advance(w, clock, 5)
        seen.append((len(flaky.requests), w.pending()))
        return [first, seen]

    (first,), seen = asyncio.run(run())
    assert first.status == 503 and not delivered(first)  # send reports the first attempt
    assert seen == [(1, 1), (2, 1), (3, 0)]
    calls = attempts(journal)
    assert [c.status for c in calls] == [503, 500, 200]
    assert [c.at - start for c in calls] == [0, 1, 6]
    assert all((c.kind, c.vendor, c.tenant, c.url) == ("webhook", "acme", "t_1", flaky.url)
               for c in calls)
    # The same bytes and headers every time: the message is not re-signed.
    assert len({r["body"] for r in flaky.requests}) == 1
    assert {r["headers"]["X-Signature"] for r in flaky.requests} == {"sig-0"}


def test_always_failing_is_three_attempts_then_dropped(down):
    w, clock, journal = hooks()

    async def run() -> None:
        await w.send("acme", "default", [message(down.url)], retry=DOCUMENTED)
        await advance(w, clock, 1)
        await advance(w, clock, 5)
        assert w.pending() == 0
        await advance(w, clock, 3600)

    asyncio.run(run())
    assert [c.status for c in attempts(journal)] == [503, 503, 503]
    assert len(down.requests) == 3


def test_a_frozen_clock_never_sends_a_retry_early(down):
    """Real time passes (the retry is due 50 ms after the first attempt), the mock clock does
    not: nothing goes out until the clock is moved to the due time, to the microsecond."""
    w, clock, journal = hooks()

    async def run() -> list[int]:
        await w.send("acme", "default", [message(down.url)], retry=Retry((0, 0.05)))
        await asyncio.sleep(0.2)
        counts = [len(down.requests)]
        await advance(w, clock, 0.049999)
        counts.append(len(down.requests))
        await advance(w, clock, 0.000001)
        counts.append(len(down.requests))
        return counts

    assert asyncio.run(run()) == [1, 1, 2]
    assert w.pending() == 0  # two attempts were all


def test_one_big_jump_sends_every_attempt_it_passes_in_order(down):
    w, clock, journal = hooks()
    start = clock.time()

    async def run() -> None:
        await w.send("acme", "default", [message(down.url)], retry=DOCUMENTED)
        await advance(w, clock, 10)

    asyncio.run(run())
    assert [c.at - start for c in attempts(journal)] == [0, 10, 10]
    assert w.pending() == 0


def test_a_jump_short_of_the_last_attempt_keeps_it_pending(down):
    """Delays count from when the previous attempt was due: t, t+1, t+6."""
    w, clock, journal = hooks()

    async def run() -> int:
        await w.send("acme", "default", [message(down.url)], retry=DOCUMENTED)
        await advance(w, clock, 5.5)
        return w.pending()

    assert asyncio.run(run()) == 1
    assert len(attempts(journal)) == 2


@pytest.mark.parametrize("failure", ["status", "refused", "timeout", "not_http"])
def test_what_counts_as_a_failed_attempt(failure):
    """Non-2xx, a connection error, a timeout, a URL that is no HTTP: each is retried."""
    gated = Receiver(gated=True) if failure == "timeout" else None
    bad = Receiver(status=302) if failure == "status" else None
    url = {"status": bad and bad.url, "refused": "http://127.0.0.1:1/hook",
           "timeout": gated and gated.url, "not_http": "ftp://example.com/"}[failure]
    w, clock, journal = hooks(timeout=0.1)
    try:
        async def run() -> int:
            await w.send("acme", "default", [message(url)], retry=Retry((0, 1)))
            before = w.pending()
            await advance(w, clock, 1)
            return before

        assert asyncio.run(run()) == 1
    finally:
        for r in (gated, bad):
            if r is not None:
                r.close()
    calls = attempts(journal)
    assert len(calls) == 2 and not any(map(delivered, calls)) and w.pending() == 0


def test_a_delivered_first_attempt_leaves_nothing_pending(receiver):
    w, clock, journal = hooks()

    async def run() -> None:
        await w.send("acme", "default", [message(receiver.url)], retry=DOCUMENTED)
        assert w.pending() == 0
        await advance(w, clock, 60)

    asyncio.run(run())
    assert len(receiver.requests) == 1


def test_real_time_sends_retries_as_time_passes(down):
    """With the clock running, nothing needs to move it: the retries go out on their own, never
    before their delays (measured on the mock clock)."""
    w, clock, journal = hooks()
    clock.real()

    async def run() -> None:
        await w.send("acme", "default", [message(down.url)], retry=Retry((0, 0.05, 0.1)))
        for _ in range(500):  # until the last one has gone, whatever the machine's load
            if w.pending() == 0 and not w._running:
                return
            await asyncio.sleep(0.01)

    asyncio.run(run())
    calls = attempts(journal)
    assert len(calls) == 3 and w.pending() == 0
    # By the receiver's clock: each attempt came no sooner than its delay after the one before
    # (a journal entry is taken at an attempt's end, so entries can sit closer than the delay;
    # 1 ms: the event loop's timers may fire that much early).
    first, second, third = down.arrivals
    assert second - first >= 0.05 - 0.001 and third - second >= 0.1 - 0.001


def test_a_clock_moved_from_another_thread_sends_what_became_due(down):
    """The in-process server's loop runs in a thread of its own; a move of the clock from the
    test's thread still wakes it."""
    w, clock, journal = hooks()

    async def run() -> None:
        await w.send("acme", "default", [message(down.url)], retry=Retry((0, 1)))
        await asyncio.to_thread(clock.advance, 1)
        for _ in range(500):
            if w.pending() == 0 and not w._running:
                return
            await asyncio.sleep(0.01)

    asyncio.run(run())
    assert len(attempts(journal)) == 2 and w.pending() == 0


def test_several_messages_keep_their_own_schedules(flaky, down):
    w, clock, journal = hooks()

    async def run() -> list[int]:
        await w.send("acme", "default", [message(down.url, 1), message(flaky.url, 2)],
                     retry=DOCUMENTED)
        counts = [w.pending()]
        await advance(w, clock, 1)
        counts.append(w.pending())
        await advance(w, clock, 5)
        counts.append(w.pending())
        return counts

    assert asyncio.run(run()) == [2, 2, 0]
    assert len(down.requests) == 3 and len(flaky.requests) == 3
    assert [c.status for c in attempts(journal) if c.url == flaky.url] == [503, 500, 200]


# -- bounds and cancelling ------------------------------------------------------------------
def test_pending_retries_are_bounded_per_tenant_and_in_all(down, monkeypatch):
    monkeypatch.setattr(core_webhooks, "MAX_PENDING_PER_TENANT", 2)
    monkeypatch.setattr(core_webhooks, "MAX_PENDING_RETRIES", 3)
    w, clock, journal = hooks()

    async def run() -> list[int]:
        await w.send("acme", "t_a", [message(down.url, n) for n in range(3)], retry=DOCUMENTED)
        await w.send("acme", "t_b", [message(down.url, n) for n in range(2)], retry=DOCUMENTED)
        counts = [w.pending("t_a"), w.pending("t_b"), w.pending()]
        await advance(w, clock, 6)
        return counts

    assert asyncio.run(run()) == [2, 1, 3]
    # 5 first attempts, then 2 more for each of the 3 admitted messages.
    assert len(attempts(journal)) == 5 + 3 * 2 and w.pending() == 0


def test_cancel_drops_one_tenants_retries_or_all(down):
    w, clock, journal = hooks()

    async def run() -> list[int]:
        await w.send("acme", "t_a", [message(down.url)], retry=DOCUMENTED)
        await w.send("acme", "t_b", [message(down.url)], retry=DOCUMENTED)
        counts = [w.cancel("t_a"), w.pending("t_a"), w.pending("t_b")]
        await advance(w, clock, 1)
        counts.append(len(attempts(journal)))
        counts.append(w.cancel())
        await advance(w, clock, 10)
        return counts + [w.pending(), len(w._heap)]

    assert asyncio.run(run()) == [1, 0, 1, 3, 1, 0, 0]
    assert len(attempts(journal)) == 3


@pytest.mark.parametrize("delays", [(), (1,), (0, -1), (0, float("nan")), (0, float("inf")),
                                    ("x",), (0, None)])
def test_a_schedule_starts_at_once_and_holds_finite_delays(delays):
    with pytest.raises(ValueError):
        Retry(delays)


def test_a_schedule_is_numbers_of_seconds():
    assert Retry([0, 1, 5]).delays == (0.0, 1.0, 5.0) and Retry((0,)).attempts == 1


# -- through the server -------------------------------------------------------------------
@pytest.fixture
def app():
    return create_app(seed=0, clock=Clock(DOC_TIME))


def test_the_admin_clock_sends_due_retries_before_it_answers(app, flaky):
    """POST /__admin/clock {"advance": s}: the retry it made due is in the journal (and at the
    receiver) by the time the answer arrives."""
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as http:
            await app.webhooks.send("acme", "default", [message(flaky.url)], retry=DOCUMENTED)
            counts = [len(flaky.requests)]
            for seconds in (0.5, 0.5, 4.9, 0.1):
                r = await http.post("/__admin/clock", json={"advance": seconds})
                assert r.status_code == 200
                counts.append(len(flaky.requests))
            r = await http.get("/__admin/requests", params={"kind": "webhook"})
            counts.append(len(r.json()["requests"]))
            return counts

    assert asyncio.run(run()) == [1, 1, 2, 2, 3, 3]
    assert app.webhooks.pending() == 0


def test_a_refused_clock_move_sends_nothing(app, down):
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as http:
            await app.webhooks.send("acme", "default", [message(down.url)], retry=DOCUMENTED)
            r = await http.post("/__admin/clock", json={"advance": "soon"})
            assert r.status_code == 400
            r = await http.post("/__admin/clock", json={"advance": 1e300})
            assert r.status_code == 400
            return [len(down.requests), app.webhooks.pending()]

    assert asyncio.run(run()) == [1, 1]


@pytest.mark.parametrize("how", ["reset_one", "reset_all", "delete"])
def test_reset_or_deleting_the_tenant_drops_its_retries(app, down, how):
    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as http:
            tenant = (await http.post("/__admin/tenants")).json()["id"]
            await app.webhooks.send("acme", tenant, [message(down.url)], retry=DOCUMENTED)
            await app.webhooks.send("acme", "default", [message(down.url)], retry=DOCUMENTED)
            if how == "reset_one":
                r = await http.post("/__admin/reset", json={"tenant": tenant})
            elif how == "reset_all":
                r = await http.post("/__admin/reset", json={})
            else:
                r = await http.delete(f"/__admin/tenants/{tenant}")
            assert r.status_code in (200, 204)
            return [app.webhooks.pending(tenant), app.webhooks.pending("default")]

    assert asyncio.run(run()) == [0, 0 if how == "reset_all" else 1]


def test_gravy_sends_each_webhook_once_whatever_the_clock_does(app, down):
    """Gravy passes no schedule: a failed Connection.Updated is journaled once and never again,
    however far the clock moves."""
    from ..conftest import MockClient

    client = MockClient(app)
    try:
        token = token_for(client)
        created = open_connection(client, {"Authorization": f"Bearer {token}"},
                                  webhookUrl=down.url)
        r = set_status(client, created["connectionId"], "connecting")
        assert r.status_code == 200, r.text
        assert [w["delivered"] for w in r.json()["webhooks"]] == [False]
        assert app.webhooks.pending() == 0
        for seconds in (1, 5, 3600):
            assert client.post("/__admin/clock", json={"advance": seconds}).status_code == 200
    finally:
        client.close()
    assert len(down.requests) == 1
    assert len(app.journal.filter(kind="webhook")) == 1


# -- the clock's listeners ------------------------------------------------------------------
def test_the_clock_tells_its_listeners_of_each_move_and_of_no_refused_one():
    clock, moves = Clock(DOC_TIME), []
    clock.on_change(lambda: moves.append(clock.time()))
    start = clock.time()
    clock.advance(2)
    clock.set("2024-01-15T10:31:00Z")
    for refused in (lambda: clock.advance(float("nan")), lambda: clock.set("9999-01-01T00:00Z"),
                    lambda: clock.restore({"frozen": None, "offset": "x"})):
        with pytest.raises(ValueError):
            refused()
    clock.restore({"frozen": start, "offset": 0.0})
    clock.real()
    assert moves[:3] == [start + 2, start + 60, start] and len(moves) == 4


def test_a_webhooks_sender_gone_is_no_listener_any_more():
    clock = Clock(DOC_TIME)
    w = Webhooks(clock, Journal())
    assert len(clock._listeners) == 1
    del w
    clock.advance(1)  # nothing to call, and the dead reference goes
    assert clock._listeners == []
