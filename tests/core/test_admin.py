import json
import re
import shutil
import subprocess

import pytest

from mockserver import create_app
from mockserver.admin.page import PAGE

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
    """Why reset is cheap: generated resource data is shared, only mutable state is copied."""
    store = app.tenants.default.stores["gravy"]
    conn = store.connections["conn_789xyz123abc"]
    from mockserver.vendors.gravy.resources import kind_for
    first = store.resource_set(conn, kind_for("balances"))
    app.tenants.reset()
    store2 = app.tenants.default.stores["gravy"]
    assert store2 is not store
    assert store2.connections["conn_789xyz123abc"] is not conn
    assert store2.resource_set(store2.connections["conn_789xyz123abc"],
                               kind_for("balances")) is first


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


# --- the sandbox page -------------------------------------------------------------


def test_sandbox_page_polls_the_summary_and_shows_clock_state_and_failures(client):
    page = client.get("/__admin/").text
    assert "/__admin/requests?summary=1&limit=200" in page
    # The clock's real state: frozen at an instant, or real time with its offset.
    assert "c.mode === 'frozen'" in page and "'frozen at '" in page
    assert "c.offsetSeconds" in page and "' (real time'" in page
    assert "' (real)'" not in page and "' (' + c.mode + ')'" not in page
    # Failed actions and polls are shown, and polling goes on.
    assert 'id="error"' in page and "data.error" in page
    assert "poll failed, retrying" in page
    assert "setInterval(" not in page and "setTimeout(loop" in page


# The page's own script in node, against a real server, with a stub DOM and timers the test
# drives. Optional: node is not a dependency (real browser tests come later).
PAGE_HARNESS = r"""
const fs = require('fs'), vm = require('vm');
const [scriptFile, base] = process.argv.slice(2);
if (typeof fetch !== 'function') { console.log(JSON.stringify({skip: 'node has no fetch'})); process.exit(0); }
const els = {}, el = id => els[id] ??= {textContent: '', innerHTML: '', className: ''};
let timers = [], offline = false;
const ctx = vm.createContext({
  document: {getElementById: el},
  location: {search: ''}, URLSearchParams, console,
  setTimeout: fn => timers.push(fn),
  fetch: (path, init) => offline ? Promise.reject(new TypeError('fetch failed')) : fetch(base + path, init),
});
const polled = async () => {  // a poll ends by scheduling the next one
  for (let i = 0; i < 500 && !timers.length; i++) await new Promise(r => setTimeout(r, 10));
  if (timers.length !== 1) throw new Error(timers.length + ' polls scheduled, not 1');
};
const nextPoll = async () => { timers.shift()(); await polled(); };
const snap = () => ({status: el('status').textContent, clock: el('clock').textContent,
                     error: el('error').textContent, rows: el('rows').innerHTML});
const steps = {};
(async () => {
  vm.runInContext(fs.readFileSync(scriptFile, 'utf8'), ctx);
  await polled();
  steps.first = snap();
  await vm.runInContext('clk({advance: 3600})', ctx); steps.advanced = snap();
  await vm.runInContext("clk({advance: 'soon'})", ctx); steps.rejected = snap();
  await vm.runInContext("clk({set: '2024-01-15T10:30:00Z'})", ctx); steps.frozen = snap();
  offline = true;
  await nextPoll(); steps.pollFailed = snap();
  await vm.runInContext("act('/__admin/reset', {})", ctx); steps.resetFailed = snap();
  offline = false;
  await nextPoll(); steps.recovered = snap();
  console.log(JSON.stringify(steps));
})().catch(e => { console.log(JSON.stringify({error: String(e && e.stack || e)})); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (optional)")
def test_sandbox_page_script_in_node(tmp_path):
    from ..conftest import LiveServer

    script = re.search(r"<script>(.*)</script>", PAGE, re.S).group(1)
    (tmp_path / "page.js").write_text(script)
    (tmp_path / "harness.js").write_text(PAGE_HARNESS)
    server = LiveServer()
    try:
        server.http.get("/gravy/integrations?page=1")
        proc = subprocess.run(["node", str(tmp_path / "harness.js"), str(tmp_path / "page.js"),
                               server.url], capture_output=True, text=True, timeout=60)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in steps:
        pytest.skip(steps["skip"])
    assert "error" not in steps, steps["error"]

    first = steps["first"]
    assert first["status"].startswith("live") and first["error"] == ""
    assert first["clock"].endswith("(real time)")
    assert "/integrations?page=1" in first["rows"]
    assert steps["advanced"]["clock"].endswith("(real time +3600 s)")
    assert steps["rejected"]["error"] == "POST /__admin/clock: 400 advance must be a finite number of seconds"
    assert steps["frozen"]["clock"] == "frozen at 2024-01-15T10:30:00.000Z"
    assert steps["frozen"]["error"] == ""  # cleared by the next action that worked
    assert steps["pollFailed"]["status"].startswith("poll failed, retrying")
    assert "network error" in steps["pollFailed"]["status"]
    assert steps["resetFailed"]["error"].startswith("POST /__admin/reset: network error")
    assert steps["recovered"]["status"].startswith("live")
    assert steps["recovered"]["clock"] == "frozen at 2024-01-15T10:30:00.000Z"
