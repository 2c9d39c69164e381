"""The fuzz harness catches what it is there to catch: a 5xx, and a refused case that changed
state (so a quiet fuzz run means something)."""
from __future__ import annotations

import pytest

from ..gravitec import hostile as gravitec_hints
from .harness import Fuzz


@pytest.fixture
def fuzz():
    f = Fuzz("gravitec", gravitec_hints.valid_headers)
    yield f
    f.close()


def _change(fuzz) -> None:
    r = fuzz.client.post("/__admin/gravitec/subscribers", json={"regId": "fuzz-follower"})
    assert r.status_code == 201, r.text


def test_a_rejected_case_that_changed_state_fails(fuzz):
    before = fuzz.begin()
    _change(fuzz)
    with pytest.raises(AssertionError, match="rejected .404. but changed state"):
        fuzz.end(before, 404, True, "GET /x")


def test_an_accepted_change_is_counted_then_undone_before_the_next_case(fuzz):
    before = fuzz.begin()
    _change(fuzz)
    fuzz.end(before, 200, False, "POST /x")
    assert fuzz.counts["accepted, state changed"] == 1
    assert fuzz.begin() == before == fuzz.state()


def test_a_5xx_fails(fuzz):
    with pytest.raises(AssertionError, match="-> 500"):
        fuzz.end(fuzz.begin(), 500, False, "GET /x")


def test_known_ids_include_records_and_catalogue_names(fuzz):
    assert fuzz.shaped["regId"] and fuzz.shaped["campaignID"]
