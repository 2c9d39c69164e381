"""Hypothesis-generated GraphQL operations (hypothesis-graphql, which schemathesis brings) from
the schema Groove serves (GET /groove/schema.graphql), in process: valid and invalid queries
and mutations, with known ids swapped into their arguments by name (flowId), sent with a live access
token, a wrong one or none.

Per case: never a 5xx; the answer meets Groove's contract (the contract-checking MockClient);
a rejected request (a 4xx, a GraphQL answer without `data`, the document refused before anything
ran, or with every root field null by its own error) leaves Groove's exported state as it was. `MOCKSERVER_FUZZ_CASES` sets the count.
"""
from __future__ import annotations

import json
import re

from hypothesis import given, strategies as st
from hypothesis_graphql import Mode, from_schema

from mockserver.core.ratelimit import SlidingWindow

from ..groove import hostile as groove_hints
from ..groove.conftest import GRAPHQL, bearer
from .harness import Fuzz, fuzz_settings

# A string argument, or the value of an ID argument (hypothesis-graphql writes IDs as numbers
# or strings): where known ids go in.
LITERAL = re.compile(r'(?:(\w+): )?("(?:[^"\\]|\\.)*"|(?<=[iI]d: )-?\d+)')


def _flow_ids(client) -> dict[str, list[str]]:
    token = groove_hints.tokens_for(client)["access_token"]
    r = client.post(GRAPHQL, json={"query": "{ flows { id } }"}, headers=bearer(token))
    return {"flowId": [f["id"] for f in r.json()["data"]["flows"]]}


def _known(fuzz: Fuzz, m: re.Match, data) -> str:
    """The literal `m`, or a known value for its argument name in its place."""
    value = fuzz.known_value(m.group(1) or "", data)
    if value is None:
        return m.group(0)
    return m.group(0)[:m.start(2) - m.start(0)] + json.dumps(value)


def _refused(body) -> bool:
    """A GraphQL answer where nothing ran: no `data` (the document was refused before execution),
    or every root field null with every error raised by a root field itself. An error deeper
    down came from the payload's selection, after the mutation ran (GraphQL executes the field,
    then its selection set; graphql-ruby too), so that mutation's change stands."""
    if not isinstance(body, dict):
        return True
    if "data" not in body:
        return True
    data, errors = body["data"], body.get("errors") or []
    return bool(errors) and (data is None or all(v is None for v in data.values())) \
        and all(len(e.get("path") or ()) <= 1 for e in errors)


def test_graphql_operations_keep_the_invariants(record_property):
    fuzz = Fuzz("groove", groove_hints.valid_headers, _flow_ids)
    sdl = fuzz.client.get("/groove/schema.graphql", check=False).text  # SDL: no contract
    operations = st.one_of(from_schema(sdl, mode=Mode.POSITIVE),
                           from_schema(sdl, mode=Mode.NEGATIVE))
    auth = st.sampled_from(["valid"] * 6 + ["wrong", "none"])

    @fuzz_settings()
    @given(query=operations, how=auth, data=st.data())
    def run(query, how, data):
        before = fuzz.begin()
        # The rate-limit window is a meter outside the state (like the journal): each case
        # starts with a full allowance, or the frozen clock would answer 429 after 100 cases.
        store = fuzz.app.tenants.default.stores["groove"]
        store.window = SlidingWindow(store.window.max_keys)
        query = LITERAL.sub(lambda m: _known(fuzz, m, data), query)
        headers = {"valid": fuzz.valid[0], "wrong": bearer("not-a-token"), "none": {}}[how]
        response = fuzz.client.post(GRAPHQL, json={"query": query}, headers=headers)
        fuzz.counts[f"auth {how}"] += 1
        body = response.json() if response.content else {}
        refused = response.status_code >= 400 or _refused(body)
        if response.status_code == 200:
            fuzz.counts["200 with data" if "data" in body else "200 refused document"] += 1
        fuzz.end(before, response.status_code, refused, f"POST {GRAPHQL} {query!r} ({how})")

    try:
        run()
    finally:
        fuzz.report(record_property)
        fuzz.close()


def test_what_counts_as_a_refused_graphql_answer():
    assert _refused({"errors": [{"message": "Syntax Error"}]})
    assert _refused({"errors": [{"message": "not found", "path": ["addPersonToFlow"]}],
                     "data": {"addPersonToFlow": None}})
    assert not _refused({"data": {"flow": None}})   # no such flow: nothing refused
    assert not _refused({"data": {"flows": []}})
    # The mutation ran; the cursor of its payload's selection was bad (found by this fuzzing).
    assert not _refused({"errors": [{"message": "Invalid cursor for `after`: ''",
                                     "path": ["addPersonToFlow", "personFlow", "flow", "steps"]}],
                         "data": {"addPersonToFlow": None}})


def test_a_mutation_whose_payload_selection_fails_still_applies():
    """Found by this fuzzing: the membership is recorded, then the payload's bad cursor nulls
    `addPersonToFlow` (docs/fidelity.md, Groove GraphQL). The fuzz invariant counts that answer
    as accepted; this pins the behaviour it relies on."""
    fuzz = Fuzz("groove", groove_hints.valid_headers)
    try:
        before = fuzz.begin()
        q = ('mutation { addPersonToFlow(input: {flowId: "1001", personId: "1"}) '
             '{ personFlow { flow { steps(after: "") { edges { cursor } } } } } }')
        r = fuzz.client.post(GRAPHQL, json={"query": q}, headers=fuzz.valid[0])
        body = r.json()
        assert r.status_code == 200 and body["data"] == {"addPersonToFlow": None}
        assert body["errors"][0]["path"] == ["addPersonToFlow", "personFlow", "flow", "steps"]
        assert not _refused(body) and fuzz.state() != before
        store = fuzz.app.tenants.default.stores["groove"]
        assert ("1001", "1") in store.memberships
    finally:
        fuzz.close()
