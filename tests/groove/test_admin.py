"""Groove's control-plane calls: POST /__admin/groove/people and POST /__admin/groove/rate-limit.
A refused call changes nothing (the tenant's snapshot is compared around it)."""
from __future__ import annotations

import pytest

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient
from .conftest import gql, new_tenant, tokens_for

PEOPLE = "/__admin/groove/people"
RATE = "/__admin/groove/rate-limit"
FIND = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
        "{ id name emailAddress } }")
FIXTURE_PEOPLE = 50          # fixtures.json's 2 and generator.json's 48


def snapshot(app, tenant: str = "default"):
    return app.vendors["groove"].snapshot(app.tenants.get(tenant).stores["groove"])


def find(client, token: str, sfid: str):
    r = gql(client, token, FIND, {"sf": sfid})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    return r.json()["data"]["findPersonBySalesforceId"]


# -- people ----------------------------------------------------------------------------------
def test_add_a_person(client):
    token = tokens_for(client)["access_token"]
    r = client.post(PEOPLE, json={"name": "Katherine Johnson",
                                  "emailAddress": "katherine@example.com",
                                  "salesforceId": "0035e00000Kath01AAA"})
    assert r.status_code == 201
    assert r.json() == {"tenant": "default", "id": str(FIXTURE_PEOPLE + 1),
                        "name": "Katherine Johnson", "emailAddress": "katherine@example.com",
                        "salesforceId": "0035e00000Kath01AAA"}
    assert find(client, token, "0035e00000Kath01AAA") == {
        "id": str(FIXTURE_PEOPLE + 1), "name": "Katherine Johnson",
        "emailAddress": "katherine@example.com"}
    # without a Salesforce id: a new id still, and a person a flow takes
    r = client.post(PEOPLE, json={"name": "Dorothy Vaughan", "emailAddress": "dv@example.com"})
    assert r.status_code == 201
    assert r.json()["id"] == str(FIXTURE_PEOPLE + 2) and r.json()["salesforceId"] is None
    r = gql(client, token, 'mutation { addPersonToFlow(input: {flowId: "1002", personId: "%s"}) '
                           "{ personFlow { person { name } } } }" % (FIXTURE_PEOPLE + 2))
    assert r.json() == {"data": {"addPersonToFlow": {"personFlow": {
        "person": {"name": "Dorothy Vaughan"}}}}}


@pytest.mark.parametrize("sfid", ["0035e00000Ada001AAA", "00Q5e00000Grace1AAA"])
def test_a_duplicate_salesforce_id_is_a_conflict(client, app, sfid):
    before = snapshot(app)
    r = client.post(PEOPLE, json={"name": "Someone", "emailAddress": "s@example.com",
                                  "salesforceId": sfid})
    assert r.status_code == 409 and sfid in r.json()["error"]
    assert snapshot(app) == before


def test_a_salesforce_id_added_once_is_taken(client, app):
    body = {"name": "A", "emailAddress": "a@example.com", "salesforceId": "003NEW"}
    assert client.post(PEOPLE, json=body).status_code == 201
    before = snapshot(app)
    assert client.post(PEOPLE, json={**body, "name": "B"}).status_code == 409
    assert snapshot(app) == before


@pytest.mark.parametrize("body", [
    {"emailAddress": "x@example.com"},
    {"name": "X"},
    {"name": "", "emailAddress": "x@example.com"},
    {"name": "   ", "emailAddress": "x@example.com"},
    {"name": "X", "emailAddress": ""},
    {"name": 5, "emailAddress": "x@example.com"},
    {"name": ["X"], "emailAddress": "x@example.com"},
    {"name": "X" * 256, "emailAddress": "x@example.com"},
    {"name": "X", "emailAddress": "x@example.com", "salesforceId": ""},
    {"name": "X", "emailAddress": "x@example.com", "salesforceId": 35},
    {"name": "X", "emailAddress": None},
])
def test_bad_input_is_a_400_and_changes_nothing(client, app, body):
    before = snapshot(app)
    r = client.post(PEOPLE, json=body)
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["error"], str)
    assert snapshot(app) == before


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'"text"', b'{"name": NaN}'])
def test_a_body_that_is_not_a_json_object_is_a_400(client, app, content):
    before = snapshot(app)
    r = client.post(PEOPLE, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert snapshot(app) == before


def test_the_tenant_named_in_the_body_gets_the_person(client, app):
    tenant, token = new_tenant(client)
    default_token = tokens_for(client)["access_token"]
    default_before = snapshot(app)
    r = client.post(PEOPLE, json={"name": "T", "emailAddress": "t@example.com",
                                  "salesforceId": "003TENANT", "tenant": tenant})
    assert r.status_code == 201 and r.json()["tenant"] == tenant
    assert find(client, token, "003TENANT")["name"] == "T"
    assert find(client, default_token, "003TENANT") is None
    assert snapshot(app) == default_before
    # the same Salesforce id is free in the default tenant
    r = client.post(PEOPLE, json={"name": "D", "emailAddress": "d@example.com",
                                  "salesforceId": "003TENANT"})
    assert r.status_code == 201 and r.json()["tenant"] == "default"
    assert find(client, default_token, "003TENANT")["name"] == "D"
    assert find(client, token, "003TENANT")["name"] == "T"


@pytest.mark.parametrize("tenant", ["t_nope", 5, ["default"]])
def test_an_unknown_tenant_changes_nothing(client, app, tenant):
    before = snapshot(app)
    r = client.post(PEOPLE, json={"name": "X", "emailAddress": "x@example.com",
                                  "tenant": tenant})
    assert r.status_code == 404
    assert snapshot(app) == before


def test_people_are_bounded_by_max_sessions():
    client = MockClient(create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=2))
    try:
        for i in range(2):
            assert client.post(PEOPLE, json={"name": f"P{i}", "emailAddress": "p@e.com"}
                               ).status_code == 201
        r = client.post(PEOPLE, json={"name": "P2", "emailAddress": "p@e.com"})
        assert r.status_code == 409
    finally:
        client.close()


def test_a_reset_forgets_added_people_and_the_limit(client, app):
    client.post(PEOPLE, json={"name": "X", "emailAddress": "x@e.com", "salesforceId": "003R"})
    client.post(RATE, json={"limit": 7})
    assert client.post("/__admin/reset", json={}).status_code == 200
    token = tokens_for(client)["access_token"]
    assert find(client, token, "003R") is None
    r = gql(client, token, "{ flows { id } }")
    assert r.headers["x-ratelimit-limit"] == "100"
    r = client.post(PEOPLE, json={"name": "X", "emailAddress": "x@e.com"})
    assert r.json()["id"] == str(FIXTURE_PEOPLE + 1)


# -- rate limit ------------------------------------------------------------------------------
def test_set_the_rate_limit(client, app):
    token = tokens_for(client)["access_token"]
    r = client.post(RATE, json={"limit": 5})
    assert r.status_code == 200 and r.json() == {"tenant": "default", "limit": 5}
    assert snapshot(app)["rateLimit"] == 5
    assert gql(client, token, "{ flows { id } }").headers["x-ratelimit-limit"] == "5"
    r = client.post(RATE, json={"limit": 1_000_000})
    assert r.status_code == 200 and snapshot(app)["rateLimit"] == 1_000_000
    r = client.post(RATE, json={"limit": 7.0})          # JSON numbers as JSON.parse reads them
    assert r.status_code == 200 and r.json()["limit"] == 7
    assert client.post(RATE, json={"limit": 1}).status_code == 200
    assert gql(client, token, "{ flows { id } }").status_code == 429


@pytest.mark.parametrize("body", [{"limit": 0}, {"limit": -1}, {"limit": 1.5},
                                  {"limit": "5"}, {"limit": True}, {"limit": None}, {},
                                  {"limit": 1_000_001}, {"limit": 10 ** 40}, {"limit": {}}])
def test_a_bad_rate_limit_is_a_400_and_changes_nothing(client, app, body):
    before = snapshot(app)
    r = client.post(RATE, json=body)
    assert r.status_code == 400 and "limit" in r.json()["error"]
    assert snapshot(app) == before


def test_the_rate_limit_of_a_named_tenant_only(client, app):
    tenant, token = new_tenant(client)
    default_token = tokens_for(client)["access_token"]
    r = client.post(RATE, json={"limit": 2, "tenant": tenant})
    assert r.status_code == 200 and r.json() == {"tenant": tenant, "limit": 2}
    assert snapshot(app)["rateLimit"] == 100 and snapshot(app, tenant)["rateLimit"] == 2
    statuses = [gql(client, token, "{ flows { id } }").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert gql(client, default_token, "{ flows { id } }").headers["x-ratelimit-limit"] == "100"
    before = snapshot(app)
    assert client.post(RATE, json={"limit": 2, "tenant": "t_nope"}).status_code == 404
    assert snapshot(app) == before
