#!/usr/bin/env python3
"""Load benchmark: the mock's hot request paths against a bare Starlette app serving the same bytes.

    .venv/bin/python bench/run.py [--seconds N] [--connections C] [--rounds R] [--warmup W]
                                  [--driver auto|wrk|python|both] [--endpoints a,b]
                                  [--check] [--json FILE] [--http mockserver|httptools|h11]
                                  [--mock-part NAME]

The endpoints measured are the ENDPOINTS table below (one line each: name, method, path, query,
headers, body; where needed, the values that vary per response and setup calls on the mock's
control plane, such as lifting Groove's rate limit). Servers run as separate processes, each one uvicorn worker, identical settings:
  mock  create_app(seed=0, clock=Clock("2024-01-15T10:30:00Z"), journal_size=10000), journal ON;
        one mock serves every endpoint, as it would a test suite
  bare  per endpoint, a Starlette app with one route at the same method and path, answering the
        mock's exact bytes, status, content-type and vendor headers (a real response of the mock
        is the template; nothing else: no auth, no validation, no body parsing, no journal)
Both get the same load (wrk if on PATH, else the asyncio driver in this file, run in its own
process), in alternating rounds (mock, bare, mock, bare, ...), and the script prints requests/s,
p50/p99 latency, the medians over the rounds and the ratio mock/bare, per endpoint, then one
summary table. It also times `app.tenants.reset()` in-process. See bench/README.md.
`--mock-part` serves the mock with a part of a call taken out (bench/parts.py), to measure what
the rest costs.

Every load loop is bounded by a deadline, and every child process by a timeout. Traffic only
goes to 127.0.0.1. The same file is the server process (`_serve`) and the load driver (`_load`).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PATH = "/gravy/connections/conn_789xyz123abc/balances"
# A filter and a sort, as the issue asks: 21 of the documented connection's 150 balances are
# points, so page 1 is a full page of 20.
QUERY = "type=points&sortBy=createdAt&sortOrder=desc&page=1&limit=20"
CLOCK_AT = "2024-01-15T10:30:00Z"
TOKEN_REQUEST = {"grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
                 "client_secret": "gravy-sandbox-secret"}
TARGET_RATIO = 0.8        # the Gravy list (raw ASGI: its ceiling is above 1.0)
TARGET_P99_MS = 5.0       # every endpoint, mock side
TARGET_RESET_MS = 10.0
# Response headers that uvicorn writes itself (or that describe the body); every other header of
# the mock's response is copied onto the bare app's, so both send the same header set.
TRANSPORT_HEADERS = frozenset({"content-length", "date", "server", "connection",
                               "transfer-encoding", "keep-alive"})


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked request. Header values may name a secret fetched from the mock at start
    (`{gravy_token}`, see SECRETS)."""

    name: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    target: float | None = None   # mock/bare req/s ratio that --check demands; None: reported only
    varies: tuple[str, ...] = ()  # top-level JSON keys whose values differ per response (new ids)
    # Response headers (lower case) whose values differ per response (a rate-limit meter): the
    # bare app repeats the template's values; the check before the load wants the header, not
    # the value.
    varies_headers: tuple[str, ...] = ()
    # Control-plane calls (method, path, JSON body) made once on the mock before its template
    # response is taken, each must answer 2xx (e.g. lift a rate limit the load would hit).
    setup: tuple[tuple[str, str, str], ...] = ()
    # The mock's success status (a create answers 201); the bare server answers the same, and
    # the drivers count any other status as a failed request.
    status: int = 200

    @property
    def target_url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def has_body(self) -> bool:
        """Sent with a Content-Length (0 when empty): any method but GET/HEAD, or a body."""
        return bool(self.body) or self.method not in ("GET", "HEAD")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GRAVITEC_AUTH = ("Authorization", _basic("1e26f7bb3f81e1ab789d3e20b9cf6325",
                                         "9bb59fcbff38b85647c421c65cca06ce"))
GROOVE_GRAPHQL = "/groove/api/public/v1/graphql"
GROOVE_FLOW_QUERY = (b'{"query": "query($id: ID!) { flow(id: $id) { id name steps(first: 10) '
                     b'{ edges { cursor node { id name dayNumber } } pageInfo { hasNextPage '
                     b'endCursor } } } }", "variables": {"id": "1001"}}')
# Groove allows 100 requests per minute per token (and the mock's clock is frozen, so that
# minute never ends): the load runs with the highest limit the control plane accepts. Every
# answer counts down X-RateLimit-Remaining, so the mock's headers vary, not its body.
GROOVE_RATE_LIMIT = 1_000_000
# Integry signs each call: `Hash` is the hex HMAC-SHA256 of the user id keyed by the app secret
# (the default tenant's sandbox credentials, so no secret has to be fetched from the mock).
INTEGRY_APP_KEY = "002d4f23-778a-11e7-bf2a-42010a8002c7"
INTEGRY_USER_ID = "123456"
INTEGRY_HASH = hmac.new(b"integry-sandbox-secret", INTEGRY_USER_ID.encode(),
                        hashlib.sha256).hexdigest()
# The documented example: post to Slack's #random with two reference tags filled from _variables.
INTEGRY_CALL = (b'{"channel": "random", "text": "{first_name} {last_name} just signed up!", '
                b'"_variables": {"first_name": "John", "last_name": "Doe"}}')
# Passage Connect: the default tenant's sandbox API key (nothing to fetch) and the current
# quickstart's body (docs.getpassage.ai/connect/quickstart, Step 2), its keys and values as
# documented, on one line.
PASSAGE_API_KEY = "psg_sandbox_key"
PASSAGE_CREATE = (b'{"integrationId": "tmobile", "operations": [{"resource": '
                  b'"mobileBillingStatement", "action": "read"}], '
                  b'"webhookUrl": "https://your-server.com/webhook"}')
# Each push stores a campaign on the mock (at most --max-sessions, 10,000, the oldest evicted):
# that is the real workload, so it stays.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("gravy-balances", "GET", PATH, QUERY,
             (("Authorization", "Bearer {gravy_token}"),), target=TARGET_RATIO),
    Endpoint("gravitec-push", "POST", "/gravitec/api/v3/push", "",
             (GRAVITEC_AUTH, ("Content-Type", "application/json")),
             (ROOT / "fixtures/gravitec/documented/push.request.json").read_bytes(),
             target=0.5, varies=("id",)),
    Endpoint("gravitec-tag", "POST", "/gravitec/api/v3/tag", "regId=someregid&name=tagname",
             (GRAVITEC_AUTH,)),
    Endpoint("groove-flow", "POST", GROOVE_GRAPHQL, "",
             (("Authorization", "Bearer {groove_token}"), ("Content-Type", "application/json")),
             GROOVE_FLOW_QUERY, target=0.2,
             varies_headers=("x-ratelimit-remaining", "x-ratelimit-reset"),
             setup=(("POST", "/__admin/groove/rate-limit",
                     json.dumps({"limit": GROOVE_RATE_LIMIT})),)),
    # Each call appends the message to the simulated Slack channel (a deque of the last 1,000)
    # and to the user's call log (the last 100): bounded, so it stays. X-Session-ID is a new
    # uuid per call; the body's Slack `ts` comes from the mock's clock, frozen here, so the body
    # is the same every time and is checked whole.
    Endpoint("integry-call", "POST", "/integry/functions/slack-post-message/call/", "",
             (("App-Key", INTEGRY_APP_KEY), ("User-ID", INTEGRY_USER_ID),
              ("Hash", INTEGRY_HASH), ("Content-Type", "application/json")),
             INTEGRY_CALL, target=0.5, varies_headers=("x-session-id",)),
    # Each create stores a pending link (bounded by --max-sessions, 10,000 per tenant, the
    # oldest dropped with its claim code): the real workload, so it stays. Nothing claims the
    # links, so no webhook is ever sent to the body's webhookUrl.
    Endpoint("passage-create-link", "POST", "/passage/v1/links", "",
             (("Authorization", f"Bearer {PASSAGE_API_KEY}"),
              ("Content-Type", "application/json")),
             PASSAGE_CREATE, target=0.9, varies=("linkId", "claimCode", "appClipUrl"),
             status=201),
)
ENDPOINTS_BY_NAME = {e.name: e for e in ENDPOINTS}


def _gravy_token(client, base: str) -> str:
    r = client.post(base + "/gravy/oauth/token", json=TOKEN_REQUEST)
    r.raise_for_status()
    return r.json()["access_token"]


GROOVE_CLIENT = {"client_id": "groove-sandbox-client", "client_secret": "groove-sandbox-secret",
                 "redirect_uri": "http://localhost:3000/oauth/callback"}


def _groove_token(client, base: str) -> str:
    """Groove's OAuth code flow: the mock's sandbox user approves at once (302 with ?code=),
    then the code is exchanged for an access token."""
    r = client.get(base + "/groove/oauth/authorize", follow_redirects=False,
                   params={"client_id": GROOVE_CLIENT["client_id"], "scope": "first-scope",
                           "redirect_uri": GROOVE_CLIENT["redirect_uri"], "state": "bench"})
    if r.status_code != 302:
        raise RuntimeError(f"groove authorize: {r.status_code} {r.text[:300]}")
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    r = client.post(base + "/groove/oauth/token",
                    json={"grant_type": "authorization_code", "code": code, **GROOVE_CLIENT})
    r.raise_for_status()
    return r.json()["access_token"]


# Secrets that header values name, each fetched once from the running mock.
SECRETS: dict[str, Callable[[Any, str], str]] = {"gravy_token": _gravy_token,
                                                  "groove_token": _groove_token}


def run_setup(client, base: str, ep: Endpoint) -> None:
    """The endpoint's control-plane calls on the mock (see Endpoint.setup)."""
    for method, path, body in ep.setup:
        r = client.request(method, base + path, content=body.encode(),
                           headers={"Content-Type": "application/json"})
        if not 200 <= r.status_code < 300:
            raise RuntimeError(f"{ep.name} setup {method} {path}: {r.status_code} {r.text[:300]}")


def resolve_headers(ep: Endpoint, secrets: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, v.format_map(secrets)) for k, v in ep.headers]


def needed_secrets(endpoints: list[Endpoint]) -> list[str]:
    names = []
    for ep in endpoints:
        for _, v in ep.headers:
            for n in re.findall(r"\{(\w+)\}", v):
                if n not in names:
                    names.append(n)
    return names


# `--http`: the protocol `mockserver serve` runs (uvicorn's httptools one, with the head bound,
# header timeout, connection bound and ordered pipelining of mockserver/http1.py), or one of
# uvicorn's own for comparison. Both servers always get the same.
HTTP_PROTOCOLS = {"mockserver": "mockserver.http1:Http1Protocol", "httptools": "httptools",
                  "h11": "h11"}


def _loop_and_http(http: str = "mockserver") -> tuple[str, str]:
    """The fastest loop installed and the HTTP protocol asked for (`--http`)."""
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return loop, http


# ==================================================================================================
# Server process:  run.py _serve mock|bare [--body-file F --headers-file H --method M --path P
#                                             --status S] --loop L --http P
# ==================================================================================================

def bare_app(body: bytes, headers: dict[str, str], method: str = "GET", path: str = PATH,
             status: int = 200):
    """One route at `method path` answering these bytes, status and headers, and nothing else
    (a request body is left unread)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    content_type = headers.get("content-type")  # None (no body, as Spring's void 200): none sent
    extra = {k: v for k, v in headers.items() if k != "content-type"}

    async def endpoint(request):
        return Response(body, status_code=status, media_type=content_type, headers=extra)

    return Starlette(routes=[Route(path, endpoint, methods=[method])])


def load_parts() -> Any:
    """bench/parts.py, by its path (the bench is no package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mockserver_bench_parts",
                                                  Path(__file__).with_name("parts.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="run.py _serve")
    p.add_argument("kind", choices=("mock", "bare"))
    p.add_argument("--body-file")
    p.add_argument("--headers-file")
    p.add_argument("--method", default="GET")
    p.add_argument("--path", default=PATH)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--loop", required=True)
    p.add_argument("--http", required=True)
    p.add_argument("--data-dir", help="the mock keeps its state in this dir (bench/datadir.py)")
    p.add_argument("--part", help="serve the mock with this part taken out (bench/parts.py)")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import uvicorn

    if a.kind == "mock":
        from mockserver import Clock, create_app
        app = create_app(seed=0, clock=Clock(CLOCK_AT), journal_size=10000,
                         data_dir=a.data_dir)
        if a.part:
            load_parts().apply(app, a.part)
    else:
        app = bare_app(Path(a.body_file).read_bytes(),
                       json.loads(Path(a.headers_file).read_text()), a.method, a.path, a.status)
    # Bind here (port 0 = the kernel picks a free one) and tell the parent; uvicorn serves it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(2048)
    # lifespan on with a data dir, as `mockserver serve` runs it: a stop writes the last changes
    config = uvicorn.Config(app, host=HOST, port=0, log_level="warning", access_log=False,
                            lifespan="on" if a.data_dir else "off", loop=a.loop,
                            http=HTTP_PROTOCOLS[a.http])
    config.load()  # the protocol's module too, before the freeze, as `mockserver serve` does
    server = uvicorn.Server(config)
    # As `mockserver serve` does (cli.py), for both servers alike.
    import gc
    gc.collect()
    gc.freeze()
    print(sock.getsockname()[1], flush=True)
    server.run(sockets=[sock])


# ==================================================================================================
# Python load driver:  run.py _load --port P [--method M] --path /x?y --header 'K: V'
#                                   [--body-file F] --seconds N --connections C
# Raw HTTP/1.1 keep-alive over asyncio streams; prints one JSON line.
# ==================================================================================================

async def _one_connection(port: int, request: bytes, deadline: float, latencies: list[float],
                          counters: dict[str, int], status: bytes = b"200") -> None:
    from time import perf_counter
    reader = writer = None
    while perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            while True:
                t0 = perf_counter()
                if t0 >= deadline:
                    return
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                i = lower.find(b"\r\ncontent-length:")
                if i < 0:
                    raise ValueError("response without content-length")
                j = lower.find(b"\r\n", i + 17)
                n = int(head[i + 17:j])
                body = await reader.readexactly(n)
                latencies.append(perf_counter() - t0)
                counters["bytes"] += len(head) + len(body)
                if head[9:12] != status:  # "non200": not the endpoint's success status
                    counters["non200"] += 1
                if b"\r\nconnection: close" in lower:
                    writer.close()
                    writer = None
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            counters["errors"] += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def http_request(method: str, target: str, host: str, headers: list[str], body: bytes | None) \
        -> bytes:
    """The raw request: a body (even empty) goes with its Content-Length, as wrk sends it."""
    length = [] if body is None else [f"Content-Length: {len(body)}"]
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers, *length, "", ""]
    return "\r\n".join(lines).encode("latin-1") + (body or b"")


async def _drive(port: int, path: str, headers: list[str], seconds: float,
                 connections: int, method: str = "GET", body: bytes | None = None,
                 status: int = 200) -> dict[str, Any]:
    from time import perf_counter
    request = http_request(method, path, f"{HOST}:{port}", headers, body)
    latencies: list[float] = []
    counters = {"errors": 0, "non200": 0, "bytes": 0}
    start = perf_counter()
    deadline = start + seconds
    expected = str(status).encode()
    tasks = [asyncio.ensure_future(_one_connection(port, request, deadline, latencies, counters,
                                                   expected))
             for _ in range(connections)]
    try:
        # Each connection stops at the deadline; this bounds a stuck one as well.
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 10)
    except asyncio.TimeoutError:
        counters["errors"] += 1
    elapsed = perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000.0

    return {"requests": len(latencies), "elapsed_s": elapsed,
            "rps": len(latencies) / elapsed if elapsed else 0.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), **counters}


def load_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="run.py _load")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--method", default="GET")
    p.add_argument("--path", required=True)
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--body-file", help="send this file as the body, with its Content-Length")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--status", type=int, default=200, help="the success status expected")
    a = p.parse_args(argv)
    body = Path(a.body_file).read_bytes() if a.body_file else None
    try:
        import uvloop
        runner = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner = asyncio.run
        loop_name = "asyncio"
    result = runner(_drive(a.port, a.path, a.header, a.seconds, a.connections, a.method, body,
                           a.status))
    result["driver_loop"] = loop_name
    print(json.dumps(result), flush=True)


# ==================================================================================================
# wrk
# ==================================================================================================

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def lua_string(data: bytes) -> str:
    """A Lua string literal of these exact bytes (printable ASCII as is, the rest as \\ddd)."""
    return '"' + "".join(chr(c) if 0x20 <= c < 0x7F and c not in (0x22, 0x5C) else f"\\{c:03d}"
                         for c in data) + '"'


def wrk_script(ep: Endpoint) -> str | None:
    """wrk's Lua for what its command line cannot say (method, body); None for a plain GET.
    Headers stay on the command line (-H). wrk adds Content-Length when a body is set, even an
    empty one, so it sends what the Python driver sends."""
    if ep.method == "GET" and not ep.has_body:
        return None
    lines = [f"-- bench/run.py, endpoint {ep.name}",
             f"wrk.method = {lua_string(ep.method.encode())}"]
    if ep.has_body:
        lines.append(f"wrk.body = {lua_string(ep.body)}")
    return "\n".join(lines) + "\n"


@dataclass
class Load:
    """An endpoint made ready for the drivers: secrets filled in, body and wrk script on disk."""

    endpoint: Endpoint
    headers: list[tuple[str, str]]
    body_file: Path | None   # the body for the Python driver (None: no body, no Content-Length)
    script: Path | None      # wrk -s, None for a plain GET

    @classmethod
    def prepare(cls, ep: Endpoint, secrets: dict[str, str], tmp: Path) -> "Load":
        body_file = script = None
        if ep.has_body:
            body_file = tmp / f"{ep.name}.request-body"
            body_file.write_bytes(ep.body)
        lua = wrk_script(ep)
        if lua is not None:
            script = tmp / f"{ep.name}.lua"
            script.write_text(lua)
        return cls(ep, resolve_headers(ep, secrets), body_file, script)

    @property
    def header_lines(self) -> list[str]:
        return [f"{k}: {v}" for k, v in self.headers]


def run_wrk(port: int, load: Load, seconds: float, connections: int) -> dict[str, Any]:
    url = f"http://{HOST}:{port}{load.endpoint.target_url}"
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
           "--timeout", "5s"]
    for h in load.header_lines:
        cmd += ["-H", h]
    if load.script is not None:
        cmd += ["-s", str(load.script)]
    cmd.append(url)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30,
                          preexec_fn=_pin(1))
    out = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not rps or not total:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    return {"requests": int(total.group(1)),
            "elapsed_s": _wrk_ms(total.group(2) + total.group(3)) / 1000.0,
            "rps": float(rps.group(1)),
            "p50_ms": _wrk_ms(p50.group(1)) if p50 else None,
            "p99_ms": _wrk_ms(p99.group(1)) if p99 else None,
            "errors": sum(int(x) for x in sock.groups()) if sock else 0,
            "non200": int(non2xx.group(1)) if non2xx else 0}


def run_python_driver(port: int, load: Load, seconds: float, connections: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_load", "--port", str(port),
           "--method", load.endpoint.method, "--path", load.endpoint.target_url,
           "--seconds", str(seconds), "--connections", str(connections),
           "--status", str(load.endpoint.status)]
    for h in load.header_lines:
        cmd += ["--header", h]
    if load.body_file is not None:
        cmd += ["--body-file", str(load.body_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30,
                          preexec_fn=_pin(1))
    if proc.returncode != 0:
        raise RuntimeError(f"load driver failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ==================================================================================================
# Orchestration
# ==================================================================================================

def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


PIN = True


def _pin(slot: int):
    """preexec_fn putting the child on its own core: servers on the first, drivers on the second."""
    cpus = _cpus()
    if not PIN or len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    cpu = cpus[slot % len(cpus)]
    return lambda: os.sched_setaffinity(0, {cpu})


def _children_cpu() -> float:
    """CPU seconds of the waited-for children (the load drivers; servers are still running)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _machine_busy() -> float | None:
    """Busy CPU seconds of the whole machine, all cores, from /proc/stat (Linux only)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def first_line(proc: subprocess.Popen, timeout: float, what: str) -> str:
    """The first line a child printed, waiting at most `timeout` s (bench/scale.py uses it too)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise RuntimeError(f"{what} printed nothing within {timeout} s")
    finally:
        sel.close()
    return proc.stdout.readline().decode(errors="replace").strip()


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process so far, from /proc (Linux only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s (bench/scale.py uses it too)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Server:
    def __init__(self, kind: str, loop: str, http: str, extra: list[str] | None = None) -> None:
        self.kind = kind
        cmd = [sys.executable, str(Path(__file__).resolve()), "_serve", kind,
               "--loop", loop, "--http", http, *(extra or [])]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=ROOT, preexec_fn=_pin(0))
        self.port = int(self._first_line(timeout=60))
        self.base = f"http://{HOST}:{self.port}"

    def _first_line(self, timeout: float) -> str:
        line = first_line(self.proc, timeout, f"{self.kind} server")
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"{self.kind} server failed to start: {line!r} "
                               f"{self.proc.stderr.read().decode()[-2000:]}")
        return line

    def wait_ready(self, client, timeout: float = 30) -> None:
        import httpx
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.get(self.base + "/", timeout=2)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} server not answering")
                time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """utime + stime of the server process, from /proc (Linux only)."""
        try:
            return process_cpu_s(self.proc.pid)
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        stop_process(self.proc)


def measure_reset(runs: int) -> dict[str, float]:
    """Median wall time of app.tenants.reset() on the default fixtures, in-process."""
    import httpx
    sys.path.insert(0, str(ROOT))
    from mockserver import Clock, create_app
    from mockserver.vendors.gravy.resources import KINDS

    app = create_app(seed=0, clock=Clock(CLOCK_AT), journal_size=10000)
    template = app.vendors["gravy"].template

    async def warm_up() -> None:
        # One read of every documented resource (the connection its example lives on), so the
        # shared resource sets exist, as they do in a server that has answered a few requests.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=f"http://{HOST}") as c:
            r = await c.post("/gravy/oauth/token", json=TOKEN_REQUEST)
            r.raise_for_status()
            auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            for kind in KINDS:
                cid = template.examples[kind.slug].get("connectionId", "conn_789xyz123abc")
                r = await c.get(f"/gravy/connections/{cid}/{kind.slug}", headers=auth)
                if r.status_code != 200:
                    raise RuntimeError(f"warm-up read {cid}/{kind.slug}: {r.status_code}")

    asyncio.run(warm_up())
    app.tenants.reset()  # one untimed run
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        app.tenants.reset()
        for name in app.vendors:  # a reset drops the stores: the next calls build them again
            app.tenants.default.stores[name]
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return {"runs": runs, "median_ms": statistics.median(times),
            "p90_ms": times[int(0.9 * (len(times) - 1))], "min_ms": times[0], "max_ms": times[-1],
            "connections": len(template.connections)}


def machine_facts(loop: str, http: str, drivers: list[str]) -> dict[str, Any]:
    import starlette
    import uvicorn
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "usable_cores": len(_cpus()), "cpu_model": model,
            "platform": platform.platform(), "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "starlette": starlette.__version__, "uvicorn": uvicorn.__version__,
            "loop": loop, "http": http, "drivers": drivers,
            "wrk": _wrk_version() if "wrk" in drivers else None}


def _wrk_version() -> str | None:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _fmt_ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} ms"


def _line(res: dict[str, Any]) -> str:
    cpu = [f"server cpu {res['server_cpu_pct']:.0f}%" if res.get("server_cpu_pct") is not None
           else "server cpu n/a"]
    if res.get("server_cpu_us_per_req") is not None:
        cpu.append(f"{res['server_cpu_us_per_req']:.1f} us/request")
    if res.get("driver_cpu_pct") is not None:
        cpu.append(f"driver cpu {res['driver_cpu_pct']:.0f}%")
    if res.get("other_cpu_pct") is not None:
        cpu.append(f"other processes {res['other_cpu_pct']:.0f}%")
    return (f"{res['rps']:9.1f} req/s   p50 {_fmt_ms(res['p50_ms'])}   p99 "
            f"{_fmt_ms(res['p99_ms'])}   ({res['requests']} requests, {res['errors']} errors, "
            f"{res['non200']} non-200; {', '.join(cpu)})")


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(values) if values else None
    return {"rps": med("rps") or 0.0, "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
            "cpu_us": med("server_cpu_us_per_req")}


def vendor_headers(resp) -> dict[str, str]:
    """A response's headers minus those uvicorn writes itself (or that describe the body)."""
    return {k.lower(): v for k, v in resp.headers.items() if k.lower() not in TRANSPORT_HEADERS}


def comparable_body(ep: Endpoint, content: bytes) -> Any:
    """The body with the endpoint's per-response values (`varies`) blanked."""
    if not ep.varies:
        return content
    try:
        doc = json.loads(content)
    except ValueError:
        return content
    if isinstance(doc, dict):
        for k in ep.varies:
            if k in doc:
                doc[k] = None
    return doc


def answers_differ(ep: Endpoint, mock, bare) -> str | None:
    """Why the bare answer is not the mock's (None: both the endpoint's status, same vendor
    headers (the `varies_headers` by name only), same body length and bytes, apart from the
    `varies` values of a JSON body)."""
    if not mock.status_code == bare.status_code == ep.status:
        return f"status {mock.status_code} (mock) / {bare.status_code} (bare), not {ep.status}"
    hm, hb = vendor_headers(mock), vendor_headers(bare)
    if hm.keys() != hb.keys() or any(hm[k] != hb[k] for k in hm if k not in ep.varies_headers):
        return f"headers {hm} (mock) / {hb} (bare)"
    if len(mock.content) != len(bare.content):
        return f"body lengths {len(mock.content)} (mock) / {len(bare.content)} (bare)"
    if comparable_body(ep, mock.content) != comparable_body(ep, bare.content):
        return "bodies differ"
    return None


def send_once(client, base: str, load: Load):
    ep = load.endpoint
    return client.request(ep.method, base + ep.target_url, headers=load.headers,
                          content=ep.body if ep.has_body else None)


def main(argv: list[str]) -> int:
    global PIN
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0,
                   help="measured duration per run (default 8)")
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target")
    p.add_argument("--rounds", type=int, default=3,
                   help="mock-then-bare rounds per driver and endpoint; medians are reported "
                        "(default 3)")
    p.add_argument("--driver", choices=("auto", "wrk", "python", "both"), default="auto",
                   help="auto = wrk if on PATH, else the Python driver")
    p.add_argument("--endpoints", default=",".join(ENDPOINTS_BY_NAME),
                   help="comma-separated endpoint names, in the order to run (default: all, "
                        f"{', '.join(ENDPOINTS_BY_NAME)})")
    p.add_argument("--reset-runs", type=int, default=200)
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin server and driver to separate cores")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if an endpoint with a target misses it (gravy-balances: mock/bare "
                        f">= {TARGET_RATIO}), a mock p99 is over {TARGET_P99_MS:g} ms, the reset "
                        f"median is >= {TARGET_RESET_MS:g} ms, or any request failed (default: "
                        "always exit 0)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--http", choices=tuple(HTTP_PROTOCOLS), default="mockserver",
                   help="the HTTP protocol of both servers: mockserver's (what `mockserver "
                        "serve` runs, the default) or uvicorn's httptools or h11 one")
    parts = tuple(load_parts().PARTS)
    p.add_argument("--mock-part", choices=parts, metavar="NAME",
                   help="serve the mock with a part of a call taken out, to measure what the "
                        f"rest costs (bench/parts.py: {', '.join(parts)})")
    a = p.parse_args(argv)
    if a.seconds <= 0 or a.seconds > 600 or a.connections < 1 or a.connections > 1024:
        p.error("--seconds must be in (0, 600] and --connections in [1, 1024]")
    if not 1 <= a.rounds <= 20 or not 0 <= a.warmup <= 60:
        p.error("--rounds must be in [1, 20] and --warmup in [0, 60]")
    names = [n.strip() for n in a.endpoints.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENDPOINTS_BY_NAME]
    if not names or unknown or len(set(names)) != len(names):
        p.error(f"--endpoints: name each of {', '.join(ENDPOINTS_BY_NAME)} at most once"
                + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    endpoints = [ENDPOINTS_BY_NAME[n] for n in names]
    PIN = not a.no_pin

    have_wrk = shutil.which("wrk") is not None
    if a.driver == "auto":
        drivers = ["wrk"] if have_wrk else ["python"]
    elif a.driver == "both":
        drivers = ["wrk", "python"] if have_wrk else ["python"]
    else:
        drivers = [a.driver]
    if "wrk" in drivers and not have_wrk:
        p.error("wrk is not on PATH")
    loop, http = _loop_and_http(a.http)

    facts = machine_facts(loop, http, drivers)
    facts["mock_part"] = a.mock_part
    print("== machine")
    print(f"  cores: {facts['cores']} ({facts['usable_cores']} usable)  cpu: {facts['cpu_model']}")
    print(f"  {facts['platform']}")
    print(f"  python {facts['python']} ({facts['implementation']}), starlette "
          f"{facts['starlette']}, uvicorn {facts['uvicorn']} (loop={loop}, http={http}), "
          f"1 worker per server")
    print(f"  driver: {', '.join(drivers)}" + (f" ({facts['wrk']})" if facts["wrk"] else "")
          + ("" if have_wrk else " (wrk not on PATH)"))
    pinned = PIN and len(_cpus()) >= 2 and hasattr(os, "sched_setaffinity")
    where = f"server on cpu {_cpus()[0]}, driver on cpu {_cpus()[1]}" if pinned else "off"
    print(f"  pinning: {where}")
    if a.mock_part:
        print(f"  the mock with a part taken out: {a.mock_part} (bench/parts.py)")
    print(f"  load: {a.connections} connections, {a.warmup:g} s warm-up, then {a.rounds} x "
          f"{a.seconds:g} s per target and endpoint:")
    for ep in endpoints:
        print(f"    {ep.name:16} {ep.method} {ep.target_url}"
              + (f"  ({len(ep.body)}-byte body)" if ep.body else ""))

    m0 = _machine_busy()
    time.sleep(1.0)
    m1 = _machine_busy()
    if m0 is not None and m1 is not None:
        idle_load = 100.0 * (m1 - m0)
        facts["load_before_pct"] = idle_load
        print(f"  other load before the run: {idle_load:.0f}% of one core"
              + ("  WARNING: the machine is busy, figures will be noisy (server cpu/request "
                 "is the robust one)" if idle_load > 15 else ""))

    results: dict[str, Any] = {
        "facts": facts, "seconds": a.seconds, "rounds": a.rounds, "connections": a.connections,
        "endpoints": [{"name": e.name, "method": e.method, "url": e.target_url,
                       "target": e.target} for e in endpoints],
        "runs": {}}

    print("\n== tenants.reset() (in-process, default fixtures)")
    reset = measure_reset(a.reset_runs)
    results["reset"] = reset
    print(f"  median {reset['median_ms']:.3f} ms  (p90 {reset['p90_ms']:.3f}, min "
          f"{reset['min_ms']:.3f}, max {reset['max_ms']:.3f}; {reset['runs']} runs, "
          f"{reset['connections']} connections)  target < {TARGET_RESET_MS:g} ms: "
          f"{'OK' if reset['median_ms'] < TARGET_RESET_MS else 'MISSED'}")

    import httpx
    servers: list[Server] = []
    tmp = tempfile.TemporaryDirectory(prefix="mockserver-bench-")
    tmpdir = Path(tmp.name)
    table: list[tuple[str, Endpoint, dict[str, Any], float]] = []
    ok = True
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:  # never via a proxy
            mock = Server("mock", loop, http,
                          ["--part", a.mock_part] if a.mock_part else None)
            servers.append(mock)
            mock.wait_ready(client)
            secrets = {n: SECRETS[n](client, mock.base) for n in needed_secrets(endpoints)}

            # Each endpoint's bare server answers what the mock answered once (the template).
            print("\n== verification")
            loads: dict[str, Load] = {}
            bares: dict[str, Server] = {}
            for ep in endpoints:
                load = Load.prepare(ep, secrets, tmpdir)
                run_setup(client, mock.base, ep)
                for method, path, body in ep.setup:
                    print(f"  {ep.name} setup: {method} {path} {body}")
                ref = send_once(client, mock.base, load)
                if ref.status_code != ep.status:
                    print(f"ABORT: {ep.name}: mock answered {ref.status_code}: {ref.text[:500]}")
                    return 2
                body_file = tmpdir / f"{ep.name}.response-body"
                body_file.write_bytes(ref.content)
                headers_file = tmpdir / f"{ep.name}.response-headers.json"
                headers_file.write_text(json.dumps(vendor_headers(ref)))
                bare = Server("bare", loop, http,
                              ["--body-file", str(body_file), "--headers-file", str(headers_file),
                               "--method", ep.method, "--path", ep.path,
                               "--status", str(ref.status_code)])
                servers.append(bare)
                bare.wait_ready(client)
                got = {}
                for kind, s in (("mock", mock), ("bare", bare)):
                    resp = send_once(client, s.base, load)
                    got[kind] = resp
                    print(f"  {ep.name} {kind}: {resp.status_code}, {len(resp.content)} bytes, "
                          f"content-type {resp.headers.get('content-type')!r}, headers "
                          f"{sorted(k for k in resp.headers if k not in ('date',))}")
                why = answers_differ(ep, got["mock"], got["bare"])
                if why is not None:
                    print(f"ABORT: {ep.name}: the bare server does not answer as the mock: {why}")
                    return 2
                print(f"  {ep.name} identical: status {ep.status}, "
                      f"{len(got['mock'].content)} body bytes, same headers"
                      + (f" (the body apart from {', '.join(ep.varies)}, new in each response)"
                         if ep.varies else "")
                      + (f" (the values of {', '.join(ep.varies_headers)} apart, new in each "
                         "response; the bare server repeats the template's)"
                         if ep.varies_headers else ""))
                loads[ep.name], bares[ep.name] = load, bare

            for driver in drivers:
                run = run_wrk if driver == "wrk" else run_python_driver
                results["runs"][driver] = {}
                for ep in endpoints:
                    load = loads[ep.name]
                    pair = (("mock", mock), ("bare", bares[ep.name]))
                    print(f"\n== load ({driver}) {ep.name}: {ep.method} {ep.target_url}, "
                          f"{a.rounds} round(s) of mock then bare")
                    for _, s in pair:
                        if a.warmup > 0:
                            run(s.port, load, a.warmup, a.connections)
                    rounds: dict[str, list[dict[str, Any]]] = {"mock": [], "bare": []}
                    for i in range(a.rounds):
                        for kind, s in pair:
                            c0, t0, k0, m0 = s.cpu_seconds(), time.monotonic(), _children_cpu(), \
                                _machine_busy()
                            res = run(s.port, load, a.seconds, a.connections)
                            c1, t1, k1, m1 = s.cpu_seconds(), time.monotonic(), _children_cpu(), \
                                _machine_busy()
                            wall = t1 - t0
                            cpu = c1 - c0 if c0 is not None and c1 is not None else None
                            res["server_cpu_pct"] = 100.0 * cpu / wall if cpu is not None else None
                            res["driver_cpu_pct"] = 100.0 * (k1 - k0) / wall
                            # Whatever else kept the machine's cores busy meanwhile (other users'
                            # processes): all busy time minus server and driver, in % of one core.
                            other = (m1 - m0) - cpu - (k1 - k0) \
                                if cpu is not None and m0 is not None and m1 is not None else None
                            res["other_cpu_pct"] = (max(0.0, 100.0 * other / wall)
                                                    if other is not None else None)
                            # Server CPU time per answered request: unlike req/s, it does not move
                            # when the host takes the vCPU away for a while.
                            res["server_cpu_us_per_req"] = (1e6 * cpu / res["requests"]
                                                            if cpu and res["requests"] else None)
                            rounds[kind].append(res)
                            print(f"  #{i + 1} {kind:4} {_line(res)}")
                            if res["errors"] or res["non200"] or not res["requests"]:
                                print(f"  WARNING: {kind} had errors or non-200 answers")
                                ok = False
                            if res["server_cpu_pct"] is not None and res["server_cpu_pct"] < 85:
                                print("     note: the server was < 85% busy: it was not the only "
                                      "bottleneck (other load on the machine, or a slow driver)")
                    summary = {k: _median_of(v) for k, v in rounds.items()}
                    ratio = (summary["mock"]["rps"] / summary["bare"]["rps"]
                             if summary["bare"]["rps"] else 0.0)
                    per_round = [m["rps"] / b["rps"]
                                 for m, b in zip(rounds["mock"], rounds["bare"]) if b["rps"]]
                    mc, bc = summary["mock"]["cpu_us"], summary["bare"]["cpu_us"]
                    cpu_ratio = bc / mc if mc and bc else None
                    results["runs"][driver][ep.name] = {
                        "rounds": rounds, "median": summary, "ratio": ratio,
                        "round_ratios": per_round, "cpu_ratio": cpu_ratio, "target": ep.target}
                    table.append((driver, ep, summary, ratio))
                    print(f"  median of {a.rounds}:")
                    for kind in ("mock", "bare"):
                        m = summary[kind]
                        cpu_txt = "n/a" if m["cpu_us"] is None else f"{m['cpu_us']:.1f} us"
                        print(f"    {kind:4} {m['rps']:9.1f} req/s   p50 {_fmt_ms(m['p50_ms'])}   "
                              f"p99 {_fmt_ms(m['p99_ms'])}   server cpu/request {cpu_txt}")
                    print(f"  ratio mock/bare: {ratio:.3f}  (per round: "
                          f"{', '.join(f'{r:.3f}' for r in per_round)})   "
                          + _verdict(ep, ratio, summary["mock"]["p99_ms"]))
                    if cpu_ratio is not None:
                        print(f"  cpu-normalised ratio (bare cpu/request / mock cpu/request): "
                              f"{cpu_ratio:.3f}   (noise-robust cross-check, not the target)")
                    if not target_met(ep, ratio, summary["mock"]["p99_ms"]):
                        ok = False

            j = client.get(mock.base + "/__admin/requests", params={"limit": 0}).json()
            results["journal"] = {"entries": j["total"], "capacity": j["capacity"]}
            print(f"\n== journal on the mock after the run: {j['total']} entries "
                  f"(capacity {j['capacity']})")
    finally:
        for s in servers:
            s.stop()
        tmp.cleanup()

    print(f"\n== summary: medians of {a.rounds} round(s) of {a.seconds:g} s, "
          f"{a.connections} connections, journal on")
    print(f"  {'driver':6}  {'endpoint':16}  {'mock req/s':>10}  {'bare req/s':>10}  "
          f"{'ratio':>6}  {'mock p50':>9}  {'mock p99':>9}  target met?")
    for driver, ep, summary, ratio in table:
        m, b = summary["mock"], summary["bare"]
        print(f"  {driver:6}  {ep.name:16}  {m['rps']:10,.0f}  {b['rps']:10,.0f}  {ratio:6.3f}  "
              f"{_fmt_ms(m['p50_ms']):>9}  {_fmt_ms(m['p99_ms']):>9}  "
              f"{_verdict(ep, ratio, m['p99_ms'])}")

    if reset["median_ms"] >= TARGET_RESET_MS:
        ok = False
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    if a.check and not ok:
        print("CHECK FAILED")
        return 1
    return 0


def target_met(ep: Endpoint, ratio: float, p99_ms: float | None) -> bool:
    """The endpoint's ratio target (if it has one) and the p99 bound every endpoint has."""
    ratio_ok = ep.target is None or ratio >= ep.target
    return ratio_ok and p99_ms is not None and p99_ms <= TARGET_P99_MS


def _verdict(ep: Endpoint, ratio: float, p99_ms: float | None) -> str:
    parts = ["ratio: no target" if ep.target is None else
             f"ratio >= {ep.target}: {'OK' if ratio >= ep.target else 'MISSED'}",
             f"p99 <= {TARGET_P99_MS:g} ms: "
             f"{'OK' if p99_ms is not None and p99_ms <= TARGET_P99_MS else 'MISSED'}"]
    return ("yes  " if target_met(ep, ratio, p99_ms) else "NO   ") + ", ".join(parts)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "_load":
        load_main(sys.argv[2:])
    else:
        sys.exit(main(sys.argv[1:]))
