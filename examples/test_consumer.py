"""How an application's test suite uses the mock: plain httpx against `mockserver_url`, with
the credentials of a fresh tenant per test, so `pytest -n auto` is safe.

    pip install 'mockserver[pytest] @ git+https://github.com/OWNER/mockserver' pytest-xdist
    pytest -n 2 examples/
"""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import httpx

GROOVE_FLOW_QUERY = '{ flow(id: "1001") { name } }'


def test_gravy_token_then_balances(mockserver_tenant):
    creds = mockserver_tenant.credentials["gravy"]
    with httpx.Client(base_url=mockserver_tenant.urls["gravy"]) as gravy:
        token = gravy.post("/oauth/token", json={
            "grant_type": "client_credentials", "client_id": creds["clientId"],
            "client_secret": creds["clientSecret"]}).json()["access_token"]
        r = gravy.get("/connections/conn_789xyz123abc/balances", params={"page": 1, "limit": 20},
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    journal = mockserver_tenant.journal
    assert journal.call_count == 2
    journal.assert_any_call(vendor="gravy", method="POST", path="/oauth/token", status=200)
    journal.assert_called_with(vendor="gravy", method="GET", path="/connections/*/balances",
                               status=200)


def test_gravitec_tag_then_push(mockserver_tenant, mockserver_journal):
    creds = mockserver_tenant.credentials["gravitec"]
    with httpx.Client(base_url=mockserver_tenant.urls["gravitec"],
                      auth=(creds["appKey"], creds["appSecret"])) as gravitec:
        gravitec.post("/api/v3/tag", params={"regId": "someregid", "name": "news"})
        push = gravitec.post("/api/v3/push", json={
            "payload": {"message": "Test message", "title": "Hello",
                        "redirect_url": "https://gravitec.net"},
            "audience": {"tags": ["news"]}})
    assert push.status_code == 200, push.text
    assert mockserver_journal.last.json == push.json()
    mockserver_journal.assert_called_with(vendor="gravitec", method="POST", path="/api/v3/push")


def groove_token(tenant) -> str:
    creds = tenant.credentials["groove"]
    with httpx.Client(base_url=tenant.urls["groove"]) as groove:
        authorize = groove.get("/oauth/authorize", params={
            "client_id": creds["clientId"], "redirect_uri": creds["redirectUri"],
            "scope": "first-scope", "state": "xyz"})
        code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
        return groove.post("/oauth/token", json={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": creds["redirectUri"], "client_id": creds["clientId"],
            "client_secret": creds["clientSecret"]}).json()["access_token"]


def test_groove_token_expires_when_the_clock_moves_two_hours(mockserver_tenant, mockserver_clock):
    token = groove_token(mockserver_tenant)
    graphql = f"{mockserver_tenant.urls['groove']}/api/public/v1/graphql"
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(graphql, json={"query": GROOVE_FLOW_QUERY}, headers=auth).status_code == 200
    mockserver_tenant.journal.assert_called_with(vendor="groove", path="/api/public/v1/graphql",
                                                 status=200)
    mockserver_clock.advance(7200)  # Groove access tokens live two hours
    expired = httpx.post(graphql, json={"query": GROOVE_FLOW_QUERY}, headers=auth)
    assert expired.status_code == 401
    assert 'error_description="The access token expired"' in expired.headers["www-authenticate"]


def test_integry_signed_function_call(mockserver_tenant):
    creds = mockserver_tenant.credentials["integry"]
    digest = hmac.new(creds["appSecret"].encode(), creds["userId"].encode(),
                      hashlib.sha256).hexdigest()
    r = httpx.post(f"{mockserver_tenant.urls['integry']}/functions/slack-post-message/call/",
                   headers={"App-Key": creds["appKey"], "User-ID": creds["userId"],
                            "Hash": digest},
                   json={"channel": "random", "text": "hello"})
    assert r.status_code == 200, r.text
    mockserver_tenant.journal.assert_called_once_with(
        vendor="integry", method="POST", path="/functions/slack-post-message/call/", status=200)
    assert "Hash" not in r.request.headers or \
        mockserver_tenant.journal.last.request_headers["hash"] == "[redacted]"


def test_a_fresh_tenant_starts_with_an_empty_journal(mockserver_tenant):
    mockserver_tenant.journal.assert_not_called()


def test_in_process_without_a_socket(mockserver_app):
    creds = mockserver_app.credentials["gravy"]
    r = mockserver_app.post("/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]})
    assert r.status_code == 200
    mockserver_app.journal.assert_called_once_with(vendor="gravy", path="/oauth/token")
    assert mockserver_app.app.journal.last.status == 200  # the app object itself, too
