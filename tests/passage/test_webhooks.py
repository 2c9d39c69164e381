"""link.complete / link.failed webhooks, end to end: a receiver verifies each one exactly as the
docs' webhook-verification guide does (its JavaScript ported to Python: `atob` for the JWT's
header and payload, the key fetched from the public key endpoint, an ES256 check with PyJWT, the
body's SHA-256 compared), and the documented retry schedule (0 ms, 1 s, 5 s; 3 attempts, then
dropped) is observed on the mock clock."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

import jwt
import pytest

from ..conftest import DOC_TIME
from .conftest import A_QUICKSTART, PREFIX, WEBHOOK_KEYS, advance, claim, complete, create, \
    fail, get, header

DOC_EPOCH = 1705314600  # DOC_TIME in Unix seconds


def atob(segment: str) -> bytes:
    """The browser's atob: the standard alphabet only (`-` and `_` are refused), padding
    optional."""
    try:
        return base64.b64decode(segment + "=" * (-len(segment) % 4), validate=True)
    except binascii.Error as exc:
        raise AssertionError(f"atob refuses {segment!r}: {exc}") from None


def verify(client, request: dict[str, Any]) -> dict[str, Any]:
    """The guide's steps, in its order, on one received webhook; the JWT payload."""
    signature = header(request, "X-Passage-Signature")
    timestamp = header(request, "X-Passage-Timestamp")
    # const [headerB64] = signature.split("."); const header = JSON.parse(atob(headerB64));
    header_b64, payload_b64, sig_b64 = signature.split(".")
    jwt_header = json.loads(atob(header_b64))
    kid = jwt_header["kid"]
    # fetch(".../webhook_verification_key/get", {method: "POST", body: {key_id: kid}}): no key
    res = client.post(f"{PREFIX}/webhook_verification_key/get", json={"key_id": kid},
                      headers={"Content-Type": "application/json"})
    assert res.status_code == 200, res.text
    key = res.json()["key"]  # const { key } = await res.json(); // PEM public key
    assert key.startswith("-----BEGIN PUBLIC KEY-----")
    # crypto.subtle.verify({name: "ECDSA", hash: "SHA-256"}, ...) over header.payload: WebCrypto
    # takes the raw 64-byte r||s that JWS ES256 carries.
    assert len(base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))) == 64
    verified = jwt.decode(signature, key, algorithms=["ES256"])
    # const payload = JSON.parse(atob(payloadB64)); compared with sha256Hex(requestBody)
    payload = json.loads(atob(payload_b64))
    assert payload == verified
    assert payload["request_body_sha256"] == hashlib.sha256(request["body"]).hexdigest()
    assert (jwt_header["alg"], jwt_header["typ"]) == ("ES256", "JWT")
    assert int(timestamp) == payload["iat"]
    return payload


def active_link(client, auth, url: str) -> str:
    link = create(client, auth, A_QUICKSTART, webhookUrl=url)
    r = claim(client, link["claimCode"])
    assert r.status_code == 200, r.text
    return link["linkId"]


# -- the signature -----------------------------------------------------------------------------
def test_link_complete_verifies_as_the_docs_verify_it(client, auth, receiver):
    link_id = active_link(client, auth, receiver.url)
    r = complete(client, link_id)
    assert r.status_code == 200, r.text
    assert [(w["delivered"], w["responseStatus"]) for w in r.json()["webhooks"]] == [(True, 200)]
    (request,) = receiver.requests
    payload = verify(client, request)
    assert payload["iat"] == DOC_EPOCH  # signed at the mock clock's now
    event = json.loads(request["body"])
    assert set(event) == WEBHOOK_KEYS
    assert (event["event"], event["linkId"], event["status"], event["error"]) == \
        ("link.complete", link_id, "complete", None)
    assert event["result"] == get(client, auth, link_id)["result"]
    assert header(request, "Content-Type").startswith("application/json")


def test_link_failed_verifies_as_the_docs_verify_it(client, auth, receiver):
    link_id = active_link(client, auth, receiver.url)
    r = fail(client, link_id, "CLIENT_TIMEOUT")
    assert r.status_code == 200, r.text
    (request,) = receiver.requests
    verify(client, request)
    event = json.loads(request["body"])
    assert (event["event"], event["status"], event["result"]) == ("link.failed", "failed", None)
    assert event["error"]["code"] == "CLIENT_TIMEOUT"


def test_a_webhook_signed_later_carries_the_later_iat(client, auth, receiver):
    off = client.post("/__admin/passage/settings", json={"autoCompleteSeconds": None})
    assert off.status_code == 200  # the link waits for the sandbox user, however long
    link_id = active_link(client, auth, receiver.url)
    advance(client, 90)
    assert complete(client, link_id).status_code == 200
    assert verify(client, receiver.requests[0])["iat"] == DOC_EPOCH + 90


def test_the_signature_s_iat_is_the_timestamp_header_even_as_a_second_ends(app, client, auth,
                                                                           receiver):
    """A receiver checks that X-Passage-Timestamp is the JWT's iat: both are one reading of the
    clock, even when the clock ticks into the next second between the two."""
    off = client.post("/__admin/passage/settings", json={"autoCompleteSeconds": None})
    assert off.status_code == 200
    link_id = active_link(client, auth, receiver.url)
    clock = app.clock
    readings = iter(DOC_EPOCH + 0.9 + n for n in range(1000))
    clock.time = lambda: next(readings)  # each reading in the next second
    try:
        assert complete(client, link_id).status_code == 200
    finally:
        del clock.time
    req = receiver.requests[0]
    assert verify(client, req)["iat"] == int(header(req, "X-Passage-Timestamp"))


def test_a_changed_body_no_longer_matches_its_signature(client, auth, receiver):
    """What the guide's hash check is for: the signature covers these exact bytes."""
    link_id = active_link(client, auth, receiver.url)
    assert complete(client, link_id).status_code == 200
    request = dict(receiver.requests[0])
    request["body"] = request["body"].replace(b'"complete"', b'"failed"', 1)
    with pytest.raises(AssertionError):
        verify(client, request)


def test_the_key_endpoint_refuses_an_unknown_key_id(client):
    r = client.post(f"{PREFIX}/webhook_verification_key/get", json={"key_id": "key_unknown"})
    assert r.status_code == 404 and set(r.json()) == {"error"}


# -- the retry schedule ------------------------------------------------------------------------
def webhook_entries(client) -> list[dict]:
    r = client.get("/__admin/requests", params={"kind": "webhook", "vendor": "passage"})
    assert r.status_code == 200
    return sorted(r.json()["requests"], key=lambda e: e["id"])


def test_a_receiver_failing_twice_gets_the_third_attempt_6_seconds_on(client, auth, flaky):
    """Attempts at once, 1 s after the first and 5 s after the second, by the mock clock; every
    attempt the same signed bytes, each verifying; each in the journal."""
    link_id = active_link(client, auth, flaky.url)
    r = complete(client, link_id)
    assert [(w["delivered"], w["responseStatus"]) for w in r.json()["webhooks"]] == \
        [(False, 503)]
    counts = [len(flaky.requests)]
    for seconds in (0.999, 0.001, 4.999, 0.001, 60):
        advance(client, seconds)
        counts.append(len(flaky.requests))
    assert counts == [1, 1, 2, 2, 3, 3]
    assert len({r["body"] for r in flaky.requests}) == 1
    assert len({header(r, "X-Passage-Signature") for r in flaky.requests}) == 1
    for request in flaky.requests:
        verify(client, request)
    entries = webhook_entries(client)
    assert [e["status"] for e in entries] == [503, 500, 200]
    assert [e["time"] for e in entries] == [DOC_TIME, "2024-01-15T10:30:01.000Z",
                                            "2024-01-15T10:30:06.000Z"]
    assert get(client, auth, link_id)["status"] == "complete"


def test_a_receiver_that_is_down_gets_three_attempts_then_nothing(client, auth, down):
    """"If all fail, the webhook is dropped but the link status is already persisted"."""
    link_id = active_link(client, auth, down.url)
    assert fail(client, link_id, "AUTOMATION_ERROR").status_code == 200
    for seconds in (1, 5, 3600):
        advance(client, seconds)
    assert len(down.requests) == 3
    assert [e["status"] for e in webhook_entries(client)] == [503, 503, 503]
    assert get(client, auth, link_id)["status"] == "failed"


def test_a_frozen_clock_sends_no_retry_however_long_it_waits(client, auth, down):
    link_id = active_link(client, auth, down.url)
    assert complete(client, link_id).status_code == 200
    for _ in range(5):  # the app's loop turns, real time passes, the mock clock stands
        assert client.get("/__admin/health").status_code == 200
    assert len(down.requests) == 1
    advance(client, 1)
    assert len(down.requests) == 2


def test_a_reset_drops_the_pending_retries(client, auth, down):
    link_id = active_link(client, auth, down.url)
    assert complete(client, link_id).status_code == 200
    assert client.post("/__admin/reset", json={}).status_code == 200
    advance(client, 10)
    assert len(down.requests) == 1
