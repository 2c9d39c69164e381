"""The Passage web SDK against the mock: its requests replayed as its source builds them.

Source: tailriskai/passage-web-react @ 015df24 (2025-10-29), read, not vendored:
src/core/passage.ts, src/core/shortcode.ts, src/utils/intentToken.ts, src/types.ts, src/Provider.tsx,
src/components/AppClipModal.tsx and the example app (example/src/main.tsx, App.tsx,
components/BasicExample.tsx). Running the SDK needs Node and a browser, which CI lacks; each
helper below sends what the cited function sends (method, path, query, the headers it sets, the
body bytes of its JSON.stringify) and each test asserts that what the SDK then reads from the
response is there, with the type it expects. The SDK is configured with nothing but an API base
URL: the mock's prefix, or the SDK's own default host routed to the mock by Host header.
"""
from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import PUBLISHABLE, set_status

UNDEFINED: Any = type("Undefined", (), {})()  # a JS `undefined`: JSON.stringify drops the key


# -- what the SDK does in JavaScript, in Python ---------------------------------------------
def stringify(fields: dict[str, Any]) -> bytes:
    """JSON.stringify: compact, key order kept, undefined members dropped, non-ASCII kept."""
    return json.dumps({k: v for k, v in fields.items() if v is not UNDEFINED},
                      separators=(",", ":"), ensure_ascii=False).encode()


def encode_uri_component(s: str) -> str:
    return quote(s, safe="-_.!~*'()")


def jwt_decode(token: str) -> dict[str, Any]:
    """utils/intentToken.ts jwtDecode: the payload segment, base64url, no signature check."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def is_str(v: Any) -> bool:
    return isinstance(v, str)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Sdk:
    """`configure({publishableKey, apiUrl})` (core/passage.ts) and the SDK calls that use it."""

    def __init__(self, client, api_url: str, publishable_key: str = PUBLISHABLE) -> None:
        self.client, self.api_url, self.publishable_key = client, api_url, publishable_key

    # core/passage.ts generateAppClip: POST `${apiUrl}${INTENT_TOKEN_PATH}`
    def generate_app_clip(self, integrationId: Any = UNDEFINED, resources: Any = UNDEFINED,
                          returnUrl: Any = UNDEFINED, userId: Any = UNDEFINED,
                          prompts: Any = UNDEFINED, sessionArgs: Any = UNDEFINED,
                          record: Any = UNDEFINED, debug: Any = UNDEFINED,
                          clearAllCookies: Any = UNDEFINED, interactive: Any = UNDEFINED,
                          adCampaign: Any = UNDEFINED):
        body = stringify({  # the SDK's own key order
            "integrationId": integrationId, "resources": resources, "returnUrl": returnUrl,
            "userId": userId, "prompts": prompts, "sessionArgs": sessionArgs, "record": record,
            "debug": debug, "clearAllCookies": clearAllCookies, "interactive": interactive,
            "adCampaign": adCampaign})
        return self.client.post(f"{self.api_url}/intent-token", content=body, headers={
            "Content-Type": "application/json",
            "Authorization": f"Publishable {self.publishable_key}"})

    # core/passage.ts generateAppClip, its `!response.ok` branch: the Error message it throws
    @staticmethod
    def error_message(response) -> str:
        message = f"Failed to generate app clip: {response.status_code} {response.reason_phrase}"
        error_data = response.json()
        if error_data.get("message"):
            message = error_data["message"]
        if error_data.get("errorCode") == "VALIDATION_001" and error_data.get("details"):
            details = error_data["details"]
            entries = details.values() if isinstance(details, dict) else details  # Object.values
            shown = []
            for d in entries:  # `${property || 'Unknown'}: ${custom || message || '...'}`
                constraints = d.get("constraints") or {}
                text = constraints.get("custom") or constraints.get("message") or \
                    "Validation failed"
                shown.append(f"{d.get('property') or 'Unknown'}: {text}")
            message = "Validation failed: " + "; ".join(shown)
        return message

    # core/shortcode.ts resolveShortCode and getShortCodeConfig: plain fetch(), no headers
    def short_code_config(self, code: str):
        return self.client.get(
            f"{self.api_url}/intent-token-links/short-code/{encode_uri_component(code)}")

    def intent_token_by_short_code(self, code: str):
        return self.client.get(
            f"{self.api_url}/intent-token?shortCode={encode_uri_component(code)}")

    # core/shortcode.ts validateIntentToken(token, verify=true): Content-Type only
    def validate(self, intent_token: str):
        return self.client.post(f"{self.api_url}/intent-token/validate",
                                content=stringify({"intentToken": intent_token}),
                                headers={"Content-Type": "application/json"})

    # utils/intentToken.ts checkResourceData: GET with Content-Type and x-intent-token
    def resource(self, session_id: str, resource_type: str, intent_token: str):
        return self.client.get(f"{self.api_url}/connections/{session_id}/{resource_type}",
                               headers={"Content-Type": "application/json",
                                        "x-intent-token": intent_token})

    # example/src/components/BasicExample.tsx fetchIntegrations: plain fetch()
    def example_integrations(self):
        return self.client.get(f"{self.api_url}/automation/integrations")


@pytest.fixture(params=["http://mock.test/gravy", "https://api.runpassage.ai"],
                ids=["prefix", "sdk-default-host"])
def sdk(client, request) -> Sdk:
    # config.ts DEFAULT_API_BASE_URL is https://api.runpassage.ai; the mock serves it by Host.
    return Sdk(client, request.param)


def assert_app_clip_response(data: dict[str, Any]) -> None:
    """What the SDK reads from POST /intent-token (GenerateAppClipResponse)."""
    # core/passage.ts openAppClip logs and dispatches these; Provider.tsx stores intentToken
    # and `returnUrl || null`; AppClipModal.tsx builds its QR code from shortToken, else url.
    assert is_str(data["intentToken"]) and data["intentToken"].count(".") == 2
    assert is_str(data["connectionId"]) and data["connectionId"]
    assert is_str(data["shortToken"]) and data["shortToken"]
    assert isinstance(data["debug"], bool)
    assert data.get("url") is None or is_str(data["url"])
    assert data.get("returnUrl") is None or is_str(data["returnUrl"])
    branding = data["branding"]  # BrandingConfig
    assert is_str(branding["integrationName"]) and branding["integrationName"]
    for key in ("colorPrimary", "colorBackground", "colorCardBackground", "colorText",
                "colorTextSecondary", "logoUrl"):
        assert branding.get(key) is None or is_str(branding[key]), key
    # utils/intentToken.ts decodeIntentToken: the payload the hooks read
    payload = jwt_decode(data["intentToken"])
    assert payload["sessionId"] == data["connectionId"]
    assert payload.get("resources") is None or isinstance(payload["resources"], dict)
    assert payload.get("returnUrl") is None or is_str(payload["returnUrl"])
    assert isinstance(payload.get("products", []), list)


# -- 1. generateAppClip: the intent token ----------------------------------------------------
def test_generate_app_clip_with_every_option(sdk):
    """Every option GenerateAppClipOptions has, as an app may set them (types.ts)."""
    r = sdk.generate_app_clip(
        integrationId="audible",
        resources={"readingHistory": {"read": {"limit": 10}}, "balance": {"write": {"amount": 25}}},
        returnUrl="https://app.example.com/done", userId="user_42",
        prompts=[{"name": "roast", "value": "roast my reading", "outputType": "text"}],
        sessionArgs={"limit": 10}, record=True, debug=True, clearAllCookies=False,
        interactive=True, adCampaign="spring-2025")
    assert r.status_code == 201, r.text
    assert_app_clip_response(r.json())
    assert r.json()["debug"] is True


def test_generate_app_clip_with_only_an_integration(sdk):
    """The SDK drops every undefined option: `{"integrationId": ...}` alone must do."""
    r = sdk.generate_app_clip(integrationId="airbnb")
    assert r.status_code == 201, r.text
    assert_app_clip_response(r.json())
    assert r.json()["debug"] is False
    assert r.json()["branding"]["integrationName"] == "Airbnb"


@pytest.mark.parametrize("resources", [
    {"balance": {"write": {"amount": 50}}},    # as intentTokenLink.ts createGiftCardLink has it
    {"payment_method": {"write": {}}},         # createCardSwitchLink
    {"trip": {"read": {}}, "account_info": {"read": {}}},   # createReadOnlyLink-style reads
], ids=["gift-card", "card-switch", "read-only"])
def test_generate_app_clip_with_the_sdk_resource_keys(sdk, resources):
    r = sdk.generate_app_clip(integrationId="airbnb", resources=resources)
    assert r.status_code == 201, r.text
    assert_app_clip_response(r.json())
    assert jwt_decode(r.json()["intentToken"])["resources"] == resources


# -- 2. the example app: integrations, then its two "generate" buttons ----------------------
def example_resources(integration: dict[str, Any], picked: list[str],
                      typed: dict[str, Any]) -> dict[str, Any]:
    """BasicExample.tsx getAvailableResources, generateFormFields, buildResourcesFromFormData."""
    def value(res: dict, op: str) -> str:
        # `${name.toLowerCase().replace(/([A-Z])/g, "-$1").replace(/^-/, "")}-${op}`
        return f"{res['resourceType']['name'].lower()}-{op}"

    out: dict[str, Any] = {}
    for v in picked:  # the checked boxes: "-read"/"-write" stripped, kebab-case to camelCase
        op = "write" if v.endswith("-write") else "read"
        name = v.removesuffix(f"-{op}")
        name = "".join(p if i == 0 else p[:1].upper() + p[1:]
                       for i, p in enumerate(name.split("-")))
        out.setdefault(name, {}).setdefault(op, {})
    for res in integration["resources"]:  # the form fields of operations with arguments
        for op in ("read", "write"):
            operation = res["operations"].get(op)
            if value(res, op) not in picked or not (operation and operation.get("arguments")):
                continue
            name = res["resourceType"]["name"][0].lower() + res["resourceType"]["name"][1:]
            args = out.setdefault(name, {}).setdefault(op, {})
            for prop in operation["arguments"].get("properties", {}):
                text = typed.get(f"{value(res, op)}_{prop}")
                if text is not None and text != "":
                    args[prop] = text  # the input's e.target.value: a string
    return out


def test_example_app_lists_integrations_as_it_reads_them(sdk):
    r = sdk.example_integrations()
    assert r.status_code == 200
    data = r.json()
    integrations = data.get("integrations", data) if isinstance(data, dict) else data
    assert isinstance(integrations, list) and integrations
    for integration in integrations:
        assert is_str(integration["slug"]) and is_str(integration["name"])  # the options
        for res in integration["resources"]:
            assert is_str(res["resourceType"]["name"]) and res["resourceType"]["name"]
            ops = res["operations"]
            assert ops.get("read") or ops.get("write")
            for op in ("read", "write"):
                if ops.get(op) and ops[op].get("arguments"):
                    assert isinstance(ops[op]["arguments"].get("properties", {}), dict)


@pytest.mark.parametrize("typed", [{}, {"readinghistory-read_limit": "5"}],
                         ids=["no-arguments", "limit-typed-in"])
def test_example_app_generate_and_open(sdk, typed):
    """handleGenerateAndOpen -> passage.openAppClip -> generateAppClip, as the app fills it."""
    integrations = sdk.example_integrations().json()
    audible = next(i for i in integrations if i["slug"] == "audible")
    picked = [f"{r['resourceType']['name'].lower()}-read" for r in audible["resources"]]
    resources = example_resources(audible, picked, typed)
    r = sdk.generate_app_clip(
        integrationId="audible", resources=resources or UNDEFINED, returnUrl=UNDEFINED,
        prompts=[{"name": "roast", "value": "roast me", "outputType": "text"}], record=False)
    assert r.status_code == 201, r.text
    assert_app_clip_response(r.json())
    if typed:  # the form's text "5" caps the items as 5 would
        cid = r.json()["connectionId"]
        set_status(sdk.client, cid, "data_available")
        page = sdk.resource(cid, "reading-history", r.json()["intentToken"]).json()
        assert page["meta"]["total"] == 5


def test_example_app_generate_token_and_open_modal(sdk):
    """The modal/embed button: generateAppClip({integrationId, prompts, record, resources})."""
    r = sdk.generate_app_clip(integrationId="spotify", record=False)
    assert r.status_code == 201, r.text
    assert_app_clip_response(r.json())


def test_example_app_create_shortcode_is_not_served(sdk):
    """handleCreateShortcode POSTs /intent-token-links, which the mock does not serve (no public
    source shows that API's behaviour); the app logs "Failed to create shortcode"."""
    body = stringify({"integrationId": "audible",
                      "requestPayload": {"resources": {"readinghistory": {"read": {}}},
                                         "returnUrl": "http://localhost:5173"},
                      "notes": "Created from example app",
                      "expiresAt": "2024-01-16T10:30:00.000Z", "maxSuccessfulConnections": 1})
    r = sdk.client.post(f"{sdk.api_url}/intent-token-links", content=body, headers={
        "Content-Type": "application/json", "Authorization": f"Publishable {PUBLISHABLE}"})
    assert r.status_code == 404  # !response.ok


# -- 3. the error parser ---------------------------------------------------------------------
@pytest.mark.parametrize(("options", "shown"), [
    ({"integrationId": "audible", "resources": {"songs": {"read": {}}}},
     "Validation failed: resources.songs: resources.property songs should not exist"),
    ({"integrationId": "audible", "record": "yes", "adCampaign": 5},
     "Validation failed: record: record must be a boolean value; "
     "adCampaign: adCampaign must be a string"),
    ({"integrationId": "audible", "resources": {"trip": {"read": {"limit": "many"}}}},
     "Validation failed: resources.trip.read.limit: resources.trip.read.limit must not be less "
     "than 1, resources.trip.read.limit must be an integer number"),
    ({}, "Validation failed: integrationId: integrationId should not be empty, "
         "integrationId must be a string"),
], ids=["unknown-resource", "sdk-field-types", "limit", "no-integration"])
def test_generate_app_clip_validation_error_is_readable(sdk, options, shown):
    r = sdk.generate_app_clip(**options)
    assert r.status_code == 400
    assert Sdk.error_message(r) == shown


def test_generate_app_clip_other_errors_carry_a_message(sdk):
    r = sdk.generate_app_clip(integrationId="myspace")
    assert r.status_code == 404
    assert Sdk.error_message(r) == "Integration myspace not found"
    bad = Sdk(sdk.client, sdk.api_url, publishable_key="pk-test-unknown")
    r = bad.generate_app_clip(integrationId="audible")
    assert r.status_code == 401
    assert Sdk.error_message(r) == "Unauthorized"


# -- 4. short codes: AppClipPage (useShortCode) and validateIntentToken ----------------------
def test_resolve_short_code(sdk):
    """shortcode.ts resolveShortCode: the link's configuration, then the intent token."""
    created = sdk.generate_app_clip(
        integrationId="audible", resources={"readingHistory": {"read": {}}},
        returnUrl="https://app.example.com/done").json()
    config = sdk.short_code_config(created["shortToken"])
    assert config.status_code == 200  # configResponse.ok
    assert config.json()["integrationName"] == "Audible"
    token = sdk.intent_token_by_short_code(created["shortToken"])
    assert token.status_code == 200  # tokenResponse.ok
    data = token.json()
    assert is_str(data["intentToken"]) and data["intentToken"] == created["intentToken"]
    assert data["sessionId"] == created["connectionId"]
    assert data["resources"] == {"readingHistory": {"read": {}}}
    assert data["returnUrl"] == "https://app.example.com/done"


def test_resolve_short_code_without_return_url(sdk):
    created = sdk.generate_app_clip(integrationId="kindle").json()
    data = sdk.intent_token_by_short_code(created["shortToken"]).json()
    assert data["intentToken"] == created["intentToken"]
    assert data.get("returnUrl") is None  # useShortCode: `response.returnUrl || null`


def test_get_short_code_config(sdk):
    """shortcode.ts getShortCodeConfig: the fields of ShortCodeConfig it copies."""
    created = sdk.generate_app_clip(integrationId="airbnb").json()
    r = sdk.short_code_config(created["shortToken"])
    assert r.status_code == 200
    data = r.json()
    assert data["shortCode"] == created["shortToken"]
    assert data["intentToken"] == created["intentToken"]
    assert data["integrationName"] == created["branding"]["integrationName"]
    for key in ("logoUrl", "colorPrimary", "colorBackground", "colorCardBackground",
                "colorText", "colorTextSecondary"):
        assert is_str(data[key]), key
    # an unknown code: !response.ok, and the SDK falls back to "account"
    assert sdk.short_code_config("0000000000").status_code == 404
    assert sdk.intent_token_by_short_code("0000000000").status_code == 404


def test_validate_intent_token_with_verify(sdk):
    created = sdk.generate_app_clip(integrationId="audible").json()
    assert sdk.validate(created["intentToken"]).status_code == 201  # response.ok
    assert sdk.validate("a.b.c").status_code == 401                  # !response.ok


# -- 5. resource reads with x-intent-token ---------------------------------------------------
def test_check_resource_data_after_a_one_time_write(sdk):
    """useIntentToken.checkWriteCompleted -> isWriteOperationCompleted -> checkResourceData."""
    created = sdk.generate_app_clip(integrationId="marriott",
                                    resources={"balance": {"write": {"amount": 25}}}).json()
    payload = jwt_decode(created["intentToken"])
    writes = [name for name, cfg in payload["resources"].items() if cfg and cfg.get("write")]
    assert writes == ["balance"]  # getWriteResources, isOneTimeWriteOperation
    r = sdk.resource(payload["sessionId"], "balance", created["intentToken"])
    assert r.status_code == 404  # no data yet: { hasData: false }
    set_status(sdk.client, payload["sessionId"], "data_available")
    r = sdk.resource(payload["sessionId"], "balance", created["intentToken"])
    assert r.status_code == 200
    data = r.json()["data"]
    assert isinstance(data, list) and data  # hasData
    total = data[0].get("amount") or data[0].get("value")
    assert is_num(total)  # formatted as `$${total.toFixed(2)}`


@pytest.mark.parametrize(("key", "canonical"), [("trip", "trips"), ("balance", "balances"),
                                                ("payment_method", "payment-methods")])
def test_check_resource_data_with_the_sdk_keys(sdk, key, canonical):
    created = sdk.generate_app_clip(integrationId="airbnb" if key != "balance" else "marriott",
                                    resources={key: {"read": {}}}).json()
    cid = created["connectionId"]
    set_status(sdk.client, cid, "data_available")
    r = sdk.resource(cid, key, created["intentToken"])
    assert r.status_code == 200
    assert isinstance(r.json()["data"], list) and r.json()["data"]
    assert r.content == sdk.resource(cid, canonical, created["intentToken"]).content
