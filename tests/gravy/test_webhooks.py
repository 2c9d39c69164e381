"""Connection.Updated webhooks, their signature and key, and the admin lifecycle endpoint."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

import jwt
import pytest

from mockserver.core.contracts import load as load_contracts

from .conftest import DOC_CONNECTION, RESOURCES, documented, open_connection, set_status

DOC_EPOCH = int(datetime.fromisoformat("2024-01-15T10:30:00+00:00").timestamp())
DOC_TIME = "2024-01-15T10:30:00.000Z"
TO_DATA = ["connecting", "connected", "data_processing", "data_available"]
EVENT_RESOURCE_KEYS = {"type", "url", "status", "operation", "startedAt", "completedAt"}
CONTRACTS = load_contracts()


def instant(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def header(req: dict, name: str) -> str:
    return next(v for k, v in req["headers"].items() if k.lower() == name.lower())


def verification_key(client, auth, kid: str) -> str:
    r = client.post("/gravy/webhook_verification_key/get", json={"key_id": kid}, headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key_id"] == kid
    assert set(body) == {"key_id", "key"}
    return body["key"]


def webhook_calls(client) -> list[dict]:
    r = client.get("/__admin/requests?kind=webhook")
    assert r.status_code == 200
    return r.json()["requests"]


# -- the happy path --------------------------------------------------------------------------
def test_lifecycle_to_data_available_posts_four_events(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    r = set_status(client, cid, "data_available")
    assert r.status_code == 200, r.text
    assert r.json()["transitions"] == TO_DATA
    assert [w["status"] for w in r.json()["webhooks"]] == TO_DATA
    assert all(w["delivered"] and w["responseStatus"] == 200 and w["error"] is None
               for w in r.json()["webhooks"])
    assert len(receiver.requests) == 4
    events = [json.loads(req["body"]) for req in receiver.requests]
    assert [e["data"]["status"] for e in events] == TO_DATA
    ids = [e["id"] for e in events]
    assert len(set(ids)) == 4
    for req, event in zip(receiver.requests, events):
        assert req["path"] == "/hooks/passage"
        assert header(req, "content-type").startswith("application/json")
        CONTRACTS.check("gravy", "webhook-event.json", event)
        assert set(event) == {"id", "timestamp", "type", "data"}
        assert event["id"].startswith("evt_")
        assert event["timestamp"] == DOC_TIME
        assert event["type"] == "Connection.Updated"
        assert set(event["data"]) == {"connectionId", "status", "resources"}
        assert event["data"]["connectionId"] == cid
        assert [(x["type"], x["operation"]) for x in event["data"]["resources"]] == [
            ("readingHistory", "read"), ("accountBalance", "read"), ("accountBalance", "write")]
        for res in event["data"]["resources"]:
            assert set(res) == EVENT_RESOURCE_KEYS
    by_status = {e["data"]["status"]: e["data"]["resources"] for e in events}
    assert {x["status"] for x in by_status["connecting"]} == {"pending"}
    assert {x["status"] for x in by_status["connected"]} == {"pending"}
    assert {x["status"] for x in by_status["data_processing"]} == {"in_progress"}
    assert all(x["startedAt"] == DOC_TIME and x["completedAt"] is None
               for x in by_status["data_processing"])
    assert {x["status"] for x in by_status["data_available"]} == {"completed"}
    assert all(x["completedAt"] == DOC_TIME for x in by_status["data_available"])


def test_last_event_matches_the_connection(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available").status_code == 200
    conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    last = receiver.json(-1)["data"]
    assert last["status"] == conn["status"] == "data_available"
    assert last["resources"] == [{k: r[k] for k in EVENT_RESOURCE_KEYS}
                                 for r in conn["resources"]]


def test_signature_verifies_with_the_published_key(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    assert set_status(client, created["connectionId"], "data_available").status_code == 200
    keys: dict[str, str] = {}
    for req in receiver.requests:
        signature = header(req, "X-Passage-Signature")
        head = jwt.get_unverified_header(signature)
        assert head["alg"] == "ES256"
        kid = head["kid"]
        if kid not in keys:
            keys[kid] = verification_key(client, auth, kid)
        assert keys[kid].startswith("-----BEGIN PUBLIC KEY-----")
        payload = jwt.decode(signature, keys[kid], algorithms=["ES256"])
        assert payload == {"iat": DOC_EPOCH,
                           "request_body_sha256": hashlib.sha256(req["body"]).hexdigest()}
        assert header(req, "X-Passage-Timestamp") == str(DOC_EPOCH)
    assert len(keys) == 1


def test_signature_does_not_verify_for_a_tampered_body(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    assert set_status(client, created["connectionId"], "connecting").status_code == 200
    req = receiver.requests[0]
    signature = header(req, "X-Passage-Signature")
    key = verification_key(client, auth, jwt.get_unverified_header(signature)["kid"])
    payload = jwt.decode(signature, key, algorithms=["ES256"])
    tampered = req["body"].replace(b'"connecting"', b'"data_available"')
    assert tampered != req["body"]
    assert payload["request_body_sha256"] != hashlib.sha256(tampered).hexdigest()
    # a forged signature does not verify against the published key
    head, body, sig = signature.split(".")
    with pytest.raises(jwt.InvalidSignatureError):
        flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
        jwt.decode(f"{head}.{body}.{flipped}", key, algorithms=["ES256"])


def test_timestamps_follow_the_mock_clock(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    client.post("/__admin/clock", json={"advance": 125})
    assert set_status(client, created["connectionId"], "connecting").status_code == 200
    req = receiver.requests[0]
    assert header(req, "X-Passage-Timestamp") == str(DOC_EPOCH + 125)
    assert receiver.json(0)["timestamp"] == "2024-01-15T10:32:05.000Z"
    signature = header(req, "X-Passage-Signature")
    key = verification_key(client, auth, jwt.get_unverified_header(signature)["kid"])
    assert jwt.decode(signature, key, algorithms=["ES256"])["iat"] == DOC_EPOCH + 125


def test_no_webhook_url_means_no_delivery(client, auth, receiver):
    created = open_connection(client, auth)
    r = set_status(client, created["connectionId"], "data_available")
    assert r.status_code == 200
    assert r.json()["webhooks"] == []
    assert receiver.requests == []
    assert webhook_calls(client) == []


def test_moving_a_fixture_connection_without_webhook(client, auth):
    r = set_status(client, DOC_CONNECTION, "inactive")
    assert r.status_code == 200
    assert r.json()["transitions"] == ["inactive"]
    assert client.get(f"/gravy/connections/{DOC_CONNECTION}",
                      headers=auth).json()["status"] == "inactive"


# -- the verification key endpoint ------------------------------------------------------------
def test_unknown_key_id_is_404(client, auth):
    r = client.post("/gravy/webhook_verification_key/get", json={"key_id": "whk_nope"},
                    headers=auth)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Key not found", "error": "Not Found"}


def test_key_endpoint_needs_a_bearer(client):
    r = client.post("/gravy/webhook_verification_key/get", json={"key_id": "whk_nope"})
    assert r.status_code == 401
    assert r.json() == {"statusCode": 401, "message": "Unauthorized"}


def test_key_endpoint_validates_its_body(client, auth):
    r = client.post("/gravy/webhook_verification_key/get", json={}, headers=auth)
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "message": ["key_id should not be empty", "key_id must be a string"],
        "error": "Bad Request", "errorCode": "VALIDATION_001",
        "details": [{"property": "key_id", "constraints": {
            "isNotEmpty": "key_id should not be empty", "isString": "key_id must be a string",
            "message": "key_id should not be empty, key_id must be a string"}}],
    }


# -- data becomes readable only at data_available --------------------------------------------
def test_resources_readable_only_at_data_available(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    for status in TO_DATA[:-1]:
        assert set_status(client, cid, status).status_code == 200
        for path in ("reading-history", "balances"):
            r = client.get(f"/gravy/connections/{cid}/{path}", headers=auth)
            assert r.status_code == 404, (status, path)
            name = {"reading-history": "readingHistory", "balances": "balances"}[path]
            assert r.json() == {"statusCode": 404, "error": "Not Found",
                                "message": f"No {name} data available for connection {cid}"}
    assert set_status(client, cid, "data_available").status_code == 200
    assert [receiver.json(i)["data"]["status"] for i in range(4)] == TO_DATA
    for path in ("reading-history", "balances"):
        r = client.get(f"/gravy/connections/{cid}/{path}", headers=auth)
        assert r.status_code == 200
        assert r.json()["meta"]["total"] > 0
    # a resource that was not requested stays unavailable
    assert client.get(f"/gravy/connections/{cid}/trips", headers=auth).status_code == 404


def test_a_completed_write_is_readable(client, auth):
    """The web SDK reads `balance` after a gift-card write to see it done (404 = not yet)."""
    created = open_connection(client, auth, resources={"balance": {"write": {"amount": 25}}})
    cid = created["connectionId"]
    path = f"/gravy/connections/{cid}/balance"
    headers = {"x-intent-token": created["intentToken"]}
    assert set_status(client, cid, "data_processing").status_code == 200
    assert client.get(path, headers=headers).status_code == 404
    assert set_status(client, cid, "data_available").status_code == 200
    body = client.get(path, headers=headers).json()
    assert body["data"] and isinstance(body["data"][0]["amount"], (int, float))
    assert client.get(f"/gravy/connections/{cid}/trips", headers=headers).status_code == 404


def test_read_limit_caps_the_items(client, auth):
    created = open_connection(client, auth,
                              resources={"readingHistory": {"read": {"limit": 3}}})
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available").status_code == 200
    body = client.get(f"/gravy/connections/{cid}/reading-history", headers=auth).json()
    assert body["meta"]["total"] == 3


def test_generated_items_end_when_data_became_available(client, auth):
    """store.Connection.data_ready_at: 'when data became available: generated items end there'.

    Nothing fetched at that moment can have been created or updated after it.
    """
    created = open_connection(client, auth)
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available").status_code == 200
    ready = instant(DOC_TIME)
    late = []
    for path in ("reading-history", "balances"):
        body = client.get(f"/gravy/connections/{cid}/{path}?limit=100", headers=auth).json()
        assert body["data"]
        late += [(path, i["id"], i["createdAt"], i["updatedAt"]) for i in body["data"]
                 if instant(i["createdAt"]) > ready or instant(i["updatedAt"]) > ready]
    assert late == []


def test_refresh_sends_two_more_events(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available").status_code == 200
    client.post("/__admin/clock", json={"advance": 60})
    r = set_status(client, cid, "data_processing")
    assert r.status_code == 200 and r.json()["transitions"] == ["data_processing"]
    assert client.get(f"/gravy/connections/{cid}/reading-history",
                      headers=auth).status_code == 404
    assert set_status(client, cid, "data_available").status_code == 200
    assert [receiver.json(i)["data"]["status"] for i in range(len(receiver.requests))] == \
        TO_DATA + ["data_processing", "data_available"]
    assert receiver.json(-1)["timestamp"] == "2024-01-15T10:31:00.000Z"
    assert client.get(f"/gravy/connections/{cid}/reading-history",
                      headers=auth).status_code == 200


@pytest.mark.parametrize("via", [["data_processing", "data_available"],
                                 ["inactive", "connecting", "data_available"]],
                         ids=["refresh", "inactive-and-retry"])
def test_documented_connection_keeps_its_documented_data(client, auth, via):
    """Moving a documented connection through its lifecycle re-reads the same account: each
    resource's first page is still the documented response (documented example first, 150)."""
    pages = {slug: f"/gravy/connections/{cid}/{slug}?page=1&limit=20"
             for slug, cid in RESOURCES.items()}
    before = {slug: client.get(path, headers=auth).json()["data"] for slug, path in pages.items()}
    client.post("/__admin/clock", json={"advance": 600})
    for cid in sorted(set(RESOURCES.values())):
        for status in via:
            assert set_status(client, cid, status).status_code == 200, (cid, status)
    for slug, path in pages.items():
        body = client.get(path, headers=auth).json()
        doc = documented(f"{slug}.list")
        assert body["data"][0] == doc["data"][0], slug
        assert body["meta"] == doc["meta"], slug
        assert body["data"] == before[slug], slug


def test_generated_fixture_connection_keeps_its_data_through_a_refresh(client, auth):
    listed = client.get("/gravy/connections?status=data_available&limit=100",
                        headers=auth).json()["data"]
    conn = next(c for c in listed if c["id"] not in RESOURCES.values())
    path = conn["resources"][0]["url"].removeprefix("http://mock.test") + "?limit=100"
    before = client.get(path, headers=auth).json()
    assert set_status(client, conn["id"], "data_processing").status_code == 200
    assert client.get(path, headers=auth).status_code == 404
    assert set_status(client, conn["id"], "data_available").status_code == 200
    assert client.get(path, headers=auth).json()["data"] == before["data"]


# -- delivery failures never break the admin call --------------------------------------------
def test_receiver_500_is_journaled(client, auth, receiver):
    receiver.status = 500
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    r = set_status(client, cid, "connected")
    assert r.status_code == 200, r.text
    assert [(w["status"], w["responseStatus"], w["delivered"]) for w in r.json()["webhooks"]] \
        == [("connecting", 500, False), ("connected", 500, False)]
    assert len(receiver.requests) == 2
    calls = webhook_calls(client)
    assert len(calls) == 2
    assert [c["status"] for c in calls] == [500, 500]
    assert all(c["url"] == receiver.url and c["error"] is None and c["kind"] == "webhook"
               and c["method"] == "POST" for c in calls)
    # newest first: the last delivery is the "connected" event
    assert json.loads(calls[0]["request"]["body"])["data"]["status"] == "connected"
    assert client.get(f"/gravy/connections/{cid}", headers=auth).json()["status"] == "connected"


def test_unreachable_receiver_is_journaled(client, auth):
    created = open_connection(client, auth, webhookUrl="http://127.0.0.1:1/")
    cid = created["connectionId"]
    r = set_status(client, cid, "data_available")
    assert r.status_code == 200, r.text
    assert [w["delivered"] for w in r.json()["webhooks"]] == [False] * 4
    assert all(w["responseStatus"] is None and w["error"] for w in r.json()["webhooks"])
    calls = webhook_calls(client)
    assert len(calls) == 4
    assert all(c["status"] is None and c["error"] and c["url"] == "http://127.0.0.1:1/"
               for c in calls)
    assert client.get(f"/gravy/connections/{cid}/reading-history",
                      headers=auth).status_code == 200


def test_non_http_webhook_url_is_journaled_not_fatal(client, auth):
    # ftp passes @IsUrl() (validator.js allows http, https, ftp) but is not POSTable
    created = open_connection(client, auth, webhookUrl="ftp://example.com/hooks")
    r = set_status(client, created["connectionId"], "connecting")
    assert r.status_code == 200
    assert r.json()["webhooks"][0]["delivered"] is False
    assert webhook_calls(client)[0]["error"]


# -- partial data ----------------------------------------------------------------------------
def test_partially_available_marks_a_failed_resource(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    r = set_status(client, cid, "data_partially_available")
    assert r.status_code == 200
    assert r.json()["transitions"] == ["connecting", "connected", "data_processing",
                                       "data_partially_available"]
    conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    assert conn["status"] == "data_partially_available"
    states = {(x["type"], x["operation"]): x["status"] for x in conn["resources"]}
    assert states == {("readingHistory", "read"): "completed",
                      ("accountBalance", "read"): "failed",
                      ("accountBalance", "write"): "failed"}
    failed = [x for x in conn["resources"] if x["status"] == "failed"]
    assert all(x["failureReason"] and x["errorMessage"] for x in failed)
    last = receiver.json(-1)["data"]
    assert last["status"] == "data_partially_available"
    assert [x["status"] for x in last["resources"]] == ["completed", "failed", "failed"]
    assert client.get(f"/gravy/connections/{cid}/reading-history",
                      headers=auth).status_code == 200
    r = client.get(f"/gravy/connections/{cid}/balances", headers=auth)
    assert r.status_code == 404
    assert r.json()["message"] == f"No balances data available for connection {cid}"


def test_partially_available_with_named_failures(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    r = set_status(client, cid, "data_partially_available", failedResources=["readingHistory"])
    assert r.status_code == 200
    conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    assert [x["status"] for x in conn["resources"]] == ["failed", "completed", "completed"]
    assert client.get(f"/gravy/connections/{cid}/reading-history",
                      headers=auth).status_code == 404
    assert client.get(f"/gravy/connections/{cid}/balances", headers=auth).status_code == 200


def test_bad_failed_resources_is_400(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    r = set_status(client, cid, "data_partially_available", failedResources="readingHistory")
    assert r.status_code == 400
    assert r.json() == {"error": "failedResources must be a list of resource names"}
    assert client.get(f"/gravy/connections/{cid}", headers=auth).json()["status"] == "pending"


# -- failure statuses ------------------------------------------------------------------------
@pytest.mark.parametrize("status,reason", [("failed", "automation_failed"),
                                           ("canceled", "user_canceled"),
                                           ("rejected", "user_rejected")])
def test_failure_statuses(client, auth, receiver, status, reason):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    r = set_status(client, cid, status)
    assert r.status_code == 200
    assert r.json()["transitions"] == [status]
    conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    assert conn["status"] == status
    assert conn["failureReason"] == reason
    assert conn["errorMessage"]
    assert all(x["status"] == "failed" for x in conn["resources"])
    assert receiver.json(-1)["data"]["status"] == status
    # and a retry goes back through connecting
    r = set_status(client, cid, "connected")
    assert r.status_code == 200 and r.json()["transitions"] == ["connecting", "connected"]
    conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    assert conn["failureReason"] is None and conn["errorMessage"] is None
    assert all(x["status"] == "pending" for x in conn["resources"])


# -- invalid moves ---------------------------------------------------------------------------
def test_invalid_move_is_409_and_changes_nothing(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available").status_code == 200
    before = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    sent = len(receiver.requests)
    client.post("/__admin/clock", json={"advance": 5})
    r = set_status(client, cid, "pending")
    assert r.status_code == 409
    assert r.json() == {"error": "a connection cannot move from data_available to pending"}
    assert client.get(f"/gravy/connections/{cid}", headers=auth).json() == before
    assert len(receiver.requests) == sent
    assert client.get(f"/gravy/connections/{cid}/reading-history",
                      headers=auth).status_code == 200


def test_unknown_status_is_400(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    for bad in ("bogus", None, 3):
        r = client.post(f"/__admin/gravy/connections/{cid}/status", json={"status": bad})
        assert r.status_code == 400
        assert r.json() == {"error": "status must be one of: pending, connecting, connected, "
                                     "canceled, rejected, failed, data_processing, "
                                     "data_available, data_partially_available, inactive"}
    assert client.get(f"/gravy/connections/{cid}", headers=auth).json()["status"] == "pending"


def test_unknown_connection_is_404(client):
    r = set_status(client, "conn_nope", "connected")
    assert r.status_code == 404
    assert r.json() == {"error": "no connection conn_nope in tenant default"}


def test_admin_body_must_be_json(client, auth):
    created = open_connection(client, auth)
    r = client.post(f"/__admin/gravy/connections/{created['connectionId']}/status",
                    content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "the body must be JSON"}


def test_data_read_stays_readable_when_inactive_until_a_retry(client, auth):
    cid = open_connection(client, auth)["connectionId"]
    path = f"/gravy/connections/{cid}/reading-history"
    assert set_status(client, cid, "data_available").status_code == 200
    assert client.get(path, headers=auth).status_code == 200
    assert set_status(client, cid, "inactive").json()["transitions"] == ["inactive"]
    assert client.get(path, headers=auth).status_code == 200
    assert set_status(client, cid, "connecting").status_code == 200
    assert client.get(path, headers=auth).status_code == 404
