"""WebSocket handshakes reach a vendor by prefix or by its real Host, like HTTP calls, only where
the vendor serves one (`VendorApp(websockets=...)`); anywhere else they are refused before being
accepted (the client sees the handshake fail)."""
from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from mockserver import Clock, create_app

from ..conftest import DOC_TIME


@pytest.fixture(scope="module")
def live():
    with TestClient(create_app(seed=0, clock=Clock(DOC_TIME)), base_url="http://mock.test") as tc:
        yield tc


@pytest.mark.parametrize("path", ["/gravy/connections", "/__admin/health", "/nowhere",
                                  "/passage/v1/links"])
def test_a_handshake_where_no_vendor_serves_a_socket_is_refused(live, path):
    with pytest.raises(WebSocketDisconnect):
        with live.websocket_connect(path):
            pass


@pytest.mark.parametrize("url", ["/passage/link/ws?code=clm_unknown",
                                 "ws://connect.getpassage.ai/link/ws?code=clm_unknown"])
def test_a_vendor_socket_is_reached_by_prefix_and_by_host(live, url):
    # Accepted (the vendor's handler runs), then closed with the vendor's own code.
    with live.websocket_connect(url) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4004


# -- the journal: one entry per WebSocket connection, written when it ends ----------------------
@pytest.fixture
def journal(live):
    """The module server's journal, emptied; with a test-only socket at /passage/test/echo."""
    live.app.apps["passage"].websockets.setdefault("/test/echo", _echo)
    live.app.journal.clear()
    return live.app.journal


async def _echo(ws) -> None:
    """Echoes text; "close" closes 4321; `?tenant=` is noted as the call's tenant, as a
    vendor's handler notes the tenant it resolved."""
    await ws.accept()
    if "tenant" in ws.query_params:
        ws.scope["state"]["tenant"] = ws.query_params["tenant"]
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close":
            await ws.close(4321)
            return
        await ws.send_text(message.get("text") or "")


def listing(live, **params) -> dict:
    r = live.get("/__admin/requests", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_accepted_socket_the_server_closes_is_one_entry_with_its_close_code(live, journal):
    with live.websocket_connect("/passage/link/ws?code=clm_unknown") as ws:
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    assert journal.call_count == 1
    entry = listing(live)["requests"][0]
    assert {k: entry[k] for k in ("kind", "vendor", "method", "path", "query", "status")} == {
        "kind": "request", "vendor": "passage", "method": "GET", "path": "/link/ws",
        "query": "code=clm_unknown", "status": 101}
    # the server's close came first: the client's answering close does not replace it
    assert entry["websocket"] == {"closeCode": 4004, "received": 0, "sent": 0}
    assert journal.last.duration_ms >= 0


def test_messages_each_way_and_the_clients_close_code_are_counted(live, journal):
    with live.websocket_connect("/passage/test/echo") as ws:
        for text in ("one", "two", "three"):
            ws.send_text(text)
            assert ws.receive_text() == text
        ws.close(4100)
    assert listing(live)["requests"][0]["websocket"] == {"closeCode": 4100, "received": 3,
                                                         "sent": 3}
    with live.websocket_connect("/passage/test/echo") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_text("close")
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    newest = listing(live)["requests"][0]
    assert newest["websocket"] == {"closeCode": 4321, "received": 2, "sent": 1}
    assert newest["status"] == 101 and journal.call_count == 2


@pytest.mark.parametrize("url, vendor, path", [
    ("/passage/nope?code=clm_x", "passage", "/nope"),
    ("/passage/v1/links", "passage", "/v1/links"),
    ("/gravy/connections", "gravy", "/connections"),
    ("ws://connect.getpassage.ai/unknown", "passage", "/unknown")])
def test_a_refused_handshake_is_a_403_entry(live, journal, url, vendor, path):
    with pytest.raises(WebSocketDisconnect):
        with live.websocket_connect(url):
            pass
    entry = listing(live)["requests"][0]
    assert (entry["vendor"], entry["method"], entry["path"], entry["status"]) == (
        vendor, "GET", path, 403)
    assert entry["websocket"] == {"closeCode": None, "received": 0, "sent": 0}
    assert journal.call_count == 1


@pytest.mark.parametrize("path", ["/nowhere", "/__admin/health"])
def test_a_handshake_no_vendor_is_named_for_is_not_journaled_as_http_calls_are_not(
        live, journal, path):
    live.get(path)
    with pytest.raises(WebSocketDisconnect):
        with live.websocket_connect(path):
            pass
    assert journal.call_count == 0


def test_the_journal_filters_find_socket_entries(live, journal):
    with pytest.raises(WebSocketDisconnect):
        with live.websocket_connect("/passage/nope"):
            pass
    with live.websocket_connect("/passage/link/ws?code=clm_unknown") as ws:
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    live.get("/passage/link/ws")  # the plain HTTP call: 426
    assert journal.call_count == 3
    for params, statuses in [({"status": "101"}, [101]), ({"status": "1xx"}, [101]),
                             ({"status": "403"}, [403]), ({"vendor": "passage"}, [426, 101, 403]),
                             ({"vendor": "gravy"}, []), ({"path": "/link/*"}, [426, 101]),
                             ({"path": "/link/ws", "status": "101", "method": "get",
                               "kind": "request"}, [101])]:
        body = listing(live, **params)
        assert [e["status"] for e in body["requests"]] == statuses, params
        assert body["total"] == len(statuses)
        assert [c.status for c in journal.filter(**params)] == statuses
    # a plain HTTP entry has no websocket part
    assert "websocket" not in listing(live, status="426")["requests"][0]


def test_the_tenant_is_the_handlers_or_the_one_its_credentials_name(live, journal):
    other = live.post("/__admin/tenants", json={}).json()["id"]
    with live.websocket_connect(f"/passage/test/echo?tenant={other}") as ws:
        ws.send_text("x")
        ws.receive_text()
    with pytest.raises(WebSocketDisconnect):
        with live.websocket_connect("/passage/nope",
                                    headers={"Authorization": "Bearer psg_sandbox_key"}):
            pass
    with pytest.raises(WebSocketDisconnect):
        with live.websocket_connect("/passage/nope"):
            pass
    default = live.app.tenants.default.id
    assert [c.tenant for c in journal.calls] == [other, default, None]
    assert [e["status"] for e in listing(live, tenant=other)["requests"]] == [101]
    # deleting the tenant drops its entries, sockets' as any other
    assert live.delete(f"/__admin/tenants/{other}").status_code == 204
    assert [c.tenant for c in journal.calls] == [default, None]


def test_credentials_in_the_query_and_headers_are_redacted(live, journal):
    with live.websocket_connect("/passage/test/echo?clientToken=ct_secret&x=1",
                                headers={"Authorization": "Bearer psg_sandbox_key",
                                         "Cookie": "session=s3cret"}):
        pass
    entry = live.get(f"/__admin/requests/{journal.last.id}").json()
    assert entry["query"] == "clientToken=%5Bredacted%5D&x=1"
    assert entry["request"]["headers"]["authorization"] == "[redacted]"
    assert entry["request"]["headers"]["cookie"] == "[redacted]"
    assert "ct_secret" not in live.get("/__admin/requests").text
    assert "s3cret" not in live.get("/__admin/requests").text


def test_a_handler_that_fails_before_answering_is_a_500_entry(live, journal):
    async def broken(ws):
        raise RuntimeError("handler bug")

    live.app.apps["passage"].websockets["/test/broken"] = broken
    try:
        with pytest.raises(RuntimeError):
            with live.websocket_connect("/passage/test/broken"):
                pass
    finally:
        del live.app.apps["passage"].websockets["/test/broken"]
    assert (journal.last.status, journal.last.error) == (500, "the WebSocket handler failed")


HOSTILE = {  # id: (url, the handshake's status)
    "control-and-non-ascii": ("/passage/link/ws%01%7F%E2%80%AE%3Cimg%20src=x%3E%C3%A9%F0%9F%92%A5"
                              "%FF?code=%00%01\u00e9<script>", 403),
    "huge-query": ("/passage/test/echo?q=" + "x" * 60_000, 101),  # httpx's longest URL
    "invalid-utf8": ("/passage/%ED%A0%80?%ED%A0%80=%FF&code=\u202e", 403),
    "accepted": ("/passage/link/ws?code=clm_%00%0A%E2%80%AE\u00e9%FF<script>&code=%", 101)}


def admin_schema(live):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = live.get("/__admin/openapi.json").json()
    registry = Registry().with_resource(
        "urn:admin", Resource.from_contents(doc, default_specification=DRAFT202012))
    return lambda name: Draft202012Validator({"$ref": f"urn:admin#/components/schemas/{name}"},
                                             registry=registry)


@pytest.mark.parametrize("url, status", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_paths_and_queries_never_break_the_journal(live, journal, url, status):
    try:
        with live.websocket_connect(url) as ws:
            ws.send_text("\x00\ud800 not utf-8 safe")
    except (WebSocketDisconnect, UnicodeEncodeError):
        pass
    assert journal.call_count == 1
    schema = admin_schema(live)
    full = listing(live)
    schema("Journal").validate(full)
    schema("Journal").validate(listing(live, summary="1"))
    entry = full["requests"][0]
    assert (entry["vendor"], entry["status"]) == ("passage", status)
    one = live.get(f"/__admin/requests/{entry['id']}")
    assert one.status_code == 200
    schema("Call").validate(one.json())
    assert listing(live, path="*", vendor="passage")["total"] == 1
    assert live.get("/__admin/").status_code == 200


def test_the_journal_bounds_hold_for_socket_entries():
    app = create_app(seed=0, clock=Clock(DOC_TIME), journal_size=3, journal_bytes=20_000)
    with TestClient(app, base_url="http://mock.test") as tc:
        huge = "/passage/nope?q=" + "x" * 60_000
        with pytest.raises(WebSocketDisconnect):
            with tc.websocket_connect(huge):
                pass
        assert app.journal.call_count == 1  # the newest entry is kept, however large
        for _ in range(5):
            with pytest.raises(WebSocketDisconnect):
                with tc.websocket_connect("/passage/link/ws?code=clm_unknown") as ws:
                    ws.receive_json()
            assert app.journal.size_bytes <= app.journal.max_bytes
        assert app.journal.call_count == 3
        assert [c.path for c in app.journal.calls] == ["/link/ws"] * 3


def test_no_entry_while_the_journal_is_off():
    app = create_app(seed=0, clock=Clock(DOC_TIME))
    app.journal.enabled = False
    with TestClient(app, base_url="http://mock.test") as tc:
        with pytest.raises(WebSocketDisconnect) as closed:
            with tc.websocket_connect("/passage/link/ws?code=clm_unknown") as ws:
                ws.receive_json()
        assert closed.value.code == 4004  # served as before
    app.journal.enabled = True
    assert app.journal.call_count == 0


def test_the_sandbox_page_shows_socket_entries_as_text_with_their_status():
    """Under uvicorn and a real WebSocket client, in Chromium (skipped as the sandbox page's
    tests are, without a browser)."""
    from ..test_sandbox_page import ARGS, CHROMIUM, POLL, Server, count, has, text

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (tests/test_sandbox_page.py says how to get it)")
    from playwright.sync_api import sync_playwright
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    server = Server()
    try:
        ws_url = "ws" + server.url[4:]
        with pytest.raises(InvalidStatus) as refused:  # a hostile path: refused
            connect(ws_url + "/passage/%3Cimg%20src=x%20onerror=%22window.__pwned=1%22%3E"
                    "%E2%80%AE%01?code=%3Cb%3E" + "x" * 2000)
        assert refused.value.response.status_code == 403
        with connect(ws_url + "/passage/link/ws?code=clm_unknown") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv()
        assert closed.value.rcvd.code == 4004
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/__admin/?poll={POLL}")
            count(page, "#rows tr", 2)
            text(page, "#rows tr:nth-child(1) td.path", "websocket /link/ws?code=clm_unknown")
            text(page, "#rows tr:nth-child(1) .pill", "101")
            assert page.locator("#rows tr:nth-child(1) .pill").get_attribute("class") == "pill s1"
            text(page, "#rows tr:nth-child(2) .pill", "403")
            has(page, "#rows tr:nth-child(2) td.path", '/<img src=x onerror="window.__pwned=1">')
            page.select_option("#f-status", "101")
            count(page, "#rows tr", 1)
            page.locator("#rows tr").first.click()
            has(page, "#detail", "closed 4004, 0 received, 0 sent")
            assert page.locator("#rows img, #detail img").count() == 0
            browser.close()
        assert errors == [], errors
    finally:
        server.close()
