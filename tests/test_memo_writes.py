"""Memos keyed by a store's version (Gravy's recalled pages and connection orders, Groove's kept
GraphQL answers) are right only while every write moves the version (`GravyStore._changed`,
`GrooveStore.changed`). Every write a client or the control plane can make is listed here, the
list is checked against the routes and mutations the app serves (a new write fails this file
until it is listed), and after each write the live app, memos warm, answers every read exactly
as a twin restored from the live app's export, with no memo at all."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from mockserver import Clock, create_app

from .conftest import DOC_TIME, MockClient
from .gravy.conftest import DOC_CONNECTION, open_connection, set_status, token_for
from .groove.conftest import gql, tokens_for

SFID = "0035e00000Memo01AAA"
FIND = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
        "{ id name emailAddress } }")
DEEP = "{ flows { id steps(first: 10) { edges { node { id name } } } } }"   # needs depth > 4


def gravy_reads(c: MockClient, ctx: dict[str, Any]) -> list[tuple[int, bytes]]:
    auth = {"Authorization": f"Bearer {ctx['gravy']}"}
    urls = ["/gravy/connections?sortBy=updatedAt", "/gravy/connections?sortBy=createdAt",
            f"/gravy/connections/{DOC_CONNECTION}/balances?type=points&limit=5"]
    urls += [f"/gravy/connections/{cid}/balances?limit=5" for cid in ctx["opened"]]
    return [(r.status_code, r.content) for r in (c.get(u, headers=auth, check=False)
                                                 for u in urls)]


def groove_reads(c: MockClient, ctx: dict[str, Any]) -> list[tuple[int, bytes]]:
    return [(r.status_code, r.content) for r in (gql(c, ctx["groove"], FIND, {"sf": SFID}),
                                                 gql(c, ctx["groove"], DEEP),
                                                 gql(c, ctx["groove"], "{ flows { id } }"))]


def _opened(c: MockClient, ctx: dict[str, Any]) -> None:
    ctx["opened"].append(open_connection(c, {"Authorization": f"Bearer {ctx['gravy']}"})
                         ["connectionId"])


def _status(c: MockClient, ctx: dict[str, Any]) -> None:
    assert set_status(c, DOC_CONNECTION, "failed").status_code == 200


def _person(c: MockClient, ctx: dict[str, Any]) -> None:
    r = c.post("/__admin/groove/people", json={"name": "Mo Memo", "emailAddress": "mo@x.io",
                                               "salesforceId": SFID})
    assert r.status_code == 201, r.text


def _add_to_flow(c: MockClient, ctx: dict[str, Any]) -> None:
    r = gql(c, ctx["groove"], 'mutation { addPersonToFlow(input: {flowId: "1002", '
                              'personId: "1"}) { personFlow { createdAt } } }')
    assert "errors" not in r.json(), r.text


def _query_limits(c: MockClient, ctx: dict[str, Any]) -> None:
    assert c.post("/__admin/groove/query-limits", json={"maxDepth": 3}).status_code == 200


def _rate_limit(c: MockClient, ctx: dict[str, Any]) -> None:
    assert c.post("/__admin/groove/rate-limit", json={"limit": 500}).status_code == 200


def _reset(c: MockClient, ctx: dict[str, Any]) -> None:
    assert c.post("/__admin/reset", json={"tenant": "default"}).status_code == 200
    _tokens(c, ctx)   # a reset forgets the tokens too


def _clock(c: MockClient, ctx: dict[str, Any]) -> None:
    assert c.post("/__admin/clock", json={"advance": 7200}).status_code == 200
    _tokens(c, ctx)   # the old ones expired


def _import(c: MockClient, ctx: dict[str, Any]) -> None:
    other = MockClient(create_app(clock=Clock(c.app.clock.now())))
    _person(other, ctx)
    assert set_status(other, DOC_CONNECTION, "failed").status_code == 200
    r = c.put("/__admin/state", content=other.get("/__admin/state").content)
    assert r.status_code == 200, r.text
    other.close()
    _tokens(c, ctx)


def _tokens(c: MockClient, ctx: dict[str, Any]) -> None:
    ctx["gravy"] = token_for(c)
    ctx["groove"] = tokens_for(c)["access_token"]


# (vendor, what) -> the write. `what` is a vendor route "METHOD /path", an admin route
# "METHOD /__admin/...", or a GraphQL "mutation <field>".
WRITES: dict[tuple[str, str], Callable[[MockClient, dict[str, Any]], None]] = {
    ("gravy", "POST /intent-token"): _opened,
    ("gravy", "POST /__admin/gravy/connections/{connection_id}/status"): _status,
    ("groove", "mutation addPersonToFlow"): _add_to_flow,
    ("groove", "POST /__admin/groove/people"): _person,
    ("groove", "POST /__admin/groove/query-limits"): _query_limits,
    ("groove", "POST /__admin/groove/rate-limit"): _rate_limit,
    ("*", "POST /__admin/reset"): _reset,
    ("*", "POST /__admin/clock"): _clock,
    ("*", "PUT /__admin/state"): _import,
}
# Routes that take a body but change nothing a version-keyed memo reads, and why.
NOT_WRITES = {
    ("gravy", "POST /oauth/token"): "mints a token: a page is recalled per token",
    ("gravy", "POST /intent-token/validate"): "reads a session",
    ("gravy", "POST /webhook_verification_key/get"): "reads the key",
    ("groove", "POST /oauth/authorize"): "issues a code, no data a query reads",
    ("groove", "DELETE /oauth/authorize"): "denies: nothing kept",
    ("groove", "POST /oauth/token"): "issues tokens",
    ("groove", "POST /oauth/authorize/token"): "issues tokens",
    ("groove", "POST /oauth/token/refresh"): "issues tokens",
    ("groove", "POST /api/public/v1/graphql"): "a query reads; its mutations are listed one by one",
}
READS = {"gravy": gravy_reads, "groove": groove_reads}


def served_writes(app) -> set[tuple[str, str]]:
    """Every route of the version-memo vendors that is not a GET, and every GraphQL mutation."""
    found = set()
    for name in READS:
        vendor = app.vendors[name]
        for route in vendor.service.router.routes:
            found |= {(name, f"{m} {route.path}") for m in route.methods if m != "GET"}
        for route in vendor.admin_routes():
            found |= {(name, f"{m} /__admin/{name}{route.path}") for m in route.methods
                      if m not in ("GET", "HEAD")}
    mutations = app.vendors["groove"].service.executor.schema.mutation_type.fields
    return found | {("groove", f"mutation {field}") for field in mutations}


def test_every_write_is_listed():
    app = create_app(clock=Clock(DOC_TIME))
    listed = set(WRITES) | set(NOT_WRITES)
    assert served_writes(app) - listed == set()


def twin_of(c: MockClient) -> MockClient:
    """A new app holding the live app's default tenant, restored from its export: every memo
    empty, every store built from the snapshot."""
    twin = MockClient(create_app(clock=Clock(c.app.clock.now())))
    r = twin.put("/__admin/state", content=c.get("/__admin/state").content)
    assert r.status_code == 200, r.text
    return twin


@pytest.mark.parametrize("write", list(WRITES), ids=lambda w: f"{w[0]} {w[1]}")
def test_after_each_write_memoised_reads_answer_as_a_fresh_store(write):
    c = MockClient(create_app(clock=Clock(DOC_TIME)))
    ctx: dict[str, Any] = {"opened": []}
    _tokens(c, ctx)
    _opened(c, ctx)                     # a connection that moves through its lifecycle
    for _ in range(2):                  # the second round is answered from the memos
        for reads in READS.values():
            reads(c, ctx)
    WRITES[write](c, ctx)
    twin = twin_of(c)
    for name, reads in READS.items():
        assert reads(c, ctx) == reads(twin, ctx), name
    twin.close()
    c.close()
