"""A new GraphQL document is prepared (parsed, validated, its cost analysed) in a worker thread,
so that the event loop answers other clients meanwhile; a kept one takes no thread; the answers
are the same either way; and neither side writes to the schema the other reads."""
from __future__ import annotations

import enum
import gc
import json
import threading
from typing import Any

import anyio
import pytest
from graphql import get_introspection_query
from graphql.language import Token

from mockserver.vendors.groove import schema

from .conftest import GRAPHQL, bearer, gql, thread_spy, tokens_for
from .test_cost import HEAVIEST_ALLOWED_QUERY, RELAY

README_QUERY = ('{ flow(id: "1001") { name steps(first: 3) { nodes { name dayNumber } '
                'pageInfo { hasNextPage endCursor } } } }')
INTROSPECTION = get_introspection_query(descriptions=True, specified_by_url=True,
                                        directive_is_repeatable=True, schema_description=True,
                                        input_value_deprecation=True)


@pytest.fixture
def token(client) -> str:
    return tokens_for(client)["access_token"]


@pytest.fixture
def threads(monkeypatch) -> dict[str, list[int]]:
    """The thread of each parse and each execution graphql-core is asked for."""
    return thread_spy(monkeypatch, schema, "parse", "execute")


def test_a_new_document_is_prepared_in_a_worker_thread_and_run_on_the_loop(client, token,
                                                                          threads):
    """A light query (a heavy one runs in a thread too: test_off_loop.py)."""
    loop = threading.get_ident()    # the test client runs the app's loop in this thread
    r = gql(client, token, README_QUERY)
    assert len(r.json()["data"]["flow"]["steps"]["nodes"]) == 3
    [parsed] = threads["parse"]
    assert parsed != loop and threads["execute"] == [loop]
    # an invalid document and one past the token limit too: their errors come from the thread
    for query in ("{ flows { bogus } }", "{ flows { " + "id " * 2000 + "} }"):
        assert gql(client, token, query).json()["errors"]
    assert len(threads["parse"]) == 3 and loop not in threads["parse"]


def test_a_kept_document_takes_no_thread_and_answers_the_same(client, token, threads, app,
                                                              monkeypatch):
    executor = app.vendors["groove"].service.executor
    hops: list = []
    real = anyio.to_thread.run_sync

    def spy(*args: Any, **kw: Any) -> Any:
        if getattr(args[0], "__self__", None) is executor:
            hops.append(args)
        return real(*args, **kw)
    monkeypatch.setattr(anyio.to_thread, "run_sync", spy)
    variables = {"id": "1001", "first": 7}
    new = gql(client, token, RELAY, variables)
    assert new.json()["data"]["flow"]["steps"]["pageInfo"]["hasNextPage"] is True
    assert len(hops) == 1
    # the same request in another body (so the kept answer is not reused): the kept document
    # is run without a thread, and answers the same bytes
    again = client.post(GRAPHQL, content=json.dumps({"variables": variables, "query": RELAY}),
                        headers={**bearer(token), "Content-Type": "application/json"})
    assert again.content == new.content
    # other variables: their cost is analysed on the loop, as before (and a page this size
    # runs there too: test_off_loop.py)
    other = gql(client, token, RELAY, {"id": "1001", "first": 25})
    assert len(other.json()["data"]["flow"]["steps"]["nodes"]) == 25
    assert len(hops) == 1 and len(threads["parse"]) == 1
    assert threads["execute"] == [threading.get_ident()] * 3


def _prepare_together(executor: schema.Executor, query: str, times: int) -> list[Any]:
    """`times` requests for one query string, prepared concurrently on one loop: each gets
    its Prepared or the exception it met."""
    out: list[Any] = []

    async def one() -> None:
        try:
            out.append(await executor.prepare_off_loop(query, None, None))
        except Exception as exc:  # noqa: BLE001 - recorded for the test to look at
            out.append(exc)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(times):
                tg.start_soon(one)
    anyio.run(main)
    return out


def test_requests_for_one_new_document_prepare_it_once(threads):
    executor = schema.Executor()
    out = _prepare_together(executor, HEAVIEST_ALLOWED_QUERY, 3)
    assert len(threads["parse"]) == 1
    assert out[0] is out[1] is out[2] is executor.cached(HEAVIEST_ALLOWED_QUERY)
    assert out[0].document is not None and executor._pending == {}


def test_when_a_preparation_fails_the_requests_waiting_for_it_prepare_it(monkeypatch):
    executor = schema.Executor()
    calls: list[int] = []
    real = schema.parse

    def once_broken(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError
        return real(*args, **kw)
    monkeypatch.setattr(schema, "parse", once_broken)
    first, second, third = _prepare_together(executor, "{ flows { id } }", 3)
    assert isinstance(first, MemoryError)
    assert second is third is executor.cached("{ flows { id } }")
    assert len(calls) == 2 and executor._pending == {}


# -- the schema, shared by the loop and the thread -------------------------------------------
_VALUES = (str, int, float, bool, type(None), enum.Enum)


def _fingerprint(root: Any) -> dict[tuple[int, str], Any]:
    """Every attribute of every graphql-core object reachable from the schema (and every item
    of their containers): its value, or the identity of the object it holds."""
    seen: set[int] = set()
    out: dict[tuple[int, str], Any] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _VALUES):
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            items = [(repr(k), v) for k, v in obj.items()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            items = [(str(i), v) for i, v in enumerate(obj)]
        elif type(obj).__module__.startswith("graphql."):
            names = set(getattr(obj, "__dict__", ()))
            for cls in type(obj).__mro__:
                names.update(getattr(cls, "__slots__", ()))
            items = [(n, getattr(obj, n, None)) for n in sorted(names)]
        else:
            continue
        for key, value in items:
            out[(id(obj), key)] = value if isinstance(value, _VALUES) else id(value)
            stack.append(value)
    return out


def test_neither_preparing_nor_running_writes_to_the_schema(app, monkeypatch):
    """graphql-core memoises on a schema when first used; the schema is built with those memos
    filled, so a thread preparing one document never reads what the loop, running another, is
    writing."""
    monkeypatch.setattr(schema, "build", schema.build.__wrapped__)     # a schema not yet used
    executor = schema.Executor()
    before = _fingerprint(executor.schema)
    store = app.tenants.get("default").stores["groove"]
    requests = [(INTROSPECTION, None), (HEAVIEST_ALLOWED_QUERY, None),
                (RELAY, {"id": "1001", "first": 3}), ("{ flows { bogus } }", None),
                ('mutation { addPersonToFlow(input: {flowId: "1002", personId: "1"}) '
                 "{ personFlow { createdAt } } }", None)]
    for query, variables in requests:
        prepared = _prepare_together(executor, query, 1)[0]
        body, _ = executor.answer(prepared, variables, None, schema.Context(store, 0))
        assert json.loads(body)
    assert _fingerprint(executor.schema) == before


def test_the_documents_kept_are_bounded_by_their_tokens():
    """A kept document holds about three objects a token, which every full garbage collection
    walks while every client waits: the cache keeps a bounded number of tokens, not only of
    documents."""
    executor = schema.Executor()
    queries = [HEAVIEST_ALLOWED_QUERY.replace("n0:", f"k{i}:") for i in range(40)]
    for query in queries:
        executor.document(query)
    size = executor.cached(queries[-1]).tokens
    assert size > 900 and 0 < len(executor._documents) <= schema.CACHE_TOKENS // size
    assert executor._documents.weight <= schema.CACHE_TOKENS
    assert executor.cached(queries[0]) is None
    # small documents still fill the cache up to its count
    executor._documents.clear()
    for i in range(schema.CACHE_SIZE):
        executor.document(f"{{ a{i}: flows {{ id }} }}")
    assert len(executor._documents) == schema.CACHE_SIZE


def test_a_dropped_document_is_freed_without_the_garbage_collector():
    """The lexer links a document's tokens both ways; unlinked once parsed, a kept document
    dropped from the cache is freed at once, not in a full collection that holds every client
    (a kept document has lived long enough to be among the objects only a full one walks)."""
    executor = schema.Executor()

    def tokens_alive() -> int:
        return sum(isinstance(o, Token) for o in gc.get_objects())

    gc.collect()
    before = tokens_alive()
    prepared = executor.prepare(HEAVIEST_ALLOWED_QUERY)
    assert prepared.document is not None and prepared.tokens > 900
    gc.collect()    # validation's own garbage (graphql-core's context is a cycle), young
    gc.disable()
    try:
        assert tokens_alive() > before
        del prepared
        left = tokens_alive()
    finally:
        gc.enable()
    assert left == before
