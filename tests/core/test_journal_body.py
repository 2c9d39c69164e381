"""Every journaled request keeps the body it sent, also when the vendor answered before reading
it (a call refused for its credentials): the body is read after the answer went out, bounded by
the vendor's body limit and a wait, and kept within the journal's per-entry limit."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from mockserver.app import MAX_JOURNAL_BODY

from ..integry.conftest import APP_KEY

# One call per vendor that its auth refuses before the handler reads the body.
INTEGRY_BODY = json.dumps({"channel": "random", "text": "{first_name} just signed up!",
                           "_variables": {"first_name": "John", "last_name": "Doe"}}).encode()
REFUSED = {
    "gravy": ("/gravy/intent-token", {"Authorization": "Bearer nope"},
              b'{"integrationId":"audible","returnUrl":"https://example.com/back"}', 401),
    "gravitec": ("/gravitec/api/v3/push", {"Authorization": "Basic bm9wZTpub3Bl"},
                 b'{"payload":{"message":"hi","redirect_url":"https://gravitec.net"}}', 403),
    "groove": ("/groove/api/public/v1/graphql", {"Authorization": "Bearer nope"},
               b'{"query":"{ flows(first: 1) { nodes { name } } }"}', 401),
    "integry": ("/integry/functions/slack-post-message/call/",
                {"App-Key": APP_KEY, "User-ID": "123456", "Hash": "0" * 64}, INTEGRY_BODY, 403),
}


def last_entry(client) -> dict:
    return client.get("/__admin/requests", params={"limit": 1}).json()["requests"][0]


@pytest.mark.parametrize("vendor", sorted(REFUSED))
def test_a_call_refused_for_its_credentials_keeps_its_body(client, vendor):
    path, headers, body, status = REFUSED[vendor]
    r = client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == status
    entry = last_entry(client)
    assert (entry["vendor"], entry["status"]) == (vendor, status)
    assert json.loads(entry["request"]["body"]) == json.loads(body)


def test_a_body_an_unknown_route_never_read_is_kept(client):
    r = client.post("/gravitec/api/v3/nowhere", content=b"regId=a&name=b",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 404
    assert last_entry(client)["request"]["body"] == "regId=a&name=b"


def test_a_body_refused_by_cors_before_any_handler_is_kept(clock):
    from mockserver import create_app
    from ..conftest import MockClient
    c = MockClient(create_app(seed=0, clock=clock, cors_origins=["https://app.example.com"]))
    try:
        path, _, body, _ = REFUSED["gravitec"]
        r = c.post(path, content=body, check=False,
                   headers={"Origin": "https://elsewhere.example.com",
                            "Content-Type": "application/json"})
        assert r.status_code == 403 and r.text == "Invalid CORS request"
        assert json.loads(last_entry(c)["request"]["body"]) == json.loads(body)
    finally:
        c.close()


def test_a_large_unread_body_is_kept_to_the_journals_limit(client):
    path, headers, _, status = REFUSED["integry"]
    big = b"x" * (MAX_JOURNAL_BODY * 3)
    r = client.post(path, content=big, headers={**headers, "Content-Type": "text/plain"})
    assert r.status_code == status
    assert last_entry(client)["request"]["body"] == "x" * MAX_JOURNAL_BODY


# -- a client that sends its body late, partly, or not at all ---------------------------------
def _scope(path: str, headers: dict[str, str], length: int) -> dict:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"host", b"mock.test"), (b"content-length", str(length).encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": raw,
            "client": ("127.0.0.1", 1), "server": ("mock.test", 80)}


def _serve(app, first: bytes, then: dict | None):
    """Run one refused Integry call through the ASGI app: the client declares 50 bytes, sends
    `first`, then `then` (a message) or nothing more, ever. Returns (the messages sent before
    the app asked for more of the body, every message sent once the app finished)."""
    path, headers, _, _ = REFUSED["integry"]
    sent: list[dict] = []
    before_wait: list[dict] = []

    async def run() -> None:
        messages = [{"type": "http.request", "body": first, "more_body": True}]
        stalled = asyncio.Event()

        async def receive() -> dict:
            if messages:
                return messages.pop(0)
            if not stalled.is_set():
                before_wait.extend(sent)  # what the client had when the app waited for more
                stalled.set()
            if then is not None:
                return then
            await asyncio.Event().wait()  # never sends the rest
            raise AssertionError("unreachable")

        async def send(message: dict) -> None:
            sent.append(message)

        await app(_scope(path, headers, 50), receive, send)

    asyncio.run(run())
    return before_wait, sent


def test_the_answer_goes_out_before_the_rest_of_the_body_is_awaited(app):
    app.apps["integry"].body_wait = 0.05  # the wait itself is bounded; keep the test short
    before_wait, sent = _serve(app, b'{"channel":', None)
    start, body = before_wait[0], before_wait[1]
    assert start["status"] == 403
    assert json.loads(body["body"]) == {"detail": "Incorrect authentication credentials."}
    assert sent[-1] == {"type": "http.response.body", "body": b""}   # ended after the wait
    assert app.journal.last.request_body == '{"channel":'


def test_a_client_gone_before_its_body_ends_keeps_what_it_sent(app):
    _, sent = _serve(app, b'{"channel":"ran', {"type": "http.disconnect"})
    assert sent[0]["status"] == 403
    assert app.journal.last.request_body == '{"channel":"ran'


def test_a_real_server_answers_first_and_journals_the_body_sent_after(live):
    """Over a socket to uvicorn: the answer arrives while the body is still unsent; the body
    sent afterwards is what the journal shows, and the connection serves the next request."""
    path, headers, body, status = REFUSED["integry"]
    host, port = live.url.split("//")[1].split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((host, int(port)), timeout=60) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                  f"{head}Content-Length: {len(body)}\r\n\r\n".encode())
        answer = _read_answer(s)
        assert answer.startswith(f"HTTP/1.1 {status} ".encode())
        s.sendall(body)
        s.sendall(f"GET /integry/nowhere HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert _read_answer(s).startswith(b"HTTP/1.1 404 ")
    deadline = time.monotonic() + 60
    while True:
        entries = live.http.get("/__admin/requests",
                                params={"path": path[len("/integry"):]}).json()["requests"]
        mine = [e for e in entries if e["request"]["body"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert mine and json.loads(mine[0]["request"]["body"]) == json.loads(body)


def _read_answer(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = s.recv(65536)
        assert chunk, data
        rest += chunk
    return head + b"\r\n\r\n" + rest
