"""The Gravitec control plane: POST /__admin/gravitec/subscribers, and its credentials."""
from __future__ import annotations

import pytest

from mockserver import create_app
from tests.conftest import MockClient

from .conftest import APP_KEY, APP_SECRET, BASE, FREE, SANDBOX, add_subscriber, documented, \
    push, push_body, site, stats

URL = "/__admin/gravitec/subscribers"


def alias_of(client, reg_id: str, auth=SANDBOX) -> dict:
    r = client.get(f"{BASE}/alias", params={"regId": reg_id}, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()


def reached(client, audience, auth=SANDBOX) -> int:
    r = push(client, {**push_body(), "audience": audience}, auth=auth)
    assert r.status_code == 200, r.text
    return stats(client, r.json()["id"], auth=auth).json()["send"]


def snapshot(app) -> dict:
    vendor = app.vendors["gravitec"]
    return {t.id: vendor.snapshot(t.stores["gravitec"]) for t in app.tenants}


def new_tenant(client) -> dict:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()


# -- adding and replacing ------------------------------------------------------------------------
def test_add_then_replace_a_follower(client, app):
    r = add_subscriber(client, regId="new-follower", tags=["Sports", "sports", "SPORTS", "Tech"],
                       alias="my-alias", active=False)
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"tenant": "default", "site": "main", "regId": "new-follower",
                        "active": False, "tags": ["Sports", "Tech"], "alias": "my-alias"}
    assert alias_of(client, "new-follower") == {"regIdExists": "true", "aliasExists": "true",
                                                "isActiveFollower": "false", "alias": "my-alias"}
    assert reached(client, {"tokens": ["new-follower"]}) == 0   # inactive

    r = add_subscriber(client, regId="new-follower")
    assert r.status_code == 200
    assert r.json() == {"tenant": "default", "site": "main", "regId": "new-follower",
                        "active": True, "tags": [], "alias": None}
    assert alias_of(client, "new-follower") == {"regIdExists": "true", "aliasExists": "false",
                                                "isActiveFollower": "true"}
    assert reached(client, {"tokens": ["new-follower"]}) == 1
    assert reached(client, {"aliases": ["my-alias"]}) == 0       # the old alias went with it
    assert site(app).followers["new-follower"].tags == []


def test_a_new_follower_is_an_audience_at_once(client, app):
    before = reached(client, {"tags": ["tag1"]})
    assert add_subscriber(client, regId="tagged", tags=["TAG1"], alias="solo").status_code == 201
    assert reached(client, {"tags": ["tag1"]}) == before + 1
    assert reached(client, {"aliases": ["solo"]}) == 1
    r = client.post(f"{BASE}/tag", params={"regId": "tagged", "name": "tag1"}, auth=SANDBOX)
    assert r.status_code == 200
    assert site(app).followers["tagged"].tags == ["TAG1"]


def test_replacing_a_fixture_follower_drops_its_tags_and_alias(client):
    assert reached(client, {"tags": ["tagname"]}) == 1   # only someregid holds it
    r = add_subscriber(client, regId="someregid", tags=["other"], alias="renamed")
    assert r.status_code == 200
    assert reached(client, {"tags": ["tagname"]}) == 0
    assert reached(client, {"tags": ["other"]}) == 1
    assert alias_of(client, "someregid")["alias"] == "renamed"
    r = client.delete(f"{BASE}/tag", params={"regId": "someregid", "name": "tag1"}, auth=SANDBOX)
    assert r.status_code == 422
    assert r.json() == documented("tag-not-on-follower.response")


def test_regid_of_255_characters_and_odd_characters(client):
    for reg_id in ("r" * 255, "a b&c=d#e%f+g", "日本語"):
        assert add_subscriber(client, regId=reg_id).status_code == 201
        assert alias_of(client, reg_id)["regIdExists"] == "true"
        r = client.post(f"{BASE}/alias", params={"regId": reg_id, "name": "x"}, auth=SANDBOX)
        assert r.status_code == 200
        assert alias_of(client, reg_id)["alias"] == "x"


def test_free_site(client, app):
    main_before = site(app).snapshot()
    r = add_subscriber(client, regId="free-follower", tags=["tag1"], site="free")
    assert r.status_code == 201
    assert r.json()["site"] == "free"
    assert "free-follower" in site(app, "free").followers
    assert site(app).snapshot() == main_before
    assert alias_of(client, "free-follower", auth=FREE)["regIdExists"] == "true"
    assert alias_of(client, "free-follower") == documented("alias-no-regid.response")
    r = add_subscriber(client, regId="free-follower", site="main")
    assert r.status_code == 201  # a different site: a different follower


def test_named_tenant_only(client, app):
    tenant = new_tenant(client)
    creds = tenant["credentials"]["gravitec"]
    theirs = (creds["appKey"], creds["appSecret"])
    default_before = snapshot(app)["default"]
    r = add_subscriber(client, regId="their-follower", tags=["t"], tenant=tenant["id"])
    assert r.status_code == 201
    assert r.json() == {"tenant": tenant["id"], "site": "main", "regId": "their-follower",
                        "active": True, "tags": ["t"], "alias": None}
    assert snapshot(app)["default"] == default_before
    assert alias_of(client, "their-follower", auth=theirs)["regIdExists"] == "true"
    assert alias_of(client, "their-follower")["regIdExists"] == "false"
    r = add_subscriber(client, regId="their-follower", tenant=tenant["id"])
    assert r.status_code == 200


# -- refusals ------------------------------------------------------------------------------------
REGID = "regId must be a string of 1 to 255 characters"
TAGS = "tags must be a list of strings of 1 to 255 characters"
TOO_MANY = "a follower has at most 256 tags"
ALIAS = "alias must be a string of 1 to 255 characters"
SITE = "site must be one of: free, main"


@pytest.mark.parametrize("body, status, error", [
    ({}, 400, REGID),
    ({"tags": ["x"]}, 400, REGID),
    ({"regId": "r" * 256}, 400, REGID),
    ({"regId": ""}, 400, REGID),
    ({"regId": 5}, 400, REGID),
    ({"regId": None}, 400, REGID),
    ({"regId": "x", "tags": "tag1"}, 400, TAGS),
    ({"regId": "x", "tags": {"a": 1}}, 400, TAGS),
    ({"regId": "x", "tags": [1]}, 400, TAGS),
    ({"regId": "x", "tags": [""]}, 400, TAGS),
    ({"regId": "x", "tags": ["t" * 256]}, 400, TAGS),
    ({"regId": "x", "tags": [f"t{i}" for i in range(257)]}, 400, TOO_MANY),
    ({"regId": "x", "active": "true"}, 400, "active must be true or false"),
    ({"regId": "x", "active": 1}, 400, "active must be true or false"),
    ({"regId": "x", "active": None}, 400, "active must be true or false"),
    ({"regId": "x", "alias": ""}, 400, ALIAS),
    ({"regId": "x", "alias": "a" * 256}, 400, ALIAS),
    ({"regId": "x", "alias": 7}, 400, ALIAS),
    ({"regId": "x", "site": "nope"}, 400, SITE),
    ({"regId": "x", "site": "MAIN"}, 400, SITE),
    ({"regId": "x", "site": 1}, 400, SITE),
    ({"regId": "x", "tenant": "t_nope"}, 404, "no tenant t_nope"),
    ({"regId": "x", "tenant": 5}, 404, "no tenant 5"),
    ({"regId": "someregid", "tags": "x"}, 400, TAGS),   # a replacement refused keeps the old
])
def test_bad_input_changes_nothing(client, app, body, status, error):
    before = snapshot(app)
    r = add_subscriber(client, **body)
    assert r.status_code == status
    assert r.json() == {"error": error}
    assert snapshot(app) == before


@pytest.mark.parametrize("content, error", [(b"not json", "the body must be JSON"),
                                            (b"[1]", "the body must be a JSON object"),
                                            (b'{"regId": NaN}', "the body must be JSON")])
def test_unreadable_body(client, app, content, error):
    before = snapshot(app)
    r = client.post(URL, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": error}
    assert snapshot(app) == before


def test_tags_are_counted_after_case_insensitive_duplicates_go(client, app):
    r = add_subscriber(client, regId="many", tags=["t"] * 257 + ["T"] + [f"u{i}" for i in range(255)])
    assert r.status_code == 201
    assert r.json()["tags"] == ["t"] + [f"u{i}" for i in range(255)]


def test_only_post(client):
    r = client.get(URL)
    assert r.status_code == 405
    assert r.json() == {"error": f"no admin endpoint GET {URL}"}


def test_site_is_bounded_by_max_sessions(clock):
    client = MockClient(create_app(seed=0, clock=clock, max_sessions=2))
    try:
        assert add_subscriber(client, regId="one").status_code == 201
        assert add_subscriber(client, regId="two").status_code == 201
        r = add_subscriber(client, regId="three")
        assert r.status_code == 409
        assert r.json() == {"error": "site main holds its maximum of 308 followers "
                                     "(--max-sessions)"}
        assert add_subscriber(client, regId="two", alias="still").status_code == 200
        assert add_subscriber(client, regId="someregid").status_code == 200
        assert add_subscriber(client, regId="three", site="free").status_code == 201
    finally:
        client.close()


def test_admin_token_protects_it(clock):
    client = MockClient(create_app(seed=0, clock=clock, admin_token="s3cret"))
    try:
        assert add_subscriber(client, regId="x").status_code == 401
        r = client.post(URL, json={"regId": "x"}, headers={"X-Admin-Token": "s3cret"})
        assert r.status_code == 201
    finally:
        client.close()


# -- credentials ---------------------------------------------------------------------------------
def test_credentials_are_the_specs(client):
    r = client.get("/__admin/credentials")
    assert r.status_code == 200
    assert r.json()["gravitec"] == {"appKey": "1e26f7bb3f81e1ab789d3e20b9cf6325",
                                    "appSecret": "9bb59fcbff38b85647c421c65cca06ce"}
    assert (APP_KEY, APP_SECRET) == SANDBOX == tuple(r.json()["gravitec"].values())

