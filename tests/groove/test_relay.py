"""Relay connections on Flow.steps and Flow.labelInstances, as graphql-ruby's ArrayConnection
pages an array: a cursor is the urlsafe base64 (unpadded) of the item's 1-based position;
`after`/`before` bound the window, then `first` takes from its start and `last` from its end;
25 items when neither is given, at most 100; hasNextPage says whether the cursor-bounded list
holds more than `first` (else whether `before` leaves items behind it), hasPreviousPage whether
it holds more than `last` (else whether `after` skipped any).

The reference here computes each window from those rules over the full list, read once.
"""
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings, strategies as st

from mockserver import Clock, create_app
from mockserver.core.paths import data_dir
from mockserver.vendors.groove import GrooveVendor

from ..conftest import DOC_TIME, MockClient
from .conftest import LONG_FLOW, gql, tokens_for

PROPS = settings(max_examples=50, deadline=None, derandomize=True, database=None)
SIZES = {"steps": 60, "labelInstances": 30}         # flow 1001 in fixtures/groove
NODE = {"steps": "id name dayNumber", "labelInstances": "id"}


def query(field: str) -> str:
    return f"""query($id: ID!, $first: Int, $last: Int, $after: String, $before: String) {{
      flow(id: $id) {{
        {field}(first: $first, last: $last, after: $after, before: $before) {{
          edges {{ cursor node {{ {NODE[field]} }} }}
          nodes {{ {NODE[field]} }}
          pageInfo {{ startCursor endCursor hasNextPage hasPreviousPage }}
        }}
      }}
    }}"""


def cursor(position: int) -> str:
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


class Env:
    """One app for the module (every call reads): a token whose limit never gets in the way."""

    def __init__(self, app=None) -> None:
        self.client = MockClient(app or create_app(seed=0, clock=Clock(DOC_TIME)))
        self.token = tokens_for(self.client)["access_token"]
        r = self.client.post("/__admin/groove/rate-limit", json={"limit": 1_000_000})
        assert r.status_code == 200, r.text
        self.full = {f: self.connection(f, first=100) for f in SIZES}

    def call(self, field: str, flow: str = LONG_FLOW, **args: Any) -> dict:
        r = gql(self.client, self.token, query(field), {"id": flow, **args})
        assert r.status_code == 200, r.text
        return r.json()

    def connection(self, field: str, flow: str = LONG_FLOW, **args: Any) -> dict:
        body = self.call(field, flow, **args)
        assert "errors" not in body, body
        conn = body["data"]["flow"][field]
        assert conn["nodes"] == [e["node"] for e in conn["edges"]]
        edges = conn["edges"]
        assert conn["pageInfo"]["startCursor"] == (edges[0]["cursor"] if edges else None)
        assert conn["pageInfo"]["endCursor"] == (edges[-1]["cursor"] if edges else None)
        return conn

    def items(self, field: str) -> list[dict]:
        return self.full[field]["nodes"]

    def error(self, field: str, **args: Any) -> dict:
        body = self.call(field, **args)
        assert body["data"] == {"flow": None}
        [err] = body["errors"]
        assert err["path"] == ["flow", field] and err["locations"]
        return err


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.client.close()


def reference(items: list, after: int | None = None, before: int | None = None,
              first: int | None = None, last: int | None = None) -> dict:
    """The page graphql-ruby's ArrayConnection gives, positions for cursors."""
    n = len(items)
    bounded = [(p, items[p - 1]) for p in range(1, n + 1)
               if (after is None or p > after) and (before is None or p < before)]
    if first is None and last is None:
        first = 25
    first = None if first is None else min(first, 100)
    last = None if last is None else min(last, 100)
    window = bounded
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[len(window) - last:] if last < len(window) else window
    return {
        "edges": [{"cursor": cursor(p), "node": item} for p, item in window],
        "nodes": [item for _, item in window],
        "pageInfo": {
            "startCursor": cursor(window[0][0]) if window else None,
            "endCursor": cursor(window[-1][0]) if window else None,
            "hasNextPage": len(bounded) > first if first is not None
            else before is not None and before <= n,
            "hasPreviousPage": len(bounded) > last if last is not None
            else after is not None and after > 0,
        },
    }


# -- the full lists ----------------------------------------------------------------------------
@pytest.mark.parametrize("field", list(SIZES))
def test_the_full_list_has_every_item_once_with_position_cursors(env, field):
    conn = env.full[field]
    assert len(conn["nodes"]) == SIZES[field]
    assert len({n["id"] for n in conn["nodes"]}) == SIZES[field]
    assert [e["cursor"] for e in conn["edges"]] == [cursor(p) for p in range(1, SIZES[field] + 1)]
    assert conn["pageInfo"]["hasNextPage"] is False
    assert conn["pageInfo"]["hasPreviousPage"] is False


def test_steps_carry_their_documented_fields(env):
    for step in env.items("steps"):
        assert set(step) == {"id", "name", "dayNumber"}
        assert all(isinstance(v, str) and v for v in step.values())


# -- defaults and bounds -------------------------------------------------------------------------
@pytest.mark.parametrize("field", list(SIZES))
def test_no_arguments_give_the_first_25(env, field):
    conn = env.connection(field)
    assert conn["nodes"] == env.items(field)[:25]
    assert conn["pageInfo"]["hasNextPage"] is True
    assert conn["pageInfo"]["hasPreviousPage"] is False
    assert conn["pageInfo"]["startCursor"] == cursor(1)
    assert conn["pageInfo"]["endCursor"] == cursor(25)


@pytest.mark.parametrize("field", list(SIZES))
def test_last_alone_takes_the_end_of_the_list(env, field):
    n = SIZES[field]
    conn = env.connection(field, last=5)
    assert conn["nodes"] == env.items(field)[-5:]
    assert conn["pageInfo"]["startCursor"] == cursor(n - 4)
    assert conn["pageInfo"]["hasPreviousPage"] is True
    assert conn["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("field", list(SIZES))
def test_forward_walk_with_first_and_after(env, field):
    seen, after, pages = [], None, 0
    while True:
        conn = env.connection(field, first=7, after=after)
        pages += 1
        seen += conn["nodes"]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == env.items(field)
    assert pages == -(-SIZES[field] // 7)


@pytest.mark.parametrize("field", list(SIZES))
def test_backward_walk_with_last_and_before(env, field):
    seen, before, pages = [], None, 0
    while True:
        conn = env.connection(field, last=7, before=before)
        pages += 1
        seen = conn["nodes"] + seen
        assert conn["pageInfo"]["hasNextPage"] is (before is not None)
        if not conn["pageInfo"]["hasPreviousPage"]:
            break
        before = conn["pageInfo"]["startCursor"]
    assert seen == env.items(field)
    assert pages == -(-SIZES[field] // 7)


def test_first_and_last_together_as_graphql_ruby_pages_them(env):
    steps = env.items("steps")
    conn = env.connection("steps", first=10, last=3)
    assert conn["nodes"] == steps[7:10]
    assert conn["pageInfo"]["hasNextPage"] is True           # 60 items, more than 10
    assert conn["pageInfo"]["hasPreviousPage"] is True       # 60 items, more than 3
    conn = env.connection("steps", first=3, last=5, after=cursor(50))
    assert conn["nodes"] == steps[50:53]
    assert conn["pageInfo"]["hasPreviousPage"] is True       # 10 after cursor 50, more than 5
    conn = env.connection("steps", first=3, last=15, after=cursor(50))
    assert conn["pageInfo"]["hasPreviousPage"] is False      # 10, not more than 15
    assert conn["pageInfo"]["hasNextPage"] is True           # 10, more than 3


def test_first_zero_and_last_zero_are_empty_pages(env):
    for args in ({"first": 0}, {"last": 0}):
        conn = env.connection("steps", **args)
        assert conn["edges"] == [] and conn["nodes"] == []
        assert conn["pageInfo"]["startCursor"] is None and conn["pageInfo"]["endCursor"] is None


def test_first_and_last_above_the_list_return_it_all(env):
    assert env.connection("steps", first=1000)["nodes"] == env.items("steps")
    assert env.connection("steps", last=1000)["nodes"] == env.items("steps")


@pytest.mark.parametrize("field", ["steps", "labelInstances"])
@pytest.mark.parametrize("arg", ["first", "last"])
def test_a_negative_size_is_an_invalid_argument(env, field, arg):
    err = env.error(field, **{arg: -1})
    assert err["extensions"]["code"] == "invalidArgument"
    assert arg in err["message"]


@pytest.mark.parametrize("arg", ["after", "before"])
@pytest.mark.parametrize("value", ["garbage!", "%%%", cursor(-3), "bm90LWEtbnVtYmVy",
                                   "x" * 500, cursor(10 ** 12)])
def test_a_garbage_cursor_is_an_invalid_cursor(env, arg, value):
    err = env.error("steps", **{arg: value})
    assert err["extensions"]["code"] == "invalidCursor"
    assert len(err["message"]) < 300


def test_an_empty_flow_pages_to_nothing(env):
    conn = env.connection("steps", flow="1003")
    assert conn == {"edges": [], "nodes": [], "pageInfo": {
        "startCursor": None, "endCursor": None, "hasNextPage": False, "hasPreviousPage": False}}


def test_more_than_100_items_are_capped_at_100(tmp_path):
    """Fixture flows hold at most 60 steps: a fixtures copy whose long flow holds 150."""
    root = tmp_path / "groove"
    shutil.copytree(data_dir("fixtures") / "groove", root)
    data = json.loads((root / "fixtures.json").read_text())
    long_flow = next(f for f in data["flows"] if f["id"] == LONG_FLOW)
    long_flow["steps"] = 150
    (root / "fixtures.json").write_text(json.dumps(data))
    env = Env(create_app(seed=0, clock=Clock(DOC_TIME), fixtures=Path(tmp_path),
                         vendors=[GrooveVendor()]))
    try:
        conn = env.connection("steps", first=101)
        assert len(conn["nodes"]) == 100
        assert conn["pageInfo"]["endCursor"] == cursor(100)
        assert conn["pageInfo"]["hasNextPage"] is True
        rest = env.connection("steps", first=500, after=cursor(100))
        assert len(rest["nodes"]) == 50 and rest["pageInfo"]["hasNextPage"] is False
        tail = env.connection("steps", last=1000)
        assert len(tail["nodes"]) == 100 and tail["pageInfo"]["startCursor"] == cursor(51)
        assert tail["pageInfo"]["hasPreviousPage"] is True
        assert len({n["id"] for n in conn["nodes"] + rest["nodes"]}) == 150
    finally:
        env.client.close()


# -- properties -------------------------------------------------------------------------------
@PROPS
@given(n=st.integers(1, 70), field=st.sampled_from(list(SIZES)))
def test_a_forward_walk_returns_every_item_once_in_order(env, n, field):
    seen, after = [], None
    while True:
        conn = env.connection(field, first=n, after=after)
        assert len(conn["nodes"]) <= n
        seen += conn["nodes"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == env.items(field)


@PROPS
@given(n=st.integers(1, 70), field=st.sampled_from(list(SIZES)))
def test_a_backward_walk_returns_every_item_once_in_order(env, n, field):
    seen, before = [], None
    while True:
        conn = env.connection(field, last=n, before=before)
        assert len(conn["nodes"]) <= n
        seen = conn["nodes"] + seen
        if not conn["pageInfo"]["hasPreviousPage"]:
            break
        before = conn["pageInfo"]["startCursor"]
    assert seen == env.items(field)


size = st.one_of(st.none(), st.integers(0, 110))
position = st.one_of(st.none(), st.integers(0, 75))


@PROPS
@given(field=st.sampled_from(list(SIZES)), first=size, last=size, after=position,
       before=position)
def test_any_window_equals_the_reference(env, field, first, last, after, before):
    args = {"first": first, "last": last,
            "after": None if after is None else cursor(after),
            "before": None if before is None else cursor(before)}
    conn = env.connection(field, **args)
    assert conn == reference(env.items(field), after, before, first, last)
