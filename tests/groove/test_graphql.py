"""Groove's GraphQL API (groove.md "API"): the documented schema, introspection, the queries and
the mutation over tenant state, and graphql-ruby's answers to requests it cannot run.

First through the real `gql` client against the live server (it fetches the schema by
introspection and validates every query against it before sending), then in-process with the
contract-checking client.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from gql import Client, GraphQLRequest, gql as gql_document
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.httpx import HTTPXAsyncTransport, HTTPXTransport
from graphql import (GraphQLError, build_client_schema, build_schema, get_introspection_query,
                     parse, print_schema)
from graphql.language import TypeDefinitionNode

from mockserver.core.paths import data_dir

from ..conftest import DOC_TIME
from .conftest import GRAPHQL, LONG_FLOW, REDIRECT_URI, bearer, gql, tokens_for

SDL = (data_dir("contracts") / "groove" / "schema.graphql").read_text()
FIXTURES = json.loads((data_dir("fixtures") / "groove" / "fixtures.json").read_text())
GENERATOR = json.loads((data_dir("fixtures") / "groove" / "generator.json").read_text())
FLOW_FIELDS = ["autoImportAssignOwner", "autoImportId", "description", "finalized", "id",
               "isMasterFlow", "name", "removePersonAfterBounce", "removePersonAfterReply",
               "sfdcCampaignId", "userId"]
ADA_SFID = "0035e00000Ada001AAA"
T0 = 1705314600                  # DOC_TIME, the start of a minute
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
ADD = """mutation($input: AddPersonToFlowInput!) {
  addPersonToFlow(input: $input) {
    personFlow { createdAt flow { id name } person { id name emailAddress } }
  }
}"""


# -- the live server through gql ---------------------------------------------------------------
def live_tenant_token(live) -> tuple[str, str]:
    """A tenant of its own on the shared live server, and an access token from its code flow."""
    r = live.http.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    tenant = r.json()
    creds = tenant["credentials"]["groove"]
    r = live.request("GET", "/groove/oauth/authorize",
                     params={"client_id": creds["clientId"], "redirect_uri": REDIRECT_URI,
                             "scope": "first-scope", "state": "live"})
    assert r.status_code == 302, r.text
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == ["live"]
    r = live.request("POST", "/groove/oauth/token", json={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": REDIRECT_URI, "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]})
    assert r.status_code == 200, r.text
    return tenant["id"], r.json()["access_token"]


def journal_total(live, tenant: str) -> int:
    r = live.http.get("/__admin/requests", params={"tenant": tenant, "summary": "1"})
    assert r.status_code == 200
    return r.json()["total"]


def test_live_gql_client_reads_flows_and_people_and_adds_to_a_flow(live):
    tenant, token = live_tenant_token(live)
    transport = HTTPXTransport(url=live.url + GRAPHQL, headers=bearer(token), timeout=10)
    client = Client(transport=transport, fetch_schema_from_transport=True)
    with client as session:
        # the schema came by introspection
        assert client.schema is not None
        assert {"Flow", "Person", "PersonFlow", "StepConnection"} <= set(client.schema.type_map)
        documented = build_schema(SDL)
        documented.description = None      # gql's introspection query leaves it out
        assert print_schema(client.schema) == print_schema(documented)

        flows = session.execute(gql_document("{ flows { id name finalized } }"))["flows"]
        assert [f["id"] for f in flows][:3] == ["1001", "1002", "1003"]
        assert flows[0] == {"id": "1001", "name": "Sandbox Outreach", "finalized": True}

        request = GraphQLRequest(
            "query Flow($id: ID!) { flow(id: $id) { id name steps(first: 2) { nodes { name } "
            "pageInfo { hasNextPage endCursor } } } }", variable_values={"id": LONG_FLOW})
        flow = session.execute(request)["flow"]
        assert flow["id"] == LONG_FLOW and len(flow["steps"]["nodes"]) == 2
        assert flow["steps"]["pageInfo"] == {"hasNextPage": True, "endCursor": "Mg"}
        assert session.execute(gql_document('{ flow(id: "999999") { id } }')) == {"flow": None}

        person = session.execute(GraphQLRequest(
            "query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) { id name } }",
            variable_values={"sf": ADA_SFID}))
        assert person == {"findPersonBySalesforceId": {"id": "1", "name": "Ada Lovelace"}}

        added = session.execute(GraphQLRequest(ADD, variable_values={
            "input": {"flowId": LONG_FLOW, "personId": "1"}}))
        assert added["addPersonToFlow"]["personFlow"]["person"]["name"] == "Ada Lovelace"
        with pytest.raises(TransportQueryError) as raised:
            session.execute(GraphQLRequest(ADD, variable_values={
                "input": {"flowId": LONG_FLOW, "personId": "1"}}))
        assert raised.value.data == {"addPersonToFlow": None}
        assert raised.value.errors[0]["extensions"]["code"] == "ALREADY_EXISTS"
        assert raised.value.errors[0]["path"] == ["addPersonToFlow"]

        # gql validates against the introspected schema before sending anything
        sent = journal_total(live, tenant)
        for bad in ("{ flows { bogus } }", "{ flow { id } }",
                    'mutation { addPersonToFlow(input: {flowId: "1"}) { personFlow '
                    "{ createdAt } } }"):
            with pytest.raises(GraphQLError):
                session.execute(gql_document(bad))
        assert journal_total(live, tenant) == sent


def test_live_async_gql_client_meets_the_tenant_rate_limit(live):
    # frozen, so no minute boundary falls between the calls
    assert live.http.post("/__admin/clock", json={"set": DOC_TIME}).status_code == 200
    try:
        tenant, token = live_tenant_token(live)
        r = live.http.post("/__admin/groove/rate-limit", json={"limit": 3, "tenant": tenant})
        assert r.status_code == 200 and r.json() == {"tenant": tenant, "limit": 3}

        async def run() -> list[Any]:
            transport = HTTPXAsyncTransport(url=live.url + GRAPHQL, headers=bearer(token),
                                            timeout=10)
            out: list[Any] = []
            async with Client(transport=transport) as session:
                for _ in range(4):
                    try:
                        out.append(await session.execute(gql_document("{ flows { id } }")))
                    except TransportServerError as exc:
                        out.append(exc.code)
            return out

        results = asyncio.run(run())
        assert [isinstance(r, dict) for r in results] == [True, True, True, False]
        assert results[3] == 429
        # refused calls count on: still refused, with the headers and an empty body
        r = live.request("POST", GRAPHQL, json={"query": "{ flows { id } }"},
                         headers=bearer(token))
        assert r.status_code == 429 and r.content == b""
        assert r.headers["x-ratelimit-limit"] == "3"
        assert r.headers["x-ratelimit-remaining"] == "0"
        assert r.headers["x-ratelimit-reset"] == str(T0 + 85)   # 5 * (1 - e/60) < 3: e > 24
    finally:
        live.http.post("/__admin/clock", json={"real": True})


# -- in-process ------------------------------------------------------------------------------
@pytest.fixture
def token(client) -> str:
    return tokens_for(client)["access_token"]


def call(client, token: str, query: str | None = None, variables: Any = None,
         **kw: Any) -> httpx.Response:
    """One GraphQL request (a `query` or a raw `content`/`json`): never a 5xx, and with a valid
    token always the three rate-limit headers."""
    if query is not None:
        r = gql(client, token, query, variables, **kw)
    else:
        r = client.post(GRAPHQL, headers={**bearer(token), **kw.pop("headers", {})}, **kw)
    assert r.status_code < 500, r.text
    for name in RATE_HEADERS:
        assert r.headers[name].isdigit(), (name, r.headers)
    return r


def data(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


def validation_error(r: httpx.Response, code: str) -> dict:
    """graphql-ruby's answer to a query that fails validation: 200, errors only."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert "data" not in body, body
    for err in body["errors"]:
        assert err["extensions"]["code"] == code, err
        assert isinstance(err["message"], str) and err["message"]
    return body["errors"][0]


def resolver_error(r: httpx.Response, field: str, code: str) -> dict:
    """graphql-ruby's answer to a field that raised: data.field null and the error beside it."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == {field: None}, body
    [err] = body["errors"]
    assert err["path"] == [field]
    assert err["locations"] and set(err["locations"][0]) == {"line", "column"}
    assert err["extensions"]["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    return err


# -- queries ---------------------------------------------------------------------------------
def test_flows_lists_every_fixture_flow_with_the_documented_fields(client, token):
    flows = data(call(client, token, "{ flows { %s steps(first: 100) { nodes { id } } "
                                     "labelInstances(first: 100) { nodes { id } } } }"
                      % " ".join(FLOW_FIELDS)))["flows"]
    assert len(flows) == len(FIXTURES["flows"]) + GENERATOR["flows"]
    ids = [f["id"] for f in flows]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=int)
    by_id = {f["id"]: f for f in flows}
    for spec in FIXTURES["flows"]:
        flow = by_id[spec["id"]]
        assert {k: flow[k] for k in FLOW_FIELDS} == {k: spec[k] for k in FLOW_FIELDS}
        assert len(flow["steps"]["nodes"]) == spec["steps"]
        assert len(flow["labelInstances"]["nodes"]) == spec["labelInstances"]
    for flow in flows[len(FIXTURES["flows"]):]:
        assert isinstance(flow["name"], str) and flow["name"]
        assert 1 <= len(flow["steps"]["nodes"]) <= GENERATOR["maxSteps"]
        assert 0 <= len(flow["labelInstances"]["nodes"]) <= GENERATOR["maxLabels"]
    every_step = [s["id"] for f in flows for s in f["steps"]["nodes"]]
    assert len(set(every_step)) == len(every_step)


def test_flow_by_id_with_a_page_of_steps(client, token):
    flow = data(call(client, token, """{ flow(id: "1001") { id name
        steps(first: 10) { edges { cursor node { id name dayNumber } } nodes { id name dayNumber }
                           pageInfo { startCursor endCursor hasNextPage hasPreviousPage } } } }
    """))["flow"]
    steps = flow["steps"]
    assert flow["id"] == "1001" and flow["name"] == "Sandbox Outreach"
    assert len(steps["edges"]) == 10
    assert steps["nodes"] == [e["node"] for e in steps["edges"]]
    assert steps["pageInfo"] == {"startCursor": steps["edges"][0]["cursor"],
                                 "endCursor": steps["edges"][-1]["cursor"],
                                 "hasNextPage": True, "hasPreviousPage": False}
    assert [e["cursor"] for e in steps["edges"]][:3] == ["MQ", "Mg", "Mw"]   # "1", "2", "3"
    for step in steps["nodes"]:
        assert step["id"] and step["name"] and step["dayNumber"]
    # a step named by the generator's names, day numbers never going back
    assert steps["nodes"][0]["name"].startswith(GENERATOR["stepNames"][0])
    days = [int(s["dayNumber"]) for s in steps["nodes"]]
    assert days == sorted(days)


@pytest.mark.parametrize("literal", ['"999999"', "999999", '""', '"1001 "', '"abc"'])
def test_an_unknown_flow_is_null(client, token, literal):
    r = call(client, token, "{ flow(id: %s) { id } }" % literal)
    assert r.json() == {"data": {"flow": None}}


def test_find_person_by_salesforce_id(client, token):
    q = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
         "{ id name emailAddress } }")
    assert data(call(client, token, q, {"sf": ADA_SFID})) == {"findPersonBySalesforceId": {
        "id": "1", "name": "Ada Lovelace", "emailAddress": "ada@example.com"}}
    assert data(call(client, token, q, {"sf": "00Q5e00000Grace1AAA"}))[
        "findPersonBySalesforceId"]["name"] == "Grace Hopper"
    for unknown in ("0035e00000Nobody1AA", ADA_SFID.lower(), "", ADA_SFID + " "):
        assert data(call(client, token, q, {"sf": unknown})) == {"findPersonBySalesforceId": None}


def test_a_flow_id_given_as_an_integer_literal(client, token):
    assert data(call(client, token, "{ flow(id: 1002) { id name } }")) == {
        "flow": {"id": "1002", "name": "Inbound Follow-up"}}
    assert data(call(client, token, "query($id: ID!) { flow(id: $id) { id } }",
                     {"id": 1002})) == {"flow": {"id": "1002"}}


# -- the mutation ------------------------------------------------------------------------------
def add(client, token, flow_id: Any, person_id: Any) -> httpx.Response:
    return call(client, token, ADD, {"input": {"flowId": flow_id, "personId": person_id}})


def test_add_person_to_flow_at_the_mock_clock_then_again(client, token, clock):
    payload = data(add(client, token, LONG_FLOW, "1"))["addPersonToFlow"]
    assert payload == {"personFlow": {
        "createdAt": "2024-01-15T10:30:00Z",
        "flow": {"id": LONG_FLOW, "name": "Sandbox Outreach"},
        "person": {"id": "1", "name": "Ada Lovelace", "emailAddress": "ada@example.com"}}}

    err = resolver_error(add(client, token, LONG_FLOW, "1"), "addPersonToFlow", "ALREADY_EXISTS")
    assert err["locations"] == [{"line": 2, "column": 3}]

    clock.advance(90.75)
    later = data(add(client, token, LONG_FLOW, "3"))["addPersonToFlow"]["personFlow"]
    assert later["createdAt"] == "2024-01-15T10:31:30Z"
    clock.advance(86400 * 40)
    token = tokens_for(client)["access_token"]        # the first one expired after 2 hours
    assert data(add(client, token, "1002", "1"))["addPersonToFlow"]["personFlow"][
        "createdAt"] == "2024-02-24T10:31:30Z"


def test_a_fixture_membership_already_exists(client, token):
    # fixtures.json: person 2 joined flow 1002 on 2024-01-10
    resolver_error(add(client, token, "1002", "2"), "addPersonToFlow", "ALREADY_EXISTS")


@pytest.mark.parametrize("flow_id, person_id", [("999999", "1"), (LONG_FLOW, "999999"),
                                                ("999999", "999999"), ("", "1"),
                                                (LONG_FLOW, "ada@example.com")])
def test_an_unknown_flow_or_person_is_not_found(client, token, app, flow_id, person_id):
    before = app.vendors["groove"].snapshot(app.tenants.default.stores["groove"])
    resolver_error(add(client, token, flow_id, person_id), "addPersonToFlow", "NOT_FOUND")
    assert app.vendors["groove"].snapshot(app.tenants.default.stores["groove"]) == before


def test_integer_id_literals_in_the_mutation(client, token):
    r = call(client, token, "mutation { addPersonToFlow(input: {flowId: 1003, personId: 2}) "
                            "{ personFlow { flow { id } person { id } } } }")
    assert data(r) == {"addPersonToFlow": {"personFlow": {"flow": {"id": "1003"},
                                                          "person": {"id": "2"}}}}
    r = add(client, token, 1003, 2)
    resolver_error(r, "addPersonToFlow", "ALREADY_EXISTS")


def test_a_person_added_by_the_control_plane_joins_a_flow(client, token):
    r = client.post("/__admin/groove/people", json={
        "name": "Katherine Johnson", "emailAddress": "katherine@example.com",
        "salesforceId": "0035e00000Kath01AAA"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    found = data(call(client, token, '{ findPersonBySalesforceId(salesforceId: '
                                     '"0035e00000Kath01AAA") { id name } }'))
    assert found == {"findPersonBySalesforceId": {"id": pid, "name": "Katherine Johnson"}}
    person = data(add(client, token, "1002", pid))["addPersonToFlow"]["personFlow"]["person"]
    assert person == {"id": pid, "name": "Katherine Johnson",
                      "emailAddress": "katherine@example.com"}


def test_a_mutation_sent_as_a_query_is_refused(client, token):
    r = call(client, token, '{ addPersonToFlow(input: {flowId: "1001", personId: "1"}) '
                            "{ personFlow { createdAt } } }")
    validation_error(r, "undefinedField")
    # and nothing was added: the real mutation still succeeds
    assert data(add(client, token, LONG_FLOW, "1"))["addPersonToFlow"]


# -- introspection -----------------------------------------------------------------------------
def sdl_type_names() -> set[str]:
    names = {d.name.value for d in parse(SDL).definitions if isinstance(d, TypeDefinitionNode)}
    return names | {"ID", "String", "Int", "Boolean"}


def test_introspection_lists_every_type_of_the_sdl(client, token):
    types = data(call(client, token, "{ __schema { types { name } } }"))["__schema"]["types"]
    names = {t["name"] for t in types}
    assert sdl_type_names() <= names
    assert {n for n in names if not n.startswith("__")} == sdl_type_names()


def test_the_introspected_schema_is_the_sdl(client, token):
    r = call(client, token, get_introspection_query(descriptions=True, schema_description=True,
                                                    input_value_deprecation=True))
    introspected = build_client_schema(data(r))
    assert print_schema(introspected) == print_schema(build_schema(SDL))
    assert introspected.description == build_schema(SDL).description


def test_type_introspection_of_a_connection_field(client, token):
    flow = data(call(client, token, '{ __type(name: "Flow") { fields { name args { name } '
                                    "type { kind ofType { name } } } } }"))["__type"]
    steps = next(f for f in flow["fields"] if f["name"] == "steps")
    assert [a["name"] for a in steps["args"]] == ["after", "before", "first", "last"]
    assert steps["type"] == {"kind": "NON_NULL", "ofType": {"name": "StepConnection"}}


# -- errors -----------------------------------------------------------------------------------
def test_an_undefined_field(client, token):
    err = validation_error(call(client, token, "{ flows { bogus } }"), "undefinedField")
    assert err["locations"] == [{"line": 1, "column": 11}]
    assert err["path"] == ["query", "flows", "bogus"]
    assert "bogus" in err["message"]


def test_an_undefined_field_in_a_named_mutation(client, token):
    err = validation_error(call(client, token, "mutation Add { addPersonToFlow(input: "
                                               '{flowId: "1", personId: "1"}) { nope } }'),
                           "undefinedField")
    assert err["path"] == ["mutation Add", "addPersonToFlow", "nope"]


def test_a_missing_required_argument(client, token):
    err = validation_error(call(client, token, "{ flow { id } }"), "missingRequiredArguments")
    assert err["path"] == ["query", "flow"]
    assert err["locations"] == [{"line": 1, "column": 3}]
    err = validation_error(call(client, token, "{ findPersonBySalesforceId { id } }"),
                           "missingRequiredArguments")
    assert "salesforceId" in err["message"]


def test_a_syntax_error(client, token):
    for query, location in [("{ flows { id ", {"line": 1, "column": 14}),
                            ("{ flows { id } }}", {"line": 1, "column": 17}),
                            ("query {\n  flows(\n}", {"line": 3, "column": 1})]:
        err = validation_error(call(client, token, query), "parseError")
        assert err["locations"] == [location], (query, err)


def test_a_leaf_without_selection_and_an_object_without_one(client, token):
    validation_error(call(client, token, "{ flows }"), "selectionMismatch")
    validation_error(call(client, token, "{ flows { id { x } } }"), "selectionMismatch")


def test_an_unknown_argument(client, token):
    validation_error(call(client, token, '{ flow(id: "1", bogus: 1) { id } }'),
                     "argumentNotAccepted")


@pytest.mark.parametrize("query, variables", [
    ("query($id: ID!) { flow(id: $id) { id } }", {"id": [1]}),
    ("query($id: ID!) { flow(id: $id) { id } }", {"id": None}),
    ("query($id: ID!) { flow(id: $id) { id } }", {}),
    ("query($id: ID!) { flow(id: $id) { id } }", {"id": 1.5}),
    ("query($n: Int) { flow(id: 1001) { steps(first: $n) { nodes { id } } } }", {"n": "x"}),
    ("query($n: Int) { flow(id: 1001) { steps(first: $n) { nodes { id } } } }", {"n": 2 ** 31}),
    (ADD, {"input": {"flowId": "1001"}}),
    (ADD, {"input": "1001"}),
])
def test_variables_of_the_wrong_type(client, token, query, variables):
    r = call(client, token, query, variables)
    assert r.status_code == 200
    body = r.json()
    assert body.get("data") is None
    assert body["errors"] and all(isinstance(e["extensions"]["code"], str) and e["message"]
                                  for e in body["errors"])


@pytest.mark.parametrize("query, code", [
    ("{ flow(id: 1001) { id } flow(id: 1002) { id } }", "fieldConflict"),
    ("{ flows { ...A } } fragment A on Flow { ...A }", "infiniteLoop"),
    ("{ flows { ...Missing } }", "undefinedFragment"),
    ("{ flows { id } } fragment Unused on Flow { id }", "useAndDefineFragment"),
    ("query { flow(id: $id) { id } }", "variableNotDefined"),
    ("query($id: ID) { flows { id } }", "variableNotUsed"),
    ("query($id: Bogus) { flow(id: $id) { id } }", "undefinedType"),
    ("query($id: String!) { flow(id: $id) { id } }", "variableMismatch"),
    ("{ flows { id } } { flows { name } }", "anonymousOperationNotAlone"),
    ("{ flows @bogus { id } }", "undefinedDirective"),
    ("subscription { flows { id } }", "missingMutationConfiguration"),
    ("type Extra { id: ID }", "definitionNotExecutable"),
])
def test_graphql_ruby_codes_of_validation_errors(client, token, query, code):
    validation_error(call(client, token, query), code)


def test_a_literal_of_the_wrong_type(client, token):
    validation_error(call(client, token, '{ flow(id: "1001") { steps(first: "ten") { nodes '
                                         "{ id } } } }"), "argumentLiteralsIncompatible")


@pytest.mark.parametrize("content, ctype", [
    (b"{bad", "application/json"),
    (b'{"query": "{ flows { id } }"', "application/json"),
    (b'{"query": NaN}', "application/json"),
    (b"\xff\xfe", "application/json"),
])
def test_a_malformed_json_body(client, token, content, ctype):
    r = call(client, token, content=content, headers={"Content-Type": ctype})
    assert r.status_code == 400
    [err] = r.json()["errors"]
    assert err["extensions"]["code"] == "badRequest" and err["message"]


def test_a_text_plain_body(client, token):
    r = call(client, token, content=b"{ flows { id } }", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "badRequest"


@pytest.mark.parametrize("kw", [
    {"content": b"", "headers": {"Content-Type": "application/json"}},
    {"content": b""},
    {"json": {}},
    {"json": {"query": ""}},
    {"json": {"query": None, "variables": {}}},
    {"json": {"query": "   \n"}},
])
def test_no_query_string(client, token, kw):
    r = call(client, token, **kw)
    assert r.status_code == 200
    [err] = r.json()["errors"]
    assert err["message"] == "No query string was present"
    assert "data" not in r.json()


@pytest.mark.parametrize("body", [
    {"query": 5}, {"query": ["{ flows { id } }"]},
    {"query": "{ flows { id } }", "variables": [1]},
    {"query": "{ flows { id } }", "variables": "not json"},
    {"query": "{ flows { id } }", "operationName": 7},
])
def test_a_request_of_the_wrong_shape(client, token, body):
    r = call(client, token, content=json.dumps(body).encode(),
             headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "badRequest"


def test_variables_as_a_json_string(client, token):
    r = call(client, token, json={"query": "query($id: ID!) { flow(id: $id) { id } }",
                                  "variables": json.dumps({"id": "1002"})})
    assert data(r) == {"flow": {"id": "1002"}}
    r = call(client, token, json={"query": "{ flow(id: 1002) { id } }", "variables": ""})
    assert data(r) == {"flow": {"id": "1002"}}


def test_operation_name_selects_among_two_operations(client, token):
    document = ('query One { flow(id: "1002") { id } }\n'
                'query Two { findPersonBySalesforceId(salesforceId: "%s") { name } }' % ADA_SFID)
    r = call(client, token, json={"query": document, "operationName": "One"})
    assert data(r) == {"flow": {"id": "1002"}}
    r = call(client, token, json={"query": document, "operationName": "Two"})
    assert data(r) == {"findPersonBySalesforceId": {"name": "Ada Lovelace"}}
    r = call(client, token, json={"query": document})
    assert r.status_code == 200 and r.json()["errors"][0]["extensions"]["code"]
    r = call(client, token, json={"query": document, "operationName": "Three"})
    assert r.status_code == 200 and "Three" in r.json()["errors"][0]["message"]


def test_a_batched_array_is_refused(client, token):
    r = call(client, token, json=[{"query": "{ flows { id } }"}, {"query": "{ flows { id } }"}])
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "badRequest"


def test_a_mutation_and_a_query_in_one_document(client, token):
    document = ('query Q { flow(id: "1002") { id } }\n'
                "mutation M { addPersonToFlow(input: {flowId: 1001, personId: 1}) "
                "{ personFlow { createdAt } } }")
    r = call(client, token, json={"query": document, "operationName": "M"})
    assert data(r)["addPersonToFlow"]["personFlow"]["createdAt"] == "2024-01-15T10:30:00Z"


def test_a_document_with_fragments_aliases_and_directives(client, token):
    r = call(client, token, """
      query($withSteps: Boolean!) {
        a: flow(id: 1002) { ...F }
        b: flow(id: 1003) { ...F }
      }
      fragment F on Flow { id steps @include(if: $withSteps) { nodes { id } } }""",
             {"withSteps": False})
    assert data(r) == {"a": {"id": "1002"}, "b": {"id": "1003"}}


@pytest.mark.parametrize("query", [
    "{ " + "flows { " * 300 + "id" + " }" * 301,
    "{ flows { ...A } } fragment A on Flow { ...B } fragment B on Flow { ...A }",
    "query { " + " ".join(f"f{i}: flows {{ id }}" for i in range(3000)) + " }",
    "{ __typename " + "\x00" + " }",
])
def test_hostile_documents_are_answered_not_crashed(client, token, query):
    r = call(client, token, query)
    assert r.status_code in (200, 400)
    assert r.json()["errors"]


def test_a_long_document_of_whitespace_and_comments_runs(client, token):
    query = "# " + "x" * 20000 + "\n{ flows { id } }" + " " * 20000 + "#"
    assert len(data(call(client, token, query))["flows"]) == 9
    assert len(data(call(client, token, query))["flows"]) == 9   # parsed again, not memoised
