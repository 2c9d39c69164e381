"""The pytest plugin (mockserver.pytest_plugin) and its helpers (mockserver.testing).

The helpers are tested directly over an in-process app; the fixtures' wiring (scopes, teardown,
options) through pytester runs of small test files; the examples/ consumer project in a
subprocess under pytest-xdist, as a user's CI would run it.
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import httpx
import pytest

from mockserver import Clock, create_app
from mockserver.core.journal import FILTERS, Call
from mockserver.testing import InProcessClient, MockServerError, ThreadedServer, wait_healthy

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DOC_TIME = "2024-01-15T10:30:00.000Z"


def plugin_args() -> list[str]:
    """`-p mockserver.pytest_plugin` unless the installed package already registers it by its
    entry point (loading it twice under two names is an error)."""
    if any(ep.value == "mockserver.pytest_plugin"
           for ep in importlib.metadata.entry_points(group="pytest11")):
        return []
    return ["-p", "mockserver.pytest_plugin"]


def inner_args() -> list[str]:
    # An earlier in-process run imported the plugin: it cannot be rewritten again, and need not.
    return ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            *plugin_args()]


@pytest.fixture
def mock():
    client = InProcessClient(create_app(seed=0, clock=Clock(DOC_TIME)))
    yield client
    client.close()


def gravy_token(client: httpx.Client, creds: dict, base: str = "/gravy") -> httpx.Response:
    return client.post(f"{base}/oauth/token", json={
        "grant_type": "client_credentials", "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]})


# == the module itself =======================================================================
def test_the_entry_point_names_the_plugin_module():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {
        "mockserver": "mockserver.pytest_plugin"}


def test_loading_the_plugin_imports_neither_the_app_nor_httpx():
    # Every pytest run of every project with mockserver installed imports it.
    code = ("import sys, pytest; before = set(sys.modules); import mockserver.pytest_plugin; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    # the settings table (its option's default) imports nothing else of the package
    assert out.strip() == ("['mockserver', 'mockserver.core', 'mockserver.core.settings', "
                           "'mockserver.pytest_plugin']")


def test_every_fixture_is_prefixed_so_none_shadows_a_projects_own():
    # (read, not imported: an imported plugin module could not be assertion-rewritten later)
    tree = ast.parse((ROOT / "mockserver" / "pytest_plugin.py").read_text())
    names = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)
             and any("fixture" in ast.unparse(d) for d in f.decorator_list)]
    assert sorted(names) == ["mockserver_app", "mockserver_clock", "mockserver_journal",
                             "mockserver_server", "mockserver_tenant", "mockserver_url"]


# == the journal helper =======================================================================
def test_the_journal_reads_like_unittest_mock(mock):
    journal = mock.journal
    assert not journal.called and journal.call_count == 0 and journal.calls == []
    journal.assert_not_called()
    with pytest.raises(AssertionError, match="no call was made"):
        journal.last
    assert gravy_token(mock, mock.credentials["gravy"]).status_code == 200
    assert journal.called and journal.call_count == 1 and len(journal) == 1
    last = journal.last
    assert (last.vendor, last.method, last.path, last.status) == \
        ("gravy", "POST", "/oauth/token", 200)
    assert '"client_secret": "[redacted]"' in last.request_body
    assert last.json["token_type"] == "Bearer"
    assert str(last) == "gravy POST /oauth/token -> 200"
    journal.assert_called()
    journal.assert_called_once()
    journal.assert_called_with(vendor="gravy", method="post", path="/oauth/*", status=200)
    journal.assert_called_once_with(vendor="gravy", path="/oauth/token")
    journal.assert_called_with(status="2xx")  # a class, as GET /__admin/requests?status= takes
    assert journal.filter(status="4xx") == []


def test_assert_called_with_checks_the_last_call_and_lists_what_was_called(mock):
    gravy_token(mock, mock.credentials["gravy"])
    mock.get("/gravy/connections")  # no token: refused
    journal = mock.journal
    journal.assert_any_call(path="/oauth/token")
    with pytest.raises(AssertionError) as failed:
        journal.assert_called_with(vendor="gravy", path="/oauth/token")
    assert str(failed.value) == (
        "expected call not found.\n"
        "Expected: vendor='gravy', path='/oauth/token'\n"
        "  Actual: gravy GET /connections -> 401\n"
        "Calls (2, oldest first):\n"
        "  gravy POST /oauth/token -> 200\n"
        "  gravy GET /connections -> 401")


def test_the_other_assertions_say_what_was_called(mock):
    journal = mock.journal
    with pytest.raises(AssertionError, match=r"Expected: vendor='gravy'\n  Actual: not called"):
        journal.assert_called_with(vendor="gravy")
    with pytest.raises(AssertionError, match="Expected a call to the mock. Not called."):
        journal.assert_called()
    for _ in range(2):
        mock.get("/gravy/connections", params={"page": 2})
    listing = ("Calls (2, oldest first):\n  gravy GET /connections?page=2 -> 401\n"
               "  gravy GET /connections?page=2 -> 401")
    with pytest.raises(AssertionError) as failed:
        journal.assert_not_called()
    assert str(failed.value) == "Expected no call to the mock. Called 2 times.\n" + listing
    with pytest.raises(AssertionError) as failed:
        journal.assert_called_once_with(status=401)
    assert str(failed.value) == ("Expected one call matching status=401. Called 2 times.\n"
                                 + listing)
    with pytest.raises(AssertionError) as failed:
        journal.assert_any_call(vendor="groove")
    assert str(failed.value) == "vendor='groove' call not found.\n" + listing
    with pytest.raises(TypeError, match="unknown criteria verb"):
        journal.assert_any_call(verb="GET")


def test_a_long_journal_lists_the_latest_calls(mock):
    for page in range(25):
        mock.get("/gravy/connections", params={"page": page})
    with pytest.raises(AssertionError) as failed:
        mock.journal.assert_not_called()
    lines = str(failed.value).splitlines()
    assert lines[1:3] == ["Calls (25, oldest first):", "  ... 5 earlier"]
    assert lines[3] == "  gravy GET /connections?page=5 -> 401"
    assert lines[-1] == "  gravy GET /connections?page=24 -> 401"


def test_tenant_journals_are_isolated_and_reset_alone(mock):
    a, b = mock.new_tenant(), mock.new_tenant()
    gravy_token(mock, a.credentials["gravy"])
    gravy_token(mock, b.credentials["gravy"])
    gravy_token(mock, b.credentials["gravy"])
    gravy_token(mock, mock.credentials["gravy"])  # the default tenant's
    assert [c.tenant for c in a.journal.calls] == [a.id]
    assert [c.tenant for c in b.journal.calls] == [b.id, b.id]
    assert mock.journal.call_count == 4  # the unfiltered view sees every tenant
    a.journal.reset()
    assert a.journal.call_count == 0 and b.journal.call_count == 2
    assert a.journal.filter(vendor="gravy") == [] and len(b.journal.filter(status=200)) == 2


def _webhook(client: InProcessClient, tenant: str | None) -> int:
    """A webhook entry in the app's journal, as the mock records a delivery."""
    journal = client.app.journal
    call = Call(vendor="gravy", at=0.0, method="POST", path="/hook", tenant=tenant,
                kind="webhook", status=200, url="http://hooks.example.com/hook",
                id=journal.next_id())
    journal.record(call)
    return call.id


def test_the_journal_the_admin_api_and_the_helper_filter_by_the_same_names(mock):
    tenant = mock.new_tenant()
    gravy_token(mock, tenant.credentials["gravy"])
    fault = mock.post("/__admin/faults", json={"vendor": "gravitec", "status": 503,
                                               "times": 1}).json()["id"]
    assert mock.get("/gravitec/api/v3/alias", params={"alias": "a"}).status_code == 503
    mock.get("/gravy/connections")  # refused: no tenant
    _webhook(mock, tenant.id)
    values = {"vendor": "gravitec", "method": "post", "path": "/oauth/*", "status": "5xx",
              "tenant": tenant.id, "kind": "webhook", "fault": fault}
    assert set(values) == set(FILTERS)
    journal = mock.app.journal
    for name, value in values.items():
        kept = [c.id for c in journal.filter(**{name: value})]
        assert 0 < len(kept) < len(journal), name  # it filters
        listed = mock.get("/__admin/requests", params={name: value}).json()["requests"]
        assert [e["id"] for e in listed] == kept, name
        # The helper reads requests unless told a kind; oldest first.
        read = {"kind": "request", name: value} if name != "kind" else {name: value}
        assert [c.id for c in mock.journal.filter(**{name: value})] == \
            [c.id for c in reversed(journal.filter(**read))], name


def test_a_tenants_view_reads_its_webhooks_and_no_other_tenants_calls(mock):
    a, b = mock.new_tenant(), mock.new_tenant()
    gravy_token(mock, a.credentials["gravy"])
    hook = _webhook(mock, a.id)
    assert a.journal.filter(tenant=b.id) == [] and b.journal.filter(tenant=a.id) == []
    assert [c.tenant for c in a.journal.filter(tenant=a.id)] == [a.id]
    assert [c.id for c in a.journal.filter(kind="webhook")] == [hook] == \
        [c.id for c in a.journal.webhooks]
    a.journal.assert_called_with(kind="webhook", path="/hook", status=200)
    a.journal.assert_called_with(path="/oauth/token")  # still the last request
    with pytest.raises(AssertionError, match="call not found"):
        a.journal.assert_any_call(tenant=b.id)


def test_assertions_fetch_counts_and_summaries_not_the_bodies(mock):
    """The journal holds ~1.2 MB of request bodies; each assertion fetches a few KB at most:
    counts, the newest matching entry, and for a failure the newest 20, all without bodies."""
    pad = "x" * 30_000
    for _ in range(40):
        mock.post("/gravy/oauth/token", json={"grant_type": "client_credentials", "pad": pad})
    gravy_token(mock, mock.credentials["gravy"])
    fetched: list[tuple[httpx.URL, int]] = []

    def spy(response: httpx.Response) -> None:
        fetched.append((response.request.url, len(response.read())))

    mock.event_hooks["response"].append(spy)
    journal = mock.journal
    journal.assert_called()
    journal.assert_called_with(vendor="gravy", path="/oauth/token", status=200)
    journal.assert_any_call(status="4xx")
    with pytest.raises(AssertionError, match=r"Calls \(41, oldest first\):\n  \.\.\. 21 earlier"):
        journal.assert_not_called()
    with pytest.raises(AssertionError, match="Actual: gravy POST /oauth/token -> 200"):
        journal.assert_called_with(status=400)
    with pytest.raises(AssertionError, match="Called 41 times"):
        journal.assert_called_once_with(vendor="gravy")
    assert fetched and all(url.path == "/__admin/requests" for url, _ in fetched)
    assert all(url.params.get("summary") == "1" or url.params["limit"] == "0"
               for url, _ in fetched)
    assert sum(size for _, size in fetched) < 40_000, fetched
    assert mock.journal.last.request_body  # reading a call still brings its bodies


def test_a_tenant_has_its_own_credentials_and_is_dropped(mock):
    tenant = mock.new_tenant()
    assert tenant.credentials.keys() == {"gravy", "gravitec", "groove", "integry", "passage"}
    assert tenant.credentials["gravy"] != mock.credentials["gravy"]
    assert tenant.urls["integry"] == "http://mockserver.test/integry"
    assert gravy_token(mock, tenant.credentials["gravy"], tenant.urls["gravy"]).status_code == 200
    tenant.drop()
    assert mock.app.tenants.get(tenant.id) is None
    assert gravy_token(mock, tenant.credentials["gravy"]).status_code == 401
    tenant.drop()  # twice is harmless


# == the clock helper =========================================================================
def test_the_clock_moves_the_apps_clock_and_is_put_back(mock):
    clock = mock.clock
    assert clock.now.isoformat() == "2024-01-15T10:30:00+00:00" and clock.frozen
    assert clock.advance(7200).isoformat() == "2024-01-15T12:30:00+00:00"
    assert mock.app.clock.iso() == "2024-01-15T12:30:00.000Z"
    clock.set("2030-01-01T00:00:00Z")
    assert mock.app.clock.iso() == "2030-01-01T00:00:00.000Z"
    with pytest.raises(ValueError, match="advance must be a finite number"):
        clock.advance("soon")  # type: ignore[arg-type]
    assert mock.app.clock.iso() == "2030-01-01T00:00:00.000Z"  # refused: unchanged
    clock.restore()
    assert mock.app.clock.iso() == "2024-01-15T10:30:00.000Z"


def test_a_real_clock_is_put_back_real_with_its_offset():
    app = create_app()
    app.clock.advance(30)
    with InProcessClient(app) as client:
        clock = client.clock
        clock.set("2030-01-01T00:00:00Z")
        clock.restore()
        assert app.clock.describe()["mode"] == "real"
        assert app.clock.describe()["offsetSeconds"] == 30


# == servers ==================================================================================
def test_a_threaded_server_serves_and_stops():
    server = ThreadedServer(seed=0, admin_token="s3cret")
    try:
        assert httpx.get(f"{server.url}/__admin/health").status_code == 401
        assert httpx.get(f"{server.url}/__admin/health",
                         headers={"X-Admin-Token": "s3cret"}).json() == {"status": "ok"}
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/__admin/health")


def test_waiting_for_a_server_that_is_not_there_says_where_it_looked():
    with socket_port() as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        with pytest.raises(MockServerError, match=f"no mock server at http://127.0.0.1:{port}"):
            wait_healthy(http, timeout=0.2)


class socket_port:
    """A port nothing listens on (bound, not listening, for the test's duration)."""

    def __enter__(self) -> int:
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# == the fixtures, in pytest runs of their own ===============================================
FIXTURE_TESTS = '''
import httpx
from pathlib import Path

SEEN = {}

def tenants(url):
    return [t["id"] for t in httpx.get(url + "/__admin/tenants").json()["tenants"]]

def test_url(mockserver_url):
    assert httpx.get(mockserver_url + "/__admin/health").json() == {"status": "ok"}
    SEEN["url"] = mockserver_url
    Path("url.txt").write_text(mockserver_url)

def test_tenant(mockserver_url, mockserver_tenant, mockserver_journal):
    assert mockserver_url == SEEN["url"]  # one server for the session
    creds = mockserver_tenant.credentials
    assert set(creds["gravy"]) == {"clientId", "clientSecret", "publishableKey"}
    assert set(creds["gravitec"]) == {"appKey", "appSecret"}
    assert set(creds["groove"]) == {"clientId", "clientSecret", "redirectUri"}
    assert set(creds["integry"]) == {"appKey", "appSecret", "userId"}
    assert mockserver_tenant.urls["gravitec"] == mockserver_url + "/gravitec"
    assert mockserver_tenant.id in tenants(mockserver_url)
    assert mockserver_journal is mockserver_tenant.journal
    r = httpx.get(mockserver_tenant.urls["gravitec"] + "/api/v3/alias",
                  params={"alias": "nobody"},
                  auth=(creds["gravitec"]["appKey"], creds["gravitec"]["appSecret"]))
    mockserver_journal.assert_called_once_with(vendor="gravitec", path="/api/v3/alias",
                                               status=r.status_code)
    SEEN["tenant"] = mockserver_tenant.id

def test_the_last_tenant_was_dropped(mockserver_url, mockserver_tenant):
    assert SEEN["tenant"] not in tenants(mockserver_url)
    assert tenants(mockserver_url) == ["default", mockserver_tenant.id]
    mockserver_tenant.journal.assert_not_called()

def test_clock(mockserver_url, mockserver_clock):
    mockserver_clock.set("2030-01-02T03:04:05Z")
    assert httpx.get(mockserver_url + "/__admin/clock").json()["now"] == "2030-01-02T03:04:05.000Z"
    assert mockserver_clock.advance(60).isoformat() == "2030-01-02T03:05:05+00:00"

def test_the_clock_was_put_back(mockserver_url):
    assert httpx.get(mockserver_url + "/__admin/clock").json()["mode"] == "real"

def test_app(mockserver_app):
    from mockserver.app import MockServer
    assert isinstance(mockserver_app.app, MockServer)
    assert mockserver_app.get("/__admin/health").json() == {"status": "ok"}
    mockserver_app.clock.set("2030-01-01T00:00:00Z")
    assert mockserver_app.app.clock.iso() == "2030-01-01T00:00:00.000Z"
    SEEN["app"] = mockserver_app.app

def test_app_is_fresh_per_test(mockserver_app):
    assert mockserver_app.app is not SEEN["app"]
    assert not mockserver_app.app.clock.frozen
'''


def test_the_fixtures_in_a_pytest_run(pytester):
    pytester.makepyfile(test_fixtures=FIXTURE_TESTS)
    result = pytester.runpytest_inprocess(*inner_args())
    result.assert_outcomes(passed=7)
    url = (pytester.path / "url.txt").read_text()
    with pytest.raises(httpx.ConnectError):  # the session's server stopped with the session
        httpx.get(url + "/__admin/health")
    assert not [t for t in threading.enumerate() if t.name.startswith("mockserver-")]


def test_a_failed_journal_assertion_reads_in_the_report(pytester):
    pytester.makepyfile(test_failing='''
        def test_it(mockserver_app):
            mockserver_app.get("/gravitec/api/v3/alias")
            mockserver_app.journal.assert_called_with(vendor="gravy")
    ''')
    result = pytester.runpytest_inprocess(*inner_args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E*AssertionError: expected call not found.",
                                 "E*Expected: vendor='gravy'",
                                 "E*Actual: gravitec GET /api/v3/alias -> 403"])


def test_the_options_point_the_fixtures_at_a_running_server(pytester):
    server = ThreadedServer(seed=0, admin_token="s3cret")
    try:
        pytester.makepyfile(test_options='''
            from pathlib import Path
            import httpx

            def test_it(mockserver_server, mockserver_url, mockserver_tenant, mockserver_app):
                assert mockserver_url == "%s"
                assert mockserver_server.app is None  # nothing started here
                assert mockserver_app.app.vendors["gravy"].ctx.seed == 7
                creds = mockserver_tenant.credentials["gravy"]
                httpx.post(mockserver_tenant.urls["gravy"] + "/oauth/token", json={
                    "grant_type": "client_credentials", "client_id": creds["clientId"],
                    "client_secret": creds["clientSecret"]})
                mockserver_tenant.journal.assert_called_once_with(path="/oauth/token", status=200)
                Path("tenant.txt").write_text(mockserver_tenant.id)

            def test_failing(mockserver_tenant):
                Path("failed.txt").write_text(mockserver_tenant.id)
                assert False, "a failing test's tenant is dropped too"
        ''' % server.url)  # the option below ends in "/": the fixture's URL does not
        result = pytester.runpytest_inprocess(
            *inner_args(), f"--mockserver-url={server.url}/",
            "--mockserver-admin-token=s3cret", "--mockserver-seed=7")
        result.assert_outcomes(passed=1, failed=1)
        for name in ("tenant.txt", "failed.txt"):
            tenant = (pytester.path / name).read_text()
            assert tenant.startswith("t_") and server.app.tenants.get(tenant) is None
        # ... and the one it used was there, serving: it still is.
        assert httpx.get(f"{server.url}/__admin/health",
                         headers={"X-Admin-Token": "s3cret"}).status_code == 200
    finally:
        server.stop()


@pytest.mark.slow  # a whole pytest -n 2 run of another project: make test-slow
def test_the_examples_consumer_project_passes_under_xdist():
    # As a user's CI runs it: its own pytest.ini, the plugin by entry point, two workers.
    # The -p no: are plugins of this project's test environment the consumer does not use:
    # each process would load them (half of the run's CPU).
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "-p", "no:faker", "-p", "no:anyio", "-n", "2", *plugin_args(), "examples/"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^=+ 6 passed in ", proc.stdout, re.M), proc.stdout
    assert "2 workers [6 items]" in proc.stdout
