"""The Integry browser SDK (`@integry/sdk` from npm, unmodified) in headless Chromium, calling
`https://api.integry.io` as it is hard-coded to, answered by a real `mockserver serve --tls`.

Nothing in the SDK's path is bent: Chromium resolves api.integry.io to the mock (a host resolver
rule) and trusts the mock's CA because it is in Chromium's own NSS database (a throwaway HOME,
filled by `certutil`), so certificate errors stay errors; the page is served from another
origin, so every call is cross-origin with its real CORS preflight; the SDK signs with its own
query-string auth. The package is the tarball tests/browser/package-lock.json locks (fetched by
`npm pack`, its integrity checked), kept under .cache/integry-sdk/<hash of that integrity> so
re-runs do not fetch it again.

Skips where a tool is missing (npm, the registry, Chromium, certutil), saying how to get it;
fails instead under CI (CI=true). MOCKSERVER_NO_BROWSER=1 skips it anywhere, as it does the
sandbox page tests; MOCKSERVER_CHROMIUM names another Chromium.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import trustme

from .gravy.test_documented import missing_input
from .integry.conftest import APP_KEY, APP_SECRET, USER_ID
from .integry.support import doc_path, responses
from .test_cli import _as_a_terminal_would, _child_env, _first_line, _stop

if os.environ.get("MOCKSERVER_NO_BROWSER") == "1":
    pytest.skip("MOCKSERVER_NO_BROWSER=1", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

# One worker runs the whole module: its server, browser and install are set up once.
pytestmark = pytest.mark.xdist_group("integry_browser_sdk")

REPO = Path(__file__).resolve().parents[1]
NPM_PROJECT = REPO / "tests" / "browser"
CACHE = REPO / ".cache" / "integry-sdk"
PACKAGE = "@integry/sdk"
BUNDLE = Path("dist/umd/index.umd.js")  # the package's `main`: a self-contained UMD build
CHROMIUM = os.environ.get("MOCKSERVER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
BANNER = re.compile(r"mockserver listening on https://127\.0\.0\.1:(\d+)")
FUNCTION = "slack-post-message"
# The documented call: its text's reference tags filled from `_variables`.
CALL_ARGS = {"channel": "random", "text": "{first_name} {last_name} just signed up!"}
CALL_VARS = {"first_name": "John", "last_name": "Doe"}
WRONG = {"detail": "Incorrect authentication credentials."}  # DRF's 403 (FACTS.md)
PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>@integry/sdk against the mock</title>
<script src="/integry-sdk.umd.js"></script>
<script>
  // One SDK call, handed back as JSON: what it resolved to, or what it threw. invokeFunction
  // resolves to an Error when the network fails, so that is unwrapped too.
  window.run = async (step) => {
    try {
      const value = await step();
      if (value instanceof Error) return {error: value.message};
      return {value: value === undefined ? null : value};
    } catch (e) {
      return {thrown: String(e && e.message || e)};
    }
  };
  // A plain fetch from the same page, for the trust checks: its status, or how it failed.
  window.probe = (url) => fetch(url).then(r => ({status: r.status}), e => ({failed: String(e)}));
</script>
"""


def _tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_input(f"{name} is not installed: {why}")
    return path


# --- the package, from the lock file, cached -----------------------------------------------


def _pinned() -> str:
    return json.loads((NPM_PROJECT / "package.json").read_text())["dependencies"][PACKAGE]


def _locked() -> tuple[str, str]:
    """The lock file's version and integrity (npm's `sha512-<base64>`) of the package."""
    entry = json.loads((NPM_PROJECT / "package-lock.json").read_text())[
        "packages"][f"node_modules/{PACKAGE}"]
    assert entry["version"] == _pinned(), "package.json and its lock disagree; run npm install"
    return entry["version"], entry["integrity"]


def install_sdk() -> Path:
    """The locked package's folder: its tarball fetched by `npm pack` from the registry npm is
    set to, checked against the lock file's integrity, and unpacked, the first time a lock is
    seen (under a file lock: pytest-xdist workers and parallel runs may ask at once), then
    reused. Not `npm ci`: its UMD build bundles every dependency, and `npm ci` would fetch and
    check all 138 packages (26 s of CPU, 40,000 files) that the browser never loads; the bytes
    Chromium runs are the same."""
    version, integrity = _locked()
    key = hashlib.sha256(integrity.encode()).hexdigest()[:16]
    root = CACHE / key
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not (root / "ready").is_file():
            npm = _tool("npm", "install Node.js with npm (Debian's `npm`) to fetch " + PACKAGE)
            work = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=CACHE))
            try:
                ran = subprocess.run([npm, "pack", "--json", "--pack-destination", str(work),
                                      f"{PACKAGE}@{version}"], cwd=work, capture_output=True,
                                     text=True, timeout=300, stdin=subprocess.DEVNULL)
                if ran.returncode != 0:
                    missing_input(f"`npm pack` of {PACKAGE}@{version} failed (is the npm "
                                  f"registry reachable?): {(ran.stderr or ran.stdout)[-800:]}")
                (packed,) = json.loads(ran.stdout)
                tarball = work / packed["filename"]
                got = "sha512-" + base64.b64encode(
                    hashlib.sha512(tarball.read_bytes()).digest()).decode()
                assert got == integrity, f"{tarball.name} is not the locked one: {got}"
                with tarfile.open(tarball) as tar:
                    tar.extractall(work / "unpacked", filter="data")
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir()
                (work / "unpacked" / "package").rename(root / "package")
                (root / "ready").write_text(f"{PACKAGE}@{version} {integrity}\n")
            finally:
                shutil.rmtree(work, ignore_errors=True)
            for old in CACHE.iterdir():  # what earlier locks unpacked
                if old.is_dir() and old.name != key and not os.path.ismount(old):
                    shutil.rmtree(old, ignore_errors=True)
    return root / "package"


# --- servers ---------------------------------------------------------------------------------


class Mock:
    """`python -m mockserver serve --tls --port 0` in its own process, its CA kept in a folder."""

    def __init__(self, tmp: Path) -> None:
        self.ca = tmp / "ca"
        self.stderr = (tmp / "stderr.txt").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--tls", "--port", "0",
             "--tls-dir", str(self.ca)],
            cwd=tmp, env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, preexec_fn=_as_a_terminal_would,
        )  # fmt: skip
        line = _first_line(self.proc, timeout=30).rstrip("\n")
        match = BANNER.fullmatch(line)
        assert match, line
        self.port = int(match.group(1))
        # The control plane, over the same TLS, verified with the same CA.
        self.http = httpx.Client(base_url=f"https://127.0.0.1:{self.port}", timeout=10,
                                 verify=ssl.create_default_context(cafile=self.ca / "ca.pem"))

    def journal(self) -> list[dict[str, Any]]:
        """Integry's calls since the last reset, oldest first, in full."""
        r = self.http.get("/__admin/requests", params={"vendor": "integry", "limit": 1000})
        assert r.status_code == 200, r.text
        return list(reversed(r.json()["requests"]))

    def close(self) -> None:
        self.http.close()
        _stop(self.proc)
        self.stderr.seek(0)
        err = self.stderr.read()
        self.stderr.close()
        assert "Traceback" not in err, err


class Background(ThreadingHTTPServer):
    """A local server on a thread of its own, on a free port (`ssl`: HTTPS with that context)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler],
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Static(Background):
    """The page's own origin (http://127.0.0.1:<port>): the page and the SDK's bundle."""

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                kind, body = files.get(self.path.split("?")[0], ("text/plain", b""))
                self.send_response(200 if body else 404)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class Stranger(Background):
    """HTTPS for a vendor hostname with a certificate from another CA, one the browser was never
    told about: the same browser must refuse it."""

    HOST = "uapi.gravitec.net"

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("access-control-allow-origin", "*")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert(self.HOST).configure_cert(ctx)
        super().__init__(Handler, ctx)
        self.port = self.server_address[1]

    def handle_error(self, request, client_address) -> None:
        pass  # the refused handshakes this server exists for


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).is_file():
        missing_input(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (.ci/run does), "
                      "or set MOCKSERVER_NO_BROWSER=1 to skip the browser tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def sdk(chromium) -> Path:
    package = install_sdk()
    installed = json.loads((package / "package.json").read_text())
    assert (installed["name"], installed["version"]) == (PACKAGE, _pinned())
    assert installed["main"] == str(BUNDLE)
    return package / BUNDLE


@pytest.fixture(scope="module")
def mock(tmp_path_factory) -> Iterator[Mock]:
    server = Mock(tmp_path_factory.mktemp("integry-sdk-mock"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def site(sdk: Path) -> Iterator[Static]:
    server = Static({"/": ("text/html; charset=utf-8", PAGE),
                     "/integry-sdk.umd.js": ("text/javascript", sdk.read_bytes())})
    yield server
    server.close()


@pytest.fixture(scope="module")
def stranger() -> Iterator[Stranger]:
    server = Stranger()
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser(chromium: str, mock: Mock, stranger: Stranger, tmp_path_factory) -> Iterator[Browser]:
    """Chromium whose HOME holds an NSS database trusting the mock's CA, and nothing else of
    ours; api.integry.io and (for a wrong name) app.integry.io lead to the mock, the stranger's
    host to the stranger, every other name nowhere."""
    certutil = _tool("certutil", "install Debian's `libnss3-tools` (.ci/run does) so Chromium "
                                 "can be made to trust the mock's CA")
    home = tmp_path_factory.mktemp("integry-sdk-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    for argv in (["-N", "--empty-password"],
                 ["-A", "-n", "mockserver", "-t", "C,,", "-i", str(mock.ca / "ca.pem")]):
        subprocess.run([certutil, "-d", f"sql:{nssdb}", *argv], check=True, capture_output=True,
                       timeout=30)
    rules = ", ".join([f"MAP api.integry.io 127.0.0.1:{mock.port}",
                       f"MAP app.integry.io 127.0.0.1:{mock.port}",
                       f"MAP {stranger.HOST} 127.0.0.1:{stranger.port}",
                       "MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1"])
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium,
                              args=[*ARGS, f"--host-resolver-rules={rules}"],
                              env={**os.environ, "HOME": str(home)})
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, site: Static, mock: Mock) -> Iterator[Page]:
    """A fresh context (so no CORS preflight is cached from another test), on the page."""
    assert mock.http.post("/__admin/reset").status_code == 200
    ctx = browser.new_context()
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(site.url + "/")
    yield pg
    ctx.close()
    assert errors == [], errors  # the SDK threw nothing uncaught


@pytest.fixture
def console(page: Page) -> list[str]:
    """What the page logs from now on (the SDK reports some failures only there)."""
    logged: list[str] = []
    page.on("console", lambda m: logged.append(m.text))
    return logged


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    path = doc_path()
    if path is None:
        missing_input("shared/vendor-docs/integry.txt is not beside this checkout")
    found = responses(path.read_text())
    assert len(found) == 6  # apps.list, apps.get, functions.list, predict, functions.get, call
    return {"functions.get": found[4], "call": found[5]}


def connect(page: Page, secret: str = APP_SECRET) -> str:
    """`new IntegryJS({appKey, hash, userId})` in the page as `sdk`, the hash made by the SDK's
    own helper; returns that hash."""
    return page.evaluate("""async ([appKey, userId, secret]) => {
        const hash = await IntegryJS.Helpers.getAuthHash(userId, secret);
        window.sdk = new IntegryJS({appKey, hash, userId});
        return hash;
    }""", [APP_KEY, USER_ID, secret])


def run(page: Page, step: str, *args: Any) -> dict[str, Any]:
    """`step` (a JS function of `sdk` and the args) run in the page: {value}, {error} or
    {thrown}."""
    return page.evaluate(f"(args) => run(() => ({step})(window.sdk, ...args))", list(args))


def signed_by_query(entry: dict[str, Any]) -> bool:
    """The SDK's own auth: app_key, user_id and hash in the query (the journal masks the hash),
    none of the header form's App-Key, User-ID, Hash."""
    query = parse_qs(entry["query"])
    headers = {k.lower() for k in entry["request"]["headers"]}
    return (query.get("app_key") == [APP_KEY] and query.get("user_id") == [USER_ID]
            and query.get("hash") == ["[redacted]"]
            and not headers & {"app-key", "user-id", "hash"})


def preflight_of(entries: list[dict[str, Any]], path: str, origin: str) -> dict[str, Any]:
    found = [e for e in entries if e["method"] == "OPTIONS" and e["path"] == path]
    assert len(found) == 1, [(e["method"], e["path"]) for e in entries]
    headers = found[0]["request"]["headers"]
    assert headers["origin"] == origin and headers["access-control-request-method"] == "POST"
    assert found[0]["status"] == 200
    return headers


# --- tests -----------------------------------------------------------------------------------


def test_the_pinned_package_runs_from_another_origin(page: Page, site: Static):
    assert page.evaluate("IntegryJS.SDK_VERSION") == _pinned()
    assert page.evaluate("location.origin") == site.url != "https://api.integry.io"
    # The SDK's HMAC (WebCrypto) is the hash the mock checks.
    assert connect(page) == hmac.new(APP_SECRET.encode(), USER_ID.encode(),
                                     hashlib.sha256).hexdigest()


def test_get_function_is_the_documented_schema(page: Page, mock: Mock, documented):
    connect(page)
    got = run(page, "(sdk, name) => sdk.getFunction(name)", FUNCTION)
    assert got == {"value": documented["functions.get"]}
    (entry,) = [e for e in mock.journal() if e["path"].startswith("/functions/")]
    # GET with no custom header: a simple request, so no preflight; the body reached the SDK
    # only because the answer allowed the page's origin.
    assert (entry["method"], entry["path"], entry["status"]) == \
        ("GET", f"/functions/{FUNCTION}/get/", 200)
    assert signed_by_query(entry)
    assert entry["request"]["headers"]["origin"] == page.evaluate("location.origin")


def test_call_function_is_the_documented_call_after_its_preflight(page: Page, mock: Mock,
                                                                  documented):
    sample = documented["call"]
    when = datetime.fromtimestamp(float(sample["output"]["ts"]), timezone.utc)
    assert mock.http.post("/__admin/clock", json={
        "set": when.isoformat().replace("+00:00", "Z")}).status_code == 200
    connect(page)
    got = run(page, "(sdk, name, args, vars) => sdk.callFunction(name, args, vars)",
              FUNCTION, CALL_ARGS, CALL_VARS)
    assert got == {"value": sample}
    entries = [e for e in mock.journal() if e["path"].startswith("/functions/")]
    path = f"/functions/{FUNCTION}/call/"
    origin = page.evaluate("location.origin")
    asked = preflight_of(entries, path, origin)
    assert asked["access-control-request-headers"] == "content-type"
    assert [(e["method"], e["status"]) for e in entries] == [("OPTIONS", 200), ("POST", 200)]
    call = entries[-1]
    assert signed_by_query(call) and call["request"]["headers"]["origin"] == origin
    assert json.loads(call["request"]["body"]) == {**CALL_ARGS, "_variables": CALL_VARS}


def test_invoke_function_and_a_versioned_call(page: Page, mock: Mock):
    connect(page)
    # callFunction with a version sends a `Version` header: its own preflight must allow it.
    versioned = run(page, "(sdk, name, args) => sdk.callFunction(name, args, {}, undefined, '2')",
                    FUNCTION, {"channel": "random", "text": "versioned"})
    assert versioned["value"]["network_code"] == "200"
    assert versioned["value"]["output"]["message"]["text"] == "versioned"
    invoked = run(page, "(sdk, name, args) => sdk.invokeFunction(name, args)",
                  FUNCTION, {"channel": "random", "text": "invoked"})
    assert invoked["value"]["network_code"] == "200"
    assert invoked["value"]["output"]["message"]["text"] == "invoked"
    entries = [e for e in mock.journal() if e["path"].startswith("/functions/")]
    asked = preflight_of(entries, f"/functions/{FUNCTION}/call/", page.evaluate("location.origin"))
    assert asked["access-control-request-headers"] == "content-type,version"
    calls = [e for e in entries if e["method"] == "POST"]
    assert [(e["status"], e["request"]["headers"].get("version")) for e in calls] == \
        [(200, "2"), (200, None)]
    assert all(signed_by_query(e) for e in calls)


def test_a_wrong_hash_reaches_the_sdk_as_the_vendors_403(page: Page, mock: Mock,
                                                         console: list[str]):
    connect(page, secret="not-the-app-secret")
    # callFunction hands back the body whatever the status: DRF's 403, as the vendor sends it.
    got = run(page, "(sdk, name, args) => sdk.callFunction(name, args)",
              FUNCTION, {"channel": "random", "text": "refused"})
    assert got == {"value": WRONG}
    # getFunction swallows a refusal: it resolves to null and logs the SDK's error.
    assert run(page, "(sdk, name) => sdk.getFunction(name)", FUNCTION) == {"value": None}
    assert [(e["method"], e["status"]) for e in mock.journal()
            if e["path"].startswith("/functions/")] == [("OPTIONS", 200), ("POST", 403),
                                                       ("GET", 403)]
    # (its own error object, logged with the bundle's stack: not Chromium's failed-load note)
    assert any(text.split("\n")[0].endswith(": Forbidden") and "integry-sdk.umd.js" in text
               for text in console), console


def test_the_browser_verifies_the_mocks_certificate(page: Page, mock: Mock, stranger: Stranger):
    """Trust is real: the CA is trusted for the names its certificate holds, and only that CA."""
    failed: dict[str, str] = {}
    page.on("requestfailed", lambda r: failed.setdefault(r.url.split("/")[2], r.failure or ""))
    assert page.evaluate("probe('https://api.integry.io/apps/list')") == {"status": 405}
    # The mock's CA, but a name its certificate does not hold: the SDK's own app.integry.io.
    assert "Failed to fetch" in page.evaluate("probe('https://app.integry.io/')")["failed"]
    # A certificate for its name, from a CA nobody told the browser about.
    assert "Failed to fetch" in page.evaluate(f"probe('https://{stranger.HOST}/')")["failed"]
    assert failed == {"app.integry.io": "net::ERR_CERT_COMMON_NAME_INVALID",
                      stranger.HOST: "net::ERR_CERT_AUTHORITY_INVALID"}
    assert [(e["method"], e["path"]) for e in mock.journal()] == [("GET", "/apps/list")]
