#!/usr/bin/env python3
"""Where the mock's hot request spends its time: the ASGI app called in-process, no server.

    .venv/bin/python bench/profile_request.py [--endpoint NAME] [--requests N] [--top K]

Drives one request of bench/run.py's ENDPOINTS table (default gravy-balances, `GET
/gravy/connections/conn_789xyz123abc/balances?page=1&limit=20`) straight into the ASGI callable
with a scope shaped like uvicorn's (httptools), the request body (if any) from receive and a
no-op send, so only the app's own work is timed. It prints:
  - microseconds per request for the mock (journal on, as in the benchmark), the mock with the
    journal off, and the bare Starlette app that bench/run.py compares against;
  - a cProfile of the mock, top functions by own time and by cumulative time, with percentages.
cProfile inflates call-heavy code, so read the percentages as a ranking, and the plain timings
(taken without the profiler) as the absolute figures. Every loop is bounded by --requests.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (CLOCK_AT, ENDPOINTS_BY_NAME, SECRETS, Endpoint, bare_app,  # noqa: E402
                 comparable_body, needed_secrets, resolve_headers, run_setup)

BODY = b""  # the request body receive() hands out (set once the endpoint is known)


def scope_for(ep: Endpoint, secrets: dict[str, str]) -> dict:
    """What uvicorn's httptools protocol hands the app for this request."""
    headers = [(b"host", b"127.0.0.1:8000")]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in resolve_headers(ep, secrets)]
    if ep.has_body:
        headers.append((b"content-length", str(len(ep.body)).encode()))
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "scheme": "http", "method": ep.method, "root_path": "", "path": ep.path,
        "raw_path": ep.path.encode(), "query_string": ep.query.encode(),
        "headers": headers, "state": {},
    }


async def _receive() -> dict:
    return {"type": "http.request", "body": BODY, "more_body": False}


class Sink:
    def __init__(self) -> None:
        self.status = None
        self.headers: dict[str, str] = {}
        self.body = b""

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                            for k, v in message.get("headers", [])
                            if k.lower() != b"content-length"}
        else:
            self.body += message.get("body", b"")


async def call(app, scope: dict) -> Sink:
    sink = Sink()
    s = dict(scope)
    s["state"] = {}
    await app(s, _receive, sink)
    return sink


async def loop(app, scope: dict, n: int) -> None:
    for _ in range(n):
        s = dict(scope)
        s["state"] = {}
        await app(s, _receive, _noop_send)


async def _noop_send(message: dict) -> None:
    pass


class InProcessClient:
    """The part of a sync httpx.Client that run.py's SECRETS and run_setup use, sending each
    request to the in-process app (one AsyncClient over ASGITransport per call)."""

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, url: str, **kw):
        import httpx

        async def go():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app)) as c:
                return await c.request(method, url, **kw)
        return asyncio.run(go())

    def get(self, url: str, **kw):
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw):
        return self.request("POST", url, **kw)


def secrets_for(app, names: list[str]) -> dict[str, str]:
    """run.py's SECRETS, fetched from the in-process app."""
    client = InProcessClient(app)
    return {name: SECRETS[name](client, "http://127.0.0.1") for name in names}


def per_request_us(app, scope: dict, n: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        asyncio.run(loop(app, scope, n))
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", choices=sorted(ENDPOINTS_BY_NAME), default="gravy-balances")
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args()
    n = max(100, min(a.requests, 1_000_000))
    ep = ENDPOINTS_BY_NAME[a.endpoint]
    global BODY
    BODY = ep.body

    from mockserver import Clock, create_app
    mock = create_app(seed=0, clock=Clock(CLOCK_AT), journal_size=10000)
    assert set(needed_secrets([ep])) <= set(SECRETS)
    scope = scope_for(ep, secrets_for(mock, needed_secrets([ep])))
    run_setup(InProcessClient(mock), "http://127.0.0.1", ep)
    print(f"{ep.name}: {ep.method} {ep.target_url}" + (f" ({len(ep.body)}-byte body)"
                                                         if ep.body else ""))
    ref = asyncio.run(call(mock, scope))
    if ref.status != ep.status:
        print(f"mock answered {ref.status}: {ref.body[:300]!r}")
        return 2
    bare = bare_app(ref.body, ref.headers, ep.method, ep.path, ep.status)
    got = asyncio.run(call(mock, scope))
    if comparable_body(ep, asyncio.run(call(bare, scope)).body) != \
            comparable_body(ep, got.body):
        print("bare app body differs")
        return 2

    asyncio.run(loop(mock, scope, 2000))  # warm caches, fill part of the journal
    print(f"in-process ASGI cost per request (best of 5 x {n}, no server, no profiler):")
    t_mock = per_request_us(mock, scope, n)
    mock.journal.enabled = False
    t_nojournal = per_request_us(mock, scope, n)
    mock.journal.enabled = True
    t_bare = per_request_us(bare, scope, n)
    print(f"  mock, journal on   {t_mock:7.1f} us")
    print(f"  mock, journal off  {t_nojournal:7.1f} us   "
          f"(journal costs {t_mock - t_nojournal:.1f} us)")
    print(f"  bare Starlette     {t_bare:7.1f} us   (mock adds {t_mock - t_bare:.1f} us)")

    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(loop(mock, scope, n))
    prof.disable()
    for order, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        total = stats.total_tt
        stats.sort_stats(order)
        print(f"\ncProfile of the mock, {n} requests, top {a.top} by {title} "
              f"(total {total:.2f} s = {total / n * 1e6:.1f} us/request under the profiler):")
        print(f"  {'own %':>6} {'cum %':>6} {'calls/req':>9}  function")
        rows = sorted(stats.stats.items(),
                      key=lambda kv: kv[1][2] if order == "tottime" else kv[1][3], reverse=True)
        for (file, line, func), (cc, nc, tt, ct, _) in rows[:a.top]:
            short = file
            for marker in ("site-packages/", str(ROOT) + "/"):
                if marker in file:
                    short = file.split(marker, 1)[1]
            print(f"  {100 * tt / total:6.1f} {100 * ct / total:6.1f} {nc / n:9.1f}  "
                  f"{func} ({short}:{line})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
