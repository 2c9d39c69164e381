"""HTTP/1.1 as the vendors' frontends speak it, over raw sockets against real `mockserver serve`
processes: the head bound (431), the header timeout (408), the connection bound, Host, absolute
form and pipelining. No timed assertion: the timeouts tested are the only clocks, every wait is
generous."""
from __future__ import annotations

import asyncio
import base64
import http.client
import io
import json
import re
import resource
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from mockserver import Clock, create_app
from mockserver.app import default_vendors
from mockserver.cli import parse_args
from mockserver.http1 import (FD_RESERVE, HEAD_TOO_LARGE, REQUEST_TIMEOUT, connection_bound,
                              protocol)

from .conftest import DOC_TIME, stop_process

REPO = Path(__file__).resolve().parents[1]
WAIT = 30.0  # seconds any single read may take on a loaded machine
HEALTH = b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n"
HEALTH_CLOSE = b"GET /__admin/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
GRAVITEC_AUTH = b"Basic " + base64.b64encode(b"1e26f7bb3f81e1ab789d3e20b9cf6325:"
                                              b"9bb59fcbff38b85647c421c65cca06ce")
PUSH_BODY = (REPO / "fixtures" / "gravitec" / "documented" / "push.request.json").read_bytes()
MALFORMED = b"GET /__admin/health HTTP/1.1\r\nHost: x\r\nNot a header line\r\n\r\n"
VENDOR_HOSTS = [(v.name, h) for v in default_vendors() for h in v.hosts]


class Served:
    """`python -m mockserver serve --port 0 ARGS` in its own process."""

    def __init__(self, *args: str, open_files: int | None = None) -> None:
        def limit_files() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        self.proc = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=REPO, preexec_fn=limit_files)
        line = self.proc.stdout.readline().strip()
        match = re.fullmatch(r"mockserver listening on http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"unexpected first line {line!r}: {self.proc.stderr.read()}")
        self.port = int(match.group(1))  # it listens before the banner: no retry needed

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)

    def exchange(self, data: bytes) -> bytes:
        """Send `data` on a new connection, then read until the server closes it."""
        with self.connect() as sock:
            try:
                sock.sendall(data)
            except OSError:  # refused while sending: what it answered is still to be read
                pass
            return read_to_close(sock)

    def json(self, method: str, path: str, body: dict | None = None) -> dict:
        raw = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n")
        [(status, _, answer)] = responses(self.exchange(head.encode() + raw))
        assert status < 300, answer
        return json.loads(answer)

    def close(self) -> str:
        """Stop it; what it wrote to stderr."""
        stop_process(self.proc)
        return self.proc.stderr.read()


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as one)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


class _Stream(io.BytesIO):
    def makefile(self, mode: str) -> "_Stream":
        return self

    def close(self) -> None:  # http.client closes its file after each answer: keep reading
        pass


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The answers in a byte stream, in order (http.client parses each)."""
    stream, out = _Stream(data), []
    while stream.tell() < len(data):
        answer = http.client.HTTPResponse(stream)  # type: ignore[arg-type]
        answer.begin()
        out.append((answer.status, {k.lower(): v for k, v in answer.getheaders()},
                    answer.read()))
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    s = Served()
    yield s
    s.close()


@pytest.fixture(scope="module")
def impatient() -> Iterator[Served]:
    s = Served("--header-timeout", "1")
    yield s
    s.close()


# -- head size ----------------------------------------------------------------------------------

def test_a_1_mib_header_is_431_with_nodes_bytes_and_the_connection_closed(server):
    got = server.exchange(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\nX-Big: "
                          + b"a" * 2**20 + b"\r\n\r\n")
    assert got == HEAD_TOO_LARGE == (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"Connection: close\r\n\r\n")
    assert responses(server.exchange(HEALTH_CLOSE))[0][0] == 200  # the server carries on


def _head_of(size: int) -> bytes:
    """A request head of exactly `size` bytes, header lines without optional whitespace."""
    start = b"GET /__admin/health HTTP/1.1\r\nHost:x\r\nConnection:close\r\nX-Pad:"
    end = b"\r\n\r\n"
    return start + b"a" * (size - len(start) - len(end)) + end


def test_the_bound_is_16_kib_of_request_line_and_header_lines(server):
    [(status, _, _)] = responses(server.exchange(_head_of(16 * 1024)))
    assert status == 200
    assert server.exchange(_head_of(16 * 1024 + 1)) == HEAD_TOO_LARGE


def test_a_head_sent_slowly_is_refused_once_past_the_bound_not_buffered_whole(server):
    with server.connect() as sock:
        sock.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n")
        sent, piece = 0, b"X-Pad: " + b"a" * 500 + b"\r\n"
        while sent < 2**20:  # a 1 MiB head, piece by piece, until the server answers
            try:
                sock.sendall(piece)
            except OSError:
                break
            sent += len(piece)
            if select.select([sock], [], [], 0.01)[0]:
                break
        got = read_to_close(sock)
    assert got == HEAD_TOO_LARGE
    assert sent < 2**20  # refused on the way, not after the whole head


def test_the_bound_is_a_setting():
    s = Served("--max-header-bytes", "1024")
    try:
        assert s.exchange(_head_of(1025)) == HEAD_TOO_LARGE
        [(status, _, _)] = responses(s.exchange(_head_of(1024)))
        assert status == 200
    finally:
        s.close()


# -- idle connections ---------------------------------------------------------------------------

def test_silent_connections_are_answered_408_and_closed_after_the_header_timeout(impatient):
    socks = [impatient.connect() for _ in range(50)]
    try:
        assert [read_to_close(s) for s in socks] == [REQUEST_TIMEOUT] * 50
    finally:
        for s in socks:
            s.close()
    assert REQUEST_TIMEOUT == b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"


def test_a_head_trickling_in_is_cut_by_the_timeout_not_kept_alive_by_its_bytes(impatient):
    with impatient.connect() as sock:
        sock.sendall(b"GET /__admin/health HTTP/1.1\r\n")
        for _ in range(int(WAIT / 0.05)):  # a header line every 50 ms, never the end
            if select.select([sock], [], [], 0.05)[0]:
                break
            try:
                sock.sendall(b"X-A: b\r\n")
            except OSError:
                break
        assert read_to_close(sock) == REQUEST_TIMEOUT


def test_on_a_kept_alive_connection_the_timeout_counts_from_the_next_heads_first_byte(impatient):
    with impatient.connect() as sock:
        sock.sendall(HEALTH)
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += sock.recv(65536)
        sock.sendall(b"GET /__admin/health HTTP/1.1\r\n")  # and nothing more
        assert read_to_close(sock) == REQUEST_TIMEOUT
    assert responses(first)[0][0] == 200


def test_a_slow_answer_is_not_cut_by_the_header_timeout(impatient):
    impatient.json("POST", "/__admin/faults", {"vendor": "gravy", "path": "^/integrations$",
                                               "latency": {"fixed": 2500}, "times": 1})
    with impatient.connect() as sock:
        # The answer takes 2.5 s, longer than the 1 s timeout; the next head waits meanwhile.
        sock.sendall(b"GET /gravy/integrations HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Publishable pk-test-sandbox\r\n\r\nGET /__admin/health")
        got = read_to_close(sock)
    [(status, _, body), *rest] = responses(got[:-len(REQUEST_TIMEOUT)])
    assert status == 200 and json.loads(body) and not rest
    assert got.endswith(REQUEST_TIMEOUT)


@pytest.mark.parametrize("settings", [{"args": ("--max-connections", "3")},
                                      {"args": (), "open_files": FD_RESERVE + 3}])
def test_past_max_connections_a_new_connection_is_closed_at_once(settings):
    s = Served(*settings["args"], open_files=settings.get("open_files"))
    held = []
    try:
        held = [s.connect() for _ in range(3)]
        with s.connect() as extra:  # accepted after the three, so over the bound
            assert read_to_close(extra) == b""
        held.pop().close()
        deadline = time.monotonic() + WAIT
        while True:  # once the server has seen that close, a new connection is served
            got = s.exchange(HEALTH_CLOSE)
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert responses(got)[0][0] == 200
        for sock in held:  # the others were kept open all along
            sock.sendall(HEALTH_CLOSE)
            assert responses(read_to_close(sock))[0][0] == 200
    finally:
        for sock in held:
            sock.close()
        err = s.close()
    if settings.get("open_files"):  # the default bound, lowered to fit the open-file limit
        assert "--max-connections 1000 lowered to 3" in err, err


def test_the_connection_bound_leaves_room_under_the_open_file_limit():
    assert connection_bound(1000, None) == 1000
    assert connection_bound(1000, 20000) == 1000
    assert connection_bound(1000, 256) == 256 - FD_RESERVE
    assert connection_bound(1000, 10) == 1


@pytest.mark.parametrize("env, argv, want", [
    ({}, [], (1000, 60.0, 16384)),
    ({"MOCKSERVER_MAX_CONNECTIONS": "50", "MOCKSERVER_HEADER_TIMEOUT": "2.5",
      "MOCKSERVER_MAX_HEADER_BYTES": "8192"}, [], (50, 2.5, 8192)),
    ({"MOCKSERVER_MAX_CONNECTIONS": "50", "MOCKSERVER_HEADER_TIMEOUT": "2.5"},
     ["--max-connections", "7", "--header-timeout", "0.5", "--max-header-bytes", "4096"],
     (7, 0.5, 4096)),
])
def test_the_settings_come_from_flags_then_environment_then_defaults(env, argv, want):
    args = parse_args(["serve", *argv], env=env)
    assert (args.max_connections, args.header_timeout, args.max_header_bytes) == want


@pytest.mark.parametrize("argv", [["--max-connections", "0"], ["--header-timeout", "0"],
                                  ["--header-timeout", "nan"], ["--header-timeout", "inf"],
                                  ["--max-header-bytes", "10"], ["--header-timeout", "soon"]])
def test_bad_settings_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["serve", *argv], env={})
    assert exc.value.code == 2 and capsys.readouterr().err


def test_the_protocol_class_carries_its_bounds():
    cls = protocol(max_head=100, header_timeout=2.0, max_connections=3)
    assert (cls.max_head, cls.header_timeout, cls.max_connections) == (100, 2.0, 3)
    assert protocol().max_head == 16 * 1024  # each server its own class: no shared state


# -- Host -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    b"GET /__admin/health HTTP/1.1\r\n\r\n",
    b"GET /__admin/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /__admin/health HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",  # identical: refused too
    b"GET /gravy/integrations HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
])
def test_a_request_without_exactly_one_host_is_400_and_closed(server, head):
    [(status, headers, body)] = responses(server.exchange(head))  # one answer, then the close
    assert status == 400 and headers["connection"] == "close"
    assert json.loads(body)["error"] == "Bad Request"
    if b"HTTP/1.1\r\n\r\n" in head:  # HTTP/1.0 may omit it
        [(status, _, _)] = responses(server.exchange(head.replace(b"1.1", b"1.0")))
        assert status == 200


def _status_and_body(server: Served, host: bytes, path: bytes = b"/no-such-call") -> tuple:
    [(status, _, body)] = responses(server.exchange(
        b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"))
    return status, body


def _routed(server: Served, host: bytes) -> tuple[str, str] | None:
    """(vendor, path) of the journal entry a request with this Host made; None: no vendor's."""
    before = server.json("GET", "/__admin/requests?limit=0")["total"]
    _status_and_body(server, host)
    after = server.json("GET", "/__admin/requests?limit=1")
    if after["total"] == before:
        return None
    return after["requests"][0]["vendor"], after["requests"][0]["path"]


@pytest.mark.parametrize("vendor, host", VENDOR_HOSTS)
def test_the_trailing_dot_form_of_a_vendor_host_routes_like_the_name(server, vendor, host):
    assert _routed(server, b"not-a-vendor.example") is None
    for form in (host, host + ".", host.upper() + ".:443", host + ".:8080"):
        assert _routed(server, form.encode()) == (vendor, "/no-such-call"), form
    assert _routed(server, host.encode() + b"..") is None  # one dot, not any number


def test_an_absolute_form_target_routes_by_its_authority_and_the_vendor_sees_the_path(server):
    [(status, _, body)] = responses(server.exchange(
        b"GET http://api.integry.io/apps/?page=2 HTTP/1.1\r\nHost: localhost\r\n"
        b"Connection: close\r\n\r\n"))
    assert (status, body) == _status_and_body(server, b"api.integry.io", b"/apps/?page=2")
    last = server.json("GET", "/__admin/requests?limit=2")["requests"]
    assert [(e["vendor"], e["path"], e["query"]) for e in last] == \
        [("integry", "/apps/", "page=2")] * 2
    # An authority that is no vendor's: the path's prefix routes, as with such a Host.
    [(status, _, body)] = responses(server.exchange(
        b"GET http://elsewhere.example/__admin/health HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n"))
    assert status == 200 and json.loads(body) == {"status": "ok"}


async def _asgi(app, path: str, headers: list[tuple[bytes, bytes]], version: str = "1.1"):
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": version,
               "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
               "query_string": b"", "root_path": "", "headers": headers,
               "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 1)}, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"")
                                                                 for m in sent[1:])


def test_the_host_rules_are_the_apps_so_in_process_use_behaves_the_same():
    app = create_app(seed=0, clock=Clock(DOC_TIME))
    for headers in ([], [(b"host", b"a"), (b"host", b"a")]):
        status, head, _ = asyncio.run(_asgi(app, "/__admin/health", headers))
        assert (status, head[b"connection"]) == (400, b"close")
    assert asyncio.run(_asgi(app, "/__admin/health", [], "1.0"))[0] == 200
    for path, host in [("/integrations", b"api.getpassage.ai."),
                       ("http://api.getpassage.ai/integrations", b"localhost")]:
        assert asyncio.run(_asgi(app, path, [(b"host", host)]))[0] == 200
        entry = app.journal.last
        assert (entry.vendor, entry.path) == ("gravy", "/integrations")


# -- pipelining -----------------------------------------------------------------------------------

def _push() -> bytes:
    return (b"POST /gravitec/api/v3/push HTTP/1.1\r\nHost: x\r\nAuthorization: " + GRAVITEC_AUTH
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(PUSH_BODY)).encode() + b"\r\n\r\n" + PUSH_BODY)


def test_pipelined_requests_before_a_malformed_one_are_all_answered_in_order(server):
    before = server.json("GET", "/__admin/requests?limit=0")["total"]
    answers = responses(server.exchange(_push() * 37 + MALFORMED + HEALTH))
    assert [a[0] for a in answers] == [200] * 37 + [400]  # then the close: nothing after
    ids = [int(json.loads(body)["id"]) for _, _, body in answers[:37]]
    assert ids == sorted(ids) and len(set(ids)) == 37  # one campaign each, answered in order
    assert answers[-1][1]["connection"] == "close"
    assert server.json("GET", "/__admin/requests?limit=0")["total"] == before + 37


def test_a_head_too_large_after_pipelined_requests_waits_for_their_answers(server):
    answers = responses(server.exchange(HEALTH * 5 + b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
                                        + b"a" * 20_000 + b"\r\n\r\n" + HEALTH))
    assert [a[0] for a in answers] == [200] * 5 + [431]


def test_a_malformed_body_in_the_last_pipelined_request_is_never_run(server):
    before = server.json("GET", "/__admin/requests?limit=0")["total"]
    chunked = (b"POST /gravitec/api/v3/push HTTP/1.1\r\nHost: x\r\nAuthorization: "
               + GRAVITEC_AUTH + b"\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    answers = responses(server.exchange(_push() * 3 + chunked))
    assert [a[0] for a in answers] == [200] * 3 + [400]
    assert server.json("GET", "/__admin/requests?limit=0")["total"] == before + 3
