#!/usr/bin/env python3
"""What `--data-dir` costs: reads, writes, the coalescing of writes, a start with 1,000 tenants,
and the store (per-tenant files against sqlite3 in WAL mode).

    .venv/bin/python bench/datadir.py [--only load,coalesce,start,store] [--json FILE]
        load      [--endpoints a,b,...] [--seconds N] [--rounds R] [--warmup W] [--connections C]
                  [--driver auto|wrk|python]
        coalesce  [--rate R] [--coalesce-seconds S] [--coalesce-endpoints a,b]
        start     [--tenants N] [--starts K] [--dir DIR] [--profile]
        store     [--tenants N] [--batches B] [--dirty 1,10,100]

Parts (bench/README.md, "--data-dir", has the figures and how to read them):
  load      bench/run.py's servers and drivers, three servers per endpoint: the mock, the mock
            with a data dir, and bare Starlette answering the same bytes; rounds alternate
            between them (the order rotating each round). Per endpoint: medians of req/s,
            p50/p99 and server CPU per request, the ratios to bare, and with/without. An
            endpoint may be named twice: the second run of a read comes after the writes have
            grown the tenant (the default order ends with the Gravy list again).
  coalesce  a real `mockserver serve --data-dir` process, written to at --rate requests per
            second for --coalesce-seconds as one tenant; a thread watches the tenant's file
            (its inode changes at each write: a new file is renamed over it) and counts writes.
  start     a data dir of --tenants tenants, each having called one to four vendors (a seeded
            mix), made in-process; then `create_app(data_dir=...)` timed in fresh processes,
            and `mockserver serve --data-dir` from spawn to its banner, each --starts times,
            against the same without a data dir.
  store     the tenant documents of that data dir written as the data dir writes them (a batch
            of dirty tenants per coalescing period) and loaded, as per-tenant files (the data
            dir's own code) and as rows of sqlite3 in WAL mode (synchronous=FULL and NORMAL).

Every server is its own process, stopped in a `finally`; every wait has a deadline. Traffic only
goes to 127.0.0.1. Linux only (/proc).
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import importlib.util
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"
PARTS = ("load", "coalesce", "start", "store")

TARGET_WRITES_SLOWER = 0.10    # writes at most 10% slower with a data dir
TARGET_LOAD_S = 2.0            # 1,000 tenants loaded at start
TARGET_WRITES_PER_S = 5.0      # "a few times a second": FLUSH_DELAY is 0.2 s
# The read first, then the writes, then the read again (on a tenant the writes have grown).
DEFAULT_ENDPOINTS = ("gravy-balances", "gravitec-tag", "integry-call", "gravitec-push",
                     "gravy-balances")


def _load_module(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(ROOT))  # this checkout's mockserver, installed or not
scale = _load_module("bench_scale_for_datadir", HERE / "scale.py")
run = scale.run  # bench/run.py


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} ms"


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def disk_written(pid: int) -> int | None:
    """Bytes a process has sent to the block layer, from /proc/PID/io (None where unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


# ==================================================================================================
# load: reads and writes, with and without a data dir, against bare Starlette
# ==================================================================================================

def measure_load(endpoints: list[str], seconds: float, rounds: int, warmup: float,
                 connections: int, driver: str) -> dict[str, Any]:
    import httpx

    loop, http = run._loop_and_http("mockserver")
    drive = run.run_wrk if driver == "wrk" else run.run_python_driver
    tmp = tempfile.TemporaryDirectory(prefix="mockserver-bench-datadir-")
    tmpdir = Path(tmp.name)
    servers: list[Any] = []
    out: dict[str, Any] = {"driver": driver, "seconds": seconds, "rounds": rounds,
                           "connections": connections, "runs": []}
    try:
        with httpx.Client(timeout=10, trust_env=False) as client:
            mock = run.Server("mock", loop, http)
            servers.append(mock)
            kept = run.Server("mock", loop, http, ["--data-dir", str(tmpdir / "data")])
            servers.append(kept)
            for s in (mock, kept):
                s.wait_ready(client)
            eps = [run.ENDPOINTS_BY_NAME[n] for n in endpoints]
            names = run.needed_secrets(eps)
            loads: dict[str, dict[str, Any]] = {}
            for kind, s in (("mock", mock), ("kept", kept)):
                secrets = {n: run.SECRETS[n](client, s.base) for n in names}
                (tmpdir / kind).mkdir()
                loads[kind] = {ep.name: run.Load.prepare(ep, secrets, tmpdir / kind) for ep in eps}
            bares: dict[str, Any] = {}
            for ep in eps:
                if ep.name in bares:
                    continue
                for s in (mock, kept):
                    run.run_setup(client, s.base, ep)
                ref = run.send_once(client, mock.base, loads["mock"][ep.name])
                if ref.status_code != ep.status:
                    raise RuntimeError(f"{ep.name}: mock answered {ref.status_code}: "
                                       f"{ref.text[:300]}")
                body_file = tmpdir / f"{ep.name}.response-body"
                body_file.write_bytes(ref.content)
                headers_file = tmpdir / f"{ep.name}.response-headers.json"
                headers_file.write_text(json.dumps(run.vendor_headers(ref)))
                bare = run.Server("bare", loop, http,
                                  ["--body-file", str(body_file), "--headers-file",
                                   str(headers_file), "--method", ep.method, "--path", ep.path,
                                   "--status", str(ref.status_code)])
                servers.append(bare)
                bare.wait_ready(client)
                b = run.send_once(client, bare.base, loads["mock"][ep.name])
                for kind, s in (("mock", mock), ("kept", kept)):
                    why = run.answers_differ(ep, run.send_once(client, s.base,
                                                               loads[kind][ep.name]), b)
                    if why is not None:
                        raise RuntimeError(f"{ep.name}: bare does not answer as {kind}: {why}")
                print(f"  {ep.name}: mock, mock --data-dir and bare answer alike")
                bares[ep.name] = bare

            for ep in eps:
                trio = [("mock", mock, loads["mock"][ep.name]),
                        ("kept", kept, loads["kept"][ep.name]),
                        ("bare", bares[ep.name], loads["mock"][ep.name])]
                print(f"\n== load ({driver}) {ep.name}: {ep.method} {ep.target_url}; "
                      f"{rounds} round(s) of mock, mock --data-dir, bare")
                if warmup > 0:
                    for _, s, ld in trio:
                        drive(s.port, ld, warmup, connections)
                res: dict[str, list[dict[str, Any]]] = {"mock": [], "kept": [], "bare": []}
                for i in range(rounds):
                    order = trio[i % 3:] + trio[:i % 3]
                    for kind, s, ld in order:
                        c0, t0, w0 = s.cpu_seconds(), time.monotonic(), disk_written(s.proc.pid)
                        k0, m0 = run._children_cpu(), run._machine_busy()
                        r = drive(s.port, ld, seconds, connections)
                        c1, t1, w1 = s.cpu_seconds(), time.monotonic(), disk_written(s.proc.pid)
                        k1, m1 = run._children_cpu(), run._machine_busy()
                        cpu = c1 - c0 if c0 is not None and c1 is not None else None
                        r["driver_cpu_pct"] = 100.0 * (k1 - k0) / (t1 - t0)
                        if cpu is not None and m0 is not None and m1 is not None:
                            # the machine's busy time but the server's and the driver's
                            other = (m1 - m0) - cpu - (k1 - k0)
                            r["other_cpu_pct"] = max(0.0, 100.0 * other / (t1 - t0))
                        r["server_cpu_pct"] = 100.0 * cpu / (t1 - t0) if cpu is not None else None
                        r["server_cpu_us_per_req"] = (1e6 * cpu / r["requests"]
                                                      if cpu and r["requests"] else None)
                        r["disk_mb_s"] = ((w1 - w0) / (t1 - t0) / 1e6
                                          if w0 is not None and w1 is not None else None)
                        res[kind].append(r)
                        print(f"  #{i + 1} {kind:4} {run._line(r)}"
                              + (f", disk {r['disk_mb_s']:.1f} MB/s"
                                 if r["disk_mb_s"] is not None and kind == "kept" else ""))
                        if r["errors"] or r["non200"] or not r["requests"]:
                            raise RuntimeError(f"{ep.name} {kind}: errors or non-200 answers")
                med = {k: run._median_of(v) for k, v in res.items()}
                for k in med:
                    disk = [r["disk_mb_s"] for r in res[k] if r.get("disk_mb_s") is not None]
                    med[k]["disk_mb_s"] = statistics.median(disk) if disk else None
                m, k, b = med["mock"], med["kept"], med["bare"]
                row = {"endpoint": ep.name, "rounds": res, "median": med,
                       "ratio_mock": m["rps"] / b["rps"], "ratio_kept": k["rps"] / b["rps"],
                       "kept_vs_mock": k["rps"] / m["rps"],
                       "kept_vs_mock_rounds": [x["rps"] / y["rps"] for x, y in
                                               zip(res["kept"], res["mock"])],
                       "kept_rss_mb": scale.rss_mb(kept.proc.pid)}
                out["runs"].append(row)
                print(f"  medians: mock {m['rps']:,.0f} req/s (p50 {_ms(m['p50_ms'])}, p99 "
                      f"{_ms(m['p99_ms'])}); --data-dir {k['rps']:,.0f} (p50 "
                      f"{_ms(k['p50_ms'])}, p99 {_ms(k['p99_ms'])}); bare {b['rps']:,.0f}")
                print(f"  ratio to bare: mock {row['ratio_mock']:.3f}, --data-dir "
                      f"{row['ratio_kept']:.3f}; --data-dir/mock {row['kept_vs_mock']:.3f} "
                      f"(per round {', '.join(f'{x:.3f}' for x in row['kept_vs_mock_rounds'])}); "
                      f"server CPU per request {m['cpu_us'] or 0:.1f} / {k['cpu_us'] or 0:.1f} / "
                      f"{b['cpu_us'] or 0:.1f} us; --data-dir RSS {row['kept_rss_mb']:.1f} MB")
            out["kept_files"] = sorted(
                f"{p.relative_to(tmpdir / 'data')} {p.stat().st_size}"
                for p in (tmpdir / "data").rglob("*") if p.is_file())
    finally:
        for s in servers:
            s.stop()
        tmp.cleanup()
    return out


# ==================================================================================================
# coalesce: one tenant written R times a second; its file's writes counted
# ==================================================================================================

class FileWatch(threading.Thread):
    """Polls a file every `every` s; each new inode (a file renamed over it) is one write."""

    def __init__(self, path: Path, every: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.path, self.every = path, every
        self.changes: list[tuple[float, int]] = []  # (perf_counter, size)
        self._done = threading.Event()
        self._last: tuple[int, int] | None = None

    def run(self) -> None:
        while not self._done.is_set():
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None:
                key = (st.st_ino, st.st_mtime_ns)
                if key != self._last:
                    if self._last is not None:
                        self.changes.append((time.perf_counter(), st.st_size))
                    self._last = key
            time.sleep(self.every)

    def settle(self, quiet: float, timeout: float) -> None:
        """Returns once the file has not changed for `quiet` s, counted from the call at the
        earliest (or after `timeout` s)."""
        started = time.perf_counter()
        while True:
            now = time.perf_counter()
            last = max(self.changes[-1][0], started) if self.changes else started
            if now - last >= quiet or now - started >= timeout:
                return
            time.sleep(0.02)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


async def _paced(port: int, request: bytes, rate: float, seconds: float,
                 connections: int) -> dict[str, Any]:
    """`rate` requests a second for `seconds`, spread over keep-alive connections; a connection
    that falls behind sends its next request at once. The answers' times and statuses."""
    start = time.perf_counter() + 0.05
    end = start + seconds
    latencies: list[float] = []
    answered: list[float] = []
    counters = {"non200": 0, "errors": 0}

    async def one(k: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            j = 0
            while True:
                due = start + (j * connections + k) / rate
                if due >= end:
                    return
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                i = lower.find(b"\r\ncontent-length:")
                n = int(head[i + 17:lower.find(b"\r\n", i + 17)]) if i >= 0 else 0
                await reader.readexactly(n)
                now = time.perf_counter()
                latencies.append(now - t0)
                answered.append(now)
                if head[9:12] != b"200":
                    counters["non200"] += 1
                j += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counters["errors"] += 1
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(one(k) for k in range(connections))),
                           timeout=seconds + 30)
    return {"requests": len(latencies), "elapsed_s": (max(answered) - start) if answered else 0,
            "p50_ms": _pct(latencies, 0.5) * 1e3 if latencies else None,
            "p99_ms": _pct(latencies, 0.99) * 1e3 if latencies else None,
            "first": start, "last": max(answered) if answered else None, **counters}


def _paced_run(server: Any, ep: Any, rate: float, seconds: float, connections: int,
               data: Path | None) -> dict[str, Any]:
    """The endpoint at `rate` a second against `server` (with `data` as its data dir, or none);
    with a data dir, the writes of the default tenant's file counted."""
    import httpx

    from mockserver.core.datadir import FLUSH_DELAY

    watch = FileWatch(data / "tenants" / "default.json") if data is not None else None
    try:
        if watch is not None:
            watch.start()
        with httpx.Client(timeout=10, trust_env=False) as client:
            secrets = {n: run.SECRETS[n](client, server.base) for n in run.needed_secrets([ep])}
            run.run_setup(client, server.base, ep)
            headers = [f"{k}: {v}" for k, v in run.resolve_headers(ep, secrets)]
        request = run.http_request(ep.method, ep.target_url, f"{HOST}:{server.port}", headers,
                                   ep.body if ep.has_body else None)
        if watch is not None:  # the setup's writes are done
            watch.settle(quiet=2 * FLUSH_DELAY, timeout=10)
            before = len(watch.changes)
        w0 = disk_written(server.proc.pid)
        res = asyncio.run(_paced(server.port, request, rate, seconds, connections))
        if watch is not None:  # the last write: FLUSH_DELAY after the last call, or a batch later
            watch.settle(quiet=5 * FLUSH_DELAY, timeout=10)
        w1 = disk_written(server.proc.pid)
    finally:
        if watch is not None:
            watch.stop()
    res["rss_mb"] = scale.rss_mb(server.proc.pid)
    res["disk_mb"] = (w1 - w0) / 1e6 if w0 is not None and w1 is not None else None
    res["rate_achieved"] = res["requests"] / res["elapsed_s"] if res["elapsed_s"] else 0
    if watch is not None:
        first, last = res["first"], res["last"]
        changes = watch.changes[before:]
        during = [t for t, _ in changes if last is not None and first <= t <= last]
        gaps = [y - x for x, y in zip(during, during[1:])]
        after = [t - last for t, _ in changes if last is not None and t > last]
        res.update({"file_writes": len(changes), "writes_during": len(during),
                    "writes_per_s": len(during) / res["elapsed_s"] if res["elapsed_s"] else 0,
                    "gap_median_ms": statistics.median(gaps) * 1e3 if gaps else None,
                    "gap_max_ms": max(gaps) * 1e3 if gaps else None,
                    "last_write_after_last_call_ms": after[-1] * 1e3 if after else None,
                    "file_bytes_end": changes[-1][1] if changes else None})
    del res["first"], res["last"]
    return res


def _serve_all(args: list[list[str]]) -> list[Any]:
    """`mockserver serve` processes with these flags, spawned together (their starts overlap),
    each returned once its banner is out; all stopped if one fails."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(args)) as pool:
        futures = [pool.submit(scale.Served, a) for a in args]
    servers, failure = [], None
    for f in futures:
        try:
            servers.append(f.result())
        except Exception as exc:  # noqa: BLE001 - the first failure is raised, after the stops
            failure = failure or exc
    if failure is not None:
        for server in servers:
            server.stop()
        raise failure
    return servers


def measure_coalesce(endpoints: list[str], rate: float, seconds: float,
                     connections: int = 8) -> dict[str, Any]:
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "runs": []}
    for name in endpoints:
        ep = run.ENDPOINTS_BY_NAME[name]
        with tempfile.TemporaryDirectory(prefix="mockserver-bench-coalesce-") as tmp:
            data = Path(tmp) / "data"
            # Both started at once (a server idle meanwhile costs the other nothing), then
            # measured one after the other.
            servers = _serve_all([["--data-dir", str(data)], []])
            try:
                kept = _paced_run(servers[0], ep, rate, seconds, connections, data)
                plain = _paced_run(servers[1], ep, rate, seconds, connections, None)
            finally:
                for server in servers:
                    server.stop()
        out["runs"].append({"endpoint": name, "kept": kept, "plain": plain})
        disk = kept["disk_mb"] if kept["disk_mb"] is not None else float("nan")
        print(f"  {name}: {kept['requests']} calls in {kept['elapsed_s']:.2f} s "
              f"({kept['rate_achieved']:.0f}/s, {kept['non200']} non-200, {kept['errors']} "
              f"errors); the tenant's file written {kept['writes_during']} times meanwhile "
              f"({kept['writes_per_s']:.1f}/s, target <= {TARGET_WRITES_PER_S:g}: "
              f"{'OK' if kept['writes_per_s'] <= TARGET_WRITES_PER_S else 'MISSED'}; gaps "
              f"median {_ms(kept['gap_median_ms'])}, max {_ms(kept['gap_max_ms'])}), "
              f"{kept['file_writes']} in all, the last {_ms(kept['last_write_after_last_call_ms'])}"
              f" after the last call; file {(kept['file_bytes_end'] or 0) / 1e3:.0f} kB at the "
              f"end, {disk:.1f} MB to disk")
        print(f"    latency with --data-dir p50 {_ms(kept['p50_ms'])}, p99 {_ms(kept['p99_ms'])}, "
              f"RSS {kept['rss_mb']:.1f} MB; without p50 {_ms(plain['p50_ms'])}, p99 "
              f"{_ms(plain['p99_ms'])}, RSS {plain['rss_mb']:.1f} MB")
    return out


# ==================================================================================================
# start: a data dir of N tenants, loaded
# ==================================================================================================

GROOVE_ADD = ('{"query": "mutation($i: AddPersonToFlowInput!) { addPersonToFlow(input: $i) '
              '{ personFlow { createdAt } } }", "variables": {"i": {"flowId": "%s", '
              '"personId": "%s"}}}')


async def _as_tenant(c, creds: dict[str, dict[str, str]], vendors: list[str],
                     rng: random.Random) -> list[str]:
    """A tenant's day: the vendors named, a few writes each. The failures, as text."""
    bad, want = scale.checker()

    eps = run.ENDPOINTS_BY_NAME
    if "gravy" in vendors:  # a token, an intent token or two, a page read
        g = creds["gravy"]
        r = await c.post("/gravy/oauth/token", json={
            "grant_type": "client_credentials", "client_id": g["clientId"],
            "client_secret": g["clientSecret"]})
        if want(r):
            auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            for _ in range(rng.randint(1, 2)):
                want(await c.post("/gravy/intent-token", headers=auth, json={
                    "integrationId": "expedia", "resources": {"balances": {"read": {}}}}), 201)
            want(await c.get(eps["gravy-balances"].target_url, headers=auth))
    if "gravitec" in vendors:  # pushes and a tag
        g = creds["gravitec"]
        auth = (g["appKey"], g["appSecret"])
        ep = eps["gravitec-push"]
        for _ in range(rng.randint(1, 5)):
            want(await c.post(ep.target_url, content=ep.body, auth=auth,
                              headers={"Content-Type": "application/json"}))
        want(await c.post("/gravitec/api/v3/tag", auth=auth,
                          params={"regId": "someregid", "name": f"t{rng.randint(1, 99)}"}))
    if "groove" in vendors:  # the code flow, people added to flows
        token = await scale.groove_token(c, creds["groove"], want, "bench")
        if token is not None:
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for person in rng.sample(range(1, 51), rng.randint(1, 3)):
                want(await c.post(run.GROOVE_GRAPHQL, headers=auth,
                                  content=GROOVE_ADD % (rng.choice(("1001", "1002")), person)))
    if "integry" in vendors:  # Slack messages
        g = creds["integry"]
        signed = hmac.new(g["appSecret"].encode(), g["userId"].encode(),
                          hashlib.sha256).hexdigest()
        ep = eps["integry-call"]
        for _ in range(rng.randint(1, 3)):
            want(await c.post(ep.target_url, content=ep.body, headers={
                "App-Key": g["appKey"], "User-ID": g["userId"], "Hash": signed,
                "Content-Type": "application/json"}))
    return bad


VENDORS = ("gravy", "gravitec", "groove", "integry")


def build_data_dir(path: Path, tenants: int) -> dict[str, Any]:
    """`tenants` tenants made by the control plane, each having called a seeded choice of one to
    four vendors (each vendor in half of them), in-process; the data dir closed after."""
    import httpx
    from mockserver import create_app

    t0 = time.perf_counter()
    app = create_app(seed=0, max_tenants=tenants + 1, data_dir=path)
    mix = {v: 0 for v in VENDORS}

    async def go() -> list[str]:
        bad: list[str] = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=f"http://{HOST}") as c:
            for i in range(tenants):
                rng = random.Random(i)
                vendors = [v for v in VENDORS if rng.random() < 0.5] or [rng.choice(VENDORS)]
                for v in vendors:
                    mix[v] += 1
                r = await c.post("/__admin/tenants")
                r.raise_for_status()
                bad += await _as_tenant(c, r.json()["credentials"], vendors, rng)
        return bad

    try:
        bad = asyncio.run(go())
    finally:
        app.data.close()
    if bad:
        raise RuntimeError(f"building the data dir: {len(bad)} failed calls, first {bad[0]}")
    sizes = [p.stat().st_size for p in (path / "tenants").glob("*.json")]
    return {"tenants": tenants, "files": len(sizes), "vendors": mix,
            "bytes": sum(sizes), "median_file_bytes": statistics.median(sizes),
            "max_file_bytes": max(sizes), "build_s": time.perf_counter() - t0}


_CREATE = """
import json, sys, time
t0 = time.perf_counter()
from mockserver import create_app
t1 = time.perf_counter()
kw = json.loads(sys.argv[1])
profile, breakdown = kw.pop("profile", False), kw.pop("breakdown", False)
spent = {}
if breakdown:  # each step of DataDir.load timed (wrappers: a few us a call)
    from mockserver.core import datadir, vendor

    def timed(owner, attr, key=None):
        inner = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            name = key(args) if key else attr
            t = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
        setattr(owner, attr, wrapper)

    timed(datadir.DataDir, "_read_sealed", lambda a: "read, digest checked")
    timed(datadir, "_split", lambda a: "heads parsed (the parts: when first read)")
    timed(vendor.Vendor, "import_state", lambda a: "  import " + a[0].name)
    timed(datadir.DataDir, "_snapshot", lambda a: "what the dir lacks, exported (on the loop)")
    timed(datadir.DataDir, "_drain", lambda a: "  and written")
if profile:
    import cProfile, pstats, io
    prof = cProfile.Profile()
    prof.enable()
c1 = time.process_time()
app = create_app(**kw)
t2, c2 = time.perf_counter(), time.process_time()
if profile:
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
    print(s.getvalue(), file=sys.stderr)
n = len(list(app.tenants))
steps = dict(spent)  # the load's steps only: the stop below exports every tenant again
stop_s = None
if app.data is not None:
    t3 = time.perf_counter()
    app.data.close()
    stop_s = time.perf_counter() - t3
if breakdown:  # the first, untimed start: the bytecode of what `serve` adds written too
    import uvicorn, mockserver.cli, mockserver.http1  # noqa: E401,F401
print(json.dumps({"import_s": t1 - t0, "create_s": t2 - t1, "create_cpu_s": c2 - c1,
                  "tenants": n, "spent": steps, "stop_s": stop_s}))
"""


def _create_once(kw: dict[str, Any], profile: bool = False,
                 breakdown: bool = False) -> dict[str, Any]:
    env = scale.server_env(None)
    proc = subprocess.run([sys.executable, "-c", _CREATE,
                           json.dumps({**kw, "profile": profile, "breakdown": breakdown})],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"create_app failed: {proc.stderr[-2000:]}")
    if profile:
        print(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_start(path: Path, starts: int, profile: bool) -> dict[str, Any]:
    """create_app and `serve` with the data dir at `path`, against both without one."""
    files = len(list((path / "tenants").glob("*.json")))
    kw = {"seed": 0, "max_tenants": files + 1}
    # An untimed start first, each step of its load timed: it writes the bytecode of every
    # module a server imports and warms the page cache for the timed starts.
    first = _create_once({**kw, "data_dir": str(path)}, breakdown=True)
    steps = first["spent"]
    print("  where a load's time goes (an untimed first load, each step timed):")
    for step, took in steps.items():
        print(f"    {step:44} {took * 1e3:7.0f} ms")
    print(f"  and its stop (DataDir.close: what changed since, written): "
          f"{first['stop_s'] * 1e3:.0f} ms")
    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    for _ in range(starts):
        runs["without"].append(_create_once(kw))
        runs["with"].append(_create_once({**kw, "data_dir": str(path)}))
    if profile:
        _create_once({**kw, "data_dir": str(path)}, profile=True)
    create = {k: statistics.median(r["create_s"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["create_cpu_s"] for r in v) for k, v in runs.items()}
    loaded = runs["with"][0]["tenants"]
    each = ", ".join(f"{r['create_s'] * 1e3:.0f}" for r in runs["with"])
    load_s = create["with"] - create["without"]
    print(f"  create_app: {create['without'] * 1e3:.0f} ms without a data dir, "
          f"{create['with'] * 1e3:.0f} ms with {loaded} tenants (median of {starts}; each "
          f"{each} ms): the load {load_s:.2f} s, target < {TARGET_LOAD_S:g} s: "
          f"{'OK' if load_s < TARGET_LOAD_S else 'MISSED'}; CPU {cpu['without'] * 1e3:.0f} / "
          f"{cpu['with'] * 1e3:.0f} ms")
    banners: dict[str, list[float]] = {"without": [], "with": []}
    args = ["--max-tenants", str(files + 1)]
    for _ in range(starts):
        for kind, extra in (("without", []), ("with", ["--data-dir", str(path)])):
            server = scale.Served(args + extra, timeout=60)
            server.stop()
            banners[kind].append(server.banner_s)
    banner = {k: statistics.median(v) for k, v in banners.items()}
    each = ", ".join(f"{b:.2f}" for b in banners["with"])
    print(f"  serve, spawn to banner: {banner['without']:.2f} s without, "
          f"{banner['with']:.2f} s with the data dir (median of {starts}; each {each} s)")
    return {"tenants_loaded": loaded, "create_median_s": create, "load_s": load_s,
            "create_cpu_median_s": cpu, "load_steps_s": steps, "stop_s": first["stop_s"],
            "create_runs": runs, "banner_median_s": banner, "banner_runs": banners}


# ==================================================================================================
# store: per-tenant files against sqlite3 in WAL mode
# ==================================================================================================

def tenant_documents(path: Path) -> dict[str, bytes]:
    """Each tenant file's content (its seal off): the bytes the data dir writes for it."""
    from mockserver.core.datadir import SEAL
    return {p.stem: p.read_bytes().rpartition(SEAL)[0]
            for p in sorted((path / "tenants").glob("*.json"))}


class FileStore:
    """The data dir's own writes (DataDir._put each file: a temporary file, fsync, rename; then
    one fsync of the dir a batch, as its writer does) and reads (its seal checked)."""

    name = "files"

    def __init__(self, path: Path) -> None:
        from mockserver.core.datadir import DataDir
        self.path = path
        (path / "tenants").mkdir(parents=True)
        self.dd = DataDir(path, seed=0, fixtures_digest="bench")

    def write(self, batch: list[tuple[str, bytes]]) -> None:
        from mockserver.core.datadir import _sync_dir
        for tid, data in batch:
            self.dd._put(self.path / "tenants" / f"{tid}.json", data)
        _sync_dir(self.path / "tenants")

    def read(self) -> dict[str, bytes]:
        from mockserver.core.datadir import SEAL
        out = {}
        for p in sorted((self.path / "tenants").glob("*.json")):
            content, _, digest = p.read_bytes().rpartition(SEAL)
            if hashlib.sha256(content).hexdigest().encode() != digest.strip():
                raise RuntimeError(f"{p}: bad seal")
            out[p.stem] = content
        return out

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def close(self) -> None:
        pass


class SqliteStore:
    """One row per tenant (its document), one transaction per batch, in WAL mode."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.name = f"sqlite WAL, synchronous={synchronous}"
        path.mkdir(parents=True)
        self.path = path
        self.db = sqlite3.connect(path / "state.db", isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, doc BLOB)")

    def write(self, batch: list[tuple[str, bytes]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO tenants (id, doc) VALUES (?, ?)", batch)
        self.db.execute("COMMIT")

    def read(self) -> dict[str, bytes]:
        # A fresh connection, as a start opens it.
        db = sqlite3.connect(self.path / "state.db")
        try:
            return dict(db.execute("SELECT id, doc FROM tenants ORDER BY id"))
        finally:
            db.close()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    def close(self) -> None:
        self.db.close()


def _stores(base: Path) -> list[Any]:
    return [FileStore(base / "files"), SqliteStore(base / "full", "FULL"),
            SqliteStore(base / "normal", "NORMAL")]


def measure_store(batches: int, dirty: list[int], docs: dict[str, bytes]) -> dict[str, Any]:
    from mockserver.core.state import parse

    out: dict[str, Any] = {"write": [], "load": []}
    with tempfile.TemporaryDirectory(prefix="mockserver-bench-store-") as tmp:
        ids = list(docs)
        sizes = [len(d) for d in docs.values()]
        print(f"  {len(ids)} documents: median {statistics.median(sizes) / 1e3:.1f} kB, largest "
              f"{max(sizes) / 1e3:.1f} kB, {sum(sizes) / 1e6:.1f} MB in all")
        # Writes: each batch is what one coalescing period hands the writer: `d` dirty tenants
        # (the next ones round the list), each document changed (its bytes differ each time).
        for d in dirty:
            stores = _stores(Path(tmp) / f"w{d}")
            try:
                times: dict[str, list[float]] = {s.name: [] for s in stores}
                for b in range(batches):
                    batch = []
                    for j in range(d):
                        tid = ids[(b * d + j) % len(ids)]
                        batch.append((tid, docs[tid] + b" " * (b % 2)))
                    for s in (stores[b % 3:] + stores[:b % 3]):  # rotate who goes first
                        t0 = time.perf_counter()
                        s.write(batch)
                        times[s.name].append(time.perf_counter() - t0)
                for s in stores:
                    t = times[s.name]
                    row = {"dirty": d, "store": s.name, "batches": batches,
                           "median_ms": statistics.median(t) * 1e3,
                           "p90_ms": _pct(t, 0.9) * 1e3, "max_ms": max(t) * 1e3,
                           "per_tenant_ms": statistics.median(t) * 1e3 / d,
                           "tenants_per_s": d / statistics.median(t), "bytes": s.size()}
                    out["write"].append(row)
                    print(f"  write {d:4} dirty tenants a batch, {s.name:28}: median "
                          f"{row['median_ms']:8.2f} ms a batch (p90 {row['p90_ms']:.2f}, max "
                          f"{row['max_ms']:.2f}; {row['per_tenant_ms']:.2f} ms a tenant, "
                          f"{row['tenants_per_s']:,.0f} tenants/s); on disk "
                          f"{row['bytes'] / 1e6:.1f} MB")
            finally:
                for s in stores:
                    s.close()
        # Loads: every tenant written once, then read back (median of 5), and parsed.
        stores = _stores(Path(tmp) / "load")
        try:
            for s in stores:
                s.write(list(docs.items()))
            reads: dict[str, list[float]] = {s.name: [] for s in stores}
            for _ in range(5):
                for s in stores:
                    t0 = time.perf_counter()
                    got = s.read()
                    reads[s.name].append(time.perf_counter() - t0)
                    if got != docs:
                        raise RuntimeError(f"{s.name}: read back other documents")
            t0 = time.perf_counter()
            for d in docs.values():  # a start parses each head line (the parts: when called)
                parse(d.partition(b"\n")[0])
            parse_s = time.perf_counter() - t0
            for s in stores:
                row = {"store": s.name, "tenants": len(docs),
                       "read_median_ms": statistics.median(reads[s.name]) * 1e3,
                       "parse_ms": parse_s * 1e3, "bytes": s.size()}
                out["load"].append(row)
                print(f"  load {len(docs)} tenants, {s.name:28}: read "
                      f"{row['read_median_ms']:7.1f} ms (median of 5, warm page cache), then "
                      f"parse the heads {row['parse_ms']:.0f} ms (the same for every store); "
                      f"on disk "
                      f"{row['bytes'] / 1e6:.1f} MB")
        finally:
            for s in stores:
                s.close()
    return out


# ==================================================================================================

def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS), help=f"parts to run ({', '.join(PARTS)})")
    p.add_argument("--endpoints", default=",".join(DEFAULT_ENDPOINTS),
                   help="load: bench/run.py endpoint names, in order (a name may come twice)")
    p.add_argument("--seconds", type=float, default=8.0, help="load: seconds per round")
    p.add_argument("--rounds", type=int, default=3, help="load: rounds (medians reported)")
    p.add_argument("--warmup", type=float, default=2.0, help="load: warm-up seconds per server")
    p.add_argument("--connections", type=int, default=32, help="load: keep-alive connections")
    p.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument("--rate", type=float, default=1000.0, help="coalesce: calls a second")
    p.add_argument("--coalesce-seconds", type=float, default=5.0)
    p.add_argument("--coalesce-endpoints", default="integry-call,gravitec-push")
    p.add_argument("--tenants", type=int, default=1000, help="start, store: tenants")
    p.add_argument("--starts", type=int, default=5, help="start: timed starts of each kind")
    p.add_argument("--dir", type=Path, help="start: use (or make, if missing) this data dir")
    p.add_argument("--profile", action="store_true", help="start: cProfile one load")
    p.add_argument("--batches", type=int, default=50, help="store: batches written per size")
    p.add_argument("--dirty", default="1,10,100", help="store: dirty tenants per batch")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    parts = [x.strip() for x in a.only.split(",") if x.strip()]
    if not parts or set(parts) - set(PARTS):
        p.error(f"--only: some of {', '.join(PARTS)}")
    names = [n.strip() for n in a.endpoints.split(",") if n.strip()]
    coalesce = [n.strip() for n in a.coalesce_endpoints.split(",") if n.strip()]
    unknown = [n for n in names + coalesce if n not in run.ENDPOINTS_BY_NAME]
    if unknown:
        p.error(f"unknown endpoints: {', '.join(unknown)}")
    if not (0 < a.seconds <= 600 and 1 <= a.rounds <= 20 and 0 <= a.warmup <= 60
            and 0 < a.rate <= 20000 and 0 < a.coalesce_seconds <= 120
            and 1 <= a.tenants <= 20000 and 1 <= a.starts <= 50 and 1 <= a.batches <= 10000):
        p.error("a figure out of range")
    dirty = [int(x) for x in a.dirty.split(",") if x.strip()]
    driver = a.driver
    if driver == "auto":
        driver = "wrk" if shutil.which("wrk") else "python"

    m0 = run._machine_busy()
    time.sleep(1.0)
    m1 = run._machine_busy()
    busy = 100.0 * (m1 - m0) if m0 is not None and m1 is not None else None
    print(f"== machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"other load now {busy if busy is not None else float('nan'):.0f}% of one core")
    results: dict[str, Any] = {"load_before_pct": busy, "loadavg": os.getloadavg()}
    if "load" in parts:
        print(f"\n== load: reads and writes with and without --data-dir ({driver})")
        results["load"] = measure_load(names, a.seconds, a.rounds, a.warmup, a.connections,
                                       driver)
    if "coalesce" in parts:
        print(f"\n== coalesce: one tenant written {a.rate:g} times a second for "
              f"{a.coalesce_seconds:g} s")
        results["coalesce"] = measure_coalesce(coalesce, a.rate, a.coalesce_seconds)
    if "start" in parts or "store" in parts:
        with tempfile.TemporaryDirectory(prefix="mockserver-bench-tenants-") as tmp:
            path = a.dir or Path(tmp) / "data"
            if (path / "format.json").exists():
                print(f"\n== the data dir {path}, as it is")
            else:
                print(f"\n== a data dir of {a.tenants} tenants")
                built = build_data_dir(path, a.tenants)
                results["built"] = built
                print(f"  made {built['files']} tenant files in {built['build_s']:.1f} s: "
                      f"{built['bytes'] / 1e6:.1f} MB, median "
                      f"{built['median_file_bytes'] / 1e3:.1f} kB, largest "
                      f"{built['max_file_bytes'] / 1e3:.1f} kB; tenants per vendor "
                      f"{built['vendors']}")
            if "start" in parts:
                print("\n== start")
                results["start"] = measure_start(path, a.starts, a.profile)
            if "store" in parts:
                print("\n== store: per-tenant files against sqlite3 in WAL mode")
                results["store"] = measure_store(a.batches, dirty, tenant_documents(path))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
