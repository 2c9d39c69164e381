"""Groove's Doorkeeper OAuth server: the code flow driven by authlib's real client, every documented
variant of the token request, the authorize endpoint and its consent page, Doorkeeper's exact
error bodies, and token lifetime on the mock clock."""
from __future__ import annotations

import asyncio
import base64
import json
import warnings
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

with warnings.catch_warnings():  # authlib 1.9 would rather import httpx2; httpx is what it gets
    from authlib.deprecate import AuthlibDeprecationWarning  # (sets its own "always" filter)
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

from .conftest import (CLIENT_ID, CLIENT_SECRET, GRAPHQL, REDIRECT_URI, authorize, bearer,
                       code_for, gql, redirect_params, tokens_for)

AUTHORIZE = "/groove/oauth/authorize"
TOKEN = "/groove/oauth/token"
TOKEN_URLS = ["/groove/oauth/token", "/groove/oauth/authorize/token",
              "/groove/oauth/token/refresh", "/groove/oauth/authorize"]
DOC_EPOCH = 1705314600          # 2024-01-15T10:30:00Z, the frozen `clock`
DEFAULT_SCOPES = "first-scope second-scope"
JSON_UTF8 = "application/json; charset=utf-8"

# Doorkeeper's own texts (config/locales/en.yml), as FACTS.md quotes them: written out here, not
# imported from the implementation, so a changed message fails.
INVALID_GRANT = {"error": "invalid_grant", "error_description":
                 "The provided authorization grant is invalid, expired, revoked, does not match "
                 "the redirection URI used in the authorization request, or was issued to "
                 "another client."}
INVALID_CLIENT = {"error": "invalid_client", "error_description":
                  "Client authentication failed due to unknown client, no client authentication "
                  "included, or unsupported authentication method."}
UNSUPPORTED_GRANT = {"error": "unsupported_grant_type", "error_description":
                     "The authorization grant type is not supported by the authorization server."}
INVALID_SCOPE = "The requested scope is invalid, unknown, or malformed."
INVALID_REDIRECT = {"error": "invalid_redirect_uri", "error_description":
                    "The requested redirect uri is malformed or doesn't match client redirect "
                    "URI."}
UNSUPPORTED_RESPONSE = "The authorization server does not support this response type."
ACCESS_DENIED = "The resource owner or authorization server denied the request."

PERSON = 'query { findPersonBySalesforceId(salesforceId: "0035e00000Ada001AAA") { id name } }'
ADA = {"data": {"findPersonBySalesforceId": {"id": "1", "name": "Ada Lovelace"}}}


def missing(name: str) -> dict[str, str]:
    return {"error": "invalid_request", "error_description": f"Missing required parameter: {name}."}


def challenge(description: str) -> str:
    return (f'Bearer realm="Doorkeeper", error="invalid_token", '
            f'error_description="{description}"')


def assert_no_store(r: httpx.Response) -> None:
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    assert r.headers["content-type"] == JSON_UTF8


def assert_tokens(r: httpx.Response, scope: str = DEFAULT_SCOPES,
                  created_at: int = DOC_EPOCH) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert_no_store(r)
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope",
                         "created_at"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert body["scope"] == scope
    assert type(body["created_at"]) is int and body["created_at"] == created_at
    assert body["access_token"] != body["refresh_token"]
    return body


def assert_oauth_error(r: httpx.Response, status: int, body: dict[str, str]) -> None:
    assert r.status_code == status, r.text
    assert r.json() == body
    assert_no_store(r)
    assert "location" not in r.headers


def assert_401(r: httpx.Response, description: str) -> None:
    assert r.status_code == 401
    assert r.content == b""
    assert r.headers["www-authenticate"] == challenge(description)


def assert_works(client, token: str) -> None:
    r = gql(client, token, PERSON)
    assert r.status_code == 200, r.text
    assert r.json() == ADA


def location_params(r: httpx.Response) -> dict[str, str]:
    """The query of a 302's Location, which must go back to the registered redirect URI."""
    assert r.status_code == 302, r.text
    assert r.content == b""
    assert r.headers["location"].startswith(REDIRECT_URI + "?")
    return redirect_params(r)


def code_body(code: str, **over: Any) -> dict[str, Any]:
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **over}
    return {k: v for k, v in body.items() if v is not None}


def refresh_body(refresh: str, **over: Any) -> dict[str, Any]:
    body = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, **over}
    return {k: v for k, v in body.items() if v is not None}


def send(client, url: str, body: dict[str, Any], encoding: str = "json",
         credentials: str = "body") -> httpx.Response:
    """POST a token request as JSON or a form, client credentials in the body or by Basic."""
    kw: dict[str, Any] = {}
    if credentials == "basic":
        body = dict(body)
        kw["auth"] = (body.pop("client_id"), body.pop("client_secret"))
    kw["json" if encoding == "json" else "data"] = body
    return client.post(url, **kw)


def new_tenant(client) -> dict[str, Any]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()


# == 1. authlib's OAuth2 client, end to end =================================================
def _token_shape(token: dict[str, Any], scope: str) -> None:
    assert {"access_token", "refresh_token", "token_type", "expires_in", "created_at",
            "scope"} <= set(token)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 7200
    assert type(token["created_at"]) is int
    assert token["scope"] == scope


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_code_flow_and_refresh_in_process(app, method):
    async def flow() -> None:
        base = "http://mock.test/groove"
        async with AsyncOAuth2Client(CLIENT_ID, CLIENT_SECRET, scope="second-scope",
                                     redirect_uri=REDIRECT_URI, token_endpoint_auth_method=method,
                                     transport=httpx.ASGITransport(app=app)) as oauth:
            url, state = oauth.create_authorization_url(base + "/oauth/authorize")
            r = await oauth.request("GET", url, withhold_token=True, follow_redirects=False)
            assert r.status_code == 302 and r.content == b""
            back = r.headers["location"]
            assert back.startswith(REDIRECT_URI + "?code=")
            query = parse_qs(urlsplit(back).query)
            assert query["state"] == [state] and set(query) == {"code", "state"}

            token = await oauth.fetch_token(base + "/oauth/token", authorization_response=back,
                                            state=state)
            _token_shape(token, "second-scope")
            assert token["created_at"] == DOC_EPOCH
            sent = app.journal.filter(vendor="groove", path="/oauth/token")[0]
            # authlib did send the credentials the way it was told to
            assert ("authorization" in sent.request_headers) == (method == "client_secret_basic")
            assert ("client_secret" in sent.request_body) == (method == "client_secret_post")

            r = await oauth.post(base + "/api/public/v1/graphql", json={"query": PERSON})
            assert r.status_code == 200 and r.json() == ADA

            old = dict(token)
            new = await oauth.refresh_token(base + "/oauth/token")
            _token_shape(new, "second-scope")
            assert new["access_token"] != old["access_token"]
            assert new["refresh_token"] != old["refresh_token"]
            r = await oauth.post(base + "/api/public/v1/graphql", json={"query": PERSON})
            assert r.status_code == 200 and r.json() == ADA

            with pytest.raises(OAuthError) as denied:
                await oauth.refresh_token(base + "/oauth/token",
                                          refresh_token=old["refresh_token"])
            assert denied.value.error == "invalid_grant"
            assert denied.value.description == INVALID_GRANT["error_description"]
            r = await oauth.request("POST", base + "/api/public/v1/graphql",
                                    json={"query": PERSON}, headers=bearer(old["access_token"]),
                                    withhold_token=True)
            assert_401(r, "The access token was revoked")

    asyncio.run(flow())


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_code_flow_and_refresh_against_the_live_server(live, method):
    tenant = live.http.post("/__admin/tenants").json()  # the shared server's default is left alone
    creds = tenant["credentials"]["groove"]
    base = live.url + "/groove"
    try:
        with OAuth2Client(creds["clientId"], creds["clientSecret"],
                          redirect_uri=creds["redirectUri"], token_endpoint_auth_method=method,
                          timeout=10) as oauth:
            url, state = oauth.create_authorization_url(base + "/oauth/authorize")
            r = oauth.request("GET", url, withhold_token=True, follow_redirects=False)
            assert r.status_code == 302 and r.content == b""
            back = r.headers["location"]
            query = parse_qs(urlsplit(back).query)
            assert back.startswith(REDIRECT_URI + "?code=")
            assert query["state"] == [state] and set(query) == {"code", "state"}

            token = oauth.fetch_token(base + "/oauth/token", authorization_response=back,
                                      state=state)
            _token_shape(token, DEFAULT_SCOPES)
            journal = live.http.get("/__admin/requests", params={
                "vendor": "groove", "tenant": tenant["id"], "path": "/oauth/token"}).json()
            sent = journal["requests"][0]["request"]
            assert ("authorization" in sent["headers"]) == (method == "client_secret_basic")
            assert ("client_secret" in sent["body"]) == (method == "client_secret_post")

            r = oauth.post(base + "/api/public/v1/graphql", json={"query": PERSON})
            assert r.status_code == 200 and r.json() == ADA

            old = dict(token)
            new = oauth.refresh_token(base + "/oauth/token")
            _token_shape(new, DEFAULT_SCOPES)
            assert {new["access_token"], new["refresh_token"]}.isdisjoint(
                {old["access_token"], old["refresh_token"]})
            r = oauth.post(base + "/api/public/v1/graphql", json={"query": PERSON})
            assert r.status_code == 200 and r.json() == ADA

            r = live.request("POST", "/groove/oauth/token", data={
                "grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
                auth=(creds["clientId"], creds["clientSecret"]))
            assert r.status_code == 400 and r.json() == INVALID_GRANT
            r = live.request("POST", "/groove/api/public/v1/graphql", json={"query": PERSON},
                             headers=bearer(old["access_token"]))
            assert_401(r, "The access token was revoked")
    finally:
        assert live.http.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204


# == 2. the documented request variants =====================================================
def test_the_docs_step_3_curl_exactly(client):
    """POST /oauth/authorize (the curl's URL) with the curl's JSON body, `redirect_url` and all."""
    code = code_for(client)
    r = client.post("/groove/oauth/authorize", headers={"Content-Type": "application/json"},
                    content=(b'{\n    "grant_type": "authorization_code",\n    "code": "'
                             + code.encode() + b'",\n    "redirect_url": "' + REDIRECT_URI.encode()
                             + b'",\n    "client_id": "groove-sandbox-client",\n'
                             b'    "client_secret": "groove-sandbox-secret"\n  }'))
    body = assert_tokens(r, "first-scope")
    assert_works(client, body["access_token"])


def test_the_docs_refresh_curl_exactly(client):
    refresh = tokens_for(client)["refresh_token"]
    r = client.post("/groove/oauth/token", headers={"Content-Type": "application/json"}, json={
        "grant_type": "refresh_token", "refresh_token": refresh, "redirect_url": REDIRECT_URI,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    body = assert_tokens(r, "first-scope")
    assert_works(client, body["access_token"])


@pytest.mark.parametrize("credentials", ["body", "basic"])
@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize("url", TOKEN_URLS)
def test_code_exchange_at_every_url_in_every_encoding(client, url, encoding, credentials):
    r = send(client, url, code_body(code_for(client)), encoding, credentials)
    body = assert_tokens(r, "first-scope")
    assert_works(client, body["access_token"])


@pytest.mark.parametrize("credentials", ["body", "basic"])
@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize("url", TOKEN_URLS)
def test_refresh_at_every_url_in_every_encoding(client, url, encoding, credentials):
    first = tokens_for(client)
    r = send(client, url, refresh_body(first["refresh_token"]), encoding, credentials)
    body = assert_tokens(r, "first-scope")
    assert_works(client, body["access_token"])
    assert_401(gql(client, first["access_token"], PERSON), "The access token was revoked")


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_redirect_url_spelling_in_the_code_exchange(client, encoding):
    body = code_body(code_for(client), redirect_uri=None, redirect_url=REDIRECT_URI)
    assert_tokens(send(client, TOKEN, body, encoding), "first-scope")


def test_parameters_in_the_query_string_count_as_rails_params(client):
    r = client.post(TOKEN, params=code_body(code_for(client)))
    assert_tokens(r, "first-scope")


def test_basic_credentials_are_form_decoded(client):
    """RFC 6749 2.3.1: each part of the Basic pair is form-encoded before base64."""
    pair = base64.b64encode(b"groove%2Dsandbox%2Dclient:groove%2Dsandbox%2Dsecret").decode()
    body = code_body(code_for(client), client_id=None, client_secret=None)
    r = client.post(TOKEN, data=body, headers={"Authorization": f"Basic {pair}"})
    assert_tokens(r, "first-scope")


def test_basic_credentials_win_over_the_body(client):
    """Doorkeeper tries from_basic before from_params."""
    body = code_body(code_for(client), client_secret="wrong")
    assert_tokens(client.post(TOKEN, data=body, auth=(CLIENT_ID, CLIENT_SECRET)), "first-scope")
    body = code_body(code_for(client))
    assert_oauth_error(client.post(TOKEN, data=body, auth=(CLIENT_ID, "wrong")), 401,
                       INVALID_CLIENT)


def test_each_exchange_mints_distinct_tokens(client):
    a, b = tokens_for(client), tokens_for(client)
    assert len({a["access_token"], a["refresh_token"], b["access_token"],
                b["refresh_token"]}) == 4
    assert_works(client, a["access_token"])
    assert_works(client, b["access_token"])


def test_error_answers_are_not_cacheable_either(client):
    r = client.post(TOKEN, json={"grant_type": "authorization_code", "code": "x"})
    assert_oauth_error(r, 401, INVALID_CLIENT)


# == 3. the authorize endpoint ==============================================================
def test_authorize_redirects_with_a_code_and_the_same_state(client):
    r = authorize(client, state="xyz-123")
    params = location_params(r)
    assert set(params) == {"code", "state"} and params["state"] == "xyz-123"
    assert r.headers["location"] == (f"{REDIRECT_URI}?code={quote(params['code'], safe='')}"
                                     "&state=xyz-123")
    assert_tokens(client.post(TOKEN, json=code_body(params["code"])), "first-scope")


@pytest.mark.parametrize("response_type", [None, "code"])
def test_response_type_may_be_left_out_as_the_doc_does(client, response_type):
    params = location_params(authorize(client, response_type=response_type))
    assert set(params) == {"code", "state"}


def test_a_state_with_reserved_characters_comes_back_intact(client):
    state = "a b&c=d/é?#%"
    params = location_params(authorize(client, state=state))
    assert params["state"] == state


def test_no_state_no_state_in_the_location(client):
    params = location_params(authorize(client, state=None))
    assert set(params) == {"code"}


def test_unsupported_response_type_is_redirected(client):
    params = location_params(authorize(client, response_type="token"))
    assert params == {"error": "unsupported_response_type",
                      "error_description": UNSUPPORTED_RESPONSE, "state": "s1"}


@pytest.mark.parametrize("scope", ["admin", "first-scope admin", "FIRST-SCOPE"])
def test_an_unknown_scope_is_redirected_as_invalid_scope(client, scope):
    params = location_params(authorize(client, scope=scope))
    assert params == {"error": "invalid_scope", "error_description": INVALID_SCOPE,
                      "state": "s1"}


def test_invalid_scope_without_state_has_no_state(client):
    params = location_params(authorize(client, scope="admin", state=None))
    assert params == {"error": "invalid_scope", "error_description": INVALID_SCOPE}


@pytest.mark.parametrize("scope,granted", [(None, DEFAULT_SCOPES), ("", DEFAULT_SCOPES),
                                           ("second-scope", "second-scope"),
                                           ("second-scope  first-scope",
                                            "second-scope first-scope")])
def test_the_scope_granted(client, scope, granted):
    code = redirect_params(authorize(client, scope=scope))["code"]
    assert_tokens(client.post(TOKEN, json=code_body(code)), granted)


@pytest.mark.parametrize("client_id", ["no-such-client", "GROOVE-SANDBOX-CLIENT",
                                       "groove-sandbox-secret"])
def test_an_unknown_client_is_told_so_and_never_redirected(client, client_id):
    assert_oauth_error(authorize(client, client_id=client_id), 401, INVALID_CLIENT)
    # not even when the redirect URI is bad as well
    assert_oauth_error(authorize(client, client_id=client_id, redirect_uri="http://evil.test/"),
                       401, INVALID_CLIENT)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
@pytest.mark.parametrize("blank", [None, ""])
def test_a_missing_client_id_or_redirect_uri_is_invalid_request(client, name, blank):
    assert_oauth_error(authorize(client, **{name: blank}), 400, missing(name))


@pytest.mark.parametrize("uri", ["http://evil.test/oauth/callback",
                                 "http://localhost:3000/oauth/callback/",
                                 "http://localhost:3001/oauth/callback",
                                 "https://localhost:3000/oauth/callback",
                                 "http://localhost:3000/oauth/callback?next=/home",
                                 "http://localhost:3000/oauth/callback#frag"])
def test_an_unregistered_redirect_uri_is_not_redirected_to(client, uri):
    """Doorkeeper compares redirect URIs as strings (RFC 6749 3.1.2.3)."""
    assert_oauth_error(authorize(client, redirect_uri=uri), 400, INVALID_REDIRECT)
    # nor are the errors that would otherwise be redirected
    assert_oauth_error(authorize(client, redirect_uri=uri, scope="admin"), 400, INVALID_REDIRECT)


def test_a_registered_redirect_uri_with_a_query_keeps_it(app, client):
    """An app registered with `...?app=crm` gets its code appended with `&`."""
    tenant = new_tenant(client)
    registered = REDIRECT_URI + "?app=crm"
    app.tenants.get(tenant["id"]).credentials["groove"]["redirectUri"] = registered
    creds = tenant["credentials"]["groove"]
    r = authorize(client, client_id=creds["clientId"], redirect_uri=registered)
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(registered + "&code=")
    params = redirect_params(r)
    assert params == {"app": "crm", "code": params["code"], "state": "s1"}
    bad = authorize(client, client_id=creds["clientId"], redirect_uri=registered, scope="admin")
    assert bad.headers["location"].startswith(registered + "&error=invalid_scope&")
    # the exchange must name the redirect URI the code was issued for, query and all
    body = code_body(params["code"], client_id=creds["clientId"],
                     client_secret=creds["clientSecret"])
    assert_oauth_error(client.post(TOKEN, json=body), 400, INVALID_GRANT)
    assert_tokens(client.post(TOKEN, json={**body, "redirect_uri": registered}), "first-scope")


@pytest.mark.parametrize("bad,status", [({"scope": "admin"}, 302),
                                        ({"response_type": "token"}, 302),
                                        ({"redirect_uri": "http://x.test/"}, 400),
                                        ({"client_id": "nope"}, 401)])
def test_a_refused_authorize_issues_no_code(app, client, bad, status):
    r = authorize(client, **bad)
    assert r.status_code == status
    assert "code=" not in r.headers.get("location", "")
    assert len(app.tenants.default.stores["groove"].codes) == 0


def test_authorize_takes_the_docs_redirect_url_spelling_too(client):
    r = client.get(AUTHORIZE, params={"client_id": CLIENT_ID, "redirect_url": REDIRECT_URI})
    assert set(location_params(r)) == {"code"}


# -- the consent page ----------------------------------------------------------------------
class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: dict[str, str | None] = {}
        self.hidden: dict[str, str] = {}
        self.buttons: list[tuple[str, str]] = []
        self._button: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.form = a
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"] or ""] = a.get("value") or ""
        elif tag == "button":
            self._button = a

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.buttons.append((self._button.get("value") or "", data.strip()))
            self._button = None


def consent_form(client, **params: Any) -> _Form:
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "first-scope",
             "state": "s1", "prompt": "consent", **params}
    r = client.get(AUTHORIZE, check=False,
                   params={k: v for k, v in query.items() if v is not None})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    page = _Form()
    page.feed(r.text)
    return page


def test_prompt_consent_shows_a_page_with_approve_and_deny(app, client):
    page = consent_form(client)
    assert page.buttons == [("approve", "Approve"), ("deny", "Deny")]
    assert page.form["method"] == "post" and page.form["action"] == "authorize"
    assert page.hidden == {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                           "scope": "first-scope", "response_type": "code", "state": "s1"}
    assert len(app.tenants.default.stores["groove"].codes) == 0  # nothing issued yet


def test_the_consent_page_escapes_what_it_echoes(client):
    state = '"><script>alert(1)</script>'
    r = client.get(AUTHORIZE, check=False, params={
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": state,
        "prompt": "consent"})
    assert r.status_code == 200
    assert "<script>" not in r.text
    page = _Form()
    page.feed(r.text)
    assert page.hidden["state"] == state
    assert page.hidden["scope"] == DEFAULT_SCOPES


def test_the_consent_page_checks_the_request_first(client):
    r = client.get(AUTHORIZE, params={"client_id": "nope", "redirect_uri": REDIRECT_URI,
                                      "prompt": "consent"})
    assert_oauth_error(r, 401, INVALID_CLIENT)
    r = client.get(AUTHORIZE, params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                                      "prompt": "consent", "scope": "admin"})
    assert location_params(r) == {"error": "invalid_scope", "error_description": INVALID_SCOPE}


def test_approving_on_the_consent_page_redirects_with_a_code(client):
    page = consent_form(client)
    # the form's relative action resolves to the authorize URL itself
    r = client.post(AUTHORIZE, data={**page.hidden, "decision": "approve"})
    params = location_params(r)
    assert set(params) == {"code", "state"} and params["state"] == "s1"
    assert_tokens(client.post(TOKEN, json=code_body(params["code"])), "first-scope")


def test_denying_on_the_consent_page_redirects_with_access_denied(app, client):
    page = consent_form(client)
    r = client.post(AUTHORIZE, data={**page.hidden, "decision": "deny"})
    assert location_params(r) == {"error": "access_denied", "error_description": ACCESS_DENIED,
                                  "state": "s1"}
    assert len(app.tenants.default.stores["groove"].codes) == 0


def test_delete_authorize_is_doorkeepers_deny(client):
    r = client.delete(AUTHORIZE, params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                                         "state": "s9"})
    assert location_params(r) == {"error": "access_denied", "error_description": ACCESS_DENIED,
                                  "state": "s9"}


def test_the_consent_answer_is_checked_like_the_request(client):
    page = consent_form(client)
    r = client.post(AUTHORIZE, data={**page.hidden, "redirect_uri": "http://evil.test/",
                                     "decision": "approve"})
    assert_oauth_error(r, 400, INVALID_REDIRECT)
    r = client.delete(AUTHORIZE, params={"client_id": "nope", "redirect_uri": REDIRECT_URI})
    assert_oauth_error(r, 401, INVALID_CLIENT)


# == 4. token errors, Doorkeeper's bodies ===================================================
@pytest.mark.parametrize("grant_type", [None, ""])
def test_missing_grant_type(client, grant_type):
    body = code_body(code_for(client), grant_type=grant_type)
    assert_oauth_error(client.post(TOKEN, json=body), 400, missing("grant_type"))


@pytest.mark.parametrize("grant_type", ["client_credentials", "password", "implicit",
                                        "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                        "AUTHORIZATION_CODE"])
def test_other_grant_types_are_unsupported(client, grant_type):
    r = client.post(TOKEN, data={"grant_type": grant_type, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET, "username": "a",
                                 "password": "b"})
    assert_oauth_error(r, 400, UNSUPPORTED_GRANT)


@pytest.mark.parametrize("over,auth", [
    ({"client_secret": "wrong"}, None),
    ({"client_id": "no-such-client"}, None),
    ({"client_id": None, "client_secret": None}, None),
    ({"client_secret": None}, None),
    ({"client_id": None}, None),
    ({"client_secret": ""}, None),
    ({"client_id": None, "client_secret": None}, (CLIENT_ID, "wrong")),
    ({"client_id": None, "client_secret": None}, ("no-such-client", CLIENT_SECRET)),
], ids=["wrong-secret", "unknown-client", "no-client-auth", "no-secret", "no-id", "blank-secret",
        "basic-wrong-secret", "basic-unknown-client"])
def test_bad_client_authentication_is_401_and_consumes_nothing(client, over, auth):
    code = code_for(client)
    r = client.post(TOKEN, json=code_body(code, **over), auth=auth)
    assert_oauth_error(r, 401, INVALID_CLIENT)
    assert_tokens(client.post(TOKEN, json=code_body(code)), "first-scope")


def test_a_tenants_secret_does_not_authenticate_the_default_client(client):
    other = new_tenant(client)["credentials"]["groove"]
    r = client.post(TOKEN, json=code_body(code_for(client), client_secret=other["clientSecret"]))
    assert_oauth_error(r, 401, INVALID_CLIENT)


@pytest.mark.parametrize("blank", [None, ""])
def test_missing_code(client, blank):
    assert_oauth_error(client.post(TOKEN, json=code_body(blank)), 400, missing("code"))


@pytest.mark.parametrize("blank", [None, ""])
def test_missing_redirect_uri_and_the_code_survives(client, blank):
    code = code_for(client)
    r = client.post(TOKEN, json=code_body(code, redirect_uri=blank))
    assert_oauth_error(r, 400, missing("redirect_uri"))
    assert_tokens(client.post(TOKEN, json=code_body(code)), "first-scope")


@pytest.mark.parametrize("blank", [None, ""])
def test_missing_refresh_token(client, blank):
    assert_oauth_error(client.post(TOKEN, json=refresh_body(blank)), 400,
                       missing("refresh_token"))


def test_a_code_works_once(client):
    code = code_for(client)
    first = assert_tokens(client.post(TOKEN, json=code_body(code)), "first-scope")
    assert_oauth_error(client.post(TOKEN, json=code_body(code)), 400, INVALID_GRANT)
    assert_works(client, first["access_token"])  # the first exchange's tokens stay good


def test_a_code_expires_after_ten_minutes(client, clock):
    early, late = code_for(client), code_for(client)
    clock.advance(599)
    assert_tokens(client.post(TOKEN, json=code_body(early)), "first-scope",
                  created_at=DOC_EPOCH + 599)
    clock.advance(2)
    assert_oauth_error(client.post(TOKEN, json=code_body(late)), 400, INVALID_GRANT)


@pytest.mark.parametrize("uri", ["http://localhost:3000/oauth/other", REDIRECT_URI + "/",
                                 "http://evil.test/oauth/callback"])
def test_a_code_exchanged_with_another_redirect_uri_is_invalid_and_survives(client, uri):
    code = code_for(client)
    assert_oauth_error(client.post(TOKEN, json=code_body(code, redirect_uri=uri)), 400,
                       INVALID_GRANT)
    assert_oauth_error(client.post(TOKEN, json=code_body(code, redirect_uri=None,
                                                         redirect_url=uri)), 400, INVALID_GRANT)
    assert_tokens(client.post(TOKEN, json=code_body(code)), "first-scope")


def test_another_clients_code_is_invalid_grant_and_survives(client):
    other = new_tenant(client)["credentials"]["groove"]
    mine = code_for(client)
    r = client.post(TOKEN, json=code_body(mine, client_id=other["clientId"],
                                          client_secret=other["clientSecret"]))
    assert_oauth_error(r, 400, INVALID_GRANT)
    # and the other way round
    theirs = code_for(client, client_id=other["clientId"])
    assert_oauth_error(client.post(TOKEN, json=code_body(theirs)), 400, INVALID_GRANT)
    # neither was consumed
    assert_tokens(client.post(TOKEN, json=code_body(mine)), "first-scope")
    assert_tokens(client.post(TOKEN, json=code_body(theirs, client_id=other["clientId"],
                                                    client_secret=other["clientSecret"])),
                  "first-scope")


@pytest.mark.parametrize("code", ["garbage", "default.abc", "x" * 300])
def test_an_unknown_code_is_invalid_grant(client, code):
    assert_oauth_error(client.post(TOKEN, json=code_body(code)), 400, INVALID_GRANT)


def test_tokens_are_not_codes_and_codes_are_not_refresh_tokens(client):
    tokens = tokens_for(client)
    for value in (tokens["access_token"], tokens["refresh_token"]):
        assert_oauth_error(client.post(TOKEN, json=code_body(value)), 400, INVALID_GRANT)
    code = code_for(client)
    for value in (tokens["access_token"], code):
        assert_oauth_error(client.post(TOKEN, json=refresh_body(value)), 400, INVALID_GRANT)
    assert_tokens(client.post(TOKEN, json=code_body(code)), "first-scope")
    assert_works(client, tokens["access_token"])


def test_a_refresh_token_works_once_and_revokes_its_access_token(client):
    first = tokens_for(client)
    second = assert_tokens(client.post(TOKEN, json=refresh_body(first["refresh_token"])),
                           "first-scope")
    assert_oauth_error(client.post(TOKEN, json=refresh_body(first["refresh_token"])), 400,
                       INVALID_GRANT)
    assert_401(gql(client, first["access_token"], PERSON), "The access token was revoked")
    assert_works(client, second["access_token"])
    third = assert_tokens(client.post(TOKEN, json=refresh_body(second["refresh_token"])),
                          "first-scope")
    assert_401(gql(client, second["access_token"], PERSON), "The access token was revoked")
    assert_works(client, third["access_token"])


def test_a_failed_refresh_changes_nothing(client):
    first = tokens_for(client)
    r = client.post(TOKEN, json=refresh_body(first["refresh_token"], client_secret="wrong"))
    assert_oauth_error(r, 401, INVALID_CLIENT)
    assert_works(client, first["access_token"])
    assert_tokens(client.post(TOKEN, json=refresh_body(first["refresh_token"])), "first-scope")


def test_another_clients_refresh_token_is_invalid_grant(client):
    other = new_tenant(client)["credentials"]["groove"]
    mine = tokens_for(client)
    r = client.post(TOKEN, json=refresh_body(mine["refresh_token"], client_id=other["clientId"],
                                             client_secret=other["clientSecret"]))
    assert_oauth_error(r, 400, INVALID_GRANT)
    assert_works(client, mine["access_token"])


def test_refresh_keeps_the_scope_and_stamps_the_new_time(client, clock):
    code = redirect_params(authorize(client, scope="second-scope"))["code"]
    first = assert_tokens(client.post(TOKEN, json=code_body(code)), "second-scope")
    clock.advance(7200 * 3)  # the access token is long expired; its refresh token is not
    r = client.post(TOKEN, json=refresh_body(first["refresh_token"]))
    second = assert_tokens(r, "second-scope", created_at=DOC_EPOCH + 21600)
    assert_works(client, second["access_token"])


def test_a_body_that_is_not_json_is_invalid_request(client):
    r = client.post(TOKEN, content=b'{"grant_type": ', headers={"Content-Type": "application/json"})
    assert_oauth_error(r, 400, {"error": "invalid_request",
                                "error_description": "The request body is not valid JSON."})


@pytest.mark.parametrize("over,status,error", [
    ({"code": 123}, 400, INVALID_GRANT),
    ({"code": ["x"]}, 400, missing("code")),
    ({"grant_type": ["authorization_code"]}, 400, missing("grant_type")),
    ({"client_secret": None}, 401, INVALID_CLIENT),
    ({"client_secret": {"$ne": ""}}, 401, INVALID_CLIENT),
    ({"redirect_uri": True}, 400, INVALID_GRANT),
], ids=["int-code", "list-code", "list-grant-type", "null-secret", "object-secret", "bool-uri"])
def test_json_values_that_are_not_strings(client, over, status, error):
    """Rails hands Doorkeeper scalars as text and anything else as nothing."""
    code = code_for(client)
    r = client.post(TOKEN, content=json.dumps({**code_body(code), **over}),
                    headers={"Content-Type": "application/json"})
    assert_oauth_error(r, status, error)
    assert_tokens(client.post(TOKEN, json=code_body(code)), "first-scope")


@pytest.mark.parametrize("body", [b"[]", b'"authorization_code"', b"null", b"{}"])
def test_a_json_body_that_is_not_an_object_misses_grant_type(client, body):
    r = client.post(TOKEN, content=body, headers={"Content-Type": "application/json"})
    assert_oauth_error(r, 400, missing("grant_type"))


# == 5. access token lifetime and the resource guard ========================================
def test_an_access_token_lives_two_hours_on_the_mock_clock(client, clock):
    token = tokens_for(client)["access_token"]
    clock.advance(7199)
    assert_works(client, token)
    clock.advance(1)
    assert_401(gql(client, token, PERSON), "The access token expired")
    clock.advance(86400 * 30)  # long gone: no longer recognised at all
    assert_401(gql(client, token, PERSON), "The access token is invalid")


def test_advancing_7200_seconds_through_the_admin_clock_expires_a_token(client):
    token = tokens_for(client)["access_token"]
    assert client.post("/__admin/clock", json={"advance": 7200}).status_code == 200
    assert_401(gql(client, token, PERSON), "The access token expired")


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
    {"Authorization": "Bearer garbage"}, {"Authorization": "Token garbage"},
    {"Authorization": "Basic Z3Jvb3ZlLXNhbmRib3gtY2xpZW50Omdyb292ZS1zYW5kYm94LXNlY3JldA=="},
    {"Authorization": "Bearer nosuchtenant.abc"},
], ids=["none", "empty", "scheme-only", "scheme-space", "garbage", "other-scheme",
        "client-credentials-basic", "unknown-tenant"])
def test_a_missing_or_unknown_token_is_invalid(client, headers):
    r = client.post(GRAPHQL, json={"query": PERSON}, headers=headers)
    assert_401(r, "The access token is invalid")


def test_a_refresh_token_is_not_an_access_token(client):
    tokens = tokens_for(client)
    assert_401(gql(client, tokens["refresh_token"], PERSON), "The access token is invalid")


def test_the_bearer_scheme_is_case_insensitive(client):
    token = tokens_for(client)["access_token"]
    r = client.post(GRAPHQL, json={"query": PERSON}, headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200 and r.json() == ADA


def test_an_expired_token_after_a_refresh_is_revoked_not_expired(client, clock):
    """Doorkeeper checks revocation before expiry."""
    first = tokens_for(client)
    client.post(TOKEN, json=refresh_body(first["refresh_token"]))
    clock.advance(7200)
    assert_401(gql(client, first["access_token"], PERSON), "The access token was revoked")
