"""Integry's control-plane call: GET/POST/DELETE /__admin/integry/connected-accounts, for a
user's accounts or the workspace's. A refused call changes nothing (every tenant's snapshot is
compared around it)."""
from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .conftest import USER_ID, call
from .support import ADMIN_ACCOUNTS, connect, snapshot, store

NEXT_ID = 250002     # after the fixtures' highest account id (the workspace's Slack, 250001)


def delete(client, **body: Any):
    return client.request("DELETE", ADMIN_ACCOUNTS, json=body)


def accounts(client, app_name: str, user: str = USER_ID) -> list[dict[str, Any]]:
    r = call(client, f"/apps/{app_name}/get/", user_id=user)
    assert r.status_code == 200
    return r.json()["connected_accounts"]


def test_connect(client, clock):
    r = client.post(ADMIN_ACCOUNTS, json={"userId": "u1", "app": "hubspot",
                                          "displayName": "ada@example.com"})
    assert r.status_code == 201
    assert r.json() == {"tenant": "default", "userId": "u1", "app": "hubspot", "id": NEXT_ID,
                        "display_name": "ada@example.com",
                        "modified_at": "2024-01-15T10:30:00Z"}   # DRF's, as the doc's
    assert accounts(client, "hubspot", "u1") == [
        {"id": NEXT_ID, "display_name": "ada@example.com",
         "modified_at": "2024-01-15T10:30:00Z"}]
    assert accounts(client, "hubspot") == []          # u1's, no one else's
    clock.advance(1.25)
    second = connect(client, "u1", "hubspot")
    assert second["id"] == NEXT_ID + 1
    assert second["display_name"] == "u1@hubspot"
    assert second["modified_at"] == "2024-01-15T10:30:01.250000Z"
    assert [a["id"] for a in accounts(client, "hubspot", "u1")] == [NEXT_ID, NEXT_ID + 1]


def test_the_new_account_is_listed_first(client):
    connect(client, "u1", "zendesk")
    apps = call(client, "/apps/list/", {}, user_id="u1").json()["apps"]
    assert apps[0]["name"] == "zendesk"
    assert [a["id"] for a in apps[0]["connected_accounts"]] == [NEXT_ID]
    assert all(a["connected_accounts"] == [] for a in apps[1:])
    # the sandbox user: its connected apps first (pipedrive, now zendesk), then the rest
    connect(client, USER_ID, "zendesk")
    apps = call(client, "/apps/list/", {}).json()["apps"]
    assert [a["name"] for a in apps[:2]] == ["pipedrive", "zendesk"]
    assert [a["name"] for a in call(client, "/apps/list/", {},
                                    params={"connected_only": "true"}).json()["apps"]] == [
        "pipedrive", "zendesk"]


def test_a_connected_app_can_be_called(client, app):
    body = {"properties": {"email": "a@example.com"}}
    assert call(client, "/functions/hubspot-create-contact/call/", body).status_code == 400
    connect(client, USER_ID, "hubspot")
    r = call(client, "/functions/hubspot-create-contact/call/", body)
    assert r.status_code == 200 and r.json()["network_code"] == "201"


def test_disconnect_one(client):
    first = connect(client, "u1", "hubspot")
    second = connect(client, "u1", "hubspot")
    r = delete(client, userId="u1", app="hubspot", id=first["id"])
    assert r.status_code == 200
    assert r.json() == {"tenant": "default", "userId": "u1", "app": "hubspot", "removed": 1}
    assert [a["id"] for a in accounts(client, "hubspot", "u1")] == [second["id"]]


def test_disconnect_all_of_an_app(client):
    connect(client, "u1", "hubspot")
    connect(client, "u1", "hubspot")
    connect(client, "u1", "slack")
    r = delete(client, userId="u1", app="hubspot")
    assert r.status_code == 200
    assert r.json()["removed"] == 2
    assert accounts(client, "hubspot", "u1") == []
    assert len(accounts(client, "slack", "u1")) == 1


def test_disconnect_the_documented_account(client):
    r = delete(client, userId=USER_ID, app="pipedrive", id=247714)
    assert r.status_code == 200 and r.json()["removed"] == 1
    assert accounts(client, "pipedrive") == []
    r = call(client, "/functions/pipedrive-list-records/call/", {})
    assert r.status_code == 400


@pytest.mark.parametrize("method, body, status, error", [
    ("POST", {"userId": "u1", "app": "nope"}, 404, "no app nope"),
    ("POST", {"userId": "u1", "app": "Slack"}, 404, "no app Slack"),
    ("DELETE", {"userId": "u1", "app": "nope"}, 404, "no app nope"),
    ("DELETE", {"userId": "u1", "app": "hubspot"}, 404, "user u1 has no such hubspot account"),
    ("DELETE", {"userId": USER_ID, "app": "pipedrive", "id": 1}, 404,
     f"user {USER_ID} has no such pipedrive account"),
    ("DELETE", {"userId": USER_ID, "app": "slack"}, 404,   # the workspace's is no user's
     f"user {USER_ID} has no such slack account"),
    ("POST", {"userId": "u1", "app": "hubspot", "tenant": "t_nope"}, 404, "no tenant t_nope"),
    ("POST", {"app": "hubspot"}, 400,
     "userId must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": "", "app": "hubspot"}, 400,
     "userId must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": 5, "app": "hubspot"}, 400,
     "userId must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": "u" * 256, "app": "hubspot"}, 400,
     "userId must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": "u1"}, 400, "app must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": "u1", "app": ["hubspot"]}, 400,
     "app must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": "u1", "app": "hubspot", "displayName": 7}, 400,
     "displayName must be a non-empty string of at most 255 characters"),
    ("POST", {"userId": "u1", "app": "hubspot", "displayName": ""}, 400,
     "displayName must be a non-empty string of at most 255 characters"),
    ("DELETE", {"userId": USER_ID, "app": "pipedrive", "id": "247714"}, 400,
     "id must be an integer"),
    ("DELETE", {"userId": USER_ID, "app": "pipedrive", "id": True}, 400,
     "id must be an integer"),
    ("DELETE", {"userId": USER_ID, "app": "pipedrive", "id": 247714.5}, 400,
     "id must be an integer"),
])
def test_a_refusal_changes_nothing(client, app, method, body, status, error):
    tenant = client.post("/__admin/tenants").json()["id"]
    before = (snapshot(app), snapshot(app, tenant))
    r = client.request(method, ADMIN_ACCOUNTS, json=body)
    assert r.status_code == status
    assert r.json() == {"error": error}
    assert (snapshot(app), snapshot(app, tenant)) == before


@pytest.mark.parametrize("content", [b"not json", b"[1]", b'"x"', b"{"])
def test_a_body_that_is_not_a_json_object(client, app, content):
    before = snapshot(app)
    r = client.post(ADMIN_ACCOUNTS, content=content,
                    headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert snapshot(app) == before


def test_an_empty_body(client, app):
    before = snapshot(app)
    r = client.post(ADMIN_ACCOUNTS)
    assert r.status_code == 400
    assert snapshot(app) == before


def test_the_store_keeps_the_account(client, app):
    connect(client, "u1", "gmail", displayName="me@example.com")
    kept = store(app).accounts("u1", "gmail")
    assert [a.to_json() for a in kept] == [{"id": NEXT_ID, "display_name": "me@example.com",
                                            "modified_at": "2024-01-15T10:30:00Z"}]
    assert snapshot(app)["nextAccount"] == NEXT_ID + 1


# -- the workspace's accounts: listed, added and removed like a user's ----------------------------
WORKSPACE_SLACK = {"id": 250001, "display_name": "Integry Workspace",
                   "modified_at": "2024-11-12T09:15:00Z"}
DOC_PIPEDRIVE = {"id": 247714, "display_name": "663----------8b1",
                 "modified_at": "2024-11-10T23:28:58Z"}
SDK_CALL = "/functions/slack-post-message/call/?allow_workspace_connected_accounts=true"


def listing(client, **params: str) -> dict[str, Any]:
    r = client.get(ADMIN_ACCOUNTS, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def sdk_call(client, user: str = USER_ID):
    """The call as the Python SDK sends it: workspace accounts allowed, `_variables` null."""
    return call(client, SDK_CALL, {"channel": "random", "text": "hi", "_variables": None},
                user_id=user)


def test_the_listing_names_the_workspace_account_and_each_users(client):
    assert listing(client) == {"tenant": "default", "workspace": {"slack": [WORKSPACE_SLACK]},
                               "users": [{"userId": USER_ID,
                                          "apps": {"pipedrive": [DOC_PIPEDRIVE]}}]}
    connect(client, "u1", "hubspot")
    assert [u["userId"] for u in listing(client)["users"]] == [USER_ID, "u1"]
    assert listing(client, userId="u1")["users"] == [
        {"userId": "u1", "apps": {"hubspot": [{"id": NEXT_ID, "display_name": "u1@hubspot",
                                               "modified_at": "2024-01-15T10:30:00Z"}]}}]
    assert listing(client, userId="nobody")["users"] == []
    only_slack = listing(client, app="slack")
    assert only_slack["workspace"] == {"slack": [WORKSPACE_SLACK]} and only_slack["users"] == []


@pytest.mark.parametrize("params, error", [({"tenant": "t_nope"}, "no tenant t_nope"),
                                           ({"app": "nope"}, "no app nope")])
def test_the_listing_refuses_an_unknown_tenant_or_app(client, params, error):
    r = client.get(ADMIN_ACCOUNTS, params=params)
    assert r.status_code == 404 and r.json() == {"error": error}


def test_the_summary_names_the_workspace_account(client):
    integry = client.get("/__admin/summary").json()["vendors"]["integry"]
    assert integry == {"connectedAccounts": 2, "users": 1,
                       "workspace": {"total": 1, "byApp": {"slack": 1}}}


def test_removing_the_workspace_slack_account_leaves_sdk_calls_not_connected(client, app):
    assert sdk_call(client).status_code == 200   # the workspace's account serves it
    r = delete(client, workspace=True, app="slack")
    assert r.status_code == 200
    assert r.json() == {"tenant": "default", "workspace": True, "app": "slack", "removed": 1}
    assert listing(client)["workspace"] == {}
    r = sdk_call(client)
    assert r.status_code == 400
    assert r.json()["error_details"] == [
        "User has not connected their Slack account. To connect an account, please call "
        "following SDK method: `connectApp('slack')`"]
    assert client.get("/__admin/summary").json()["vendors"]["integry"]["workspace"] == {
        "total": 0, "byApp": {}}
    r = delete(client, workspace=True, app="slack")
    assert r.status_code == 404
    assert r.json() == {"error": "the workspace has no such slack account"}


def test_a_workspace_account_added_serves_every_user(client, app):
    body = {"properties": {"email": "a@example.com"}}
    assert call(client, "/functions/hubspot-create-contact/call/", body,
                user_id="u9").status_code == 400
    r = client.post(ADMIN_ACCOUNTS, json={"workspace": True, "app": "hubspot"})
    assert r.status_code == 201
    assert r.json() == {"tenant": "default", "workspace": True, "app": "hubspot", "id": NEXT_ID,
                        "display_name": "workspace@hubspot",
                        "modified_at": "2024-01-15T10:30:00Z"}
    r = call(client, "/functions/hubspot-create-contact/call/", body, user_id="u9")
    assert r.status_code == 200
    assert store(app).calls["u9"][-1]["account"] == NEXT_ID
    assert listing(client, app="hubspot")["workspace"]["hubspot"][0]["id"] == NEXT_ID
    # one of several, by id; the other stays
    second = client.post(ADMIN_ACCOUNTS, json={"workspace": True, "app": "hubspot",
                                               "displayName": "Sales"}).json()
    assert delete(client, workspace=True, app="hubspot", id=NEXT_ID).json()["removed"] == 1
    assert [a["id"] for a in listing(client)["workspace"]["hubspot"]] == [second["id"]]


def test_the_workspace_calls_are_per_tenant_and_exported(client, app):
    tenant = client.post("/__admin/tenants").json()["id"]
    assert delete(client, workspace=True, app="slack", tenant=tenant).status_code == 200
    assert listing(client, tenant=tenant)["workspace"] == {}
    assert listing(client)["workspace"] == {"slack": [WORKSPACE_SLACK]}   # the default's stays
    exported = client.get("/__admin/state", params={"tenant": tenant}).json()
    assert exported["vendors"]["integry"]["workspace"] == {}
    client.post(ADMIN_ACCOUNTS, json={"workspace": True, "app": "gmail", "tenant": tenant})
    exported = client.get("/__admin/state", params={"tenant": tenant}).json()
    assert [a["display_name"] for a in exported["vendors"]["integry"]["workspace"]["gmail"]] \
        == ["workspace@gmail"]
    # and back: a fresh tenant importing it has the same workspace
    other = client.post("/__admin/tenants").json()["id"]
    assert client.put("/__admin/state", params={"tenant": other},
                      json=exported).status_code == 200
    assert listing(client, tenant=other)["workspace"] == listing(client, tenant=tenant)[
        "workspace"]


@pytest.mark.parametrize("method, body, status, error", [
    ("POST", {"workspace": "yes", "app": "slack"}, 400, "workspace must be true or false"),
    ("DELETE", {"workspace": 1, "app": "slack"}, 400, "workspace must be true or false"),
    ("POST", {"workspace": True, "userId": USER_ID, "app": "slack"}, 400,
     'send "userId" or "workspace": true, not both'),
    ("POST", {"workspace": True}, 400, "app must be a non-empty string of at most 255 characters"),
    ("POST", {"workspace": True, "app": "nope"}, 404, "no app nope"),
    ("POST", {"workspace": True, "app": "slack", "tenant": "t_nope"}, 404, "no tenant t_nope"),
    ("DELETE", {"workspace": True, "app": "hubspot"}, 404,
     "the workspace has no such hubspot account"),
    ("DELETE", {"workspace": True, "app": "slack", "id": 247714}, 404,
     "the workspace has no such slack account"),
    ("DELETE", {"workspace": True, "app": "slack", "id": "250001"}, 400, "id must be an integer"),
])
def test_a_refused_workspace_call_changes_nothing(client, app, method, body, status, error):
    before = snapshot(app)
    r = client.request(method, ADMIN_ACCOUNTS, json=body)
    assert r.status_code == status
    assert r.json() == {"error": error}
    assert snapshot(app) == before


def test_accounts_are_bounded_by_max_sessions(clock):
    from mockserver import create_app
    from ..conftest import MockClient
    c = MockClient(create_app(seed=0, clock=clock, max_sessions=2))
    try:
        # the workspace starts with its Slack account: one more fits
        assert c.post(ADMIN_ACCOUNTS, json={"workspace": True, "app": "gmail"}).status_code == 201
        r = c.post(ADMIN_ACCOUNTS, json={"workspace": True, "app": "gmail"})
        assert r.status_code == 409
        assert r.json() == {"error": "the workspace holds its maximum of 2 accounts "
                                     "(--max-sessions)"}
        for _ in range(2):
            assert c.post(ADMIN_ACCOUNTS, json={"userId": "u1", "app": "gmail"}).status_code \
                == 201
        r = c.post(ADMIN_ACCOUNTS, json={"userId": "u1", "app": "hubspot"})
        assert r.status_code == 409
        assert r.json() == {"error": "user u1 holds its maximum of 2 accounts (--max-sessions)"}
    finally:
        c.close()


def test_the_admin_document_describes_the_workspace_calls(client):
    doc = client.get("/__admin/openapi.json").json()
    item = doc["paths"]["/__admin/integry/connected-accounts"]
    assert set(item) == {"get", "post", "delete"}
    assert [p["name"] for p in item["get"]["parameters"]] == ["tenant", "userId", "app"]
    listed = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(listed["required"]) == {"tenant", "workspace", "users"}
    for method in ("post", "delete"):
        body = item[method]["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["app"]
        assert body["properties"]["workspace"]["type"] == "boolean"
    Draft202012Validator(listed).validate(listing(client))
    summary = doc["components"]["schemas"]["Summary"]["properties"]["vendors"]["properties"][
        "integry"]
    assert "workspace" in summary["required"]
    Draft202012Validator(summary).validate(
        client.get("/__admin/summary").json()["vendors"]["integry"])
