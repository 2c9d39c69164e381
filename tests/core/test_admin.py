import base64
import hashlib
import json
import re

import pytest

from mockserver import create_app

from ..conftest import MockClient
from ..gravy.conftest import open_connection, token_for

CREDENTIALS = {
    "gravy": {"clientId": "gravy-sandbox-client", "clientSecret": "gravy-sandbox-secret",
              "publishableKey": "pk-test-sandbox"},
}


def test_health_and_credentials(client):
    assert client.get("/__admin/health").json() == {"status": "ok"}
    creds = client.get("/__admin/credentials").json()
    assert creds["gravy"] == CREDENTIALS["gravy"]


def test_tenants_create_list_delete(client):
    r = client.post("/__admin/tenants")
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "credentials"}
    assert set(body["credentials"]["gravy"]) == set(CREDENTIALS["gravy"])
    assert body["credentials"]["gravy"] != CREDENTIALS["gravy"]
    ids = [t["id"] for t in client.get("/__admin/tenants").json()["tenants"]]
    assert ids == ["default", body["id"]]
    assert client.delete(f"/__admin/tenants/{body['id']}").status_code == 204
    assert client.delete(f"/__admin/tenants/{body['id']}").status_code == 404
    assert client.delete("/__admin/tenants/default").status_code == 400


def test_tenants_are_bounded_by_max_tenants():
    """Each tenant holds a store per vendor: --max-tenants is the user's ceiling on them."""
    from mockserver.cli import parse_args
    app = create_app(max_tenants=parse_args(["serve", "--max-tenants", "2"], env={}).max_tenants)
    c = MockClient(app)
    try:
        first = c.post("/__admin/tenants")
        assert first.status_code == 201
        r = c.post("/__admin/tenants")
        assert r.status_code == 409 and r.json() == {
            "error": "at most 2 tenants may exist; delete some first"}
        assert [t["id"] for t in c.get("/__admin/tenants").json()["tenants"]] == [
            "default", first.json()["id"]]
        assert c.delete(f"/__admin/tenants/{first.json()['id']}").status_code == 204
        assert c.post("/__admin/tenants").status_code == 201  # room again
    finally:
        c.close()


def test_reset_restores_fixtures_and_clears_the_journal(client, app):
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    open_connection(client, auth)
    assert client.get("/gravy/connections", headers=auth).json()["meta"]["total"] == 151
    r = client.post("/__admin/reset")
    assert r.status_code == 200
    assert not app.journal.called
    # Tokens live in the tenant's state: a reset ends them, a new one sees the fixtures.
    assert client.get("/gravy/connections", headers=auth).status_code == 401
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    assert client.get("/gravy/connections", headers=auth).json()["meta"]["total"] == 150


def test_reset_one_tenant_leaves_the_others(client):
    tenant = client.post("/__admin/tenants").json()
    mine = {"Authorization": f"Bearer {token_for(client)}"}
    creds = tenant["credentials"]["gravy"]
    theirs = {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}
    open_connection(client, mine)
    open_connection(client, theirs)
    client.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert client.get("/gravy/connections", headers=mine).json()["meta"]["total"] == 151
    assert client.get("/gravy/connections", headers=theirs).status_code == 401  # reset ended it
    theirs = {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}
    assert client.get("/gravy/connections", headers=theirs).json()["meta"]["total"] == 150
    assert client.post("/__admin/reset", json={"tenant": "t_nope"}).status_code == 404


def test_reset_copies_state_but_shares_immutable_fixture_data(app):
    """Why reset is cheap: a store holds only what its tenant changed; unchanged records and
    their generated resource data are the template's, shared by every store."""
    store = app.tenants.default.stores["gravy"]
    conn = store.connections["conn_789xyz123abc"]
    from mockserver.vendors.gravy.resources import kind_for
    first = store.resource_set(conn, kind_for("balances"))
    app.tenants.reset()
    store2 = app.tenants.default.stores["gravy"]
    assert store2 is not store
    assert store2.connections["conn_789xyz123abc"] is conn  # unchanged: the template's
    assert store2.resource_set(store2.connections["conn_789xyz123abc"],
                               kind_for("balances")) is first


def test_tenant_stores_are_built_when_first_read(app):
    """Creating a tenant or resetting one builds no store (1,000 tenants reset at once); the
    store a vendor reads afterwards is the fixtures' state, as one built at once would be."""
    tenant = app.tenants.create()
    assert dict(tenant.stores) == {}
    fresh = {n: v.snapshot(tenant.stores[n]) for n, v in app.vendors.items()}
    assert set(tenant.stores) == set(app.vendors)
    default = app.tenants.default
    assert fresh == {n: v.snapshot(default.stores[n]) for n, v in app.vendors.items()}
    default.stores["gravitec"].sites.clear()   # a change, which the reset undoes
    app.tenants.reset()
    assert dict(tenant.stores) == {} and dict(default.stores) == {}
    assert {n: v.snapshot(default.stores[n]) for n, v in app.vendors.items()} == fresh
    with pytest.raises(KeyError):
        tenant.stores["acme"]
    assert "acme" not in tenant.stores


def test_admin_token_protects_the_control_plane():
    c = MockClient(create_app(admin_token="s3cret"))
    try:
        assert c.get("/__admin/health").status_code == 401
        assert c.get("/__admin/health", headers={"X-Admin-Token": "wrong"}).status_code == 401
        assert c.get("/__admin/health", headers={"X-Admin-Token": "s3cret"}).json() == {"status": "ok"}
        assert c.get("/__admin/?token=s3cret").status_code == 200
        # Vendors are not behind the admin token.
        assert c.get("/gravy/integrations").status_code == 200
    finally:
        c.close()


def test_sandbox_page(client):
    r = client.get("/__admin/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "/__admin/requests" in r.text and "/__admin/reset" in r.text


@pytest.mark.parametrize("path", ["/__admin/nope", "/__admin/reset"])
def test_admin_unknown_or_wrong_method(client, path):
    r = client.get(path)
    assert r.status_code in (404, 405) and "error" in r.json()


def test_same_seed_same_fixture_bytes():
    a, b = MockClient(create_app(seed=7)), MockClient(create_app(seed=7))
    try:
        for c in (a, b):
            c.token = token_for(c)
        path = "/gravy/connections?limit=100&page=2"
        ra = a.get(path, headers={"Authorization": f"Bearer {a.token}"}).json()
        rb = b.get(path, headers={"Authorization": f"Bearer {b.token}"}).json()
        ra.pop("timestamp"), rb.pop("timestamp")
        assert ra == rb
    finally:
        a.close(), b.close()


# --- the journal summary the sandbox page polls ---------------------------------

SUMMARY_KEYS = {"id", "time", "kind", "vendor", "tenant", "method", "path", "query", "url",
                "status", "durationMs", "error", "fault"}


def _some_traffic(client) -> None:
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    client.get("/gravy/connections?page=2&limit=5", headers=auth)
    client.get("/gravy/connections/conn_789xyz123abc", headers=auth)
    client.get("/gravy/connections", headers={"Authorization": "Bearer nope"})
    client.get("/gravy/integrations")


def test_requests_summary_is_the_entries_without_headers_or_bodies(client):
    _some_traffic(client)
    full = client.get("/__admin/requests").json()
    brief = client.get("/__admin/requests?summary=1").json()
    assert set(brief) == {"total", "capacity", "requests"}
    assert (brief["total"], brief["capacity"]) == (full["total"], full["capacity"])
    assert brief["total"] == 5
    for short, long in zip(brief["requests"], full["requests"], strict=True):
        assert set(short) == SUMMARY_KEYS  # no "request", no "response"
        assert short == {k: long[k] for k in SUMMARY_KEYS}
    assert {"request", "response"} <= set(full["requests"][0])


def test_requests_summary_keeps_filters_and_limit(client):
    _some_traffic(client)
    r = client.get("/__admin/requests?summary=1&status=401").json()
    assert r["total"] == 1 and [e["status"] for e in r["requests"]] == [401]
    r = client.get("/__admin/requests?summary=1&path=/connections*&method=get").json()
    assert r["total"] == 3
    assert {e["path"] for e in r["requests"]} == {"/connections", "/connections/conn_789xyz123abc"}
    r = client.get("/__admin/requests?summary=1&limit=2").json()
    assert r["total"] == 5 and [e["id"] for e in r["requests"]] == [5, 4]  # newest first
    assert client.get("/__admin/requests?summary=1&limit=x").status_code == 400


def test_requests_summary_stays_small_with_a_huge_body_recorded(client):
    huge = {"grant_type": "client_credentials", "client_id": "x" * 90_000}  # under the 100kb limit
    client.post("/gravy/oauth/token", json=huge, check=False)
    full = client.get("/__admin/requests")
    brief = client.get("/__admin/requests?summary=1")
    assert len(full.content) > 30_000  # the journal keeps a (capped) copy of the body ...
    assert len(brief.content) < 1_000  # ... which the summary leaves out
    assert brief.json()["requests"][0]["path"] == "/oauth/token"


# --- the sandbox page (served; tests/test_sandbox_page.py drives it in Chromium) ------


def _script(page: str) -> str:
    return re.search(r"<script>(.*)</script>", page, re.S).group(1)


def test_sandbox_page_is_self_contained_and_locked_to_its_own_script(client, app):
    r = client.get("/__admin/")
    page = r.text
    for v in app.vendors:  # the vendor filter is rendered by the server
        assert f'<option value="{v}">{v}</option>' in page
    # Nothing loaded from elsewhere: it works offline.
    for ref in re.findall(r'(?:src|href|action)="([^"]*)"', page):
        assert ref.startswith("data:") or ref == "", ref
    csp = r.headers["content-security-policy"]
    digest = base64.b64encode(hashlib.sha256(_script(page).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in csp and "unsafe-inline" not in csp
    assert "connect-src 'self'" in csp and "default-src 'none'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"  # ?token= must not leak
    assert r.headers["cache-control"] == "no-store"


def test_sandbox_page_builds_elements_from_text_only(client):
    script = _script(client.get("/__admin/").text)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "setTimeout('", 'setTimeout("'):
        assert sink not in script, sink
    # Polls one at a time (a timeout after each), never setInterval for the polling.
    assert "setTimeout(refresh" in script and "setInterval(refresh" not in script


def test_admin_token_page_asks_browsers_for_the_token():
    c = MockClient(create_app(admin_token="s3cret"))
    try:
        html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        for url in ("/__admin/", "/__admin", "/__admin/?token=wrong"):
            r = c.get(url, headers=html)
            assert r.status_code == 401 and "text/html" in r.headers["content-type"]
            assert 'id="auth"' in r.text and 'name="token"' in r.text
            assert "content-security-policy" in r.headers
        # API clients, and anything but the page, keep the JSON refusal.
        assert c.get("/__admin/").json() == {"error": "X-Admin-Token required"}
        r = c.get("/__admin/requests", headers=html)
        assert r.status_code == 401 and r.json() == {"error": "X-Admin-Token required"}
        assert c.get("/__admin/?token=s3cret", headers=html).status_code == 200
    finally:
        c.close()


# --- one journal entry in full: GET /__admin/requests/{id} ------------------------------


def test_one_entry_in_full_with_secrets_masked(client):
    _some_traffic(client)
    full = client.get("/__admin/requests").json()["requests"]
    for entry in full:
        assert client.get(f"/__admin/requests/{entry['id']}").json() == entry
    unauthorized = next(e for e in full if e["status"] == 401)
    one = client.get(f"/__admin/requests/{unauthorized['id']}").json()
    assert one["request"]["headers"]["authorization"] == "[redacted]"
    token = client.get(f"/__admin/requests/{full[-1]['id']}").json()  # POST /oauth/token
    assert token["path"] == "/oauth/token"
    assert json.loads(token["request"]["body"])["client_secret"] == "[redacted]"


@pytest.mark.parametrize("path", ["/__admin/requests/999", "/__admin/requests/x",
                                  "/__admin/requests/-1", "/__admin/requests/" + "9" * 400])
def test_an_entry_not_in_the_journal_is_a_404(client, path):
    _some_traffic(client)
    r = client.get(path)
    assert r.status_code == 404 and list(r.json()) == ["error"]


def test_an_entry_is_gone_after_a_reset(client):
    _some_traffic(client)
    first = client.get("/__admin/requests").json()["requests"][0]["id"]
    client.post("/__admin/reset")
    assert client.get(f"/__admin/requests/{first}").status_code == 404


def test_status_filter_takes_a_class(client, app):
    _some_traffic(client)
    client.get("/gravy/connections/nope", headers={"Authorization": f"Bearer {token_for(client)}"})
    statuses = lambda q: [e["status"] for e in client.get(f"/__admin/requests?summary=1&{q}").json()["requests"]]
    assert statuses("status=4xx") == [404, 401]
    assert statuses("status=4XX") == [404, 401]
    assert set(statuses("status=2xx")) == {200} and len(statuses("status=2xx")) == 5
    assert statuses("status=5xx") == []
    assert statuses("status=404") == [404]
    assert statuses("status=xx") == [] and statuses("status=6xx") == []
    assert [c.status for c in app.journal.filter(status="4xx")] == [404, 401]


# --- the state summary: GET /__admin/summary ---------------------------------------------

SUMMARY_SHAPE = {"gravy": {"connections"}, "gravitec": {"followers", "campaigns"},
                 "groove": {"people", "flows", "memberships"},
                 "integry": {"connectedAccounts", "users", "workspace"},
                 "passage": {"links"}}


def _summary(client, tenant: str | None = None) -> dict:
    r = client.get("/__admin/summary" + (f"?tenant={tenant}" if tenant else ""))
    assert r.status_code == 200, r.text
    return r.json()


def test_summary_has_the_shared_shape(client):
    s = _summary(client)
    assert s["tenant"] == "default" and set(s) == {"tenant", "vendors"}
    assert {v: set(c) for v, c in s["vendors"].items()} == SUMMARY_SHAPE
    conns = s["vendors"]["gravy"]["connections"]
    assert set(conns) == {"total", "byStatus"}
    assert conns["total"] == 150 == sum(conns["byStatus"].values())
    for vendor, counts in s["vendors"].items():
        for key, n in counts.items():
            if key not in ("connections", "workspace", "links"):
                assert isinstance(n, int) and n >= 0, (vendor, key)


def test_summary_counts_follow_vendor_and_admin_calls(client):
    from ..gravitec.conftest import SANDBOX, push_body
    from ..groove.conftest import gql, tokens_for
    from ..gravy.conftest import set_status

    before = _summary(client)["vendors"]
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    opened = open_connection(client, auth)["connectionId"]
    client.post("/gravitec/api/v3/push", json=push_body(), auth=SANDBOX)
    client.post("/__admin/gravitec/subscribers", json={"regId": "reg-new", "tags": ["x"]})
    person = client.post("/__admin/groove/people",
                         json={"name": "Ada", "emailAddress": "ada@example.com"}).json()["id"]
    groove = tokens_for(client)["access_token"]
    r = gql(client, groove, 'mutation { addPersonToFlow(input: {flowId: "1002", personId: "%s"})'
                            " { personFlow { person { name } } } }" % person)
    assert "errors" not in r.json(), r.text
    client.post("/__admin/integry/connected-accounts", json={"userId": "u-new", "app": "hubspot"})
    after = _summary(client)["vendors"]

    b, a = before["gravy"]["connections"], after["gravy"]["connections"]
    assert a["total"] == b["total"] + 1 == sum(a["byStatus"].values())
    status = client.get(f"/gravy/connections/{opened}", headers=auth).json()["status"]
    assert a["byStatus"][status] == b["byStatus"].get(status, 0) + 1
    assert after["gravitec"] == {"followers": before["gravitec"]["followers"] + 1,
                                 "campaigns": before["gravitec"]["campaigns"] + 1}
    assert after["groove"] == {"people": before["groove"]["people"] + 1,
                               "flows": before["groove"]["flows"],
                               "memberships": before["groove"]["memberships"] + 1}
    assert after["integry"] == {"connectedAccounts": before["integry"]["connectedAccounts"] + 1,
                                "users": before["integry"]["users"] + 1,
                                "workspace": before["integry"]["workspace"]}
    # A lifecycle move changes the split, not the total.
    set_status(client, opened, "data_available")
    moved = _summary(client)["vendors"]["gravy"]["connections"]
    assert moved["total"] == a["total"]
    assert moved["byStatus"]["data_available"] == a["byStatus"]["data_available"] + \
        (status != "data_available")
    client.post("/__admin/reset")
    assert _summary(client)["vendors"] == before


def test_summary_is_per_tenant(client):
    tenant = client.post("/__admin/tenants").json()["id"]
    base = _summary(client, tenant)
    assert base["tenant"] == tenant and base["vendors"] == _summary(client)["vendors"]
    client.post("/__admin/groove/people",
                json={"name": "Ada", "emailAddress": "ada@example.com", "tenant": tenant})
    assert _summary(client, tenant)["vendors"]["groove"]["people"] == \
        base["vendors"]["groove"]["people"] + 1
    assert _summary(client)["vendors"] == base["vendors"]  # the default tenant: unchanged
    assert _summary(client, "default")["tenant"] == "default"


@pytest.mark.parametrize("query", ["tenant=t_nope", "tenant=", "tenant=%3Cscript%3E"])
def test_summary_of_an_unknown_tenant_is_a_404(client, query):
    r = client.get(f"/__admin/summary?{query}")
    assert r.status_code == 404 and list(r.json()) == ["error"]
