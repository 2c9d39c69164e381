"""The same Gravy flows against a real uvicorn process on port 0 (real sockets, real headers)."""
import base64

from ..conftest import DOC_TIME
from .conftest import DOC_CONNECTION, SANDBOX, example, intent_body


def _token(live, **kw) -> str:
    r = live.request("POST", "/gravy/oauth/token", **kw)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_live_token_variants_and_documented_page(live):
    live.http.post("/__admin/clock", json={"set": DOC_TIME})
    form = _token(live, data={"grant_type": "client_credentials", **SANDBOX})
    basic = base64.b64encode(f"{SANDBOX['client_id']}:{SANDBOX['client_secret']}".encode()).decode()
    via_basic = _token(live, data={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {basic}"})
    for token in (form, via_basic):
        r = live.request("GET", f"/gravy/connections/{DOC_CONNECTION}/balances?page=1&limit=20",
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        assert r.json()["data"][0] == example("balances")
        assert r.json()["timestamp"] == "2024-01-15T10:30:00.000Z"


def test_live_host_routing_and_errors(live):
    token = _token(live, json={"grant_type": "client_credentials", **SANDBOX})
    r = live.request("GET", "/integrations/audible", headers={"Host": "api.runpassage.ai"})
    assert r.status_code == 200 and r.json()["slug"] == "audible"
    r = live.request("GET", "/gravy/connections?limit=101",
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and r.json()["message"] == ["limit must not be greater than 100"]
    r = live.request("GET", "/gravy/connections")
    assert r.status_code == 401 and r.json() == {"statusCode": 401, "message": "Unauthorized"}


def test_live_intent_lifecycle_and_intent_token_read(live):
    token = _token(live, json={"grant_type": "client_credentials", **SANDBOX})
    r = live.request("POST", "/gravy/intent-token", json=intent_body(),
                     headers={"Authorization": "Publishable pk-test-sandbox"})
    assert r.status_code == 201, r.text
    created = r.json()
    cid = created["connectionId"]
    moved = live.http.post(f"/__admin/gravy/connections/{cid}/status",
                           json={"status": "data_available"})
    assert moved.json()["transitions"][-1] == "data_available"
    r = live.request("GET", f"/gravy/connections/{cid}/readingHistory",
                     headers={"x-intent-token": created["intentToken"]})
    assert r.status_code == 200 and r.json()["meta"]["total"] > 0
    r = live.request("GET", f"/gravy/connections/{cid}", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["status"] == "data_available"
    journal = live.http.get("/__admin/requests", params={"path": f"/connections/{cid}*"}).json()
    assert [e["status"] for e in journal["requests"]] == [200, 200]
    assert journal["requests"][0]["request"]["headers"]["authorization"] == "[redacted]"
    assert token not in str(journal)
