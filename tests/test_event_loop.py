"""One client cannot hold the server, and the control plane's edges.

- While one client's heaviest allowed request runs (each kind in bench/health_latency.py's
  HEAVY table: the largest Gravy page, 1 MiB Gravitec and Integry bodies, a large GraphQL query,
  a 64 MiB state import, a big export, a journal listing full of large bodies), `GET
  /__admin/health` from another connection answers within 50 ms, against a real
  `python -m mockserver serve` process.
- A client that leaves mid-body on /__admin leaves no traceback in the server's log.
- A call still in flight when its tenant is deleted is dropped from the journal with it.
"""
from __future__ import annotations

import asyncio
import base64
import json
import socket
from pathlib import Path

import httpx
import pytest

from mockserver import Clock, create_app

from .conftest import DOC_TIME, load_script

BENCH = Path(__file__).resolve().parents[1] / "bench" / "health_latency.py"
KINDS = ["gravy-page", "gravitec-push", "integry-call", "groove-graphql", "admin-import",
         "admin-export", "admin-journal", "admin-journal-page"]
# The bound is the issue's; a busy machine (other processes, other servers; the suite's other
# tests wait: `alone`) can stall any process now and then, so a kind passes when one of these
# measurements keeps every probe within it.
# A server that holds its event loop for the request misses it every time. Five: under the
# suite's own parallel load one kind once missed three measurements in a row by 3-40 ms (its
# worst probe alone is about 23 ms); an attempt that passes ends the loop, so it costs nothing.
ATTEMPTS = 5


@pytest.fixture(scope="module")
def bench():
    yield from load_script(BENCH, "bench_health_latency")


@pytest.fixture(scope="module")
def server(bench):
    target = bench.start_mock()
    try:
        yield target
    finally:
        target.http.close()
        bench.stop(target.proc)


def test_every_heavy_kind_is_measured(bench):
    assert list(bench.HEAVY) == KINDS


def test_the_groove_kind_sends_the_heaviest_query_the_limits_allow(bench):
    from .groove.test_cost import HEAVIEST_ALLOWED_QUERY

    assert bench.GROOVE_HEAVY_QUERY == HEAVIEST_ALLOWED_QUERY


# measured while no other test of the run loads the machine; one after the other on one worker
@pytest.mark.alone
@pytest.mark.xdist_group("alone")
@pytest.mark.parametrize("kind", KINDS)
def test_health_answers_within_50_ms_while_the_heaviest_request_runs(bench, server, kind):
    requests = bench.HEAVY[kind](server)
    attempts = []
    for _ in range(ATTEMPTS):
        # a second holds a dozen heavy requests or more, each of which would show a held loop
        result = bench.measure(server.port, kind, requests, seconds=1.0)
        summary = result.summary()
        attempts.append(summary)
        assert result.heavy, f"no heavy request completed: {summary}"
        assert all(s is not None and s < 500 for _, s in result.heavy), summary
        if result.worst_ms < bench.BOUND_MS:
            break
    else:
        pytest.fail(f"health took {bench.BOUND_MS:g} ms or more in every attempt: {attempts}")


# -- a client that leaves mid-body ------------------------------------------------------------
def _half_sent(port: int, method: str, path: str, body: bytes) -> None:
    """Announce `body`, send half of it, close."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:len(body) // 2])


def test_a_client_leaving_mid_body_on_the_control_plane_leaves_no_traceback(bench):
    target = bench.start_mock()
    try:
        snapshot = target.http.get("/__admin/state").content
        _half_sent(target.port, "PUT", "/__admin/state", snapshot)
        _half_sent(target.port, "POST", "/__admin/reset", b'{"tenant": "default"}' * 10)
        _half_sent(target.port, "POST", "/__admin/gravy/connections/x/status",
                   b'{"status": "connected"}' * 10)
        # ... and the server goes on serving, the snapshot unchanged
        assert target.http.get("/__admin/health").status_code == 200
        assert target.http.get("/__admin/state").content == snapshot
    finally:
        target.http.close()
        bench.stop(target.proc)  # a graceful stop: the calls cut off finish first
    log = target.proc.stderr.read()
    assert "Traceback" not in log and "ERROR" not in log, log


# -- a call in flight when its tenant is deleted ------------------------------------------------
def test_a_call_in_flight_when_its_tenant_is_deleted_is_dropped_with_it():
    """A Gravitec push authenticates, then reads its body, sent in two parts; the tenant is
    deleted in between. Its entry is not journaled under the deleted tenant (nor any other),
    while a call of another tenant in flight at the same time is."""
    app = create_app(seed=0, clock=Clock(DOC_TIME))
    body = json.dumps({"payload": {"message": "m", "redirect_url": "https://gravitec.net"}})
    raw = body.encode()

    def push_scope(key: str, secret: str) -> dict:
        basic = base64.b64encode(f"{key}:{secret}".encode())
        return {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
                "path": "/gravitec/api/v3/push", "raw_path": b"/gravitec/api/v3/push",
                "root_path": "", "query_string": b"", "server": ("mock", 80),
                "client": ("127.0.0.1", 5000),
                "headers": [(b"host", b"mock"), (b"authorization", b"Basic " + basic),
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode())]}

    async def in_flight(scope: dict, go_on: asyncio.Event, started: asyncio.Event) -> int:
        parts = [{"type": "http.request", "body": raw[:10], "more_body": True},
                 {"type": "http.request", "body": raw[10:], "more_body": False}]
        answer: dict = {}

        async def receive() -> dict:
            if len(parts) == 1:  # the first part was read: the handler authenticated
                started.set()
                await go_on.wait()
            return parts.pop(0) if parts else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]

        await app(scope, receive, send)
        return answer["status"]

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://mock.test") as http:
            made = (await http.post("/__admin/tenants")).json()
            tid, creds = made["id"], made["credentials"]["gravitec"]
            default = (await http.get("/__admin/credentials")).json()["gravitec"]
            go_on, started, started_default = asyncio.Event(), asyncio.Event(), asyncio.Event()
            gone = asyncio.create_task(in_flight(
                push_scope(creds["appKey"], creds["appSecret"]), go_on, started))
            kept = asyncio.create_task(in_flight(
                push_scope(default["appKey"], default["appSecret"]), go_on, started_default))
            await asyncio.wait_for(started.wait(), 30)
            await asyncio.wait_for(started_default.wait(), 30)
            assert (await http.delete(f"/__admin/tenants/{tid}")).status_code == 204
            go_on.set()
            assert await gone == 200 and await kept == 200
            listed = (await http.get("/__admin/requests", params={"limit": 1000})).json()
        assert [r["tenant"] for r in listed["requests"]] == ["default"], listed
        assert not app.journal.filter(tenant=tid)
        assert [c.tenant for c in app.journal.filter(path="/api/v3/push")] == ["default"]

    asyncio.run(scenario())


# -- cost limits before expensive work ----------------------------------------------------------
def test_replacing_reference_tags_is_bounded_before_the_work(client):
    """Integry: a call whose tag replacement would scan more than TAG_SCAN_MAX characters, or
    grow a text past TAG_TEXT_MAX, is the documented invalid-input 400; within both it runs."""
    from mockserver.vendors.integry.handlers import TAG_SCAN_MAX, TAG_TEXT_MAX

    from .integry.conftest import call

    path = "/functions/slack-post-message/call/"
    text = "{other} " * 100_000  # 800 KB holding a tag none of the variables names
    assert 100 * len(text) > TAG_SCAN_MAX > 60 * len(text)
    r = call(client, path, {"channel": "random", "text": text,
                            "_variables": {f"v{i}": "x" for i in range(100)}})
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"].startswith("Could not call the function due to invalid input")
    assert "characters to scan" in r.json()["error_details"]["_variables"]
    r = call(client, path, {"channel": "random", "text": text,
                            "_variables": {f"v{i}": "x" for i in range(60)}})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["output"]["message"]["text"] == text
    assert 2_000 * 1_000 > TAG_TEXT_MAX >= 2_000 * 500
    r = call(client, path, {"channel": "random", "text": "{a}" * 2_000,
                            "_variables": {"a": "y" * 1_000}})
    assert r.status_code == 400, r.text[:300]
    assert "a text of more than" in r.json()["error_details"]["_variables"]
    r = call(client, path, {"channel": "random", "text": "{a}" * 2_000,
                            "_variables": {"a": "y" * 500}})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["output"]["message"]["text"] == "y" * 1_000_000
