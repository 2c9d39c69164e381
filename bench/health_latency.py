#!/usr/bin/env python3
"""Health latency under load: while one client's heaviest allowed requests run, how long does
`GET /__admin/health` take from another connection?

    .venv/bin/python bench/health_latency.py [--seconds S] [--only a,b] [--bare] [--json FILE]

One `python -m mockserver serve --port 0` process. For each kind of heavy request in HEAVY
(name -> builder), the builder prepares the server (a tenant, a snapshot, a full journal) and
returns the raw requests; two threads send them over and over, each on a fresh connection,
while this process probes the health route on one keep-alive connection every 5 ms. Printed:
the probes' p50, p99 and max per kind, and how many heavy requests ran meanwhile. The issue's
bound: every probe under 50 ms (tests/test_event_loop.py asserts it, per kind).

`--bare` adds the same probes against a bare Starlette app (a health route, and a route that
reads any body and answers with as many bytes as the mock answered that request), sent the same
requests: the floor that moving the bytes alone costs on this machine. Only 127.0.0.1 is used; every wait has a deadline.

A vendor adds its heavy request with one builder in HEAVY: `def build(server) -> list[bytes]`
(see `raw`); `server.http` is an httpx client on the server for setup calls.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
BOUND_MS = 50.0        # the bound on every health probe
PROBE_EVERY = 0.005    # seconds between two probes
THREADS = 1            # heavy requests in flight at once (each kind cycles through its list)
HEALTH = b"GET /__admin/health HTTP/1.1\r\nHost: mock\r\n\r\n"
MiB = 1024 * 1024

GRAVITEC_AUTH = "Basic " + base64.b64encode(
    b"1e26f7bb3f81e1ab789d3e20b9cf6325:9bb59fcbff38b85647c421c65cca06ce").decode()
INTEGRY_APP_KEY = "002d4f23-778a-11e7-bf2a-42010a8002c7"
INTEGRY_USER = "123456"
INTEGRY_HASH = hmac.new(b"integry-sandbox-secret", INTEGRY_USER.encode(),
                        hashlib.sha256).hexdigest()
GROOVE_CLIENT = {"client_id": "groove-sandbox-client", "client_secret": "groove-sandbox-secret",
                 "redirect_uri": "http://localhost:3000/oauth/callback"}
GROOVE_GRAPHQL = "/groove/api/public/v1/graphql"
# The heaviest query Groove's default GraphQL limits allow (tests/groove/test_cost.py's
# HEAVIEST_ALLOWED_QUERY; tests/test_event_loop.py holds the two equal): 100 steps, 40 fields each,
# just within the token, complexity and answer bounds.
GROOVE_HEAVY_QUERY = (
    '{ flow(id: "1001") { steps(first: 100) { nodes { '
    + " ".join(f"n{i}: name" for i in range(40)) + " "
    + " ".join(f"x{i}: dayNumber @skip(if: true)" for i in range(85)) + " } } } }")
GROOVE_VARIANTS = 512  # distinct bodies: the answer cache must not serve a repeat


def raw(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """One HTTP/1.1 request as sent on the wire; the server closes the connection after it."""
    lines = [f"{method} {path} HTTP/1.1", "Host: mock", f"Content-Length: {len(body)}",
             "Connection: close"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json(method: str, path: str, body: Any, headers: dict[str, str] | None = None) -> bytes:
    return raw(method, path, json.dumps(body).encode(),
               {"Content-Type": "application/json", **(headers or {})})


# -- the heavy requests, one builder per kind ------------------------------------------------
def _tenant_with(server: "Target", vendor_part: Callable[[dict], None]) -> tuple[str, dict]:
    """A new tenant whose snapshot's vendor part `vendor_part` rewrote (imported, 200)."""
    made = server.http.post("/__admin/tenants").json()
    tid = made["id"]
    snap = server.http.get("/__admin/state", params={"tenant": tid}).json()
    vendor_part(snap["vendors"])
    r = server.http.put("/__admin/state", params={"tenant": tid}, content=json.dumps(snap))
    if r.status_code != 200:
        raise RuntimeError(f"import for the heavy request refused: {r.text[:500]}")
    return tid, made["credentials"]


def _big_gravy(vendors: dict, connections: int = 110, metadata: int = 560_000) -> None:
    """As many connections as one page lists (and a few more), each with as much metadata as
    the 64 MiB snapshot has room for: the largest page GET /connections can answer."""
    part = vendors["gravy"]
    model = part["connections"][0]
    conns = []
    for i in range(connections):
        c = dict(model, id=f"conn_heavy{i:06d}", createdAt=f"2024-01-{1 + i % 28:02d}T00:00:00Z",
                 connectionMetadata={"notes": f"{i}:" + "n" * metadata})
        conns.append(c)
    part["connections"] = part["connections"] + conns
    part["minted"] = [c["id"] for c in conns]


def gravy_page(server: "Target") -> list[bytes]:
    _, creds = _tenant_with(server, _big_gravy)
    g = creds["gravy"]
    r = server.http.post("/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": g["clientId"],
        "client_secret": g["clientSecret"]})
    token = r.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    out = [raw("GET", f"/gravy/connections?limit=100&sortBy={s}&sortOrder={o}", headers=auth)
           for s in ("createdAt", "updatedAt") for o in ("asc", "desc")]
    # the documented connection's largest resource page, in the default tenant
    token = server.http.post("/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
        "client_secret": "gravy-sandbox-secret"}).json()["access_token"]
    out.append(raw("GET", "/gravy/connections/conn_789xyz123abc/trips?limit=100&sortBy=title",
                   headers={"Authorization": f"Bearer {token}"}))
    return out


def gravitec_push(server: "Target") -> list[bytes]:
    """1 MiB push bodies of the shapes that cost most to bind: long lists, deep arrays."""
    auth = {"Authorization": GRAVITEC_AUTH}
    payload = {"message": "m", "redirect_url": "https://gravitec.net"}
    return [
        _json("POST", "/gravitec/api/v3/push", {"payload": payload, "audience": {
            "tags_segment": [{"association": "AND", "name": "x"}] * 27_000}}, auth),
        _json("POST", "/gravitec/api/v3/push", {"payload": payload, "audience": {
            "tokens": ["t"] * 200_000}}, auth),
        _json("POST", "/gravitec/api/v3/push", [[[[1]]]] * 60_000, auth),
        _json("POST", "/gravitec/api/v3/push", {"payload": {
            **payload, "message": "m" * (MiB - 100)}}, auth),
    ]


def integry_call(server: "Target") -> list[bytes]:
    """1 MiB function calls at the bounds of reference-tag replacement (handlers.TAG_SCAN_MAX,
    TAG_TEXT_MAX): sixty variables scanning 1 MB of text (60 million characters), a 1 MiB text,
    a tag whose replacement grows the text to 1 MB; and one past the scan bound, refused."""
    headers = {"App-Key": INTEGRY_APP_KEY, "User-ID": INTEGRY_USER, "Hash": INTEGRY_HASH}
    path = "/integry/functions/slack-post-message/call/"
    return [
        _json("POST", path, {"channel": "random", "text": "{other} " * 125_000,
                             "_variables": {f"v{i}": "x" for i in range(60)}}, headers),
        _json("POST", path, {"channel": "random", "text": "t" * (MiB - 100)}, headers),
        _json("POST", path, {"channel": "random", "text": "{a}" * 2_000,
                             "_variables": {"a": "x" * 500}}, headers),
        _json("POST", path, {"channel": "random", "text": "{v1} " * 140_000,
                             "_variables": {f"v{i}": "x" for i in range(20_000)}}, headers),
    ]


def groove_graphql(server: "Target") -> list[bytes]:
    r = server.http.get("/groove/oauth/authorize", follow_redirects=False, params={
        "client_id": GROOVE_CLIENT["client_id"], "scope": "first-scope",
        "redirect_uri": GROOVE_CLIENT["redirect_uri"], "state": "heavy"})
    code = r.headers["location"].split("code=", 1)[1].split("&", 1)[0]
    token = server.http.post("/groove/oauth/token", json={
        "grant_type": "authorization_code", "code": code, **GROOVE_CLIENT}).json()["access_token"]
    server.http.post("/__admin/groove/rate-limit", json={"limit": 1_000_000})
    # Each body differs (an undeclared variable graphql-core ignores, every fourth one a new
    # document text too), so every request executes the query: none is a cached answer.
    return [_json("POST", GROOVE_GRAPHQL,
                  {"query": GROOVE_HEAVY_QUERY + " " * (i // 4 if i % 4 == 0 else 0),
                   "variables": {"n": i}},
                  {"Authorization": f"Bearer {token}"}) for i in range(GROOVE_VARIANTS)]


def _big_gravitec(vendors: dict, campaigns: int = 1_000, size: int = 62_000) -> None:
    """A snapshot near 64 MiB: campaigns of the main site with large payloads."""
    site = vendors["gravitec"]["sites"]["main"]
    site["campaigns"] = [{
        "id": str(10**17 + i), "createdAt": 1705314600.0, "sendAt": 1705314600000,
        "ttl": 86400, "displayTime": 60, "pushTag": None, "isTransactional": False,
        "audience": None, "send": 3,
        "payload": {"message": f"{i}:" + "m" * size, "title": "t", "redirect_url":
                    "https://gravitec.net", "extra": [{"k": n, "v": "w" * 20} for n in range(40)]},
    } for i in range(campaigns)]
    site["lastId"] = 10**17 + campaigns


def admin_import(server: "Target") -> list[bytes]:
    made = server.http.post("/__admin/tenants").json()
    snap = server.http.get("/__admin/state", params={"tenant": made["id"]}).json()
    _big_gravitec(snap["vendors"])
    body = json.dumps(snap).encode()
    hostile = b'{"version":1,"tenant":"' + b"x" * (64 * MiB - 100) + b'"}'
    path = f"/__admin/state?tenant={made['id']}"
    return [raw("PUT", path, body, {"Content-Type": "application/json"}),
            raw("PUT", path, hostile, {"Content-Type": "application/json"})]


def admin_export(server: "Target") -> list[bytes]:
    tid, _ = _tenant_with(server, _big_gravitec)
    return [raw("GET", f"/__admin/state?tenant={tid}")]


def _fill_journal(server: "Target", calls: int = 1_200) -> None:
    """The journal full of large bodies: Gravitec pushes of 40 KiB (refused, kept all the same:
    the journal keeps 32 KiB of each body)."""
    body = raw("POST", "/gravitec/api/v3/push", json.dumps({"payload": {
        "message": "x" * 40_000, "title": "t", "redirect_url": "https://gravitec.net"}}).encode(),
               {"Authorization": GRAVITEC_AUTH, "Content-Type": "application/json"})
    for _ in range(calls):
        _send(server.port, body)


def admin_journal(server: "Target") -> list[bytes]:
    _fill_journal(server)
    return [raw("GET", "/__admin/requests?limit=10000")]


def _fill_small(server: "Target", calls: int = 10_000, batch: int = 500) -> None:
    """`calls` small calls (the journal's default capacity), pipelined in batches."""
    one = b"GET /gravy/integrations HTTP/1.1\r\nHost: mock\r\n\r\n"
    last = b"GET /gravy/integrations HTTP/1.1\r\nHost: mock\r\nConnection: close\r\n\r\n"
    for start in range(0, calls, batch):
        n = min(batch, calls - start)
        _send(server.port, one * (n - 1) + last)


def admin_journal_page(server: "Target") -> list[bytes]:
    """What the sandbox page polls (the newest 100, summaries) over a full journal, filtered
    as a user might: every entry is tested against the filter."""
    _fill_small(server)
    return [raw("GET", "/__admin/requests?summary=1&limit=100"),
            raw("GET", "/__admin/requests?summary=1&limit=100&path=/api/*/pu?h&status=4xx")]


HEAVY: dict[str, Callable[["Target"], list[bytes]]] = {
    "gravy-page": gravy_page,
    "gravitec-push": gravitec_push,
    "integry-call": integry_call,
    "groove-graphql": groove_graphql,
    "admin-import": admin_import,
    "admin-export": admin_export,
    "admin-journal": admin_journal,
    "admin-journal-page": admin_journal_page,
}


# -- the measurement ---------------------------------------------------------------------------
@dataclass
class Target:
    """A server under test: its port, and an httpx client on it for setup calls."""

    port: int
    http: Any
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"


def _read_until_closed(sock: socket.socket) -> tuple[bytes, int]:
    """The whole answer of a `Connection: close` request, read into one reused buffer (a heavy
    answer may be 60 MB): its start, and its size in bytes."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    first, size = b"", 0
    while True:
        n = sock.recv_into(view)
        if not n:
            return first, size
        size += n
        if not first:
            first = bytes(view[:min(n, 64)])


def _send(port: int, request: bytes, timeout: float = 300) -> bytes:
    """Send one request on a fresh connection; the start of its answer."""
    return _exchange(port, request, timeout)[0]


def _exchange(port: int, request: bytes, timeout: float = 300) -> tuple[bytes, int]:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        return _read_until_closed(sock)


def _status(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _read_health(sock: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the health connection closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the health connection closed")
        rest += chunk


@dataclass
class Result:
    kind: str
    probes: list[float] = field(default_factory=list)   # ms
    heavy: list[tuple[float, int | None]] = field(default_factory=list)  # (s, status)
    sizes: dict[int, int] = field(default_factory=dict)  # request index -> answer bytes

    @property
    def worst_ms(self) -> float:
        return max(self.probes) if self.probes else float("inf")

    def summary(self) -> dict[str, Any]:
        p = sorted(self.probes)
        return {"kind": self.kind, "probes": len(p),
                "p50_ms": round(statistics.median(p), 2) if p else None,
                "p99_ms": round(p[min(len(p) - 1, int(len(p) * 0.99))], 2) if p else None,
                "max_ms": round(self.worst_ms, 2),
                "heavy_done": len(self.heavy),
                "heavy_s": round(statistics.median(h[0] for h in self.heavy), 3)
                if self.heavy else None,
                "statuses": sorted({s for _, s in self.heavy}, key=str)}


def measure(port: int, kind: str, requests: list[bytes], seconds: float = 3.0,
            min_heavy: int = 2, deadline_s: float = 300.0) -> Result:
    """Probe health every PROBE_EVERY while THREADS threads send `requests` in turn, for
    `seconds` and until at least `min_heavy` heavy requests have completed."""
    result = Result(kind)
    stop = threading.Event()
    errors: list[BaseException] = []

    def heavy(offset: int) -> None:
        n = offset
        try:
            while not stop.is_set():
                started = time.perf_counter()
                answer, size = _exchange(port, requests[n % len(requests)])
                result.heavy.append((time.perf_counter() - started, _status(answer)))
                result.sizes[n % len(requests)] = size
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=heavy, args=(i,), daemon=True)
               for i in range(THREADS if requests else 0)]
    with socket.create_connection((HOST, port), timeout=30) as probe:
        probe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for t in threads:
            t.start()
        begun = time.monotonic()
        try:
            while True:
                elapsed = time.monotonic() - begun
                if elapsed >= seconds and (len(result.heavy) >= min(min_heavy, len(threads) or 0)
                                           or not threads):
                    break
                if elapsed > deadline_s or errors:
                    break
                started = time.perf_counter()
                probe.sendall(HEALTH)
                _read_health(probe)
                result.probes.append((time.perf_counter() - started) * 1000.0)
                time.sleep(PROBE_EVERY)
        finally:
            stop.set()
            for t in threads:
                t.join(deadline_s)
    if errors:
        raise RuntimeError(f"{kind}: a heavy request failed: {errors[0]!r}")
    return result


# -- servers ------------------------------------------------------------------------------------
def start_mock(extra: list[str] | None = None, timeout: float = 120.0) -> Target:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mockserver", "serve", "--port", "0",
                             *(extra or [])], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return _started(proc, timeout, "the mock")


def _started(proc: subprocess.Popen, timeout: float, what: str) -> Target:
    """The server `proc` runs, once its banner is out and it answers health."""
    import httpx
    line = _first_line(proc, timeout)
    if not line.startswith("mockserver listening on "):
        stop(proc)
        raise RuntimeError(f"{what} did not start: {line!r}")
    port = int(line.rsplit(":", 1)[1])
    target = Target(port, httpx.Client(base_url=f"http://{HOST}:{port}", timeout=300), proc)
    _wait_healthy(target, timeout)
    return target


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""


def _wait_healthy(target: Target, timeout: float) -> None:
    import httpx
    deadline = time.monotonic() + timeout
    while True:
        try:
            if target.http.get("/__admin/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server never answered its health route")
        time.sleep(0.05)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


BARE_APP = '''
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

async def health(request):
    return JSONResponse({"status": "ok"})

ANSWER = b"x" * (80 * 1024 * 1024)

async def anything(request):
    async for _ in request.stream():
        pass
    size = int(request.headers.get("x-answer-bytes", "2"))
    return Response(ANSWER[:size], media_type="application/json")

app = Starlette(routes=[Route("/__admin/health", health),
                        Route("/{path:path}", anything, methods=["GET", "POST", "PUT"])])
config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
server = uvicorn.Server(config)
import socket
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print(f"mockserver listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
server.run(sockets=[sock])
'''


def start_bare(timeout: float = 120.0) -> Target:
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return _started(proc, timeout, "the bare app")


def machine() -> str:
    import platform
    try:
        load = "load %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = ""
    return f"{os.cpu_count()} CPUs, {platform.python_implementation()} " \
           f"{platform.python_version()}, {load}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per kind, at least")
    parser.add_argument("--only", help="comma-separated kinds (default: all, and idle)")
    parser.add_argument("--bare", action="store_true",
                        help="also probe a bare Starlette app sent the same requests")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    kinds = args.only.split(",") if args.only else ["idle", *HEAVY]
    unknown = [k for k in kinds if k != "idle" and k not in HEAVY]
    if unknown:
        parser.error(f"unknown kinds: {', '.join(unknown)}")
    print(f"# {machine()}; probe every {PROBE_EVERY * 1000:g} ms, {THREADS} heavy requests "
          f"in flight; bound {BOUND_MS:g} ms")
    rows: list[dict[str, Any]] = []
    mock = start_mock()
    bare = start_bare() if args.bare else None
    try:
        for kind in kinds:
            requests = [] if kind == "idle" else HEAVY[kind](mock)
            result = measure(mock.port, kind, requests, args.seconds)
            row = result.summary()
            if bare is not None:
                # the same requests, each answered with as many bytes as the mock sent
                sized = [r.replace(b"\r\n\r\n", b"\r\nX-Answer-Bytes: %d\r\n\r\n"
                                   % result.sizes.get(i, 2), 1) for i, r in enumerate(requests)]
                floor = measure(bare.port, kind, sized, args.seconds).summary()
                row["bare"] = {k: floor[k] for k in ("p50_ms", "p99_ms", "max_ms")}
            row["within_bound"] = row["max_ms"] < BOUND_MS
            rows.append(row)
            bare_text = (f"  | bare p50 {row['bare']['p50_ms']} p99 {row['bare']['p99_ms']} "
                         f"max {row['bare']['max_ms']}") if "bare" in row else ""
            print(f"{kind:20s} probes {row['probes']:5d}  p50 {row['p50_ms']:7.2f}  "
                  f"p99 {row['p99_ms']:7.2f}  max {row['max_ms']:7.2f} ms  heavy "
                  f"{row['heavy_done']} x {row['heavy_s']} s {row['statuses']}{bare_text}",
                  flush=True)
    finally:
        mock.http.close()
        stop(mock.proc)
        if bare is not None:
            bare.http.close()
            stop(bare.proc)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0 if all(r["within_bound"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
