"""JSON nested deeper than Python can parse, or can parse but not hold through every later step."""
from __future__ import annotations

import json

import pytest

from .harness import Req, gravy


@pytest.mark.parametrize("raw", [b"[" * 1000, b"[" * 100_000, b"[" * 5000 + b"]" * 5000,
                                 b'{"grant_type":' + b"[" * 100_000,
                                 b'{"grant_type":' + b"[" * 5000 + b"]" * 5000 + b"}"])
def test_deep_nesting_on_vendor_and_admin_json_endpoints(h, raw):
    ctype = [(b"content-type", b"application/json")]
    r = h.send(Req("POST", "/gravy/oauth/token", ctype, raw))
    assert r.status_code == 400
    for path in ("/__admin/clock", "/__admin/reset", "/__admin/gravy/connections/x/status"):
        r = h.send(Req("POST", path, ctype, raw))
        assert r.status_code == 400 and r.json() == {"error": "the body must be JSON"}
    h.journal_renders()


def test_balanced_nesting_python_could_parse_but_not_hold(h):
    """Deep enough to strain every later step (storing, signing, echoing): refused up front."""
    resources = b"[" * 900 + b"]" * 900
    raw = json.dumps({"integrationId": "audible", "userId": "u", "prompts": [], "sessionArgs": {},
                      "debug": False, "captureScreenshot": False, "resources": {"x": 1},
                      "returnUrl": "x"}).encode().replace(b'{"x": 1}', b'{"x": ' + resources + b"}")
    r = gravy(h, "POST", "/intent-token", auth="none", body=raw,
              headers={"Authorization": "Publishable pk-test-sandbox",
                       "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"] == "Request body is nested too deeply"
