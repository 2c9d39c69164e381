"""What HTTP client libraries normalise away: long URLs, odd methods and Host headers, Content-Type
lies, raw bytes straight through ASGI, and hostile request lines to a live server."""
from __future__ import annotations

import asyncio
import socket

import pytest

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient
from .harness import Req, strict_json


def test_hostile_transport_level_requests(h):
    """Long URLs, %00, odd methods, Host headers, Content-Type lies, empty JSON bodies."""
    auth = [(k.lower().encode(), v.encode()) for k, v in h.valid["gravy"][0].items()]
    cases = [
        Req("GET", "/gravy/connections/" + "a" * 60_000, auth),  # httpx's limit is 64 KiB
        Req("GET", "/gravy/connections?" + "page=1&" * 9_000, auth),
        Req("GET", "/gravy/connections/%00", auth), Req("GET", "/gravy/%00/..%2F..%2F", auth),
        Req("GET", "/%00"), Req("GET", "/" + "x" * 60_000), Req("GET", "/__admin/%00"),
        Req("HEAD", "/gravy/connections", auth), Req("HEAD", "/__admin/"),
        Req("OPTIONS", "/gravy/connections", auth), Req("OPTIONS", "/__admin/clock"),
        Req("TRACE", "/gravy/oauth/token"), Req("PROPFIND", "/__admin/requests"),
        Req("GET", "/integrations", [(b"host", b"API.GETPASSAGE.AI:443")], host_vendor="gravy"),
        Req("GET", "/integrations", [(b"host", b"api.getpassage.ai.")], host_vendor="gravy"),
        Req("GET", "/gravy/integrations", [(b"host", b"\xff\xfe")]),
        Req("GET", "/__admin/nope", [(b"host", b"[")]),
        Req("GET", "/__admin/requests", [(b"host", b"[::1")]),
        Req("POST", "/gravy/oauth/token", [(b"content-type", b"text/plain")],
            b'{"grant_type": "client_credentials"}'),
        Req("POST", "/gravy/oauth/token", [(b"content-type", b"application/x-www-form-urlencoded")],
            b"grant_type=%zz&client_id=%&client_secret=%ff"),
        Req("POST", "/gravy/oauth/token", [(b"content-type", b"application/json")], b""),
        Req("POST", "/gravy/intent-token/validate",
            auth + [(b"content-type", b"application/json")], b""),
        Req("POST", "/__admin/clock", [(b"content-type", b"text/plain")], b'{"advance": 60}'),
        Req("POST", "/__admin/reset", [(b"content-type", b"application/x-www-form-urlencoded")],
            b"tenant=%zz"),
    ]
    for req in cases:
        h.send(req)
    h.journal_renders()


async def _raw(app, method: str, path: str, raw_path: bytes, query: bytes,
               headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One request straight through ASGI, with bytes no HTTP client library would send (a
    server passes the query string and raw path through as they came)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
               "method": method, "scheme": "http", "path": path, "raw_path": raw_path,
               "query_string": query, "root_path": "", "headers": headers,
               "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 1)}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path, raw_path, query", [
    ("/gravy/connections", b"/gravy/connections", b"page=\xff\x00&limit=\xc3"),
    ("/gravy/connections/\ufffd", b"/gravy/connections/\xff", b""),
    ("/gravy/nope/\x00", b"/gravy/nope/\x00", b"a=\xff"),
    ("/gravy/intent-token", b"/gravy/intent-token", b"shortCode=\xff\xfe"),
    ("/__admin/requests", b"/__admin/requests", b"limit=\xff&path=\xff&status=\x00"),
    ("/__admin/health", b"/__admin/health", b"token=\xff"),
    ("/\x00", b"/\x00", b"\xff"),
])
@pytest.mark.parametrize("admin_token", [None, "s3cret"])
def test_raw_bytes_a_client_library_would_not_send(path, raw_path, query, admin_token):
    app = create_app(seed=0, clock=Clock(DOC_TIME), admin_token=admin_token)
    token = app.vendors["gravy"].service.auth.issue(app.tenants.default, "gravy-sandbox-client",
                                                    "read write")
    headers = [(b"host", b"\xff:\xfe"), (b"authorization", b"Bearer " + token.encode()),
               (b"content-type", b"\x00")]  # no X-Admin-Token: the guard reads ?token=
    status, body = asyncio.run(_raw(app, "GET", path, raw_path, query, headers))
    assert status < 500, body
    strict_json(body)
    client = MockClient(app)
    try:
        r = client.get("/__admin/requests", headers={"X-Admin-Token": admin_token or ""})
        assert r.status_code == 200
        strict_json(r.content)
    finally:
        client.close()


def _wire(url: str, request: bytes) -> tuple[int, bytes, bytes]:
    """One raw HTTP/1.1 exchange with a live server: (status, head, body)."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize("request_line, extra", [
    (b"HEAD /gravy/connections", b""), (b"HEAD /__admin/", b""), (b"OPTIONS *", b""),
    (b"OPTIONS /gravy/oauth/token", b""), (b"FOO /gravy/integrations", b""),
    (b"GET /gravy/connections/%00?q=%ff%00", b""), (b"GET /gravy/connections/\xff", b""),
    (b"GET /gravy/" + b"a" * 100_000, b""), (b"GET /gravy/integrations?" + b"a=1&" * 30_000, b""),
    (b"GET http://elsewhere/gravy/integrations", b""),
    (b"GET /integrations", b"Host: API.RUNPASSAGE.AI:443\r\n"),
    (b"GET /gravy/integrations", b"Host: \xff[::\r\n"),
    (b"POST /gravy/oauth/token", b"Content-Type: application/json\r\nTransfer-Encoding: chunked"
                                 b"\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n"),
    (b"POST /__admin/clock", b"Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                             b'{"advance": NaN}\n'),
])
def test_a_real_server_answers_hostile_requests_below_500(live, request_line, extra):
    """What only a real socket can send; uvicorn itself may refuse some (a plain 400)."""
    if b"\r\n\r\n" not in extra:
        extra += b"\r\n"
    host = b"" if extra.startswith(b"Host:") else b"Host: mock\r\n"
    status, head, body = _wire(live.url, request_line + b" HTTP/1.1\r\n" + host
                               + b"Connection: close\r\n" + extra)
    assert status < 500, head + body[:300]
    if b"application/json" in head and not request_line.startswith(b"HEAD"):
        strict_json(body)
    if request_line.startswith(b"HEAD"):
        assert body == b""
    assert live.http.get("/__admin/requests?limit=100000").status_code == 200
