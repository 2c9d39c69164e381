"""`--data-dir`'s promises, against real `python -m mockserver serve` processes: a graceful stop
(SIGTERM, Ctrl-C) loses nothing; `kill -9` amid 64 writing clients loses no write answered more
than 1 s before it and leaves no tenant half-written; a disk that stops taking writes leaves the
server serving, logging once per burst and reporting "degraded" until the writes go through.

MOCKSERVER_DURABILITY_ROUNDS sets how many random kill points the kill -9 test tries (`make
durability`: many; `make test`: a few); MOCKSERVER_DURABILITY_SEED replays one run's points.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from mockserver import create_app
from mockserver.core import datadir

from .gravy.conftest import intent_body
from .test_cli import _as_a_terminal_would, _child_env, _first_line
from .test_limits import basic, gravy_token, groove_tokens

PREFIX = "mockserver listening on "
START_WAIT = 60        # seconds a server may take to start (a loaded machine, a big data dir)
ROUNDS = int(os.environ.get("MOCKSERVER_DURABILITY_ROUNDS", "3"))
CLIENTS = 64
KEPT_AFTER = 1.0       # a write answered this long before a kill -9 is on disk
GRAPHQL = "/groove/api/public/v1/graphql"


# == a server on a data dir, in its own process =============================================
class Served:
    """`python -m mockserver serve --port 0 --data-dir DIR [args]`; stderr kept in a file."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.stderr_path = data_dir.parent / f"{data_dir.name}.{time.monotonic_ns()}.stderr"
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mockserver", "serve", "--port", "0",
                 "--data-dir", str(data_dir), *args],
                env=_child_env(PYTHONUNBUFFERED="1"), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=err, text=True, preexec_fn=_as_a_terminal_would)
        line = _first_line(self.proc, timeout=START_WAIT).strip()
        if not line.startswith(PREFIX):
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"no banner ({line!r}); stderr: {self.stderr()}")
        self.url = line[len(PREFIX):]
        self.http = httpx.Client(base_url=self.url, timeout=30)
        assert self.http.get("/__admin/health").status_code == 200

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """The signal, then the exit code (the process is killed after START_WAIT s)."""
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=START_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> "Served":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def refused(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """A start that must end at once: its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--data-dir",
         str(data_dir), *args], env=_child_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=START_WAIT)


def one_line(stderr: str) -> str:
    """stderr's one line (no traceback, nothing else)."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def states(http: httpx.Client) -> dict[str, bytes]:
    """Every tenant's export, as the bytes GET /__admin/state answers."""
    out = {}
    for t in http.get("/__admin/tenants").json()["tenants"]:
        r = http.get("/__admin/state", params={"tenant": t["id"]})
        assert r.status_code == 200, r.text
        out[t["id"]] = r.content
    return out


# == the writes: each vendor's, through its API and /__admin =================================
def new_tenant(http: httpx.Client) -> tuple[str, dict[str, Any]]:
    r = http.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["credentials"]


def add_follower(http: httpx.Client, tid: str, creds: dict, reg_id: str, tag: str) -> None:
    """A Gravitec subscriber (admin), then a tag on it (the vendor's API)."""
    r = http.post("/__admin/gravitec/subscribers", json={"regId": reg_id, "tags": [],
                                                         "tenant": tid})
    assert r.status_code == 201, r.text
    r = http.post("/gravitec/api/v3/tag", params={"regId": reg_id, "name": tag},
                  headers=basic(creds["gravitec"]["appKey"], creds["gravitec"]["appSecret"]))
    assert r.status_code == 200, r.text


def add_person(http: httpx.Client, tid: str, email: str) -> str:
    r = http.post("/__admin/groove/people", json={"name": email.split("@")[0],
                                                  "emailAddress": email, "tenant": tid})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def add_to_flow(http: httpx.Client, token: str, person: str) -> None:
    r = http.post(GRAPHQL, headers={"Authorization": f"Bearer {token}"}, json={
        "query": 'mutation { addPersonToFlow(input: {flowId: "1002", personId: "%s"}) '
                 "{ personFlow { person { name } } } }" % person})
    assert r.status_code == 200 and "errors" not in r.json(), r.text


def connect_account(http: httpx.Client, tid: str, user: str, app: str = "hubspot") -> int:
    r = http.post("/__admin/integry/connected-accounts", json={"userId": user, "app": app,
                                                               "tenant": tid})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def intent_token(http: httpx.Client, gravy: str) -> str:
    r = http.post("/gravy/intent-token", json=intent_body(),
                  headers={"Authorization": f"Bearer {gravy}"})
    assert r.status_code == 201, r.text
    return r.json()["intentToken"]


# == 1. a graceful stop loses nothing ========================================================
def _write_everything(http: httpx.Client, tid: str, creds: dict, n: int) -> None:
    """A change to each vendor of tenant `tid` and to the default tenant, through the vendors'
    APIs and /__admin; the clock and a fault."""
    add_follower(http, tid, creds, f"graceful-{n}", f"tag{n}")
    person = add_person(http, tid, f"graceful{n}@example.com")
    add_to_flow(http, groove_tokens(http, creds["groove"])["access_token"], person)
    for path, body in (("rate-limit", {"limit": 40 + n}),
                       ("query-limits", {"maxComplexity": 500 + n, "maxDepth": 9 + n})):
        r = http.post(f"/__admin/groove/{path}", json={**body, "tenant": tid})
        assert r.status_code == 200, r.text
    connect_account(http, tid, f"graceful-{n}")
    intent_token(http, gravy_token(http, creds["gravy"]))
    add_person(http, "default", f"default{n}@example.com")
    r = http.post("/__admin/faults", json={"vendor": "gravy", "path": f"^/nothing-{n}",
                                           "status": 503, "times": 3, "tenant": tid})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "ctrl-c"])
def test_a_graceful_stop_loses_nothing(tmp_path, sig):
    data = tmp_path / "data"
    with Served(data) as first:
        http = first.http
        tid, creds = new_tenant(http)
        new_tenant(http)  # a tenant nobody wrote to: kept too
        _write_everything(http, tid, creds, 1)
        # the clock last: frozen, so the exports before and after read the same instant
        assert http.post("/__admin/clock", json={"set": "2025-03-04T05:06:07Z"}).status_code == 200
        before = states(http)
        clock, faults = http.get("/__admin/clock").json(), http.get("/__admin/faults").json()
        # stopped at once: everything above is younger than one write of the data dir
        code = first.stop(sig)
    # uvicorn re-raises SIGTERM after its shutdown; Ctrl-C ends as KeyboardInterrupt does
    assert code == (-signal.SIGTERM if sig == signal.SIGTERM else 130), first.stderr()
    assert "Traceback" not in first.stderr()
    with Served(data) as second:
        http = second.http
        assert http.get("/__admin/clock").json() == clock
        assert http.get("/__admin/faults").json() == faults
        after = states(http)
        assert sorted(after) == sorted(before) and len(before) == 3
        for t in before:
            assert after[t] == before[t], f"tenant {t} changed across the restart"
        # the tenant's credentials came back with it: its own calls still reach its state
        add_follower(http, tid, creds, "after-restart", "again")
        assert b'"after-restart"' in http.get("/__admin/state", params={"tenant": tid}).content


# == 2. kill -9 amid 64 writing clients ======================================================
@dataclass
class Write:
    """One answered write: which tenant, when its answer came, and how to find it after."""
    tenant: str
    answered: float
    kind: str
    key: Any


@dataclass
class Client:
    """One of the 64: its own tenant or a shared one, and its writes in order."""
    index: int
    tenant: str | None = None
    creds: dict[str, Any] | None = None
    writes: list[Write] = field(default_factory=list)
    error: BaseException | None = None


def _client_loop(url: str, c: Client, ready: threading.Barrier, shared: list[tuple[str, dict]],
                 stop: threading.Event) -> None:
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            if c.index % 4 == 0:  # a quarter make their own tenant (a write like the others)
                c.tenant, c.creds = new_tenant(http)
                c.writes.append(Write(c.tenant, time.monotonic(), "tenant", c.tenant))
            else:
                c.tenant, c.creds = shared[c.index % len(shared)]
            gravy = gravy_token(http, c.creds["gravy"])
            groove = groove_tokens(http, c.creds["groove"])["access_token"]
            ready.wait()
            n = 0
            while not stop.is_set():
                n += 1
                tag = f"c{c.index}-{n}"
                step = n % 4
                if step == 0:
                    add_follower(http, c.tenant, c.creds, tag, tag)
                    c.writes.append(Write(c.tenant, time.monotonic(), "follower", tag))
                elif step == 1:
                    person = add_person(http, c.tenant, f"{tag}@example.com")
                    c.writes.append(Write(c.tenant, time.monotonic(), "person", person))
                    add_to_flow(http, groove, person)
                    c.writes.append(Write(c.tenant, time.monotonic(), "flow", person))
                elif step == 2:
                    account = connect_account(http, c.tenant, tag)
                    c.writes.append(Write(c.tenant, time.monotonic(), "account", (tag, account)))
                else:
                    token = intent_token(http, gravy)
                    c.writes.append(Write(c.tenant, time.monotonic(), "intent", token))
    except (httpx.TransportError, threading.BrokenBarrierError):
        return  # the kill: the write in flight has no answer, so no promise
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        if not stop.is_set():
            c.error = exc
        ready.abort()


def _present(write: Write, state: dict[str, Any] | None) -> bool:
    """Whether `write` is in its tenant's export (None: the tenant is not there)."""
    if state is None:
        return False
    v = state["vendors"]
    if write.kind == "tenant":
        return True
    if write.kind == "follower":
        followers = {f["regId"]: f for f in v["gravitec"]["sites"]["main"]["followers"]}
        return write.key in followers and write.key in followers[write.key]["tags"]
    if write.kind == "person":
        return any(p["id"] == write.key for p in v["groove"]["people"])
    if write.kind == "flow":
        return any(m["person"] == write.key for m in v["groove"]["memberships"])
    if write.kind == "account":
        user, account = write.key
        return any(a["id"] == account for u in v["integry"]["users"] if u["userId"] == user
                   for accounts in u["apps"].values() for a in accounts)
    assert write.kind == "intent"
    return any(i["token"] == write.key for i in v["gravy"]["intents"])


def _one_kill(data: Path, rng: random.Random, label: str) -> int:
    """Start, write from 64 clients, SIGKILL at a random point, restart, check; the number of
    writes checked."""
    server = Served(data)
    try:
        shared = [new_tenant(server.http) for _ in range(3)]
        default = server.http.get("/__admin/credentials").json()
        shared.append(("default", default))
        clients = [Client(i) for i in range(CLIENTS)]
        ready, stop = threading.Barrier(CLIENTS + 1), threading.Event()
        threads = [threading.Thread(target=_client_loop, daemon=True,
                                    args=(server.url, c, ready, shared, stop)) for c in clients]
        for t in threads:
            t.start()
        ready.wait(timeout=START_WAIT)
        time.sleep(rng.uniform(KEPT_AFTER + 0.3, KEPT_AFTER + 2.0))
        killed_at = time.monotonic()
        server.proc.send_signal(signal.SIGKILL)
        stop.set()
        server.proc.wait()
        for t in threads:
            t.join(timeout=START_WAIT)
        errors = [c.error for c in clients if c.error is not None]
        assert not errors, f"{label}: a client failed before the kill: {errors[0]!r}"
    finally:
        server.stop(signal.SIGKILL)
    # the server starts on what the kill left, every file loading (a bad one refuses the start)
    with Served(data) as again:
        on_disk = {p.stem for p in (data / datadir.TENANTS).glob("*.json")}
        listed = {t["id"] for t in again.http.get("/__admin/tenants").json()["tenants"]}
        assert listed == on_disk and not (data / datadir.QUARANTINE).exists(), label
        exports = {}
        for tid in listed:
            r = again.http.get("/__admin/state", params={"tenant": tid})
            assert r.status_code == 200, r.text
            exports[tid] = r.json()
            assert set(exports[tid]["vendors"]) == {"gravy", "gravitec", "groove", "integry"}
        checked = 0
        for c in clients:
            by_tenant: dict[str, list[Write]] = {}
            for w in c.writes:
                by_tenant.setdefault(w.tenant, []).append(w)
            for tid, writes in by_tenant.items():
                present = [_present(w, exports.get(tid)) for w in writes]
                for w, there in zip(writes, present):
                    if killed_at - w.answered > KEPT_AFTER:
                        checked += 1
                        assert there, (f"{label}: client {c.index}'s {w.kind} {w.key!r} in "
                                       f"{tid}, answered {killed_at - w.answered:.2f} s before "
                                       "the kill, is lost")
                # a tenant on disk is one state it had: a client's writes to it, made one
                # after the other, are there up to some point and absent after it
                assert present == sorted(present, reverse=True), \
                    f"{label}: client {c.index}'s writes to {tid} are there out of order: {present}"
        assert again.http.get("/__admin/health").json()["status"] == "ok"
    return checked


def test_kill_9_amid_64_writing_clients_keeps_every_write_answered_a_second_before(tmp_path):
    seed = int(os.environ.get("MOCKSERVER_DURABILITY_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    checked = 0
    for n in range(ROUNDS):
        checked += _one_kill(tmp_path / f"round{n}", rng,
                             f"round {n} (MOCKSERVER_DURABILITY_SEED={seed})")
    assert checked > 0  # the kill points leave writes old enough to be promised


# == 5. a disk that stops taking writes =======================================================
@pytest.fixture
def failing_disk(tmp_path, monkeypatch):
    """An app on a data dir whose writes fail with ENOSPC while `full[0]` holds."""
    full = [False]
    real = datadir.DataDir._write_now

    def write_now(self, path, data):
        if full[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(self, path, data)

    monkeypatch.setattr(datadir.DataDir, "_write_now", write_now)
    monkeypatch.setattr(datadir, "RETRY_EVERY", 0.05)
    app = create_app(data_dir=tmp_path / "data")
    yield app, full, tmp_path / "data"
    app.data.close()


def test_a_full_disk_degrades_health_keeps_serving_and_catches_up(failing_disk, caplog):
    app, full, data = failing_disk
    caplog.set_level(logging.WARNING, logger="mockserver")

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock") as http:
            async def settle() -> None:  # past the coalescing delay and a retry or two
                for _ in range(40):
                    await asyncio.sleep(datadir.FLUSH_DELAY / 4)
                    if app.data._pending is None and app.data._queue.empty():
                        break
                await asyncio.sleep(datadir.RETRY_EVERY * 3)

            assert (await http.get("/__admin/health")).json() == {"status": "ok",
                                                                 "dataDir": str(data)}
            full[0] = True
            for n in range(5):  # a burst of writes: each answered as usual
                r = await http.post("/__admin/groove/people",
                                    json={"name": "P", "emailAddress": f"full{n}@example.com"})
                assert r.status_code == 201, r.text
                await asyncio.sleep(datadir.FLUSH_DELAY)
            await settle()
            health = (await http.get("/__admin/health")).json()
            assert health["status"] == "degraded" and "the disk is full" in health["degraded"]
            assert "default.json" in health["degraded"]
            assert (await http.get("/groove/oauth/authorize")).status_code != 500  # serving
            failures = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(failures) == 1 and "the disk is full" in failures[0].getMessage()
            assert b"full4@example.com" not in (data / "tenants" / "default.json").read_bytes()
            full[0] = False  # the disk takes writes again: what waited is written
            await settle()
            assert (await http.get("/__admin/health")).json() == {"status": "ok",
                                                                 "dataDir": str(data)}
            assert b"full4@example.com" in (data / "tenants" / "default.json").read_bytes()
            assert any("succeed again" in r.getMessage() for r in caplog.records)
            # a second burst is logged again, once
            full[0] = True
            await http.post("/__admin/groove/people",
                            json={"name": "Q", "emailAddress": "again@example.com"})
            await settle()
            failures = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(failures) == 2
            full[0] = False
            await settle()

    asyncio.run(run())
