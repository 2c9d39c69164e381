"""Instants for the clock: anything but a sane one is refused, and every vendor call works with the
clock at either end of its range."""
from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockserver.core.clock import EARLIEST, LATEST, iso_ms

from .harness import Req, fills
from .material import CLOCK_STARTS, FIRST, LAST, RAW_BODIES, clock_value, examples


def test_clock_refuses_anything_but_a_sane_instant(harness):
    @examples(200)
    @given(st.sampled_from(CLOCK_STARTS + ["real"]),
           st.dictionaries(st.sampled_from(["advance", "set", "real", "tenant"]), clock_value,
                           max_size=2) | st.sampled_from(RAW_BODIES))
    def run(start, payload):
        harness.fresh()
        clock = harness.app.clock
        if start == "real":
            clock.real()
        else:
            clock.set(start)
        harness.settle()
        raw = payload if isinstance(payload, bytes) else \
            json.dumps(payload).encode("utf-8", "surrogatepass")
        before = harness.snapshot()
        r = harness.send(Req("POST", "/__admin/clock", [(b"content-type", b"application/json")],
                             raw))
        if r.status_code == 200:
            assert EARLIEST <= clock.time() < LATEST
        else:
            assert r.status_code == 400 and harness.snapshot() == before

    run()


@pytest.mark.parametrize("at", [FIRST, LAST])
def test_every_vendor_call_works_with_the_clock_at_its_edges(h, at):
    """Expiries, generated data and webhooks computed from "now" stay representable: every route
    is called with valid credentials for records of the state, before and after each record is
    moved (through the vendor's admin calls) to every status the state names, with the clock at
    either end of its range."""
    h.app.clock.set(at)
    h.valid = {name: h._valid_headers(name) for name in h.app.vendors}  # live at this instant
    h.settle()
    records = sorted(h.records, key=len, reverse=True)[:3]  # the richest: most resources

    def read(record: list[str], only: str | None = None) -> None:
        for vendor, methods, template in h.vendor_routes:
            if only not in (None, vendor):
                continue
            auth = [(k.lower().encode(), v.encode()) for k, v in h.valid[vendor][0].items()]
            for path in fills(template, record):
                h.send(Req(methods[0], f"/{vendor}{path}", auth))

    moves = [template for methods, template in h.admin_routes
             if "{" in template and "POST" in methods]
    for record in records:
        read(record)
        for template, word in itertools.product(moves, h.words):
            r = h.send(Req("POST", next(fills(template, record[:1])),
                           [(b"content-type", b"application/json")],
                           json.dumps({"status": word}).encode()))
            if r.status_code < 300:  # read again what the move reached: its vendor's routes
                vendor = template.split("/")[2]
                read(record, vendor if vendor in h.app.vendors else None)


@pytest.mark.parametrize("raw", [
    b'{"advance": NaN}', b'{"advance": Infinity}', b'{"advance": -Infinity}', b'{"advance": 1e308}',
    b'{"advance": -1e308}', b'{"advance": 1e400}', b'{"advance": 1' + b"0" * 400 + b"}",
    b'{"advance": "60"}', b'{"advance": true}', b'{"advance": [60]}', b'{"advance": null}',
    b'{"set": 0}', b'{"set": ["2024-01-01"]}', b'{"set": "0001-01-01T00:00:00+23:00"}',
    b'{"set": "0001-01-01T00:00:00-23:00"}', b'{"set": "9999-12-31T23:59:59Z"}',
    b'{"set": "1969-12-31T23:59:59Z"}', b'{"set": "not a date"}', b'{"set": "\\ud800"}',
    b'{"real": "yes"}', b"{}", b"[]", b'"advance"',
])
def test_clock_input_that_is_not_a_sane_instant(h, raw):
    before = h.snapshot()
    r = h.send(Req("POST", "/__admin/clock", [(b"content-type", b"application/json")], raw))
    assert r.status_code == 400 and h.snapshot() == before


def test_clock_near_its_end_refuses_to_pass_it(h):
    last_hour = iso_ms(datetime.fromtimestamp(LATEST - 3600, tz=timezone.utc))
    r = h.send(Req("POST", "/__admin/clock", [], json.dumps({"set": last_hour}).encode()))
    assert r.status_code == 200
    before = h.snapshot()
    for advance in (3600, 86400 * 366, 1e308):
        r = h.send(Req("POST", "/__admin/clock", [], json.dumps({"advance": advance}).encode()))
        assert r.status_code == 400
    assert h.snapshot() == before
