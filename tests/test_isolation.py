"""Isolation (issue 10; tenants, README.md): every vendor's credentials of tenant A against resources that
exist in tenant B only: reads, writes and deletes. Each case gets the vendor's own not-found or
forbidden answer, the answer names nothing of B's, and B's exported state is unchanged.

The matrix is the test ids: `<vendor>-<read|write|delete|auth>-<what>`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest

from mockserver.vendors.integry.errors import CALL_NOT_CONNECTED

from .test_limits import basic, groove_code, groove_tokens, gravy_token, integry_headers, stored

GRAPHQL = "/groove/api/public/v1/graphql"
FLOW = "1001"
B_REGID = "b-only-follower-regid"
B_SALESFORCE = "00Qb0nly0000SfB1AAA"
B_USER = "b-only-user"


@dataclass
class World:
    """Two tenants, B holding resources A cannot have: ids, tokens and codes minted for B."""

    a: dict[str, dict[str, str]]
    b: dict[str, dict[str, str]]
    a_id: str
    b_id: str
    refs: dict[str, Any]


@pytest.fixture
def world(client) -> World:
    def tenant() -> dict[str, Any]:
        r = client.post("/__admin/tenants")
        assert r.status_code == 201, r.text
        return r.json()

    a, b = tenant(), tenant()
    bc = b["credentials"]
    refs: dict[str, Any] = {}
    # Gravy: a connection, an intent token and its short code of B's
    token = gravy_token(client, bc["gravy"])
    r = client.post("/gravy/intent-token", headers={"Authorization": f"Bearer {token}"},
                    json={"integrationId": "expedia", "resources": {"balances": {"read": {}}}})
    assert r.status_code == 201, r.text
    refs["gravy"] = {"token": token, **r.json()}
    # Gravitec: a follower with a tag, and a campaign, of B's main site only
    r = client.post("/__admin/gravitec/subscribers",
                    json={"regId": B_REGID, "tags": ["btag"], "tenant": b["id"]})
    assert r.status_code == 201, r.text
    gb = basic(bc["gravitec"]["appKey"], bc["gravitec"]["appSecret"])
    r = client.post("/gravitec/api/v3/push", headers=gb, json={
        "payload": {"message": "b", "title": "b", "redirect_url": "https://b.example"},
        "audience": {"tokens": [B_REGID]}})
    assert r.status_code == 200, r.text
    refs["gravitec"] = {"campaign": r.json()["id"]}
    # the very calls A makes below, made by B, work: A's refusals are about the tenant alone
    for method, path, form in (("POST", "tag", {"name": "btag2"}),
                               ("DELETE", "tag", {"name": "btag2"}),
                               ("POST", "alias", {"name": "balias"})):
        r = client.request(method, f"/gravitec/api/v3/{path}", headers=gb,
                           params={"regId": B_REGID, **form})
        assert r.status_code == 200, r.text
    # Groove: a person only B has, B's live code and refresh token
    r = client.post("/__admin/groove/people", json={"name": "Bea", "emailAddress": "b@b.io",
                                                    "salesforceId": B_SALESFORCE,
                                                    "tenant": b["id"]})
    assert r.status_code == 201, r.text
    refs["groove"] = {"person": r.json()["id"], "code": groove_code(client, bc["groove"]),
                      "refresh": groove_tokens(client, bc["groove"])["refresh_token"]}
    # Integry: a user of B's with a HubSpot account and a contact made through it
    r = client.post("/__admin/integry/connected-accounts",
                    json={"userId": B_USER, "app": "hubspot", "tenant": b["id"]})
    assert r.status_code == 201, r.text
    account = r.json()["id"]
    r = client.post("/integry/functions/hubspot-create-contact/call",
                    headers=integry_headers(bc["integry"], B_USER),
                    json={"properties": {"email": "b-secret@b.io"}})
    assert r.status_code == 200, r.text
    refs["integry"] = {"account": account}
    # Passage Connect: a link of B's (its id and claim code are B's)
    r = client.post("/passage/v1/links",
                    headers={"Authorization": f"Bearer {bc['passage']['apiKey']}"},
                    json={"integrationId": "tmobile", "resource": "paymentMethod",
                          "action": "read", "externalUserId": "b-only-user"})
    assert r.status_code == 201, r.text
    refs["passage"] = r.json()
    return World(a["credentials"], bc, a["id"], b["id"], refs)


# == each case: A's credentials at B's resource -> (status, body check) ======================
Case = Callable[[Any, World], Any]


def _gravy_bearer(client, w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {gravy_token(client, w.a['gravy'])}"}


def _gravy_publishable(w: World) -> dict[str, str]:
    return {"Authorization": f"Publishable {w.a['gravy']['publishableKey']}"}


GRAVY_NOT_FOUND = {"statusCode": 404, "message": "Connection not found", "error": "Not Found"}


def gravy_read_connection(client, w):
    r = client.get(f"/gravy/connections/{w.refs['gravy']['connectionId']}",
                   headers=_gravy_bearer(client, w))
    assert (r.status_code, r.json()) == (404, GRAVY_NOT_FOUND)


def gravy_read_resource(client, w):
    r = client.get(f"/gravy/connections/{w.refs['gravy']['connectionId']}/balances",
                   headers=_gravy_bearer(client, w))
    assert (r.status_code, r.json()) == (404, GRAVY_NOT_FOUND)


def gravy_read_list(client, w):
    r = client.get("/gravy/connections?limit=100", headers=_gravy_bearer(client, w))
    assert r.status_code == 200
    assert w.refs["gravy"]["connectionId"] not in r.text


def gravy_read_intent_by_short_code(client, w):
    for headers in (_gravy_bearer(client, w), _gravy_publishable(w)):
        r = client.get("/gravy/intent-token",
                       params={"shortCode": w.refs["gravy"]["shortToken"]}, headers=headers)
        assert r.status_code == 404, r.text
        r = client.get(f"/gravy/intent-token-links/short-code/{w.refs['gravy']['shortToken']}",
                       headers=headers)
        assert r.status_code == 404, r.text
        assert w.refs["gravy"]["intentToken"] not in r.text


def gravy_write_validate_intent(client, w):
    for headers in (_gravy_bearer(client, w), _gravy_publishable(w)):
        r = client.post("/gravy/intent-token/validate", headers=headers,
                        json={"intentToken": w.refs["gravy"]["intentToken"]})
        assert (r.status_code, r.json()["message"]) == (401, "Invalid or expired intent token")


def gravy_auth_b_token(client, w):
    """A's client id with B's secret; A's id and a token B holds are no pair either."""
    r = client.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                                "client_id": w.a["gravy"]["clientId"],
                                                "client_secret": w.b["gravy"]["clientSecret"]})
    assert r.status_code == 401, r.text
    assert "access_token" not in r.text


def _gravitec(w: World) -> dict[str, str]:
    return basic(w.a["gravitec"]["appKey"], w.a["gravitec"]["appSecret"])


NO_FOLLOWER = {"httpStatus": "UNPROCESSABLE_ENTITY", "error": "Incomplete by wrong param(s)!",
               "errorDescription": "There is no follower with this regId!"}


def _gravitec_refused(r) -> None:
    assert (r.status_code, r.json()) == (422, NO_FOLLOWER)


def gravitec_read_alias(client, w):
    r = client.get("/gravitec/api/v3/alias", params={"regId": B_REGID}, headers=_gravitec(w))
    assert (r.status_code, r.json()) == (200, {"regIdExists": "false"})  # Gravitec's "unknown"


def gravitec_read_campaign(client, w):
    r = client.get(f"/gravitec/api/v3/messages/{w.refs['gravitec']['campaign']}",
                   headers=_gravitec(w))
    assert r.status_code == 422, r.text


def gravitec_write_tag(client, w):
    r = client.post("/gravitec/api/v3/tag", data={"regId": B_REGID, "name": "from-a"},
                    headers=_gravitec(w))
    _gravitec_refused(r)


def gravitec_write_alias(client, w):
    r = client.post("/gravitec/api/v3/alias", data={"regId": B_REGID, "name": "from-a"},
                    headers=_gravitec(w))
    _gravitec_refused(r)


def gravitec_write_push(client, w):
    """A push naming B's follower reaches nobody of B's."""
    r = client.post("/gravitec/api/v3/push", headers=_gravitec(w), json={
        "payload": {"message": "a", "title": "a", "redirect_url": "https://a.example"},
        "audience": {"tokens": [B_REGID]}})
    if r.status_code == 200:
        stats = client.get(f"/gravitec/api/v3/messages/{r.json()['id']}", headers=_gravitec(w))
        assert stats.json()["send"] == 0
    else:
        _gravitec_refused(r)


def gravitec_delete_tag(client, w):
    r = client.request("DELETE", "/gravitec/api/v3/tag",
                       params={"regId": B_REGID, "name": "btag"}, headers=_gravitec(w))
    _gravitec_refused(r)


def gravitec_auth_b_secret(client, w):
    r = client.get("/gravitec/api/v3/alias", params={"regId": B_REGID},
                   headers=basic(w.a["gravitec"]["appKey"], w.b["gravitec"]["appSecret"]))
    assert r.status_code == 403, r.text


def _groove(client, w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {groove_tokens(client, w.a['groove'])['access_token']}"}


def groove_read_person(client, w):
    r = client.post(GRAPHQL, headers=_groove(client, w), json={
        "query": "query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) { id } }",
        "variables": {"sf": B_SALESFORCE}})
    assert r.status_code == 200
    assert r.json() == {"data": {"findPersonBySalesforceId": None}}


def groove_write_membership(client, w):
    r = client.post(GRAPHQL, headers=_groove(client, w), json={
        "query": "mutation($i: AddPersonToFlowInput!) { addPersonToFlow(input: $i) "
                 "{ personFlow { createdAt } } }",
        "variables": {"i": {"flowId": FLOW, "personId": w.refs["groove"]["person"]}}})
    assert r.status_code == 200
    errors = r.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]
    assert r.json()["data"] == {"addPersonToFlow": None}


def groove_write_code_exchange(client, w):
    a = w.a["groove"]
    r = client.post("/groove/oauth/token", json={
        "grant_type": "authorization_code", "code": w.refs["groove"]["code"],
        "redirect_uri": a["redirectUri"], "client_id": a["clientId"],
        "client_secret": a["clientSecret"]})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def groove_write_refresh(client, w):
    a = w.a["groove"]
    r = client.post("/groove/oauth/token", json={
        "grant_type": "refresh_token", "refresh_token": w.refs["groove"]["refresh"],
        "client_id": a["clientId"], "client_secret": a["clientSecret"]})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def groove_auth_b_secret(client, w):
    r = client.post("/groove/oauth/token", json={
        "grant_type": "refresh_token", "refresh_token": w.refs["groove"]["refresh"],
        "client_id": w.a["groove"]["clientId"], "client_secret": w.b["groove"]["clientSecret"]})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


def _integry(w: World) -> dict[str, str]:
    return integry_headers(w.a["integry"], B_USER)


def _not_connected(r) -> None:
    """Integry's answer for a user with no such account: B's account is not A's user's."""
    assert r.status_code == 400, r.text
    assert r.json()["error"] == CALL_NOT_CONNECTED


def integry_read_app(client, w):
    r = client.post("/integry/apps/hubspot/get", headers=_integry(w))
    assert r.status_code == 200, r.text
    assert str(w.refs["integry"]["account"]) not in r.text


def integry_read_objects(client, w):
    r = client.post("/integry/functions/hubspot-list-contacts/call", headers=_integry(w),
                    json={"connected_account_id": w.refs["integry"]["account"]})
    _not_connected(r)
    assert "b-secret@b.io" not in r.text


def integry_write_call(client, w):
    r = client.post("/integry/functions/hubspot-create-contact/call", headers=_integry(w),
                    json={"properties": {"email": "from-a@a.io"},
                          "connected_account_id": w.refs["integry"]["account"]})
    _not_connected(r)


def integry_delete_passthrough(client, w):
    r = client.post("/integry/functions/hubspot-passthrough-request/call", headers=_integry(w),
                    json={"method": "DELETE", "url": "https://api.hubapi.com/crm/v3/objects/"
                                                     "contacts/1",
                          "connected_account_id": w.refs["integry"]["account"]})
    _not_connected(r)


def integry_auth_b_hash(client, w):
    r = client.post("/integry/apps/list", headers={
        "App-Key": w.a["integry"]["appKey"], "User-ID": B_USER,
        "Hash": integry_headers(w.b["integry"], B_USER)["Hash"]})
    assert (r.status_code, r.json()) == (403, {"detail": "Incorrect authentication credentials."})


def _passage(w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.a['passage']['apiKey']}"}


def passage_read_link(client, w):
    r = client.get(f"/passage/v1/links/{w.refs['passage']['linkId']}", headers=_passage(w))
    assert (r.status_code, r.json()) == (404, {"error": "Link not found"})


def passage_read_list(client, w):
    r = client.get("/passage/v1/links", headers=_passage(w))
    assert r.status_code == 200, r.text
    assert w.refs["passage"]["linkId"] not in r.text and "b-only-user" not in r.text


def passage_write_create(client, w):
    r = client.post("/passage/v1/links", headers=_passage(w), json={
        "integrationId": "tmobile", "resource": "paymentMethod", "action": "read",
        "externalUserId": "b-only-user"})
    assert r.status_code == 201 and r.json()["linkId"] != w.refs["passage"]["linkId"]


def passage_auth_near_miss_key(client, w):
    r = client.get("/passage/v1/links", headers={
        "Authorization": f"Bearer {w.b['passage']['apiKey']}x"})
    assert (r.status_code, r.json()) == (401, {"error": "Missing or invalid API key"})


CASES: dict[str, Case] = {name.replace("_", "-"): fn for name, fn in list(globals().items())
                          if callable(fn) and name.split("_")[0] in
                          ("gravy", "gravitec", "groove", "integry", "passage")
                          and name.split("_")[1] in ("read", "write", "delete", "auth")}


def test_the_matrix_covers_every_vendor_and_kind():
    vendors = {k.split("-")[0] for k in CASES}
    assert vendors == {"gravy", "gravitec", "groove", "integry", "passage"}
    for vendor in vendors:
        kinds = {k.split("-")[1] for k in CASES if k.startswith(vendor + "-")}
        assert {"read", "write", "auth"} <= kinds, vendor


def _b_calls(client, w: World) -> int:
    return client.get("/__admin/requests", params={"tenant": w.b_id, "limit": "0"}).json()["total"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_tenant_a_cannot_reach_tenant_b(client, world, case):
    before, journaled = stored(client, world.b_id), _b_calls(client, world)
    CASES[case](client, world)
    assert stored(client, world.b_id) == before
    # none of A's calls was served as B's (the journal names the tenant a call resolved to)
    assert _b_calls(client, world) == journaled


def test_apps_of_the_same_fixtures_and_seed_share_no_state():
    """Each app's fixture data is made once per process and shared read-only (a Gravy template's
    connections, a Gravitec site's generated followers): a change in one app's store reaches no
    other app, nor an app built after it."""
    from mockserver import create_app

    first, second = create_app(), create_app()
    store = first.tenants.default.stores["gravy"]
    conn = store.own(next(iter(store.connections)))  # the tenant's copy: the template is shared
    site = first.tenants.default.stores["gravitec"].sites["main"]
    follower = next(f for f in site.followers.values() if f.tags)
    conn.status, conn.resources[0].status = "failed_login", "failed"
    follower.tags.append("changed-in-the-first-app")
    for app in (second, create_app()):
        other = app.tenants.default.stores["gravy"].connections[conn.id]
        assert (other.status, other.resources[0].status) != ("failed_login", "failed")
        twin = app.tenants.default.stores["gravitec"].sites["main"].followers[follower.regId]
        assert "changed-in-the-first-app" not in twin.tags
    assert first.vendors["gravy"].template.connections[0] is \
        second.vendors["gravy"].template.connections[0]          # shared, not made again
