"""The resource list recalls a page it served to the same bearer token (handlers.Listed): a
recalled answer must be exactly what working it out again would give, never a stale one."""
from __future__ import annotations

from mockserver import Clock, create_app
from tests.conftest import DOC_TIME, MockClient

from .conftest import DOC_CONNECTION, open_connection, set_status, token_for

UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized"}
PAGE = f"/gravy/connections/{DOC_CONNECTION}/balances?type=points&sortBy=createdAt&limit=5"


def listed(client) -> dict:
    return client.app.vendors["gravy"].service.listed


def twice(client, headers: dict[str, str], url: str = PAGE):
    """The page read twice (the second is recalled); both answers, which must be equal."""
    first = client.get(url, headers=headers)
    second = client.get(url, headers=headers)
    assert first.status_code == second.status_code == 200, first.text
    assert second.content == first.content
    return second


def test_a_repeated_read_is_recalled_with_its_tenant_in_the_journal(client):
    tenant = client.post("/__admin/tenants").json()
    creds = tenant["credentials"]["gravy"]
    token = token_for(client, creds["clientId"], creds["clientSecret"])
    twice(client, {"Authorization": f"Bearer {token}"})
    assert any(key[0] == token for key in listed(client))
    assert client.app.journal.last.tenant == tenant["id"]


def test_an_expired_token_is_refused_though_its_page_was_recalled(client, auth):
    twice(client, auth)
    client.app.clock.advance(3601)
    r = client.get(PAGE, headers=auth)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_a_recalled_page_carries_the_moved_clock(client, auth):
    before = twice(client, auth).json()["timestamp"]
    client.app.clock.advance(1.5)
    after = client.get(PAGE, headers=auth).json()
    assert (before, after["timestamp"]) == ("2024-01-15T10:30:00.000Z", "2024-01-15T10:30:01.500Z")


def test_a_reset_refuses_the_old_token(client, auth):
    twice(client, auth)
    assert client.post("/__admin/reset", json={"tenant": "default"}).status_code == 200
    r = client.get(PAGE, headers=auth)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_a_deleted_tenant_is_refused(client):
    tenant = client.post("/__admin/tenants").json()
    creds = tenant["credentials"]["gravy"]
    auth = {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}
    twice(client, auth)
    assert client.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204
    r = client.get(PAGE, headers=auth)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_a_refresh_takes_the_data_away_again(client, auth):
    cid = open_connection(client, auth)["connectionId"]
    url = f"/gravy/connections/{cid}/balances"
    assert set_status(client, cid, "data_available").status_code == 200
    twice(client, auth, url)
    assert set_status(client, cid, "data_processing").status_code == 200
    r = client.get(url, headers=auth)
    assert r.status_code == 404
    assert r.json()["message"] == f"No balances data available for connection {cid}"


def test_new_data_after_a_refresh_is_served_not_the_recalled_page(client, auth):
    cid = open_connection(client, auth)["connectionId"]
    url = f"/gravy/connections/{cid}/balances"
    assert set_status(client, cid, "data_available").status_code == 200
    old = twice(client, auth, url).json()
    client.app.clock.advance(60)
    assert set_status(client, cid, "data_processing").status_code == 200
    assert set_status(client, cid, "data_available").status_code == 200
    new = client.get(url, headers=auth).json()
    assert new["data"] != old["data"]  # generated again for the new refresh
    assert all(item["connectionId"] == cid for item in new["data"])


def test_an_imported_state_is_read_not_the_recalled_page(client, auth):
    twice(client, auth)
    snapshot = client.get("/__admin/state").json()  # the token is part of it
    gravy = snapshot["vendors"]["gravy"]
    gravy["connections"] = [c for c in gravy["connections"] if c["id"] != DOC_CONNECTION]
    assert client.put("/__admin/state", json=snapshot).status_code == 200
    r = client.get(PAGE, headers=auth)
    assert (r.status_code, r.json()["message"]) == (404, "Connection not found")


def test_a_token_evicted_by_the_session_limit_is_refused():
    client = MockClient(create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=1))
    tenant = client.post("/__admin/tenants").json()["credentials"]["gravy"]
    first = {"Authorization": f"Bearer {token_for(client, tenant['clientId'], tenant['clientSecret'])}"}
    twice(client, first)
    token_for(client, tenant["clientId"], tenant["clientSecret"])  # the second evicts the first
    r = client.get(PAGE, headers=first)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    client.close()


def test_an_intent_token_read_is_not_kept(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    assert set_status(client, cid, "data_available").status_code == 200
    # a bearer token that is no longer valid beside it: the intent token is what reads
    x = {"x-intent-token": created["intentToken"], "Authorization": "Bearer expired"}
    twice(client, x, f"/gravy/connections/{cid}/balances")
    assert listed(client) == {}


def test_each_query_is_its_own_answer(client, auth):
    a = client.get(PAGE, headers=auth).json()
    b = client.get(PAGE + "&page=2", headers=auth).json()
    assert a["meta"]["page"] == 1 and b["meta"]["page"] == 2
    assert client.get(PAGE, headers=auth).json() == a
    assert client.get(PAGE + "&page=2", headers=auth).json() == b


def test_the_memo_is_bounded(client, auth):
    listed(client).size = 8
    sizes = []
    for page in range(1, 30):
        assert client.get(PAGE + f"&page={page}", headers=auth).status_code == 200
        sizes.append(len(listed(client)))
    assert max(sizes) == 8


def test_a_long_query_is_never_kept(client, auth):
    r = client.get(PAGE + "&search=" + "x" * 3000, headers=auth)
    assert (r.status_code, r.json()["meta"]["total"]) == (200, 0)
    assert listed(client) == {}
