"""Hypothesis-generated GraphQL operations (hypothesis-graphql, which schemathesis brings) from
the schema Groove serves (GET /groove/schema.graphql), in process: valid and invalid queries
and mutations, with known ids swapped into their string arguments, sent with a live access
token, a wrong one or none.

Per case: never a 5xx; the answer meets Groove's contract (the contract-checking MockClient);
a rejected request (a 4xx, or a GraphQL answer without `data`: the document was refused before
anything ran) leaves Groove's exported state as it was. `MOCKSERVER_FUZZ_CASES` sets the count.
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
        refused = response.status_code >= 400 or (isinstance(body, dict) and "data" not in body)
        if response.status_code == 200:
            fuzz.counts["200 with data" if "data" in body else "200 refused document"] += 1
        fuzz.end(before, response.status_code, refused, f"POST {GRAPHQL} {query!r} ({how})")

    try:
        run()
    finally:
        fuzz.report(record_property)
        fuzz.close()
