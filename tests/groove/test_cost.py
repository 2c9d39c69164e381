"""GraphQL cost limits, as graphql-ruby's `max_depth` and `max_complexity` check them after
validation and before execution (cost.py), this server's bound on an answer, and validation
done once.

The expected numbers are graphql-ruby's counting, worked by hand in each case's comment:
every field costs 1 plus its children, one response key counting once; a connection costs 1,
plus 1 for each field under it (plus the size of the selection of a field other than edges and
nodes), plus its page times what edges and nodes select below them.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from graphql import (Source, build_schema, execute, get_introspection_query,
                     get_variable_values, parse)
from graphql.language import Lexer, TokenKind
from hypothesis import HealthCheck, given, settings, strategies as st

from mockserver.core.paths import data_dir
from mockserver.vendors.groove import schema
from mockserver.vendors.groove.cost import Analysis, Costs
from mockserver.vendors.groove.store import (MAX_COMPLEXITY, MAX_DEPTH, Flow, LabelInstance,
                                             Person, Step)

from .conftest import LONG_FLOW, gql, new_tenant, tokens_for

LIMITS = "/__admin/groove/query-limits"
STATE = "/__admin/state"

# -- the issue's documents ------------------------------------------------------------------
# 16 aliased `flows` lists, each with 16 aliased `steps(first: 100)` through a fragment, each
# step 60 aliased fields: about 1.5 KB, and without limits a 20 MB answer.
_STEP = " ".join(f"a{i}: {('id', 'name', 'dayNumber')[i % 3]}" for i in range(60))
HOSTILE_ALIASES = (
    "query { " + " ".join(f"f{i}: flows {{ ...S }}" for i in range(16)) + " }\n"
    "fragment S on Flow { " + " ".join(f"s{i}: steps(first: 100) {{ nodes {{ ...T }} }}"
                                       for i in range(16)) + " }\n"
    "fragment T on Step { " + _STEP + " }")
# steps(first: 100) { nodes { 60 keys } }: nodes 1 + 100 * 60, steps 1 more = 6002;
# a flows list: 1 + 16 * 6002 = 96033; sixteen of them.
HOSTILE_ALIASES_COMPLEXITY = 16 * (1 + 16 * (1 + 1 + 100 * 60))
# Aliased fields in one fragment, each a page of 100 steps (the issue's 500 are past the
# token limit: see test_the_issues_largest_documents_are_refused_before_validation).
HOSTILE_FRAGMENT = ("{ flows { ...F } } fragment F on Flow { " + " ".join(
    f"a{i}: steps(first: 100) {{ nodes {{ id name dayNumber }} }}" for i in range(55)) + " }")
HOSTILE_FRAGMENT_COMPLEXITY = 1 + 55 * (1 + 1 + 100 * 3)      # flows, then each alias
# An invalid document of repeated selections: one response key, two fields.
HOSTILE_INVALID = "{ flows { " + " ".join(
    "x: id" if i % 2 else "x: name" for i in range(300)) + " } }"

# The heaviest request these limits allow: a document just under the token limit (parsing
# and validating cost by the token) whose answer is just under the answer bound (building it
# costs by the field and object). For a latency test: see docs/fidelity.md, Groove GraphQL.
HEAVIEST_ALLOWED_QUERY = (
    '{ flow(id: "1001") { steps(first: 100) { nodes { '
    + " ".join(f"n{i}: name" for i in range(40)) + " "
    + " ".join(f"x{i}: dayNumber @skip(if: true)" for i in range(85)) + " } } } }")
HEAVIEST_ALLOWED_UNITS = 1 + 2 + 2 + 1 + 60 * (1 + 40)  # data, flow, steps, nodes, 60 steps

SDL = (data_dir("contracts") / "groove" / "schema.graphql").read_text()
RELAY = """query($id: ID!, $first: Int, $after: String) {
  flow(id: $id) {
    steps(first: $first, after: $after) {
      edges { cursor node { id name dayNumber } } nodes { id name dayNumber }
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
    }
    labelInstances(first: $first, after: $after) {
      edges { cursor node { id } } nodes { id }
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
    }
  }
}"""


@pytest.fixture
def token(client) -> str:
    return tokens_for(client)["access_token"]


def snapshot(app, tenant: str = "default") -> dict:
    return app.vendors["groove"].snapshot(app.tenants.get(tenant).stores["groove"])


def units(value: Any) -> int:
    """Fields and objects of an answer's data, as this server bounds it."""
    if isinstance(value, dict):
        return 1 + len(value) + sum(units(v) for v in value.values())
    if isinstance(value, list):
        return sum(units(v) for v in value)
    return 0


def keys(value: Any) -> int:
    """The fields of an answer's data: every key of every object."""
    if isinstance(value, dict):
        return len(value) + sum(keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(keys(v) for v in value)
    return 0


def calls_to(monkeypatch, name: str) -> list:
    """The arguments of each call of `schema.<name>` from now on (the calls still run)."""
    calls: list = []
    real = getattr(schema, name)

    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(args)
        return real(*args, **kw)
    monkeypatch.setattr(schema, name, spy)
    return calls


@pytest.fixture
def runs(monkeypatch) -> list:
    """Each execution graphql-core is asked for (none when a request is refused before)."""
    return calls_to(monkeypatch, "execute")


def measure(client, token: str, query: str, variables: dict | None = None) -> tuple[int, int]:
    """(depth, complexity) of a query as the refusals name them: the tenant's limits at 1."""
    assert client.post(LIMITS, json={"maxComplexity": 1, "maxDepth": 1}).status_code == 200
    try:
        r = gql(client, token, query, variables)
    finally:
        client.post(LIMITS, json={"maxComplexity": MAX_COMPLEXITY, "maxDepth": MAX_DEPTH})
    body = r.json()
    if "errors" not in body:        # neither passes 1: a single field
        return 1, 1
    assert r.status_code == 200 and "data" not in body, body
    found = {}
    for e in body["errors"]:
        m = re.fullmatch(r"Query has (depth|complexity) of (\d+), which exceeds max \1 of 1",
                         e["message"])
        assert m, e
        found[m.group(1)] = int(m.group(2))
    # graphql-ruby's order: MaxQueryDepth's error, then MaxQueryComplexity's
    assert [e["extensions"]["code"] for e in body["errors"]] == [
        c for k, c in (("depth", "maxDepthExceeded"), ("complexity", "maxComplexityExceeded"))
        if k in found]
    return found.get("depth", 1), found.get("complexity", 1)


# -- the issue's hostile documents ----------------------------------------------------------
def test_sixteen_aliased_lists_of_aliased_pages_are_refused_before_running(client, token, app,
                                                                           runs):
    before = snapshot(app)
    r = gql(client, token, HOSTILE_ALIASES)
    assert r.status_code == 200
    assert r.json() == {"errors": [{
        "message": f"Query has complexity of {HOSTILE_ALIASES_COMPLEXITY}, which exceeds "
                   f"max complexity of {MAX_COMPLEXITY}",
        "extensions": {"code": "maxComplexityExceeded"}}]}
    assert HOSTILE_ALIASES_COMPLEXITY == 1_536_528
    assert runs == [] and snapshot(app) == before
    assert len(HOSTILE_ALIASES) < 1700


def test_a_fragment_of_many_aliased_pages_is_refused_before_running(client, token, runs):
    r = gql(client, token, HOSTILE_FRAGMENT)
    assert r.json()["errors"][0]["message"] == (
        f"Query has complexity of {HOSTILE_FRAGMENT_COMPLEXITY}, which exceeds max complexity "
        f"of {MAX_COMPLEXITY}")
    assert "data" not in r.json() and runs == []


def test_a_too_deep_and_too_complex_mutation_changes_nothing(client, token, app, runs):
    query = ('mutation { addPersonToFlow(input: {flowId: "1002", personId: "1"}) { personFlow '
             '{ flow { steps(first: 10000) { edges { node { id } } } } } } }')
    # addPersonToFlow 1, personFlow 1, flow 1, steps 1 + edges 1 + 10000 * (node 1 + id 1);
    # depth: addPersonToFlow, personFlow, flow, steps, edges, node, id
    assert client.post(LIMITS, json={"maxDepth": 6}).status_code == 200
    before = snapshot(app)
    r = gql(client, token, query)
    assert r.json() == {"errors": [
        {"message": "Query has depth of 7, which exceeds max depth of 6",
         "extensions": {"code": "maxDepthExceeded"}},
        {"message": f"Query has complexity of 20005, which exceeds max complexity of "
                    f"{MAX_COMPLEXITY}", "extensions": {"code": "maxComplexityExceeded"}}]}
    assert runs == [] and snapshot(app) == before


@pytest.fixture
def validations(monkeypatch) -> list:
    return calls_to(monkeypatch, "validate")


def test_an_invalid_document_is_validated_once(client, token, validations, runs):
    r = gql(client, token, HOSTILE_INVALID)
    assert len(validations) == 1 and runs == []
    # graphql-core's budget for comparing fields (MERGE_BUDGET) stops the quadratic comparison
    # early; the rule that ran out names the code
    assert r.json() == {"errors": [{"message": "Validation aborted.",
                                    "extensions": {"code": "fieldConflict"}}]}
    # a conflict found within the budget is reported as before
    r = gql(client, token, "{ flows { x: id x: name } }")
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "fieldConflict"
    assert error["path"] == ["query", "flows", "x"]
    assert len(validations) == 2


@pytest.mark.parametrize("query", [
    "{ flows { " + " ".join("x: id" if i % 2 else "x: name" for i in range(1400)) + " } }",
    ("{ flows { ...F } } fragment F on Flow { " + " ".join(
        f"a{i}: steps(first: 100) {{ nodes {{ id }} }}" for i in range(500)) + " }")])
def test_the_issues_largest_documents_are_refused_before_validation(client, token, query,
                                                                   validations, runs):
    """The issue's 1,400 repeated selections and 500 aliases: past the token limit, the
    parser refuses them (graphql-core reads no further)."""
    assert tokens(query) > schema.MAX_TOKENS
    r = gql(client, token, query)
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "parseError"
    assert f"more than {schema.MAX_TOKENS} tokens" in error["message"]
    assert validations == [] and runs == []


def test_one_validation_still_lists_errors_by_rule_with_their_codes(client, token,
                                                                    validations):
    # in the document, the unknown argument comes first; graphql-ruby's codes are listed by
    # rule, as before: FieldsOnCorrectTypeRule's, then KnownArgumentNamesRule's
    r = gql(client, token, "{ flows { id(x: 1) bogus } }")
    assert len(validations) == 1
    assert [(e["extensions"]["code"], e["path"]) for e in r.json()["errors"]] == [
        ("undefinedField", ["query", "flows", "bogus"]),
        ("argumentNotAccepted", ["query", "flows", "id"])]


def test_a_fragment_spread_everywhere_is_analysed_once_per_place():
    """A fragment of 35 fields spread 5 times in each of 35 places: graphql-ruby's visitor
    walks 6,125 fields; memoised per selection set and fragment, the analysis costs each of
    the 35 fields, the 35 places and their `nodes` once."""
    query = ("query($n: Int) { flows { ...A } } "
             "fragment A on Flow { " + " ".join(
                 f"s{i}: steps(first: $n) {{ nodes {{ ...B ...B ...B ...B ...B }} }}"
                 for i in range(35)) + " } "
             "fragment B on Step { " + " ".join(f"b{i}: id" for i in range(35)) + " }")
    assert tokens(query) <= schema.MAX_TOKENS
    executor = schema.Executor()
    prepared = executor.document(query)
    assert prepared.document is not None, prepared.errors
    operation = prepared.document.definitions[0]
    for page, complexity in ((0, 1 + 35 * 2), (1, 1 + 35 * (2 + 35))):
        # flows 1, and per place: steps 1 + nodes 1 + page * 35 ids
        costs = Costs(prepared.document)
        cost = costs.of(executor.schema, None, {"n": page}, 25, 100)
        assert cost is not None and (cost.depth, cost.complexity) == (4, complexity)
        analysis = Analysis(executor.schema, costs.fragments, get_variable_values(
            executor.schema, operation.variable_definitions, {"n": page}), 25)
        assert analysis.group(executor.schema.query_type,
                              analysis.sources(operation.selection_set), None) == complexity
        assert analysis.visits <= 1 + 35 + 35 + 35


# -- counting as graphql-ruby counts ---------------------------------------------------------
@pytest.mark.parametrize("query, variables, depth, complexity", [
    # flows 1 + id 1 + name 1
    ("{ flows { id name } }", None, 2, 3),
    # graphql-ruby's own relay example: flow 1, steps 1, edges 1, pageInfo 1 + hasNextPage 1,
    # and 5 * (node 1 + id 1)
    ('{ flow(id: "1001") { steps(first: 5) { edges { node { id } } '
     'pageInfo { hasNextPage } } } }', None, 5, 15),
    # last: flow 1, steps 1, nodes 1, 3 * id 1
    ('{ flow(id: "1001") { steps(last: 3) { nodes { id } } } }', None, 4, 6),
    # neither: the default page of 25: flow 1, steps 1, nodes 1, 25 * (id + name)
    ('{ flow(id: "1001") { steps { nodes { id name } } } }', None, 4, 53),
    # both: the larger, 10: flow 1, steps 1, nodes 1, 10 * id 1
    ('{ flow(id: "1001") { steps(first: 10, last: 3) { nodes { id } } } }', None, 4, 13),
    # a page from a variable: flow 1, steps 1, nodes 1, 7 * id 1
    ('query($n: Int) { flow(id: "1001") { steps(first: $n) { nodes { id } } } }',
     {"n": 7}, 4, 10),
    # the variable left out: the default page
    ('query($n: Int) { flow(id: "1001") { steps(first: $n) { nodes { id } } } }',
     None, 4, 28),
    # a page asked above what the server returns still counts as asked (graphql-ruby reads
    # the argument): 1 + 1 + 1 + 1000
    ('{ flow(id: "1001") { steps(first: 1000) { nodes { id } } } }', None, 4, 1003),
    # a negative page counts as 0: 1 + 1 + 1
    ('{ flow(id: "1001") { steps(first: -5) { nodes { id } } } }', None, 4, 3),
    # one response key counts once, each alias once: flows 1 + id, a, name
    ("{ flows { id id a: id ...F } } fragment F on Flow { id name }", None, 2, 4),
    # inline fragments too: flows 1 + id + name
    ("{ flows { ... on Flow { id } ... { name id } } }", None, 2, 3),
    # @skip and @include with variables: flows 1 + id
    ('query($s: Boolean!) { flows { id name @skip(if: $s) } }', {"s": True}, 2, 2),
    ('query($s: Boolean!) { flows { id name @skip(if: $s) } }', {"s": False}, 2, 3),
    ('{ flows { id steps @include(if: false) { nodes { id } } } }', None, 2, 2),
    # under a connection, __typename and pageInfo are not multiplied: flow 1, steps 1,
    # __typename 1, pageInfo 1 + its 2 fields
    ('{ flow(id: "1001") { steps(first: 10) { __typename pageInfo { hasNextPage endCursor } } '
     '} }', None, 4, 6),
    # edges' own fields are: flow 1, steps 1, edges 1 + 10 * (cursor 1 + node 1 + name 1)
    ('{ flow(id: "1001") { steps(first: 10) { edges { cursor node { name } } } } }', None, 5,
     33),
    # a list that is not a connection counts once: flows 1 + steps 1 + nodes 1 + 2 * id
    ('{ flows { steps(first: 2) { nodes { id } } } }', None, 4, 5),
    # introspection counts (count_introspection_fields is true by default), its lists once
    ("{ __typename }", None, 1, 1),
    ("{ __schema { types { name fields { name } } } }", None, 4, 5),
    # mutations too: addPersonToFlow 1, personFlow 1, createdAt 1
    ('mutation { addPersonToFlow(input: {flowId: "1002", personId: "1"}) '
     '{ personFlow { createdAt } } }', None, 3, 3),
])
def test_depth_and_complexity_as_graphql_ruby_counts(client, token, app, query, variables, depth,
                                                      complexity):
    before = snapshot(app)
    assert measure(client, token, query, variables) == (depth, complexity)
    assert snapshot(app) == before


def test_the_selected_operation_only(client, token):
    query = ('query Small { flows { id } } '
             'query Big { flow(id: "1001") { steps(first: 50) { nodes { id } } } }')
    assert client.post(LIMITS, json={"maxComplexity": 10}).status_code == 200
    r = client.post("/groove/api/public/v1/graphql", headers={"Authorization": f"Bearer {token}"},
                    json={"query": query, "operationName": "Small"})
    assert len(r.json()["data"]["flows"]) == 9
    r = client.post("/groove/api/public/v1/graphql", headers={"Authorization": f"Bearer {token}"},
                    json={"query": query, "operationName": "Big"})
    assert r.json()["errors"][0]["message"] == ("Query has complexity of 53, which exceeds "
                                                "max complexity of 10")


def test_a_page_variable_is_read_per_request(client, token):
    query = 'query($n: Int) { flow(id: "1001") { steps(first: $n) { nodes { id } } } }'
    assert client.post(LIMITS, json={"maxComplexity": 30}).status_code == 200
    assert len(gql(client, token, query, {"n": 20}).json()["data"]["flow"]["steps"]["nodes"]) == 20
    r = gql(client, token, query, {"n": 40})       # the same document, a larger page
    assert r.json()["errors"][0]["message"].startswith("Query has complexity of 43,")
    assert "data" in gql(client, token, query, {"n": 20}).json()
    # a bad value of another variable leaves nothing to reuse for the good one
    q2 = 'query($n: Int, $id: ID!) { flow(id: $id) { steps(first: $n) { nodes { id } } } }'
    assert "variable" in gql(client, token, q2, {"n": 40}).json()["errors"][0]["message"].lower()
    r = gql(client, token, q2, {"n": 40, "id": LONG_FLOW})
    assert r.json()["errors"][0]["message"].startswith("Query has complexity of 43,")


# -- what the defaults let through -----------------------------------------------------------
def _every_field(type_name: str, sdl_schema, depth: int = 0) -> str:
    """A selection of every field of a type, connections with their first 100."""
    out = []
    for name, field in sdl_schema.get_type(type_name).fields.items():
        named = field.type
        while hasattr(named, "of_type"):
            named = named.of_type
        args = "(first: 100)" if "first" in field.args else ""
        if hasattr(named, "fields"):
            if depth < 4:
                out.append(f"{name}{args} {{ {_every_field(named.name, sdl_schema, depth + 1)} }}")
        else:
            out.append(name)
    return " ".join(out)


def documented_queries() -> list[tuple[str, dict | None]]:
    sdl_schema = build_schema(SDL)
    flow = _every_field("Flow", sdl_schema)
    person = _every_field("Person", sdl_schema)
    return [
        ("{ flows { %s } }" % flow, None),
        ('{ flow(id: "%s") { %s } }' % (LONG_FLOW, flow), None),
        ('{ findPersonBySalesforceId(salesforceId: "0035e00000Ada001AAA") { %s } }' % person,
         None),
        ('mutation { addPersonToFlow(input: {flowId: "1001", personId: "2"}) { personFlow { '
         "createdAt flow { %s } person { %s } } } }" % (flow, person), None),
        # README's
        ('{ flow(id: "1001") { name steps(first: 3) { nodes { name dayNumber } pageInfo '
         "{ hasNextPage endCursor } } } }", None),
        # the introspection queries of graphql-core, at their fullest (gql's is the default)
        (get_introspection_query(descriptions=True, schema_description=True,
                                 input_value_deprecation=True, directive_is_repeatable=True,
                                 specified_by_url=True), None),
        (get_introspection_query(), None),
        (RELAY, {"id": LONG_FLOW, "first": 100}),
    ]


@pytest.mark.parametrize("query, variables", documented_queries())
def test_every_documented_query_passes_the_default_limits(client, token, query, variables):
    r = gql(client, token, query, variables)
    body = r.json()
    assert r.status_code == 200 and "errors" not in body, body
    assert units(body["data"]) <= schema.ANSWER_MAX


def test_a_relay_walk_of_100_a_page_passes(client, token):
    after, seen = None, 0
    while True:
        r = gql(client, token, RELAY, {"id": LONG_FLOW, "first": 100, "after": after})
        body = r.json()
        assert "errors" not in body, body
        steps = body["data"]["flow"]["steps"]
        seen += len(steps["nodes"])
        if not steps["pageInfo"]["hasNextPage"]:
            break
        after = steps["pageInfo"]["endCursor"]
    assert seen == 60


def test_the_heaviest_allowed_query_is_allowed_and_at_both_bounds(client, token):
    r = gql(client, token, HEAVIEST_ALLOWED_QUERY)
    body = r.json()
    assert "errors" not in body, body
    assert units(body["data"]) == HEAVIEST_ALLOWED_UNITS
    assert 0.95 * schema.ANSWER_MAX < HEAVIEST_ALLOWED_UNITS <= schema.ANSWER_MAX
    assert 0.95 * schema.MAX_TOKENS < tokens(HEAVIEST_ALLOWED_QUERY) <= schema.MAX_TOKENS


def tokens(query: str) -> int:
    lexer, n = Lexer(Source(query)), 0
    while lexer.advance().kind != TokenKind.EOF:
        n += 1
    return n


# -- the answer's bound ----------------------------------------------------------------------
def test_a_list_the_complexity_counts_once_cannot_multiply_the_answer(client, token):
    """`flows` counts once (graphql-ruby's lists are not connections), but holds 9 flows:
    within the complexity limit, the answer is still bounded."""
    query = "{ flows { " + " ".join(f"a{i}: name" for i in range(300)) + " } }"
    r = gql(client, token, query)
    assert r.json() == {"errors": [{
        "message": f"Query's answer exceeds max answer size of {schema.ANSWER_MAX} fields and "
                   "objects", "extensions": {"code": "answerTooLarge"}}]}
    fits = "{ flows { " + " ".join(f"a{i}: name" for i in range(250)) + " } }"
    assert units(gql(client, token, fits).json()["data"]) == 1 + 1 + 9 * 251


def test_introspection_lists_cannot_multiply_the_answer(client, token):
    query = "{ __schema { types { fields { " + " ".join(f"a{i}: name" for i in range(40)) \
        + " } } } }"
    r = gql(client, token, query)
    assert r.json()["errors"][0]["extensions"]["code"] == "answerTooLarge"


def test_a_mutation_whose_answer_could_pass_the_bound_does_not_run(client, token, app, runs):
    """A mutation cannot be stopped halfway: its bound is known before it runs (connections
    are its only lists), and it is refused before."""
    before = snapshot(app)
    query = ('mutation { addPersonToFlow(input: {flowId: "1002", personId: "1"}) { personFlow { '
             "flow { " + " ".join(f"s{i}: steps(first: 100) {{ nodes {{ id }} }}"
                                  for i in range(15)) + " } } } }")
    r = gql(client, token, query)
    assert r.json()["errors"][0]["extensions"]["code"] == "answerTooLarge"
    assert runs == [] and snapshot(app) == before


# -- per tenant ------------------------------------------------------------------------------
COMPLEX_8 = '{ flow(id: "1001") { steps(first: 5) { nodes { id } } } }'   # 1 + 1 + 1 + 5


def test_limits_per_tenant(client, token, app):
    tenant, theirs = new_tenant(client)
    r = client.post(LIMITS, json={"maxComplexity": 8, "tenant": tenant})
    assert r.status_code == 200
    assert r.json() == {"tenant": tenant, "maxComplexity": 8, "maxDepth": MAX_DEPTH}
    assert "data" in gql(client, theirs, COMPLEX_8).json()
    r = gql(client, theirs, COMPLEX_8.replace("5", "6"))
    assert r.json()["errors"][0]["message"] == ("Query has complexity of 9, which exceeds max "
                                                "complexity of 8")
    # the default tenant keeps the defaults
    assert "data" in gql(client, token, COMPLEX_8.replace("5", "6")).json()
    assert snapshot(app)["maxComplexity"] == MAX_COMPLEXITY
    r = client.post(LIMITS, json={"maxDepth": 2, "tenant": tenant})
    assert r.json() == {"tenant": tenant, "maxComplexity": 8, "maxDepth": 2}
    r = gql(client, theirs, "{ flows { id } }")
    assert "data" in r.json()
    r = gql(client, theirs, COMPLEX_8)
    assert r.json()["errors"][0]["message"] == "Query has depth of 4, which exceeds max depth of 2"


def test_null_lifts_a_limit_as_graphql_ruby_nil(client, token):
    query = '{ flow(id: "1001") { steps(first: 100000) { nodes { id } } } }'
    assert gql(client, token, query).json()["errors"][0]["extensions"]["code"] == \
        "maxComplexityExceeded"
    r = client.post(LIMITS, json={"maxComplexity": None})
    assert r.json() == {"tenant": "default", "maxComplexity": None, "maxDepth": MAX_DEPTH}
    assert len(gql(client, token, query).json()["data"]["flow"]["steps"]["nodes"]) == 60


def test_a_kept_answer_is_not_served_past_a_lowered_limit(client, token):
    assert "data" in gql(client, token, COMPLEX_8).json()       # now kept
    assert client.post(LIMITS, json={"maxComplexity": 5}).status_code == 200
    assert gql(client, token, COMPLEX_8).json()["errors"][0]["extensions"]["code"] == \
        "maxComplexityExceeded"
    assert client.post(LIMITS, json={"maxComplexity": 8}).status_code == 200
    assert "data" in gql(client, token, COMPLEX_8).json()


def test_limits_survive_export_and_import_and_a_reset_restores_them(client, token, app):
    assert client.post(LIMITS, json={"maxComplexity": 7, "maxDepth": 9}).status_code == 200
    exported = client.get(STATE).json()
    assert exported["vendors"]["groove"]["maxComplexity"] == 7
    assert exported["vendors"]["groove"]["maxDepth"] == 9
    tenant, _ = new_tenant(client)
    r = client.put(STATE, params={"tenant": tenant}, content=json.dumps(exported).encode())
    assert r.status_code == 200, r.text
    assert snapshot(app, tenant)["maxComplexity"] == 7 and snapshot(app, tenant)["maxDepth"] == 9
    # a snapshot written before these limits existed imports with the defaults
    del exported["vendors"]["groove"]["maxComplexity"], exported["vendors"]["groove"]["maxDepth"]
    r = client.put(STATE, params={"tenant": tenant}, content=json.dumps(exported).encode())
    assert r.status_code == 200, r.text
    assert snapshot(app, tenant)["maxComplexity"] == MAX_COMPLEXITY
    assert client.post("/__admin/reset", json={}).status_code == 200
    assert snapshot(app)["maxComplexity"] == MAX_COMPLEXITY
    assert snapshot(app)["maxDepth"] == MAX_DEPTH


@pytest.mark.parametrize("body", [
    {}, {"tenant": "default"}, {"maxComplexity": 0}, {"maxComplexity": -1},
    {"maxComplexity": 1.5}, {"maxComplexity": "10"}, {"maxComplexity": True},
    {"maxComplexity": 10 ** 10}, {"maxDepth": 0}, {"maxDepth": 201}, {"maxDepth": []},
    {"maxDepth": {}}, {"maxComplexity": 5, "maxDepth": 0}])
def test_a_bad_limit_is_a_400_and_changes_nothing(client, app, body):
    before = snapshot(app)
    r = client.post(LIMITS, json=body)
    assert r.status_code == 400 and "max" in r.json()["error"]
    assert snapshot(app) == before


def test_an_unknown_tenant_is_a_404(client, app):
    before = snapshot(app)
    assert client.post(LIMITS, json={"maxDepth": 3, "tenant": "t_nope"}).status_code == 404
    assert snapshot(app) == before


# -- properties ------------------------------------------------------------------------------
class _World:
    """Data where every list holds one item and every connection a full page: one flow of 200
    steps and 200 label instances, one person."""

    def __init__(self) -> None:
        steps = tuple(Step(str(i), f"s{i}", str(i)) for i in range(200))
        labels = tuple(LabelInstance(str(i)) for i in range(200))
        flow = Flow("1", "F", None, None, True, False, False, None, True, True, None, steps,
                    labels)
        self.flows = {"1": flow}
        self.flow_list = (flow,)
        self.people = {"1": Person("1", "P", "p@example.com", "S")}
        self.by_salesforce = {"S": "1"}


SCALARS = {"Flow": ["id", "name", "description", "finalized", "userId", "__typename"],
           "Step": ["id", "name", "dayNumber", "__typename"], "LabelInstance": ["id"],
           "Person": ["id", "name", "emailAddress"],
           "PageInfo": ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]}
NODE = {"steps": "Step", "labelInstances": "LabelInstance"}


def _selection(draw: Any, type_name: str, depth: int) -> str:
    """A few fields of a type; a response key always names one field with one argument, so
    any two selections of it merge (the document stays valid)."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["scalar", "scalar", "composite", "fragment"]))
        if kind == "fragment":
            inner = _selection(draw, type_name, depth)
            directive = draw(st.sampled_from(["", " @include(if: true)", " @skip(if: true)"]))
            parts.append(f"... on {type_name}{directive} {{ {inner} }}")
        elif kind == "composite" and type_name == "Flow" and depth < 3:
            field = draw(st.sampled_from(["steps", "labelInstances"]))
            size = draw(st.one_of(st.none(), st.integers(0, 100)))
            arg = draw(st.sampled_from(["first", "last"]))
            key = f"{field}_{arg}_{size}"
            args = f"({arg}: {size})" if size is not None else ""
            inner = []
            if draw(st.booleans()):
                inner.append(f"edges {{ cursor node {{ {_selection(draw, NODE[field], depth + 1)}"
                             " } }")
            if draw(st.booleans()):
                inner.append(f"nodes {{ {_selection(draw, NODE[field], depth + 1)} }}")
            info = draw(st.lists(st.sampled_from(SCALARS["PageInfo"]), min_size=1, max_size=3))
            inner.append(f"pageInfo {{ {' '.join(info)} }}")
            parts.append(f"{key}: {field}{args} {{ {' '.join(inner)} }}")
        else:
            name = draw(st.sampled_from(SCALARS[type_name]))
            alias = draw(st.sampled_from(["", "", "x: " if name == "id" else ""]))
            parts.append(f"{alias}{name}")
    return " ".join(parts)


@st.composite
def documents(draw: Any) -> str:
    roots = []
    for _ in range(draw(st.integers(1, 3))):
        root = draw(st.sampled_from(["flows", "flow", "person", "typename"]))
        if root == "flows":
            roots.append(f"flows {{ {_selection(draw, 'Flow', 0)} }}")
        elif root == "flow":
            roots.append(f'one: flow(id: "1") {{ {_selection(draw, "Flow", 0)} }}')
        elif root == "person":
            roots.append(f'findPersonBySalesforceId(salesforceId: "S") '
                         f'{{ {_selection(draw, "Person", 0)} }}')
        else:
            roots.append("__typename")
    return "{ " + " ".join(roots) + " }"


WORLD = _World()


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(query=documents())
def test_complexity_is_the_answers_field_count_when_lists_hold_one_and_pages_are_full(query):
    """graphql-ruby's model: a list holds one item, a connection a full page (first or last,
    else 25). On data made so, the complexity is exactly the number of fields in the answer."""
    executor = schema.Executor()
    prepared = executor.document(query)
    assert prepared.document is not None, (query, prepared.errors)
    cost = executor.cost(prepared, None, None)
    result = execute(executor.schema, parse(query),
                     context_value=schema.Context(WORLD, 0))  # type: ignore[arg-type]
    assert not result.errors, (query, result.errors)
    assert cost is not None and cost.complexity == keys(result.data), query


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query=documents())
def test_any_answer_stays_within_the_bound(client, token, query):
    """On the fixtures (nine flows, pages up to the data), an answer is either within the
    bound or refused."""
    client.post("/__admin/groove/rate-limit", json={"limit": 1_000_000})
    body = gql(client, token, query.replace('flow(id: "1")', f'flow(id: "{LONG_FLOW}")')).json()
    if "data" in body:
        assert units(body["data"]) <= schema.ANSWER_MAX, query
    else:
        assert body["errors"][0]["extensions"]["code"] in (
            "answerTooLarge", "maxComplexityExceeded", "maxDepthExceeded"), body

