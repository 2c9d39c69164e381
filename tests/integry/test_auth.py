"""Integry's authentication: App-Key, User-ID and Hash = hex HMAC-SHA256(app secret, user id), as
headers or (the Node SDK's way) as app_key, user_id, hash query parameters; DRF's 403s."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from .conftest import APP_KEY, APP_SECRET, BASE, DOC_HASH, USER_ID, headers, sign

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INCORRECT = {"detail": "Incorrect authentication credentials."}
SLACK_GET = BASE + "/apps/slack/get/"
ROUTES = ["/apps/list/", "/apps/slack/get/", "/functions/list/", "/functions/predict/",
          "/functions/slack-post-message/get/", "/functions/slack-post-message/call/"]
HYPOTHESIS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def post(client, path: str = SLACK_GET, **kw):
    return client.post(path, **kw)


@pytest.mark.parametrize("path", ROUTES)
def test_no_credentials_at_all(client, app, path):
    r = post(client, BASE + path, json={"prompt": "x", "channel": "random", "text": "hi"})
    assert r.status_code == 403
    assert r.json() == NOT_PROVIDED
    assert app.tenants.default.stores["integry"].calls == {}


@pytest.mark.parametrize("missing", ["App-Key", "User-ID", "Hash"])
def test_any_one_header_missing(client, missing):
    sent = {k: v for k, v in headers().items() if k != missing}
    r = post(client, headers=sent)
    assert r.status_code == 403
    assert r.json() == NOT_PROVIDED


@pytest.mark.parametrize("empty", ["App-Key", "User-ID", "Hash"])
def test_an_empty_header_is_a_missing_one(client, empty):
    r = post(client, headers={**headers(), empty: ""})
    assert r.status_code == 403
    assert r.json() == NOT_PROVIDED


@pytest.mark.parametrize("missing", ["app_key", "user_id", "hash"])
def test_any_one_query_parameter_missing(client, missing):
    params = {k: v for k, v in {"app_key": APP_KEY, "user_id": USER_ID, "hash": sign()}.items()
              if k != missing}
    r = post(client, BASE + "/apps/slack/get", params=params)
    assert r.status_code == 403
    assert r.json() == NOT_PROVIDED


@pytest.mark.parametrize("sent", [
    {"App-Key": APP_KEY, "User-ID": USER_ID, "Hash": "0" * 64},                     # wrong hash
    {"App-Key": APP_KEY, "User-ID": USER_ID, "Hash": sign(USER_ID, "other-secret")},
    {"App-Key": APP_KEY, "User-ID": USER_ID, "Hash": sign()[:-1]},                 # truncated
    {"App-Key": "00000000-0000-0000-0000-000000000000", "User-ID": USER_ID, "Hash": sign()},
    {"App-Key": APP_KEY.upper(), "User-ID": USER_ID, "Hash": sign()},              # key as sent
    {"App-Key": APP_KEY, "User-ID": USER_ID, "Hash": sign("654321")},  # another user's hash
    {"App-Key": APP_KEY, "User-ID": "654321", "Hash": sign(USER_ID)},
    {"App-Key": APP_KEY, "User-ID": "654321", "Hash": DOC_HASH},       # the doc's is 123456's
], ids=["zeros", "other-secret", "truncated", "unknown-key", "key-case", "other-users-hash",
        "hash-for-123456", "doc-hash-other-user"])
def test_incorrect_credentials(client, sent):
    r = post(client, headers=sent)
    assert r.status_code == 403
    assert r.json() == INCORRECT


def test_the_right_hash_in_any_letter_case(client):
    assert post(client, headers={**headers(), "Hash": sign().upper()}).status_code == 200


def test_a_wrong_hash_executes_nothing(client, app):
    r = client.post(BASE + "/functions/slack-post-message/call/",
                    json={"channel": "random", "text": "hi"},
                    headers={**headers(), "Hash": sign("x")})
    assert r.status_code == 403
    assert app.tenants.default.stores["integry"].slack == {}


@pytest.mark.parametrize("path", ["/apps/slack/get", "/apps/slack/get/", "/functions/list",
                                  "/apps/list"])
def test_node_sdk_query_parameters(client, path):
    r = post(client, BASE + path, params={"app_key": APP_KEY, "user_id": USER_ID,
                                          "hash": sign()})
    assert r.status_code == 200, r.text


def test_query_parameters_with_a_wrong_hash(client):
    r = post(client, BASE + "/apps/slack/get",
             params={"app_key": APP_KEY, "user_id": USER_ID, "hash": sign("nope")})
    assert r.status_code == 403
    assert r.json() == INCORRECT


def test_each_credential_is_its_header_else_its_query_parameter(client):
    """The Node SDK sends all three in the query and also a `hash` header: each field is read
    from its header, else its query parameter, and a header wins over the query."""
    good = {"app_key": APP_KEY, "user_id": USER_ID, "hash": sign()}
    assert post(client, params=good, headers={"Hash": sign()}).status_code == 200
    r = post(client, params=good, headers={"Hash": sign("someone-else")})
    assert r.status_code == 403 and r.json() == INCORRECT


def test_the_users_own_view(client):
    """User-ID decides whose connected accounts the answer shows."""
    mine = post(client, BASE + "/apps/pipedrive/get", headers=headers()).json()
    theirs = post(client, BASE + "/apps/pipedrive/get", headers=headers("someone")).json()
    assert [a["id"] for a in mine["connected_accounts"]] == [247714]
    assert theirs["connected_accounts"] == []


# -- hypothesis: the HMAC, for any user id -----------------------------------------------------
user_ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
ascii_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                    max_size=40)
hex_strings = st.text("0123456789abcdef", min_size=1, max_size=64)


@HYPOTHESIS
@given(user=user_ids, other=hex_strings)
@example(user="Zoë 東京 🎉", other=sign("Zoë"))
@example(user="a&b=c+d%20e#f", other=DOC_HASH)
@example(user=" ", other="0" * 64)
def test_any_user_id_in_the_query(client, user, other):
    params = {"app_key": APP_KEY, "user_id": user}
    r = post(client, BASE + "/apps/list", params={**params, "hash": sign(user)}, json={})
    assert r.status_code == 200, r.text
    assume(other != sign(user))
    r = post(client, BASE + "/apps/list", params={**params, "hash": other}, json={})
    assert r.status_code == 403
    assert r.json() == INCORRECT


@HYPOTHESIS
@given(user=ascii_ids, other=hex_strings)
def test_any_user_id_in_headers(client, user, other):
    assert post(client, headers=headers(user)).status_code == 200
    assume(other != sign(user))
    r = post(client, headers={**headers(user), "Hash": other})
    assert r.status_code == 403
    assert r.json() == INCORRECT


@HYPOTHESIS
@given(user=user_ids)
def test_only_the_right_secret_signs(client, user):
    r = post(client, BASE + "/apps/list", json={}, params={
        "app_key": APP_KEY, "user_id": user, "hash": sign(user, APP_SECRET + "x")})
    assert r.status_code == 403


def test_verified_signatures_are_remembered_within_a_bound(client, app):
    """A verified (key, user, hash) spares the next call's HMAC; more users than the memo holds
    still all sign in, the first one again after it was dropped, and a wrong hash never does."""
    from mockserver.vendors.integry.auth import VERIFIED_MEMO as VERIFIED_MAX
    users = [f"u{i}" for i in range(VERIFIED_MAX + 5)]
    for user in users + users[:1]:
        assert post(client, headers=headers(user)).status_code == 200
        assert post(client, headers={**headers(user), "Hash": sign(user + "x")}) \
            .status_code == 403
    assert len(app.vendors["integry"].service.auth._verified) <= VERIFIED_MAX


# -- the doc's Hash ----------------------------------------------------------------------------
def test_the_doc_hash_is_123456s_of_the_default_tenant(client):
    assert DOC_HASH != sign()  # made with Integry's real secret, not the sandbox's
    ok = post(client, headers={"App-Key": APP_KEY, "User-ID": USER_ID, "Hash": DOC_HASH})
    assert ok.status_code == 200
    r = post(client, headers={"App-Key": APP_KEY, "User-ID": "1234567", "Hash": DOC_HASH})
    assert r.json() == INCORRECT
    tenant = client.post("/__admin/tenants").json()
    key = tenant["credentials"]["integry"]["appKey"]
    r = post(client, headers={"App-Key": key, "User-ID": USER_ID, "Hash": DOC_HASH})
    assert r.status_code == 403
    assert r.json() == INCORRECT


def test_the_doc_hash_in_the_query(client):
    r = post(client, BASE + "/apps/slack/get",
             params={"app_key": APP_KEY, "user_id": USER_ID, "hash": DOC_HASH})
    assert r.status_code == 200


# -- the journal -------------------------------------------------------------------------------
def test_the_journal_masks_the_hash(client):
    post(client, headers=headers())
    post(client, headers={**headers(), "Hash": DOC_HASH})
    post(client, BASE + "/apps/slack/get",
         params={"app_key": APP_KEY, "user_id": USER_ID, "hash": sign()})
    post(client, headers={**headers(), "Hash": "f" * 64})   # refused ones too
    raw = client.get("/__admin/requests", params={"vendor": "integry"})
    assert raw.status_code == 200
    for secret in (sign(), DOC_HASH, "f" * 64, APP_SECRET):
        assert secret not in raw.text
    entries = raw.json()["requests"]
    assert len(entries) == 4
    refused, query, doc, signed = entries    # newest first
    assert refused["status"] == 403 and refused["request"]["headers"]["hash"] == "[redacted]"
    assert doc["request"]["headers"]["hash"] == "[redacted]"
    assert signed["request"]["headers"]["hash"] == "[redacted]"
    assert signed["request"]["headers"]["app-key"] == APP_KEY
    assert signed["request"]["headers"]["user-id"] == USER_ID
    assert query["query"] == f"app_key={APP_KEY}&user_id={USER_ID}&hash=%5Bredacted%5D"
    assert all(e["tenant"] in ("default", None) for e in entries)
    assert json.loads(signed["response"]["body"])["name"] == "slack"


def test_a_remembered_signature_is_refused_once_the_secret_is_another(client, app):
    assert post(client, headers=headers()).status_code == 200  # verified, remembered
    creds = app.tenants.default.credentials["integry"]
    creds["appSecret"] = "another-secret"
    r = post(client, headers=headers())
    assert (r.status_code, r.json()) == (403, INCORRECT)
    creds["appSecret"] = "".join(APP_SECRET)  # the same value, another object: signs again
    assert post(client, headers=headers()).status_code == 200
