"""The acceptance test of issue 23: a backend written from Passage's migration guide ("After":
create a link with the API key, hand the claim code to the client), its web-react quickstart
backend route, and the skill's code patterns (createLink, getLinkResult, the webhook handler and
verifyPassageWebhook), with the docs' webhook-verification steps, ported line by line to Python
httpx. It runs against a real `python -m mockserver serve --port 0` process; the only change
from production is BASE_URL.

The guide's "After" code survives only to its first line in public copies; the rest is its
documented pieces put together (the migration table: "POST /v1/links -> claimCode + linkId")."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any, Iterator

import httpx
import jwt
import pytest

from tests.conftest import LiveServer, Receiver

from .conftest import api_key_of

PRODUCTION = "https://connect.getpassage.ai"
TOLERANCE = 300  # seconds: "check iat is recent (within your tolerance window)"


def atob(segment: str) -> bytes:
    """JavaScript's atob: standard base64 (not base64url), padding optional, strict alphabet."""
    return base64.b64decode(segment + "=" * (-len(segment) % 4), validate=True)


class Backend:
    """The customer's backend. Every method mirrors the documented JS it comes from."""

    def __init__(self, base_url: str, api_key: str, webhook_url: str) -> None:
        self.BASE_URL = base_url  # production: PRODUCTION (the one line that changes)
        self.PASSAGE_API_KEY = api_key
        self.webhook_url = webhook_url
        self.http = httpx.Client(timeout=10)
        self.handled: list[tuple[str, str, Any]] = []  # what handleSuccess/handleFailure saw
        self._keys: dict[str, str] = {}  # "Cache the public key"

    # migration guide "After" + web-react quickstart route (app.post("/api/create-link"))
    def create_link(self) -> dict[str, str]:
        # 1. Create a link (API key auth — no OAuth flow needed)
        response = self.http.post(f"{self.BASE_URL}/v1/links", headers={
            "Authorization": f"Bearer {self.PASSAGE_API_KEY}",
            "Content-Type": "application/json",
        }, content=json.dumps({
            "integrationId": "tmobile",
            "resource": "mobileBillingStatement",
            "action": "read",
            "webhookUrl": self.webhook_url,
        }))
        # skill createLink: if (!res.ok) throw new Error(`Failed to create link: ${res.status}`)
        if not response.is_success:
            raise RuntimeError(f"Failed to create link: {response.status_code}")
        link = response.json()
        # 2. Return to frontend
        return {"claimCode": link["claimCode"], "linkId": link["linkId"]}

    # skill getLinkResult
    def get_link_result(self, link_id: str) -> dict[str, Any]:
        res = self.http.get(f"{self.BASE_URL}/v1/links/{link_id}",
                            headers={"Authorization": f"Bearer {self.PASSAGE_API_KEY}"})
        return res.json()

    # docs connect/guides/webhook-verification, step by step
    def verify_passage_webhook(self, headers: dict[str, str], raw_body: bytes) -> bool:
        signature = headers["X-Passage-Signature"]
        timestamp = headers["X-Passage-Timestamp"]
        # Decode the JWT header to get kid (the docs: JSON.parse(atob(headerB64)))
        header_b64 = signature.split(".")[0]
        header = json.loads(atob(header_b64))
        kid = header["kid"]
        # Fetch the public key (public endpoint: no Authorization)
        if kid not in self._keys:
            res = self.http.post(f"{self.BASE_URL}/webhook_verification_key/get",
                                 headers={"Content-Type": "application/json"},
                                 content=json.dumps({"key_id": kid}))
            self._keys[kid] = res.json()["key"]  # PEM public key
        key = self._keys[kid]
        # Verify the ES256 signature over header.payload (PyJWT does what crypto.subtle does)
        try:
            jwt.decode(signature, key, algorithms=["ES256"],
                       options={"verify_iat": False})  # recency is checked below, as the docs do
        except jwt.InvalidSignatureError:
            return False
        # Compare request_body_sha256 with the SHA-256 hex of the raw body
        _, payload_b64, _ = signature.split(".")
        payload = json.loads(atob(payload_b64))
        if payload["request_body_sha256"] != hashlib.sha256(raw_body).hexdigest():
            raise ValueError("Body hash mismatch")
        # Check iat recency
        if abs(time.time() - payload["iat"]) > TOLERANCE or str(payload["iat"]) != timestamp:
            return False
        return True

    # skill "Webhook Handler (Express)": raw body, verify, JSON.parse, switch on event, 200
    def on_webhook(self, req: dict[str, Any]) -> int:
        headers = {k.title(): v for k, v in req["headers"].items()}
        raw_body = req["body"]
        if not self.verify_passage_webhook(headers, raw_body):
            return 401
        payload = json.loads(raw_body)
        if payload["event"] == "link.complete":
            self.handled.append(("success", payload["linkId"], payload["result"]))
        elif payload["event"] == "link.failed":
            self.handled.append(("failure", payload["linkId"], payload["error"]))
        return 200

    def close(self) -> None:
        self.http.close()


class ClientSdk:
    """What @getpassage/web-react's openAppClip({ claimCode }) does on the wire: claim the link on
    the public endpoint, with no API key, from the browser (an Origin header)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10,
                                 headers={"Origin": "https://your-app.com"})

    def open_app_clip(self, claim_code: str) -> httpx.Response:
        return self.http.post("/link/claim", json={"code": claim_code})

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    s = LiveServer()  # its own process: these tests move its clock
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def backend(server, receiver) -> Iterator[Backend]:
    key = api_key_of(server.http.get("/__admin/credentials").json()["passage"])
    b = Backend(f"{server.url}/passage", key, receiver.url)
    yield b
    b.close()


@pytest.fixture
def sdk(server) -> Iterator[ClientSdk]:
    c = ClientSdk(f"{server.url}/passage")
    yield c
    c.close()


def settings(server, seconds) -> None:
    r = server.http.post("/__admin/passage/settings", json={"autoCompleteSeconds": seconds})
    assert r.status_code == 200, r.text


def webhooks(receiver: Receiver, n: int) -> list[dict]:
    """The first n deliveries, once they have arrived (delivery runs beside the server's answer)."""
    deadline = time.monotonic() + 10
    while len(receiver.requests) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.requests) >= n, receiver.requests
    return receiver.requests[:n]


def test_the_backend_from_the_migration_guide_runs_unchanged(server, backend, sdk, receiver):
    # the frontend asks the backend for a link, and opens the App Clip with its claim code
    handed = backend.create_link()
    assert set(handed) == {"claimCode", "linkId"}
    assert handed["claimCode"].startswith("clm_")
    claimed = sdk.open_app_clip(handed["claimCode"])
    assert claimed.status_code == 200, claimed.text
    assert claimed.headers["access-control-allow-origin"] in ("*", "https://your-app.com")
    assert claimed.json()["linkId"] == handed["linkId"]
    # while the automation runs, the backend polls
    assert backend.get_link_result(handed["linkId"])["status"] == "active"
    # the sandbox's automation finishes by itself after its delay (5 s on the mock clock)
    assert server.http.post("/__admin/clock", json={"advance": 5}).status_code == 200
    [req] = webhooks(receiver, 1)
    assert backend.on_webhook(req) == 200
    assert len(backend.handled) == 1
    kind, link_id, result = backend.handled[0]
    assert (kind, link_id) == ("success", handed["linkId"])
    assert result["billing"][0]["periodStart"] == "01/15/2025"
    # and reads the link
    link = backend.get_link_result(handed["linkId"])
    assert link["status"] == "complete"
    assert link["result"] == result
    assert link["currentSessionId"] == claimed.json()["sessionId"]
    # the same claim code cannot be used again
    assert sdk.open_app_clip(handed["claimCode"]).status_code == 409


def test_a_failed_link_reaches_the_failure_handler_and_can_be_retried(server, backend, sdk,
                                                                    receiver):
    settings(server, None)  # the sandbox user drives this one
    try:
        handed = backend.create_link()
        assert sdk.open_app_clip(handed["claimCode"]).status_code == 200
        r = server.http.post(f"/__admin/passage/links/{handed['linkId']}/fail",
                             json={"code": "CONNECTION_FAILED"})
        assert r.status_code == 200, r.text
        [req] = webhooks(receiver, 1)
        assert backend.on_webhook(req) == 200
        kind, link_id, error = backend.handled[0]
        assert (kind, link_id) == ("failure", handed["linkId"])
        assert error["code"] == "CONNECTION_FAILED" and error["message"]
        assert backend.get_link_result(handed["linkId"])["status"] == "failed"
        # the user tries again with the same claim code: a fresh session, then success
        assert sdk.open_app_clip(handed["claimCode"]).status_code == 200
        r = server.http.post(f"/__admin/passage/links/{handed['linkId']}/complete", json={})
        assert r.status_code == 200, r.text
        req = webhooks(receiver, 2)[1]
        assert backend.on_webhook(req) == 200
        assert backend.handled[1][:2] == ("success", handed["linkId"])
        assert backend.get_link_result(handed["linkId"])["status"] == "complete"
    finally:
        settings(server, 5)


def test_the_backend_rejects_a_forged_webhook(server, backend, sdk, receiver):
    handed = backend.create_link()
    assert sdk.open_app_clip(handed["claimCode"]).status_code == 200
    assert server.http.post(f"/__admin/passage/links/{handed['linkId']}/complete",
                            json={}).status_code == 200
    [req] = webhooks(receiver, 1)
    forged = dict(req, body=req["body"].replace(b'"complete"', b'"failed"'))
    with pytest.raises(ValueError, match="Body hash mismatch"):
        backend.on_webhook(forged)
    assert backend.on_webhook(req) == 200


def test_the_production_host_names_the_same_api(server, backend):
    # serve on the real host (Host header), as a client pointed at it through a proxy would
    r = httpx.post(f"{server.url}/v1/links", headers={
        "Host": PRODUCTION.removeprefix("https://"),
        "Authorization": f"Bearer {backend.PASSAGE_API_KEY}"},
        json={"integrationId": "tmobile", "resource": "mobileBillingStatement", "action": "read"})
    assert r.status_code == 201, r.text
    assert backend.get_link_result(r.json()["linkId"])["status"] == "pending"


def test_the_client_sdk_sees_the_link_complete_on_its_socket(server, backend, sdk, receiver):
    """openAppClip's onConnectionComplete: the SDK watches /link/ws?code= until `complete`."""
    from websockets.exceptions import ConnectionClosedOK
    from websockets.sync.client import connect

    handed = backend.create_link()
    socket_url = f"{server.url.replace('http', 'ws', 1)}/passage/link/ws?code={handed['claimCode']}"
    with connect(socket_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["status"] == "pending"
        assert sdk.open_app_clip(handed["claimCode"]).status_code == 200
        assert json.loads(ws.recv(timeout=10))["status"] == "active"
        assert server.http.post("/__admin/clock", json={"advance": 5}).status_code == 200
        done = json.loads(ws.recv(timeout=10))
        assert done["type"] == "link.status" and done["linkId"] == handed["linkId"]
        assert done["status"] == "complete" and done["error"] is None
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=10)
    webhooks(receiver, 1)
