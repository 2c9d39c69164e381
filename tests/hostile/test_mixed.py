"""Every class of input at once, drawn by hypothesis: each vendor route, each admin route, and
sequences across both."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from .material import examples
from .strategies import admin_request, vendor_request


def test_vendor_routes_answer_hostile_input_with_their_own_errors(harness):
    """Every vendor route; the journal and the sandbox page render every body afterwards."""
    @examples(700)
    @given(st.data())
    def run(data):
        harness.fresh()
        harness.send(data.draw(vendor_request(harness)))

    run()
    harness.journal_renders()


def test_admin_routes_refuse_hostile_input_and_change_nothing(harness):
    @examples(500)
    @given(st.data())
    def run(data):
        harness.fresh()
        harness.send(data.draw(admin_request(harness)))

    run()
    harness.journal_renders()


def test_hostile_sequences_across_admin_and_vendors(harness):
    """State reached through the control plane (a clock at its edges, moved connections) meets
    hostile and valid vendor requests."""
    @examples(120)
    @given(st.data())
    def run(data):
        harness.fresh()
        for _ in range(data.draw(st.integers(1, 5))):
            harness.send(data.draw(st.one_of(admin_request(harness), vendor_request(harness))))

    run()
    harness.journal_renders()
