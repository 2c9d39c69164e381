"""The sandbox page `GET /__admin/` in a real headless Chromium (Debian's, driven by Playwright's
Python package: no browser is ever downloaded), against a real uvicorn server.

CI installs chromium (.ci/run), so under CI (CI=true) a missing browser fails here. Elsewhere (a
developer's `make test` on a machine without it) these tests skip, saying how to get it: eleven
errors there once passed for a flaky suite. MOCKSERVER_NO_BROWSER=1 skips them anywhere;
MOCKSERVER_CHROMIUM names another executable.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from mockserver import Clock, create_app

from .conftest import DOC_TIME, Receiver
from .gravitec.conftest import SANDBOX as GRAVITEC, push_body
from .gravy.conftest import intent_body, set_status

if os.environ.get("MOCKSERVER_NO_BROWSER") == "1":
    pytest.skip("MOCKSERVER_NO_BROWSER=1", allow_module_level=True)

from playwright.sync_api import (Browser, BrowserContext, Page, TimeoutError as PlaywrightTimeout,  # noqa: E402
                                 expect, sync_playwright)

CHROMIUM = os.environ.get("MOCKSERVER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
POLL = 250  # ms; the page's ?poll= (1.5 s by default)
WAIT = 5000  # ms an expectation waits for the page to catch up


# Playwright's expect() re-checks after 100, 250, 500 and 1000 ms; the page catches up with a
# call within a poll, so wait for it on every animation frame first, then assert as usual
# (expect() passes at once, or says what the page shows instead).
SHOWN = """([sel, how, want]) => {
  const els = [...document.querySelectorAll(sel)];
  if (how === 'count') return els.length === want;
  if (!els.length) return false;
  const text = els[0].textContent.replace(/\\s+/g, ' ').trim();
  return how === 'has' ? text.includes(want) : text === want;
}"""


def _shown(page: Page, selector: str, how: str, want) -> None:
    try:
        page.wait_for_function(SHOWN, arg=[selector, how, want], timeout=WAIT)
    except PlaywrightTimeout:
        pass


def count(page: Page, selector: str, n: int) -> None:
    _shown(page, selector, "count", n)
    expect(page.locator(selector)).to_have_count(n, timeout=500)


def text(page: Page, selector: str, want: str) -> None:
    _shown(page, selector, "text", want)
    expect(page.locator(selector).first).to_have_text(want, timeout=500)


def has(page: Page, selector: str, want: str) -> None:
    _shown(page, selector, "has", want)
    expect(page.locator(selector).first).to_contain_text(want, timeout=500)


class Server:
    """create_app() under uvicorn on port 0 in a background thread."""

    def __init__(self, **kw) -> None:
        import uvicorn

        self.app = create_app(seed=0, clock=Clock(DOC_TIME), **kw)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)
        if self.app.data is not None:  # --data-dir: its lock released
            self.app.data.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        why = (f"no Chromium at {CHROMIUM}: install Debian's `chromium` (.ci/run does), "
               "or set MOCKSERVER_NO_BROWSER=1 to skip the sandbox page tests")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why)  # CI must run them
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    # One context for the module (a new one costs more than all a test's checks); each test
    # opens its own page in it. 127.0.0.1 is a secure context: navigator.clipboard works.
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, server: Server) -> Iterator[Page]:
    server.http.post("/__admin/reset")
    server.http.post("/__admin/clock", json={"set": DOC_TIME})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{server.url}/__admin/?poll={POLL}")
    text(pg, "#status", "live")
    yield pg
    pg.close()
    assert errors == [], errors  # no script error, whatever the test did


def gravy_token(http: httpx.Client) -> str:
    r = http.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                              "client_id": "gravy-sandbox-client",
                                              "client_secret": "gravy-sandbox-secret"})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def paths(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#rows td.path").all_inner_texts()]


def test_the_journal_shows_calls_live_newest_first_and_filters(page: Page, server: Server):
    count(page, "#rows tr", 0)
    has(page, "#empty", "No requests yet")
    http = server.http
    auth = {"Authorization": f"Bearer {gravy_token(http)}"}
    http.get("/gravy/connections?page=2&limit=5", headers=auth)
    http.get("/gravy/connections", headers={"Authorization": "Bearer nope"})
    http.post("/gravitec/api/v3/push", json=push_body(), auth=GRAVITEC)
    count(page, "#rows tr", 4)
    assert paths(page) == ["/api/v3/push", "/connections", "/connections?page=2&limit=5",
                           "/oauth/token"]
    text(page, "#count", "4 entries")
    assert page.locator("#empty").is_hidden()

    page.select_option("#f-vendor", "gravitec")
    count(page, "#rows tr", 1)
    text(page, "#rows .vendor", "gravitec")
    page.select_option("#f-vendor", "")
    page.select_option("#f-status", "4xx")
    count(page, "#rows tr", 1)
    text(page, "#rows .pill", "401")
    page.select_option("#f-status", "200")
    count(page, "#rows tr", 3)
    page.select_option("#f-status", "5xx")
    count(page, "#rows tr", 0)
    text(page, "#empty", "No entries match these filters.")
    page.select_option("#f-status", "")
    page.fill("#f-path", "connections")  # a word matches anywhere in the path
    count(page, "#rows tr", 2)
    page.fill("#f-path", "")
    count(page, "#rows tr", 4)

    # A webhook the mock delivered is its own kind of row.
    receiver = Receiver()
    try:
        cid = http.post("/gravy/intent-token", headers=auth,
                        json=intent_body(webhookUrl=receiver.url)).json()["connectionId"]
        assert set_status(http, cid, "connecting").status_code == 200
        count(page, "#rows tr.hook", 1)
        has(page, "#rows tr.hook", "webhook")
        has(page, "#rows tr.hook", receiver.url)
        page.select_option("#f-kind", "webhook")
        count(page, "#rows tr", 1)
    finally:
        receiver.close()


def test_an_entry_opens_in_full_with_its_secrets_redacted(page: Page, server: Server):
    http = server.http
    gravy_token(http)
    http.get("/gravy/connections", headers={"Authorization": "Bearer very-secret-token"})
    count(page, "#rows tr", 2)
    page.locator("#rows tr").first.click()
    expect(page.locator("#drawer")).to_be_visible()
    has(page, "#d-title", "Request #")
    has(page, "#detail", '"statusCode": 401')  # the response body, pretty-printed
    auth_row = page.locator("#detail table.headers tr", has_text="authorization")
    expect(auth_row.locator(".redacted")).to_have_text("[redacted]")
    detail = page.locator("#detail")
    assert "very-secret-token" not in detail.inner_text()
    expect(page.locator("#rows tr").first).to_have_class(re.compile(r"\bselected\b"))

    page.locator("#rows tr").nth(1).click()  # POST /oauth/token: its client_secret is masked
    has(page, "#detail", '"client_secret": "[redacted]"')
    assert "gravy-sandbox-secret" not in detail.inner_text()
    has(page, "#detail", '"access_token"')
    page.keyboard.press("Escape")
    expect(page.locator("#drawer")).to_be_hidden()


def test_the_summary_follows_state_changing_calls_per_tenant(page: Page, server: Server):
    http = server.http
    people, campaigns = '[data-stat="groove.people"] b', '[data-stat="gravitec.campaigns"] b'
    connections = '[data-stat="gravy.connections"] b'
    text(page, people, "50")
    text(page, campaigns, "0")
    text(page, connections, "150")
    http.post("/__admin/groove/people", json={"name": "Ada", "emailAddress": "ada@example.com"})
    http.post("/gravitec/api/v3/push", json=push_body(), auth=GRAVITEC)
    http.post("/gravy/intent-token", json=intent_body(),
              headers={"Authorization": f"Bearer {gravy_token(http)}"})
    text(page, people, "51")
    text(page, campaigns, "1")
    text(page, connections, "151")

    # A tenant of its own: the selector scopes the summary, the journal and the reset.
    tenant = http.post("/__admin/tenants").json()
    tid = tenant["id"]
    count(page, f'#tenant option[value="{tid}"]', 1)
    page.select_option("#tenant", tid)
    text(page, "#summary-tenant", tid)
    text(page, people, "50")
    text(page, "#reset", f"Reset tenant {tid}")
    count(page, "#rows tr", 0)  # none of its calls yet
    creds = tenant["credentials"]["gravy"]
    http.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                          "client_id": creds["clientId"],
                                          "client_secret": creds["clientSecret"]})
    count(page, "#rows tr", 1)
    text(page, "#rows td.tenant", tid)
    http.post("/__admin/groove/people",
              json={"name": "Grace", "emailAddress": "grace@example.com", "tenant": tid})
    text(page, people, "51")
    page.click("#reset")
    text(page, people, "50")
    count(page, "#rows tr", 0)
    has(page, "#notice", "Reset 1 tenant")
    # The default tenant kept its person and its journal.
    assert http.get("/__admin/summary").json()["vendors"]["groove"]["people"] == 51
    assert http.get("/__admin/requests?tenant=default").json()["total"] > 0
    http.delete(f"/__admin/tenants/{tid}")
    text(page, "#reset", "Reset all tenants")  # back to every tenant
    expect(page.locator("#tenant")).to_have_value("")


def test_reset_empties_the_journal(page: Page, server: Server):
    http = server.http
    gravy_token(http)
    http.get("/gravy/integrations")
    http.post("/__admin/groove/people", json={"name": "Ada", "emailAddress": "ada@example.com"})
    count(page, "#rows tr", 2)
    text(page, '[data-stat="groove.people"] b', "51")
    page.click("#reset")
    count(page, "#rows tr", 0)
    expect(page.locator("#empty")).to_be_visible()
    text(page, "#count", "0 entries")
    text(page, '[data-stat="groove.people"] b', "50")
    assert http.get("/__admin/requests").json()["total"] == 0


def test_the_clock_advances_and_shows_the_new_time(page: Page, server: Server):
    text(page, "#clock", "2024-01-15 10:30:00 UTC")
    text(page, "#clockmode", "frozen")
    page.click("text=+1 day")
    text(page, "#clock", "2024-01-16 10:30:00 UTC")
    page.click("text=+1 h")
    page.click("text=+1 min")
    text(page, "#clock", "2024-01-16 11:31:00 UTC")
    page.fill("#advance-seconds", "90")
    page.press("#advance-seconds", "Enter")
    text(page, "#clock", "2024-01-16 11:32:30 UTC")
    assert server.http.get("/__admin/clock").json()["now"] == "2024-01-16T11:32:30.000Z"
    page.fill("#set-iso", "2030-05-01T08:00:00Z")
    page.click("#set-form button")
    text(page, "#clock", "2030-05-01 08:00:00 UTC")
    expect(page.locator("#error")).to_be_hidden()
    # A refusal is shown and changes nothing.
    page.fill("#advance-seconds", "1e300")
    page.click("#advance-form button")
    has(page, "#error", "POST /__admin/clock: 400 advance refused")
    text(page, "#clock", "2030-05-01 08:00:00 UTC")
    page.click("#real")
    text(page, "#clockmode", "real time")
    expect(page.locator("#error")).to_be_hidden()  # cleared by the action that worked
    has(page, "#clock", f"{time.gmtime().tm_year}-")


def test_credentials_are_shown_with_copy_buttons(page: Page, browser: Browser, server: Server):
    has(page, "#creds", "gravy-sandbox-secret")  # shown, not redacted: it is a sandbox
    has(page, "#creds", "9bb59fcbff38b85647c421c65cca06ce")
    button = page.get_by_role("button", name="Copy gravy clientSecret")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "gravy-sandbox-secret"
    page.get_by_role("button", name="Copy groove credentials as JSON").click()
    assert '"clientId": "groove-sandbox-client"' in page.evaluate("navigator.clipboard.readText()")

    # No navigator.clipboard (plain http on another host name): the execCommand fallback.
    context = browser.new_context()
    context.add_init_script("""
        Object.defineProperty(navigator, 'clipboard', {value: undefined});
        window.__copied = [];
        document.execCommand = (cmd) => {
          window.__copied.push([cmd, document.activeElement.value]); return true; };
    """)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/__admin/?poll={POLL}")
    has(page, "#creds", "002d4f23-778a-11e7-bf2a-42010a8002c7")
    button = page.get_by_role("button", name="Copy integry appKey")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("window.__copied") == [["copy", "002d4f23-778a-11e7-bf2a-42010a8002c7"]]
    assert page.locator("textarea").count() == 0  # the helper textarea is gone
    context.close()
    assert errors == []


def test_hostile_journal_content_is_shown_as_text(page: Page, server: Server):
    page.evaluate("window.__pwned = 0")
    http = server.http
    # A path, a header and a body that would run as markup; control and bidi characters.
    http.post("/gravy/%3Cimg%20src=x%20onerror=%22window.__pwned=1%22%3E%E2%80%AE/x%01",
              headers={"X-Evil": "<script>window.__pwned=2</script>"})
    http.post("/gravy/oauth/token", headers={"X-Evil": '"><img src=x onerror="window.__pwned=3">'},
              json={"grant_type": "<img src=x onerror=window.__pwned=4>", "client_id": "x" * 20000})
    count(page, "#rows tr", 2)
    text(page, "#rows tr:nth-child(2) td.path",
         '/<img src=x onerror="window.__pwned=1"><U+202E>/x\\x01')
    page.locator("#rows tr").nth(1).click()
    has(page, "#detail", "<script>window.__pwned=2</script>")
    page.locator("#rows tr").nth(0).click()
    has(page, "#detail", '"grant_type": "<img src=x onerror=window.__pwned=4>"')
    has(page, "#detail", '"><img src=x onerror="window.__pwned=3">')
    page.wait_for_timeout(POLL * 2)  # a few polls re-render the rows
    # Not one element made from it (escaping, not only the page's Content-Security-Policy).
    assert page.locator("#rows img, #detail img, #rows script, #detail script").count() == 0
    assert page.evaluate("window.__pwned") == 0


def test_faults_are_listed_with_delete_buttons_or_reported_missing(page: Page, server: Server):
    http = server.http
    if http.get("/__admin/faults").status_code == 404:  # a server without fault injection
        text(page, "#faults", "Fault injection is not available on this server.")
        return
    has(page, "#faults", "No active faults")
    fault = http.post("/__admin/faults", json={"vendor": "gravy", "path": "^/connections",
                                               "status": 503, "times": 2}).json()
    item = f'#faults [data-fault="{fault["id"]}"]'
    has(page, item, "answers 503")
    has(page, item, "2 left")
    http.get("/gravy/connections")
    count(page, "#rows tr.faulted", 1)
    page.get_by_role("button", name=f"Delete fault {fault['id']}").click()
    count(page, item, 0)
    assert http.get("/__admin/faults").json()["faults"] == []


def test_a_failed_poll_is_shown_and_polling_recovers(page: Page):
    page.route("**/__admin/requests?*", lambda route: route.abort())
    has(page, "#status", "poll failed, retrying")
    has(page, "#status", "network error")
    page.unroute("**/__admin/requests?*")
    text(page, "#status", "live")


def test_the_page_asks_for_the_admin_token(context: BrowserContext):
    guarded = Server(admin_token="s3cret")
    page = context.new_page()
    try:
        page.goto(f"{guarded.url}/__admin/?poll={POLL}")
        expect(page.locator("#auth")).to_be_visible(timeout=WAIT)
        text(page, "#auth-title", "This sandbox needs its admin token")
        page.fill("#auth input[name=token]", "wrong")
        page.press("#auth input[name=token]", "Enter")
        text(page, "#auth-title", "The admin token was refused")
        page.fill("#auth input[name=token]", "s3cret")
        page.click("#auth button")
        text(page, "#status", "live")
        expect(page.locator("#auth")).to_be_hidden()
        assert "token=s3cret" in page.url
        assert f"poll={POLL}" in page.url  # the page's other settings came along
        guarded.http.get("/gravy/integrations")
        count(page, "#rows tr", 1)
    finally:
        page.close()
        guarded.close()


def test_a_recorded_call_is_marked_real_with_the_mocks_answer_and_the_differences(
        context: BrowserContext):
    """`serve --record`: the row says the real API answered and how far the mock's answer
    differs; the detail shows both answers and each difference."""
    from .verify.upstream import Drifted, serve

    def renamed(method, path, status, headers, body):  # the real API renamed a key
        if path == "/api/v3/alias" and body:
            body = body.replace(b'"regIdExists"', b'"regIdFound"')
        return status, headers, body

    with serve(Drifted(create_app(), renamed)) as real:
        recorder = Server(record={"gravitec": f"{real}/gravitec"})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(f"{recorder.url}/__admin/?poll={POLL}")
            text(page, "#status", "live")
            recorder.http.get("/gravitec/api/v3/alias", params={"regId": "nobody"}, auth=GRAVITEC)
            recorder.http.get("/gravy/integrations")  # not recorded: an ordinary row
            count(page, "#rows tr", 2)
            count(page, "#rows tr.recorded", 1)
            text(page, "#rows tr.recorded .badge.real", "real")
            text(page, "#rows tr.recorded .badge.diff", "1 difference")
            count(page, "#rows tr:not(.recorded) .badge", 0)
            page.select_option("#f-kind", "recorded")
            count(page, "#rows tr", 1)
            page.locator("#rows tr").first.click()
            has(page, "#d-title", "Recorded #")
            has(page, "#detail", f"{real}/gravitec/api/v3/alias")  # where it was forwarded
            has(page, "#detail", '"regIdFound": "false"')   # the real API's answer
            has(page, "#detail", "Mock answered")
            has(page, "#detail", '"regIdExists": "false"')  # the mock's
            text(page, "#detail ul.differences li code", "$.regIdExists")
            has(page, "#detail ul.differences li", "renamed")
            page.select_option("#f-kind", "request")  # an ordinary entry: no mark, no extras
            # the recorded filter also showed one row: wait for the filter to swap it
            count(page, "#rows tr.recorded", 0)
            count(page, "#rows tr", 1)
            page.locator("#rows tr").first.click()
            has(page, "#d-title", "Request #")
            assert "null" not in page.locator("#d-title").inner_text()
            expect(page.locator("#detail")).not_to_contain_text("Mock answered")
        finally:
            page.close()
            recorder.close()
    assert errors == []


def test_the_page_says_where_the_state_is_kept(context: BrowserContext, server: Server,
                                               tmp_path):
    """In memory only without --data-dir; with one, its directory, and while writes fail, why
    (GET /__admin/health)."""
    page = context.new_page()
    try:
        page.goto(f"{server.url}/__admin/?poll={POLL}")
        has(page, "#kept", "Kept in memory only")
    finally:
        page.close()
    kept = Server(data_dir=str(tmp_path / "data"))
    page = context.new_page()
    try:
        page.goto(f"{kept.url}/__admin/?poll={POLL}")
        has(page, "#kept", f"Kept in {tmp_path / 'data'}")
        kept.app.data.failure = "cannot write tenants/default.json: the disk is full"
        has(page, "#kept", "Not saved: cannot write tenants/default.json: the disk is full")
        expect(page.locator("#kept")).to_have_class("kept muted bad")
    finally:
        page.close()
        kept.close()


def test_polls_never_overlap_even_when_the_server_is_slow(context: BrowserContext,
                                                          server: Server):
    # Every journal poll takes 600 ms, more than twice the 200 ms poll interval, and buttons
    # ask for a refresh meanwhile: still one poll at a time, each after the last ended.
    server.http.post("/__admin/clock", json={"set": DOC_TIME})
    page = context.new_page()
    page.add_init_script("""
        window.__inflight = 0; window.__most = 0; window.__polls = 0;
        const realFetch = window.fetch;
        window.fetch = async (url, opts) => {
          if (!String(url).startsWith('/__admin/requests?')) return realFetch(url, opts);
          window.__polls++; window.__most = Math.max(window.__most, ++window.__inflight);
          try { await new Promise(r => setTimeout(r, 600)); return await realFetch(url, opts); }
          finally { window.__inflight--; }
        };
    """)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server.url}/__admin/?poll=200")
        text(page, "#status", "live")
        for _ in range(5):
            page.click("text=+1 min")
        text(page, "#clock", "2024-01-15 10:35:00 UTC")
        page.wait_for_timeout(2000)
        assert page.evaluate("window.__most") == 1
        assert page.evaluate("window.__polls") >= 3  # ... and it kept polling
    finally:
        page.close()
    assert errors == []
