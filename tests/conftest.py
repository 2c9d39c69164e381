"""Shared test harness.

`client` talks to an in-process app through httpx.ASGITransport and validates every vendor
response body against contracts/ before the test sees it, so contract drift fails any test.
"""
from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest

from mockserver import Clock, create_app
from mockserver.app import default_vendors
from mockserver.core.contracts import ContractError, load as load_contracts
from mockserver.core.http import load  # the body as the vendor read it (JSON.parse)

DOC_TIME = "2024-01-15T10:30:00.000Z"  # the `timestamp` of every documented Gravy response


def restore_pristine(app) -> None:
    """Put an app back as it was built: extra tenants gone, every store reset, the clock at
    DOC_TIME and each vendor's random stream reseeded, so minted ids repeat and a case replays
    exactly (the hostile and fuzz tests run each case from here)."""
    for tenant in list(app.tenants):
        if not tenant.is_default:
            app.tenants.delete(tenant.id)
    app.tenants.reset()
    if app.webhooks is not None:  # retries of the last case's webhooks go with its state
        app.webhooks.cancel()
    app.clock.set(DOC_TIME)
    for vendor in app.vendors.values():
        vendor.ctx.rng.seed(f"runtime:{vendor.ctx.seed}")


def load_script(path: Path, name: str):
    """A bench script as a module, for a module-scoped fixture (yields it, then forgets it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
# -- tests that need the machine to themselves ----------------------------------------------
# A latency bound (tests/test_event_loop.py) measures the server and whatever else runs: under
# pytest-xdist another worker's test (a nested pytest, a browser, a load) stalls every process
# for tens of ms now and then. A test marked `alone` holds a lock exclusively; every other test
# holds it shared. The turnstile keeps the others from starving it: while an `alone` test waits,
# no other test starts. Consecutive `alone` tests (one xdist_group: one worker, in a row) keep
# the lock from the first to the last, so the other workers wait for them once.
class MachineShare:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.files: tuple[Any, Any] | None = None  # (turnstile, lock) while held
        self.alone = False

    def enter(self, alone: bool) -> None:
        if self.files is not None and self.alone == alone:
            return  # a run of `alone` tests: still held
        self.leave()
        turnstile = open(self.run_dir / "alone.turnstile", "a")
        lock = open(self.run_dir / "alone.lock", "a")
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        if not alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        self.files, self.alone = (turnstile, lock), alone

    def leave(self) -> None:
        if self.files is not None:
            for f in reversed(self.files):  # the lock, then the turnstile (closing unlocks)
                f.close()
            self.files = None


def _alone(item: Any) -> bool:
    return item is not None and item.get_closest_marker("alone") is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    share = getattr(item.config, "_machine_share", None)
    if share is None and "PYTEST_XDIST_WORKER" in os.environ:  # one process: nothing to share
        # the directory every worker of this run shares (each one's base temporary directory
        # is in it; pytest removes old ones)
        run_dir = item.config._tmp_path_factory.getbasetemp().parent
        share = item.config._machine_share = MachineShare(run_dir)
    if share is not None:
        share.enter(_alone(item))
    yield
    if share is not None and not (_alone(item) and _alone(nextitem)):
        share.leave()


# The modules whose tests run longest (hypothesis budgets over every route, browsers): handed
# to the pytest-xdist workers first, so the run ends on short tests on every worker rather than
# one worker finishing a 15 s test alone (about 10 s of an idle core otherwise).
FIRST = ("tests/hostile/", "tests/fuzz/", "tests/core/test_state.py", "tests/gravitec/test_push.py",
         "tests/test_integry_browser_sdk.py", "tests/test_sandbox_page.py")


def pytest_collection_modifyitems(items: list) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(FIRST))  # stable: order kept within


CONTRACTS = load_contracts()
# (vendor, schema, digest of the body) already validated: a suite sends the same answers again
# and again, and a body's validation against a schema never changes (about a third of the hostile
# tests' time went to re-validating identical pages). Bounded: cleared when full.
_VALIDATED: set[tuple[str, str, bytes]] = set()
VALIDATED_MAX = 200_000
HOSTS = {h: v.name for v in default_vendors() for h in v.hosts}  # real API host -> vendor


def vendor_doc(name: str) -> Path | None:
    """shared/vendor-docs/<name> in the nearest ancestor directory holding it (the main
    checkout and its git worktrees sit at different depths below it); None when absent."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "vendor-docs" / name).is_file():
            return parent / "shared" / "vendor-docs" / name
    return None


def vendor_of(url: httpx.URL, app) -> tuple[str, str] | None:
    """(vendor, vendor path) as the app routes this URL, or None for admin/unknown."""
    path = url.path
    if path.startswith("/__admin"):
        return None
    for name, vendor in app.vendors.items():
        if url.host in vendor.hosts:
            return name, path
    first = path.split("/")[1] if path.count("/") >= 1 else ""
    if first in app.vendors:
        return first, path[len(first) + 1:] or "/"
    return None


class MockClient:
    """Synchronous, contract-checking client for one app (tests stay plain functions)."""

    def __init__(self, app, base_url: str = "http://mock.test") -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url=base_url)

    def request(self, method: str, url: str, *, check: bool = True, **kw: Any) -> httpx.Response:
        response = self._loop.run_until_complete(self._client.request(method, url, **kw))
        if check:
            self._check(response)
        return response

    def _check(self, response: httpx.Response) -> None:
        routed = vendor_of(response.request.url, self.app)
        if routed is None or response.request.method == "HEAD":
            return
        journal = self.app.journal
        if journal.called and journal.last.kind == "request" and journal.last.fault:
            return  # a fault's answer is the test's own (test_faults checks the vendors' own)
        vendor, path = routed
        if CONTRACTS.expects_no_body(vendor, response.request.method, path, response.status_code):
            if response.content:
                raise ContractError(f"{vendor} {path} -> {response.status_code} must have no body")
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            raise ContractError(f"{vendor} answered {path} with non-JSON "
                                f"{response.headers.get('content-type')!r}")
        name = CONTRACTS.response_schema(vendor, response.request.method, path,
                                         response.status_code)
        key = (vendor, name or "", hashlib.blake2b(response.content, digest_size=16).digest())
        if name is None or key not in _VALIDATED:
            CONTRACTS.check_response(vendor, response.request.method, path,
                                     response.status_code, response.json())
            if len(_VALIDATED) >= VALIDATED_MAX:
                _VALIDATED.clear()
            _VALIDATED.add(key)
        # A JSON body the vendor accepted must satisfy the request contract too.
        request = response.request
        # (Only where the route reads a body: a GET ignores whatever was sent with it.)
        route = CONTRACTS.route(vendor, request.method, path)
        if response.status_code < 300 and request.content and route and route.request and \
                request.headers.get("content-type", "").startswith("application/json"):
            CONTRACTS.check_request(vendor, request.method, path, load(request.content))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(DOC_TIME)


@pytest.fixture
def app(clock):
    return create_app(seed=0, clock=clock)


@pytest.fixture
def client(app) -> Iterator[MockClient]:
    c = MockClient(app)
    yield c
    c.close()


class Receiver:
    """A real HTTP endpoint on loopback that records what is POSTed to it (webhooks). It answers
    `answer`; with `gated`, only once `gate` is set (a test decides when a delivery ends, without
    sleeping)."""

    def __init__(self, status: int = 200, answer: bytes = b"ok", gated: bool = False) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body})
                outer.gate.wait(30)
                self.send_response(outer.status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/passage"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def json(self, n: int = -1) -> Any:
        return json.loads(self.requests[n]["body"])

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


class Scripted(Receiver):
    """A receiver answering each POST with the next status of `statuses` (the last one after)."""

    def __init__(self, *statuses: int) -> None:
        self._statuses = list(statuses)
        self.arrivals: list[float] = []  # when each request came (system time)
        super().__init__()

    @property
    def status(self) -> int:  # read by the handler thread once per request
        self.arrivals.append(time.time())
        return self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]

    @status.setter
    def status(self, value: int) -> None:  # Receiver.__init__ sets one; the script rules
        pass


@pytest.fixture
def flaky() -> Iterator[Scripted]:
    r = Scripted(503, 500, 200)
    yield r
    r.close()


@pytest.fixture
def down() -> Iterator[Scripted]:
    r = Scripted(503)
    yield r
    r.close()


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s (a server a test started)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class LiveServer:
    """`python -m mockserver serve --port 0` in a real process, and a contract-checking client."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     text=True)
        line = self.proc.stdout.readline().strip()
        prefix = "mockserver listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError(f"unexpected first line {line!r}: {self.proc.stderr.read()}")
        self.url = line[len(prefix):]
        self.http = httpx.Client(base_url=self.url, timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.http.get("/__admin/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        response = self.http.request(method, url, **kw)
        path = response.request.url.path
        host = (kw.get("headers", {}).get("Host") or kw.get("headers", {}).get("host") or "")
        if not path.startswith("/__admin"):
            by_host = HOSTS.get(host.split(":")[0].lower())
            vendor, vpath = (by_host, path) if by_host else (path.split("/")[1],
                                                             "/" + path.split("/", 2)[2])
            if CONTRACTS.expects_no_body(vendor, method, vpath, response.status_code):
                assert not response.content, f"{vendor} {vpath} must answer with no body"
            else:
                CONTRACTS.check_response(vendor, method, vpath, response.status_code,
                                         response.json())
        return response

    def close(self) -> None:
        self.http.close()
        stop_process(self.proc)


@pytest.fixture(scope="session")
def live() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.close()
