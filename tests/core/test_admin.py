import pytest

from mockserver import create_app

from ..conftest import MockClient
from ..gravy.conftest import open_connection, token_for

CREDENTIALS = {
    "gravy": {"clientId": "gravy-sandbox-client", "clientSecret": "gravy-sandbox-secret",
              "publishableKey": "pk-test-sandbox"},
}


def test_health_and_credentials(client):
    assert client.get("/__admin/health").json() == {"status": "ok"}
    creds = client.get("/__admin/credentials").json()
    assert creds["gravy"] == CREDENTIALS["gravy"]


def test_tenants_create_list_delete(client):
    r = client.post("/__admin/tenants")
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "credentials"}
    assert set(body["credentials"]["gravy"]) == set(CREDENTIALS["gravy"])
    assert body["credentials"]["gravy"] != CREDENTIALS["gravy"]
    ids = [t["id"] for t in client.get("/__admin/tenants").json()["tenants"]]
    assert ids == ["default", body["id"]]
    assert client.delete(f"/__admin/tenants/{body['id']}").status_code == 204
    assert client.delete(f"/__admin/tenants/{body['id']}").status_code == 404
    assert client.delete("/__admin/tenants/default").status_code == 400


def test_reset_restores_fixtures_and_clears_the_journal(client, app):
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    open_connection(client, auth)
    assert client.get("/gravy/connections", headers=auth).json()["meta"]["total"] == 151
    r = client.post("/__admin/reset")
    assert r.status_code == 200
    assert not app.journal.called
    # Tokens live in the tenant's state: a reset ends them, a new one sees the fixtures.
    assert client.get("/gravy/connections", headers=auth).status_code == 401
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    assert client.get("/gravy/connections", headers=auth).json()["meta"]["total"] == 150


def test_reset_one_tenant_leaves_the_others(client):
    tenant = client.post("/__admin/tenants").json()
    mine = {"Authorization": f"Bearer {token_for(client)}"}
    creds = tenant["credentials"]["gravy"]
    theirs = {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}
    open_connection(client, mine)
    open_connection(client, theirs)
    client.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert client.get("/gravy/connections", headers=mine).json()["meta"]["total"] == 151
    assert client.get("/gravy/connections", headers=theirs).status_code == 401  # reset ended it
    theirs = {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}
    assert client.get("/gravy/connections", headers=theirs).json()["meta"]["total"] == 150
    assert client.post("/__admin/reset", json={"tenant": "t_nope"}).status_code == 404


def test_reset_copies_state_but_shares_immutable_fixture_data(app):
    """Why reset is cheap: generated resource data is shared, only mutable state is copied."""
    store = app.tenants.default.stores["gravy"]
    conn = store.connections["conn_789xyz123abc"]
    from mockserver.vendors.gravy.resources import kind_for
    first = store.resource_set(conn, kind_for("balances"))
    app.tenants.reset()
    store2 = app.tenants.default.stores["gravy"]
    assert store2 is not store
    assert store2.connections["conn_789xyz123abc"] is not conn
    assert store2.resource_set(store2.connections["conn_789xyz123abc"],
                               kind_for("balances")) is first


def test_admin_token_protects_the_control_plane():
    c = MockClient(create_app(admin_token="s3cret"))
    try:
        assert c.get("/__admin/health").status_code == 401
        assert c.get("/__admin/health", headers={"X-Admin-Token": "wrong"}).status_code == 401
        assert c.get("/__admin/health", headers={"X-Admin-Token": "s3cret"}).json() == {"status": "ok"}
        assert c.get("/__admin/?token=s3cret").status_code == 200
        # Vendors are not behind the admin token.
        assert c.get("/gravy/integrations").status_code == 200
    finally:
        c.close()


def test_sandbox_page(client):
    r = client.get("/__admin/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "/__admin/requests" in r.text and "/__admin/reset" in r.text


@pytest.mark.parametrize("path", ["/__admin/nope", "/__admin/reset"])
def test_admin_unknown_or_wrong_method(client, path):
    r = client.get(path)
    assert r.status_code in (404, 405) and "error" in r.json()


def test_same_seed_same_fixture_bytes():
    a, b = MockClient(create_app(seed=7)), MockClient(create_app(seed=7))
    try:
        for c in (a, b):
            c.token = token_for(c)
        path = "/gravy/connections?limit=100&page=2"
        ra = a.get(path, headers={"Authorization": f"Bearer {a.token}"}).json()
        rb = b.get(path, headers={"Authorization": f"Bearer {b.token}"}).json()
        ra.pop("timestamp"), rb.pop("timestamp")
        assert ra == rb
    finally:
        a.close(), b.close()
