"""Dates at and past the range a date can represent (year 1, year 9999, ordinal and week dates,
offsets of ±23:59) in every date query parameter, past validation into the filters."""
from __future__ import annotations

import re

import pytest

from .harness import Req, gravy, query_targets, small
from .material import DATE_EDGES, enc

_DATE_NAME = re.compile(r"(?i).*(date|from|to|start|end|since|until|before|after|at)")


def test_every_date_parameter_at_and_past_the_range_edges(h):
    """Each date-looking query parameter, on a path with data, with every edge date: past
    validation into the filter itself, where an unrepresentable bound would raise."""
    filtered = 0
    for vendor, path, names, auth in query_targets(h):
        for name in filter(_DATE_NAME.fullmatch, names):
            for edge in DATE_EDGES:
                r = h.send(Req("GET", f"/{vendor}{path}?{name}={enc(edge)}{small(name)}", auth))
                filtered += r.status_code == 200
    assert filtered > 100  # the filters really ran


@pytest.mark.parametrize("query", [
    "expiresTo=9999-12-31", "expiresFrom=0001-01-01T00:00%2B23:00",
    "expiresTo=9999-12-31T23:59:59-23:00", "expiresFrom=0001-01-01T00:00-23:59",
    "expiresTo=%2B009999-12-31", "expiresTo=9999-W52-5", "expiresTo=10000-01-01",
    "expiresFrom=9999-366",  # an ordinal day past datetime.max: OverflowError, not ValueError
])
def test_dates_at_and_past_the_range_edges(h, query):
    r = gravy(h, "GET", f"/connections/conn_789xyz123abc/balances?{query}")
    assert r.status_code in (200, 400)
    if r.status_code == 400:
        name = query.split("=")[0]
        assert r.json()["message"] == [f"{name} must be a valid ISO 8601 date string"]


def test_representable_edge_dates_filter_and_unrepresentable_ones_fail_is_date_string(h):
    r = gravy(h, "GET", "/connections/conn_789xyz123abc/balances?expiresTo=9999-12-31")
    assert r.status_code == 200 and r.json()["meta"]["total"] > 0
    r = gravy(h, "GET", "/connections/conn_789xyz123abc/balances"
                        "?expiresFrom=0001-01-01T00:00%2B23:00")
    assert r.status_code == 400
