"""The GraphQL answer cache (schema.Executor.recall) never serves a stale or foreign answer: a
write, a reset or an import moves what a query reads, each tenant answers from its own store,
a mutation always runs, and the rate-limit meter counts every call, cached or not."""
from __future__ import annotations

import pytest


from .conftest import LONG_FLOW, gql, new_tenant, tokens_for

FIND = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
        "{ id name emailAddress } }")
PEOPLE = "/__admin/groove/people"
SFID = "0035e00000Cach01AAA"
TESS = {"name": "Tess Cache", "emailAddress": "tess@example.com", "salesforceId": SFID}


def find(client, token: str) -> dict | None:
    r = gql(client, token, FIND, {"sf": SFID})
    assert r.status_code == 200, r.text
    return r.json()["data"]["findPersonBySalesforceId"]


@pytest.fixture
def token(client) -> str:
    return tokens_for(client)["access_token"]


def test_a_person_added_after_a_query_is_found_by_the_same_query(client, token):
    assert find(client, token) is None
    assert find(client, token) is None                  # now answered from the cache
    r = client.post(PEOPLE, json=TESS)
    assert r.status_code == 201, r.text
    assert find(client, token) == {"id": r.json()["id"], "name": "Tess Cache",
                                   "emailAddress": "tess@example.com"}


def test_each_tenant_answers_the_same_query_from_its_own_store(client, token):
    tenant, theirs = new_tenant(client)
    assert find(client, token) is None and find(client, theirs) is None
    assert client.post(PEOPLE, json={**TESS, "tenant": tenant}).status_code == 201
    assert find(client, theirs)["name"] == "Tess Cache"
    assert find(client, token) is None
    # and a second token of the same tenant sees the same data
    assert find(client, tokens_for(client)["access_token"]) is None


def test_a_reset_and_an_import_are_seen_by_a_cached_query(client, token):
    assert client.post(PEOPLE, json=TESS).status_code == 201
    assert find(client, token)["name"] == "Tess Cache"
    state = client.get("/__admin/state").content
    assert client.post("/__admin/reset", json={}).status_code == 200
    token = tokens_for(client)["access_token"]
    assert find(client, token) is None
    assert client.put("/__admin/state", content=state).status_code == 200
    token = tokens_for(client)["access_token"]
    assert find(client, token)["name"] == "Tess Cache"


def test_a_mutation_runs_every_time_even_in_a_document_with_a_query(client, token):
    doc = ("query Read { flow(id: \"%s\") { id } } "
           "mutation Add { addPersonToFlow(input: {flowId: \"%s\", personId: \"1\"}) "
           "{ personFlow { createdAt } } }") % (LONG_FLOW, LONG_FLOW)
    first = client.post("/groove/api/public/v1/graphql", json={"query": doc,
                                                               "operationName": "Add"},
                        headers={"Authorization": f"Bearer {token}"})
    assert first.json() == {"data": {"addPersonToFlow": {"personFlow": {
        "createdAt": "2024-01-15T10:30:00Z"}}}}
    again = client.post("/groove/api/public/v1/graphql", json={"query": doc,
                                                               "operationName": "Add"},
                        headers={"Authorization": f"Bearer {token}"})
    assert again.json()["errors"][0]["extensions"]["code"] == "ALREADY_EXISTS"


def test_variables_and_operation_names_are_part_of_the_key(client, token):
    q = "query A($id: ID!) { flow(id: $id) { id } } query B { flows { id } }"
    body = {"query": q, "variables": {"id": "1002"}, "operationName": "A"}
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/groove/api/public/v1/graphql", json=body, headers=headers)
    assert r.json() == {"data": {"flow": {"id": "1002"}}}
    r = client.post("/groove/api/public/v1/graphql", json={**body, "variables": {"id": "1003"}},
                    headers=headers)
    assert r.json() == {"data": {"flow": {"id": "1003"}}}
    r = client.post("/groove/api/public/v1/graphql", json={**body, "operationName": "B"},
                    headers=headers)
    assert [f["id"] for f in r.json()["data"]["flows"]][:1] == [LONG_FLOW]


def test_the_rate_limit_meter_counts_cached_answers(client, token):
    remaining = [int(gql(client, token, "{ flows { id } }").headers["x-ratelimit-remaining"])
                 for _ in range(3)]
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2]


def test_the_answer_cache_is_bounded(client, token, app):
    results = app.vendors["groove"].service.executor._results
    results.size = 8
    q = "query($id: ID!) { flow(id: $id) { id } }"
    seen = []
    for i in range(20):
        assert gql(client, token, q, {"id": str(1000 + i)}).status_code == 200
        seen.append(len(results))
    assert max(seen) == 8 and len(results) <= 8
    assert gql(client, token, q, {"id": LONG_FLOW}).json() == {"data": {"flow": {
        "id": LONG_FLOW}}}


def test_the_same_body_under_another_content_type_is_another_request(client, token):
    raw = b'{"query": "{ flows { id } }"}'
    url, auth = "/groove/api/public/v1/graphql", {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        r = client.post(url, content=raw, headers={**auth, "Content-Type": "application/graphql"})
        assert r.status_code == 200 and r.json()["errors"][0]["extensions"]["code"] == \
            "parseError"
        r = client.post(url, content=raw, headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 200 and r.json()["data"]["flows"][0] == {"id": LONG_FLOW}
