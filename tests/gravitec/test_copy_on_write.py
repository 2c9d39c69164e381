"""Copy-on-write sites (issue 24): every tenant reads the template's followers and indexes in
place and holds only what it changed. A write reaches no other tenant nor the template, a reset
drops the delta, and a store that only read holds no copy."""
from __future__ import annotations

import copy
import gc
import json
import tracemalloc
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient
from .conftest import BASE, SANDBOX, add_subscriber, push, push_body, site, stats

STATE = "/__admin/state"
PROPERTY = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def new_tenant(client) -> tuple[str, tuple[str, str]]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    c = r.json()["credentials"]["gravitec"]
    return r.json()["id"], (c["appKey"], c["appSecret"])


def export(client, tenant: str = "default") -> dict[str, Any]:
    r = client.get(STATE, params={"tenant": tenant})
    assert r.status_code == 200, r.text
    return r.json()["vendors"]["gravitec"]


def template_state(app) -> dict[str, Any]:
    """Everything of the template a tenant reads: followers (in order), active set, indexes."""
    return {s.role: {"followers": [f.to_json() for f in s.base.followers.values()],
                     "active": sorted(s.base.active),
                     "tags": {k: sorted(v) for k, v in s.base.by_tag.items()},
                     "aliases": {k: sorted(v) for k, v in s.base.by_alias.items()}}
            for s in app.vendors["gravitec"].template.sites}


def copies(s) -> dict[str, Any]:
    """What a site holds of its own beyond the template's records (empty: it copied nothing)."""
    out: dict[str, Any] = {}
    if s.followers.own:
        out["followers"] = sorted(s.followers.own)
    if s.by_tag.own:
        out["tags"] = sorted(s.by_tag.own)
    if s.by_alias.own:
        out["aliases"] = sorted(s.by_alias.own)
    if s.active is not s.base.active:
        out["active"] = True
    return out


def tag(client, auth, reg_id: str, name: str, method: str = "POST"):
    return client.request(method, f"{BASE}/tag", params={"regId": reg_id, "name": name},
                          auth=auth)


def alias(client, auth, reg_id: str, name: str):
    return client.post(f"{BASE}/alias", params={"regId": reg_id, "name": name}, auth=auth)


def reached(client, auth, audience: dict[str, Any] | None = None, **fields: Any) -> int:
    body = {**push_body(), **fields}
    if audience is not None:
        body["audience"] = audience
    r = push(client, body, auth=auth)
    assert r.status_code == 200, r.text
    return stats(client, r.json()["id"], auth=auth).json()["send"]


def tagged_follower(app) -> tuple[str, str]:
    """A fixture follower of the main site with a tag, and that tag."""
    f = next(f for f in site(app).base.followers.values() if f.tags and f.alias and f.active)
    return f.regId, f.tags[0]


# -- (a) a write reaches no other tenant nor the template ----------------------------------------
def test_a_tenants_writes_reach_no_other_tenant_nor_the_template(client, app):
    writer, writer_auth = new_tenant(client)
    other, other_auth = new_tenant(client)
    pristine = template_state(app)
    before = {t: export(client, t) for t in ("default", other)}
    reg_id, fixture_tag = tagged_follower(app)
    fixture_alias = site(app).base.followers[reg_id].alias
    tag_reach = reached(client, other_auth, {"tags": [fixture_tag]})
    alias_reach = reached(client, other_auth, {"aliases": [fixture_alias]})
    replaced = site(app).base.followers["someregid"]  # replaced below, by an inactive one
    lost = 1 + (replaced.active and replaced.has_tag(fixture_tag) is not None)

    assert tag(client, writer_auth, reg_id, "writer-only").status_code == 200
    assert tag(client, writer_auth, reg_id, fixture_tag, "DELETE").status_code == 200
    assert alias(client, writer_auth, reg_id, "writer-alias").status_code == 200
    assert add_subscriber(client, regId="someregid", tags=["replaced"], active=False,
                          tenant=writer).status_code == 200
    assert add_subscriber(client, regId="writer-new", tags=["writer-only"],
                          tenant=writer).status_code == 201

    # the writer sees its changes ...
    assert reached(client, writer_auth, {"tags": ["writer-only"]}) == 2
    assert reached(client, writer_auth, {"tags": [fixture_tag]}) == tag_reach - lost
    assert reached(client, writer_auth, {"aliases": ["writer-alias"]}) == 1
    assert reached(client, writer_auth, {"aliases": [fixture_alias]}) == alias_reach - 1
    written = export(client, writer)["sites"]["main"]["followers"]
    assert written[-1]["regId"] == "writer-new"
    assert next(f for f in written if f["regId"] == "someregid") == {
        "regId": "someregid", "active": False, "tags": ["replaced"], "alias": None}
    # ... no one else does, and the template is as it was
    assert reached(client, other_auth, {"tags": ["writer-only"]}) == 0
    assert reached(client, other_auth, {"tags": [fixture_tag]}) == tag_reach
    assert reached(client, other_auth, {"aliases": [fixture_alias]}) == alias_reach >= 1
    after = {t: export(client, t) for t in ("default", other)}
    for t in after:  # only the pushes just made differ: campaigns, the day's count, ids
        for role in after[t]["sites"]:
            assert after[t]["sites"][role]["followers"] == before[t]["sites"][role]["followers"]
    assert template_state(app) == pristine
    assert copies(site(app, tenant=other)) == {}
    assert copies(site(app)) == {}


VOCABULARY = ["tag1", "TAG1", "news", "Cars", "fresh", "Fresh", "x"]
ALIASES = ["a1", "a2", "user_000001"]


@st.composite
def operations(draw, reg_ids: list[str]) -> list[tuple]:
    """Writes of three tenants, interleaved, aimed at the same few fixture followers (and one
    regId no fixture has)."""
    pool = reg_ids + ["added-1"]
    op = st.one_of(
        st.tuples(st.just("tag"), st.sampled_from(pool), st.sampled_from(VOCABULARY)),
        st.tuples(st.just("untag"), st.sampled_from(pool), st.sampled_from(VOCABULARY)),
        st.tuples(st.just("alias"), st.sampled_from(pool), st.sampled_from(ALIASES)),
        st.tuples(st.just("put"), st.sampled_from(pool),
                  st.lists(st.sampled_from(VOCABULARY), max_size=3, unique_by=str.lower),
                  st.booleans(), st.none() | st.sampled_from(ALIASES)))
    return draw(st.lists(st.tuples(st.integers(0, 2), op), min_size=1, max_size=25))


class World:
    """One app with three tenants; each example starts them all from the fixtures."""

    def __init__(self) -> None:
        self.app = create_app(seed=0, clock=Clock(DOC_TIME))
        self.client = MockClient(self.app)
        self.tenants = [("default", SANDBOX)] + [new_tenant(self.client) for _ in range(2)]

    def reset(self) -> None:
        self.app.clock.set(DOC_TIME)
        assert self.client.post("/__admin/reset", json={}).status_code == 200


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    yield w
    w.client.close()


def _model_write(model: dict[str, dict[str, Any]], op: tuple) -> int:
    """What the write does to a tenant that copies everything: the status it answers."""
    kind, reg_id = op[0], op[1]
    if kind == "put":
        _, _, tags, active, name = op
        model[reg_id] = {"regId": reg_id, "active": active, "tags": list(tags), "alias": name}
        return 200
    f = model.get(reg_id)
    if f is None:
        return 422
    if kind == "alias":
        f["alias"] = op[2]
        return 200
    own = next((t for t in f["tags"] if t.lower() == op[2].lower()), None)
    if kind == "tag":
        if own is None:
            f["tags"].append(op[2])
        return 200
    if own is None:
        return 422
    f["tags"].remove(own)
    return 200


@PROPERTY
@given(data=st.data())
def test_property_interleaved_tenants_match_a_model_that_copies_everything(world, data):
    app, client = world.app, world.client
    world.reset()
    pristine = template_state(app)
    base = site(app).base.followers
    targets = ["someregid"] + [r for r, f in base.items() if f.tags and f.alias][:3]
    start = {r: f.to_json() for r, f in base.items()}
    models = [copy.deepcopy(start) for _ in world.tenants]
    for who, op in data.draw(operations(targets), label="operations"):
        tenant, auth = world.tenants[who]
        kind, expected = op[0], _model_write(models[who], op)
        if kind == "put":
            r = add_subscriber(client, regId=op[1], tags=op[2], active=op[3], tenant=tenant,
                               **({"alias": op[4]} if op[4] is not None else {}))
            assert r.status_code in (200, 201), r.text
            continue
        if kind == "alias":
            r = alias(client, auth, op[1], op[2])
        else:
            r = tag(client, auth, op[1], op[2], "POST" if kind == "tag" else "DELETE")
        assert r.status_code == expected, r.text

    for (tenant, _), model in zip(world.tenants, models):
        assert export(client, tenant)["sites"]["main"]["followers"] == list(model.values())
        s = site(app, tenant=tenant)
        for name in {t.lower() for t in VOCABULARY} | {"tagname"}:
            assert set(s.tagged(name)) == {r for r, f in model.items()
                                           if name in {t.lower() for t in f["tags"]}}
        for name in ALIASES:
            assert set(s.by_alias.get(name)) == {r for r, f in model.items()
                                                 if f["alias"] == name}
        assert set(s.active) == {r for r, f in model.items() if f["active"]}
        assert len(s.followers) == len(model)
        # a tenant holds copies of the followers it changed, never of the others
        assert set(s.followers.own) <= set(targets) | {"added-1"}
    assert template_state(app) == pristine


# -- (b) a reset drops the delta ------------------------------------------------------------------
def test_a_reset_drops_the_delta(client, app):
    tenant, auth = new_tenant(client)
    fresh = export(client, tenant)
    reg_id, fixture_tag = tagged_follower(app)
    assert tag(client, auth, reg_id, "gone-after-reset").status_code == 200
    assert tag(client, auth, reg_id, fixture_tag, "DELETE").status_code == 200
    assert alias(client, auth, reg_id, "gone").status_code == 200
    assert add_subscriber(client, regId="gone", tenant=tenant).status_code == 201
    assert copies(site(app, tenant=tenant)).keys() == {"followers", "tags", "aliases", "active"}

    r = client.post("/__admin/reset", json={"tenant": tenant})
    assert r.status_code == 200, r.text
    assert copies(site(app, tenant=tenant)) == {}
    assert export(client, tenant) == fresh
    assert reached(client, auth, {"tags": ["gone-after-reset"]}) == 0
    assert tag(client, auth, reg_id, fixture_tag, "DELETE").status_code == 200  # back again


# -- (c) a store that only read holds no copies --------------------------------------------------
def test_a_store_that_only_read_holds_no_copies(client, app):
    tenant, auth = new_tenant(client)
    reg_id, fixture_tag = tagged_follower(app)
    fixture_alias = site(app).base.followers[reg_id].alias
    for r in ("someregid", reg_id, "nobody"):
        assert client.get(f"{BASE}/alias", params={"regId": r}, auth=auth).status_code == 200
    # pushes read the followers to reach (campaigns are the tenant's own, not copies)
    for audience in ({"tags": [fixture_tag]}, {"aliases": [fixture_alias]},
                     {"tokens": [reg_id]},
                     {"tags_segment": [{"association": "AND", "name": fixture_tag.upper()}]}):
        assert reached(client, auth, audience) >= 1
    assert reached(client, auth, segments=["Sandbox testers"]) >= 1
    assert push(client, auth=auth).status_code == 200
    # writes that change nothing copy nothing
    assert tag(client, auth, reg_id, fixture_tag.swapcase()).status_code == 200
    assert alias(client, auth, reg_id, fixture_alias).status_code == 200
    assert tag(client, auth, reg_id, "not-there", "DELETE").status_code == 422
    assert tag(client, auth, "nobody", "x").status_code == 422
    export(client, tenant)
    assert client.get("/__admin/summary").status_code == 200
    s = site(app, tenant=tenant)
    s.snapshot()
    assert copies(s) == {}
    main = next(t for t in app.vendors["gravitec"].template.sites if t.role == "main")
    assert s.followers.base is s.base.followers is main.base.followers


def test_a_store_built_from_the_template_is_small(app):
    """It was 144 KB (every follower and index copied); now the sites' own empty parts."""
    vendor = app.vendors["gravitec"]
    vendor.new_store()
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.take_snapshot()
        stores = [vendor.new_store() for _ in range(50)]
        gc.collect()
        grown = sum(d.size_diff for d in tracemalloc.take_snapshot().compare_to(start, "filename"))
    finally:
        tracemalloc.stop()
    assert len(stores) == 50 and grown / 50 < 8 * 1024


# -- imports read the template too, and export what they imported --------------------------------
def test_an_import_keeps_unchanged_fixture_followers_the_templates(client, app):
    tenant, auth = new_tenant(client)
    reg_id, _ = tagged_follower(app)
    assert tag(client, auth, reg_id, "imported").status_code == 200
    assert add_subscriber(client, regId="added", tenant=tenant).status_code == 201
    doc = client.get(STATE, params={"tenant": tenant}).content
    target, _ = new_tenant(client)
    r = client.put(STATE, content=doc, params={"tenant": target})
    assert r.status_code == 200, r.text
    assert export(client, target) == json.loads(doc)["vendors"]["gravitec"]
    assert copies(site(app, tenant=target)) == {"followers": sorted(["added", reg_id]),
                                                "tags": ["imported"], "active": True}


def test_an_import_in_another_order_is_exported_in_that_order(client, app):
    tenant, _ = new_tenant(client)
    pristine = template_state(app)
    doc = json.loads(client.get(STATE, params={"tenant": tenant}).content)
    followers = doc["vendors"]["gravitec"]["sites"]["main"]["followers"]
    followers.reverse()
    followers[0]["tags"] = ["reordered"]
    r = client.put(STATE, content=json.dumps(doc).encode(), params={"tenant": tenant})
    assert r.status_code == 200, r.text
    assert export(client, tenant)["sites"]["main"]["followers"] == followers
    s = site(app, tenant=tenant)
    assert set(s.tagged("reordered")) == {followers[0]["regId"]}
    assert template_state(app) == pristine
