from mockserver.core.journal import BASE_SECRETS, Call, Journal

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
