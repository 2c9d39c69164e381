"""GET /connections and GET /connections/{id}: paging, filters, sorting, errors, x-intent-token."""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from .conftest import DOC_CONNECTION, open_connection, set_status

DOC_META = {"page": 1, "limit": 20, "total": 150, "totalPages": 8, "hasNext": True,
            "hasPrev": False, "itemCount": 20}
CONNECTION_KEYS = {"id", "integrationId", "status", "failureReason", "errorMessage",
                   "errorDetails", "connectionMetadata", "resources", "userId", "createdAt",
                   "updatedAt"}
RESOURCE_KEYS = {"type", "url", "status", "operation", "errorMessage", "failureReason",
                 "startedAt", "completedAt"}
STATUSES = {"pending", "connecting", "connected", "canceled", "rejected", "failed",
            "data_processing", "data_available", "data_partially_available", "inactive"}
UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized"}


def instant(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def validation(*errors: tuple[str, dict[str, str]]) -> dict:
    return {"statusCode": 400,
            "message": [m for _, c in errors for m in c.values()],
            "error": "Bad Request", "errorCode": "VALIDATION_001",
            "details": [{"property": p, "constraints": {**c, "message": ", ".join(c.values())}}
                        for p, c in errors]}


def every(client, auth, **params: Any) -> list[dict]:
    """All connections for a query, walking the pages at limit=100."""
    out: list[dict] = []
    page = 1
    while True:
        r = client.get("/gravy/connections", params={**params, "limit": 100, "page": page},
                       headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["data"])
        if not body["meta"]["hasNext"]:
            assert body["meta"]["total"] == len(out)
            return out
        page += 1


@pytest.fixture
def full(client, auth) -> list[dict]:
    return every(client, auth)


# -- the default page ------------------------------------------------------------------------
def test_default_page_looks_like_the_documented_one(client, auth):
    r = client.get("/gravy/connections", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"data", "meta", "timestamp", "version"}
    assert body["meta"] == DOC_META
    assert body["timestamp"] == "2024-01-15T10:30:00.000Z"
    assert body["version"] == "v1"
    assert len(body["data"]) == 20
    for conn in body["data"]:
        assert set(conn) == CONNECTION_KEYS
        assert conn["status"] in STATUSES
        for res in conn["resources"]:
            assert set(res) == RESOURCE_KEYS
            assert res["operation"] in ("read", "write")


def test_explicit_defaults_equal_implicit_ones(client, auth):
    implicit = client.get("/gravy/connections", headers=auth).json()
    explicit = client.get("/gravy/connections?page=1&limit=20&sortBy=createdAt&sortOrder=desc",
                          headers=auth).json()
    assert explicit == implicit


def test_default_order_is_created_at_desc(client, auth, full):
    assert len(full) == 150
    assert len({c["id"] for c in full}) == 150
    created = [instant(c["createdAt"]) for c in full]
    assert created == sorted(created, reverse=True)
    first = client.get("/gravy/connections", headers=auth).json()["data"]
    assert first == full[:20]


def test_documented_connection_is_listed(full):
    doc = next(c for c in full if c["id"] == DOC_CONNECTION)
    assert doc["status"] == "data_available"
    assert doc["userId"] == "user_1234567890"
    assert [r["type"] for r in doc["resources"]] == [
        "accountInfo", "balances", "history", "loyalty", "paymentMethods", "readingHistory",
        "trips"]


def test_last_page_and_past_the_end(client, auth, full):
    r = client.get("/gravy/connections?page=8", headers=auth).json()
    assert r["meta"] == {"page": 8, "limit": 20, "total": 150, "totalPages": 8,
                         "hasNext": False, "hasPrev": True, "itemCount": 10}
    assert r["data"] == full[140:]
    r = client.get("/gravy/connections?page=9", headers=auth).json()
    assert r["data"] == []
    assert r["meta"] == {"page": 9, "limit": 20, "total": 150, "totalPages": 8,
                         "hasNext": False, "hasPrev": True, "itemCount": 0}


def test_pages_tile_the_list(client, auth, full):
    seen = []
    for page in range(1, 12):
        body = client.get(f"/gravy/connections?limit=14&page={page}", headers=auth).json()
        assert body["meta"]["totalPages"] == 11
        seen.extend(body["data"])
    assert seen == full


# -- filters ---------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["status", "integrationId", "userId"])
def test_filter_selects_exactly_the_matching(client, auth, full, field):
    counts = Counter(c[field] for c in full)
    assert len(counts) > 1
    # the most common value, the rarest, and one that appears once if any
    values = {counts.most_common()[0][0], counts.most_common()[-1][0]}
    for value in values:
        got = every(client, auth, **{field: value})
        assert got == [c for c in full if c[field] == value]
        r = client.get("/gravy/connections", params={field: value}, headers=auth).json()
        assert r["meta"]["total"] == counts[value]
        assert r["meta"]["totalPages"] == -(-counts[value] // 20)


def test_every_status_filter(client, auth, full):
    for status in sorted(STATUSES):
        got = every(client, auth, status=status)
        assert got == [c for c in full if c["status"] == status]
    assert sum(len(every(client, auth, status=s)) for s in STATUSES) == 150


def test_filters_combine(client, auth, full):
    user = Counter(c["userId"] for c in full).most_common(1)[0][0]
    integration = next(c["integrationId"] for c in full if c["userId"] == user)
    got = every(client, auth, userId=user, integrationId=integration)
    want = [c for c in full if c["userId"] == user and c["integrationId"] == integration]
    assert want and got == want


def test_filter_without_match(client, auth):
    r = client.get("/gravy/connections?status=nope", headers=auth)
    assert r.status_code == 200
    assert r.json()["data"] == []
    assert r.json()["meta"] == {"page": 1, "limit": 20, "total": 0, "totalPages": 0,
                                "hasNext": False, "hasPrev": False, "itemCount": 0}


def test_documented_filter_example(client, auth, full):
    """The doc's examples: status=connected, integrationId=spotify, userId=1234567890."""
    assert every(client, auth, status="connected") == [c for c in full
                                                        if c["status"] == "connected"]
    assert every(client, auth, integrationId="spotify") == [
        c for c in full if c["integrationId"] == "spotify"]
    assert every(client, auth, userId="user_1234567890") == [
        c for c in full if c["userId"] == "user_1234567890"]


@pytest.mark.parametrize("params", [{"status": "connected"}, {"integrationId": "spotify"},
                                    {"userId": "1234567890"},
                                    {"status": "connected", "integrationId": "spotify",
                                     "userId": "1234567890"}],
                         ids=["status", "integrationId", "userId", "all-three"])
def test_doc_query_examples_find_connections(client, auth, params):
    """Each of the doc's query examples, and all three at once, finds the fixture made for them."""
    found = every(client, auth, **params)
    assert "conn_456def789ghi" in [c["id"] for c in found]
    assert all(c[k] == v for c in found for k, v in params.items())


def test_both_spellings_of_the_documented_user_find_connections(client, auth):
    """The doc's example item has `user_1234567890`, its query example `1234567890`."""
    assert {c["id"] for c in every(client, auth, userId="user_1234567890")} == {
        DOC_CONNECTION, "conn_abc123xyz789"}
    assert [c["id"] for c in every(client, auth, userId="1234567890")] == ["conn_456def789ghi"]


# -- sorting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sort_by", ["createdAt", "updatedAt"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_order_holds(client, auth, full, sort_by, order):
    got = every(client, auth, sortBy=sort_by, sortOrder=order)
    assert sorted(c["id"] for c in got) == sorted(c["id"] for c in full)
    keys = [instant(c[sort_by]) for c in got]
    assert keys == sorted(keys, reverse=(order == "desc"))


def test_sort_asc_is_reverse_of_desc(client, auth):
    asc = every(client, auth, sortBy="updatedAt", sortOrder="asc")
    desc = every(client, auth, sortBy="updatedAt", sortOrder="desc")
    assert [c["id"] for c in asc] == [c["id"] for c in reversed(desc)]


def test_sort_then_filter(client, auth):
    got = every(client, auth, sortBy="updatedAt", sortOrder="asc", status="data_available")
    assert got and all(c["status"] == "data_available" for c in got)
    keys = [instant(c["updatedAt"]) for c in got]
    assert keys == sorted(keys)


# -- query validation ------------------------------------------------------------------------
def test_limit_over_100(client, auth):
    r = client.get("/gravy/connections?limit=101", headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(("limit", {"max": "limit must not be greater than 100"}))


def test_limit_100_is_fine(client, auth):
    r = client.get("/gravy/connections?limit=100", headers=auth)
    assert r.status_code == 200
    assert r.json()["meta"]["itemCount"] == 100


def test_sort_by_title_is_not_allowed_on_connections(client, auth):
    r = client.get("/gravy/connections?sortBy=title", headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(("sortBy", {
        "isEnum": "sortBy must be one of the following values: createdAt, updatedAt"}))


def test_bad_sort_order(client, auth):
    r = client.get("/gravy/connections?sortOrder=up", headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(("sortOrder", {
        "isEnum": "sortOrder must be one of the following values: asc, desc"}))


def test_bad_page_and_limit(client, auth):
    r = client.get("/gravy/connections?page=0&limit=abc", headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("page", {"min": "page must not be less than 1"}),
        ("limit", {"max": "limit must not be greater than 100",
                   "min": "limit must not be less than 1",
                   "isInt": "limit must be an integer number"}))


def test_unknown_query_parameter(client, auth):
    r = client.get("/gravy/connections?foo=1", headers=auth)
    assert r.status_code == 400
    assert r.json() == validation(
        ("foo", {"whitelistValidation": "property foo should not exist"}))


def test_list_needs_a_bearer(client):
    r = client.get("/gravy/connections")
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


# -- one connection --------------------------------------------------------------------------
def test_get_one_is_the_bare_list_item(client, auth, full):
    for item in (full[0], full[75], full[-1],
                 next(c for c in full if c["id"] == DOC_CONNECTION)):
        r = client.get(f"/gravy/connections/{item['id']}", headers=auth)
        assert r.status_code == 200
        assert r.json() == item


def test_documented_empty_objects_are_objects(client, auth, full):
    """The doc shows `"errorDetails": { }` and `"connectionMetadata": { }`: `{}`, never null."""
    assert all(c["errorDetails"] == {} and c["connectionMetadata"] == {} for c in full)
    cid = open_connection(client, auth)["connectionId"]
    for status in ("failed", "connecting", "data_available"):  # failure, retry, data
        assert set_status(client, cid, status).status_code == 200
        conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
        assert (conn["errorDetails"], conn["connectionMetadata"]) == ({}, {}), status


def test_get_one_trailing_slash(client, auth):
    r = client.get(f"/gravy/connections/{DOC_CONNECTION}/", headers=auth)
    assert r.status_code == 200
    assert r.json()["id"] == DOC_CONNECTION


def test_unknown_connection_is_404(client, auth):
    r = client.get("/gravy/connections/conn_doesnotexist", headers=auth)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Connection not found",
                        "error": "Not Found"}


def test_get_one_needs_auth(client):
    r = client.get(f"/gravy/connections/{DOC_CONNECTION}")
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


# -- x-intent-token --------------------------------------------------------------------------
def test_intent_token_reads_its_own_connection_only(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    x = {"x-intent-token": created["intentToken"]}
    r = client.get(f"/gravy/connections/{cid}", headers=x)
    assert r.status_code == 200
    assert r.json() == client.get(f"/gravy/connections/{cid}", headers=auth).json()
    # another connection, and the list, are closed to it
    for url in (f"/gravy/connections/{DOC_CONNECTION}",
                f"/gravy/connections/{DOC_CONNECTION}/balances",
                "/gravy/connections", "/gravy/connections?userId=123"):
        r = client.get(url, headers=x)
        assert r.status_code == 401, url
        assert r.json() == UNAUTHORIZED


def test_intent_token_of_another_connection_is_401(client, auth):
    a, b = open_connection(client, auth), open_connection(client, auth)
    r = client.get(f"/gravy/connections/{b['connectionId']}",
                   headers={"x-intent-token": a["intentToken"]})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


def test_intent_token_reads_resources_once_data_available(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    x = {"x-intent-token": created["intentToken"]}
    r = client.get(f"/gravy/connections/{cid}/reading-history", headers=x)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "error": "Not Found",
                        "message": f"No readingHistory data available for connection {cid}"}
    assert set_status(client, cid, "data_available").status_code == 200
    r = client.get(f"/gravy/connections/{cid}/reading-history", headers=x)
    assert r.status_code == 200
    assert r.json()["meta"]["total"] > 0
    r = client.get(f"/gravy/connections/{cid}/balances", headers=x)
    assert r.status_code == 200
    assert all(item["connectionId"] == cid for item in r.json()["data"])
    assert client.get(f"/gravy/connections/{cid}", headers=x).json()["status"] == \
        "data_available"


def test_garbage_or_expired_intent_token_is_401(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    r = client.get(f"/gravy/connections/{cid}", headers={"x-intent-token": "garbage"})
    assert r.status_code == 401
    client.post("/__admin/clock", json={"advance": 3600})
    r = client.get(f"/gravy/connections/{cid}",
                   headers={"x-intent-token": created["intentToken"]})
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


# -- writes show in later reads --------------------------------------------------------------
def test_created_connection_is_counted_and_findable(client, auth, full):
    client.post("/__admin/clock", json={"advance": 1})
    created = open_connection(client, auth, userId="user_new", integrationId="spotify")
    body = client.get("/gravy/connections", headers=auth).json()
    assert body["meta"]["total"] == 151
    assert body["meta"]["totalPages"] == 8
    after = every(client, auth)
    assert len(after) == 151
    # it sits where createdAt desc puts it
    new = next(c for c in after if c["id"] == created["connectionId"])
    assert new["createdAt"] == "2024-01-15T10:30:01.000Z"
    created_at = [instant(c["createdAt"]) for c in after]
    assert created_at == sorted(created_at, reverse=True)
    assert every(client, auth, userId="user_new") == [new]
    assert new in every(client, auth, integrationId="spotify")
    assert new in every(client, auth, status="pending")


def test_created_connection_is_first_by_created_at_desc(client, auth):
    """A connection created now is the newest one: first on the default page."""
    client.post("/__admin/clock", json={"advance": 1})
    created = open_connection(client, auth)
    body = client.get("/gravy/connections", headers=auth).json()
    assert body["meta"]["total"] == 151
    assert body["data"][0]["id"] == created["connectionId"]


def test_no_connection_is_created_after_now(full):
    """Every listed connection was created and updated no later than the mock's clock."""
    now = instant("2024-01-15T10:30:00.000Z")
    late = [(c["id"], c["createdAt"], c["updatedAt"]) for c in full
            if instant(c["createdAt"]) > now or instant(c["updatedAt"]) > now]
    assert late == []


def test_status_move_changes_updated_at_and_filters(client, auth):
    created = open_connection(client, auth)
    cid = created["connectionId"]
    client.post("/__admin/clock", json={"advance": 60})
    assert set_status(client, cid, "connected").status_code == 200
    conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
    assert conn["status"] == "connected"
    assert conn["createdAt"] == "2024-01-15T10:30:00.000Z"
    assert conn["updatedAt"] == "2024-01-15T10:31:00.000Z"
    assert conn in every(client, auth, status="connected")
    assert all(c["id"] != cid for c in every(client, auth, status="pending"))
