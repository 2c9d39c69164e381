"""Text: non-ASCII, control characters, lone surrogates and invalid UTF-8 in credentials, ids and
stored values."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from mockserver import create_app

from ..conftest import MockClient
from .harness import Req, gravy
from .material import b64


@pytest.mark.parametrize("secret", ["é", "\x00", "\x01\x7f", "\ud800", "a" * 100_000])
def test_non_ascii_and_control_client_secrets(h, secret):
    ok = {"grant_type": "client_credentials", "client_id": "gravy-sandbox-client"}
    as_json = json.dumps({**ok, "client_secret": secret}).encode()
    as_form = urlencode({**ok, "client_secret": secret.encode("utf-8", "surrogatepass")}).encode()
    basic = b"Basic " + b64(b"gravy-sandbox-client:" + secret.encode("utf-8", "surrogatepass"))
    for raw, ctype, extra in [(as_json, "application/json", {}),
                              (as_form, "application/x-www-form-urlencoded", {}),
                              (b"grant_type=client_credentials",
                               "application/x-www-form-urlencoded", {"Authorization": basic})]:
        r = gravy(h, "POST", "/oauth/token", auth="none", body=raw,
                  headers={"Content-Type": ctype, **extra})
        assert r.status_code == 401 and r.json()["message"] == "Invalid client credentials"
    h.journal_renders()


def test_invalid_utf8_credentials_in_every_scheme(h):
    for header in [(b"authorization", b"Basic " + b64(b"gravy-sandbox-client:\xff\xfe")),
                   (b"authorization", b"Bearer \xff\xfe\x00"),
                   (b"authorization", b"Publishable \xc3\xa9"),
                   (b"x-intent-token", b"\xff.\xfe.\x00")]:
        r = h.send(Req("GET", "/gravy/connections/conn_789xyz123abc", [header]))
        assert r.status_code == 401


def test_lone_surrogates_never_reach_the_journal_or_the_state_as_a_500(h):
    """A JSON `\\ud800` is a string JSON.parse accepts; storing and echoing it must not fail."""
    pk = [(b"authorization", b"Publishable pk-test-sandbox"),
          (b"content-type", b"application/json")]
    body = json.dumps({"integrationId": "audible", "userId": "\ud800", "prompts": [],
                       "sessionArgs": {"\udfff": "\ud800"}, "debug": False,
                       "captureScreenshot": False, "resources": {}, "returnUrl": "\ud800"})
    r = h.send(Req("POST", "/gravy/intent-token", pk, body.encode()))
    assert r.status_code == 201
    cid = r.json()["connectionId"]
    r = gravy(h, "GET", f"/connections/{cid}")
    assert r.status_code == 200 and r.json()["userId"] == "\ud800"
    assert gravy(h, "GET", "/connections").status_code == 200
    r = h.send(Req("POST", "/gravy/oauth/token", [(b"content-type", b"application/json")],
                   b'{"\\ud800": 1}'))
    assert r.status_code == 400
    r = h.send(Req("POST", "/__admin/reset", [(b"content-type", b"application/json")],
                   b'{"tenant": "\\ud800"}'))
    assert r.status_code == 404
    h.journal_renders()


def test_admin_token_guard_survives_hostile_tokens():
    c = MockClient(create_app(admin_token="s3cret"))
    try:
        for headers, url in [({"X-Admin-Token": b"\xff\xfe"}, "/__admin/health"),
                             ({}, "/__admin/health?token=%ff%fe"),
                             ({}, "/__admin/health?token=%zz&token=s3cret"),
                             ({"X-Admin-Token": "é".encode()}, "/__admin/")]:
            r = c.get(url, headers=headers)
            assert r.status_code == 401 and r.json() == {"error": "X-Admin-Token required"}
        r = c.request("GET", "/__admin/health", headers=[(b"x-admin-token", b"s3cret")],
                      check=False)
        assert r.status_code == 200
    finally:
        c.close()
