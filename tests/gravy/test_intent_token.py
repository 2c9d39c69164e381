"""POST /intent-token, GET /intent-token?shortCode=, POST /intent-token/validate."""
from __future__ import annotations

import re
import uuid
from datetime import datetime

import jwt
import pytest
from hypothesis import given, settings, strategies as st

from mockserver import Clock, create_app
from mockserver.vendors.gravy.handlers import INTENT_DTO

from ..conftest import DOC_TIME, MockClient
from .conftest import PUBLISHABLE, example, intent_body, open_connection, token_for

DOC_EPOCH = int(datetime.fromisoformat("2024-01-15T10:30:00+00:00").timestamp())
UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized"}
INVALID_INTENT = {"statusCode": 401, "message": "Invalid or expired intent token",
                  "error": "Unauthorized"}
INTENT_NOT_FOUND = {"statusCode": 404, "message": "Intent token not found", "error": "Not Found"}
BRANDING_KEYS = {"integrationName", "colorPrimary", "colorBackground", "colorCardBackground",
                 "colorText", "colorTextSecondary"}


def validation(*errors: tuple[str, dict[str, str]]) -> dict:
    """The ValidationPipe body for (property, constraints) pairs, in order."""
    return {"statusCode": 400,
            "message": [m for _, c in errors for m in c.values()],
            "error": "Bad Request", "errorCode": "VALIDATION_001",
            "details": [{"property": p, "constraints": {**c, "message": ", ".join(c.values())}}
                        for p, c in errors]}


def total(client, auth) -> int:
    r = client.get("/gravy/connections?limit=1", headers=auth)
    assert r.status_code == 200
    return r.json()["meta"]["total"]


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# -- creating an intent token ----------------------------------------------------------------
def test_documented_request_gets_documented_shape(client, auth):
    request = example("intent-token.request")
    r = client.post("/gravy/intent-token", json=request, headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()
    documented = example("intent-token.response")
    assert set(body) == set(documented)
    assert set(body["branding"]) == set(documented["branding"]) == BRANDING_KEYS
    # the doc pairs its `audible` request with Airbnb's branding: that request gets it
    assert body["branding"] == documented["branding"]
    assert body["debug"] is request["debug"]
    assert re.fullmatch(r"\d{10}", body["shortToken"])
    assert str(uuid.UUID(body["connectionId"])) == body["connectionId"]
    assert body["intentToken"].startswith("eyJ") and body["intentToken"].count(".") == 2


def test_debug_is_echoed(client, auth):
    assert open_connection(client, auth, debug=True)["debug"] is True
    assert open_connection(client, auth, debug=False)["debug"] is False


def test_each_intent_is_a_new_connection_with_its_own_codes(client, auth):
    a, b = open_connection(client, auth), open_connection(client, auth)
    assert a["connectionId"] != b["connectionId"]
    assert a["shortToken"] != b["shortToken"]
    assert a["intentToken"] != b["intentToken"]


@pytest.mark.parametrize("slug", ["airbnb", "audible", "expedia", "kindle", "marriott",
                                  "spotify", "xfinity"])
def test_branding_of_every_integration(client, auth, slug):
    integration = client.get(f"/gravy/integrations/{slug}").json()
    # (not the documented request verbatim, which gets the documented answer's branding)
    created = open_connection(client, auth, integrationId=slug,
                              returnUrl="https://example.com/back")
    assert set(created["branding"]) == BRANDING_KEYS
    assert created["branding"]["integrationName"] == integration["name"]
    conn = client.get(f"/gravy/connections/{created['connectionId']}", headers=auth).json()
    assert conn["integrationId"] == slug


def test_publishable_key_is_accepted(client, auth):
    r = client.post("/gravy/intent-token", json=intent_body(),
                    headers={"Authorization": f"Publishable {PUBLISHABLE}"})
    assert r.status_code == 201, r.text
    cid = r.json()["connectionId"]
    # it lands in the default tenant, visible to the sandbox bearer
    assert client.get(f"/gravy/connections/{cid}", headers=auth).status_code == 200


@pytest.mark.parametrize("header", [
    "Publishable pk-test-unknown", "Publishable ", "Publishable gravy-sandbox-client",
    "Bearer not-a-token", "Basic Z3Jhdnktc2FuZGJveC1jbGllbnQ6Z3Jhdnktc2FuZGJveC1zZWNyZXQ=", None,
], ids=["unknown-pk", "empty-pk", "client-id-as-pk", "bad-bearer", "basic", "none"])
def test_unauthenticated_is_401_and_creates_nothing(client, auth, header):
    before = total(client, auth)
    headers = {"Authorization": header} if header is not None else {}
    r = client.post("/gravy/intent-token", json=intent_body(), headers=headers)
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED
    assert total(client, auth) == before


def test_guard_runs_before_validation(client):
    r = client.post("/gravy/intent-token", json={"foo": 1})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


def test_intent_token_is_a_jwt_with_the_session(client, auth):
    request = intent_body()
    created = open_connection(client, auth)
    payload = claims(created["intentToken"])
    assert jwt.get_unverified_header(created["intentToken"])["alg"] == "HS256"
    assert payload["sessionId"] == created["connectionId"]
    assert payload["resources"] == request["resources"]
    assert payload["returnUrl"] == request["returnUrl"]
    assert payload["products"] == request["products"]
    assert payload["exp"] == DOC_EPOCH + 3600


def test_intent_token_exp_follows_the_mock_clock(client, auth):
    client.post("/__admin/clock", json={"advance": 1000})
    created = open_connection(client, auth, returnUrl="https://app.example/done")
    payload = claims(created["intentToken"])
    assert payload["exp"] == DOC_EPOCH + 1000 + 3600
    assert payload["returnUrl"] == "https://app.example/done"


def test_x_passage_earn_is_accepted_and_ignored(client, auth):
    r = client.post("/gravy/intent-token", json=intent_body(),
                    headers={**auth, "x-passage-earn": "whatever"})
    assert r.status_code == 201, r.text
    assert set(r.json()) == set(example("intent-token.response"))


@pytest.mark.parametrize("drop", ["products", "operations", "webhookUrl"])
def test_optional_fields(client, auth, drop):
    r = client.post("/gravy/intent-token", json=intent_body(**{drop: None}), headers=auth)
    assert r.status_code == 201, r.text


def test_products_absent_gives_empty_products_claim(client, auth):
    created = open_connection(client, auth, products=None, operations=None)
    assert claims(created["intentToken"])["products"] == []


def test_creates_a_pending_connection_with_requested_resources(client, auth):
    created = open_connection(client, auth)
    r = client.get(f"/gravy/connections/{created['connectionId']}", headers=auth)
    assert r.status_code == 200
    conn = r.json()
    assert conn["id"] == created["connectionId"]
    assert conn["status"] == "pending"
    assert conn["integrationId"] == "audible"
    assert conn["userId"] == "123"
    assert conn["createdAt"] == conn["updatedAt"] == "2024-01-15T10:30:00.000Z"
    assert [(x["type"], x["operation"], x["status"]) for x in conn["resources"]] == [
        ("readingHistory", "read", "pending"),
        ("accountBalance", "read", "pending"),
        ("accountBalance", "write", "pending"),
    ]
    for res in conn["resources"]:
        assert res["startedAt"] is None and res["completedAt"] is None
    base = f"http://mock.test/gravy/connections/{conn['id']}"
    assert conn["resources"][0]["url"] == f"{base}/reading-history"
    assert conn["resources"][1]["url"] == f"{base}/balances"


def test_creating_adds_one_to_the_connection_count(client, auth):
    before = total(client, auth)
    open_connection(client, auth)
    assert total(client, auth) == before + 1


# -- validation (class-validator, whitelist + forbidNonWhitelisted) --------------------------
def test_unknown_top_level_key(client, auth):
    r = client.post("/gravy/intent-token", json=intent_body(foo="bar"), headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("foo", {"whitelistValidation": "property foo should not exist"}))


def test_unknown_nested_prompt_key(client, auth):
    prompts = [{"name": "roast", "value": "v", "foo": 1}]
    r = client.post("/gravy/intent-token", json=intent_body(prompts=prompts), headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("prompts.0.foo", {"whitelistValidation": "prompts.0.property foo should not exist"}))


def test_nested_prompt_missing_value(client, auth):
    r = client.post("/gravy/intent-token", json=intent_body(prompts=[{"name": "roast"}]),
                    headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("prompts.0.value", {"isNotEmpty": "prompts.0.value should not be empty",
                             "isString": "prompts.0.value must be a string"}))


def test_wrong_types(client, auth):
    body = intent_body(debug="yes", resources=[], prompts="x", integrationId=5)
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("integrationId", {"isString": "integrationId must be a string"}),
        ("prompts", {"isArray": "prompts must be an array",
                     "nestedValidation": "nested property prompts must be either object or array"}),
        ("debug", {"isBoolean": "debug must be a boolean value"}),
        ("resources", {"isObject": "resources must be an object"}),
    )


def test_every_details_entry_carries_a_readable_message(client, auth):
    """`constraints.message` joins the class-validator messages, which keep their own keys."""
    body = intent_body(debug="yes", foo=1, integrationId=5)
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert r.status_code == 400
    details = r.json()["details"]
    assert [d["constraints"] for d in details] == [
        {"whitelistValidation": "property foo should not exist",
         "message": "property foo should not exist"},
        {"isString": "integrationId must be a string",
         "message": "integrationId must be a string"},
        {"isBoolean": "debug must be a boolean value",
         "message": "debug must be a boolean value"},
    ]


def test_wrong_types_match_the_dto_messages(client, auth):
    """The messages are the ones INTENT_DTO declares (guards the DTO and the handler agreeing)."""
    body = intent_body(sessionArgs="x", captureScreenshot=1, returnUrl=7, webhookUrl=False,
                       products="history", userId="")
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert r.status_code == 400
    expected = INTENT_DTO.validate(body)[1]
    assert r.json() == validation(*expected)
    assert r.json()["message"] == [
        "each value in products must be a string", "products must be an array",
        "userId should not be empty",
        "sessionArgs must be an object", "captureScreenshot must be a boolean value",
        "returnUrl must be a string", "webhookUrl must be a URL address",
    ]


def test_missing_required_fields(client, auth):
    """Only integrationId is required: the web SDK may leave out everything else."""
    r = client.post("/gravy/intent-token", json={}, headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("integrationId", {"isNotEmpty": "integrationId should not be empty",
                           "isString": "integrationId must be a string"}))


def test_one_missing_field(client, auth):
    r = client.post("/gravy/intent-token", json=intent_body(integrationId=None), headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("integrationId", {"isNotEmpty": "integrationId should not be empty",
                           "isString": "integrationId must be a string"}))


def test_unknown_integration_is_404(client, auth):
    r = client.post("/gravy/intent-token", json=intent_body(integrationId="myspace"),
                    headers=auth)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Integration myspace not found",
                        "error": "Not Found"}


@pytest.mark.parametrize("kwargs", [
    {"body": intent_body(foo=1)},
    {"body": intent_body(integrationId="myspace")},
    {"body": intent_body(debug="yes")},
    {"body": {}},
    {"content": b'{"integrationId": "audible",', "ctype": "application/json"},
    {"content": b"integrationId=audible&foo=1", "ctype": "application/x-www-form-urlencoded"},
], ids=["unknown-key", "unknown-integration", "wrong-type", "empty", "bad-json", "form"])
def test_rejected_requests_never_change_state(client, auth, kwargs):
    before = total(client, auth)
    first_page = client.get("/gravy/connections", headers=auth).json()["data"]
    if "body" in kwargs:
        r = client.post("/gravy/intent-token", json=kwargs["body"], headers=auth)
    else:
        r = client.post("/gravy/intent-token", content=kwargs["content"],
                        headers={**auth, "content-type": kwargs["ctype"]})
    assert r.status_code in (400, 404), r.text
    assert total(client, auth) == before
    assert client.get("/gravy/connections", headers=auth).json()["data"] == first_page


# -- GET /intent-token?shortCode= ------------------------------------------------------------
def test_short_code_lookup(client, auth):
    created = open_connection(client, auth)
    r = client.get(f"/gravy/intent-token?shortCode={created['shortToken']}", headers=auth)
    assert r.status_code == 200
    assert r.json() == {"intentToken": created["intentToken"],
                        "sessionId": created["connectionId"],
                        "resources": intent_body()["resources"],
                        "returnUrl": intent_body()["returnUrl"]}


def test_short_code_unknown_is_404(client, auth):
    open_connection(client, auth)
    r = client.get("/gravy/intent-token?shortCode=0000000000", headers=auth)
    assert r.status_code == 404
    assert r.json() == INTENT_NOT_FOUND


def test_short_code_missing_is_validation_error(client, auth):
    r = client.get("/gravy/intent-token", headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("shortCode", {"isNotEmpty": "shortCode should not be empty",
                       "isString": "shortCode must be a string"}))


def test_short_code_needs_no_authorization(client, auth):
    """The web SDK (shortcode.ts resolveShortCode) sends no Authorization header at all."""
    created = open_connection(client, auth)
    url = f"/gravy/intent-token?shortCode={created['shortToken']}"
    want = client.get(url, headers=auth).json()
    for headers in ({}, {"Authorization": f"Publishable {PUBLISHABLE}"},
                    {"Authorization": "Bearer expired-or-garbage"}, {"Authorization": "junk"}):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, headers
        assert r.json() == want
    assert client.get("/gravy/intent-token?shortCode=0000000000").json() == INTENT_NOT_FOUND


def test_short_code_without_authorization_is_journaled_under_its_tenant(client, auth):
    tenant = client.post("/__admin/tenants").json()
    creds = tenant["credentials"]["gravy"]
    theirs = open_connection(client, {"Authorization": f"Publishable {creds['publishableKey']}"})
    client.get(f"/gravy/intent-token?shortCode={theirs['shortToken']}")
    journal = client.get(f"/__admin/requests?tenant={tenant['id']}&method=GET").json()
    assert [e["path"] for e in journal["requests"]] == ["/intent-token"]


def test_short_code_expires_with_the_intent_token(client, auth):
    created = open_connection(client, auth)
    client.post("/__admin/clock", json={"advance": 3599})
    url = f"/gravy/intent-token?shortCode={created['shortToken']}"
    fresh = {"Authorization": f"Bearer {token_for(client)}"}
    assert client.get(url, headers=fresh).status_code == 200
    client.post("/__admin/clock", json={"advance": 2})
    r = client.get(url, headers=fresh)
    assert r.status_code == 404
    assert r.json() == INTENT_NOT_FOUND


# -- POST /intent-token/validate -------------------------------------------------------------
def test_validate(client, auth):
    created = open_connection(client, auth)
    r = client.post("/gravy/intent-token/validate", json={"intentToken": created["intentToken"]},
                    headers=auth)
    assert r.status_code == 201
    assert r.json() == {"valid": True, "sessionId": created["connectionId"],
                        "connectionId": created["connectionId"], "integrationId": "audible",
                        "resources": intent_body()["resources"],
                        "returnUrl": intent_body()["returnUrl"], "exp": DOC_EPOCH + 3600}


@pytest.mark.parametrize("bad", ["garbage", "a.b.c",
                                 jwt.encode({"sessionId": "x", "exp": DOC_EPOCH + 99},
                                            "not-the-secret-of-the-mock-000000", algorithm="HS256")],
                         ids=["garbage", "dots", "foreign-jwt"])
def test_validate_garbage_is_401(client, auth, bad):
    r = client.post("/gravy/intent-token/validate", json={"intentToken": bad}, headers=auth)
    assert r.status_code == 401
    assert r.json() == INVALID_INTENT


def test_validate_tampered_token_is_401(client, auth):
    created = open_connection(client, auth)
    head, payload, sig = created["intentToken"].split(".")
    forged = jwt.encode({**claims(created["intentToken"]), "sessionId": "conn_789xyz123abc"},
                        "guessed-secret-guessed-secret-000", algorithm="HS256")
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    for token in (forged, f"{head}.{payload}.{flipped}"):
        r = client.post("/gravy/intent-token/validate", json={"intentToken": token},
                        headers=auth)
        assert r.status_code == 401
        assert r.json() == INVALID_INTENT


def test_validate_expired_is_401(client, auth):
    created = open_connection(client, auth)
    client.post("/__admin/clock", json={"advance": 3601})
    fresh = {"Authorization": f"Bearer {token_for(client)}"}
    r = client.post("/gravy/intent-token/validate", json={"intentToken": created["intentToken"]},
                    headers=fresh)
    assert r.status_code == 401
    assert r.json() == INVALID_INTENT


def test_validate_other_tenants_token_is_401(client, auth):
    created = open_connection(client, auth)
    tenant = client.post("/__admin/tenants").json()
    creds = tenant["credentials"]["gravy"]
    other = {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}
    r = client.post("/gravy/intent-token/validate", json={"intentToken": created["intentToken"]},
                    headers=other)
    assert r.status_code == 401
    assert r.json() == INVALID_INTENT
    # and the other way round
    theirs = open_connection(client, other)
    r = client.post("/gravy/intent-token/validate", json={"intentToken": theirs["intentToken"]},
                    headers=auth)
    assert r.status_code == 401
    assert r.json() == INVALID_INTENT


def test_validate_missing_token_is_validation_error(client, auth):
    r = client.post("/gravy/intent-token/validate", json={}, headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("intentToken", {"isNotEmpty": "intentToken should not be empty",
                         "isString": "intentToken must be a string"}))


def test_validate_unknown_key_is_rejected(client, auth):
    created = open_connection(client, auth)
    r = client.post("/gravy/intent-token/validate",
                    json={"intentToken": created["intentToken"], "foo": 1}, headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("foo", {"whitelistValidation": "property foo should not exist"}))


def test_validate_needs_no_authorization(client, auth):
    """The web SDK (shortcode.ts validateIntentToken) sends only Content-Type."""
    created = open_connection(client, auth)
    body = {"intentToken": created["intentToken"]}
    want = client.post("/gravy/intent-token/validate", json=body, headers=auth).json()
    for headers in ({}, {"Authorization": f"Publishable {PUBLISHABLE}"},
                    {"Authorization": "Bearer expired-or-garbage"}):
        r = client.post("/gravy/intent-token/validate", json=body, headers=headers)
        assert r.status_code == 201, headers
        assert r.json() == want
    r = client.post("/gravy/intent-token/validate", json={"intentToken": "garbage"})
    assert r.status_code == 401
    assert r.json() == INVALID_INTENT


def test_validate_without_authorization_validates_first(client):
    """No guard any more: a bad body is a 400 even without credentials."""
    r = client.post("/gravy/intent-token/validate", json={"foo": 1})
    assert r.status_code == 400
    assert r.json()["errorCode"] == "VALIDATION_001"


# -- fields the web SDK may leave out or add (FACTS.md) --------------------------------------
@pytest.mark.parametrize("drop", ["captureScreenshot", "prompts", "sessionArgs", "debug",
                                  "userId", "resources", "returnUrl"])
def test_fields_the_sdk_may_leave_out_are_optional(client, auth, drop):
    r = client.post("/gravy/intent-token", json=intent_body(**{drop: None}), headers=auth)
    assert r.status_code == 201, r.text


def test_integration_id_alone_is_enough(client, auth):
    created = open_connection(client, auth, **{k: None for k in intent_body()
                                               if k != "integrationId"})
    assert created["debug"] is False  # the documented response field, defaulted
    conn = client.get(f"/gravy/connections/{created['connectionId']}", headers=auth).json()
    assert conn["userId"] is None and conn["resources"] == []
    payload = claims(created["intentToken"])
    assert payload["resources"] == {} and "returnUrl" not in payload
    r = client.get(f"/gravy/intent-token?shortCode={created['shortToken']}", headers=auth)
    assert r.json() == {"intentToken": created["intentToken"],
                        "sessionId": created["connectionId"], "resources": {}}


def test_explicit_nulls_count_as_absent(client, auth):
    """@IsOptional() skips null as it skips undefined."""
    body = {"integrationId": "audible", "userId": None, "debug": None, "resources": None,
            "returnUrl": None, "webhookUrl": None, "record": None}
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["debug"] is False


def test_sdk_only_fields_are_accepted(client, auth):
    body = intent_body(record=True, clearAllCookies=False, interactive=True,
                       adCampaign="spring-2025", captureScreenshot=None)
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert set(r.json()) == set(example("intent-token.response"))


def test_sdk_only_fields_are_typed(client, auth):
    body = intent_body(record="yes", clearAllCookies=1, interactive="true", adCampaign=7)
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("record", {"isBoolean": "record must be a boolean value"}),
        ("clearAllCookies", {"isBoolean": "clearAllCookies must be a boolean value"}),
        ("interactive", {"isBoolean": "interactive must be a boolean value"}),
        ("adCampaign", {"isString": "adCampaign must be a string"}))


# -- resources: names the API serves, read/write objects, a typed read.limit -----------------
@pytest.mark.parametrize("name", ["readingHistory", "reading-history", "reading_history",
                                  "balance", "balances", "accountBalance", "payment_method",
                                  "paymentMethods", "trip", "trips", "accountInfo",
                                  "account_info", "history", "loyalty", "billingStatements"])
def test_every_resource_spelling_the_routes_accept(client, auth, name):
    created = open_connection(client, auth, resources={name: {"read": {}}})
    conn = client.get(f"/gravy/connections/{created['connectionId']}", headers=auth).json()
    assert [(x["type"], x["operation"]) for x in conn["resources"]] == [(name, "read")]


def test_unknown_resource_names(client, auth):
    resources = {"readingHistory": {"read": {}}, "songs": {"read": {}}, "": {}}
    r = client.post("/gravy/intent-token", json=intent_body(resources=resources), headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("resources.songs", {"whitelistValidation": "resources.property songs should not exist"}),
        ("resources.", {"whitelistValidation": "resources.property  should not exist"}))


@pytest.mark.parametrize(("value", "errors"), [
    ("read", [("resources.trips", {"isObject": "resources.trips must be an object"})]),
    ([], [("resources.trips", {"isObject": "resources.trips must be an object"})]),
    ({"read": {}, "delete": {}}, [("resources.trips.delete", {
        "whitelistValidation": "resources.trips.property delete should not exist"})]),
    ({"read": True}, [("resources.trips.read",
                       {"isObject": "resources.trips.read must be an object"})]),
    ({"write": "x"}, [("resources.trips.write",
                       {"isObject": "resources.trips.write must be an object"})]),
    ({"read": {"limit": 0}}, [("resources.trips.read.limit", {
        "min": "resources.trips.read.limit must not be less than 1"})]),
    ({"read": {"limit": 1.5}}, [("resources.trips.read.limit", {
        "isInt": "resources.trips.read.limit must be an integer number"})]),
    ({"read": {"limit": "ten"}}, [("resources.trips.read.limit", {
        "min": "resources.trips.read.limit must not be less than 1",
        "isInt": "resources.trips.read.limit must be an integer number"})]),
    ({"read": {"limit": "0"}}, [("resources.trips.read.limit", {
        "min": "resources.trips.read.limit must not be less than 1"})]),
    ({"read": {"limit": True}}, [("resources.trips.read.limit", {
        "min": "resources.trips.read.limit must not be less than 1",
        "isInt": "resources.trips.read.limit must be an integer number"})]),
    ({"read": {"required": "yes"}, "write": {"required": 1}}, [
        ("resources.trips.read.required",
         {"isBoolean": "resources.trips.read.required must be a boolean value"}),
        ("resources.trips.write.required",
         {"isBoolean": "resources.trips.write.required must be a boolean value"})]),
], ids=["string", "array", "unknown-operation", "read-not-object", "write-not-object",
        "limit-0", "limit-fraction", "limit-not-numeric", "limit-string-0", "limit-boolean",
        "required-not-boolean"])
def test_resource_value_errors(client, auth, value, errors):
    before = total(client, auth)
    r = client.post("/gravy/intent-token", json=intent_body(resources={"trips": value}),
                    headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(*errors)
    assert total(client, auth) == before


def test_resource_errors_sit_at_the_resources_property(client, auth):
    """Nested errors come where `resources` is in the DTO: after debug, before returnUrl."""
    body = intent_body(debug="no", resources={"trips": {"read": {"limit": 0}}}, returnUrl=1)
    r = client.post("/gravy/intent-token", json=body, headers=auth)
    assert [d["property"] for d in r.json()["details"]] == [
        "debug", "resources.trips.read.limit", "returnUrl"]


def test_operation_arguments_are_free_form(client, auth):
    """Each integration declares its own arguments (the doc's primaryCode, the SDK's amount)."""
    resources = {"balance": {"write": {"amount": 25, "primaryCode": "ABC123"}},
                 "readingHistory": {"read": {"limit": 5, "required": True, "since": "2024"}},
                 "trips": None, "paymentMethods": {"read": None}}
    created = open_connection(client, auth, resources=resources)
    conn = client.get(f"/gravy/connections/{created['connectionId']}", headers=auth).json()
    assert [(x["type"], x["operation"]) for x in conn["resources"]] == [
        ("balance", "write"), ("readingHistory", "read")]
    assert claims(created["intentToken"])["resources"] == resources


@pytest.mark.parametrize("limit", [4, 4.0, "4", " 4 ", "4e0"])
def test_limit_as_number_or_numeric_string_caps_the_items(client, auth, limit):
    """@Type(() => Number): the SDK's example app sends its number input's text."""
    created = open_connection(client, auth,
                              resources={"readingHistory": {"read": {"limit": limit}}})
    cid = created["connectionId"]
    client.post(f"/__admin/gravy/connections/{cid}/status", json={"status": "data_available"})
    body = client.get(f"/gravy/connections/{cid}/reading-history", headers=auth).json()
    assert body["meta"]["total"] == 4


# -- webhookUrl: class-validator @IsUrl() --------------------------------------------------
@pytest.mark.parametrize("url", ["https://example.com/hooks/passage", "http://127.0.0.1:9/x",
                                 "example.com/hooks", "http://localhost:3000/hooks",
                                 "http://receiver:8080/hooks", "http://[::1]:8080/",
                                 "ftp://files.example.com/in"])
def test_webhook_url_accepted(client, auth, url):
    open_connection(client, auth, webhookUrl=url)


@pytest.mark.parametrize("url", ["not a url", "string", "localhost", "mailto:a@example.com",
                                 "javascript:alert(1)", "//example.com/x", "http://",
                                 "http://example.com:70000/", "gopher://example.com/",
                                 "http://exa_mple.com/", ""])
def test_webhook_url_rejected(client, auth, url):
    r = client.post("/gravy/intent-token", json=intent_body(webhookUrl=url), headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(("webhookUrl", {"isUrl": "webhookUrl must be a URL address"}))


# -- GET /intent-token-links/short-code/{code} (what the web SDK reads first) ----------------
LINK_NOT_FOUND = {"statusCode": 404, "message": "Intent token link not found",
                  "error": "Not Found"}


def test_short_code_config_is_the_integrations_branding(client, auth):
    created = open_connection(client, auth, integrationId="airbnb")
    r = client.get(f"/gravy/intent-token-links/short-code/{created['shortToken']}")
    assert r.status_code == 200
    integration = client.get("/gravy/integrations/airbnb").json()
    assert r.json() == {"shortCode": created["shortToken"], "intentToken": created["intentToken"],
                        "integrationName": "Airbnb", "logoUrl": integration["logoUrl"],
                        **{k: v for k, v in created["branding"].items()
                           if k != "integrationName"}}


def test_short_code_config_unknown_expired_or_other_tenant_is_404(client, auth):
    created = open_connection(client, auth)
    url = f"/gravy/intent-token-links/short-code/{created['shortToken']}"
    assert client.get("/gravy/intent-token-links/short-code/0000000000").json() == LINK_NOT_FOUND
    tenant = client.post("/__admin/tenants").json()["credentials"]["gravy"]
    other = {"Authorization":
             f"Bearer {token_for(client, tenant['clientId'], tenant['clientSecret'])}"}
    r = client.get(url, headers=other)
    assert (r.status_code, r.json()) == (404, LINK_NOT_FOUND)
    assert client.get(url, headers=auth).status_code == 200
    client.post("/__admin/clock", json={"advance": 3601})
    r = client.get(url)
    assert (r.status_code, r.json()) == (404, LINK_NOT_FOUND)


# -- property: no body breaks the server or changes state unless it is accepted --------------
_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 10**20)
                     | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
_valid = {
    "integrationId": st.sampled_from(["audible", "airbnb", "spotify", "myspace"]),
    "resources": st.dictionaries(
        st.sampled_from(["readingHistory", "balance", "payment_method", "accountBalance", "trip"]),
        st.none() | st.dictionaries(
            st.sampled_from(["read", "write"]),
            st.none() | st.fixed_dictionaries({}, optional={
                "limit": st.integers(1, 200) | st.sampled_from(["5", "1e1", 3.0]),
                "required": st.booleans(), "amount": _json}),
            max_size=2),
        max_size=3),
    "returnUrl": st.text(max_size=10),
    "webhookUrl": st.sampled_from(["https://example.com/h", "http://localhost:1/h",
                                   "example.org/x"]),
    "userId": st.text(min_size=1, max_size=5),
    "debug": st.booleans(), "record": st.booleans(), "adCampaign": st.text(max_size=5),
    "sessionArgs": st.dictionaries(st.text(max_size=4), _json, max_size=2),
    "prompts": st.lists(st.fixed_dictionaries({"name": st.text(min_size=1, max_size=4),
                                               "value": st.text(min_size=1, max_size=4)}),
                        max_size=2),
}
# The bad values: anything, and near-misses of the nested resources.
_bad_resources = st.dictionaries(
    st.sampled_from(["readingHistory", "songs", "", "read"]),
    _json | st.dictionaries(st.sampled_from(["read", "write", "delete"]),
                            _json | st.dictionaries(st.sampled_from(["limit", "required"]),
                                                    _json, max_size=2), max_size=2),
    min_size=1, max_size=3)


@st.composite
def _bodies(draw):
    """A body the SDK could send, with up to two fields (or an unknown one) spoiled."""
    body = draw(st.fixed_dictionaries({"integrationId": _valid["integrationId"]},
                                      optional={k: v for k, v in _valid.items()
                                                if k != "integrationId"}))
    for key in draw(st.lists(st.sampled_from(list(_valid) + ["foo"]), max_size=2, unique=True)):
        body[key] = draw(_bad_resources | _json if key == "resources" else _json)
    if draw(st.booleans()) and draw(st.booleans()):
        body.pop("integrationId")
    return body


class _Env:
    client = None

    @classmethod
    def get(cls):
        """One app for every example (hypothesis cannot reuse function-scoped fixtures)."""
        if cls.client is None:
            cls.client = MockClient(create_app(seed=0, clock=Clock(DOC_TIME)))
            cls.auth = {"Authorization": f"Bearer {token_for(cls.client)}"}
        return cls.client, cls.auth


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(body=_bodies())
def test_any_body_is_accepted_or_refused_cleanly(body):
    client, auth = _Env.get()
    before = total(client, auth)
    r = client.post("/gravy/intent-token", json=body, headers=auth)  # contracts checked
    assert r.status_code in (201, 400, 404), r.text
    if r.status_code == 201:
        assert total(client, auth) == before + 1
        return
    assert total(client, auth) == before
    if r.status_code == 400:
        details = r.json()["details"]
        assert details and all(d["constraints"]["message"] for d in details)
