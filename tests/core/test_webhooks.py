"""core/webhooks.py on its own: a `Webhooks` with a clock and a journal, posting to real loopback
receivers. What a vendor sends, and how it signs it, is the vendor's (tests/<vendor>/); here: the
message goes out as given, its outcome is journaled, and the wait is bounded."""
from __future__ import annotations

import asyncio
import json

import pytest

from mockserver import Clock
from mockserver.core.journal import REDACTED, Call, Journal
from mockserver.core.webhooks import DELIVERY_TIMEOUT, WAIT_BUDGET, Outbound, Webhooks, delivered

from ..conftest import DOC_TIME, Receiver


def hooks(**kw) -> tuple[Webhooks, Clock, Journal]:
    clock, journal = Clock(DOC_TIME), Journal()
    return Webhooks(clock, journal, **kw), clock, journal


def test_the_bounds_default_to_two_seconds_each():
    w, _, _ = hooks()
    assert (w.timeout, w.wait_budget) == (DELIVERY_TIMEOUT, WAIT_BUDGET) == (2.0, 2.0)


def test_a_message_goes_out_as_given_and_its_outcome_is_journaled(receiver):
    w, clock, journal = hooks()
    clock.advance(90)  # the entry's time is the mock clock's, not the machine's
    body = json.dumps({"event": "x", "n": 1}).encode()
    msg = Outbound(receiver.url + "?a=1", body, {"Content-Type": "application/json",
                                                  "X-Signature": "sig=abc"})
    call = asyncio.run(w.deliver("acme", "t_1", msg))
    seen = receiver.requests[0]
    assert seen["body"] == body and seen["path"] == "/hooks/passage?a=1"
    assert seen["headers"]["X-Signature"] == "sig=abc"
    assert (call.kind, call.method, call.vendor, call.tenant) == ("webhook", "POST", "acme", "t_1")
    assert (call.status, call.error, call.response_body) == (200, None, b"ok")
    assert call.path == "/hooks/passage" and call.url == msg.url
    assert call.at == clock.time() and call.time == "2024-01-15T10:31:30.000Z"
    assert (b"x-signature", b"sig=abc") in call.raw_headers and call.raw_body == body
    assert journal.last is call and delivered(call)


def test_the_vendors_secret_headers_are_sent_but_masked_in_the_journal(receiver):
    """A vendor's signature header reaches the receiver; the journal shows it masked, as it
    masks that vendor's requests."""
    w, _, journal = hooks()
    journal.declare_secrets("acme", frozenset({"X-Signature"}), frozenset())
    call = asyncio.run(w.deliver("acme", "default",
                                 Outbound(receiver.url, b"{}", {"X-Signature": "s3cret"})))
    assert receiver.requests[0]["headers"]["X-Signature"] == "s3cret"
    assert call.request_headers["x-signature"] == REDACTED
    other = asyncio.run(w.deliver("other", "default",
                                  Outbound(receiver.url, b"{}", {"X-Signature": "s3cret"})))
    assert other.request_headers["x-signature"] == "s3cret"


def test_an_error_status_is_recorded_not_raised(receiver):
    receiver.status = 503
    w, _, journal = hooks()
    call = asyncio.run(w.deliver("acme", "default", Outbound(receiver.url, b"{}", {})))
    assert (call.status, call.error, call.response_body) == (503, None, b"ok")
    assert not delivered(call) and journal.call_count == 1


@pytest.mark.parametrize("url", ["ftp://x/", "//x", "x" * 1000, "http://[::1", "", "file:///etc"])
def test_a_url_that_is_not_http_is_journaled_without_a_request(url):
    w, _, journal = hooks()
    call = asyncio.run(w.deliver("acme", "default", Outbound(url, b"{}", {})))
    assert call.status is None and call.error.startswith("not an http(s) URL")
    assert call.url == url and not delivered(call) and journal.last is call


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/", "http:", "http://a b/", "http://%zz/",
                                 "http://\x00/", "http://\ud800/"])
def test_a_url_that_cannot_be_posted_to_is_an_error_in_the_journal(url):
    w, _, journal = hooks(timeout=5)
    call = asyncio.run(w.deliver("acme", "default", Outbound(url, b"{}", {})))
    assert call.status is None and call.error and not delivered(call)
    assert journal.last is call


def test_a_long_answer_is_read_only_as_far_as_64_kib():
    long = Receiver(answer=b"x" * 200_000)
    try:
        w, _, _ = hooks()
        call = asyncio.run(w.deliver("acme", "default", Outbound(long.url, b"{}", {})))
        assert call.status == 200 and call.response_body == b"x" * 65536
    finally:
        long.close()


def test_send_delivers_in_order_and_returns_each_outcome(receiver):
    w, _, journal = hooks()
    msgs = [Outbound(receiver.url, str(n).encode(), {}) for n in range(4)]
    calls = asyncio.run(w.send("acme", "default", msgs))
    assert [r["body"] for r in receiver.requests] == [b"0", b"1", b"2", b"3"]
    assert [c.raw_body for c in calls] == [b"0", b"1", b"2", b"3"] and all(map(delivered, calls))
    assert sorted(c.id for c in journal.filter(kind="webhook")) == [c.id for c in calls]


def test_send_of_nothing_starts_nothing():
    w, _, journal = hooks()
    assert asyncio.run(w.send("acme", "default", [])) == []
    assert not w._running and journal.call_count == 0


def test_send_returns_at_the_wait_budget_and_the_rest_lands_in_the_journal_later():
    """The receiver answers only once the caller has its result: whatever the machine's load,
    the caller got None for each message still on its way, and `drain` waits for them."""
    gated = Receiver(gated=True)
    w, _, journal = hooks(timeout=30, wait_budget=0.05)
    msgs = [Outbound(gated.url, str(n).encode(), {}) for n in range(2)]

    async def run() -> tuple[list[Call | None], int]:
        outcome = await w.send("acme", "default", msgs)
        before = journal.call_count
        gated.gate.set()
        await w.drain()
        return outcome, before

    try:
        outcome, before = asyncio.run(run())
    finally:
        gated.close()
    assert outcome == [None, None] and before == 0
    kept = sorted(journal.filter(kind="webhook"), key=lambda c: c.id)
    assert [c.raw_body for c in kept] == [b"0", b"1"]
    assert [r["body"] for r in gated.requests] == [b"0", b"1"] and not w._running


def test_a_hanging_receiver_times_out_into_the_journal():
    gated = Receiver(gated=True)
    w, _, journal = hooks(timeout=0.2)
    try:
        call = asyncio.run(w.deliver("acme", "default", Outbound(gated.url, b"{}", {})))
    finally:
        gated.close()
    assert call.status is None and "timed out" in call.error and journal.last is call


def test_delivered_means_a_2xx_answer_and_nothing_else():
    def call(status, error=None) -> Call:
        return Call(id=1, at=0.0, vendor="v", method="POST", path="/", status=status, error=error)

    assert delivered(call(200)) and delivered(call(204)) and delivered(call(299))
    assert not any(delivered(c) for c in (None, call(None), call(199), call(300), call(500),
                                          call(200, "late")))
