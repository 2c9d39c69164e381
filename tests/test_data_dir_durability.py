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
import ssl
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
ROUNDS = int(os.environ.get("MOCKSERVER_DURABILITY_ROUNDS", "2"))
CLIENTS = 64
KEPT_AFTER = 1.0       # a write answered this long before a kill -9 is on disk
TLS = ssl.create_default_context()  # unused (plain HTTP), yet every httpx.Client holds one
PAUSE = 0.25          # seconds between a client's writes (64 clients: ~250 writes a second)
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


def test_each_start_mints_ids_no_earlier_start_minted(tmp_path):
    """The ids a server mints follow the seed; a restart drawing the seed's ids again would mint
    a connection id its tenants hold already, and write a tenant the next start refuses."""
    minted: list[list[str]] = []
    for _ in range(3):
        app = create_app(data_dir=tmp_path / "data")  # loads (a duplicate id would refuse it)

        async def mint() -> list[str]:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://mock") as http:
                token = (await http.post("/gravy/oauth/token", json={
                    "grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
                    "client_secret": "gravy-sandbox-secret"})).json()["access_token"]
                for _ in range(3):
                    await http.post("/gravy/intent-token", json=intent_body(),
                                    headers={"Authorization": f"Bearer {token}"})
                return (await http.get("/__admin/state")).json()["vendors"]["gravy"]["minted"]

        minted.append(asyncio.run(mint()))
        app.data.close()
    assert len(set(minted[-1])) == len(minted[-1]) == 9
    assert minted[1][:3] == minted[0] and minted[2][:6] == minted[1]


# == 2. kill -9 amid 64 writing clients ======================================================
@dataclass
class Write:
    """One answered write: its tenant, when its answer came, and what finds it after."""
    tenant: str
    answered: float
    kind: str
    key: Any


@dataclass
class Tenant:
    """A tenant the clients write to, with a token of each vendor that takes one."""
    id: str
    creds: dict[str, Any]
    gravy: str
    groove: str

    @classmethod
    def made(cls, http: httpx.Client, tid: str | None = None) -> "Tenant":
        if tid is None:
            tid, creds = new_tenant(http)
        else:
            creds = http.get("/__admin/credentials").json()
        r = http.post("/__admin/groove/rate-limit", json={"limit": 1_000_000, "tenant": tid})
        assert r.status_code == 200, r.text  # the clients share its token
        return cls(tid, creds, gravy_token(http, creds["gravy"]),
                   groove_tokens(http, creds["groove"])["access_token"])


@dataclass
class Client:
    """One of a round's 64: a tenant of its own or a shared one, its writes in order."""
    name: str
    tenant: Tenant | None  # None: it makes its own
    writes: list[Write] = field(default_factory=list)
    error: BaseException | None = None


def _client_loop(url: str, c: Client, ready: threading.Barrier, stop: threading.Event) -> None:
    try:
        # each its own connection; one TLS context for all (making 64 takes a second)
        with httpx.Client(base_url=url, timeout=30, verify=TLS) as http:
            if c.tenant is None:  # its own tenant (a write like the others)
                c.tenant = t = Tenant.made(http)
                c.writes.append(Write(t.id, time.monotonic(), "tenant", t.id))
            t = c.tenant
            ready.wait()
            n = 0
            while not stop.wait(PAUSE):
                n += 1
                key = f"{c.name}-{n}"  # each write's own: found after a restart by it
                if n % 4 == 0:
                    add_follower(http, t.id, t.creds, key, key)
                    c.writes.append(Write(t.id, time.monotonic(), "follower", key))
                elif n % 4 == 1:
                    # by its email, not its id: an id a kill lost is minted again after it
                    email = f"{key}@example.com"
                    person = add_person(http, t.id, email)
                    c.writes.append(Write(t.id, time.monotonic(), "person", email))
                    add_to_flow(http, t.groove, person)
                    c.writes.append(Write(t.id, time.monotonic(), "flow", email))
                elif n % 4 == 2:
                    account = connect_account(http, t.id, key)
                    c.writes.append(Write(t.id, time.monotonic(), "account", (key, account)))
                else:
                    token = intent_token(http, t.gravy)
                    c.writes.append(Write(t.id, time.monotonic(), "intent", token))
    except (httpx.TransportError, threading.BrokenBarrierError):
        return  # the kill: the write in flight has no answer, so no promise
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        if not stop.is_set():
            c.error = exc
        ready.abort()


class Found:
    """The clients' writes a tenant's export holds, by (kind, key)."""

    def __init__(self, state: dict[str, Any]) -> None:
        v = state["vendors"]
        self.keys: set[tuple[str, Any]] = {("tenant", state["tenant"])}
        for f in v["gravitec"]["sites"]["main"]["followers"]:
            if f["regId"] in f["tags"]:  # the subscriber, and the tag the vendor's API put on it
                self.keys.add(("follower", f["regId"]))
        email = {p["id"]: p["emailAddress"] for p in v["groove"]["people"]}
        self.keys |= {("person", e) for e in email.values()}
        self.keys |= {("flow", email[m["personId"]]) for m in v["groove"]["memberships"]}
        self.keys |= {("account", (u["userId"], a["id"])) for u in v["integry"]["users"]
                      for accounts in u["apps"].values() for a in accounts}
        self.keys |= {("intent", i["token"]) for i in v["gravy"]["intents"]}

    def __contains__(self, write: Write) -> bool:
        return (write.kind, write.key) in self.keys


def _write_until_killed(server: Served, shared: list[Tenant], rng: random.Random,
                        round_: int) -> tuple[list[Client], float]:
    """64 clients writing to every vendor, a quarter of them each in a tenant it makes, until a
    SIGKILL at a random point: the clients, and when the kill came."""
    clients = [Client(f"r{round_}c{i}", None if i % 4 == 0 else shared[i % len(shared)])
               for i in range(CLIENTS)]
    ready, stop = threading.Barrier(CLIENTS + 1), threading.Event()
    threads = [threading.Thread(target=_client_loop, args=(server.url, c, ready, stop),
                                daemon=True) for c in clients]
    for t in threads:
        t.start()
    try:
        ready.wait(timeout=START_WAIT)
        time.sleep(rng.uniform(KEPT_AFTER + 0.2, KEPT_AFTER + 1.5))
    finally:
        killed_at = time.monotonic()
        server.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(timeout=START_WAIT)
    errors = [c.error for c in clients if c.error is not None]
    assert not errors, f"a client failed before the kill: {errors[0]!r}"
    return clients, killed_at


def _exports(server: Served, data: Path) -> dict[str, Found]:
    """Every tenant after a restart: each file on disk loaded (a bad one refuses the start),
    listed, and exported whole."""
    on_disk = {p.stem for p in (data / datadir.TENANTS).glob("*.json")}
    listed = {t["id"] for t in server.http.get("/__admin/tenants").json()["tenants"]}
    assert listed == on_disk and not (data / datadir.QUARANTINE).exists()
    found = {}
    for tid in listed:
        r = server.http.get("/__admin/state", params={"tenant": tid})
        assert r.status_code == 200, r.text
        assert set(r.json()["vendors"]) == {"gravy", "gravitec", "groove", "integry", "passage"}
        found[tid] = Found(r.json())
    return found


@pytest.mark.alone  # 64 clients and kill points: a busy machine would blur the 1 s promise
def test_kill_9_amid_64_writing_clients_keeps_every_write_answered_a_second_before(tmp_path):
    seed = int(os.environ.get("MOCKSERVER_DURABILITY_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    data = tmp_path / "data"
    server = Served(data)
    # the tenants (and tokens) the clients without their own share: older than any kill
    shared = [Tenant.made(server.http) for _ in range(3)] + [Tenant.made(server.http, "default")]
    kept: list[tuple[str, list[Write], list[bool]]] = []  # each client's writes to a tenant
    promised = 0
    try:
        for n in range(ROUNDS):  # each restart is the next round's server: kill after kill
            label = f"round {n} (MOCKSERVER_DURABILITY_SEED={seed})"
            clients, killed_at = _write_until_killed(server, shared, rng, n)
            server = Served(data)  # it starts on whatever the kill left
            found = _exports(server, data)
            none: set = set()
            for who, writes, before in kept:  # what the earlier kills left, this one kept
                now = [w in found.get(w.tenant, none) for w in writes]
                assert now == before, f"{label}: {who}'s writes of an earlier round changed"
            for c in clients:
                by_tenant: dict[str, list[Write]] = {}
                for w in c.writes:
                    by_tenant.setdefault(w.tenant, []).append(w)
                for tid, writes in by_tenant.items():
                    there = [w in found.get(tid, none) for w in writes]
                    ages = [round(killed_at - w.answered, 2) for w in writes]
                    for w, age, ok in zip(writes, ages, there):
                        if age > KEPT_AFTER:
                            promised += 1
                            assert ok, (f"{label}: {c.name}'s {w.kind} {w.key!r} in {tid}, "
                                        f"answered {age} s before the kill, is lost; its writes"
                                        f" (kind, s before the kill, there): "
                                        f"{list(zip([x.kind for x in writes], ages, there))}")
                    # a tenant on disk is one state it had, never half of two: a client's writes
                    # to it, one after the other, are there up to some point and none after
                    assert there == sorted(there, reverse=True), \
                        f"{label}: {c.name}'s writes to {tid} are there out of order: {there}"
                    kept.append((c.name, writes, there))
        assert server.http.get("/__admin/health").json()["status"] == "ok"
    finally:
        server.stop()
    assert promised > 0  # the kill points leave writes old enough to be promised


# == 3. a disk that stops taking writes =======================================================
# what each failure is called in the log and in /__admin/health
FAILURES = {"full": (errno.ENOSPC, "the disk is full"),
            "read-only": (errno.EROFS, "the dir is not writable")}


@pytest.fixture(params=FAILURES)
def failing_disk(tmp_path, monkeypatch, request):
    """An app on a data dir whose writes fail (ENOSPC, EROFS) while `disk["full"]`;
    `disk["failed"]` counts the failed writes."""
    code, why = FAILURES[request.param]
    disk = {"full": False, "failed": 0, "why": why}
    real = datadir.DataDir._put

    def put(self, path, data):
        if disk["full"]:
            disk["failed"] += 1
            raise OSError(code, os.strerror(code), str(path))
        return real(self, path, data)

    monkeypatch.setattr(datadir.DataDir, "_put", put)
    monkeypatch.setattr(datadir, "RETRY_EVERY", 0.05)  # the retries of a burst come quickly
    app = create_app(data_dir=tmp_path / "data")
    yield app, disk, tmp_path / "data"
    disk["full"] = False
    app.data.close()


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (on the loop, so the server's own timers run) until `check()`; generous."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"not within 20 s: {what}")


def test_a_full_disk_degrades_health_keeps_serving_and_catches_up(failing_disk, caplog):
    app, disk, data = failing_disk
    default = data / datadir.TENANTS / "default.json"
    caplog.set_level(logging.WARNING, logger="mockserver")

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock") as http:
            async def person(email: str) -> None:
                r = await http.post("/__admin/groove/people",
                                    json={"name": "P", "emailAddress": email})
                assert r.status_code == 201, r.text  # answered as ever

            assert (await http.get("/__admin/health")).json() == {"status": "ok",
                                                                 "dataDir": str(data)}
            disk["full"] = True
            for n in range(5):  # a burst: several batches, each failing, then retried
                await person(f"full{n}@example.com")
                await asyncio.sleep(datadir.FLUSH_DELAY)
            await until(lambda: disk["failed"] >= 10, "the burst's writes and retries failed")
            health = (await http.get("/__admin/health")).json()
            assert health["status"] == "degraded", health
            assert disk["why"] in health["degraded"] and str(default) in health["degraded"]
            r = await http.get("/groove/oauth/authorize", params={
                "client_id": "groove-sandbox-client", "response_type": "code",
                "redirect_uri": "http://localhost:3000/oauth/callback"})
            assert r.status_code == 302  # still serving
            assert len(errors()) == 1 and disk["why"] in errors()[0]  # once per burst
            assert b"full4@example.com" not in default.read_bytes()
            disk["full"] = False  # the disk takes writes again: what waited reaches it
            await until(lambda: b"full4@example.com" in default.read_bytes(), "the catch-up")
            assert (await http.get("/__admin/health")).json() == {"status": "ok",
                                                                 "dataDir": str(data)}
            assert any("succeed again" in r.getMessage() for r in caplog.records)
            # the next burst is logged again, once
            disk["full"], failed = True, disk["failed"]
            await person("again@example.com")
            await until(lambda: disk["failed"] >= failed + 5, "the second burst failed")
            assert len(errors()) == 2
            assert (await http.get("/__admin/health")).json()["status"] == "degraded"

    asyncio.run(run())
