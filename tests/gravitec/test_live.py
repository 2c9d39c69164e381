"""Gravitec against a real uvicorn process on port 0 (real sockets, real headers). Each test
works in a tenant of its own: the live server is shared by the whole session."""
from __future__ import annotations

import base64

from ..conftest import DOC_TIME
from .conftest import documented, push_body

NOW_MS = 1705314600000  # DOC_TIME in milliseconds
HOST = "uapi.gravitec.net"
TWO_FOLLOWERS = ["someregid", "okf8kj589ktGF5g3gF"]


def curl_u(key: str, secret: str) -> dict[str, str]:
    """The headers of the doc's `curl -u "APP_KEY:APP_SECRET" -H "Content-Type: ..."`."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
            "Content-Type": "application/json"}


def tenant_headers(live) -> dict[str, str]:
    r = live.http.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    creds = r.json()["credentials"]["gravitec"]
    return curl_u(creds["appKey"], creds["appSecret"])


def frozen(live) -> None:
    assert live.http.post("/__admin/clock", json={"set": DOC_TIME}).status_code == 200


def test_live_push_then_its_stats(live):
    frozen(live)
    try:
        headers = tenant_headers(live)
        body = {**push_body(), "audience": {"tokens": TWO_FOLLOWERS}}
        r = live.request("POST", "/gravitec/api/v3/push", json=body, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        created = r.json()
        assert list(created) == list(documented("push.response"))
        assert created["send_date"] == str(NOW_MS) and created["ttl"] == 28800
        url = f"/gravitec/api/v3/messages/{created['id']}"
        r = live.request("GET", url, headers=headers)
        assert r.status_code == 200
        assert r.json() == {"status": "SENT", "send": 2, "received": 0, "clicked": 0,
                            "closed": 0}
        assert live.http.post("/__admin/clock", json={"advance": 600}).status_code == 200
        r = live.request("GET", url, headers=headers)
        assert r.json() == documented("message.response")
        # the same tenant's tag, set over the wire with a form body
        r = live.request("POST", "/gravitec/api/v3/tag", content=b"regId=someregid&name=wire",
                         headers={**headers,
                                  "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and r.content == b""
        r = live.request("GET", "/gravitec/api/v3/messages/1", headers=headers)
        assert r.status_code == 422 and r.json() == documented("no-message.response")
    finally:
        live.http.post("/__admin/clock", json={"real": True})


def test_live_the_same_calls_by_host_header(live):
    frozen(live)
    try:
        headers = tenant_headers(live)
        by_host = {**headers, "Host": HOST}
        body = {**push_body(), "audience": {"tokens": TWO_FOLLOWERS}}
        r = live.request("POST", "/api/v3/push", json=body, headers=by_host)
        assert r.status_code == 200, r.text
        campaign = r.json()["id"]
        # one server: the prefixed path reads what the Host-routed call created, and back
        prefixed = live.request("GET", f"/gravitec/api/v3/messages/{campaign}", headers=headers)
        hosted = live.request("GET", f"/api/v3/messages/{campaign}", headers=by_host)
        assert prefixed.status_code == hosted.status_code == 200
        assert prefixed.content == hosted.content
        assert hosted.json()["send"] == 2
        r = live.request("GET", "/api/v3/alias?regId=okf8kj589ktGF5g3gF", headers=by_host)
        assert r.json() == documented("alias-active.response")
        r = live.request("POST", "/api/v3/push", json=body,
                         headers={"Host": HOST, "Content-Type": "application/json"})
        assert r.status_code == 403
        assert r.json() == {"status": "incomplete by bad auth",
                            "error_message": "There is no web site with appKey: null"}
        r = live.request("GET", "/api/v3/alias?regId=", headers=by_host)
        assert r.status_code == 400
        assert r.json()["path"] == "/api/v3/alias"
        assert r.json()["message"] == "Required String parameter 'regId' is not present"
        journal = live.http.get("/__admin/requests",
                                params={"vendor": "gravitec", "path": "/api/v3/messages/*"})
        assert journal.status_code == 200
        ours = [e for e in journal.json()["requests"] if campaign in e["path"]]
        assert len(ours) == 2
        assert all(e["request"]["headers"]["authorization"] == "[redacted]" for e in ours)
    finally:
        live.http.post("/__admin/clock", json={"real": True})
