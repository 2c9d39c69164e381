"""State snapshots: GET/PUT /__admin/state. Export -> import -> export is byte-identical, a
snapshot moves between tenants and keeps working there, and a bad one changes nothing."""
from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mockserver import Clock, create_app
from mockserver.core.clock import parse_iso
from mockserver.core.state import StateError

from ..conftest import DOC_TIME, MockClient
from ..groove.conftest import GRAPHQL, bearer, tokens_for
from ..integry.conftest import call as integry_call
from ..integry.conftest import headers as integry_headers

STATE = "/__admin/state"
GRAVITEC = ("1e26f7bb3f81e1ab789d3e20b9cf6325", "9bb59fcbff38b85647c421c65cca06ce")
GRAVY = {"client_id": "gravy-sandbox-client", "client_secret": "gravy-sandbox-secret"}
FIND = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
        "{ id name emailAddress } }")


def export(client, tenant: str | None = None) -> bytes:
    r = client.get(STATE, params={"tenant": tenant} if tenant else None)
    assert r.status_code == 200, r.text
    return r.content


def put(client, body: bytes | Any, tenant: str | None = None):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.put(STATE, content=content, params={"tenant": tenant} if tenant else None)


def gravy_token(client, creds=GRAVY) -> str:
    r = client.post("/gravy/oauth/token", json={"grant_type": "client_credentials", **creds})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def exercise(client) -> dict[str, Any]:
    """Real calls through every vendor; what they handed out, to use after an import."""
    out: dict[str, Any] = {}
    # Gravy: a token, an intent token (a new connection) walked to data_available, a read.
    token = out["gravy_token"] = gravy_token(client)
    r = client.post("/gravy/intent-token", headers={"Authorization": f"Bearer {token}"},
                    json={"integrationId": "audible", "userId": "u1",
                          "resources": {"readingHistory": {"read": {"limit": 3}}}})
    assert r.status_code == 201, r.text
    out["intent"] = r.json()
    conn = r.json()["connectionId"]
    r = client.post(f"/__admin/gravy/connections/{conn}/status",
                    json={"status": "data_available"})
    assert r.status_code == 200, r.text
    r = client.get(f"/gravy/connections/{conn}/reading-history",
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    out["reading"] = r.json()
    # Gravitec: a follower, a tag and an alias, a push now and one scheduled.
    r = client.post("/__admin/gravitec/subscribers", json={"regId": "reg-1", "tags": ["a"]})
    assert r.status_code == 201, r.text
    assert client.post("/gravitec/api/v3/tag", params={"regId": "reg-1", "name": "vip"},
                       auth=GRAVITEC).status_code == 200
    assert client.post("/gravitec/api/v3/alias", params={"regId": "reg-1", "name": "al-1"},
                       auth=GRAVITEC).status_code == 200
    push = {"payload": {"message": "hi", "title": "T", "redirect_url": "https://example.com"},
            "audience": {"tags": ["vip"]}}
    r = client.post("/gravitec/api/v3/push", json=push, auth=GRAVITEC)
    assert r.status_code == 200, r.text
    out["campaign"] = r.json()["id"]
    later = int(client.app.clock.time() * 1000) + 3_600_000
    r = client.post("/gravitec/api/v3/push", json={**push, "send_date": later}, auth=GRAVITEC)
    assert r.status_code == 200, r.text
    out["scheduled"] = r.json()["id"]
    # Groove: OAuth, a person, addPersonToFlow, a rate limit.
    out["groove"] = tokens_for(client)
    r = client.post("/__admin/groove/people", json={"name": "Ada", "emailAddress": "a@x.io",
                                                    "salesforceId": "003SNAP"})
    assert r.status_code == 201, r.text
    out["person"] = r.json()["id"]
    r = client.post(GRAPHQL, headers=bearer(out["groove"]["access_token"]), json={
        "query": 'mutation { addPersonToFlow(input: {flowId: "1002", personId: "%s"}) '
                 "{ personFlow { person { name } } } }" % out["person"]})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert client.post("/__admin/groove/rate-limit", json={"limit": 7}).status_code == 200
    # Integry: a connected account, a Slack message, a HubSpot contact.
    r = client.post("/__admin/integry/connected-accounts", json={"userId": "123456",
                                                                 "app": "hubspot"})
    assert r.status_code == 201, r.text
    r = integry_call(client, "/functions/hubspot-create-contact/call/",
                     {"properties": {"email": "c@example.com"}})
    assert r.json()["network_code"] == "201", r.text
    client.post("/__admin/integry/connected-accounts", json={"userId": "123456",
                                                            "app": "slack"})
    r = integry_call(client, "/functions/slack-post-message/call/",
                     {"channel": "random", "text": "snap"})
    assert r.status_code == 200, r.text
    return out


def test_a_fresh_tenant_roundtrips_byte_identical(client):
    first = export(client)
    doc = json.loads(first)
    assert doc["version"] == 1 and doc["tenant"] == "default"
    assert sorted(doc["vendors"]) == ["gravitec", "gravy", "groove", "integry", "passage"]
    r = put(client, first)
    assert r.status_code == 200 and r.json() == {"imported": "default"}
    assert export(client) == first


def test_roundtrip_after_calls_through_every_vendor_and_the_sandbox_behaves_the_same(client):
    handed = exercise(client)
    first = export(client)
    client.post("/__admin/reset", json={})           # forget it all, then restore it
    assert export(client) != first
    assert put(client, first).status_code == 200
    assert export(client) == first
    # What clients hold keeps working: tokens, the intent token's short code, the data.
    auth = {"Authorization": f"Bearer {handed['gravy_token']}"}
    intent = handed["intent"]
    r = client.get("/gravy/intent-token", params={"shortCode": intent["shortToken"]})
    assert r.status_code == 200 and r.json()["intentToken"] == intent["intentToken"]
    r = client.get(f"/gravy/connections/{intent['connectionId']}/reading-history", headers=auth)
    assert r.status_code == 200 and r.json() == handed["reading"]
    r = client.get(f"/gravitec/api/v3/messages/{handed['campaign']}", auth=GRAVITEC)
    assert r.status_code == 200 and r.json()["send"] == 1
    r = client.get("/gravitec/api/v3/alias", params={"regId": "reg-1"}, auth=GRAVITEC)
    assert r.json()["alias"] == "al-1"
    r = client.post(GRAPHQL, headers=bearer(handed["groove"]["access_token"]),
                    json={"query": FIND, "variables": {"sf": "003SNAP"}})
    assert r.json()["data"]["findPersonBySalesforceId"]["name"] == "Ada"
    assert r.headers["x-ratelimit-limit"] == "7"
    # The scheduled push still goes out when the clock passes it.
    client.app.clock.advance(3601)
    r = client.get(f"/gravitec/api/v3/messages/{handed['scheduled']}", auth=GRAVITEC)
    assert r.json()["status"] == "SENT"


def test_a_snapshot_moves_to_another_tenant_which_keeps_its_credentials(client):
    handed = exercise(client)
    source = export(client)
    r = client.post("/__admin/tenants")
    b, creds = r.json()["id"], r.json()["credentials"]
    assert put(client, source, tenant=b).json() == {"imported": b}
    moved_raw = export(client, b)
    moved = json.loads(moved_raw)
    assert moved["tenant"] == b
    # The Groove person added in the default tenant is found with B's own OAuth client.
    token = tokens_for(client, creds["groove"]["clientId"], creds["groove"]["clientSecret"])
    r = client.post(GRAPHQL, headers=bearer(token["access_token"]),
                    json={"query": FIND, "variables": {"sf": "003SNAP"}})
    assert r.json()["data"]["findPersonBySalesforceId"]["name"] == "Ada"
    # Gravitec: B's main site (B's keys) holds the follower; Integry: B's signed user too.
    b_site = (creds["gravitec"]["appKey"], creds["gravitec"]["appSecret"])
    r = client.get("/gravitec/api/v3/alias", params={"regId": "reg-1"}, auth=b_site)
    assert r.status_code == 200 and r.json()["alias"] == "al-1"
    ic = creds["integry"]
    r = client.post("/integry/functions/hubspot-list-contacts/call/", json={},
                    headers=integry_headers(ic["userId"], ic["appKey"], ic["appSecret"]))
    assert [c["properties"]["email"] for c in r.json()["output"]["results"]] == \
        ["c@example.com"]
    # Tokens moved with it, re-issued for B: they name B, and open B's data only.
    gravy_b = [t["token"] for t in moved["vendors"]["gravy"]["tokens"]]
    assert gravy_b == [f"{b}.{handed['gravy_token']}"]
    refresh = moved["vendors"]["groove"]["refresh"][0]["key"]
    r = client.post("/groove/oauth/token", json={
        "grant_type": "refresh_token", "refresh_token": refresh,
        "client_id": creds["groove"]["clientId"], "client_secret": creds["groove"]["clientSecret"]})
    assert r.status_code == 200, r.text                 # B's client owns the moved grants
    r = client.get("/gravy/connections", headers={"Authorization": f"Bearer {gravy_b[0]}"})
    assert r.status_code == 200
    assert client.app.journal.filter(vendor="gravy")[0].tenant == b
    intent_b = moved["vendors"]["gravy"]["intents"][0]["token"]
    r = client.post("/gravy/intent-token/validate", json={"intentToken": intent_b})
    assert r.status_code in (200, 201), r.text
    # B's credentials did not change (above they opened B's data); and B's export, imported
    # back into the default tenant, is the default tenant's export again.
    assert put(client, moved_raw).status_code == 200
    assert export(client) == source


# -- refusals: 400 and nothing changes ----------------------------------------------------------
def _doc(client) -> dict:
    return json.loads(export(client))


def _mutate(path: list, value: Any):
    def apply(doc: dict) -> dict:
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        elif callable(value):
            target[path[-1]] = value(target[path[-1]])
        else:
            target[path[-1]] = value
        return doc
    return apply


_DELETE = object()
V = ["vendors"]
BAD_DOCS = {
    "wrong version": _mutate(["version"], 2),
    "a vendor missing": _mutate(V + ["groove"], _DELETE),
    "an unknown vendor": _mutate(V + ["other"], {}),
    "a wrong type": _mutate(V + ["groove", "nextPerson"], "51"),
    "an unknown status": _mutate(V + ["gravy", "connections", 0, "status"], "done"),
    "an unknown site role": _mutate(V + ["gravitec", "sites", "third"], {}),
    "a huge counter": _mutate(V + ["integry", "nextAccount"], 10**20),
    "an instant past the year 9999": _mutate(V + ["gravy", "tokens"],
                                             [{"token": "x", "scope": "s", "expiresAt": 1e300}]),
    "a membership naming an unknown person": _mutate(
        V + ["groove", "memberships"], lambda ms: ms + [{"flowId": "1002", "personId": "999999",
                                                         "createdAt": DOC_TIME}]),
    "a membership naming an unknown flow": _mutate(
        V + ["groove", "memberships"], lambda ms: ms + [{"flowId": "nope", "personId": "1",
                                                         "createdAt": DOC_TIME}]),
    "duplicate connection ids": _mutate(V + ["gravy", "connections"], lambda cs: cs + cs[:1]),
    "duplicate followers": _mutate(V + ["gravitec", "sites", "main", "followers"],
                                   lambda fs: fs + fs[:1]),
    "duplicate people": _mutate(V + ["groove", "people"], lambda ps: ps + ps[:1]),
    "a person counter that reuses an id": _mutate(V + ["groove", "nextPerson"], 2),
    "an unknown integration": _mutate(V + ["gravy", "connections", 0, "integrationId"], "x"),
    "an unknown app": _mutate(V + ["integry", "workspace"], {"nope": []}),
    "an intent token that is no JWT": _mutate(V + ["gravy", "intents"], [{
        "token": "abc", "shortToken": "0123456789", "connectionId": "c", "resources": {},
        "integrationId": "audible", "returnUrl": None, "exp": 1705318200}]),
    "minted naming no connection": _mutate(V + ["gravy", "minted"], ["conn_nope"]),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCS))
def test_a_bad_snapshot_is_refused_and_changes_nothing(client, case):
    exercise(client)
    before = export(client)
    doc = BAD_DOCS[case](json.loads(before))
    # A valid change in another vendor's part proves the import is all or nothing.
    if case != "wrong version":
        doc["vendors"].get("integry", {})["nextObject"] = 999
    r = put(client, doc)
    assert r.status_code == 400, (case, r.text)
    body = r.json()
    assert set(body) == {"error", "details"} and body["details"], body
    assert all(isinstance(d, str) for d in body["details"])
    assert export(client) == before


RAW_BAD = {
    "not JSON": b'{"version": 1,',
    "empty": b"",
    "not an object": b"[1, 2]",
    "NaN": b'{"version": NaN, "vendors": {}}',
    "Infinity by exponent": b'{"version": 1e400, "vendors": {}}',
    "a 40-digit integer": b'{"version": 1' + b"0" * 40 + b', "vendors": {}}',
    "nested deeply": b'{"version": 1, "vendors": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "duplicate keys": b'{"version": 1, "version": 1, "vendors": {}}',
    "not UTF-8": b'{"version": 1, "tenant": "\xff", "vendors": {}}',
}


@pytest.mark.parametrize("case", sorted(RAW_BAD))
def test_a_body_that_is_no_snapshot_is_refused_and_changes_nothing(client, case):
    before = export(client)
    r = put(client, RAW_BAD[case])
    assert r.status_code == 400, r.text
    assert r.json()["error"] and r.json()["details"]
    assert export(client) == before


def test_a_snapshot_over_the_limit_is_413_unread(client, monkeypatch):
    monkeypatch.setattr("mockserver.admin.STATE_LIMIT", 1000)
    before = export(client)
    r = put(client, before)
    assert r.status_code == 413 and "error" in r.json()
    assert export(client) == before


def test_an_unknown_tenant_is_404(client):
    assert client.get(STATE, params={"tenant": "t_nope"}).status_code == 404
    assert client.put(STATE, params={"tenant": "t_nope"}, content=b"{}").status_code == 404


def test_the_schema_is_served_and_every_export_fits_it(client):
    exercise(client)
    schema = client.get(STATE + "/schema").json()
    Draft202012Validator.check_schema(schema)
    assert not list(Draft202012Validator(schema).iter_errors(json.loads(export(client))))


def test_an_import_keeps_the_bounds_of_the_importing_server(client):
    """A snapshot from a server with more room imports into a smaller one, its oldest tokens,
    connections and campaigns dropped first, as the running server drops them."""
    for _ in range(3):
        gravy_token(client)
        client.post("/gravy/intent-token", headers={"Authorization":
                                                    f"Bearer {gravy_token(client)}"},
                    json={"integrationId": "audible", "resources": {"readingHistory": None}})
    doc = json.loads(export(client))
    small = create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=2)
    c = MockClient(small)
    try:
        assert put(c, doc).status_code == 200
        got = json.loads(export(c))["vendors"]["gravy"]
        assert [t["token"] for t in got["tokens"]] == \
            [t["token"] for t in doc["vendors"]["gravy"]["tokens"]][-2:]
        assert got["minted"] == doc["vendors"]["gravy"]["minted"][-2:]
        ids = {x["id"] for x in got["connections"]}
        assert doc["vendors"]["gravy"]["minted"][0] not in ids
    finally:
        c.close()


def test_more_people_than_the_importing_server_keeps_is_refused(client):
    """People have no "oldest first" to drop, so a snapshot over the bound is refused."""
    for i in range(3):
        assert client.post("/__admin/groove/people", json={
            "name": f"P{i}", "emailAddress": f"p{i}@x.io"}).status_code == 201
    doc = _doc(client)
    c = MockClient(create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=2))
    try:
        before = export(c)
        r = put(c, doc)
        assert r.status_code == 400 and any("--max-sessions" in d for d in r.json()["details"])
        assert export(c) == before
    finally:
        c.close()


def test_more_unminted_connections_than_the_importing_server_keeps_is_refused(client):
    """Connections no intent token opened (the fixtures') have no oldest to drop either."""
    doc = _doc(client)
    conns = doc["vendors"]["gravy"]["connections"]
    small = create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=2)
    most = len(small.vendors["gravy"].template.connections) + 2
    doc["vendors"]["gravy"]["connections"] = [{**conns[0], "id": f"conn_x{i}"}
                                              for i in range(most + 1)]
    c = MockClient(small)
    try:
        before = export(c)
        r = put(c, doc)
        assert r.status_code == 400 and any("--max-sessions" in d for d in r.json()["details"])
        assert export(c) == before
        doc["vendors"]["gravy"]["connections"].pop()      # at the bound: imported
        assert put(c, doc).status_code == 200
    finally:
        c.close()


def test_campaign_ids_stay_unique_after_an_import(client):
    """Ids are server-wide and grow: a campaign minted after an import is numbered after the
    imported ones, even ones minted by a server whose clock ran ahead."""
    doc = _doc(client)
    r = client.post("/gravitec/api/v3/push", auth=GRAVITEC, json={
        "payload": {"message": "m", "redirect_url": "https://e.x"}})
    campaign = json.loads(export(client))["vendors"]["gravitec"]["sites"]["main"]["campaigns"][0]
    ahead = str(2**62)
    doc["vendors"]["gravitec"]["sites"]["main"]["campaigns"] = [{**campaign, "id": ahead}]
    assert put(client, doc).status_code == 200
    r = client.post("/gravitec/api/v3/push", auth=GRAVITEC, json={
        "payload": {"message": "m", "redirect_url": "https://e.x"}})
    assert int(r.json()["id"]) > 2**62
    assert client.get(f"/gravitec/api/v3/messages/{ahead}", auth=GRAVITEC).status_code == 200


@pytest.mark.parametrize("when", ["2085-01-01T00:00:00Z", "8999-12-31T23:59:59Z"])
def test_campaigns_minted_late_on_the_mock_clock_roundtrip(client, when):
    """Snowflake-style ids outgrow a Java long (19 digits) after 2079 and reach 22 digits by the
    clock's end: the server's own export must import back."""
    assert client.post("/__admin/clock", json={"set": when}).status_code == 200
    r = client.post("/gravitec/api/v3/push", auth=GRAVITEC, json={
        "payload": {"message": "m", "redirect_url": "https://e.x"}})
    assert r.status_code == 200 and int(r.json()["id"]) > 2**63
    first = export(client)
    assert put(client, first).status_code == 200, put(client, first).text
    assert export(client) == first


def test_create_app_loads_a_snapshot_into_the_default_tenant(client):
    exercise(client)
    doc = json.loads(export(client))
    other = create_app(seed=0, clock=Clock(DOC_TIME), state=doc)
    c = MockClient(other)
    try:
        assert export(c) == export(client)
    finally:
        c.close()
    doc["vendors"]["groove"]["nextPerson"] = 1
    with pytest.raises(StateError) as exc:
        create_app(seed=0, clock=Clock(DOC_TIME), state=doc)
    assert any("nextPerson" in d for d in exc.value.details)


# -- any history roundtrips -----------------------------------------------------------------------
@functools.cache
def _app():
    """One app for every example (reset between them): building one per example is slow."""
    return create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=5)


_OPS = st.one_of(
    st.tuples(st.just("follower"), st.sampled_from(["r1", "r2", "r3"]),
              st.lists(st.sampled_from(["a", "B", "b", "ü"]), max_size=3),
              st.sampled_from([None, "al"])),
    st.tuples(st.just("push"), st.integers(0, 7200)),
    st.tuples(st.just("person"), st.sampled_from(["x", "y"])),
    st.tuples(st.just("flow"), st.sampled_from(["1", "2", "51"]),
              st.sampled_from(["1001", "1002"])),
    st.tuples(st.just("groove-token")),
    st.tuples(st.just("gravy-intent"), st.sampled_from(["connected", "data_available", "failed"])),
    st.tuples(st.just("account"), st.sampled_from(["u1", "u2", "123456"]),
              st.sampled_from(["slack", "hubspot"])),
    st.tuples(st.just("contact"), st.text(max_size=5)),
    st.tuples(st.just("advance"), st.integers(1, 8000)),
)


def _run(client, op: tuple) -> None:
    kind, *args = op
    clock = client.app.clock
    if kind == "follower":
        body = {"regId": args[0], "tags": args[1], **({"alias": args[2]} if args[2] else {})}
        client.post("/__admin/gravitec/subscribers", json=body)
    elif kind == "push":
        push = {"payload": {"message": "m", "redirect_url": "https://e.x"},
                "send_date": int(clock.time() * 1000) + args[0] * 1000 + 1}
        client.post("/gravitec/api/v3/push", json=push, auth=GRAVITEC)
    elif kind == "person":
        client.post("/__admin/groove/people", json={"name": args[0], "emailAddress": "e@x.io"})
    elif kind == "flow":
        token = tokens_for(client)["access_token"]
        client.post(GRAPHQL, headers=bearer(token), json={
            "query": 'mutation { addPersonToFlow(input: {flowId: "%s", personId: "%s"}) '
                     "{ personFlow { createdAt } } }" % (args[1], args[0])})
    elif kind == "groove-token":
        tokens_for(client)
    elif kind == "gravy-intent":
        r = client.post("/gravy/intent-token", headers={"Authorization": "Publishable "
                                                        "pk-test-sandbox"},
                        json={"integrationId": "audible", "resources": {"history": None}})
        client.post(f"/__admin/gravy/connections/{r.json()['connectionId']}/status",
                    json={"status": args[0]})
    elif kind == "account":
        client.post("/__admin/integry/connected-accounts", json={"userId": args[0],
                                                                 "app": args[1]})
    elif kind == "contact":
        integry_call(client, "/functions/hubspot-create-contact/call/",
                     {"properties": {"firstname": args[0]}})
    else:
        clock.advance(args[0])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_OPS, max_size=8))
def test_any_history_roundtrips_byte_identical(ops):
    client = MockClient(_app())
    try:
        client.app.clock.set(parse_iso(DOC_TIME))
        client.post("/__admin/reset", json={})
        for op in ops:
            _run(client, op)
        first = export(client)
        # Into a second tenant and back: tokens are re-issued for it, then for the default
        # tenant again, so even they come back byte for byte.
        b = client.post("/__admin/tenants").json()["id"]
        assert put(client, first, tenant=b).status_code == 200
        assert put(client, export(client, b)).status_code == 200
        assert export(client) == first
        client.delete(f"/__admin/tenants/{b}")
    finally:
        client.close()


def test_a_tenant_deleted_while_its_import_is_checked_is_404_not_imported(monkeypatch):
    """The check runs in a worker thread while the loop serves other calls: a DELETE of the
    tenant in between must not be answered by "imported" into a tenant that is gone."""
    import asyncio
    import threading

    import httpx

    from mockserver.core.state import Importer

    app = create_app(seed=0, clock=Clock(DOC_TIME))
    started, go_on = threading.Event(), threading.Event()
    prepare = Importer.prepare

    def slow(self, doc, tenant):
        started.set()
        go_on.wait(5)
        return prepare(self, doc, tenant)

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as http:
            tid = (await http.post("/__admin/tenants")).json()["id"]
            snap = (await http.get(STATE, params={"tenant": tid})).content
            monkeypatch.setattr(Importer, "prepare", slow)
            importing = asyncio.create_task(http.put(STATE, params={"tenant": tid}, content=snap))
            assert await asyncio.to_thread(started.wait, 5)
            assert (await http.delete(f"/__admin/tenants/{tid}")).status_code == 204
            go_on.set()
            r = await importing
            assert r.status_code == 404 and tid in r.json()["error"], r.text
            assert app.tenants.get(tid) is None

    asyncio.run(scenario())


# -- any mutation of a real snapshot: 400 and nothing changed, or an import that roundtrips ------
@functools.cache
def _exercised() -> tuple[Any, bytes, list[tuple]]:
    """One app after real calls through every vendor, its export and a path to every place in
    its schema (the first item of each list stands for the rest: each place as likely)."""
    client = MockClient(create_app(seed=0, clock=Clock(DOC_TIME), max_sessions=5))
    try:
        exercise(client)
        raw = export(client)
    finally:
        client.close()
    paths: list[tuple] = []

    def walk(node: Any, path: tuple) -> None:
        paths.append(path)
        items = node.items() if isinstance(node, dict) else \
            enumerate(node[:1]) if isinstance(node, list) else ()
        for k, v in items:
            walk(v, path + (k,))
    walk(json.loads(raw), ())
    return client.app, raw, paths[1:]


_HOSTILE = st.one_of(
    st.sampled_from([None, True, 0, -1, 0.5, 1e308, -1e308, 10**29, 2**63, 2**72 + 1,
                     253402300800, "", "x", "\ud800", "ü💥", "9" * 23, [], {}, [[[[]]]], {"": {}}]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                 | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_mutated_snapshot_is_refused_cleanly_or_roundtrips(data):
    app, base, paths = _exercised()
    client = MockClient(app)
    try:
        _mutate_and_import(client, base, paths, data)
    finally:
        client.close()


def _mutate_and_import(client, base: bytes, paths: list[tuple], data) -> None:
    doc = json.loads(base)
    for _ in range(data.draw(st.integers(1, 3))):
        *parent, key = data.draw(st.sampled_from(paths))
        target = doc
        try:
            for k in parent:
                target = target[k]
            op = data.draw(st.sampled_from(["set", "set", "drop", "twice", "extra"]))
            if op == "set":
                target[key] = data.draw(_HOSTILE)
            elif op == "drop":
                del target[key]
            elif op == "twice" and isinstance(target, list):
                target.append(target[key])
            elif isinstance(target, dict):
                target["extra"] = data.draw(_HOSTILE)
        except (KeyError, IndexError, TypeError):  # an earlier mutation moved this path
            pass
    r = put(client, json.dumps(doc).encode())
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"] and all(isinstance(d, str) for d in r.json()["details"])
        assert export(client) == base
        return
    imported = export(client)
    assert put(client, imported).status_code == 200
    assert export(client) == imported
    assert put(client, base).status_code == 200          # back for the next example


def test_concurrent_imports_are_checked_one_at_a_time(monkeypatch):
    """Each import holds a parsed snapshot of up to 64 MiB: however many PUTs arrive at once,
    one is read and checked at a time, and each still lands."""
    import asyncio
    import threading
    import time

    import httpx

    from mockserver.core.state import Importer

    app = create_app(seed=0, clock=Clock(DOC_TIME))
    prepare, lock, running, most = Importer.prepare, threading.Lock(), [0], [0]

    def counted(self, doc, tenant):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        try:
            return prepare(self, doc, tenant)
        finally:
            with lock:
                running[0] -= 1

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as http:
            ids = [(await http.post("/__admin/tenants")).json()["id"] for _ in range(3)]
            snap = (await http.get(STATE)).content
            monkeypatch.setattr(Importer, "prepare", counted)
            answers = await asyncio.gather(*(http.put(STATE, params={"tenant": t},
                                                      content=snap) for t in ids))
        assert [r.json() for r in answers] == [{"imported": t} for t in ids]

    asyncio.run(scenario())
    assert most[0] == 1
