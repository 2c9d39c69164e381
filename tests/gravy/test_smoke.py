"""The documented quick path, end to end: token, documented page, intent, lifecycle."""
from .conftest import DOC_CONNECTION, example, open_connection, set_status


def test_documented_balances_page(client, auth):
    r = client.get(f"/gravy/connections/{DOC_CONNECTION}/balances?page=1&limit=20", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["data"][0] == example("balances")
    assert body["meta"] == {"page": 1, "limit": 20, "total": 150, "totalPages": 8,
                            "hasNext": True, "hasPrev": False, "itemCount": 20}
    assert body["timestamp"] == "2024-01-15T10:30:00.000Z"
    assert body["version"] == "v1"


def test_new_connection_becomes_readable(client, auth, receiver):
    created = open_connection(client, auth, webhookUrl=receiver.url)
    cid = created["connectionId"]
    r = client.get(f"/gravy/connections/{cid}/reading-history", headers=auth)
    assert r.status_code == 404
    assert set_status(client, cid, "data_available").status_code == 200
    r = client.get(f"/gravy/connections/{cid}/reading-history", headers=auth)
    assert r.status_code == 200 and r.json()["meta"]["total"] > 0
    assert [receiver.json(i)["data"]["status"] for i in range(len(receiver.requests))] == \
        ["connecting", "connected", "data_processing", "data_available"]
