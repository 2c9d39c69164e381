"""Numbers at their edges (NaN, ±Infinity, ±1e308, -0, integers of thousands of digits, hex) in
query parameters and bodies."""
from __future__ import annotations

import base64
import json

from .harness import Req, gravy, query_targets, small, strict_json
from .material import enc


def test_every_query_parameter_meets_the_number_edges(h):
    """Each query parameter with NaN, ±1e308, -0, huge and hex integers; and repeated."""
    for vendor, path, names, auth in query_targets(h):
        for name in names:
            for value in ("NaN", "Infinity", "1e308", "-1e308", "1e309", "-0", "9" * 30,
                          "9" * 5000, "0x10", "1.5"):
                h.send(Req("GET", f"/{vendor}{path}?{name}={enc(value)}{small(name)}", auth))
            h.send(Req("GET", f"/{vendor}{path}?{name}=1&{name}=NaN&{name}=", auth))


def test_numbers_past_a_double_read_back_as_json_stringify_writes_them(h):
    """1e400 (or an integer of 5,000 digits) is JSON.parse's Infinity: stored, it is echoed as
    null, in responses and inside the intent token's claims alike."""
    body = json.dumps({"integrationId": "audible", "userId": "u", "prompts": [], "sessionArgs": {},
                       "debug": False, "captureScreenshot": False, "returnUrl": "x",
                       "resources": {"readingHistory": {"read": {"amount": "A", "x": "B"}}}})
    # read.limit is typed; other operation arguments are free-form, so they keep what was sent.
    body = body.replace('"A"', "1e400").replace('"B"', "-1" + "0" * 5000)
    r = gravy(h, "POST", "/intent-token", auth="none", body=body.encode(),
              headers={"Authorization": "Publishable pk-test-sandbox",
                       "Content-Type": "application/json"})
    assert r.status_code == 201
    claims = r.json()["intentToken"].split(".")[1]
    claims = strict_json(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert claims["resources"] == {"readingHistory": {"read": {"amount": None, "x": None}}}
    r = gravy(h, "GET", f"/intent-token?shortCode={r.json()['shortToken']}")
    assert r.json()["resources"] == claims["resources"]
