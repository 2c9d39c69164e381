"""`--data-dir`, in process: what persists comes back exactly (every tenant's export byte for
byte, credentials, the clock, the faults, per-tenant limits), deletions and resets persist too,
writes coalesce, and a dir made with another seed or other fixtures is refused. The promises
about processes (SIGTERM, kill -9, bad files, the lock, a full disk) are
tests/test_data_dir_durability.py's and tests/test_data_dir_files.py's."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver import create_app
from mockserver.core import datadir
from mockserver.core.datadir import DataDirError
from mockserver.core.http import dump
from mockserver.core.paths import data_dir as bundled
from mockserver.core.state import export, parse

from .test_limits import basic

GRAPHQL = "/groove/api/public/v1/graphql"


def exports(app) -> dict[str, bytes]:
    return {t.id: dump(export(t, app.vendors)) for t in app.tenants}


class Session:
    """An app with a data dir, driven on one event loop (its writes run as a server's would)."""

    def __init__(self, root: Path, **kw) -> None:
        self.app = create_app(data_dir=root, **kw)
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                      base_url="http://mock")

    def call(self, method: str, url: str, **kw) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def settle(self, seconds: float = 0.5) -> None:
        """Let the coalesced writes run (FLUSH_DELAY, then the writer thread): `seconds`, then
        until every mark is taken by a round (a loaded machine paces rounds up to MAX_DELAY)."""
        self.loop.run_until_complete(asyncio.sleep(seconds))
        data = self.app.data
        for _ in range(200):
            if not (data._dirty or data._server_dirty or data._todo or data._pending):
                return
            self.loop.run_until_complete(asyncio.sleep(0.05))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()
        self.app.data.close()


def work(s: Session) -> str:
    """A day of a developer's sandbox: a tenant of their own, writes to every vendor through the
    APIs and the control plane, the clock moved, a fault set. The new tenant's id."""
    r = s.call("POST", "/__admin/tenants")
    tid, creds = r.json()["id"], r.json()["credentials"]
    g = creds["gravitec"]
    assert s.call("POST", "/__admin/gravitec/subscribers",
                  json={"regId": "dev-1", "tags": ["beta"], "tenant": tid}).status_code == 201
    assert s.call("POST", "/gravitec/api/v3/tag", params={"regId": "dev-1", "name": "news"},
                  auth=(g["appKey"], g["appSecret"])).status_code == 200
    assert s.call("POST", "/gravitec/api/v3/push", auth=(g["appKey"], g["appSecret"]), json={
        "payload": {"message": "m", "title": "t", "redirect_url": "https://example.com"},
        "audience": {"tags": ["news"]}}).status_code == 200
    assert s.call("POST", "/__admin/groove/people", json={
        "name": "Ann Lee", "emailAddress": "ann@example.com", "salesforceId": "003AAA",
        "tenant": tid}).status_code == 201
    assert s.call("POST", "/__admin/groove/rate-limit",
                  json={"limit": 7, "tenant": tid}).status_code == 200
    assert s.call("POST", "/__admin/groove/query-limits",
                  json={"maxComplexity": 500, "maxDepth": 9, "tenant": tid}).status_code == 200
    assert s.call("POST", "/__admin/integry/connected-accounts",
                  json={"userId": "123456", "app": "hubspot", "tenant": tid}).status_code == 201
    gv = creds["gravy"]
    token = s.call("POST", "/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": gv["clientId"],
        "client_secret": gv["clientSecret"]}).json()["access_token"]
    assert s.call("POST", "/gravy/intent-token", headers={"authorization": f"Bearer {token}"},
                  json={"integrationId": "audible", "userId": "dev"}).status_code == 201
    # the default tenant too, through a vendor API only
    i = create_app().vendors["integry"].default_credentials
    digest = hmac.new(i["appSecret"].encode(), i["userId"].encode(), hashlib.sha256).hexdigest()
    assert s.call("POST", "/integry/functions/slack-post-message/call/", headers={
        "App-Key": i["appKey"], "User-ID": i["userId"], "Hash": digest},
        json={"channel": "random", "text": "kept?"}).status_code == 200
    assert s.call("POST", "/__admin/clock", json={"set": "2031-02-03T04:05:06Z"}).status_code == 200
    assert s.call("POST", "/__admin/faults", json={"vendor": "gravy", "status": 503,
                                                   "times": 5}).status_code == 201
    return tid


def test_everything_comes_back_exactly_after_a_restart(tmp_path):
    s = Session(tmp_path)
    tid = work(s)
    s.settle()
    before, creds = exports(s.app), s.app.tenants.get(tid).credentials
    faults = [f.to_dict() for f in s.app.faults.items]
    s.close()
    again = create_app(data_dir=tmp_path)
    try:
        assert exports(again) == before                       # byte for byte, every tenant
        assert again.tenants.get(tid).credentials == creds
        assert again.clock.iso() == "2031-02-03T04:05:06.000Z" and again.clock.frozen
        assert [f.to_dict() for f in again.faults.items] == faults
        groove = again.tenants.get(tid).stores["groove"]
        assert (groove.rate_limit, groove.max_complexity, groove.max_depth) == (7, 500, 9)
        # the tenant's credentials open it again, through the vendor's own auth
        g = creds["gravitec"]
        assert again.tenants.authenticate("gravitec", "appKey", g["appKey"], "appSecret",
                                          g["appSecret"]) is again.tenants.get(tid)
        # the next fault id goes on from the kept ones
        assert again.faults.add({"vendor": "groove", "status": 500}).id == "f_2"
    finally:
        again.data.close()


def test_the_real_clocks_offset_and_deletions_and_resets_persist(tmp_path):
    s = Session(tmp_path)
    assert s.call("POST", "/__admin/clock", json={"advance": 3600}).status_code == 200
    gone = s.call("POST", "/__admin/tenants").json()["id"]
    kept = s.call("POST", "/__admin/tenants").json()["id"]
    s.call("POST", "/__admin/groove/people", json={"name": "B", "emailAddress": "b@x.io",
                                                   "tenant": kept})
    s.call("POST", "/__admin/groove/people", json={"name": "C", "emailAddress": "c@x.io"})
    s.settle()
    assert s.call("DELETE", f"/__admin/tenants/{gone}").status_code == 204
    assert s.call("POST", "/__admin/reset", json={"tenant": kept}).status_code == 200
    s.settle()
    files = sorted(p.name for p in (tmp_path / "tenants").iterdir())
    assert files == sorted(["default.json", f"{kept}.json"])
    # a reset tenant's file holds no vendor part: its fixtures are rebuilt from the seed
    doc = (tmp_path / "tenants" / f"{kept}.json").read_bytes().rpartition(b"\n# sha256=")[0]
    assert json.loads(doc)["vendors"] == [] and b"\n" not in doc
    before = exports(s.app)
    s.close()
    again = create_app(data_dir=tmp_path)
    try:
        assert [t.id for t in again.tenants] == ["default", kept]
        assert exports(again) == before
        assert again.clock.saved()["offset"] == 3600 and not again.clock.frozen
    finally:
        again.data.close()


def test_writes_coalesce_a_busy_tenant_reaches_the_disk_a_few_times_a_second(tmp_path):
    s = Session(tmp_path)
    try:
        s.settle(0.3)
        written = s.app.data.writes

        async def hammer() -> int:
            n, loop = 0, asyncio.get_running_loop()
            end = loop.time() + 1.0
            while loop.time() < end:
                r = await s.http.post("/__admin/groove/people", json={
                    "name": f"P {n}", "emailAddress": f"p{n}@x.io"})
                assert r.status_code == 201
                n += 1
            await asyncio.sleep(0.5)
            return n

        n = s.loop.run_until_complete(hammer())
        assert n > 100                                      # a tenant written many times ...
        assert s.app.data.writes - written <= 2 * (1.5 / 0.2) + 2   # ... a few files a second
        before = exports(s.app)
    finally:
        s.close()
    again = create_app(data_dir=tmp_path)
    try:
        assert exports(again) == before                     # the last of them on disk
    finally:
        again.data.close()


def test_many_marked_tenants_are_exported_a_slice_a_turn_and_all_reach_the_disk(
        tmp_path, monkeypatch):
    """The exports on the loop stop after SLICE seconds and go on at its next turn: with SLICE 0,
    each turn exports one tenant and the loop runs other callbacks between them. A tenant
    marked while the slices run is written after them."""
    s = Session(tmp_path)
    try:
        made = [s.call("POST", "/__admin/tenants").json()["id"] for _ in range(6)]
        s.settle(0.5)
        data = s.app.data
        monkeypatch.setattr(datadir, "SLICE", 0.0)
        batches: list[list[str]] = []
        turns: list[int] = []
        put = data._queue.put

        def recorded(jobs) -> None:
            if jobs is not None:
                batches.append([name for name, _ in jobs])
            put(jobs)
        monkeypatch.setattr(data._queue, "put", recorded)

        async def run() -> None:
            loop = asyncio.get_running_loop()
            for tid in made:
                data.touched(tid)

            # Bounded by time, not by turns: a fast machine runs 100,000 turns before the first
            # write is due (FLUSH_DELAY), and the test then saw none of the slices.
            deadline = loop.time() + 10.0

            def tick() -> None:  # another callback of the loop, each turn till the slices end
                turns.append(len(batches))
                if len(batches) < len(made) and loop.time() < deadline:
                    loop.call_soon(tick)
            loop.call_soon(tick)
            await asyncio.sleep(datadir.FLUSH_DELAY + 0.05)
            data.touched(made[0])  # marked while the slices run (or just after)
            await asyncio.sleep(datadir.FLUSH_DELAY * 2 + 0.3)

        s.loop.run_until_complete(run())
        monkeypatch.setattr(data._queue, "put", put)
        slices, late = batches[:len(made)], batches[len(made):]
        assert all(len(b) == 1 for b in slices), batches   # one tenant a turn ...
        assert sorted(b[0] for b in slices) == sorted(f"tenants/{t}" for t in made)
        assert len(set(turns)) >= len(made)               # ... the loop running between them
        assert late == [[f"tenants/{made[0]}"]]            # the late mark, written after
    finally:
        s.close()


def test_a_dir_of_another_seed_or_other_fixtures_is_refused(tmp_path):
    create_app(data_dir=tmp_path / "d").data.close()
    with pytest.raises(DataDirError, match="written with --seed 0"):
        create_app(data_dir=tmp_path / "d", seed=1)
    fixtures = tmp_path / "fixtures"
    shutil.copytree(bundled("fixtures"), fixtures)
    generator = fixtures / "groove" / "generator.json"
    generator.write_text(generator.read_text().replace('"people"', '"people" ', 1) + " ")
    with pytest.raises(DataDirError, match="other fixtures"):
        create_app(data_dir=tmp_path / "d", fixtures=fixtures)
    create_app(data_dir=tmp_path / "d").data.close()        # the same ones open it


def push(s: Session, tid: str) -> int:
    """A Gravitec campaign of tenant `tid`: its id."""
    g = s.app.tenants.get(tid).credentials["gravitec"]
    r = s.call("POST", "/gravitec/api/v3/push", auth=(g["appKey"], g["appSecret"]), json={
        "payload": {"message": "m", "title": "t", "redirect_url": "https://example.com"}})
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def test_a_start_reads_each_part_when_its_tenant_first_calls_the_vendor(tmp_path):
    """A start parses only each file's head: a part is restored on its tenant's first call to
    that vendor, and what it claims of the shared ids counts before: a campaign another tenant
    pushes meanwhile is numbered after every kept one."""
    s = Session(tmp_path)
    try:
        tid = work(s)
        s.call("POST", "/__admin/clock", json={"set": "2020-01-01T00:00:00Z"})  # ids go back
        s.settle()
        before = exports(s.app)
        kept_ids = [int(c["id"]) for t in before.values()
                    for site in json.loads(t)["vendors"]["gravitec"]["sites"].values()
                    for c in site["campaigns"]]
    finally:
        s.close()
    assert kept_ids
    s = Session(tmp_path)
    try:
        tenant = s.app.tenants.get(tid)
        assert dict(tenant.stores) == {}
        assert sorted(tenant.stores.pending) == ["gravitec", "gravy", "groove", "integry"]
        other = s.call("POST", "/__admin/tenants").json()["id"]
        assert push(s, other) > max(kept_ids)        # after the ids of parts not read yet
        assert "gravitec" in tenant.stores.pending   # (not read for that)
        g = tenant.credentials["gravitec"]
        r = s.call("GET", f"/gravitec/api/v3/messages/{max(kept_ids)}",
                   auth=(g["appKey"], g["appSecret"]))
        assert r.status_code == 200, r.text  # the kept campaign: the part, read now
        assert "gravitec" in tenant.stores and "gravitec" not in tenant.stores.pending
        assert sorted(tenant.stores.pending) == ["gravy", "groove", "integry"]
        s.settle()
        after = exports(s.app)
        assert after[tid] == before[tid]
    finally:
        s.close()


def test_a_kept_part_that_does_not_restore_is_set_aside_when_first_read(tmp_path, caplog):
    """A part sealed right but not restorable (a file sealed by hand; a --max-sessions since
    made smaller): the start goes on, and the tenant's first call to the vendor logs one line,
    keeps the part's bytes in recovered/, and goes on from the fixtures for that vendor; its
    other parts are as they were."""
    s = Session(tmp_path)
    try:
        tid = work(s)
        s.settle()
        before = json.loads(exports(s.app)[tid])
    finally:
        s.close()
    campaign = before["vendors"]["gravitec"]["sites"]["main"]["campaigns"][0]["id"]
    path = tmp_path / "tenants" / f"{tid}.json"
    head, *parts = path.read_bytes().rpartition(b"\n# sha256=")[0].split(b"\n")
    names = json.loads(head)["vendors"]
    bad = b'{"sites":[]}'
    parts[names.index("gravitec")] = bad
    content = b"\n".join([head, *parts])
    path.write_bytes(content + b"\n# sha256=" + hashlib.sha256(content).hexdigest().encode()
                     + b"\n")
    s = Session(tmp_path)
    try:
        g = s.app.tenants.get(tid).credentials["gravitec"]
        with caplog.at_level(logging.ERROR, logger="mockserver"):
            r = s.call("GET", f"/gravitec/api/v3/messages/{campaign}",
                       auth=(g["appKey"], g["appSecret"]))
        assert "There is no message with this id" in r.text   # the fixtures have none
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1 and f"{path}: the gravitec part does not restore" in said[0]
        aside = list((tmp_path / "recovered").iterdir())
        assert len(aside) == 1 and aside[0].read_bytes().rpartition(b"\n# sha256=")[0] == bad
        assert str(aside[0]) in said[0]
        now = json.loads(exports(s.app)[tid])["vendors"]
        assert {n: p for n, p in now.items() if n != "gravitec"} == {
            n: p for n, p in before["vendors"].items() if n != "gravitec"}
        s.settle()
    finally:
        s.close()
    assert bad not in path.read_bytes()   # the file holds what the tenant has now


def _gets(s: Session) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    """A call of every GET route of every vendor, on the default tenant (a day's work done):
    (vendor, route) -> (URL, query, headers)."""
    creds = s.app.tenants.default.credentials
    gv = creds["gravy"]
    token = s.call("POST", "/gravy/oauth/token", json={
        "grant_type": "client_credentials", "client_id": gv["clientId"],
        "client_secret": gv["clientSecret"]}).json()["access_token"]
    bearer = {"authorization": f"Bearer {token}"}
    short = s.call("POST", "/gravy/intent-token", headers=bearer,
                   json={"integrationId": "audible", "userId": "dev"}).json()["shortToken"]
    g = creds["gravitec"]
    auth = basic(g["appKey"], g["appSecret"])
    campaign = s.call("POST", "/gravitec/api/v3/push", headers=auth, json={"payload": {
        "message": "m", "title": "t", "redirect_url": "https://example.com"}}).json()["id"]
    conn = "conn_789xyz123abc"
    i = creds["integry"]
    signed = {"App-Key": i["appKey"], "User-ID": i["userId"], "Hash": hmac.new(
        i["appSecret"].encode(), i["userId"].encode(), hashlib.sha256).hexdigest()}
    psg = {"authorization": f"Bearer {creds['passage']['apiKey']}"}
    made = s.call("POST", "/passage/v1/links", headers=psg, json={
        "integrationId": "tmobile", "resource": "paymentMethod", "action": "read"}).json()
    return {
        ("passage", "/v1/links"): ("/passage/v1/links", {}, psg),
        ("passage", "/v1/links/{id}"): (f"/passage/v1/links/{made['linkId']}", {}, psg),
        ("passage", "/v1/providers"): ("/passage/v1/providers", {}, psg),
        # plain HTTP on the WebSocket's path: refused (426), nothing kept changes
        ("passage", "/link/ws"): ("/passage/link/ws", {"code": made["claimCode"]}, {}),
        ("gravy", "/intent-token"): ("/gravy/intent-token", {"shortCode": short}, {}),
        ("gravy", "/intent-token-links/short-code/{code}"): (
            f"/gravy/intent-token-links/short-code/{short}", {}, {}),
        ("gravy", "/connections"): ("/gravy/connections", {}, bearer),
        ("gravy", "/connections/{connectionId}"): (f"/gravy/connections/{conn}", {}, bearer),
        ("gravy", "/connections/{connectionId}/resources/{type}"): (
            f"/gravy/connections/{conn}/resources/balances", {}, bearer),
        ("gravy", "/connections/{connectionId}/{resource}"): (
            f"/gravy/connections/{conn}/balances", {}, bearer),
        ("gravy", "/integrations"): ("/gravy/integrations", {}, bearer),
        ("gravy", "/integrations/{slug}"): ("/gravy/integrations/audible", {}, bearer),
        ("gravy", "/automation/integrations"): ("/gravy/automation/integrations", {}, bearer),
        ("gravy", "/automation/integrations/{slug}"): (
            "/gravy/automation/integrations/audible", {}, bearer),
        ("gravitec", "/api/v3/messages/{campaignID}"): (
            f"/gravitec/api/v3/messages/{campaign}", {}, auth),
        ("gravitec", "/api/v3/messages"): ("/gravitec/api/v3/messages",
                                           {"campaignID": campaign}, auth),
        ("gravitec", "/api/v3/alias"): ("/gravitec/api/v3/alias", {"regId": "dev-1"}, auth),
        ("integry", "/functions/{name}/get"): (
            "/integry/functions/slack-post-message/get/", {}, signed),
        ("groove", "/oauth/authorize"): ("/groove/oauth/authorize", {
            "client_id": creds["groove"]["clientId"], "response_type": "code",
            "redirect_uri": "http://localhost:3000/oauth/callback"}, {}),
    }


def test_a_get_marks_nothing_to_write_unless_it_changed_what_is_kept(tmp_path):
    """Reads leave the data dir alone (exporting a part costs more than the read); a GET that
    changes what a tenant keeps (Groove's authorize mints a code) says so and is written. Every
    vendor's every GET route is called: a new one fails here until it is listed."""
    s = Session(tmp_path)
    try:
        work(s)
        assert s.call("DELETE", "/__admin/faults").status_code in (200, 204)
        calls = _gets(s)
        served = {(name, r.path) for name, v in s.app.vendors.items()
                  for r in v.service.router.routes if "GET" in r.methods}
        assert set(calls) == served
        s.settle()
        data = s.app.data
        for (vendor, route), (url, query, headers) in calls.items():
            assert not data._dirty
            before = exports(s.app)
            r = s.call("GET", url, params=query, headers=headers)
            assert r.status_code in ((426,) if route == "/link/ws" else (200, 302)), \
                (route, r.text)
            changed = exports(s.app) != before
            assert bool(data._dirty) == changed, (vendor, route, changed)
            assert changed == (route == "/oauth/authorize"), route
            if changed:  # ... and written: the code it minted is there after a restart
                assert data._dirty == {"default": {"groove"}}
                code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0].encode()
                kept = tmp_path / "tenants" / "default.json"
                for _ in range(100):  # the writer thread's round, however loaded the machine
                    s.settle(0.1)
                    if code in kept.read_bytes():
                        break
                assert code in kept.read_bytes()
    finally:
        s.close()


def test_a_write_retried_after_a_failure_keeps_the_parts_a_later_round_left_unmarked(
        tmp_path, monkeypatch):
    """A round that failed (a full disk) is retried with the newest state, part by part: a
    Gravitec push whose round failed, then an Integry call whose round marks only Integry, and
    the file written at last holds both, with what the push claims of the shared ids."""
    s = Session(tmp_path)
    try:
        s.settle()
        monkeypatch.setattr(datadir, "RETRY_EVERY", 0.05)
        full = {"on": True}
        put = datadir.DataDir._put

        def failing(self, path, data):
            if full["on"]:
                raise OSError(28, "No space left on device", str(path))
            return put(self, path, data)
        monkeypatch.setattr(datadir.DataDir, "_put", failing)
        campaign = push(s, "default")
        s.settle()
        assert s.app.data.failure is not None
        i = s.app.vendors["integry"].default_credentials
        digest = hmac.new(i["appSecret"].encode(), i["userId"].encode(),
                          hashlib.sha256).hexdigest()
        assert s.call("POST", "/integry/functions/slack-post-message/call/", headers={
            "App-Key": i["appKey"], "User-ID": i["userId"], "Hash": digest},
            json={"channel": "random", "text": "after the push"}).status_code == 200
        s.settle()
        full["on"] = False
        s.settle()
        assert s.app.data.failure is None
        before = exports(s.app)
    finally:
        s.close()
    head = json.loads((tmp_path / "tenants" / "default.json").read_bytes().partition(b"\n")[0])
    assert head["claims"]["gravitec"] >= campaign
    again = create_app(data_dir=tmp_path)
    try:
        assert exports(again) == before
        assert str(campaign).encode() in before["default"]
        assert b"after the push" in before["default"]
    finally:
        again.data.close()


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(),  # (lone surrogates too)
    lambda inner: st.lists(inner, max_size=80)
    | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    | st.dictionaries(st.integers(0, 9), inner, max_size=3),
    max_leaves=200)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_a_part_as_written_reads_back_to_what_dump_would_have_written(value):
    """Parts are encoded with orjson (or, for what it refuses, with dump a few records a call):
    whatever a part holds (ints past 64 bits, lone surrogates, -0.0, NaN, keys that are no
    strings), reading the file back gives the values `dump` writes, so an export after a restart
    is byte for byte the one before."""
    assert dump(parse(datadir._encode(value))) == dump(value)
    assert datadir._dump_steps(value) == dump(value)


def test_the_data_dir_wins_over_state_after_its_first_start(tmp_path):
    snapshot = json.loads(dump(export(create_app().tenants.default, create_app().vendors)))
    s = Session(tmp_path, state=snapshot)
    s.call("POST", "/__admin/groove/people", json={"name": "D", "emailAddress": "d@x.io"})
    s.settle()
    before = exports(s.app)
    s.close()
    again = create_app(data_dir=tmp_path, state=snapshot)
    try:
        assert exports(again) == before
    finally:
        again.data.close()


def test_without_a_data_dir_health_is_as_before_and_with_one_it_says_where(tmp_path):
    async def health(app) -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock") as c:
            return (await c.get("/__admin/health")).json()

    app = create_app()
    assert app.data is None
    assert asyncio.run(health(app)) == {"status": "ok"}
    kept = create_app(data_dir=tmp_path)
    try:
        assert asyncio.run(health(kept)) == {"status": "ok", "dataDir": str(tmp_path)}
    finally:
        kept.data.close()
