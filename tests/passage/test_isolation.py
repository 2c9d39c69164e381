"""Invariants (hypothesis): tenants never see each other's links; the list holds every link of
its tenant exactly once; bad input never answers 500 and changes no state."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import (A_QUICKSTART, B_EXAMPLE, PREFIX, SKILL_MULTI, SKILL_SINGLE, api_key_of,
                       bearer, body)

LINKS = f"{PREFIX}/v1/links"
FIXTURE_SETTINGS = settings(max_examples=25, deadline=None,
                            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
BODIES = [body(b, webhookUrl=None) for b in (A_QUICKSTART, SKILL_SINGLE, SKILL_MULTI, B_EXAMPLE)]


def tenant_auth(client) -> tuple[str, dict[str, str]]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()["id"], bearer(api_key_of(r.json()["credentials"]["passage"]))


def one_tenant(client) -> tuple[str, dict[str, str]]:
    """A tenant of this app's own, made once: the bad-input tests compare its state before and
    after each example, so examples can share it."""
    if not hasattr(client, "passage_tenant"):
        client.passage_tenant = tenant_auth(client)
    return client.passage_tenant


def listed(client, auth) -> list[str]:
    r = client.get(LINKS, headers=auth)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["links"]]


def state(client, tenant: str | None = None) -> Any:
    r = client.get("/__admin/state" + (f"?tenant={tenant}" if tenant else ""))
    assert r.status_code == 200
    return r.json()


# -- tenants ------------------------------------------------------------------------------------
ACTIONS = st.lists(st.tuples(st.sampled_from(["create", "claim", "complete", "fail", "peek"]),
                             st.integers(0, 1), st.integers(0, len(BODIES) - 1)),
                   min_size=1, max_size=12)


@FIXTURE_SETTINGS
@given(actions=ACTIONS)
def test_tenants_never_see_each_others_links(client, actions):
    tenants = [tenant_auth(client), tenant_auth(client)]
    owned: list[list[dict]] = [[], []]
    for action, who, pick in actions:
        tid, auth = tenants[who]
        mine = owned[who]
        if action == "create":
            r = client.post(LINKS, json=BODIES[pick], headers=auth)
            assert r.status_code == 201, r.text
            mine.append(r.json())
        elif mine and action == "claim":
            # claim codes are public: whoever holds one claims that tenant's link
            code = mine[pick % len(mine)]["claimCode"]
            r = client.post(f"{PREFIX}/link/claim", json={"code": code})
            assert r.status_code in (200, 409), r.text
        elif mine and action in ("complete", "fail"):
            link = mine[pick % len(mine)]["linkId"]
            r = client.post(f"/__admin/passage/links/{link}/{action}", json={"tenant": tid})
            assert r.status_code in (200, 409), r.text
            # the other tenant cannot drive it
            r = client.post(f"/__admin/passage/links/{link}/{action}",
                            json={"tenant": tenants[1 - who][0]})
            assert r.status_code == 404, r.text
        theirs = owned[1 - who]
        if theirs:  # every read of another tenant's link is the unknown-link answer
            other = theirs[pick % len(theirs)]["linkId"]
            r = client.get(f"{LINKS}/{other}", headers=auth)
            assert r.status_code == 404 and r.json() == {"error": "Link not found"}
    for (tid, auth), mine in zip(tenants, owned):
        ids = listed(client, auth)
        assert len(ids) == len(set(ids))  # each exactly once
        assert sorted(ids) == sorted(m["linkId"] for m in mine)
        for m in mine:
            assert client.get(f"{LINKS}/{m['linkId']}", headers=auth).status_code == 200


@FIXTURE_SETTINGS
@given(n=st.integers(0, 30))
def test_the_list_covers_every_link_exactly_once(client, n):
    _, auth = tenant_auth(client)
    made = [client.post(LINKS, json=BODIES[i % len(BODIES)], headers=auth).json()["linkId"]
            for i in range(n)]
    ids = listed(client, auth)
    assert len(ids) == len(set(ids)) == n
    assert set(ids) == set(made)


# -- bad input ---------------------------------------------------------------------------------
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)
FIELDS = ["integrationId", "resource", "action", "arguments", "operations", "webhookUrl",
          "returnUrl", "externalUserId", "debug", "expiresIn"]
# a documented body with some fields replaced by anything
MUTATED = st.builds(lambda base, changes: {**base, **changes},
                    st.sampled_from(BODIES),
                    st.dictionaries(st.sampled_from(FIELDS), JSON, min_size=1, max_size=3))


@FIXTURE_SETTINGS
@given(sent=st.one_of(JSON, MUTATED))
def test_bad_create_bodies_answer_400_and_change_nothing(client, sent):
    tid, auth = one_tenant(client)
    before = state(client, tid)
    r = client.post(LINKS, content=json.dumps(sent), headers={**auth,
                                                               "Content-Type": "application/json"})
    assert r.status_code in (201, 400), r.text
    if r.status_code == 400:
        assert isinstance(r.json()["error"], str)
        assert state(client, tid) == before


@FIXTURE_SETTINGS
@given(raw=st.binary(max_size=64))
def test_bytes_that_are_not_json_change_nothing(client, raw):
    tid, auth = one_tenant(client)
    before = state(client, tid)
    r = client.post(LINKS, content=raw, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code in (201, 400), r.text
    if r.status_code != 201:
        assert state(client, tid) == before


@FIXTURE_SETTINGS
@given(sent=JSON)
def test_bad_claims_change_nothing(client, sent):
    tid, auth = one_tenant(client)
    made = client.post(LINKS, json=BODIES[0], headers=auth)
    assert made.status_code == 201
    before = state(client, tid)
    r = client.post(f"{PREFIX}/link/claim", content=json.dumps(sent),
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 404), r.text
    assert state(client, tid) == before


@FIXTURE_SETTINGS
@given(sent=st.dictionaries(st.sampled_from(["code", "message", "operation", "result"]), JSON,
                            max_size=3))
def test_bad_outcomes_change_nothing(client, sent):
    tid, auth = one_tenant(client)
    made = client.post(LINKS, json=BODIES[2], headers=auth).json()
    assert client.post(f"{PREFIX}/link/claim", json={"code": made["claimCode"]}).status_code == 200
    before = state(client, tid)
    # content=, not json=: httpx refuses NaN and infinities, which a hostile client can send
    r = client.post(f"/__admin/passage/links/{made['linkId']}/fail",
                    content=json.dumps({**sent, "tenant": tid}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert state(client, tid) == before


@FIXTURE_SETTINGS
@given(link_id=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and "?" not in s
                                                       and "#" not in s
                                                       and s.strip(".") != ""))
def test_any_unknown_link_id_is_the_documented_404(client, link_id):
    _, auth = one_tenant(client)
    before = state(client)
    r = client.get(f"{LINKS}/{quote(link_id, safe='')}", headers=auth)
    assert r.status_code == 404 and r.json() == {"error": "Link not found"}
    assert state(client) == before
