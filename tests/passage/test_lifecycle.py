"""The link lifecycle on the mock clock: pending -> active on claim -> complete | failed, failed
claimable again, complete single use (409), expired after expiresIn (410), operations in order
with one failure failing the link, auto-complete after the default delay, `limit` honoured, and
the webhook retry schedule (0, +1 s, +5 s)."""
from __future__ import annotations

import pytest

from tests.conftest import Receiver

from .conftest import (A_QUICKSTART, B_EXAMPLE, DEFAULT_TTL, DOC_MS, ERROR_CODES, PREFIX,
                       SKILL_MULTI, advance, claim, complete, create, deliveries, fail, get,
                       header)

AUTO = 5  # the package's default auto-complete delay, in mock-clock seconds
SETTINGS = "/__admin/passage/settings"


def status(client, auth, link_id: str) -> str:
    return get(client, auth, link_id)["status"]


def claimed(client, auth, base=A_QUICKSTART, **overrides) -> tuple[dict, dict]:
    # The documented webhookUrl is a real host elsewhere: no delivery unless a test asks.
    overrides.setdefault("webhookUrl", None)
    made = create(client, auth, base, **overrides)
    r = claim(client, made["claimCode"])
    assert r.status_code == 200, r.text
    return made, r.json()


def result_of(client, auth, base=A_QUICKSTART, **overrides):
    made, _ = claimed(client, auth, base, **overrides)
    assert complete(client, made["linkId"]).status_code == 200
    return get(client, auth, made["linkId"])["result"]


def export(client) -> dict:
    r = client.get("/__admin/state")
    assert r.status_code == 200
    return r.json()


# -- the states ---------------------------------------------------------------------------------
def test_pending_then_active_on_claim_then_complete(client, auth):
    made = create(client, auth, webhookUrl=None)
    assert status(client, auth, made["linkId"]) == "pending"
    advance(client, 1)
    _, session = made, claim(client, made["claimCode"]).json()
    link = get(client, auth, made["linkId"])
    assert link["status"] == "active" and link["currentSessionId"] == session["sessionId"]
    assert link["updatedAt"] == DOC_MS + 1000
    advance(client, 2)
    r = complete(client, made["linkId"])
    assert r.status_code == 200, r.text
    link = get(client, auth, made["linkId"])
    assert link["status"] == "complete" and link["result"] is not None
    assert link["error"] is None
    assert link["updatedAt"] == DOC_MS + 3000
    assert r.json()["link"] == link


def test_complete_with_a_chosen_result(client, auth):
    made, _ = claimed(client, auth)
    chosen = {"billing": [{"periodStart": "03/01/2025", "amountDue": 1.5, "currency": "EUR"}]}
    assert complete(client, made["linkId"], result=chosen).status_code == 200
    assert get(client, auth, made["linkId"])["result"] == chosen


@pytest.mark.parametrize("code", ERROR_CODES)
def test_fail_with_each_documented_code(client, auth, code):
    made, _ = claimed(client, auth)
    r = fail(client, made["linkId"], code)
    assert r.status_code == 200, r.text
    link = get(client, auth, made["linkId"])
    assert link["status"] == "failed" and link["result"] is None
    assert link["error"]["code"] == code and link["error"]["message"]


def test_fail_with_a_chosen_message(client, auth):
    made, _ = claimed(client, auth)
    r = fail(client, made["linkId"], "CLIENT_TIMEOUT", message="user walked away")
    assert r.status_code == 200
    assert get(client, auth, made["linkId"])["error"] == {"code": "CLIENT_TIMEOUT",
                                                          "message": "user walked away"}


def test_a_failed_link_is_claimable_again_with_a_new_session(client, auth):
    made, first = claimed(client, auth)
    assert fail(client, made["linkId"]).status_code == 200
    r = claim(client, made["claimCode"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["linkId"] == made["linkId"]
    assert second["sessionId"] != first["sessionId"]
    link = get(client, auth, made["linkId"])
    assert link["status"] == "active" and link["currentSessionId"] == second["sessionId"]
    assert complete(client, made["linkId"]).status_code == 200
    assert status(client, auth, made["linkId"]) == "complete"


def test_a_completed_link_is_single_use(client, auth):
    made, _ = claimed(client, auth)
    assert complete(client, made["linkId"]).status_code == 200
    before = get(client, auth, made["linkId"])
    for _ in range(2):
        r = claim(client, made["claimCode"])
        assert r.status_code == 409 and r.json() == {"error": "Link has already been used"}
    assert get(client, auth, made["linkId"]) == before


def test_claiming_an_active_link_is_409(client, auth):
    made, first = claimed(client, auth)
    r = claim(client, made["claimCode"])
    assert r.status_code == 409 and r.json() == {"error": "Link is already being claimed"}
    assert get(client, auth, made["linkId"])["currentSessionId"] == first["sessionId"]


@pytest.mark.parametrize("action", ["complete", "fail"])
def test_outcomes_need_an_active_link(client, auth, action):
    made = create(client, auth, webhookUrl=None)
    drive = complete if action == "complete" else fail
    assert drive(client, made["linkId"]).status_code == 409
    assert status(client, auth, made["linkId"]) == "pending"
    assert claim(client, made["claimCode"]).status_code == 200
    assert complete(client, made["linkId"]).status_code == 200
    assert drive(client, made["linkId"]).status_code == 409
    assert status(client, auth, made["linkId"]) == "complete"


def test_fail_with_an_unknown_code_is_400_and_changes_nothing(client, auth):
    made, _ = claimed(client, auth)
    before = export(client)
    assert fail(client, made["linkId"], "NOT_A_CODE").status_code == 400
    assert export(client) == before


def test_admin_claim_is_the_client_claim(client, auth):
    made = create(client, auth, webhookUrl=None)
    r = client.post(f"/__admin/passage/links/{made['linkId']}/claim", json={})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["link"]["status"] == "active"
    assert out["link"]["currentSessionId"] == out["claim"]["sessionId"]
    assert client.post(f"/__admin/passage/links/{made['linkId']}/claim",
                       json={}).status_code == 409


# -- expiry ---------------------------------------------------------------------------------------
def test_a_link_expires_after_the_default_four_hours(client, auth):
    made = create(client, auth)
    advance(client, DEFAULT_TTL - 1)
    assert status(client, auth, made["linkId"]) == "pending"
    advance(client, 1)
    assert status(client, auth, made["linkId"]) == "expired"
    r = claim(client, made["claimCode"])
    assert r.status_code == 410 and r.json() == {"error": "Link has expired"}


def test_expires_in_sets_the_ttl(client, auth):
    made = create(client, auth, expiresIn=60)
    assert made["expiresAt"] == DOC_MS + 60_000
    advance(client, 59)
    assert status(client, auth, made["linkId"]) == "pending"
    advance(client, 1)
    assert status(client, auth, made["linkId"]) == "expired"
    assert claim(client, made["claimCode"]).status_code == 410


def test_an_active_link_expires_too(client, auth):
    made, _ = claimed(client, auth, expiresIn=60)
    assert client.post(SETTINGS, json={"autoCompleteSeconds": None}).status_code == 200
    advance(client, 60)
    assert status(client, auth, made["linkId"]) == "expired"
    assert complete(client, made["linkId"]).status_code == 409


def test_a_failed_link_past_its_expiry_is_gone(client, auth):
    made, _ = claimed(client, auth, expiresIn=60)
    assert fail(client, made["linkId"]).status_code == 200
    advance(client, 60)
    assert status(client, auth, made["linkId"]) == "expired"
    assert claim(client, made["claimCode"]).status_code == 410


def test_a_completed_link_stays_complete_past_its_expiry(client, auth):
    made, _ = claimed(client, auth, expiresIn=60)
    assert complete(client, made["linkId"]).status_code == 200
    advance(client, 3600)
    assert status(client, auth, made["linkId"]) == "complete"
    assert claim(client, made["claimCode"]).status_code == 409


# -- operations -----------------------------------------------------------------------------------
def test_operations_run_in_order(client, auth):
    result = result_of(client, auth, SKILL_MULTI)
    assert [(o["resource"], o["action"]) for o in result["operations"]] == [
        ("paymentMethod", "read"), ("mobileBillingStatement", "read")]
    assert "paymentMethods" in result["operations"][0]["data"]
    assert len(result["operations"][1]["data"]["billing"]) <= 3  # its `limit: 3`


@pytest.mark.parametrize("index", [0, 1])
def test_one_failing_operation_fails_the_link(client, auth, receiver, index):
    made, _ = claimed(client, auth, SKILL_MULTI, webhookUrl=receiver.url)
    r = fail(client, made["linkId"], "AUTOMATION_ERROR", operation=index)
    assert r.status_code == 200, r.text
    link = get(client, auth, made["linkId"])
    assert link["status"] == "failed" and link["result"] is None
    assert link["error"]["code"] == "AUTOMATION_ERROR"
    assert [e["event"] for e in map(receiver.json, range(len(receiver.requests)))] == [
        "link.failed"]


def test_fail_refuses_an_operation_the_link_does_not_have(client, auth):
    made, _ = claimed(client, auth, SKILL_MULTI)
    assert fail(client, made["linkId"], operation=2).status_code == 400
    assert status(client, auth, made["linkId"]) == "active"


def test_a_dry_run_write_answers_the_dry_run_shape(client, auth):
    args = dict(B_EXAMPLE["operations"][1]["arguments"], dryRun=True)
    result = result_of(client, auth, integrationId="att", resource="paymentMethod",
                       action="write", arguments=args)
    assert result["dryRun"] is True and result["card"]["last4"] == "1111"
    assert "success" not in result


# -- limit ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("integration, resource, key", [
    ("tmobile", "mobileBillingStatement", "billing"), ("att", "mobileBillingStatement", "billing"),
    ("ubereats", "orderHistory", "orders"), ("apple-review", "readHistory", "history")])
def test_limit_keeps_the_first_items(client, auth, integration, resource, key):
    full = result_of(client, auth, integrationId=integration, resource=resource)[key]
    assert len(full) >= 2, "the fixture needs two items to show a limit"
    for limit in (1, len(full) - 1, len(full), len(full) + 5):
        cut = result_of(client, auth, integrationId=integration, resource=resource,
                        arguments={"limit": limit})[key]
        assert cut == full[:limit]


# -- auto-complete --------------------------------------------------------------------------------
def test_a_claimed_link_completes_itself_after_the_default_delay(client, auth, receiver):
    made, _ = claimed(client, auth, webhookUrl=receiver.url)
    advance(client, AUTO - 1)
    assert status(client, auth, made["linkId"]) == "active"
    advance(client, 1)
    link = get(client, auth, made["linkId"])
    assert link["status"] == "complete" and link["result"]["billing"]
    assert link["updatedAt"] == DOC_MS + AUTO * 1000
    [req] = deliveries(client, receiver, 1)
    assert receiver.json(0)["event"] == "link.complete"
    assert receiver.json(0)["result"] == link["result"]
    advance(client, 60)
    assert len(receiver.requests) == 1


def test_the_delay_is_a_setting_and_null_disables_it(client, auth):
    assert client.get(SETTINGS).json() == {"autoCompleteSeconds": AUTO}
    r = client.post(SETTINGS, json={"autoCompleteSeconds": 30})
    assert r.status_code == 200 and r.json() == {"autoCompleteSeconds": 30}
    made, _ = claimed(client, auth)
    advance(client, 29)
    assert status(client, auth, made["linkId"]) == "active"
    advance(client, 1)
    assert status(client, auth, made["linkId"]) == "complete"
    assert client.post(SETTINGS, json={"autoCompleteSeconds": None}).status_code == 200
    made, _ = claimed(client, auth)
    advance(client, 3600)
    assert status(client, auth, made["linkId"]) == "active"


@pytest.mark.parametrize("value", [-1, "5", True, [], float("inf")])
def test_a_bad_setting_is_400_and_changes_nothing(client, value):
    r = client.post(SETTINGS, content=f'{{"autoCompleteSeconds": {_json(value)}}}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.get(SETTINGS).json() == {"autoCompleteSeconds": AUTO}


def _json(value) -> str:
    import json
    return "Infinity" if value == float("inf") else json.dumps(value)


def test_an_admin_outcome_before_the_delay_wins(client, auth):
    made, _ = claimed(client, auth)
    assert fail(client, made["linkId"]).status_code == 200
    advance(client, AUTO * 2)
    assert status(client, auth, made["linkId"]) == "failed"


# -- webhook retries ------------------------------------------------------------------------------
@pytest.fixture
def refusing():
    r = Receiver(status=500, answer=b"down")
    yield r
    r.close()


def test_a_refused_webhook_is_retried_at_plus_1_then_plus_5_seconds(client, auth, refusing):
    assert client.post(SETTINGS, json={"autoCompleteSeconds": None}).status_code == 200
    made, _ = claimed(client, auth, webhookUrl=refusing.url)
    assert complete(client, made["linkId"]).status_code == 200
    assert len(refusing.requests) == 1
    advance(client, 0.9)
    assert len(refusing.requests) == 1
    advance(client, 0.1)
    assert len(refusing.requests) == 2
    advance(client, 4.9)
    assert len(refusing.requests) == 2
    advance(client, 0.1)
    assert len(refusing.requests) == 3
    advance(client, 3600)
    assert len(refusing.requests) == 3  # three attempts in all, then dropped
    # the same bytes and signature on every attempt
    first = refusing.requests[0]
    for req in refusing.requests[1:]:
        assert req["body"] == first["body"]
        assert header(req, "X-Passage-Signature") == header(first, "X-Passage-Signature")
    assert status(client, auth, made["linkId"]) == "complete"  # persisted either way
    attempts = client.get("/__admin/requests?kind=webhook").json()["requests"]
    assert [a["status"] for a in attempts] == [500, 500, 500]


def test_a_delivered_webhook_is_not_retried(client, auth, receiver):
    made, _ = claimed(client, auth, webhookUrl=receiver.url)
    assert complete(client, made["linkId"]).status_code == 200
    advance(client, 60)
    assert len(receiver.requests) == 1
    assert header(receiver.requests[0], "User-Agent") == "Passage-Webhooks/1.0"


def test_no_webhook_without_a_webhook_url_or_on_expiry(client, auth, receiver):
    made, _ = claimed(client, auth, webhookUrl=None)
    assert complete(client, made["linkId"]).status_code == 200
    create(client, auth, webhookUrl=receiver.url, expiresIn=1)
    advance(client, 2)
    assert client.get(f"{PREFIX}/v1/links", headers=auth).status_code == 200
    assert receiver.requests == []
    assert client.get("/__admin/requests?kind=webhook").json()["requests"] == []


def test_an_auto_completion_webhook_is_retried_too(client, auth, refusing):
    made, _ = claimed(client, auth, webhookUrl=refusing.url)
    advance(client, AUTO)
    assert status(client, auth, made["linkId"]) == "complete"
    deliveries(client, refusing, 1)
    advance(client, 1)
    deliveries(client, refusing, 2)
    advance(client, 5)
    deliveries(client, refusing, 3)
    advance(client, 3600)
    assert len(refusing.requests) == 3
