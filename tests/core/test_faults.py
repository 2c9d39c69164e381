"""Fault injection: /__admin/faults, matching, countdown, each vendor's own error bodies,
latency, dropped connections (in-process and over a real socket), journal marking."""
from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.core.faults import MAX_LATENCY_MS, DroppedConnection, sample
from mockserver.vendors.integry.auth import signature

from ..conftest import CONTRACTS, MockClient

GRAVY = {"Authorization": "Publishable pk-test-sandbox"}
GRAVITEC = {"Authorization": "Basic " + base64.b64encode(
    b"1e26f7bb3f81e1ab789d3e20b9cf6325:9bb59fcbff38b85647c421c65cca06ce").decode()}
INTEGRY = {"App-Key": "002d4f23-778a-11e7-bf2a-42010a8002c7", "User-ID": "123456",
           "Hash": signature("integry-sandbox-secret", "123456")}

# (vendor, method, vendor path, request kwargs): one authenticated call per vendor
CALLS = {
    "gravy": ("GET", "/integrations", {"headers": GRAVY}),
    "gravitec": ("GET", "/api/v3/alias", {"headers": GRAVITEC, "params": {"regId": "a"}}),
    "groove": ("GET", "/oauth/authorize", {"params": {
        "client_id": "groove-sandbox-client", "response_type": "code",
        "redirect_uri": "http://localhost:3000/oauth/callback"}}),
    "integry": ("POST", "/apps/list/", {"headers": INTEGRY, "json": {}}),
}


def add(client, **spec) -> dict:
    r = client.post("/__admin/faults", json=spec)
    assert r.status_code == 201, r.text
    return r.json()


def call(client, vendor: str, **kw) -> httpx.Response:
    method, path, base = CALLS[vendor]
    return client.request(method, f"/{vendor}{path}", **{**base, **kw})


def active(client) -> list[dict]:
    return client.get("/__admin/faults").json()["faults"]


# -- the admin API -------------------------------------------------------------------------------
def test_post_returns_the_normalised_fault_and_get_lists_it(client):
    fault = add(client, vendor="gravy", method="get", path="^/integrations", status=503, times=2)
    assert fault == {"id": "f_1", "vendor": "gravy", "method": "GET", "path": "^/integrations",
                     "tenant": None, "status": 503, "body": None, "headers": {},
                     "latency": None, "drop": False, "times": 2, "remaining": 2, "hits": 0}
    assert active(client) == [fault]
    assert client.get("/__admin/faults/f_1").json() == fault


def test_delete_one_and_all(client):
    a = add(client, status=500)
    add(client, status=502)
    assert client.delete(f"/__admin/faults/{a['id']}").status_code == 204
    assert [f["status"] for f in active(client)] == [502]
    r = client.delete("/__admin/faults/f_99")
    assert r.status_code == 404 and "error" in r.json()
    assert client.delete("/__admin/faults").status_code == 204
    assert active(client) == []
    assert call(client, "gravy").status_code == 200


def test_reset_clears_faults_and_a_tenant_reset_only_its_own(client):
    tenant = client.post("/__admin/tenants").json()["id"]
    add(client, status=500)
    add(client, status=502, tenant=tenant)
    client.post("/__admin/reset", json={"tenant": tenant})
    assert [f["status"] for f in active(client)] == [500]
    client.post("/__admin/reset")
    assert active(client) == []


def test_deleting_a_tenant_drops_its_faults(client):
    tenant = client.post("/__admin/tenants").json()["id"]
    add(client, status=502, tenant=tenant)
    client.delete(f"/__admin/tenants/{tenant}")
    assert active(client) == []


HOSTILE = [
    {"status": 99}, {"status": 100}, {"status": 600}, {"status": "500"}, {"status": True},
    {"status": 500.5}, {"status": 10**30},
    {"vendor": "acme", "status": 500}, {"vendor": 1, "status": 500},
    {"method": "G ET", "status": 500}, {"method": ["GET"], "status": 500},
    {"path": "(", "status": 500}, {"path": "(a+)+$", "status": 500},
    {"path": "(a|aa)*b", "status": 500}, {"path": r"(x)\1", "status": 500},
    # nothing nested, yet loops or ambiguous alternations in a row backtrack for minutes
    {"path": ".*" * 8 + "x", "status": 500}, {"path": "(?:a|aa)" * 60 + "x", "status": 500},
    {"path": "a" * 513, "status": 500}, {"path": "", "status": 500}, {"path": 5, "status": 500},
    {"tenant": 7, "status": 500}, {"tenant": "x" * 65, "status": 500},
    {"latency": {"fixed": -1}}, {"latency": {"fixed": MAX_LATENCY_MS + 1}},
    {"latency": {"fixed": "50"}}, {"latency": {"fixed": 10**400}},
    {"latency": {"uniform": [50, 10]}}, {"latency": {"uniform": [1]}},
    {"latency": {"lognormal": {"median": 0, "sigma": 1}}},
    {"latency": {"lognormal": {"median": 50, "sigma": 99}}},
    {"latency": {"lognormal": {"median": 50}}}, {"latency": {"fixed": 1, "uniform": [1, 2]}},
    {"latency": {"gamma": 3}}, {"latency": 50},
    {"drop": "yes"}, {"drop": True, "status": 500}, {"drop": False},
    {"times": 0}, {"times": -1}, {"times": 1.5}, {"times": True}, {"times": 10**10, "status": 500},
    {"body": {"x": 1}}, {"headers": {"X-A": "b"}},
    {"status": 500, "headers": {"X-A": "b\r\nEvil: 1"}}, {"status": 500, "headers": {"X A": "b"}},
    {"status": 500, "headers": {"Content-Length": "3"}}, {"status": 500, "headers": {"X-A": 1}},
    {"status": 500, "headers": {f"X-{i}": "v" for i in range(33)}},
    {"status": 500, "headers": ["X-A"]}, {"status": 500, "colour": "red"}, {},
]


@pytest.mark.parametrize("spec", HOSTILE, ids=[json.dumps(s)[:60] for s in HOSTILE])
def test_hostile_faults_are_refused_and_nothing_is_stored(client, spec):
    r = client.post("/__admin/faults", content=json.dumps(spec).encode())
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["error"], str)
    assert active(client) == []


@given(parts=st.lists(st.sampled_from([".*", r"\w+", "a?", "(?:a|aa)", "(?:b|ab|a)", "a",
                                        "x{2,9}", "[^/]+", "/"]), min_size=1, max_size=24))
@settings(max_examples=60, deadline=None)
def test_an_accepted_path_regex_searches_a_hostile_path_quickly(parts):
    """Whatever the guard lets through tries a 100-character path that almost matches in well
    under a second (the event loop runs the search). CPU time, with room: other processes on a
    busy machine do not count, and a pattern the guard should have refused backtracks for
    minutes, not milliseconds."""
    from mockserver.core.faults import FaultError, parse
    try:
        fault = parse({"path": "".join(parts) + "$z", "status": 500}, ["gravy"])
    except FaultError:
        return
    started = time.process_time()
    for subject in ("/" + "a" * 99, "/" + "ab" * 49 + "/", "/" + "xa/" * 33):
        fault.rx.search(subject)
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("raw", [b"[1]", b"{", b'{"status": NaN}', b'"x"'])
def test_bodies_that_are_not_a_json_object_are_refused(client, raw):
    assert client.post("/__admin/faults", content=raw).status_code == 400
    assert active(client) == []


def test_an_unknown_tenant_is_a_404(client):
    r = client.post("/__admin/faults", json={"tenant": "t_nobody", "status": 500})
    assert r.status_code == 404
    assert active(client) == []


def test_the_registry_is_bounded():
    app = create_app(max_faults=3)
    c = _Sync(app)
    for _ in range(3):
        assert c.post("/__admin/faults", json={"status": 500}).status_code == 201
    r = c.post("/__admin/faults", json={"status": 500})
    assert r.status_code == 400 and "at most 3" in r.json()["error"]
    assert len(app.faults) == 3


class _Sync:
    """A minimal synchronous client for an app built here (not the `client` fixture's)."""

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method, url, **kw):
        async def go():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://t") as c:
                return await c.request(method, url, **kw)
        return asyncio.run(go())

    def post(self, url, **kw):
        return self.request("POST", url, **kw)


# -- matching ------------------------------------------------------------------------------------
def test_vendor_matcher(client):
    add(client, vendor="gravitec", status=500)
    assert call(client, "gravy").status_code == 200
    assert call(client, "gravitec").status_code == 500


def test_method_matcher(client):
    add(client, vendor="gravy", method="POST", status=500)
    assert call(client, "gravy").status_code == 200  # a GET
    r = client.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                                "client_id": "gravy-sandbox-client",
                                                "client_secret": "gravy-sandbox-secret"})
    assert r.status_code == 500


def test_path_matcher_searches_the_vendor_path(client):
    add(client, path="^/integrations/[^/]+$", status=404)
    assert call(client, "gravy").status_code == 200  # /integrations itself
    r = client.get("/gravy/integrations/anything", headers=GRAVY)
    assert r.status_code == 404
    # By real Host, no prefix: the same vendor path
    r = client.get("/integrations/x", headers={**GRAVY, "Host": "api.getpassage.ai"})
    assert r.status_code == 404


def test_tenant_matcher_resolves_every_vendors_credentials(client):
    tenant = client.post("/__admin/tenants").json()
    tid, creds = tenant["id"], tenant["credentials"]
    for vendor in CALLS:
        add(client, vendor=vendor, tenant=tid, status=503)
    # The default tenant's calls pass...
    for vendor in CALLS:
        assert call(client, vendor).status_code < 400, vendor
    # ...the new tenant's are faulted, and the journal names it.
    g, gt, gr, i = (creds[v] for v in ("gravy", "gravitec", "groove", "integry"))
    basic = base64.b64encode(f"{gt['appKey']}:{gt['appSecret']}".encode()).decode()
    answers = {
        "gravy": call(client, "gravy",
                      headers={"Authorization": f"Publishable {g['publishableKey']}"}),
        "gravitec": call(client, "gravitec", headers={"Authorization": f"Basic {basic}"}),
        "groove": call(client, "groove", params={"client_id": gr["clientId"],
                                                 "response_type": "code",
                                                 "redirect_uri": gr["redirectUri"]}),
        "integry": call(client, "integry", headers={
            "App-Key": i["appKey"], "User-ID": i["userId"],
            "Hash": signature(i["appSecret"], i["userId"])}),
    }
    for vendor, r in answers.items():
        assert r.status_code == 503, vendor
    faulted = client.app.journal.filter(tenant=tid)
    assert len(faulted) == 4 and all(c.fault for c in faulted)


def test_tenant_from_a_bearer_token_and_wrong_secrets_do_not_match(client):
    tenant = client.post("/__admin/tenants").json()
    creds = tenant["credentials"]["gravy"]
    token = client.post("/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]}).json()["access_token"]
    add(client, vendor="gravy", tenant=tenant["id"], status=500)
    assert client.get("/gravy/connections",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 500
    # A wrong secret names no tenant: the real 401, not the fault
    r = client.post("/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": creds["clientId"],
        "client_secret": "wrong"})
    assert r.status_code == 401
    assert active(client)[0]["hits"] == 1


def test_first_added_matching_fault_applies(client):
    add(client, vendor="gravy", status=502, times=1)
    add(client, vendor="gravy", status=503, times=1)
    assert [call(client, "gravy").status_code for _ in range(3)] == [502, 503, 200]


# -- countdown and hits --------------------------------------------------------------------------
def test_times_counts_down_then_the_fault_disappears(client):
    add(client, vendor="gravy", status=500, times=2)
    assert call(client, "gravy").status_code == 500
    assert active(client)[0]["remaining"] == 1 and active(client)[0]["hits"] == 1
    assert call(client, "gravy").status_code == 500
    assert active(client) == []
    assert call(client, "gravy").status_code == 200


def test_a_fault_without_times_lasts_until_deleted(client):
    add(client, vendor="gravy", status=500)
    for _ in range(5):
        assert call(client, "gravy").status_code == 500
    assert active(client)[0]["hits"] == 5 and active(client)[0]["remaining"] is None


_SHARED = create_app()  # one app for every example: building one per example is slow


@settings(max_examples=25, deadline=None)
@given(times=st.integers(1, 6), calls=st.integers(0, 10))
def test_times_applies_to_exactly_the_next_n_matching_calls(times, calls):
    app = _SHARED
    app.faults.clear()
    c = _Sync(app)
    c.post("/__admin/faults", json={"vendor": "gravy", "status": 500, "times": times})
    statuses = [c.request("GET", "/gravy/integrations", headers=GRAVY).status_code
                for _ in range(calls)]
    assert statuses.count(500) == min(times, calls)
    assert statuses == sorted(statuses, reverse=True)  # the faulted ones come first
    assert len(app.faults) == (1 if calls < times else 0)


# -- answers -------------------------------------------------------------------------------------
STATUSES = [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]


@pytest.mark.parametrize("vendor", sorted(CALLS))
@pytest.mark.parametrize("status", STATUSES)
def test_vendor_own_fault_bodies_fit_the_vendors_contracts(client, vendor, status):
    add(client, vendor=vendor, status=status)
    method, path, _ = CALLS[vendor]
    r = call(client, vendor)
    assert r.status_code == status
    content_type = client.app.vendors[vendor].content_type
    if CONTRACTS.expects_no_body(vendor, method, path, status):
        assert r.content == b""
    else:
        assert r.headers["content-type"] == content_type
        CONTRACTS.check_response(vendor, method, path, status, r.json())
    # Also on the GraphQL endpoint and an unknown path, whose contracts differ
    if vendor == "groove":
        for p in ("/api/public/v1/graphql", "/nowhere"):
            m = "POST"
            r = client.request(m, f"/groove{p}", json={"query": "{ viewer { id } }"})
            assert r.status_code == status
            if CONTRACTS.expects_no_body(vendor, m, p, status):
                assert r.content == b""
            else:
                CONTRACTS.check_response(vendor, m, p, status, r.json())


def test_each_vendors_own_bodies(client, clock):
    add(client, status=503)
    assert call(client, "gravy").json() == {"statusCode": 503, "message": "Service Unavailable"}
    assert call(client, "gravy").headers["x-powered-by"] == "Express"
    assert call(client, "gravitec").json() == {
        "timestamp": "2024-01-15T10:30:00.000+0000", "status": 503,
        "error": "Service Unavailable", "message": "No message available",
        "path": "/api/v3/alias"}
    assert call(client, "groove").json() == {"status": 503, "error": "Service Unavailable"}
    assert call(client, "integry").json() == {"detail": "A server error occurred."}
    client.delete("/__admin/faults")
    add(client, status=429)
    assert call(client, "integry").json() == {"detail": "Request was throttled."}
    assert call(client, "gravy").json() == {"statusCode": 429, "message": "Too Many Requests"}
    client.delete("/__admin/faults")
    add(client, status=403)
    assert call(client, "gravitec").json() == {
        "status": "incomplete by bad auth",
        "error_message": "There is no web site with appKey: 1e26f7bb3f81e1ab789d3e20b9cf6325"}
    client.delete("/__admin/faults")
    add(client, status=401)
    assert call(client, "gravy").json() == {"statusCode": 401, "message": "Unauthorized"}
    assert call(client, "groove").json()["error"] == "invalid_client"


def test_groove_429_is_the_documented_empty_answer_with_rate_limit_headers(client, clock):
    add(client, vendor="groove", status=429)
    r = client.post("/groove/api/public/v1/graphql", json={"query": "{ viewer { id } }"})
    assert r.status_code == 429 and r.content == b""
    assert "content-type" not in r.headers
    assert r.headers["x-ratelimit-limit"] == "100"
    assert r.headers["x-ratelimit-remaining"] == "0"
    # 2024-01-15T10:30:00Z: a window just spent slides below the limit after the next minute
    now = int(clock.time())
    assert now + 60 <= int(r.headers["x-ratelimit-reset"]) <= now + 61


def test_a_given_body_and_headers(client):
    add(client, vendor="integry", status=418, body={"teapot": True}, headers={"Retry-After": "7"})
    r = call(client, "integry")
    assert r.status_code == 418 and r.json() == {"teapot": True}
    assert r.headers["retry-after"] == "7"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["allow"] == "POST, OPTIONS"  # the framework's header stays


def test_a_text_body_with_its_own_content_type_is_sent_as_is(client):
    page = "<html><body>502 Bad Gateway</body></html>"
    add(client, vendor="gravy", status=502, body=page, headers={"Content-Type": "text/html"})
    r = call(client, "gravy")
    assert r.status_code == 502 and r.text == page
    assert r.headers["content-type"] == "text/html"


def test_a_faulted_call_changes_no_state(client):
    before = client.app.vendors["gravitec"].snapshot(client.app.tenants.default.stores["gravitec"])
    add(client, vendor="gravitec", status=500)
    r = client.post("/gravitec/api/v3/alias", headers=GRAVITEC,
                    data={"alias": "someone", "regID": "x"})
    assert r.status_code == 500
    after = client.app.vendors["gravitec"].snapshot(client.app.tenants.default.stores["gravitec"])
    assert after == before


# -- latency -------------------------------------------------------------------------------------
def test_fixed_latency_delays_then_the_real_answer(client):
    add(client, vendor="gravy", latency={"fixed": 50})
    started = time.perf_counter()
    r = call(client, "gravy")
    elapsed = time.perf_counter() - started
    assert r.status_code == 200 and elapsed >= 0.05
    CONTRACTS.check_response("gravy", "GET", "/integrations", 200, r.json())
    assert client.app.journal.last.fault == "f_1"


def test_latency_with_a_status(client):
    add(client, vendor="gravy", latency={"uniform": [30, 40]}, status=503)
    started = time.perf_counter()
    r = call(client, "gravy")
    assert r.status_code == 503 and time.perf_counter() - started >= 0.03


def test_samplers_follow_their_distribution_and_the_seed():
    rng = random.Random(1)
    assert sample({"fixed": 12.5}, rng) == 12.5
    draws = [sample({"uniform": [10, 20]}, rng) for _ in range(2000)]
    assert min(draws) >= 10 and max(draws) <= 20 and 14 < sum(draws) / len(draws) < 16
    logn = sorted(sample({"lognormal": {"median": 100, "sigma": 0.5}}, rng) for _ in range(4001))
    assert 90 < logn[2000] < 110  # the median is the median
    assert all(d > 0 for d in logn)
    capped = [sample({"lognormal": {"median": 50_000, "sigma": 5}}, rng) for _ in range(200)]
    assert max(capped) == MAX_LATENCY_MS
    a = [sample({"uniform": [0, 1000]}, random.Random("faults:0")) for _ in range(3)]
    b = [sample({"uniform": [0, 1000]}, random.Random("faults:0")) for _ in range(3)]
    assert a == b


def test_the_apps_latency_draws_follow_its_seed():
    def draws(seed):
        app = create_app(seed=seed)
        fault = app.faults.add({"latency": {"uniform": [0, 1000]}})
        return [app.faults.delay_ms(fault) for _ in range(5)]
    assert draws(3) == draws(3) != draws(4)


# -- dropped connections -------------------------------------------------------------------------
def test_drop_in_process_raises_and_the_journal_marks_it(client):
    add(client, vendor="gravy", drop=True, times=1)
    with pytest.raises(DroppedConnection):
        call(client, "gravy")
    entry = client.app.journal.last
    assert entry.fault == "f_1" and entry.status is None
    assert entry.summary()["error"] == "connection dropped"
    assert call(client, "gravy").status_code == 200


def _raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def test_drop_against_the_real_server_closes_without_a_byte(live):
    fid = live.http.post("/__admin/faults", json={"vendor": "gravy", "path": "^/integrations$",
                                                   "drop": True, "times": 1}).json()["id"]
    port = httpx.URL(live.url).port
    got = _raw_exchange(port, b"GET /gravy/integrations HTTP/1.1\r\nHost: x\r\n"
                              b"Authorization: Publishable pk-test-sandbox\r\n\r\n")
    assert got == b""
    # An HTTP client sees a transport error, never a response; the server carries on.
    live.http.post("/__admin/faults", json={"vendor": "gravy", "drop": True, "times": 1})
    with pytest.raises(httpx.TransportError):
        live.http.get("/gravy/integrations", headers=GRAVY)
    assert live.request("GET", "/gravy/integrations", headers=GRAVY).status_code == 200
    entries = live.http.get("/__admin/requests", params={"vendor": "gravy"}).json()["requests"]
    dropped = [e for e in entries if e["fault"] == fid]
    assert dropped and dropped[0]["status"] is None


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_drop_closes_silently_with_each_uvicorn_protocol(http):
    pytest.importorskip(http)
    app = create_app()
    app.faults.add({"drop": True})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, http=http, lifespan="off", log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = sock.getsockname()[1]
        assert _raw_exchange(port, b"GET /groove/oauth/authorize HTTP/1.1\r\nHost: x\r\n\r\n") \
            == b""
        app.faults.clear()
        answer = _raw_exchange(port, b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


# -- journal -------------------------------------------------------------------------------------
def test_journal_marks_faulted_calls_only(client):
    add(client, vendor="gravy", status=500, times=1)
    call(client, "gravy")
    call(client, "gravy")
    newest, oldest = client.get("/__admin/requests").json()["requests"][:2]
    assert oldest["fault"] == "f_1" and oldest["status"] == 500
    assert newest["fault"] is None and newest["status"] == 200
    brief = client.get("/__admin/requests", params={"summary": "1"}).json()["requests"]
    assert [e["fault"] for e in brief[:2]] == [None, "f_1"]
    assert oldest["tenant"] == "default"  # the publishable key's tenant, though never served


def test_no_fault_means_no_detour(client, monkeypatch):
    # With no fault set, the vendor path never looks at a fault (the hot path stays as it was).
    monkeypatch.setattr(client.app.faults, "candidates",
                        lambda *a: pytest.fail("candidates consulted with no fault set"))
    assert call(client, "gravy").status_code == 200


@pytest.mark.parametrize("vendor,path,method", [
    ("gravy", "/gravy/connections", "GET"),
    ("gravitec", "/gravitec/api/v3/push", "POST"),
    ("groove", "/groove/api/public/v1/graphql", "POST"),
    ("integry", "/integry/apps/list/", "POST"),
])
def test_a_faulted_answer_carries_the_vendors_cors_headers(client, vendor, path, method):
    """A browser app must see the injected status, not a CORS failure: the vendor's CORS layer
    would add its headers to that error answer too."""
    assert client.post("/__admin/faults", json={"vendor": vendor, "status": 503}).status_code == 201
    origin = "http://localhost:3000"
    r = client.request(method, path, headers={"Origin": origin})
    assert r.status_code == 503
    assert r.headers["access-control-allow-origin"] in (origin, "*")


def test_the_cli_bound_on_active_faults_reaches_the_app():
    """--max-faults is the user's ceiling on the registry (memory bounded by a setting)."""
    from mockserver.cli import parse_args
    args = parse_args(["serve", "--max-faults", "1"], env={})
    app = create_app(max_faults=args.max_faults)
    c = MockClient(app)
    try:
        assert c.post("/__admin/faults", json={"vendor": "gravy", "status": 503}).status_code == 201
        r = c.post("/__admin/faults", json={"vendor": "gravy", "status": 502})
        assert r.status_code == 400 and "at most 1" in r.json()["error"]
        assert len(c.get("/__admin/faults").json()["faults"]) == 1
    finally:
        c.close()


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}])
def test_a_faulted_calls_body_reaches_the_journal_redacted(client, fault):
    """The body read ahead (to find the tenant) is journaled though the vendor never reads it,
    and its secrets are masked as in any other call."""
    add(client, vendor="gravy", **fault)
    body = {"grant_type": "client_credentials", "client_id": "cid",
            "client_secret": "s3cret-never-shown"}
    try:
        client.post("/gravy/oauth/token", json=body)
    except DroppedConnection:
        pass
    entry = client.app.journal.last.to_dict()
    assert entry["fault"] == "f_1"
    text = json.dumps(entry)
    assert "s3cret-never-shown" not in text
    assert json.loads(entry["request"]["body"])["client_id"] == "cid"


@pytest.mark.parametrize("fault", [None, {"latency": {"fixed": 1}},
                                   {"tenant": "someone-else", "status": 503}])
def test_a_client_gone_mid_body_gets_no_500_with_or_without_a_fault(fault, caplog):
    """A client that disconnects before its body is read (read ahead by a fault looking for
    the tenant, or by the vendor) is no mock bug: nothing is sent, the journal has no status,
    and nothing waits."""
    app = create_app()
    if fault:
        app.faults.add(fault)
    messages = [{"type": "http.request", "body": b'{"payload"', "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # a server says disconnect once; a second read would hang

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/gravitec/api/v3/push",
             "raw_path": b"/gravitec/api/v3/push", "query_string": b"", "root_path": "",
             "scheme": "http", "headers": [
                 (b"host", b"mock.test"), (b"content-type", b"application/json"),
                 (b"content-length", b"100"),
                 (b"authorization", GRAVITEC["Authorization"].encode())]}
    with caplog.at_level("ERROR", logger="mockserver"):
        asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    assert sent == []
    assert app.journal.last.status is None and app.journal.last.tenant == "default"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
