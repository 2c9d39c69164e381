"""POST /oauth/token: the client-credentials flow, its errors, and token expiry on the mock clock."""
from __future__ import annotations

import pytest

from .conftest import SANDBOX, example

TOKEN = "/gravy/oauth/token"
GRANT = {"grant_type": "client_credentials", **SANDBOX}
INVALID_CLIENT = {"statusCode": 401, "message": "Invalid client credentials", "error": "Unauthorized"}
UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized"}


def assert_token(r, scope: str = "read write") -> str:
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == scope
    assert isinstance(body["access_token"], str) and body["access_token"]
    return body["access_token"]


def can_list(client, token: str) -> int:
    return client.get("/gravy/connections?limit=1",
                      headers={"Authorization": f"Bearer {token}"}).status_code


# -- the three ways to send client credentials -----------------------------------------------
def test_json_body(client):
    token = assert_token(client.post(TOKEN, json=GRANT))
    assert can_list(client, token) == 200


def test_form_encoded_body(client):
    token = assert_token(client.post(TOKEN, data=GRANT))
    assert can_list(client, token) == 200


def test_http_basic_credentials_with_grant_type_in_body(client):
    r = client.post(TOKEN, data={"grant_type": "client_credentials"},
                    auth=(SANDBOX["client_id"], SANDBOX["client_secret"]))
    token = assert_token(r)
    assert can_list(client, token) == 200


def test_http_basic_with_json_grant_type(client):
    r = client.post(TOKEN, json={"grant_type": "client_credentials"},
                    auth=(SANDBOX["client_id"], SANDBOX["client_secret"]))
    assert_token(r)


def test_http_basic_wrong_secret_is_401(client):
    r = client.post(TOKEN, data={"grant_type": "client_credentials"},
                    auth=(SANDBOX["client_id"], "nope"))
    assert r.status_code == 401
    assert r.json() == INVALID_CLIENT


def test_each_call_mints_a_distinct_working_token(client):
    a = assert_token(client.post(TOKEN, json=GRANT))
    b = assert_token(client.post(TOKEN, json=GRANT))
    assert a != b
    assert can_list(client, a) == 200 and can_list(client, b) == 200


# -- the documented example ------------------------------------------------------------------
def test_documented_example_returns_documented_response(client):
    r = client.post(TOKEN, json=example("oauth-token.request"))
    assert r.status_code == 200
    assert r.json() == example("oauth-token.response")
    # and the documented token "123" is a real bearer token
    assert can_list(client, "123") == 200


def test_scope_defaults_to_read_write(client):
    assert_token(client.post(TOKEN, json=GRANT), "read write")


def test_scope_is_echoed(client):
    assert_token(client.post(TOKEN, json={**GRANT, "scope": "read"}), "read")


def test_token_response_is_not_cacheable(client):
    r = client.post(TOKEN, json=GRANT)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"].startswith("application/json")


# -- credential errors -----------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {**GRANT, "client_secret": "wrong"},
    {**GRANT, "client_id": "no-such-client"},
    {"grant_type": "client_credentials"},
    {"grant_type": "client_credentials", "client_id": SANDBOX["client_id"]},
    {"grant_type": "client_credentials", "client_id": "123", "client_secret": "1234"},
    # a publishable key is not a client id
    {"grant_type": "client_credentials", "client_id": "pk-test-sandbox",
     "client_secret": SANDBOX["client_secret"]},
], ids=["wrong-secret", "unknown-client", "no-credentials", "no-secret", "doc-client-bad-secret",
        "publishable-key-as-client"])
def test_bad_client_credentials_are_401(client, body):
    r = client.post(TOKEN, json=body)
    assert r.status_code == 401
    assert r.json() == INVALID_CLIENT


def test_password_grant_is_400(client):
    r = client.post(TOKEN, json={**GRANT, "grant_type": "password"})
    assert r.status_code == 400
    assert r.json() == {"statusCode": 400, "message": "Unsupported grant type",
                        "error": "Bad Request"}


def test_missing_grant_type_is_validation_error(client):
    r = client.post(TOKEN, json=SANDBOX)
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "message": ["grant_type should not be empty", "grant_type must be a string"],
        "error": "Bad Request", "errorCode": "VALIDATION_001",
        "details": [{"property": "grant_type", "constraints": {
            "isNotEmpty": "grant_type should not be empty",
            "isString": "grant_type must be a string",
            "message": "grant_type should not be empty, grant_type must be a string"}}],
    }


def test_non_string_grant_type_is_validation_error(client):
    r = client.post(TOKEN, json={**GRANT, "grant_type": 5})
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400, "message": ["grant_type must be a string"], "error": "Bad Request",
        "errorCode": "VALIDATION_001",
        "details": [{"property": "grant_type",
                     "constraints": {"isString": "grant_type must be a string",
                                     "message": "grant_type must be a string"}}],
    }


def test_unknown_body_key_is_rejected(client):
    r = client.post(TOKEN, json={**GRANT, "foo": "bar"})
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400, "message": ["property foo should not exist"], "error": "Bad Request",
        "errorCode": "VALIDATION_001",
        "details": [{"property": "foo",
                     "constraints": {"whitelistValidation": "property foo should not exist",
                                     "message": "property foo should not exist"}}],
    }


def test_unknown_form_key_is_rejected(client):
    r = client.post(TOKEN, data={**GRANT, "foo": "bar"})
    assert r.status_code == 400
    assert r.json()["message"] == ["property foo should not exist"]


def test_truncated_json_is_400(client):
    r = client.post(TOKEN, content=b'{"grant_type":',
                    headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"statusCode": 400, "message": "Unexpected end of JSON input",
                        "error": "Bad Request"}


@pytest.mark.parametrize("raw", [b"{bad json}", b"{'grant_type': 'client_credentials'}",
                                 b'"client_credentials"', b"nul", b"\xff\xfe{",
                                 b'{"grant_type": NaN}', b"[Infinity]"])
def test_malformed_json_is_400_never_5xx(client, raw):
    r = client.post(TOKEN, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert isinstance(body["message"], str) and body["message"]


# -- expiry by the mock clock ----------------------------------------------------------------
def test_token_expires_after_3600_seconds_of_mock_time(client):
    token = assert_token(client.post(TOKEN, json=GRANT))
    client.post("/__admin/clock", json={"advance": 3599})
    assert can_list(client, token) == 200
    client.post("/__admin/clock", json={"advance": 1})
    r = client.get("/gravy/connections?limit=1", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED
    # a fresh token works again
    assert can_list(client, assert_token(client.post(TOKEN, json=GRANT))) == 200


def test_documented_token_also_expires(client):
    assert client.post(TOKEN, json=example("oauth-token.request")).status_code == 200
    client.post("/__admin/clock", json={"advance": 3600})
    assert can_list(client, "123") == 401


def test_unknown_bearer_is_401(client):
    r = client.get("/gravy/connections", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


# -- Express path matching -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/gravy/oauth/token/", "/gravy/OAUTH/TOKEN",
                                  "/gravy/OAuth/Token/"])
def test_trailing_slash_and_case_variants(client, path):
    assert_token(client.post(path, json=GRANT))


def test_get_on_token_endpoint_is_express_404(client):
    r = client.get(TOKEN)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Cannot GET /oauth/token",
                        "error": "Not Found"}


def test_python_only_json_constants_are_rejected_like_json_parse(client):
    r = client.post(TOKEN, content=b'{"grant_type": NaN}', headers={"content-type": "application/json"})
    assert r.json()["message"] == 'Unexpected token \'N\', "{\"grant_type\": NaN}" is not valid JSON'
