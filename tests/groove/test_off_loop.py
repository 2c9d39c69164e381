"""A query whose answer can be large (Cost.bound past schema.OFF_LOOP_SIZE) is executed and
encoded in a worker thread, so that the event loop answers other clients meanwhile; a light
query and every mutation run on the loop; the answers are the same bytes either way; and a
write, a reset or an import while the thread runs neither breaks the request nor lets a stale
answer be kept for later."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Callable

import httpx
import pytest
from graphql import get_introspection_query

from mockserver.vendors.groove import schema

from .conftest import GRAPHQL, LONG_FLOW, bearer, gql, thread_spy, tokens_for
from .test_cost import HEAVIEST_ALLOWED_QUERY, RELAY, units

INTROSPECTION = get_introspection_query(descriptions=True)
SFID = "0035e00000Loop01AAA"
TESS = {"name": "Tess Loop", "emailAddress": "tess@example.com", "salesforceId": SFID}
PEOPLE = "/__admin/groove/people"
# A heavy query that also reads people, so that a person added meanwhile changes its answer.
# `$n` is sent but not declared: the document stays the same (kept) while the request body,
# the answer cache's key, differs.
HEAVY_FIND = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) { id name } "
              'flow(id: "%s") { steps(first: 100) { nodes { %s } } } }'
              % (LONG_FLOW, " ".join(f"n{i}: name" for i in range(10))))

HEAVY = {   # each runs in a worker thread
    "heaviest allowed": (HEAVIEST_ALLOWED_QUERY, None),
    "introspection": (INTROSPECTION, None),     # complexity 220: a list counts once there
    "a list of many aliases": ("{ flows { " + " ".join(f"a{i}: name" for i in range(100))
                               + " } }", None),
    "a relay page of 100": (RELAY, {"id": LONG_FLOW, "first": 100}),
    "past the answer bound": ("{ flows { " + " ".join(f"a{i}: name" for i in range(300))
                              + " } }", None),
    "people and steps": (HEAVY_FIND, {"sf": SFID}),
}
LIGHT = {   # each runs on the loop
    "the README's": ('{ flow(id: "1001") { name steps(first: 3) { nodes { name dayNumber } '
                     'pageInfo { hasNextPage endCursor } } } }', None),
    "the bench's flow query": (
        "query($id: ID!) { flow(id: $id) { id name steps(first: 10) { edges { cursor node { id "
        "name dayNumber } } pageInfo { hasNextPage endCursor } } } }", {"id": LONG_FLOW}),
    "a relay page of 25": (RELAY, {"id": LONG_FLOW, "first": 25}),
    "every flow": ("{ flows { id name description finalized userId } }", None),
}
# A mutation whose answer can be larger than OFF_LOOP_SIZE (and within the answer bound).
BIG_MUTATION = ('mutation { addPersonToFlow(input: {flowId: "%s", personId: "1"}) { personFlow '
                "{ createdAt person { id name } flow { id steps(first: 100) { edges { cursor "
                "node { id name } } } } } } }" % LONG_FLOW)


@pytest.fixture
def token(client) -> str:
    client.post("/__admin/groove/rate-limit", json={"limit": 1_000_000})
    return tokens_for(client)["access_token"]


@pytest.fixture
def executor(app) -> schema.Executor:
    return app.vendors["groove"].service.executor


@pytest.fixture
def threads(monkeypatch) -> dict[str, list[int]]:
    """The thread of each execution and each encoding of an answer."""
    return thread_spy(monkeypatch, schema, "execute", "dump")


def request(query: str, variables: dict | None, n: int) -> bytes:
    """A request body for the query, distinct per `n` (so the answer cache never answers it)
    with the same query string (so the kept document is run)."""
    return json.dumps({"query": query, "variables": {**(variables or {}), "n": n}}).encode()


def post(client, token: str, body: bytes) -> httpx.Response:
    return client.post(GRAPHQL, content=body,
                       headers={**bearer(token), "Content-Type": "application/json"})


def bound(executor: schema.Executor, query: str, variables: dict | None) -> int:
    cost = executor.cost(executor.document(query), variables, None)
    assert cost is not None and cost.bound is not None
    return cost.bound


# -- where a request runs --------------------------------------------------------------------
@pytest.mark.parametrize("name", list(HEAVY))
def test_a_heavy_query_runs_and_is_encoded_in_a_worker_thread(client, token, executor, threads,
                                                               name):
    query, variables = HEAVY[name]
    assert bound(executor, query, variables) > schema.OFF_LOOP_SIZE
    loop = threading.get_ident()        # the test client runs the app's loop in this thread
    post(client, token, request(query, variables, 0))   # the document is prepared and kept
    threads["execute"].clear()
    threads["dump"].clear()
    r = post(client, token, request(query, variables, 1))
    assert r.status_code == 200
    [ran] = threads["execute"]
    assert ran != loop and threads["dump"] == [ran]


def test_the_answer_bound_and_running_out_of_stack_hold_in_the_thread(client, token, executor,
                                                                     monkeypatch):
    query, _ = HEAVY["past the answer bound"]
    assert post(client, token, request(query, None, 0)).json()["errors"][0]["extensions"][
        "code"] == "answerTooLarge"
    loop = threading.get_ident()
    real = schema.execute
    runs: list[int] = []

    def deep(*args: Any, **kw: Any) -> Any:
        runs.append(threading.get_ident())
        if runs[-1] != loop:
            raise RecursionError
        return real(*args, **kw)
    monkeypatch.setattr(schema, "execute", deep)
    body = request(*HEAVY["heaviest allowed"], 1)
    for _ in range(2):      # an answer that ran out of stack is not kept: it runs again
        assert post(client, token, body).json() == {"errors": [{
            "message": "Query is nested too deeply", "extensions": {"code": "executionError"}}]}
    assert len(runs) == 2 and loop not in runs


@pytest.mark.parametrize("name", list(LIGHT))
def test_a_light_query_runs_on_the_loop(client, token, executor, threads, name):
    query, variables = LIGHT[name]
    assert bound(executor, query, variables) <= schema.OFF_LOOP_SIZE
    post(client, token, request(query, variables, 0))
    r = post(client, token, request(query, variables, 1))
    assert r.status_code == 200 and "errors" not in r.json()
    assert threads["execute"] == [threading.get_ident()] * 2


def test_a_mutation_runs_on_the_loop_whatever_its_size(client, token, executor, threads):
    prepared = executor.document(BIG_MUTATION)
    cost = executor.cost(prepared, None, None)
    assert cost is not None and schema.OFF_LOOP_SIZE < cost.bound <= schema.ANSWER_MAX
    r = gql(client, token, BIG_MUTATION)
    assert r.json()["data"]["addPersonToFlow"]["personFlow"]["person"]["id"] == "1"
    assert threads["execute"] == [threading.get_ident()]


# -- the same answer ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(HEAVY))
def test_an_answer_from_the_thread_is_the_answer_from_the_loop(client, token, executor,
                                                               threads, monkeypatch, name):
    query, variables = HEAVY[name]
    off = post(client, token, request(query, variables, 1))
    monkeypatch.setattr(schema, "OFF_LOOP_SIZE", 10**9)    # every query on the loop
    on = post(client, token, request(query, variables, 2))
    loop = threading.get_ident()
    assert threads["execute"][0] != loop and threads["execute"][1] == loop
    assert on.content == off.content
    body = off.json()
    if "data" in body:      # the bound is one: the answer holds no more
        assert units(body["data"]) <= bound(executor, query, variables)


# -- the store changing while the thread runs --------------------------------------------------
class Held:
    """Holds a worker thread at a call of `schema.<name>` (the first one made off the loop)
    until released; records the thread of every call."""

    def __init__(self, monkeypatch, name: str) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.threads: list[int] = []
        self.loop = threading.get_ident()    # asyncio.run runs the app's loop here too
        real: Callable[..., Any] = getattr(schema, name)

        def spy(*args: Any, **kw: Any) -> Any:
            self.threads.append(threading.get_ident())
            if self.threads[-1] != self.loop and not self.reached.is_set():
                self.reached.set()
                self.release.wait(120)
            return real(*args, **kw)
        monkeypatch.setattr(schema, name, spy)

    async def meanwhile(self, app, send: bytes, token: str,
                        *calls: tuple[str, str, Any]) -> tuple[httpx.Response, list]:
        """Send `send` on the app's loop; once its thread is held (or its answer came from
        the loop), make the control-plane `calls`, then release it."""
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as c:
            heavy = asyncio.ensure_future(c.post(GRAPHQL, content=send, headers={
                **bearer(token), "Content-Type": "application/json"}))
            while not self.reached.is_set() and not heavy.done():
                await asyncio.to_thread(self.reached.wait, 0.05)
            assert not heavy.done(), "the query ran on the loop"
            answers = [await c.request(m, url, content=body) for m, url, body in calls]
            self.release.set()
            return await heavy, answers


def test_a_write_during_the_thread_does_not_leave_a_stale_answer_kept(client, token, app,
                                                                      monkeypatch):
    """The thread has read the data (no such person) and is encoding its answer when a person
    is added: the answer is the one read, kept under the data it read, so the same request
    next is run again on the new data, not answered from the cache."""
    body = request(HEAVY_FIND, {"sf": SFID}, 1)
    post(client, token, request(HEAVY_FIND, {"sf": SFID}, 0))   # the document is kept
    held = Held(monkeypatch, "dump")
    first, [added] = asyncio.run(held.meanwhile(app, body, token,
                                                ("POST", PEOPLE, json.dumps(TESS))))
    assert added.status_code == 201 and first.status_code == 200
    assert first.json()["data"]["findPersonBySalesforceId"] is None
    again = post(client, token, body)
    assert again.json()["data"]["findPersonBySalesforceId"] == {"id": added.json()["id"],
                                                               "name": "Tess Loop"}
    assert post(client, token, body).content == again.content   # and that one is kept


def test_a_reset_and_an_import_during_the_thread_answer_from_the_store_it_started_on(
        client, token, app, monkeypatch):
    before = client.get("/__admin/state").content       # no such person
    added = client.post(PEOPLE, json=TESS).json()
    body = request(HEAVY_FIND, {"sf": SFID}, 1)
    post(client, token, request(HEAVY_FIND, {"sf": SFID}, 0))
    held = Held(monkeypatch, "execute")     # held before it reads anything
    first, [reset, imported] = asyncio.run(held.meanwhile(
        app, body, token, ("POST", "/__admin/reset", "{}"), ("PUT", "/__admin/state", before)))
    assert reset.status_code == 200 and imported.status_code == 200
    answer = first.json()
    assert "errors" not in answer
    assert answer["data"]["findPersonBySalesforceId"] == {"id": added["id"], "name": "Tess Loop"}
    assert len(answer["data"]["flow"]["steps"]["nodes"]) == 60
    # the tenant's new store, imported, has no such person
    assert post(client, token, body).json()["data"]["findPersonBySalesforceId"] is None
