"""Tenants: separate credentials, separate data, delete and per-tenant reset."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import Clock, create_app
from tests.conftest import DOC_TIME, MockClient

from .conftest import (BILLING_CONNECTION, DOC_CONNECTION, PUBLISHABLE, SANDBOX, intent_body,
                       open_connection, set_status, token_for)

UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized"}
NOT_FOUND = {"statusCode": 404, "message": "Connection not found", "error": "Not Found"}


def new_tenant(client) -> dict[str, Any]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()


def bearer(client, tenant: dict[str, Any]) -> dict[str, str]:
    creds = tenant["credentials"]["gravy"]
    return {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}


def ids(client, auth: dict[str, str]) -> list[str]:
    out: list[str] = []
    page = 1
    while True:
        r = client.get(f"/gravy/connections?limit=100&page={page}", headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        out += [c["id"] for c in body["data"]]
        if not body["meta"]["hasNext"]:
            return out
        page += 1


def total(client, auth) -> int:
    r = client.get("/gravy/connections?limit=1", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["meta"]["total"]


# -- credentials -----------------------------------------------------------------------------
def test_new_tenant_has_its_own_credentials(client):
    tenant = new_tenant(client)
    creds = tenant["credentials"]["gravy"]
    assert set(creds) == {"clientId", "clientSecret", "publishableKey"}
    default = client.get("/__admin/credentials").json()["gravy"]
    assert default == {"clientId": SANDBOX["client_id"], "clientSecret": SANDBOX["client_secret"],
                       "publishableKey": PUBLISHABLE}
    for key in creds:
        assert creds[key] and creds[key] != default[key]
    assert creds["publishableKey"].startswith("pk-")
    assert new_tenant(client)["credentials"]["gravy"] != creds
    listed = [t["id"] for t in client.get("/__admin/tenants").json()["tenants"]]
    assert "default" in listed and tenant["id"] in listed


def test_tenant_credentials_are_not_interchangeable(client):
    tenant = new_tenant(client)
    creds = tenant["credentials"]["gravy"]
    for cid, secret in ((creds["clientId"], SANDBOX["client_secret"]),
                        (SANDBOX["client_id"], creds["clientSecret"])):
        r = client.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                                    "client_id": cid, "client_secret": secret})
        assert r.status_code == 401
        assert r.json() == {"statusCode": 401, "message": "Invalid client credentials",
                            "error": "Unauthorized"}


def test_new_tenant_starts_from_the_fixtures(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    assert ids(client, theirs) == ids(client, auth)
    a = client.get(f"/gravy/connections/{DOC_CONNECTION}/balances", headers=theirs).json()
    b = client.get(f"/gravy/connections/{DOC_CONNECTION}/balances", headers=auth).json()
    assert a == b


# -- isolation -------------------------------------------------------------------------------
def test_default_data_is_invisible_to_a_tenant_and_back(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    mine = open_connection(client, auth)
    yours = open_connection(client, theirs)
    for headers, cid in ((theirs, mine["connectionId"]), (auth, yours["connectionId"])):
        r = client.get(f"/gravy/connections/{cid}", headers=headers)
        assert r.status_code == 404
        assert r.json() == NOT_FOUND
        r = client.get(f"/gravy/connections/{cid}/reading-history", headers=headers)
        assert r.status_code == 404
        assert r.json() == NOT_FOUND
    assert mine["connectionId"] not in ids(client, theirs)
    assert yours["connectionId"] not in ids(client, auth)
    assert total(client, auth) == total(client, theirs) == 151
    # each side still sees its own
    assert client.get(f"/gravy/connections/{mine['connectionId']}",
                      headers=auth).status_code == 200
    assert client.get(f"/gravy/connections/{yours['connectionId']}",
                      headers=theirs).status_code == 200


def test_short_codes_do_not_cross_tenants(client, auth):
    theirs = bearer(client, new_tenant(client))
    mine = open_connection(client, auth)
    r = client.get(f"/gravy/intent-token?shortCode={mine['shortToken']}", headers=theirs)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Intent token not found",
                        "error": "Not Found"}


def test_publishable_key_of_a_tenant_creates_in_that_tenant(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    pk = {"Authorization": f"Publishable {tenant['credentials']['gravy']['publishableKey']}"}
    created = open_connection(client, pk)
    assert client.get(f"/gravy/connections/{created['connectionId']}",
                      headers=theirs).status_code == 200
    assert client.get(f"/gravy/connections/{created['connectionId']}",
                      headers=auth).status_code == 404
    assert total(client, auth) == 150


def test_changing_a_fixture_connection_in_one_tenant_leaves_the_other(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    r = client.post(f"/__admin/gravy/connections/{DOC_CONNECTION}/status",
                    json={"status": "data_processing", "tenant": tenant["id"]})
    assert r.status_code == 200, r.text
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}",
                      headers=theirs).json()["status"] == "data_processing"
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}/balances",
                      headers=theirs).status_code == 404
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}",
                      headers=auth).json()["status"] == "data_available"
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}/balances",
                      headers=auth).status_code == 200


def test_admin_status_acts_on_the_named_tenant_only(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    created = open_connection(client, theirs)
    cid = created["connectionId"]
    r = set_status(client, cid, "connected")
    assert r.status_code == 404
    assert r.json() == {"error": f"no connection {cid} in tenant default"}
    r = set_status(client, cid, "connected", tenant=tenant["id"])
    assert r.status_code == 200
    assert client.get(f"/gravy/connections/{cid}", headers=theirs).json()["status"] == "connected"
    r = set_status(client, cid, "connected", tenant="t_nope")
    assert r.status_code == 404
    assert r.json() == {"error": "no tenant t_nope"}


def test_webhooks_are_journaled_under_their_tenant(client, receiver):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    created = open_connection(client, theirs, webhookUrl=receiver.url)
    r = set_status(client, created["connectionId"], "connecting", tenant=tenant["id"])
    assert r.status_code == 200
    assert len(receiver.requests) == 1
    calls = client.get(f"/__admin/requests?kind=webhook&tenant={tenant['id']}").json()
    assert calls["total"] == 1
    assert client.get("/__admin/requests?kind=webhook&tenant=default").json()["total"] == 0


def test_intent_token_of_one_tenant_cannot_read_through_another(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    created = open_connection(client, theirs)
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available", tenant=tenant["id"]).status_code == 200
    x = {"x-intent-token": created["intentToken"]}
    assert client.get(f"/gravy/connections/{cid}/reading-history", headers=x).status_code == 200
    for other in (DOC_CONNECTION, BILLING_CONNECTION):
        r = client.get(f"/gravy/connections/{other}", headers=x)
        assert r.status_code == 401
        assert r.json() == UNAUTHORIZED


# -- delete ----------------------------------------------------------------------------------
def test_deleting_a_tenant_revokes_everything_it_had(client, auth):
    tenant = new_tenant(client)
    creds = tenant["credentials"]["gravy"]
    theirs = bearer(client, tenant)
    created = open_connection(client, theirs)
    assert client.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204
    r = client.get("/gravy/connections", headers=theirs)
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED
    r = client.get(f"/gravy/connections/{created['connectionId']}",
                   headers={"x-intent-token": created["intentToken"]})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED
    r = client.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                                "client_id": creds["clientId"],
                                                "client_secret": creds["clientSecret"]})
    assert r.status_code == 401
    r = client.post("/gravy/intent-token", json=intent_body(),
                    headers={"Authorization": f"Publishable {creds['publishableKey']}"})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED
    listed = [t["id"] for t in client.get("/__admin/tenants").json()["tenants"]]
    assert tenant["id"] not in listed
    # the default tenant is untouched
    assert client.get("/gravy/connections", headers=auth).status_code == 200
    assert total(client, {"Authorization": f"Bearer {token_for(client)}"}) == 150


def test_public_short_code_and_validate_end_with_their_tenant(client):
    """Without credentials the code or token names its tenant; deleting the tenant ends both."""
    tenant = new_tenant(client)
    created = open_connection(client, bearer(client, tenant))
    url = f"/gravy/intent-token?shortCode={created['shortToken']}"
    body = {"intentToken": created["intentToken"]}
    assert client.get(url).status_code == 200
    assert client.post("/gravy/intent-token/validate", json=body).status_code == 201
    assert client.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204
    assert client.get(url).status_code == 404
    assert client.post("/gravy/intent-token/validate", json=body).status_code == 401


def test_public_short_code_is_gone_after_its_tenant_is_reset(client, auth):
    created = open_connection(client, auth)
    client.post("/__admin/reset", json={"tenant": "default"})
    r = client.get(f"/gravy/intent-token?shortCode={created['shortToken']}")
    assert r.status_code == 404


def test_delete_twice_and_default(client):
    tenant = new_tenant(client)
    assert client.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204
    r = client.delete(f"/__admin/tenants/{tenant['id']}")
    assert r.status_code == 404
    assert r.json() == {"error": f"no tenant {tenant['id']}"}
    r = client.delete("/__admin/tenants/default")
    assert r.status_code == 400
    assert r.json() == {"error": "the default tenant cannot be deleted"}


def test_default_credentials_always_work(client):
    for _ in range(2):
        t = new_tenant(client)
        client.delete(f"/__admin/tenants/{t['id']}")
    client.post("/__admin/reset", json={})
    token = token_for(client)
    assert client.get("/gravy/connections", headers={"Authorization": f"Bearer {token}"}) \
        .status_code == 200
    assert client.post("/gravy/intent-token", json=intent_body(),
                       headers={"Authorization": f"Publishable {PUBLISHABLE}"}).status_code == 201


# -- reset -----------------------------------------------------------------------------------
def test_reset_one_tenant_only(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    mine = open_connection(client, auth)
    yours = open_connection(client, theirs)
    assert set_status(client, DOC_CONNECTION, "inactive").status_code == 200
    assert set_status(client, DOC_CONNECTION, "inactive", tenant=tenant["id"]).status_code == 200
    r = client.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert r.status_code == 200
    assert r.json() == {"reset": [tenant["id"]]}
    # the tenant is back to its fixtures, and its credentials still work
    theirs = bearer(client, tenant)
    assert total(client, theirs) == 150
    assert client.get(f"/gravy/connections/{yours['connectionId']}",
                      headers=theirs).status_code == 404
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}",
                      headers=theirs).json()["status"] == "data_available"
    # the default tenant kept its changes
    assert total(client, auth) == 151
    assert client.get(f"/gravy/connections/{mine['connectionId']}",
                      headers=auth).status_code == 200
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}",
                      headers=auth).json()["status"] == "inactive"


def test_reset_one_tenant_keeps_other_journals(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    client.get("/gravy/connections?limit=1", headers=auth)
    client.get("/gravy/connections?limit=1", headers=theirs)
    assert client.get(f"/__admin/requests?tenant={tenant['id']}").json()["total"] > 0
    before_default = client.get("/__admin/requests?tenant=default").json()["total"]
    client.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert client.get(f"/__admin/requests?tenant={tenant['id']}").json()["total"] == 0
    assert client.get("/__admin/requests?tenant=default").json()["total"] == before_default


def test_reset_unknown_tenant_is_404(client, auth):
    open_connection(client, auth)
    r = client.post("/__admin/reset", json={"tenant": "t_nope"})
    assert r.status_code == 404
    assert r.json() == {"error": "no tenant t_nope"}
    assert total(client, auth) == 151


def test_reset_everything_keeps_tenants(client, auth):
    tenant = new_tenant(client)
    theirs = bearer(client, tenant)
    open_connection(client, auth)
    open_connection(client, theirs)
    r = client.post("/__admin/reset", json={})
    assert r.status_code == 200
    assert set(r.json()["reset"]) == {"default", tenant["id"]}
    assert total(client, bearer(client, tenant)) == 150
    assert total(client, {"Authorization": f"Bearer {token_for(client)}"}) == 150


# -- property: tenants never see each other's connections ------------------------------------
STATUS_TARGETS = ["connecting", "connected", "data_processing", "data_available",
                  "data_partially_available", "failed", "canceled", "inactive", "pending"]
FIXTURES = [DOC_CONNECTION, BILLING_CONNECTION]
op = st.one_of(
    st.tuples(st.just("open"), st.sampled_from("AB")),
    st.tuples(st.just("move"), st.sampled_from("AB"), st.integers(0, 20),
              st.sampled_from(STATUS_TARGETS)),
    st.tuples(st.just("fixture"), st.sampled_from("AB"), st.sampled_from(FIXTURES),
              st.sampled_from(STATUS_TARGETS)),
)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=st.lists(op, min_size=1, max_size=8))
def test_tenants_never_see_each_others_connections(ops):
    client = MockClient(create_app(seed=0, clock=Clock(DOC_TIME)))
    try:
        tenant_b = new_tenant(client)
        tid = {"A": None, "B": tenant_b["id"]}
        headers = {"A": {"Authorization": f"Bearer {token_for(client)}"},
                   "B": bearer(client, tenant_b)}
        opened: dict[str, list[str]] = {"A": [], "B": []}
        status: dict[tuple[str, str], str] = {}
        for name in "AB":
            for fid in FIXTURES:
                status[(name, fid)] = "data_available"
        for o in ops:
            if o[0] == "open":
                name = o[1]
                created = open_connection(client, headers[name])
                opened[name].append(created["connectionId"])
                status[(name, created["connectionId"])] = "pending"
                client.post("/__admin/clock", json={"advance": 1})
                continue
            _, name, pick, target = o
            if o[0] == "move":
                if not opened[name]:
                    continue
                cid = opened[name][pick % len(opened[name])]
            else:
                cid = pick
            extra = {"tenant": tid[name]} if tid[name] else {}
            r = set_status(client, cid, target, **extra)
            assert r.status_code in (200, 409), r.text
            if r.status_code == 200:
                status[(name, cid)] = target
            # the other tenant cannot be moved through this tenant's connection
            other = "B" if name == "A" else "A"
            if o[0] == "move":
                extra = {"tenant": tid[other]} if tid[other] else {}
                assert set_status(client, cid, target, **extra).status_code == 404
        for name, other in (("A", "B"), ("B", "A")):
            listed = ids(client, headers[name])
            assert len(listed) == len(set(listed)) == 150 + len(opened[name])
            assert set(opened[name]) <= set(listed)
            assert not set(opened[other]) & set(listed)
            for cid in opened[other]:
                assert client.get(f"/gravy/connections/{cid}",
                                  headers=headers[name]).status_code == 404
            for (owner, cid), want in status.items():
                if owner == name:
                    got = client.get(f"/gravy/connections/{cid}", headers=headers[name])
                    assert got.status_code == 200
                    assert got.json()["status"] == want, (name, cid)
    finally:
        client.close()
