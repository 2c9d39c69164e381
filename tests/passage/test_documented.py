"""Every documented request/response example of the Links API, answered in its documented shape,
and every documented refusal (400 with issues[], 401, 404, 409, 410).

The examples are the public docs' (docs.getpassage.ai/connect, in its revisions) and the
passage-skills skill's, verbatim. Where an answer holds generated ids and times, the test checks
their shape and every fixed value."""
from __future__ import annotations

import hashlib
import json

import jsonschema
import jwt
import pytest

from .conftest import (A_QUICKSTART, B_EXAMPLE, B_QUICKSTART, CLAIM_KEYS, CREATE_KEYS,
                       DEFAULT_TTL, DOC_BILLING, DOC_MS, GET_KEYS, HOSTS, LIST_ITEM_KEYS,
                       PREFIX, SKILL_MULTI, SKILL_SINGLE, WEBHOOK_KEYS, advance, bearer, body,
                       claim, complete, create, fail, get, header)

LINKS = f"{PREFIX}/v1/links"
KEY = f"{PREFIX}/webhook_verification_key/get"
# docs.getpassage.ai/errors, verbatim
DOC_VALIDATION = {
    "error": "Validation failed",
    "issues": [
        {"path": "webhookUrl", "message": "must be a valid URL"},
        {"path": "expiresIn", "message": "must be a positive integer"},
    ],
}
DOC_NOT_FOUND = {"error": "Link not found"}
# Undocumented bodies: the docs' descriptions of each status, as the package words them.
UNAUTHORIZED = {"error": "Missing or invalid API key"}
BAD_CODE = {"error": "Invalid claim code"}
USED = {"error": "Link has already been used"}
EXPIRED = {"error": "Link has expired"}


def ops(b: dict) -> list[dict]:
    """The operations a create body asks for, as responses list them (no arguments)."""
    if "operations" in b:
        return [{"resource": o["resource"], "action": o["action"]} for o in b["operations"]]
    return [{"resource": b["resource"], "action": b["action"]}]


def links(client, auth) -> list[dict]:
    r = client.get(LINKS, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["links"]


def is_error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    out = r.json()
    assert isinstance(out.get("error"), str) and out["error"], out
    return out


# -- POST /v1/links: each documented request body ------------------------------------------------
DOCUMENTED_BODIES = {"skill-single": SKILL_SINGLE, "skill-multi": SKILL_MULTI,
                     "docs-example": B_EXAMPLE, "docs-quickstart": B_QUICKSTART,
                     "quickstart-single": A_QUICKSTART}


@pytest.mark.parametrize("name", list(DOCUMENTED_BODIES))
def test_documented_create_body_gets_the_documented_response(client, auth, name):
    sent = DOCUMENTED_BODIES[name]
    r = client.post(LINKS, json=sent, headers=auth)
    assert r.status_code == 201, r.text
    out = r.json()
    assert CREATE_KEYS <= set(out)
    assert out["linkId"].startswith("link_") and len(out["linkId"]) > len("link_")
    assert out["claimCode"].startswith("clm_") and len(out["claimCode"]) > len("clm_")
    assert out["integrationId"] == "tmobile"
    assert out["operations"] == ops(sent)  # the write's card arguments are not echoed
    assert (out["resource"], out["action"]) == (ops(sent)[0]["resource"], ops(sent)[0]["action"])
    assert out["status"] == "pending"
    assert f"code={out['claimCode']}" in out["appClipUrl"]
    assert out["createdAt"] == DOC_MS
    assert out["expiresAt"] == DOC_MS + 1000 * sent.get("expiresIn", DEFAULT_TTL)
    if "returnUrl" in sent:
        assert out["returnUrl"] == f"{sent['returnUrl']}?linkId={out['linkId']}"
    else:
        assert "returnUrl" not in out


def test_two_links_get_distinct_ids_and_codes(client, auth):
    a, b = create(client, auth), create(client, auth)
    assert a["linkId"] != b["linkId"] and a["claimCode"] != b["claimCode"]


@pytest.mark.parametrize("host", HOSTS)
def test_the_real_hosts_serve_the_api(client, auth, host):
    r = client.post(f"https://{host}/v1/links", json=B_QUICKSTART, headers=auth)
    assert r.status_code == 201, r.text
    link_id = r.json()["linkId"]
    r = client.get(f"https://{host}/v1/links/{link_id}", headers=auth)
    assert r.status_code == 200 and r.json()["id"] == link_id


def test_a_json_body_without_content_type_is_read(client, auth):
    # The migration guide's "Before" code sends JSON.stringify with no Content-Type.
    r = client.post(LINKS, content=json.dumps(A_QUICKSTART).encode(), headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["resource"] == "mobileBillingStatement"


# -- GET /v1/links/:id -----------------------------------------------------------------------------
def test_get_a_pending_link(client, auth):
    made = create(client, auth, SKILL_SINGLE)
    out = get(client, auth, made["linkId"])
    assert GET_KEYS <= set(out)
    assert out["id"] == made["linkId"]
    assert out["integrationId"] == "tmobile"
    assert out["operations"] == [{"resource": "paymentMethod", "action": "read"}]
    assert (out["resource"], out["action"]) == ("paymentMethod", "read")
    assert out["externalUserId"] == "user_123"
    assert out["status"] == "pending"
    assert out["currentSessionId"] is None
    assert out["result"] is None and out["error"] is None
    assert out["expiresAt"] == made["expiresAt"] == DOC_MS + 3600 * 1000
    assert out["createdAt"] == out["updatedAt"] == DOC_MS
    assert "claimCode" not in out


def test_get_without_external_user_id_reads_null(client, auth):
    made = create(client, auth, A_QUICKSTART)
    assert get(client, auth, made["linkId"])["externalUserId"] is None


def test_get_a_completed_link_as_documented(client, auth):
    """docs.getpassage.ai/connect/api/get-link: a one-operation billing read, complete."""
    made = create(client, auth, B_QUICKSTART, externalUserId="user_456",
                  returnUrl="https://your-app.com/done", webhookUrl=None)
    advance(client, 3600)  # claimed and completed an hour later (the docs' updatedAt)
    claimed = claim(client, made["claimCode"])
    assert claimed.status_code == 200, claimed.text
    assert complete(client, made["linkId"]).status_code == 200
    out = get(client, auth, made["linkId"])
    assert GET_KEYS <= set(out)
    assert out["id"] == made["linkId"]
    assert out["operations"] == [{"resource": "mobileBillingStatement", "action": "read"}]
    assert out["externalUserId"] == "user_456"
    assert out["status"] == "complete"
    assert out["currentSessionId"] == claimed.json()["sessionId"]
    assert out["returnUrl"] == f"https://your-app.com/done?linkId={made['linkId']}"
    # one operation: result IS its data, `{ billing: BillingStatement[] }`
    assert set(out["result"]) == {"billing"}
    assert out["result"]["billing"], "a documented statement at least"
    for statement in out["result"]["billing"]:
        assert {"periodStart", "amountDue", "currency"} <= set(statement)
    assert out["error"] is None
    assert out["expiresAt"] == DOC_MS + DEFAULT_TTL * 1000
    assert out["createdAt"] == DOC_MS
    assert out["updatedAt"] == DOC_MS + 3600 * 1000


def test_the_documented_statement_is_in_the_billing_fixture(client, auth):
    made = create(client, auth, A_QUICKSTART, webhookUrl=None)
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    billing = get(client, auth, made["linkId"])["result"]["billing"]
    assert any({k: s.get(k) for k in DOC_BILLING} == DOC_BILLING for s in billing), billing


def test_several_operations_wrap_the_result_in_request_order(client, auth):
    made = create(client, auth, B_EXAMPLE, webhookUrl=None)
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    result = get(client, auth, made["linkId"])["result"]
    assert set(result) == {"operations"}
    assert [(o["resource"], o["action"]) for o in result["operations"]] == [
        ("paymentMethod", "read"), ("paymentMethod", "write")]
    assert all(set(o) == {"resource", "action", "data"} for o in result["operations"])
    assert "paymentMethods" in result["operations"][0]["data"]
    # a write without dryRun: { success: true, card: { last4 } } of the card sent
    assert result["operations"][1]["data"] == {"success": True, "card": {"last4": "1111"}}


def test_get_an_unknown_link_is_the_documented_404(client, auth):
    r = client.get(f"{LINKS}/link_abc123", headers=auth)
    assert r.status_code == 404
    assert r.json() == DOC_NOT_FOUND


# -- GET /v1/links -------------------------------------------------------------------------------
def test_list_links_in_the_documented_shape(client, auth):
    made = [create(client, auth, b) for b in (SKILL_SINGLE, SKILL_MULTI)]
    listed = links(client, auth)
    by_id = {item["id"]: item for item in listed}
    assert {m["linkId"] for m in made} <= set(by_id)
    for m in made:
        item = by_id[m["linkId"]]
        assert LIST_ITEM_KEYS <= set(item)
        assert not {"result", "error", "claimCode"} & set(item)
        assert item["status"] == "pending" and item["currentSessionId"] is None
        assert item["operations"] == m["operations"]
        assert item["externalUserId"] == "user_123"


# -- GET /v1/providers ---------------------------------------------------------------------------
PROVIDERS = {"tmobile": "T-Mobile", "att": "AT&T", "verizon": "Verizon", "ubereats": "Uber Eats",
             "apple-review": "Apple Review"}
CARRIER = {"paymentMethod": {"read", "write"}, "mobileBillingStatement": {"read"}}
RESOURCES = {"tmobile": CARRIER, "att": CARRIER, "verizon": CARRIER,
             "ubereats": {"orderHistory": {"read"}}, "apple-review": {"readHistory": {"read"}}}


@pytest.fixture
def providers(client, auth) -> dict[str, dict]:
    r = client.get(f"{PREFIX}/v1/providers", headers=auth)
    assert r.status_code == 200, r.text
    return {p["id"]: p for p in r.json()["providers"]}


def test_providers_list_the_documented_catalogue(providers):
    assert {pid: p["name"] for pid, p in providers.items()} == PROVIDERS
    for pid, p in providers.items():
        assert {r["name"]: set(r["operations"]) for r in p["resources"]} == RESOURCES[pid]
        for r in p["resources"]:
            for op in r["operations"].values():
                assert set(op) == {"description", "arguments", "result"}
                assert isinstance(op["description"], str) and op["description"]
                for schema in (op["arguments"], op["result"]):
                    if schema is not None:
                        jsonschema.validators.validator_for(schema).check_schema(schema)


def operation(providers, pid: str, resource: str, action: str) -> dict:
    res = next(r for r in providers[pid]["resources"] if r["name"] == resource)
    return res["operations"][action]


def test_payment_method_descriptions_are_the_documented_ones(providers):
    assert operation(providers, "tmobile", "paymentMethod", "read")["description"] == \
        "List saved payment methods"
    assert operation(providers, "tmobile", "paymentMethod", "write")["description"] == \
        "Add a new payment method"


def test_operation_schemas_accept_the_documented_data(providers):
    write = operation(providers, "tmobile", "paymentMethod", "write")
    jsonschema.validate(B_EXAMPLE["operations"][1]["arguments"], write["arguments"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"cardNumber": "4111111111111111"}, write["arguments"])
    billing = operation(providers, "tmobile", "mobileBillingStatement", "read")
    jsonschema.validate({"limit": 3}, billing["arguments"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"limit": 0}, billing["arguments"])
    jsonschema.validate({"billing": [DOC_BILLING]}, billing["result"])
    assert operation(providers, "tmobile", "paymentMethod", "read")["arguments"] is None


def test_completed_results_satisfy_the_served_result_schemas(client, auth, providers):
    for pid, resources in RESOURCES.items():
        for resource, actions in resources.items():
            if "read" not in actions:
                continue
            made = create(client, auth, integrationId=pid, resource=resource, action="read",
                          webhookUrl=None)
            assert claim(client, made["claimCode"]).status_code == 200
            assert complete(client, made["linkId"]).status_code == 200
            result = get(client, auth, made["linkId"])["result"]
            schema = operation(providers, pid, resource, "read")["result"]
            jsonschema.validate(result, schema)


# -- POST /link/claim --------------------------------------------------------------------------
def test_claim_gets_the_documented_response_without_an_api_key(client, auth):
    made = create(client, auth, SKILL_SINGLE)
    r = client.post(f"{PREFIX}/link/claim", json={"code": made["claimCode"]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == CLAIM_KEYS
    assert out["linkId"] == made["linkId"]
    assert out["sessionId"] and out["clientToken"].startswith("ct_")
    assert out["websocketUrl"].startswith(("wss://", "ws://"))
    assert out["sessionId"] in out["websocketUrl"]
    assert out["expiresAt"] == made["expiresAt"]
    link = get(client, auth, made["linkId"])
    assert link["status"] == "active"
    assert link["currentSessionId"] == out["sessionId"]


# -- webhooks and the key endpoint ----------------------------------------------------------------
def verify(client, req: dict) -> dict:
    """The docs' verification, step by step: kid from the JWT header, the public key from the
    key endpoint (no API key), the ES256 signature, the body hash."""
    signature = header(req, "X-Passage-Signature")
    head = jwt.get_unverified_header(signature)
    assert head["alg"] == "ES256" and head["typ"] == "JWT"
    r = client.post(KEY, json={"key_id": head["kid"]})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"key_id", "key"} and r.json()["key_id"] == head["kid"]
    key = r.json()["key"]
    assert key.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert key.rstrip().endswith("-----END PUBLIC KEY-----")
    payload = jwt.decode(signature, key, algorithms=["ES256"])
    assert payload["request_body_sha256"] == hashlib.sha256(req["body"]).hexdigest()
    assert header(req, "X-Passage-Timestamp") == str(payload["iat"])
    return payload


def test_link_complete_webhook_as_documented(client, auth, receiver):
    made = create(client, auth, A_QUICKSTART, webhookUrl=receiver.url)
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert header(req, "content-type").startswith("application/json")
    assert req["path"] == "/hooks/passage"
    event = json.loads(req["body"])
    assert set(event) == WEBHOOK_KEYS
    assert event["event"] == "link.complete"
    assert event["linkId"] == made["linkId"]
    assert event["status"] == "complete"
    assert event["result"] == get(client, auth, made["linkId"])["result"]
    assert event["error"] is None
    assert event["timestamp"] == DOC_MS
    assert verify(client, req)["iat"] == DOC_MS // 1000


def test_link_failed_webhook_as_documented(client, auth, receiver):
    made = create(client, auth, SKILL_SINGLE, webhookUrl=receiver.url)
    assert claim(client, made["claimCode"]).status_code == 200
    assert fail(client, made["linkId"], "AUTOMATION_ERROR").status_code == 200
    assert len(receiver.requests) == 1
    event = receiver.json()
    assert set(event) == WEBHOOK_KEYS
    assert (event["event"], event["status"]) == ("link.failed", "failed")
    assert event["linkId"] == made["linkId"]
    assert event["result"] is None
    assert event["error"]["code"] == "AUTOMATION_ERROR"
    assert isinstance(event["error"]["message"], str) and event["error"]["message"]
    assert event["timestamp"] == DOC_MS
    verify(client, receiver.requests[0])
    link = get(client, auth, made["linkId"])
    assert link["status"] == "failed" and link["error"] == event["error"]
    assert link["result"] is None


def test_signature_segments_decode_with_plain_atob(client, auth, receiver):
    # The docs decode the header and payload with atob (base64, not base64url): neither segment
    # may hold '-' or '_'.
    made = create(client, auth, A_QUICKSTART, webhookUrl=receiver.url)
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    head, payload, _ = header(receiver.requests[0], "X-Passage-Signature").split(".")
    assert not set("-_") & set(head + payload)


def test_a_tampered_body_fails_the_hash(client, auth, receiver):
    made = create(client, auth, A_QUICKSTART, webhookUrl=receiver.url)
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    req = dict(receiver.requests[0])
    req["body"] = req["body"].replace(b"complete", b"failed")
    with pytest.raises(AssertionError):
        verify(client, req)


def test_the_key_endpoint_refuses_an_unknown_key_id(client):
    is_error(client.post(KEY, json={"key_id": "key_abc123"}), 404)


def test_the_key_endpoint_refuses_a_missing_key_id(client):
    assert client.post(KEY, json={}).status_code == 400


# -- documented refusals -------------------------------------------------------------------------
def test_the_documented_validation_example(client, auth):
    before = links(client, auth)
    r = client.post(LINKS, json=body(A_QUICKSTART, webhookUrl="not a url", expiresIn=0),
                    headers=auth)
    assert r.status_code == 400
    out = r.json()
    assert out["error"] == DOC_VALIDATION["error"]
    key = lambda i: i["path"]  # noqa: E731 - the order of issues is not documented
    assert sorted(out["issues"], key=key) == sorted(DOC_VALIDATION["issues"], key=key)
    assert links(client, auth) == before


@pytest.mark.parametrize("field, value, message", [
    ("webhookUrl", "your-server.com/webhook", "must be a valid URL"),
    ("expiresIn", -5, "must be a positive integer"),
    ("expiresIn", 1.5, "must be a positive integer"),
])
def test_documented_issue_messages(client, auth, field, value, message):
    r = client.post(LINKS, json=body(A_QUICKSTART, **{field: value}), headers=auth)
    assert r.status_code == 400
    assert r.json() == {"error": "Validation failed",
                        "issues": [{"path": field, "message": message}]}


BAD_BODIES = {
    "no-integration": body(A_QUICKSTART, integrationId=None),
    "integration-not-a-string": body(A_QUICKSTART, integrationId=7),
    "unknown-integration": body(A_QUICKSTART, integrationId="sprint"),
    "unknown-resource": body(A_QUICKSTART, resource="trips"),
    "unknown-action": body(A_QUICKSTART, action="delete"),
    "read-only-resource-written": body(A_QUICKSTART, action="write"),
    "both-forms": body(A_QUICKSTART, operations=B_QUICKSTART["operations"]),
    "neither-form": body(A_QUICKSTART, resource=None, action=None),
    "empty-operations": body(B_QUICKSTART, operations=[]),
    "write-missing-card": body(B_EXAMPLE, operations=[
        {"resource": "paymentMethod", "action": "write", "arguments": {"cvv": "123"}}]),
    "limit-zero": body(SKILL_MULTI, operations=[
        {"resource": "mobileBillingStatement", "action": "read", "arguments": {"limit": 0}}]),
    "operations-not-a-list": body(B_QUICKSTART, operations={"resource": "paymentMethod"}),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_invalid_create_bodies_get_issues_and_change_nothing(client, auth, name):
    before = links(client, auth)
    r = client.post(LINKS, json=BAD_BODIES[name], headers=auth)
    assert r.status_code == 400, r.text
    out = r.json()
    assert out["error"] == "Validation failed"
    assert out["issues"] and all(set(i) == {"path", "message"} and isinstance(i["path"], str)
                                 and i["message"] for i in out["issues"])
    assert links(client, auth) == before


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"tmobile"'])
def test_a_body_that_is_not_a_json_object_is_400(client, auth, raw):
    before = links(client, auth)
    r = client.post(LINKS, content=raw, headers={**auth, "Content-Type": "application/json"})
    is_error(r, 400)
    assert links(client, auth) == before


@pytest.mark.parametrize("headers", [
    {}, bearer("psg_wrong"), {"Authorization": "psg_wrong"}, bearer(""),
    {"Authorization": "Basic cHNnX3dyb25nOg=="}])
@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/links"), ("GET", "/v1/links"), ("GET", "/v1/links/link_abc123"),
    ("GET", "/v1/providers")])
def test_a_missing_or_wrong_key_is_401(client, api_key, headers, method, path):
    kw = {"json": A_QUICKSTART} if method == "POST" else {}
    before = links(client, bearer(api_key))
    r = client.request(method, PREFIX + path, headers=headers, **kw)
    assert r.status_code == 401 and r.json() == UNAUTHORIZED
    assert links(client, bearer(api_key)) == before


@pytest.mark.parametrize("sent", [{}, {"code": ""}, {"code": 7}, {"claim_code": "clm_x"}])
def test_claim_without_a_code_is_400(client, sent):
    is_error(client.post(f"{PREFIX}/link/claim", json=sent), 400)


def test_claim_of_an_unknown_code_is_404(client):
    r = claim(client, "clm_00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json() == BAD_CODE


def test_claim_of_a_completed_link_is_409(client, auth):
    made = create(client, auth, webhookUrl=None)
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    r = claim(client, made["claimCode"])
    assert r.status_code == 409 and r.json() == USED
    assert get(client, auth, made["linkId"])["status"] == "complete"


def test_claim_of_an_expired_link_is_410(client, auth):
    made = create(client, auth, SKILL_SINGLE)  # expiresIn 3600
    advance(client, 3600)
    r = claim(client, made["claimCode"])
    assert r.status_code == 410 and r.json() == EXPIRED
    link = get(client, auth, made["linkId"])
    assert link["status"] == "expired" and link["currentSessionId"] is None


# -- GET /link/ws?code= (message shapes are the mock's own: docs/fidelity.md) ----------------------
# Starlette's TestClient is the one in-process WebSocket client; its httpx notice is not ours.
QUIET = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

@pytest.fixture
def live_app(app):
    from starlette.testclient import TestClient

    # One portal for HTTP calls and sockets alike: a push from an HTTP call reaches the socket.
    with TestClient(app, base_url="http://mock.test") as tc:
        yield tc


def ws_status(link: dict, status: str, error=None, updated=DOC_MS) -> dict:
    return {"type": "link.status", "linkId": link["linkId"], "status": status, "error": error,
            "updatedAt": updated}


@QUIET
def test_the_link_socket_pushes_each_status_and_closes_on_complete(live_app, api_key):
    from starlette.websockets import WebSocketDisconnect

    made = live_app.post(LINKS, json=body(A_QUICKSTART, webhookUrl=None),
                         headers=bearer(api_key)).json()
    with live_app.websocket_connect(f"{PREFIX}/link/ws?code={made['claimCode']}") as ws:
        assert ws.receive_json() == ws_status(made, "pending")
        ws.send_text("ignored")  # client messages are ignored
        assert live_app.post(f"{PREFIX}/link/claim",
                             json={"code": made["claimCode"]}).status_code == 200
        assert ws.receive_json() == ws_status(made, "active")
        r = live_app.post(f"/__admin/passage/links/{made['linkId']}/complete", json={})
        assert r.status_code == 200
        assert ws.receive_json() == ws_status(made, "complete")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000
    # the socket is one journal entry, the link's tenant's (the socket carries no key)
    entries = live_app.get("/__admin/requests", params={"tenant": "default",
                                                        "path": "/link/ws"}).json()
    [entry] = [e for e in entries["requests"] if e["path"] == "/link/ws"]
    assert entry["status"] == 101 and entry["websocket"] == {
        "closeCode": 1000, "received": 1, "sent": 3}


@QUIET
def test_the_link_socket_pushes_a_failure_with_its_error_and_stays_open(live_app, api_key):
    made = live_app.post(LINKS, json=body(A_QUICKSTART, webhookUrl=None),
                         headers=bearer(api_key)).json()
    r = live_app.post(f"{PREFIX}/link/claim", json={"code": made["claimCode"]})
    assert r.status_code == 200
    with live_app.websocket_connect(f"{PREFIX}/link/ws?code={made['claimCode']}") as ws:
        assert ws.receive_json() == ws_status(made, "active")
        r = live_app.post(f"/__admin/passage/links/{made['linkId']}/fail",
                          json={"code": "CLIENT_TIMEOUT", "message": "timed out"})
        assert r.status_code == 200
        error = {"code": "CLIENT_TIMEOUT", "message": "timed out"}
        assert ws.receive_json() == ws_status(made, "failed", error)
        # re-claimable: the socket stays and reports the next attempt
        assert live_app.post(f"{PREFIX}/link/claim",
                             json={"code": made["claimCode"]}).status_code == 200
        assert ws.receive_json()["status"] == "active"


@QUIET
@pytest.mark.parametrize("query, code", [("?code=clm_00000000-0000-4000-8000-000000000000", 4004),
                                         ("", 4000)])
def test_the_link_socket_closes_on_an_unknown_or_missing_code(live_app, query, code):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as closed:
        with live_app.websocket_connect(f"{PREFIX}/link/ws{query}") as ws:
            ws.receive_json()
    assert closed.value.code == code


# -- the shared vendor notes (shared/vendor-docs/PASSAGE-CONNECT.md), if beside this checkout ---
def vendor_notes() -> str:
    from tests.conftest import vendor_doc
    from tests.gravy.test_documented import missing_input

    path = vendor_doc("PASSAGE-CONNECT.md")
    if path is None:
        missing_input("the vendor notes (shared/vendor-docs/PASSAGE-CONNECT.md) are not above "
                      "this checkout")
    return path.read_text()


def test_the_notes_validation_example_is_answered_verbatim(client, auth):
    import re

    notes = vendor_notes()
    errors = notes[notes.index("## Errors"):]
    example = json.loads(re.search(r"`(\{\"error\": \"Validation failed\".*?\})`", errors,
                                   re.S).group(1))
    bad = {i["path"]: "not a url" for i in example["issues"]}
    r = client.post(LINKS, json=body(A_QUICKSTART, **bad), headers=auth)
    assert r.status_code == 400 and r.json() == example


def test_the_notes_providers_are_served(client, auth):
    import re

    notes = vendor_notes()
    line = notes.split("- Providers named publicly:")[1].split("\n- ")[0]
    named = set(re.findall(r"`([a-z-]+)`", line))  # the ids: resources are camelCase
    served = {p["id"] for p in client.get(f"{PREFIX}/v1/providers", headers=auth)
              .json()["providers"]}
    assert named == served
