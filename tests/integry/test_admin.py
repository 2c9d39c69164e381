"""Integry's control-plane call: POST/DELETE /__admin/integry/connected-accounts. A refused
call changes nothing (every tenant's snapshot is compared around it)."""
from __future__ import annotations

from typing import Any

import pytest

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
