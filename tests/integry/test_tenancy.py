"""Integry and tenants: a created tenant's App-Key and App-Secret sign its own users' calls, its
state is its own, resets restore the fixtures, and the default credentials are README.md's."""
from __future__ import annotations

from typing import Any

from mockserver import Clock, create_app

from ..conftest import DOC_TIME
from .conftest import APP_KEY, APP_SECRET, BASE, USER_ID, call, headers, sign
from .support import ADMIN_ACCOUNTS, connect, snapshot, store

INCORRECT = {"detail": "Incorrect authentication credentials."}
SPEC = {"appKey": "002d4f23-778a-11e7-bf2a-42010a8002c7", "appSecret": "integry-sandbox-secret",
        "userId": "123456"}


def new_tenant(client) -> tuple[str, dict[str, str]]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["credentials"]["integry"]


def signed(creds: dict[str, str], user: str = USER_ID) -> dict[str, str]:
    return headers(user, creds["appKey"], creds["appSecret"])


def post(client, path: str, hdrs: dict[str, str], body: Any = None, **kw: Any):
    return client.post(BASE + path, json=body, headers=hdrs, **kw)


def test_the_default_credentials_are_specs(client):
    r = client.get("/__admin/credentials")
    assert r.status_code == 200
    assert r.json()["integry"] == SPEC
    assert (SPEC["appKey"], SPEC["appSecret"], SPEC["userId"]) == (APP_KEY, APP_SECRET, USER_ID)


def test_a_new_tenants_credentials(client):
    _, creds = new_tenant(client)
    assert set(creds) == {"appKey", "appSecret", "userId"}
    assert creds["appKey"] != APP_KEY and creds["appSecret"] != APP_SECRET
    assert creds["userId"] == USER_ID
    _, other = new_tenant(client)
    assert other["appKey"] != creds["appKey"] and other["appSecret"] != creds["appSecret"]


def test_a_tenants_key_signs_its_own_users(client):
    _, creds = new_tenant(client)
    for user in (USER_ID, "alice", "bob@example.com"):
        r = post(client, "/apps/list/", signed(creds, user), {})
        assert r.status_code == 200, r.text
    # Node SDK style too
    r = client.post(BASE + "/apps/slack/get", params={
        "app_key": creds["appKey"], "user_id": "alice",
        "hash": sign("alice", creds["appSecret"])})
    assert r.status_code == 200
    # the default secret does not sign for the tenant's key, nor its secret for the default key
    r = post(client, "/apps/list/", {**signed(creds), "Hash": sign()}, {})
    assert r.status_code == 403 and r.json() == INCORRECT
    r = post(client, "/apps/list/", {**headers(), "Hash": sign(USER_ID, creds["appSecret"])}, {})
    assert r.status_code == 403 and r.json() == INCORRECT


def test_a_tenant_starts_from_the_fixtures(client):
    _, creds = new_tenant(client)
    mine = post(client, "/apps/pipedrive/get/", signed(creds)).json()
    assert mine == call(client, "/apps/pipedrive/get/").json()
    r = post(client, "/functions/slack-post-message/call/", signed(creds),
             {"channel": "random", "text": "hello"})
    assert r.status_code == 200   # the workspace's Slack account


def test_a_tenant_never_sees_the_defaults_new_accounts(client, app):
    tenant, creds = new_tenant(client)
    connect(client, USER_ID, "hubspot")
    connect(client, "alice", "gmail")
    assert post(client, "/apps/hubspot/get/", signed(creds)).json()["connected_accounts"] == []
    assert post(client, "/apps/gmail/get/", signed(creds, "alice")).json()[
        "connected_accounts"] == []
    r = post(client, "/functions/hubspot-create-contact/call/", signed(creds), {})
    assert r.status_code == 400
    listed = post(client, "/apps/list/", signed(creds), {},
                  params={"connected_only": "true"}).json()
    assert [a["name"] for a in listed["apps"]] == ["pipedrive"]
    # and the other way round
    r = client.post(ADMIN_ACCOUNTS, json={"userId": "alice", "app": "trello",
                                          "tenant": tenant})
    assert r.status_code == 201 and r.json()["tenant"] == tenant
    assert call(client, "/apps/trello/get/", user_id="alice").json()["connected_accounts"] == []
    assert [a["id"] for a in post(client, "/apps/trello/get/", signed(creds, "alice")).json()[
        "connected_accounts"]] == [r.json()["id"]]


def test_a_tenants_calls_and_objects_are_its_own(client, app):
    tenant, creds = new_tenant(client)
    client.post(ADMIN_ACCOUNTS, json={"userId": USER_ID, "app": "hubspot", "tenant": tenant})
    r = post(client, "/functions/hubspot-create-contact/call/", signed(creds),
             {"properties": {"email": "t@example.com"}})
    assert r.status_code == 200
    assert store(app, tenant).calls[USER_ID][0]["function"] == "hubspot-create-contact"
    assert store(app).calls == {} and store(app).hubspot == {}
    listed = post(client, "/functions/hubspot-list-contacts/call/", signed(creds), {}).json()
    assert [c["properties"]["email"] for c in listed["output"]["results"]] == ["t@example.com"]
    journal = client.get("/__admin/requests", params={"vendor": "integry",
                                                      "tenant": tenant}).json()["requests"]
    assert [e["path"] for e in journal] == ["/functions/hubspot-list-contacts/call/",
                                            "/functions/hubspot-create-contact/call/"]


def test_a_deleted_tenants_key_is_refused(client):
    tenant, creds = new_tenant(client)
    assert post(client, "/apps/list/", signed(creds), {}).status_code == 200  # a known signature
    assert client.delete(f"/__admin/tenants/{tenant}").status_code in (200, 204)
    r = post(client, "/apps/list/", signed(creds), {})
    assert r.status_code == 403
    assert r.json() == INCORRECT


def test_reset_restores_the_fixtures(client, app):
    fresh = snapshot(create_app(seed=0, clock=Clock(DOC_TIME)))
    assert snapshot(app) == fresh
    connect(client, USER_ID, "hubspot")
    client.request("DELETE", ADMIN_ACCOUNTS, json={"userId": USER_ID, "app": "pipedrive"})
    call(client, "/functions/hubspot-create-contact/call/", {"properties": {"email": "x"}})
    call(client, "/functions/slack-post-message/call/", {"channel": "random", "text": "x"})
    assert snapshot(app) != fresh
    r = client.post("/__admin/reset", json={})
    assert r.status_code == 200
    assert snapshot(app) == fresh
    assert call(client, "/apps/pipedrive/get/").json()["connected_accounts"][0]["id"] == 247714
    assert call(client, "/apps/hubspot/get/").json()["connected_accounts"] == []


def test_reset_of_one_tenant(client, app):
    tenant, creds = new_tenant(client)
    fresh = snapshot(app, tenant)
    connect(client, USER_ID, "hubspot")
    client.post(ADMIN_ACCOUNTS, json={"userId": USER_ID, "app": "hubspot", "tenant": tenant})
    r = client.post("/__admin/reset", json={"tenant": tenant})
    assert r.status_code == 200 and r.json() == {"reset": [tenant]}
    assert snapshot(app, tenant) == fresh
    assert len(store(app).accounts(USER_ID, "hubspot")) == 1   # the default's kept
    assert post(client, "/apps/list/", signed(creds), {}).status_code == 200  # same key
