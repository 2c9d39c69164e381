"""A tenant's Gravy store reads the shared template and keeps only its own changes."""
from __future__ import annotations

import json
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import Clock, create_app
from mockserver.vendors.gravy.resources import kind_for
from mockserver.vendors.gravy.store import STATUSES, Connection, Connections
from tests.conftest import DOC_TIME

from .conftest import BILLING_CONNECTION, DOC_CONNECTION, open_connection, set_status, token_for

SORTS = [(by, order) for by in ("createdAt", "updatedAt") for order in ("asc", "desc")]


def fingerprint(template) -> str:
    """Every field of every template record, as text: equal before and after means untouched."""
    return json.dumps([{**c.to_json(""), "webhookUrl": c.webhookUrl, "returnUrl": c.returnUrl,
                        "ready": c.data_ready_at, "limits": c.read_limits}
                       for c in template.connections], sort_keys=True)


def bearer_of(client, tenant) -> dict[str, str]:
    creds = tenant.credentials["gravy"]
    return {"Authorization": f"Bearer {token_for(client, creds['clientId'], creds['clientSecret'])}"}


def seen(client, auth, cid: str) -> dict:
    r = client.get(f"/gravy/connections/{cid}", headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_write_reaches_no_other_tenant_nor_a_new_one_nor_the_template(app, client):
    template = app.vendors["gravy"].template
    before = fingerprint(template)
    a, b = app.tenants.create(), app.tenants.create()
    mine, theirs = bearer_of(client, a), bearer_of(client, b)
    original = seen(client, theirs, DOC_CONNECTION)
    assert original["status"] == "data_available"
    r = set_status(client, DOC_CONNECTION, "data_processing", tenant=a.id)
    assert r.status_code == 200, r.text
    assert seen(client, mine, DOC_CONNECTION)["status"] == "data_processing"
    assert seen(client, theirs, DOC_CONNECTION) == original
    assert seen(client, bearer_of(client, app.tenants.create()), DOC_CONNECTION) == original
    assert seen(client, {"Authorization": f"Bearer {token_for(client)}"},
                DOC_CONNECTION) == original                              # the default tenant
    assert fingerprint(template) == before
    store = a.stores["gravy"]
    assert set(store.connections.own) == {DOC_CONNECTION}                # one clone, no more
    assert store.connections[DOC_CONNECTION] is not template.connections_by_id[DOC_CONNECTION]


def test_a_reset_tenant_is_the_template_again_without_a_copy(app, client):
    template = app.vendors["gravy"].template
    tenant = app.tenants.create()
    auth = bearer_of(client, tenant)
    open_connection(client, auth)
    assert set_status(client, BILLING_CONNECTION, "inactive", tenant=tenant.id).status_code == 200
    assert tenant.stores["gravy"].connections.own
    fresh = app.vendors["gravy"].export_state(app.tenants.create().stores["gravy"], tenant)
    app.tenants.reset(tenant.id)
    store = tenant.stores["gravy"]
    assert not store.connections.own and not store.connections.removed
    assert all(c is t for c, t in zip(store.connections.values(), template.connections,
                                      strict=True))
    assert app.vendors["gravy"].export_state(store, tenant) == fresh
    auth = bearer_of(client, tenant)
    assert seen(client, auth, BILLING_CONNECTION)["status"] != "inactive"


def test_a_tenant_that_only_reads_holds_no_clones(app, client):
    template = app.vendors["gravy"].template
    tenant = app.tenants.create()
    auth = bearer_of(client, tenant)
    for by, order in SORTS:
        for page in (1, 2, 8):
            r = client.get(f"/gravy/connections?sortBy={by}&sortOrder={order}&page={page}"
                           "&limit=20", headers=auth)
            assert r.status_code == 200, r.text
    for cid in list(template.connections_by_id)[:20] + [DOC_CONNECTION, BILLING_CONNECTION]:
        seen(client, auth, cid)
        for kind in ("balances", "trips", "billing-statements", "account-info"):
            assert client.get(f"/gravy/connections/{cid}/{kind}",
                              headers=auth).status_code in (200, 404)
    store = tenant.stores["gravy"]
    vendor = app.vendors["gravy"]
    vendor.export_state(store, tenant), vendor.snapshot(store), vendor.summary(store)
    assert store.connections.own == {} and store.connections.removed == set()
    assert store._sets == {} and store._orders == {}
    assert all(c is template.connections_by_id[c.id] for c in store.connections.values())
    # and such a store costs little: well under 5 KB
    vendor.new_store()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        stores = [vendor.new_store() for _ in range(50)]
        per_store = (tracemalloc.get_traced_memory()[0] - base) / len(stores)
    finally:
        tracemalloc.stop()
    assert per_store < 5 * 1024, per_store


def test_an_import_keeps_only_what_differs_and_exports_the_same_bytes(app, client):
    vendor, template = app.vendors["gravy"], app.vendors["gravy"].template
    tenant = app.tenants.create()
    opened = open_connection(client, bearer_of(client, tenant))["connectionId"]
    assert set_status(client, DOC_CONNECTION, "inactive", tenant=tenant.id).status_code == 200
    exported = vendor.export_state(tenant.stores["gravy"], tenant)
    restored = vendor.import_state(json.loads(json.dumps(exported)), tenant)
    assert set(restored.connections.own) == {opened, DOC_CONNECTION}
    assert json.dumps(vendor.export_state(restored, tenant)) == json.dumps(exported)
    # an order the template cannot give is kept as imported
    turned = {**exported, "connections": exported["connections"][::-1]}
    restored = vendor.import_state(json.loads(json.dumps(turned)), tenant)
    assert json.dumps(vendor.export_state(restored, tenant)) == json.dumps(turned)
    assert sum(c is template.connections_by_id.get(c.id)
               for c in restored.connections.values()) == len(template.connections) - 1
    # left out: gone for this tenant only
    short = {**exported, "connections": [c for c in exported["connections"]
                                         if c["id"] != BILLING_CONNECTION]}
    restored = vendor.import_state(json.loads(json.dumps(short)), tenant)
    assert BILLING_CONNECTION not in restored.connections
    assert restored.connections.removed == {BILLING_CONNECTION}
    assert json.dumps(vendor.export_state(restored, tenant)) == json.dumps(short)
    assert BILLING_CONNECTION in app.tenants.create().stores["gravy"].connections


# -- many tenants writing the same fixture records, against stores that copy everything --------
_APP = None


def _app():
    """One app for every example (hypothesis cannot reuse function-scoped fixtures)."""
    global _APP
    if _APP is None:
        _APP = create_app(seed=0, clock=Clock(DOC_TIME))
    return _APP


def _eager(store) -> None:
    """What every store was before copy-on-write: a clone of each template record."""
    store.connections = Connections(store.template, {c.id: c.clone()
                                                     for c in store.template.connections},
                                    full=True)


_TARGETS = st.sampled_from(STATUSES)
_WRITE = st.one_of(
    st.tuples(st.just("status"), st.integers(0, 3), st.integers(0, 5), _TARGETS,
              st.lists(st.sampled_from(["balances", "trips", "history"]), max_size=2)),
    st.tuples(st.just("open"), st.integers(0, 3), st.none(), st.none(), st.none()))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WRITE, max_size=30))
def test_interleaved_writes_match_stores_that_copy_everything(writes):
    app = _app()
    vendor = app.vendors["gravy"]
    template = vendor.template
    before = fingerprint(template)
    targets = [DOC_CONNECTION, BILLING_CONNECTION] + [c.id for c in template.connections[2:6]]
    cow = [vendor.new_store() for _ in range(4)]
    model = [vendor.new_store() for _ in range(4)]
    for m in model:
        _eager(m)
    clock = 0
    for op, who, which, status, failed in writes:
        clock += 1
        now = f"2024-02-01T00:00:{clock % 60:02d}.000Z"
        for store in (cow[who], model[who]):
            if op == "open":
                store.add_connection(Connection(f"new-{clock}", "audible", "pending", None, now,
                                                now))
                continue
            conn = store.connections[targets[which]]
            try:
                steps = store.plan(conn, status)
            except ValueError:
                continue
            for step in steps:
                conn = store.step(conn, step, now, set(failed))
    for mine, theirs in zip(cow, model):
        assert json.dumps(mine.snapshot()) == json.dumps(theirs.snapshot())
        for by, order in SORTS:
            assert [c.id for c in mine.sorted_connections(by, order)] == \
                [c.id for c in theirs.sorted_connections(by, order)]
        assert mine.summary() == theirs.summary()
        for cid in targets:
            for kind in ("balances", "trips"):
                a = mine.resource_set(mine.connections[cid], kind_for(kind))
                b = theirs.resource_set(theirs.connections[cid], kind_for(kind))
                assert (a is None) == (b is None)
                assert a is None or a.encoded == b.encoded
        assert all(c is template.connections_by_id.get(c.id)
                   for c in mine.connections.values() if c.id not in mine.connections.own)
    assert fingerprint(template) == before
    fresh = vendor.new_store()
    assert all(c is t for c, t in zip(fresh.connections.values(), template.connections,
                                      strict=True))
