"""Passage Connect (Links API) fixtures: the sandbox API key, link creation, the admin calls that
drive a link's outcome. Bodies are the documented examples (the public docs and the
tailriskai/passage-skills skill, as gathered for issue 23)."""
from __future__ import annotations

import copy
import time
from typing import Any

import pytest

PREFIX = "/passage"
HOSTS = ("connect.getpassage.ai", "connect.dev.getpassage.ai", "connect.services.getpassage.ai")
DEFAULT_TTL = 14400  # seconds: "default: 14400 = 4 hours"
DOC_MS = 1705314600000  # tests/conftest.DOC_TIME (2024-01-15T10:30:00Z) in epoch ms
ERROR_CODES = ["AUTOMATION_ERROR", "CLIENT_TIMEOUT", "CONNECTION_FAILED", "UNKNOWN_PROVIDER",
               "RESULT_VALIDATION_ERROR", "INTERNAL_ERROR"]

# -- the documented request bodies, verbatim ----------------------------------------------------
SKILL_SINGLE = {
    "integrationId": "tmobile",
    "resource": "paymentMethod",
    "action": "read",
    "externalUserId": "user_123",
    "webhookUrl": "https://your-api.com/webhooks/passage",
    "debug": False,
    "expiresIn": 3600,
}
SKILL_MULTI = {
    "integrationId": "tmobile",
    "operations": [
        {"resource": "paymentMethod", "action": "read"},
        {"resource": "mobileBillingStatement", "action": "read", "arguments": {"limit": 3}},
    ],
    "externalUserId": "user_123",
    "webhookUrl": "https://your-api.com/webhooks/passage",
}
B_EXAMPLE = {
    "integrationId": "tmobile",
    "operations": [
        {"resource": "paymentMethod", "action": "read"},
        {
            "resource": "paymentMethod",
            "action": "write",
            "arguments": {
                "cardNumber": "4111111111111111",
                "expirationDate": "12/28",
                "cvv": "123",
                "nameOnCard": "John Doe",
                "billingZip": "10001",
            },
        },
    ],
    "webhookUrl": "https://your-server.com/webhook",
    "returnUrl": "https://your-app.com/done",
}
B_QUICKSTART = {
    "integrationId": "tmobile",
    "operations": [
        {"resource": "mobileBillingStatement", "action": "read"},
    ],
    "webhookUrl": "https://your-server.com/webhook",
}
A_QUICKSTART = {
    "integrationId": "tmobile",
    "resource": "mobileBillingStatement",
    "action": "read",
    "webhookUrl": "https://your-server.com/webhook",
}
# The documented billing statement (quickstart webhook and get-link examples).
DOC_BILLING = {"periodStart": "01/15/2025", "periodEnd": "02/14/2025", "amountDue": 85.0,
               "currency": "USD"}

# Every key of the documented responses (the union of the skill's and the docs' revisions).
CREATE_KEYS = {"linkId", "claimCode", "integrationId", "operations", "resource", "action",
               "status", "appClipUrl", "expiresAt", "createdAt"}
GET_KEYS = {"id", "integrationId", "operations", "resource", "action", "externalUserId",
            "status", "currentSessionId", "result", "error", "expiresAt", "createdAt",
            "updatedAt"}
LIST_ITEM_KEYS = {"id", "integrationId", "operations", "resource", "action", "externalUserId",
                  "status", "currentSessionId", "expiresAt", "createdAt", "updatedAt"}
CLAIM_KEYS = {"linkId", "sessionId", "clientToken", "websocketUrl", "expiresAt"}
WEBHOOK_KEYS = {"event", "linkId", "status", "result", "error", "timestamp"}


def api_key_of(credentials: dict[str, str]) -> str:
    """The tenant's `psg_` API key, whatever the credential field is called."""
    keys = [v for v in credentials.values() if isinstance(v, str) and v.startswith("psg_")]
    assert len(keys) == 1, credentials
    return keys[0]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api_key(client) -> str:
    return api_key_of(client.get("/__admin/credentials").json()["passage"])


@pytest.fixture
def auth(api_key) -> dict[str, str]:
    return bearer(api_key)


def body(base: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A documented body with overrides (None removes a key)."""
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def create(client, auth: dict[str, str], base: dict[str, Any] = A_QUICKSTART,
           **overrides: Any) -> dict[str, Any]:
    r = client.post(f"{PREFIX}/v1/links", json=body(base, **overrides), headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def get(client, auth: dict[str, str], link_id: str) -> dict[str, Any]:
    r = client.get(f"{PREFIX}/v1/links/{link_id}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def claim(client, code: str):
    return client.post(f"{PREFIX}/link/claim", json={"code": code})


def advance(client, seconds: float) -> None:
    r = client.post("/__admin/clock", json={"advance": seconds})
    assert r.status_code == 200, r.text


def complete(client, link_id: str, **extra: Any):
    """The sandbox user's control: finish an active link successfully."""
    return client.post(f"/__admin/passage/links/{link_id}/complete", json=extra)


def fail(client, link_id: str, code: str = "AUTOMATION_ERROR", **extra: Any):
    """The sandbox user's control: fail an active link with a chosen error code."""
    return client.post(f"/__admin/passage/links/{link_id}/fail", json={"code": code, **extra})


def header(req: dict, name: str) -> str:
    return next(v for k, v in req["headers"].items() if k.lower() == name.lower())


def deliveries(client, receiver, n: int) -> list[dict]:
    """The first n requests the receiver got, once they are there: a delivery the package starts
    in the background (an auto-completion) runs on the in-process app's loop, which turns only
    while a request is served, so this keeps asking the app something until they arrive."""
    deadline = time.monotonic() + 10
    while len(receiver.requests) < n and time.monotonic() < deadline:
        client.get("/__admin/health")
        time.sleep(0.01)
    assert len(receiver.requests) >= n, receiver.requests
    return receiver.requests[:n]
