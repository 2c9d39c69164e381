import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.core.journal import (BASE_SECRETS, ENTRY_OVERHEAD, PENDING_MAX,
                                     REQUEST_FIELDS, Call, Journal)

from ..gravy.conftest import token_for


def _call(n, **kw):
    base = dict(id=n, at=0.0, vendor="gravy", method="GET", path=f"/p/{n}", status=200)
    base.update(kw)
    return Call(**base)


def test_journal_reads_like_unittest_mock():
    j = Journal(maxlen=3)
    assert not j.called and j.call_count == 0
    for n in range(5):
        j.record(_call(n))
    assert j.called and j.call_count == 3          # bounded: the oldest fell off
    assert [c.id for c in j.calls] == [2, 3, 4]    # oldest first, like respx.calls
    assert j.last.id == 4
    assert [c.id for c in j.filter(path="/p/*")] == [4, 3, 2]  # newest first


def test_filters_and_tenant_clear():
    j = Journal()
    j.record(_call(1, tenant="a", status=401))
    j.record(_call(2, tenant="b", method="POST"))
    assert [c.id for c in j.filter(status=401)] == [1]
    assert [c.id for c in j.filter(method="post")] == [2]
    assert [c.id for c in j.filter(tenant="b")] == [2]
    j.clear("a")
    assert [c.id for c in j.calls] == [2]


def test_secrets_are_redacted():
    # The core masks what is secret everywhere; a vendor adds its own names.
    vendor = BASE_SECRETS.plus(frozenset({"Hash"}), frozenset({"client_secret"}))
    h = vendor.header_map([(b"Authorization", b"Bearer x"), (b"Hash", b"abc"), (b"Accept", b"*/*")])
    assert h == {"authorization": "[redacted]", "hash": "[redacted]", "accept": "*/*"}
    assert BASE_SECRETS.header_map([(b"Hash", b"abc")]) == {"hash": "abc"}
    assert "s3cret" not in vendor.body(b'{"client_id":"a","client_secret":"s3cret"}',
                                       "application/json")
    assert "s3cret" not in vendor.body(b"client_id=a&client_secret=s3cret",
                                       "application/x-www-form-urlencoded")
    # A body nested deeper than Python's parser goes is kept as text, not an error.
    deep = b"[" * 100_000
    assert vendor.body(deep, "application/json") == deep.decode()


def test_requests_are_journaled_and_filterable(client, app):
    token_for(client)
    client.get("/gravy/connections", headers={"Authorization": "Bearer nope"})
    last = app.journal.last
    assert (last.vendor, last.method, last.path, last.status) == ("gravy", "GET", "/connections", 401)
    listed = client.get("/__admin/requests", params={"status": 401}).json()
    assert listed["total"] == 1 and listed["requests"][0]["path"] == "/connections"
    token_call = client.get("/__admin/requests", params={"path": "/oauth/token"}).json()
    entry = token_call["requests"][0]
    assert entry["tenant"] == "default"
    assert "gravy-sandbox-secret" not in entry["request"]["body"]
    assert entry["response"]["body"].startswith('{"access_token"')
    assert client.delete("/__admin/requests").status_code == 204
    assert client.get("/__admin/requests").json()["total"] == 0


def test_admin_calls_are_not_journaled(client, app):
    client.get("/__admin/health")
    assert not app.journal.called


def test_secret_parameters_are_masked_in_the_query_string_too(client):
    """Groove takes its OAuth parameters from the query string as well (Rails params)."""
    client.post("/groove/oauth/token?grant_type=refresh_token&refresh_token=abc&client_secret=s3",
                check=False)
    entry = client.get("/__admin/requests?vendor=groove&limit=1").json()["requests"][0]
    assert "abc" not in entry["query"] and "s3" not in entry["query"]
    assert "grant_type=refresh_token" in entry["query"]


def _sized(n, body=b"", **kw):
    return _call(n, response_body=body, **kw)


def test_byte_bound_holds_and_evicts_oldest_first():
    one = _sized(0, b"x" * 1000).approx_size()
    j = Journal(maxlen=100, max_bytes=3 * one)
    for n in range(10):
        j.record(_sized(n, b"x" * 1000))
        assert j.size_bytes <= j.max_bytes
        assert j.size_bytes == sum(c.size for c in j.calls)
    assert [c.id for c in j.calls] == [7, 8, 9]  # the newest that fit, oldest gone first
    # A bigger entry pushes out as many of the oldest as it needs.
    j.record(_sized(10, b"y" * 1500))
    assert [c.id for c in j.calls] == [9, 10]
    assert j.size_bytes <= j.max_bytes


def test_entry_size_counts_bodies_and_headers():
    small = _call(1)
    big = _call(2, raw_body=b"a" * 500, response_body=b"b" * 700,
                raw_headers=[(b"accept", b"*/*")])
    assert big.approx_size() - small.approx_size() == 500 + 700 + len(b"accept*/*") + 100


def test_an_entry_over_the_whole_budget_is_kept_alone():
    j = Journal(maxlen=100, max_bytes=2000)
    j.record(_sized(1, b"x" * 100))
    j.record(_sized(2, b"x" * 5000))  # larger than the whole budget: kept, everything else goes
    assert [c.id for c in j.calls] == [2] and j.last.response_body == b"x" * 5000
    j.record(_sized(3, b"x" * 100))   # and it goes as soon as a newer entry comes
    assert [c.id for c in j.calls] == [3]


def test_clear_gives_the_bytes_back():
    j = Journal(maxlen=10, max_bytes=10_000)
    j.record(_sized(1, b"x" * 2000, tenant="a"))
    j.record(_sized(2, b"x" * 3000, tenant="b"))
    j.clear("a")
    assert j.size_bytes == j.calls[0].size
    j.clear()
    assert j.size_bytes == 0 and not j.called


def test_zero_sized_journal_keeps_nothing():
    j = Journal(maxlen=0)
    j.record(_call(1))
    assert not j.called


def test_create_app_passes_the_byte_bound():
    from mockserver import create_app
    assert create_app(journal_bytes=12345).journal.max_bytes == 12345
    assert create_app().journal.max_bytes == 32 * 1024 * 1024


def test_repeated_requests_share_their_kept_parts(client, app):
    token_for(client)
    for _ in range(2):
        client.get("/gravy/connections", headers={"Authorization": "Bearer nope"})
    client.get("/gravy/connections?page=2", headers={"Authorization": "Bearer nope"})
    a, b, c = app.journal.calls[-3:]
    assert a.raw_headers is b.raw_headers and isinstance(a.raw_headers, tuple)  # immutable
    assert (c.query, a.query) == ("page=2", "")
    assert b.request_headers["authorization"] == "[redacted]"
    assert a.size == a.approx_size() > len(a.response_body)


# -- the ring of columns, against a plain model ----------------------------------------------
_REQUEST = st.tuples(st.just("request"), st.sampled_from(["a", "b", None]),
                     st.integers(0, 600), st.booleans())
_OPS = st.lists(st.one_of(
    _REQUEST, _REQUEST, _REQUEST,  # the usual entry, so the ring fills and wraps
    st.tuples(st.just("call"), st.sampled_from(["a", "b", None]), st.integers(0, 600),
              st.booleans()),
    st.tuples(st.just("clear"), st.sampled_from(["a", "b", None]), st.just(0), st.just(False)),
), min_size=5, max_size=60)


@settings(max_examples=300, deadline=None)
@given(maxlen=st.integers(0, 7), max_bytes=st.integers(0, 6000), ops=_OPS)
def test_the_ring_keeps_what_a_bounded_list_keeps(maxlen, max_bytes, ops):
    """Whatever is recorded and cleared, the journal holds exactly the newest entries that fit
    both bounds (the newest always), in order, with their fields and their byte count."""
    j = Journal(maxlen=maxlen, max_bytes=max_bytes)
    model: list[tuple[int, str | None, int, bytes]] = []  # (id, tenant, size, response body)
    for kind, tenant, n, failed in ops:
        if kind == "clear":
            j.clear(tenant)
            model = [m for m in model if tenant is not None and m[1] != tenant]
            continue
        body = bytes([65 + len(model) % 26]) * n
        if kind == "request":
            j.record_request("gravy", 1.5, "GET", f"/p/{n}", b"q=1", [(b"host", b"h")], 200,
                             tenant, 0.25, b"", body, "boom" if failed else None, None)
            parts = j.request_parts("GET", f"/p/{n}", b"q=1", [(b"host", b"h")])
            if not maxlen:
                assert not j.called
                continue
            call_id, size = j.last.id, ENTRY_OVERHEAD + parts[4] + n
        else:
            call = _call(j.next_id(), tenant=tenant, response_body=body, kind="webhook")
            j.record(call)
            call_id, size = call.id, call.approx_size()
        if maxlen:
            model.append((call_id, tenant, size, body))
            while len(model) > maxlen:
                model.pop(0)
            while len(model) > 1 and sum(m[2] for m in model) > max_bytes:
                model.pop(0)
        calls = j.calls
        assert [(c.id, c.tenant, c.size, c.response_body) for c in calls] == model
        assert j.size_bytes == sum(m[2] for m in model) and len(j) == len(model)
        if model:
            assert j.last.id == model[-1][0] and j.get(model[0][0]).id == model[0][0]
            # (tenant=None filters nothing, as the admin plane's missing ?tenant=)
            assert j.select(1, tenant=tenant)[0] == sum(1 for m in model
                                                        if tenant is None or m[1] == tenant)
    failed_calls = [c for c in j.calls if c.kind == "request" and c.error == "boom"]
    assert all(c.path.startswith("/p/") and c.query == "q=1" for c in failed_calls)


def test_select_builds_only_the_newest_it_returns():
    j = Journal(maxlen=50)
    for n in range(30):
        j.record(_call(j.next_id(), status=200 if n % 3 else 404))
    total, newest = j.select(2, status="4xx")
    assert total == 10 and [c.id for c in newest] == [28, 25]
    assert [c.id for c in j.filter(status=404)][:2] == [28, 25]
    assert j.get(999) is None


@settings(max_examples=60, deadline=None)
@given(maxlen=st.integers(1, 80), max_bytes=st.integers(0, 40_000),
       sizes=st.lists(st.integers(0, 2000), min_size=PENDING_MAX + 1, max_size=300))
def test_requests_noted_in_a_burst_are_kept_in_order(maxlen, max_bytes, sizes):
    """Requests are noted and kept in passes (Journal._flush): a burst longer than a pass,
    read only at its end, leaves the same journal as reading after each one."""
    burst, stepwise = Journal(maxlen=maxlen, max_bytes=max_bytes), \
        Journal(maxlen=maxlen, max_bytes=max_bytes)
    for n, size in enumerate(sizes):
        for j in (burst, stepwise):
            j.record_request("gravy", float(n), "GET", f"/p/{n}", b"", [], 200, None, 0.0, b"",
                             b"x" * size, None, None)
        assert stepwise.last.path == f"/p/{n}"  # read after each
    got = [(c.id, c.path, c.at, len(c.response_body)) for c in burst.calls]
    assert got == [(c.id, c.path, c.at, len(c.response_body)) for c in stepwise.calls]
    assert got[-1][1] == f"/p/{len(sizes) - 1}" and len(got) <= maxlen
    assert burst.size_bytes == stepwise.size_bytes <= max(max_bytes, burst.last.size)


def test_a_webhook_comes_after_the_requests_noted_before_it():
    j = Journal()
    for n in range(3):
        j.record_request("gravy", 0.0, "GET", f"/p/{n}", b"", [], 200, None, 0.0, b"", b"",
                         None, None)
    hook = _call(j.next_id(), kind="webhook", path="/hook")
    j.record(hook)
    assert [(c.id, c.path) for c in j.calls] == [(1, "/p/0"), (2, "/p/1"), (3, "/p/2"),
                                                 (4, "/hook")]
    assert j.last is hook


# -- the field list: Call's fields before `id` ------------------------------------------------
# Two different values of each field type Call declares (record_request takes the query raw).
_SAMPLES = {
    "str": ("a", "b"), "str | None": (None, "b"), "int | None": (200, 404),
    "float": (1.0, 2.0), "bytes": (b'{"a": 1}', b'{"a": 2}'),
    "Sequence[tuple[bytes, bytes]]": ([(b"x-a", b"1")], [(b"x-a", b"2")]),
}
_RECORDED_AS = {"query": str.encode}


def _entry(changed: str | None = None) -> tuple:
    """record_request's arguments: each field's first sample, `changed`'s second."""
    values = []
    for f in dataclasses.fields(Call)[:len(REQUEST_FIELDS)]:
        assert f.type in _SAMPLES, f"give this test two values of {f.type} (Call.{f.name})"
        value = _SAMPLES[f.type][f.name == changed]
        values.append(_RECORDED_AS.get(f.name, lambda v: v)(value))
    return tuple(values)


@pytest.mark.parametrize("name", REQUEST_FIELDS)
def test_every_field_of_the_list_is_kept_and_shown(name):
    """A field added to the list reaches the Call an entry is read as, and the JSON the admin
    API serves (a field the JSON leaves out fails here)."""
    j = Journal()
    j.record_request(*_entry())
    j.record_request(*_entry(name))
    plain, changed = j.view().calls
    want = _SAMPLES[next(f.type for f in dataclasses.fields(Call) if f.name == name)][1]
    got = getattr(changed, name)
    assert (list(got) if name == "raw_headers" else got) == want
    assert getattr(plain, name) != got
    shown, other = ({k: v for k, v in c.to_dict().items() if k != "id"} for c in (plain, changed))
    assert shown != other


def test_the_journal_filters_by_every_name_it_declares():
    j = Journal()
    j.record_request(*_entry())
    j.record_request(*_entry("fault"))
    j.record(_call(j.next_id(), kind="webhook"))
    assert [c.fault for c in j.filter(fault="b")] == ["b"]
    assert [c.kind for c in j.filter(kind="webhook")] == ["webhook"]
    with pytest.raises(TypeError, match="unknown journal filter"):
        j.filter(verb="GET")
