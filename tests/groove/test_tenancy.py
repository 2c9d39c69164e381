"""Groove and tenants: each tenant's OAuth client reads its own store; deleting or resetting
ends tokens; the journal masks every secret; routing by Host and Rails' 404s."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from .conftest import (CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, authorize, bearer,
                       code_for, gql, redirect_params, tokens_for)

TOKEN = "/groove/oauth/token"
REDACTED = "[redacted]"
NOT_FOUND = {"status": 404, "error": "Not Found"}
INVALID_CLIENT = {"error": "invalid_client", "error_description":
                  "Client authentication failed due to unknown client, no client authentication "
                  "included, or unsupported authentication method."}
INVALID_GRANT = {"error": "invalid_grant", "error_description":
                 "The provided authorization grant is invalid, expired, revoked, does not match "
                 "the redirection URI used in the authorization request, or was issued to "
                 "another client."}
INVALID = ('Bearer realm="Doorkeeper", error="invalid_token", '
           'error_description="The access token is invalid"')
FIND = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
        "{ id name emailAddress } }")


def new_tenant(client) -> dict[str, Any]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()


def tenant_tokens(client, tenant: dict[str, Any]) -> dict[str, Any]:
    creds = tenant["credentials"]["groove"]
    return tokens_for(client, creds["clientId"], creds["clientSecret"])


def find(client, token: str, salesforce_id: str) -> dict[str, Any] | None:
    r = gql(client, token, FIND, {"sf": salesforce_id})
    assert r.status_code == 200, r.text
    assert "errors" not in r.json()
    return r.json()["data"]["findPersonBySalesforceId"]


def add_person(client, **body: Any) -> dict[str, Any]:
    r = client.post("/__admin/groove/people", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def assert_invalid(r: httpx.Response) -> None:
    assert r.status_code == 401
    assert r.content == b""
    assert r.headers["www-authenticate"] == INVALID


# -- credentials -----------------------------------------------------------------------------
def test_the_default_credentials_are_specs(client):
    r = client.get("/__admin/credentials")
    assert r.status_code == 200
    assert r.json()["groove"] == {"clientId": "groove-sandbox-client",
                                  "clientSecret": "groove-sandbox-secret",
                                  "redirectUri": "http://localhost:3000/oauth/callback"}
    spec = {  # each tenant's credentials, for the vendors this server has
        "gravy": {"clientId": "gravy-sandbox-client", "clientSecret": "gravy-sandbox-secret",
                  "publishableKey": "pk-test-sandbox"},
        "gravitec": {"appKey": "1e26f7bb3f81e1ab789d3e20b9cf6325",
                     "appSecret": "9bb59fcbff38b85647c421c65cca06ce"},
        "groove": {"clientId": "groove-sandbox-client", "clientSecret": "groove-sandbox-secret",
                   "redirectUri": "http://localhost:3000/oauth/callback"},
        "integry": {"appKey": "002d4f23-778a-11e7-bf2a-42010a8002c7",
                    "appSecret": "integry-sandbox-secret", "userId": "123456"},
        "passage": {"apiKey": "psg_sandbox_key"},
    }
    assert r.json() == {name: spec[name] for name in r.json()}


def test_a_new_tenant_gets_its_own_groove_client(client):
    a, b = new_tenant(client), new_tenant(client)
    creds = a["credentials"]["groove"]
    assert set(creds) == {"clientId", "clientSecret", "redirectUri"}
    assert creds["redirectUri"] == REDIRECT_URI  # the same app works unchanged
    assert creds["clientId"] not in (CLIENT_ID, b["credentials"]["groove"]["clientId"])
    assert creds["clientSecret"] not in (CLIENT_SECRET, b["credentials"]["groove"]["clientSecret"])
    assert all(isinstance(v, str) and v for v in creds.values())
    # its client works through the whole flow
    tokens = tenant_tokens(client, a)
    assert find(client, tokens["access_token"], "0035e00000Ada001AAA")["name"] == "Ada Lovelace"


def test_client_ids_and_secrets_do_not_mix_across_tenants(client):
    creds = new_tenant(client)["credentials"]["groove"]
    for cid, secret in ((creds["clientId"], CLIENT_SECRET), (CLIENT_ID, creds["clientSecret"])):
        r = client.post(TOKEN, json={"grant_type": "authorization_code",
                                     "code": code_for(client, client_id=cid),
                                     "redirect_uri": REDIRECT_URI, "client_id": cid,
                                     "client_secret": secret})
        assert r.status_code == 401 and r.json() == INVALID_CLIENT


# -- isolation -------------------------------------------------------------------------------
def test_a_tenants_token_reads_its_own_store(client):
    tenant = new_tenant(client)
    theirs = tenant_tokens(client, tenant)["access_token"]
    mine = tokens_for(client)["access_token"]
    added = add_person(client, name="Tess Tenant", emailAddress="tess@example.com",
                       salesforceId="0035e00000Tess01AAA", tenant=tenant["id"])
    assert added["tenant"] == tenant["id"]
    person = {"id": added["id"], "name": "Tess Tenant", "emailAddress": "tess@example.com"}
    assert find(client, theirs, "0035e00000Tess01AAA") == person
    assert find(client, mine, "0035e00000Tess01AAA") is None
    # and the other way round: the default tenant's addition stays there
    add_person(client, name="Dee Fault", emailAddress="dee@example.com",
               salesforceId="0035e00000Dee001AAA")
    assert find(client, mine, "0035e00000Dee001AAA")["name"] == "Dee Fault"
    assert find(client, theirs, "0035e00000Dee001AAA") is None
    # the fixtures are in both
    assert find(client, mine, "00Q5e00000Grace1AAA") == find(client, theirs,
                                                             "00Q5e00000Grace1AAA")


def test_a_tenants_grants_are_its_own(client):
    """A code, access or refresh token of one tenant means nothing to another's client."""
    tenant = new_tenant(client)
    creds = tenant["credentials"]["groove"]
    theirs = tenant_tokens(client, tenant)
    r = client.post(TOKEN, json={"grant_type": "refresh_token",
                                 "refresh_token": theirs["refresh_token"],
                                 "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 400 and r.json() == INVALID_GRANT
    code = code_for(client, client_id=creds["clientId"])
    r = client.post(TOKEN, json={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET})
    assert r.status_code == 400 and r.json() == INVALID_GRANT
    assert gql(client, theirs["access_token"], "{ flows { id } }").status_code == 200


def test_a_deleted_tenants_tokens_and_client_are_gone(client):
    tenant = new_tenant(client)
    creds = tenant["credentials"]["groove"]
    tokens = tenant_tokens(client, tenant)
    code = code_for(client, client_id=creds["clientId"])
    mine = tokens_for(client)["access_token"]
    assert client.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204
    assert_invalid(gql(client, tokens["access_token"], "{ flows { id } }"))
    for body in ({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                 {"grant_type": "authorization_code", "code": code,
                  "redirect_uri": REDIRECT_URI}):
        r = client.post(TOKEN, json={**body, "client_id": creds["clientId"],
                                     "client_secret": creds["clientSecret"]})
        assert r.status_code == 401 and r.json() == INVALID_CLIENT
    r = authorize(client, client_id=creds["clientId"])
    assert r.status_code == 401 and r.json() == INVALID_CLIENT
    assert gql(client, mine, "{ flows { id } }").status_code == 200  # others are untouched


def test_reset_ends_every_token_and_code(client):
    tenant = new_tenant(client)
    creds = tenant["credentials"]["groove"]
    mine, theirs = tokens_for(client), tenant_tokens(client, tenant)
    code = code_for(client)
    assert client.post("/__admin/reset").status_code == 200
    for tokens in (mine, theirs):
        assert_invalid(gql(client, tokens["access_token"], "{ flows { id } }"))
    r = client.post(TOKEN, json={"grant_type": "refresh_token",
                                 "refresh_token": mine["refresh_token"],
                                 "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 400 and r.json() == INVALID_GRANT
    r = client.post(TOKEN, data={"grant_type": "refresh_token",
                                 "refresh_token": theirs["refresh_token"]},
                    auth=(creds["clientId"], creds["clientSecret"]))
    assert r.status_code == 400 and r.json() == INVALID_GRANT
    r = client.post(TOKEN, json={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET})
    assert r.status_code == 400 and r.json() == INVALID_GRANT
    # the clients themselves survive a reset
    assert gql(client, tokens_for(client)["access_token"], "{ flows { id } }").status_code == 200
    assert gql(client, tenant_tokens(client, tenant)["access_token"],
               "{ flows { id } }").status_code == 200


def test_resetting_one_tenant_ends_only_its_tokens(client):
    tenant = new_tenant(client)
    mine, theirs = tokens_for(client), tenant_tokens(client, tenant)
    add_person(client, name="Tess", emailAddress="t@example.com",
               salesforceId="0035e00000Tess01AAA", tenant=tenant["id"])
    r = client.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert r.status_code == 200 and r.json() == {"reset": [tenant["id"]]}
    assert_invalid(gql(client, theirs["access_token"], "{ flows { id } }"))
    assert gql(client, mine["access_token"], "{ flows { id } }").status_code == 200
    fresh = tenant_tokens(client, tenant)["access_token"]
    assert find(client, fresh, "0035e00000Tess01AAA") is None  # back to its fixtures


# -- the journal -----------------------------------------------------------------------------
def journal(client, **filters: str) -> list[dict[str, Any]]:
    r = client.get("/__admin/requests", params={"vendor": "groove", **filters})
    assert r.status_code == 200
    return r.json()["requests"]


def test_the_journal_masks_every_secret_in_requests_and_answers(client):
    code = code_for(client)
    r = client.post(TOKEN, json={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET})
    first = r.json()
    code2 = code_for(client)
    second = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code2,
                                      "redirect_uri": REDIRECT_URI},
                         auth=(CLIENT_ID, CLIENT_SECRET)).json()
    third = client.post("/groove/oauth/authorize/token", data={
        "grant_type": "refresh_token", "refresh_token": second["refresh_token"],
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).json()
    bad = client.post(TOKEN, json={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                                   "client_secret": CLIENT_SECRET})
    assert bad.status_code == 400
    assert gql(client, first["access_token"], "{ flows { id } }").status_code == 200

    text = client.get("/__admin/requests", params={"vendor": "groove"}).text
    secrets = [CLIENT_SECRET, code, code2, *(t[k] for t in (first, second, third)
                                             for k in ("access_token", "refresh_token"))]
    for secret in secrets:
        assert secret not in text
        assert json.dumps(secret) not in text

    calls = journal(client)
    by = {(c["method"], c["path"], c["status"]): c for c in calls}
    exchanges = [c for c in calls if c["path"] == "/oauth/token" and c["status"] == 200]
    assert len(exchanges) == 2  # newest first: the Basic one, then the JSON one
    basic, json_exchange = exchanges
    body = json.loads(json_exchange["request"]["body"])
    assert body == {"grant_type": "authorization_code", "code": REDACTED,
                    "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                    "client_secret": REDACTED}
    answer = json.loads(json_exchange["response"]["body"])
    assert answer == {**first, "access_token": REDACTED, "refresh_token": REDACTED}

    assert basic["request"]["headers"]["authorization"] == REDACTED
    assert parse_qs(basic["request"]["body"]) == {
        "grant_type": ["authorization_code"], "code": [REDACTED], "redirect_uri": [REDIRECT_URI]}
    assert json.loads(basic["response"]["body"])["refresh_token"] == REDACTED

    refresh = by[("POST", "/oauth/authorize/token", 200)]
    assert parse_qs(refresh["request"]["body"]) == {
        "grant_type": ["refresh_token"], "refresh_token": [REDACTED],
        "client_id": [CLIENT_ID], "client_secret": [REDACTED]}
    assert json.loads(refresh["response"]["body"])["access_token"] == REDACTED

    refused = by[("POST", "/oauth/token", 400)]
    assert json.loads(refused["request"]["body"])["code"] == REDACTED
    assert json.loads(refused["response"]["body"]) == INVALID_GRANT  # nothing secret: verbatim

    call = by[("POST", "/api/public/v1/graphql", 200)]
    assert call["request"]["headers"]["authorization"] == REDACTED
    assert json.loads(call["request"]["body"]) == {"query": "{ flows { id } }"}


def test_a_tenants_oauth_calls_are_journaled_under_it(client):
    tenant = new_tenant(client)
    tenant_tokens(client, tenant)
    calls = journal(client, tenant=tenant["id"])
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", "/oauth/token", 200), ("GET", "/oauth/authorize", 302)]
    assert journal(client, tenant="default") == []
    # an unknown client names no tenant
    authorize(client, client_id="nope")
    assert journal(client)[0]["tenant"] is None


# -- routing ---------------------------------------------------------------------------------
def test_the_real_hosts_route_without_the_prefix(client):
    r = client.get("https://auth.grooveapp.com/oauth/authorize",
                   params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "h"})
    params = redirect_params(r)
    assert params["state"] == "h"
    r = client.post("https://auth.grooveapp.com/oauth/authorize/token", json={
        "grant_type": "authorization_code", "code": params["code"], "redirect_url": REDIRECT_URI,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 200, r.text
    tokens = r.json()
    r = client.post("https://auth.grooveapp.com/oauth/token", json={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 200, r.text
    r = client.post("https://app.grooveapp.com/api/public/v1/graphql",
                    json={"query": 'query { findPersonBySalesforceId(salesforceId: '
                                   '"0035e00000Ada001AAA") { name } }'},
                    headers=bearer(r.json()["access_token"]))
    assert r.status_code == 200
    assert r.json() == {"data": {"findPersonBySalesforceId": {"name": "Ada Lovelace"}}}


def test_the_host_decides_not_the_port_or_case(client):
    code = redirect_params(client.get("http://Auth.GrooveApp.com:443/oauth/authorize", params={
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI}))["code"]
    assert code


@pytest.mark.parametrize("method,path", [
    ("GET", "/groove/nope"), ("GET", "/groove/"), ("POST", "/groove/api/public/v2/graphql"),
    ("GET", "/groove/oauth/token"), ("GET", "/groove/oauth/authorize/token"),
    ("GET", "/groove/api/public/v1/graphql"), ("PUT", "/groove/oauth/authorize"),
    ("PATCH", "/groove/oauth/token"), ("DELETE", "/groove/oauth/token"),
    ("POST", "/groove/OAuth/token"), ("POST", "/groove/oauth/token.json"),
    ("GET", "https://auth.grooveapp.com/nope"), ("GET", "https://app.grooveapp.com/oauth/token"),
    ("GET", "https://app.grooveapp.com/groove/oauth/authorize"),
])
def test_anything_else_is_rails_404(client, method, path):
    r = client.request(method, path, json={"grant_type": "authorization_code"}
                       if method in ("POST", "PUT", "PATCH") else None)
    assert r.status_code == 404
    assert r.json() == NOT_FOUND
    assert r.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("path", ["/groove/oauth/token/", "/groove//oauth//token",
                                  "/groove/oauth/authorize/token/"])
def test_rails_ignores_a_trailing_slash_and_repeated_slashes(client, path):
    r = client.post(path, json={"grant_type": "authorization_code", "code": code_for(client),
                                "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                                "client_secret": CLIENT_SECRET})
    assert r.status_code == 200, r.text


def test_a_404_is_journaled_and_changes_nothing(client):
    tokens = tokens_for(client)
    r = client.get("/groove/oauth/token", params={"grant_type": "refresh_token"})
    assert r.status_code == 404
    assert journal(client)[0]["status"] == 404
    assert gql(client, tokens["access_token"], "{ flows { id } }").status_code == 200
    r = client.post(TOKEN, json={"grant_type": "refresh_token",
                                 "refresh_token": tokens["refresh_token"],
                                 "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert r.status_code == 200
