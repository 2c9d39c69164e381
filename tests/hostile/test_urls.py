"""URLs a client registered (a webhook URL) that cannot be posted to, or do not even split."""
from __future__ import annotations

import json

import pytest

from .harness import Req, gravy


@pytest.mark.parametrize("hook", ["http://[::1", "http://a b/", "http://\x00/", "http://%zz/",
                                  "http://\ud800/", "ftp://x", "//x", "http:", "x" * 70_000])
def test_webhook_urls_a_client_registered_never_fail_the_admin_call(h, hook):
    """@IsUrl refuses these at the door; a URL that still reaches the store (a state import, a
    looser validator later) fails into the journal, never into the admin call that moved it."""
    body = json.dumps({"integrationId": "audible", "resources": {}, "webhookUrl": hook})
    r = gravy(h, "POST", "/intent-token", body=body.encode(),
              headers={"Content-Type": "application/json"})
    if r.status_code == 400:
        assert r.json()["message"] == ["webhookUrl must be a URL address"]
        body = json.dumps({"integrationId": "audible", "resources": {},
                           "webhookUrl": "http://127.0.0.1:9/hook"})
        r = gravy(h, "POST", "/intent-token", body=body.encode(),
                  headers={"Content-Type": "application/json"})
        conn = h.app.tenants.default.stores["gravy"].connections[r.json()["connectionId"]]
        conn.webhookUrl = hook
    assert r.status_code == 201
    r = h.send(Req("POST", f"/__admin/gravy/connections/{r.json()['connectionId']}/status",
                   [(b"content-type", b"application/json")], b'{"status": "connecting"}'))
    assert r.status_code == 200
    assert r.json()["webhooks"][0]["delivered"] is False
    h.journal_renders()
