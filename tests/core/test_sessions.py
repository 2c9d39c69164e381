"""Tokens and sessions belong to their tenant: bounded, purged on expiry, cleared by reset."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

from hypothesis import given, settings, strategies as st

from mockserver import Clock, create_app
from mockserver.core.routing import Router, route
from mockserver.core.sessions import Sessions
from mockserver.core.webhooks import WAIT_BUDGET, Outbound
from mockserver.vendors.gravy.resources import kind_for

from ..conftest import DOC_TIME, MockClient
from ..gravy.conftest import open_connection, set_status, token_for


def test_sessions_expire_by_the_given_clock_and_are_purged():
    s: Sessions[str] = Sessions(limit=10)
    s.add("a", "A", expires_at=100, now=0)
    s.add("b", "B", expires_at=200, now=50)
    assert s.get("a", now=99) == "A" and s.get("a", now=100) is None
    s.add("c", "C", expires_at=300, now=150)  # adding purges what has expired
    assert list(s) == ["b", "c"]


@settings(max_examples=50, deadline=None)
@given(limit=st.integers(1, 20), adds=st.integers(0, 60))
def test_sessions_never_hold_more_than_their_limit(limit, adds):
    s: Sessions[int] = Sessions(limit)
    for n in range(adds):
        s.add(str(n), n, expires_at=10**9, now=0)
        assert len(s) <= limit
    kept = list(s)
    assert kept == [str(n) for n in range(max(0, adds - limit), adds)]  # the newest stay


def client_for(**kw) -> tuple:
    app = create_app(clock=Clock(DOC_TIME), **kw)
    return app, MockClient(app)


def gravy_store(app, tenant="default"):
    return app.tenants.get(tenant).stores["gravy"]


def test_reset_ends_tokens_and_intent_sessions():
    app, c = client_for()
    auth = {"Authorization": f"Bearer {token_for(c)}"}
    opened = open_connection(c, auth)
    store = gravy_store(app)
    assert len(store.tokens) == 1 and len(store.intents) == 2  # the token and its short code
    c.post("/__admin/reset")
    store = gravy_store(app)
    assert len(store.tokens) == 0 and len(store.intents) == 0
    assert c.get("/gravy/connections", headers=auth).status_code == 401
    r = c.get(f"/gravy/connections/{opened['connectionId']}",
              headers={"x-intent-token": opened["intentToken"]})
    assert r.status_code == 401
    c.close()


def test_deleting_a_tenant_ends_its_tokens():
    app, c = client_for()
    tenant = c.post("/__admin/tenants").json()
    creds = tenant["credentials"]["gravy"]
    auth = {"Authorization": f"Bearer {token_for(c, creds['clientId'], creds['clientSecret'])}"}
    opened = open_connection(c, auth)
    c.delete(f"/__admin/tenants/{tenant['id']}")
    assert c.get("/gravy/connections", headers=auth).status_code == 401
    assert c.get(f"/gravy/connections/{opened['connectionId']}",
                 headers={"x-intent-token": opened["intentToken"]}).status_code == 401
    c.close()


def test_expired_tokens_are_purged_not_kept():
    app, c = client_for()
    for _ in range(5):
        token_for(c)
    c.post("/__admin/clock", json={"advance": 3601})
    token_for(c)
    assert len(gravy_store(app).tokens) == 1
    c.close()


def test_tokens_intents_and_opened_connections_are_bounded_by_max_sessions():
    app, c = client_for(max_sessions=3)
    tokens = [token_for(c) for _ in range(5)]
    assert len(gravy_store(app).tokens) == 3
    assert c.get("/gravy/connections", headers={"Authorization": f"Bearer {tokens[0]}"}
                 ).status_code == 401                      # the oldest was evicted
    auth = {"Authorization": f"Bearer {tokens[-1]}"}
    opened = [open_connection(c, auth) for _ in range(5)]
    store = gravy_store(app)
    assert len(store.intents) <= 6 and len(store.connections) == 150 + 3
    assert opened[0]["connectionId"] not in store.connections
    assert opened[-1]["connectionId"] in store.connections
    c.close()


def test_router_hands_each_caller_its_own_path_params():
    async def ep(request):
        return None

    router = Router([route("GET", "/things/{id}", ep)], ep)
    _, first = router.resolve("GET", "/things/1")
    first["id"] = "changed"
    _, second = router.resolve("GET", "/things/1")
    assert second == {"id": "1"}


class Hanging:
    """A TCP endpoint that accepts and never answers: a webhook receiver that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                self.conns.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self) -> None:
        for s in self.conns:
            s.close()
        self.sock.close()


def test_a_hanging_webhook_receiver_never_holds_an_admin_call_past_the_budget():
    assert WAIT_BUDGET <= 2.0
    app, c = client_for()
    app.webhooks.wait_budget, app.webhooks.timeout = 0.5, 0.3  # same rule, faster test
    hanging = Hanging()
    try:
        auth = {"Authorization": f"Bearer {token_for(c)}"}
        opened = open_connection(c, auth, webhookUrl=hanging.url)
        started = time.monotonic()
        r = set_status(c, opened["connectionId"], "data_available")
        elapsed = time.monotonic() - started
        assert r.status_code == 200 and elapsed < 1.5
        hooks = r.json()["webhooks"]
        assert len(hooks) == 4 and hooks[-1]["pending"] is True
        assert r.json()["connection"]["status"] == "data_available"
        c._loop.run_until_complete(app.webhooks.drain())  # the rest finish in the background
        calls = app.journal.filter(kind="webhook")
        assert len(calls) == 4 and all(call.error and "timed out" in call.error
                                       for call in calls)
    finally:
        hanging.close()
        c.close()


def test_webhooks_go_out_in_order():
    app, c = client_for()
    seen: list[bytes] = []

    async def fake(vendor, tenant, msg):
        await asyncio.sleep(0.01 * (3 - len(seen)))  # later ones would overtake if concurrent
        seen.append(msg.body)

    app.webhooks.deliver = fake
    msgs = [Outbound("http://127.0.0.1:9/", str(n).encode(), {}) for n in range(3)]
    c._loop.run_until_complete(app.webhooks.send("gravy", "default", msgs))
    assert seen == [b"0", b"1", b"2"]
    c.close()


def test_caches_keyed_by_client_input_keep_long_keys_out():
    """Memo tables bound their entry count; long client junk never enters them, so their size
    in bytes stays bounded too."""
    app, c = client_for()
    auth = {"Authorization": f"Bearer {token_for(c)}"}
    for n in range(20):
        assert c.get(f"/gravy/connections?userId={'x' * 3000}{n}", headers=auth).status_code == 200
        assert c.get(f"/gravy/connections/{'y' * 600}{n}", headers=auth).status_code == 404
        r = c.get(f"/gravy/connections/conn_789xyz123abc/trips?search={'z' * 3000}{n}",
                  headers=auth)
        assert r.status_code == 200 and r.json()["data"] == []
    gravy = app.vendors["gravy"].service
    assert all(len(qs) <= 2048 for _, qs in gravy.queries)
    store = app.tenants.default.stores["gravy"]
    trips = store.resource_set(store.connections["conn_789xyz123abc"], kind_for("trips"))
    assert all(len(repr(key)) < 2048 for key in trips._pages)
    router = app.apps["gravy"].router
    assert all(len(path) <= 512 for _, path in router._seen)
    c.close()
