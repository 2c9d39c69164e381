#!/usr/bin/env python3
"""Start-up, memory and tenant scale of the mock, measured against real `mockserver serve` processes.

    .venv/bin/python bench/scale.py [--long] [--requests N] [--tenants N] [--starts K]
                                    [--reset-runs R] [--connections C] [--json FILE] [--check]

Rows of the table (targets from the issue; see bench/README.md, "Scale"):
  start-up      spawn `python -m mockserver serve --port 0` to the first 200 of a vendor call
                (the median of --starts starts, after one untimed start that compiles the
                bytecode, as an installed package has it)                              < 1 s
  rss start     VmRSS after start-up and one call to each vendor, default settings       < 80 MB
  reset         POST /__admin/reset on that server (median of --reset-runs), and in-process
                `tenants.reset()` with every vendor's store built again after it         < 10 ms
  load          --requests requests (200,000; --long 1,000,000) mixing the four hot calls of
                bench/run.py (Gravy balances list, Gravitec push, Groove flow query, Integry call),
                RSS sampled: the end within 10% of the value after warm-up (the first 10%), and
                below 100 MB throughout
  tenants       --tenants tenants created with POST /__admin/tenants, each vendor called once
                as each of them, then VmRSS (server started with --max-tenants above it)  < 500 MB
A further row can come from bench/scale_gravy.py (see `extra_rows`). `--check` exits 1 when a
target is missed or a request failed; without it the exit status is 0 whatever the figures.

Every server is its own process, stopped in a `finally`; every wait has a deadline. Traffic only
goes to 127.0.0.1. Linux only (RSS from /proc/PID/status).
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"

TARGET_STARTUP_S = 1.0
TARGET_RSS_START_MB = 80.0
TARGET_RESET_MS = 10.0
TARGET_DRIFT = 0.10          # end of the load within 10% of the value after warm-up
TARGET_RSS_LOAD_MB = 100.0
TARGET_TENANTS_MB = 500.0
TARGET_TENANT_OP_MS = 2.0    # creating a tenant, and its first call to each vendor (p90,
                             # beyond the client's round trip for nothing)
TIMED_TENANTS = 200          # the last tenants, created and called one at a time, timed
DEFAULT_TENANTS = 10_000

DEFAULT_REQUESTS = 200_000
LONG_REQUESTS = 1_000_000
# The four hot calls of bench/run.py, in the order the load cycles through them.
MIX = ("gravy-balances", "gravitec-push", "groove-flow", "integry-call")


def _load_run():
    """bench/run.py as a module: its endpoint table, secrets and in-process reset timing."""
    name = "bench_run_for_scale"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


run = _load_run()


@dataclass
class Row:
    name: str
    figure: str
    target: str
    passed: bool | None          # None: reported, no target
    detail: str = ""


# ==================================================================================================
# The server process
# ==================================================================================================

def rss_mb(pid: int) -> float:
    """VmRSS of a process, in MB (2**20 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def server_env(pycache: str | None) -> dict[str, str]:
    """The environment of a served mock: this checkout's code first, bytecode written and read
    (a shell with PYTHONDONTWRITEBYTECODE set would otherwise compile every module at each start,
    which no installed package does): in the usual __pycache__ directories (git ignores them),
    or all of it under `pycache` when given."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    if pycache:
        env["PYTHONPYCACHEPREFIX"] = pycache
    for var in list(env):  # the flags given here are the whole configuration
        if var.startswith("MOCKSERVER_"):
            del env[var]
    return env


class Served:
    """`python -m mockserver serve --port 0 ARGS`, its URL read from the banner's first line."""

    BANNER = re.compile(r"mockserver listening on (http://\S+)")

    def __init__(self, args: list[str] = (), pycache: str | None = None,
                 timeout: float = 30.0) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=server_env(pycache))
        try:
            line = run.first_line(self.proc, timeout, "the server")
        except BaseException:
            self.stop()
            raise
        self.banner_s = time.perf_counter() - self.started
        m = self.BANNER.search(line)
        if not m:
            self.stop()
            raise RuntimeError(f"unexpected first line {line!r}: {self.proc.stderr.read()[-2000:]}")
        self.base = m.group(1)
        self.port = int(self.base.rsplit(":", 1)[1])

    @property
    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def cpu_s(self) -> float:
        """utime + stime of the server process so far, from /proc (robust on a busy machine,
        where wall time also counts the waits for a core)."""
        return run.process_cpu_s(self.proc.pid)

    def stop(self) -> None:
        run.stop_process(self.proc)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


# ==================================================================================================
# Calls as one tenant: one to each vendor
# ==================================================================================================

def _client(base: str):
    import httpx
    return httpx.AsyncClient(base_url=base, timeout=30, trust_env=False)  # never via a proxy


def checker() -> tuple[list[str], Any]:
    """`want(answer, status=200)`: whether the answer has that status; the ones that do not go
    into the list, as text."""
    bad: list[str] = []

    def want(r, status: int = 200) -> bool:
        if r.status_code != status:
            bad.append(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:200]}")
            return False
        return True
    return bad, want


async def groove_token(client, groove: dict[str, str], want, state: str) -> str | None:
    """Groove's code flow as the tenant of `groove` (its credentials): an access token, or None
    (`want` recorded why)."""
    r = await client.get("/groove/oauth/authorize", params={
        "client_id": groove["clientId"], "scope": "first-scope",
        "redirect_uri": groove["redirectUri"], "state": state})
    if not want(r, 302):
        return None
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    r = await client.post("/groove/oauth/token", json={
        "grant_type": "authorization_code", "code": code, "client_id": groove["clientId"],
        "client_secret": groove["clientSecret"], "redirect_uri": groove["redirectUri"]})
    return r.json()["access_token"] if want(r) else None


class Timed:
    """An httpx client's get/post, each request's latency noted by the vendor its path names:
    what a tenant's first call to each vendor costs."""

    def __init__(self, client) -> None:
        self.client = client
        self.first: dict[str, float] = {}  # vendor -> ms of the tenant's first request to it

    async def _timed(self, method: str, url: str, **kw: Any):
        t0 = time.perf_counter()
        r = await self.client.request(method, url, **kw)
        self.first.setdefault(url.split("/")[1], (time.perf_counter() - t0) * 1000.0)
        return r

    async def get(self, url: str, **kw: Any):
        return await self._timed("GET", url, **kw)

    async def post(self, url: str, **kw: Any):
        return await self._timed("POST", url, **kw)


async def touch_vendors(client, creds: dict[str, dict[str, str]]) -> list[str]:
    """The issue's calls, one set per vendor as the tenant of `creds` (its credentials, as POST
    /__admin/tenants gives them): a Gravy token and list, a Gravitec tag, a Groove token and
    flow query, an Integry call, a Passage link created, so every store of the tenant is in use
    and has changed. The failures, as text (empty: all answered as expected)."""
    bad, want = checker()

    eps = run.ENDPOINTS_BY_NAME
    gravy, gravitec, groove, integry, passage = (
        creds[v] for v in ("gravy", "gravitec", "groove", "integry", "passage"))
    r = await client.post("/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": gravy["clientId"],
        "client_secret": gravy["clientSecret"]})
    if want(r):
        ep = eps["gravy-balances"]
        want(await client.get(ep.target_url,
                              headers={"Authorization": f"Bearer {r.json()['access_token']}"}))
    ep = eps["gravitec-tag"]
    want(await client.post(ep.target_url, auth=(gravitec["appKey"], gravitec["appSecret"])))
    token = await groove_token(client, groove, want, "scale")
    if token is not None:
        ep = eps["groove-flow"]
        want(await client.post(ep.target_url, content=ep.body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}))
    ep = eps["integry-call"]
    signed = hmac.new(integry["appSecret"].encode(), integry["userId"].encode(),
                      hashlib.sha256).hexdigest()
    want(await client.post(ep.target_url, content=ep.body, headers={
        "App-Key": integry["appKey"], "User-ID": integry["userId"], "Hash": signed,
        "Content-Type": "application/json"}))
    ep = eps["passage-create-link"]
    want(await client.post(ep.target_url, content=ep.body, headers={
        "Authorization": f"Bearer {passage['apiKey']}", "Content-Type": "application/json"}),
         201)
    return bad


async def _default_credentials(client) -> dict[str, dict[str, str]]:
    r = await client.get("/__admin/credentials")
    r.raise_for_status()
    return r.json()


# ==================================================================================================
# Measurements. Each returns its figures as a dict; `rows` turns them into the table.
# ==================================================================================================

def prime(pycache: str | None = None) -> None:
    """One untimed start and stop: it writes the bytecode of every module a server imports into
    `pycache`, so later starts read it, as an installed package's do (and no server's RSS holds
    the compiler's leftovers)."""
    Served(pycache=pycache).stop()


def measure_startup(starts: int, pycache: str | None = None) -> dict[str, Any]:
    """Spawn to the first 200 of a vendor call (Gravy's client-credentials token, the first call
    a client makes), `starts` times (after `prime`), each server stopped after."""
    import httpx
    request = {"grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
               "client_secret": "gravy-sandbox-secret"}
    times, banners, cpus = [], [], []
    with httpx.Client(timeout=10, trust_env=False) as client:
        for _ in range(starts):
            server = Served(pycache=pycache)
            try:
                deadline = server.started + 30
                while True:
                    try:
                        r = client.post(server.base + "/gravy/oauth/token", json=request)
                    except httpx.TransportError:
                        r = None
                    if r is not None and r.status_code == 200:
                        break
                    if time.perf_counter() > deadline or server.proc.poll() is not None:
                        raise RuntimeError("no 200 from the server within 30 s: "
                                           + ("" if r is None else f"{r.status_code} {r.text}"))
                    time.sleep(0.005)
                took = time.perf_counter() - server.started
                cpus.append(server.cpu_s())
            finally:
                server.stop()
            times.append(took)
            banners.append(server.banner_s)
    return {"starts": starts, "median_s": statistics.median(times), "min_s": min(times),
            "max_s": max(times), "banner_median_s": statistics.median(banners),
            "cpu_median_s": statistics.median(cpus)}


def measure_rss_start(server: Served) -> dict[str, Any]:
    """VmRSS after start-up and one call to each vendor as the default tenant."""
    before = server.rss_mb

    async def go() -> list[str]:
        async with _client(server.base) as client:
            return await touch_vendors(client, await _default_credentials(client))

    bad = asyncio.run(go())
    return {"rss_mb": server.rss_mb, "rss_before_calls_mb": before, "failures": bad}


def measure_reset(server: Served, runs: int) -> dict[str, Any]:
    """POST /__admin/reset on the running server (the median of `runs`, keep-alive, after one
    untimed call), and in-process (`reset_in_process`)."""
    import httpx
    times = []
    with httpx.Client(base_url=server.base, timeout=10, trust_env=False) as client:
        client.post("/__admin/reset").raise_for_status()
        for _ in range(runs):
            t0 = time.perf_counter()
            r = client.post("/__admin/reset")
            times.append((time.perf_counter() - t0) * 1000.0)
            r.raise_for_status()
    inproc = reset_in_process(runs)
    times.sort()
    return {"runs": runs, "http_median_ms": statistics.median(times),
            "http_p90_ms": times[int(0.9 * (len(times) - 1))],
            "inprocess_median_ms": inproc["median_ms"], "inprocess_p90_ms": inproc["p90_ms"]}


def reset_in_process(runs: int) -> dict[str, Any]:
    """`app.tenants.reset()` followed by reading every vendor's store of the default tenant: a
    reset only drops the stores, and the next call of each vendor builds its store again, so
    both halves are the cost of going back to the fixtures. After one call to each vendor."""
    import httpx
    sys.path.insert(0, str(ROOT))
    from mockserver import create_app

    app = create_app(seed=0)

    async def warm_up() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=f"http://{HOST}") as client:
            return await touch_vendors(client, await _default_credentials(client))

    bad = asyncio.run(warm_up())
    if bad:
        raise RuntimeError(f"in-process calls failed: {bad}")
    tenant = app.tenants.default
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        app.tenants.reset()
        for name in app.vendors:
            tenant.stores[name]
        times.append((time.perf_counter() - t0) * 1000.0)
    times = sorted(times[1:])  # the first run is untimed
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))]}


# -- the sustained load: raw HTTP/1.1 keep-alive connections over asyncio streams ------------------

async def _secrets(base: str) -> dict[str, str]:
    """The tokens the mix's headers name, and its setup calls (Groove's rate limit lifted)."""
    import httpx
    with httpx.Client(timeout=10, trust_env=False) as client:
        eps = [run.ENDPOINTS_BY_NAME[n] for n in MIX]
        secrets = {n: run.SECRETS[n](client, base) for n in run.needed_secrets(eps)}
        for ep in eps:
            run.run_setup(client, base, ep)
    return secrets


def mix_requests(port: int, secrets: dict[str, str]) -> list[bytes]:
    out = []
    for name in MIX:
        ep = run.ENDPOINTS_BY_NAME[name]
        headers = [f"{k}: {v}" for k, v in run.resolve_headers(ep, secrets)]
        out.append(run.http_request(ep.method, ep.target_url, f"{HOST}:{port}", headers,
                                    ep.body if ep.has_body else None))
    return out


async def drive(port: int, requests: list[bytes], total: int, connections: int,
                on_done: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Send `total` requests, cycling through `requests`, over `connections` keep-alive
    connections, one request in flight on each; `on_done(n)` after each answer (n answered so
    far). Counts non-200 answers and errors; bounded by a deadline."""
    state = {"next": 0, "done": 0, "non200": 0, "errors": 0}

    async def one() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while state["next"] < total:
                i = state["next"]
                state["next"] = i + 1
                writer.write(requests[i % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                k = lower.find(b"\r\ncontent-length:")
                if k < 0:
                    raise ValueError(f"an answer without content-length: {head[:200]!r}")
                n = int(head[k + 17:lower.find(b"\r\n", k + 17)])
                await reader.readexactly(n)
                if head[9:12] != b"200":
                    state["non200"] += 1
                state["done"] += 1
                if on_done is not None:
                    on_done(state["done"])
        finally:
            writer.close()

    started = time.perf_counter()
    tasks = [asyncio.ensure_future(one()) for _ in range(connections)]
    # Far above any plausible run (the mock serves thousands per second), so only a hang ends it.
    done, pending = await asyncio.wait(tasks, timeout=60 + total / 200)
    for t in pending:
        t.cancel()
        state["errors"] += 1
    for t in done:
        if t.exception() is not None:
            state["errors"] += 1
            state.setdefault("error", repr(t.exception()))
    elapsed = time.perf_counter() - started
    return {"requests": state["done"], "elapsed_s": elapsed,
            "rps": state["done"] / elapsed if elapsed else 0.0, "non200": state["non200"],
            "errors": state["errors"], **({"error": state["error"]} if "error" in state else {})}


def measure_load(server: Served, total: int, connections: int) -> dict[str, Any]:
    """RSS across `total` mixed requests: before, after the first 10% (warm-up: the journal and
    every bounded store fill up then), at the end, and its peak (sampled every 1,000 answers)."""
    secrets = asyncio.run(_secrets(server.base))
    requests = mix_requests(server.port, secrets)
    warm = max(1, total // 10)
    samples: list[tuple[int, float]] = [(0, server.rss_mb)]
    marks: dict[str, float] = {"start_mb": samples[0][1]}

    def on_done(n: int) -> None:
        if n == warm:
            marks["warm_mb"] = server.rss_mb
            samples.append((n, marks["warm_mb"]))
        elif n % 1000 == 0:
            samples.append((n, server.rss_mb))

    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(drive(server.port, requests, total, connections, on_done))
    marks["end_mb"] = server.rss_mb
    samples.append((result["requests"], marks["end_mb"]))
    peak = max(mb for _, mb in samples)
    warm_mb = marks.get("warm_mb", marks["end_mb"])
    return {**result, "total": total, "connections": connections, "mix": list(MIX),
            "start_mb": marks["start_mb"], "warm_mb": warm_mb, "end_mb": marks["end_mb"],
            "peak_mb": peak, "drift": (marks["end_mb"] - warm_mb) / warm_mb,
            "samples": samples[:: max(1, len(samples) // 50)]}


def measure_tenants(count: int, pycache: str | None = None, concurrency: int = 8,
                    args: list[str] = ()) -> dict[str, Any]:
    """A server with --max-tenants count+1 (and `args`); `count` tenants created through the
    control plane, each calling each vendor once (`touch_vendors`); VmRSS after. The last
    TIMED_TENANTS are created and called one at a time, each request timed: what creating a
    tenant and its first call to each vendor cost with the others already there. Also what one
    POST /__admin/reset of them all takes."""
    server = Served(["--max-tenants", str(count + 1), *args], pycache=pycache)
    timed = min(TIMED_TENANTS, count)
    try:
        start_mb = server.rss_mb

        async def go() -> dict[str, Any]:
            async with _client(server.base) as client:
                t0 = time.perf_counter()
                creds = []
                for _ in range(count - timed):
                    r = await client.post("/__admin/tenants")
                    r.raise_for_status()
                    creds.append(r.json()["credentials"])
                created = time.perf_counter() - t0
                gate = asyncio.Semaphore(concurrency)
                bad: list[str] = []

                async def touch(c) -> None:
                    async with gate:
                        bad.extend(await touch_vendors(client, c))

                t0 = time.perf_counter()
                await asyncio.gather(*(touch(c) for c in creds))
                touched = time.perf_counter() - t0
                ops: dict[str, list[float]] = {}
                floors: list[float] = []
                for _ in range(timed):  # one at a time: each request's own latency, less
                    t = time.perf_counter()  # the client's round trip for nothing (health)
                    (await client.get("/__admin/health")).raise_for_status()
                    floor = (time.perf_counter() - t) * 1000.0
                    floors.append(floor)
                    t = time.perf_counter()
                    r = await client.post("/__admin/tenants")
                    ops.setdefault("create", []).append((time.perf_counter() - t) * 1000.0
                                                        - floor)
                    r.raise_for_status()
                    calls = Timed(client)
                    bad.extend(await touch_vendors(calls, r.json()["credentials"]))
                    for vendor, ms in calls.first.items():
                        ops.setdefault(vendor, []).append(ms - floor)
                touched_mb = server.rss_mb
                t0 = time.perf_counter()
                (await client.post("/__admin/reset")).raise_for_status()
                reset_ms = (time.perf_counter() - t0) * 1000.0
                return {"create_s": created, "touch_s": touched, "rss_mb": touched_mb,
                        "reset_all_ms": reset_ms, "after_reset_mb": server.rss_mb,
                        "timed": timed, "floor_ms": _pct(floors, 50) if floors else 0.0,
                        "op_ms": {k: {"p50": _pct(v, 50), "p90": _pct(v, 90),
                                      "max": max(v)} for k, v in ops.items()},
                        "failures": bad[:20], "failed": len(bad)}

        out = asyncio.run(go())
        return {"tenants": count, "start_mb": start_mb, **out}
    finally:
        server.stop()


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)]


def extra_rows(long: bool, path: Path = HERE / "scale_gravy.py") -> list[Row]:
    """Rows measured elsewhere: bench/scale_gravy.py's `scale_rows(long=...)`, when it exists,
    returns dicts with `name`, `figure`, `target`, `passed` (bool or None) and maybe `detail`
    (the 100,000-item Gravy page)."""
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location("bench_scale_gravy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    measure = getattr(module, "scale_rows", None)
    if measure is None:
        return []
    return [Row(r["name"], r["figure"], r["target"], r.get("passed"), r.get("detail", ""))
            for r in measure(long=long)]


# ==================================================================================================
# The table
# ==================================================================================================

def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    if "startup" in results:
        s = results["startup"]
        out.append(Row("start-up to first 200", f"{s['median_s']:.3f} s",
                       f"< {TARGET_STARTUP_S:g} s", s["median_s"] < TARGET_STARTUP_S,
                       f"median of {s['starts']} (min {s['min_s']:.3f}, max {s['max_s']:.3f}); "
                       f"banner at {s['banner_median_s']:.3f} s; server CPU until the 200 "
                       f"{s['cpu_median_s']:.3f} s (the wall time on an idle core)"))
    if "rss_start" in results:
        s = results["rss_start"]
        out.append(Row("RSS after start-up", f"{s['rss_mb']:.1f} MB",
                       f"< {TARGET_RSS_START_MB:g} MB",
                       s["rss_mb"] < TARGET_RSS_START_MB and not s["failures"],
                       f"{s['rss_before_calls_mb']:.1f} MB before the 4 vendor calls"
                       + (f"; FAILED CALLS: {s['failures']}" if s["failures"] else "")))
    if "reset" in results:
        s = results["reset"]
        out.append(Row("POST /__admin/reset", f"{s['http_median_ms']:.2f} ms",
                       f"< {TARGET_RESET_MS:g} ms", s["http_median_ms"] < TARGET_RESET_MS,
                       f"median of {s['runs']} over HTTP (p90 {s['http_p90_ms']:.2f})"))
        out.append(Row("reset in-process, stores rebuilt", f"{s['inprocess_median_ms']:.2f} ms",
                       f"< {TARGET_RESET_MS:g} ms", s["inprocess_median_ms"] < TARGET_RESET_MS,
                       f"p90 {s['inprocess_p90_ms']:.2f}"))
    if "load" in results:
        s = results["load"]
        clean = s["errors"] == 0 and s["non200"] == 0 and s["requests"] == s["total"]
        out.append(Row(f"RSS drift over {s['total']:,} requests", f"{100 * s['drift']:+.1f}%",
                       f"within {100 * TARGET_DRIFT:g}% of warm", abs(s["drift"]) <= TARGET_DRIFT
                       and clean,
                       f"start {s['start_mb']:.1f}, after warm-up (10%) {s['warm_mb']:.1f}, end "
                       f"{s['end_mb']:.1f} MB; {s['rps']:,.0f} req/s, {s['non200']} non-200, "
                       f"{s['errors']} errors" + (f" ({s['error']})" if s.get("error") else "")))
        out.append(Row("RSS peak under load", f"{s['peak_mb']:.1f} MB",
                       f"< {TARGET_RSS_LOAD_MB:g} MB", s["peak_mb"] < TARGET_RSS_LOAD_MB,
                       f"sampled every 1,000 answers; mix {', '.join(s['mix'])}"))
    if "tenants" in results:
        s = results["tenants"]
        out.append(Row(f"RSS with {s['tenants']:,} tenants", f"{s['rss_mb']:.1f} MB",
                       f"< {TARGET_TENANTS_MB:g} MB",
                       s["rss_mb"] < TARGET_TENANTS_MB and not s["failed"],
                       f"{s['start_mb']:.1f} MB at start; after the issue's calls to every "
                       f"vendor by each tenant; {s['tenants'] - s['timed']:,} created in "
                       f"{s['create_s']:.1f} s, called in {s['touch_s']:.1f} s; reset of all "
                       f"{s['reset_all_ms']:.0f} ms, {s['after_reset_mb']:.1f} MB after"
                       + (f"; {s['failed']} FAILED CALLS: {s['failures'][:3]}"
                          if s["failed"] else "")))
        for op, t in s["op_ms"].items():
            what = "a tenant created" if op == "create" else f"first {op} call"
            out.append(Row(f"{what}, at {s['tenants']:,} tenants", f"{t['p90']:.2f} ms",
                           f"p90 < {TARGET_TENANT_OP_MS:g} ms", t["p90"] < TARGET_TENANT_OP_MS,
                           f"the last {s['timed']} tenants one at a time: p50 "
                           f"{t['p50']:.2f}, max {t['max']:.2f} ms; each less the same "
                           f"client's GET /__admin/health just before (median "
                           f"{s['floor_ms']:.2f} ms)"))
    out.extend(results.get("extra", []))
    return out


def verdict(row: Row) -> str:
    return "-" if row.passed is None else ("PASS" if row.passed else "FAIL")


def print_table(table: list[Row]) -> None:
    w = max(len(r.name) for r in table)
    fw = max(len(r.figure) for r in table)
    tw = max(len(r.target) for r in table)
    print(f"  {'measurement':{w}}  {'figure':>{fw}}  {'target':{tw}}  result  detail")
    for r in table:
        print(f"  {r.name:{w}}  {r.figure:>{fw}}  {r.target:{tw}}  {verdict(r):6}  {r.detail}")


PARTS = ("startup", "rss", "reset", "load", "tenants", "extra")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--long", action="store_true",
                   help=f"the issue's run: {LONG_REQUESTS:,} requests of load")
    p.add_argument("--requests", type=int,
                   help=f"requests of the sustained load (default {DEFAULT_REQUESTS:,})")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--tenants", type=int, default=DEFAULT_TENANTS,
                   help=f"tenants created (default {DEFAULT_TENANTS:,})")
    p.add_argument("--starts", type=int, default=5, help="timed starts (default 5)")
    p.add_argument("--reset-runs", type=int, default=200)
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts to run (default all: {', '.join(PARTS)})")
    p.add_argument("--server-args", default="", metavar="'FLAGS'",
                   help="more `mockserver serve` flags for the measured servers (not the timed "
                        "starts), e.g. '--journal-size 1000'; the default measures defaults")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a target is missed or a request failed")
    a = p.parse_args(argv)
    total = a.requests or (LONG_REQUESTS if a.long else DEFAULT_REQUESTS)
    parts = [x.strip() for x in a.only.split(",") if x.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        p.error(f"--only: name some of {', '.join(PARTS)}")
    if total < 10 or a.tenants < 1 or a.starts < 1 or a.reset_runs < 1 \
            or not 1 <= a.connections <= 1024:
        p.error("--requests >= 10, --tenants/--starts/--reset-runs >= 1, --connections 1-1024")

    import shlex
    server_args = shlex.split(a.server_args)
    print(f"== scale: {sys.executable} (python {sys.version.split()[0]}), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {}
    if server_args:
        print(f"  servers measured with: {shlex.join(server_args)}")
    if set(parts) - {"extra"}:
        prime()
    if "startup" in parts:
        print(f"  start-up: {a.starts} timed starts ...", flush=True)
        results["startup"] = measure_startup(a.starts)
    if {"rss", "reset", "load"} & set(parts):
        server = Served(server_args)
        try:
            print(f"  server on {server.base} (pid {server.proc.pid})",
                  flush=True)
            results["rss_start"] = measure_rss_start(server)
            if "reset" in parts:
                print(f"  reset: {a.reset_runs} over HTTP, {a.reset_runs} in-process ...",
                      flush=True)
                results["reset"] = measure_reset(server, a.reset_runs)
            if "load" in parts:
                print(f"  load: {total:,} requests, {a.connections} connections ...",
                      flush=True)
                results["load"] = measure_load(server, total, a.connections)
        finally:
            server.stop()
        if "rss" not in parts:
            del results["rss_start"]
    if "tenants" in parts:
        print(f"  tenants: {a.tenants:,} created and called ...", flush=True)
        results["tenants"] = measure_tenants(a.tenants, args=server_args)
    if "extra" in parts:
        results["extra"] = extra_rows(a.long)

    table = rows(results)
    print("\n== scale summary")
    print_table(table)
    if a.json:
        Path(a.json).write_text(json.dumps(
            {"server_args": server_args, **{k: v for k, v in results.items() if k != "extra"},
             "rows": [asdict(r) for r in table]}, indent=2))
    if a.check and any(r.passed is False for r in table):
        print("CHECK FAILED")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
