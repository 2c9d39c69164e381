"""bench/run.py: its endpoint table, the requests its drivers send, and one short real run.

The short run uses the Python driver (wrk may be missing) for a fraction of a second per target:
it checks the plumbing (servers, verification, load, summary, JSON), not the figures.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_script

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench():
    yield from load_script(RUN, "bench_run")


def test_endpoint_table(bench):
    names = [e.name for e in bench.ENDPOINTS]
    assert names == ["gravy-balances", "gravitec-push", "gravitec-tag", "groove-flow",
                     "integry-call", "passage-create-link"]
    gravy, push, tag, flow, call, link = bench.ENDPOINTS
    assert (gravy.method, gravy.target_url) == ("GET", f"{bench.PATH}?{bench.QUERY}")
    assert "type=points" in gravy.query and "sortBy=createdAt" in gravy.query  # filter + sort
    assert gravy.target == bench.TARGET_RATIO == 0.8
    assert (push.target, call.target, flow.target) == (0.5, 0.5, 0.2)
    assert tag.target is None  # reported, not gated
    assert push.body == (REPO / "fixtures/gravitec/documented/push.request.json").read_bytes()
    assert json.loads(push.body) == {"payload": {"message": " Test massage",
                                                 "title": "Test message",
                                                 "redirect_url": "https://gravitec.net"}}
    assert tag.target_url == "/gravitec/api/v3/tag?regId=someregid&name=tagname"
    basic = "Basic " + base64.b64encode(b"1e26f7bb3f81e1ab789d3e20b9cf6325:"
                                        b"9bb59fcbff38b85647c421c65cca06ce").decode()
    assert dict(push.headers)["Authorization"] == dict(tag.headers)["Authorization"] == basic
    assert bench.needed_secrets(list(bench.ENDPOINTS)) == ["gravy_token", "groove_token"]
    assert bench.resolve_headers(gravy, {"gravy_token": "t"}) == [("Authorization", "Bearer t")]
    # Groove: a GraphQL query with a bearer token from the OAuth code flow; the rate limit is
    # lifted first, and the rate-limit headers (not the body) vary per answer.
    assert (flow.method, flow.target_url) == ("POST", "/groove/api/public/v1/graphql")
    assert flow.varies == ()
    assert json.loads(flow.body) == {
        "query": "query($id: ID!) { flow(id: $id) { id name steps(first: 10) { edges { cursor "
                 "node { id name dayNumber } } pageInfo { hasNextPage endCursor } } } }",
        "variables": {"id": "1001"}}
    assert bench.resolve_headers(flow, {"groove_token": "g"}) == [
        ("Authorization", "Bearer g"), ("Content-Type", "application/json")]
    assert set(flow.varies_headers) == {"x-ratelimit-remaining", "x-ratelimit-reset"}
    assert [(m, p, json.loads(b)) for m, p, b in flow.setup] == [
        ("POST", "/__admin/groove/rate-limit", {"limit": 1_000_000})]
    assert gravy.setup == push.setup == tag.setup == call.setup == ()
    # Integry: the documented Slack call, signed with the default tenant's sandbox credentials;
    # only X-Session-ID varies (the body's `ts` is the frozen clock's).
    assert (call.method, call.target_url) == (
        "POST", "/integry/functions/slack-post-message/call/")
    assert call.varies == () and call.varies_headers == ("x-session-id",)
    assert json.loads(call.body) == {"channel": "random",
                                     "text": "{first_name} {last_name} just signed up!",
                                     "_variables": {"first_name": "John", "last_name": "Doe"}}
    signed = hmac.new(b"integry-sandbox-secret", b"123456", hashlib.sha256).hexdigest()
    assert bench.resolve_headers(call, {}) == [
        ("App-Key", "002d4f23-778a-11e7-bf2a-42010a8002c7"), ("User-ID", "123456"),
        ("Hash", signed), ("Content-Type", "application/json")]
    assert bench.needed_secrets([call]) == []  # the hash is computed, nothing is fetched
    # Passage: the current quickstart's create, with the default tenant's sandbox key; it
    # answers 201, and each answer has a new link id and claim code (and so app clip URL).
    assert (link.method, link.target_url) == ("POST", "/passage/v1/links")
    assert json.loads(link.body) == {
        "integrationId": "tmobile",
        "operations": [{"resource": "mobileBillingStatement", "action": "read"}],
        "webhookUrl": "https://your-server.com/webhook"}
    assert bench.resolve_headers(link, {}) == [("Authorization", "Bearer psg_sandbox_key"),
                                               ("Content-Type", "application/json")]
    assert bench.needed_secrets([link]) == [] and link.setup == ()
    assert (link.status, link.target) == (201, 0.9)
    assert set(link.varies) == {"linkId", "claimCode", "appClipUrl"}
    assert link.varies_headers == ()
    assert {e.status for e in bench.ENDPOINTS if e is not link} == {200}


def test_secrets_and_setup_against_the_app(bench, client):
    """The Groove token comes from the code flow; after the setup the limit is lifted."""
    flow = bench.ENDPOINTS_BY_NAME["groove-flow"]
    token = bench.SECRETS["groove_token"](client, "")
    bench.run_setup(client, "", flow)
    headers = dict(bench.resolve_headers(flow, {"groove_token": token}))
    r = client.post(flow.path, content=flow.body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["flow"]["id"] == "1001"
    assert r.headers["x-ratelimit-limit"] == "1000000"
    assert r.headers["x-ratelimit-remaining"] == "999999"


def test_integry_call_against_the_app(bench, client):
    """The table's Integry call answers 200 with the substituted text; two answers differ only
    in X-Session-ID, so the check before the load passes (and still checks the body)."""
    import httpx
    call = bench.ENDPOINTS_BY_NAME["integry-call"]
    headers = dict(bench.resolve_headers(call, {}))
    first, second = (client.post(call.target_url, content=call.body, headers=headers)
                     for _ in range(2))
    assert first.status_code == second.status_code == 200, first.text
    out = first.json()
    assert out["network_code"] == "200"
    assert out["output"]["message"]["text"] == "John Doe just signed up!"
    assert out["output"]["ts"] == "1705314600.000000"  # the clock, 2024-01-15T10:30:00Z
    assert first.content == second.content
    assert first.headers["x-session-id"] != second.headers["x-session-id"]
    assert bench.answers_differ(call, first, second) is None
    changed = first.content.replace(b"John Doe", b"Jane Doe")
    assert bench.answers_differ(
        call, first, httpx.Response(200, headers=first.headers, content=changed)) is not None
    no_session = {k: v for k, v in first.headers.items() if k.lower() != "x-session-id"}
    assert bench.answers_differ(
        call, first, httpx.Response(200, headers=no_session, content=first.content)) is not None


def test_passage_create_against_the_app(bench, client):
    """The table's create answers 201 with the documented keys; two answers differ only in the
    link's id, claim code and app clip URL, so the check before the load passes, and it still
    wants the 201 and the rest of the body."""
    import httpx
    link = bench.ENDPOINTS_BY_NAME["passage-create-link"]
    headers = dict(bench.resolve_headers(link, {}))
    first, second = (client.post(link.target_url, content=link.body, headers=headers)
                     for _ in range(2))
    assert first.status_code == second.status_code == 201, first.text
    out = first.json()
    assert out["status"] == "pending" and out["integrationId"] == "tmobile"
    assert out["operations"] == [{"resource": "mobileBillingStatement", "action": "read"}]
    assert out["appClipUrl"] == f"https://clip.getpassage.ai?code={out['claimCode']}"
    assert out["linkId"] != second.json()["linkId"]
    assert len(first.content) == len(second.content)  # uuids: the same length every time
    assert bench.answers_differ(link, first, second) is None
    changed = first.content.replace(b'"tmobile"', b'"tmobilX"')
    assert bench.answers_differ(
        link, first, httpx.Response(201, headers=first.headers, content=changed)) is not None
    as_200 = httpx.Response(200, headers=first.headers, content=first.content)
    assert "not 201" in bench.answers_differ(link, first, as_200)
    # the other rows still want their 200
    call = bench.ENDPOINTS_BY_NAME["integry-call"]
    assert "not 200" in bench.answers_differ(call, first, first)


@pytest.mark.parametrize("name,checks_key,mints", [
    ("passage-body-only", False, False), ("passage-key-body", True, False),
    ("passage-ids", True, False), ("passage-no-link", True, True)])
def test_a_create_with_parts_taken_out_answers_as_the_create(bench, app, client, name,
                                                             checks_key, mints):
    """bench/parts.py (`--mock-part`): the reduced create answers the real create's first
    answer, then the same status and shape (the check before the load holds), doing only the
    steps its name says and keeping no link after the first."""
    bench.load_parts().apply(app, name)
    link = bench.ENDPOINTS_BY_NAME["passage-create-link"]
    headers = dict(bench.resolve_headers(link, {}))
    first, second = (client.post(link.target_url, content=link.body, headers=headers)
                     for _ in range(2))
    assert first.status_code == second.status_code == 201, first.text
    assert bench.answers_differ(link, first, second) is None
    assert (first.json()["linkId"] != second.json()["linkId"]) is mints
    listed = client.get("/passage/v1/links", headers=headers).json()["links"]
    assert [ln["id"] for ln in listed] == [first.json()["linkId"]]
    wrong = client.post(link.target_url, content=link.body,
                        headers={**headers, "Authorization": "Bearer psg_wrong"})
    assert wrong.status_code == (401 if checks_key else 201)


def test_journal_off_part(bench, app, client):
    bench.load_parts().apply(app, "journal-off")
    client.get("/passage/v1/providers", headers={"Authorization": "Bearer psg_sandbox_key"})
    assert len(app.journal) == 0


def test_python_driver_counts_the_expected_status(bench):
    """A 201 is a success for the create (and a failure for a 200 row): the driver counts
    answers that are not the endpoint's status as `non200`."""
    import asyncio

    async def serve(status: bytes):
        async def answer(reader, writer):
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await reader.readexactly(n)
                    writer.write(b"HTTP/1.1 " + status + b" X\r\ncontent-length: 2\r\n\r\n{}")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
        return await asyncio.start_server(answer, bench.HOST, 0)

    async def drive(answered: bytes, expected: int):
        server = await serve(answered)
        port = server.sockets[0].getsockname()[1]
        try:
            return await bench._drive(port, "/x", [], 0.2, 1, "POST", b"{}", expected)
        finally:
            server.close()

    ok = asyncio.run(drive(b"201", 201))
    assert ok["requests"] > 0 and ok["non200"] == 0 and ok["errors"] == 0, ok
    bad = asyncio.run(drive(b"201", 200))
    assert bad["requests"] > 0 and bad["non200"] == bad["requests"], bad


def test_answers_differ_tolerates_varying_headers_only(bench):
    import httpx
    flow = bench.ENDPOINTS_BY_NAME["groove-flow"]

    def resp(body=b'{"data":1}', **headers):
        base = {"content-type": "application/json", "x-ratelimit-limit": "1000000",
                "x-ratelimit-remaining": "999999", "x-ratelimit-reset": "1705314600"}
        return httpx.Response(200, headers={**base, **headers}, content=body)

    assert bench.answers_differ(flow, resp(), resp(**{"x-ratelimit-remaining": "999998",
                                                      "x-ratelimit-reset": "1705314601"})) is None
    assert bench.answers_differ(flow, resp(), resp(**{"x-ratelimit-limit": "100"})) is not None
    assert bench.answers_differ(flow, resp(), resp(body=b'{"data":2}')) is not None
    no_meter = httpx.Response(200, headers={"content-type": "application/json"},
                              content=b'{"data":1}')
    assert bench.answers_differ(flow, resp(), no_meter) is not None  # the header must be there
    gravy = bench.ENDPOINTS_BY_NAME["gravy-balances"]
    assert bench.answers_differ(gravy, resp(), resp(**{"x-ratelimit-remaining": "1"})) \
        is not None


def test_target_met_needs_the_ratio_and_the_p99(bench):
    gravy, tag = bench.ENDPOINTS_BY_NAME["gravy-balances"], bench.ENDPOINTS_BY_NAME["gravitec-tag"]
    assert bench.target_met(gravy, 0.8, 5.0)
    assert not bench.target_met(gravy, 0.79, 1.0)
    assert not bench.target_met(gravy, 0.9, 5.01)
    assert not bench.target_met(gravy, 0.9, None)  # no latency measured: not met
    assert bench.target_met(tag, 0.01, 1.0)  # no ratio target, but still the p99 bound
    assert not bench.target_met(tag, 1.0, 6.0)
    assert bench._verdict(gravy, 0.9, 9.0).startswith("NO")


def test_gravy_endpoint_serves_a_full_filtered_sorted_page(bench, client):
    gravy = bench.ENDPOINTS_BY_NAME["gravy-balances"]
    token = bench.SECRETS["gravy_token"](client, "")
    r = client.get(gravy.target_url,
                   headers=dict(bench.resolve_headers(gravy, {"gravy_token": token})))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["itemCount"] == 20 and body["meta"]["total"] < 150
    assert {i["type"] for i in body["data"]} == {"points"}
    created = [i["createdAt"] for i in body["data"]]
    assert created == sorted(created, reverse=True)


def test_lua_string_keeps_every_byte(bench):
    assert bench.lua_string(b'a "b"\\\n\x00\xff') == '"a \\034b\\034\\092\\010\\000\\255"'
    assert bench.lua_string(b"") == '""'


def test_wrk_script_and_python_request(bench, tmp_path):
    gravy, push, tag, flow, call, link = bench.ENDPOINTS
    assert bench.wrk_script(gravy) is None  # a plain GET: wrk's command line says it all
    assert 'wrk.method = "POST"' in bench.wrk_script(push)
    assert 'wrk.body = ""' in bench.wrk_script(tag)  # so wrk sends Content-Length: 0
    assert bench.lua_string(flow.body) in bench.wrk_script(flow)
    assert 'wrk.body = "{\\034channel\\034: ' in bench.wrk_script(call)  # braces stay as is
    assert bench.lua_string(link.body) in bench.wrk_script(link)
    load = bench.Load.prepare(push, {}, tmp_path)
    assert load.body_file.read_bytes() == push.body and load.script.exists()
    raw = bench.http_request("POST", push.target_url, "h:1", load.header_lines, push.body)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert body == push.body
    assert f"Content-Length: {len(push.body)}".encode() in head.split(b"\r\n")
    assert b"Content-Type: application/json" in head.split(b"\r\n")
    raw = bench.http_request("POST", tag.target_url, "h:1", [], b"")
    assert raw.endswith(b"Content-Length: 0\r\n\r\n")
    assert bench.http_request("GET", "/x", "h:1", [], None) == \
        b"GET /x HTTP/1.1\r\nHost: h:1\r\n\r\n"


def test_unknown_endpoint_is_refused():
    proc = subprocess.run([sys.executable, str(RUN), "--endpoints", "gravy-balances,nope"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2 and "unknown: nope" in proc.stderr


@pytest.mark.slow  # the script end to end: make test-slow
def test_short_run_every_endpoint(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN), "--driver", "python", "--seconds", "0.3",
                           "--rounds", "1", "--warmup", "0", "--reset-runs", "3",
                           "--json", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ABORT" not in proc.stdout
    for name in ("gravy-balances", "gravitec-push", "gravitec-tag", "groove-flow",
                 "integry-call"):
        assert f"{name} identical: status 200" in proc.stdout
    assert "passage-create-link identical: status 201" in proc.stdout
    summary = proc.stdout.split("== summary", 1)[1]
    runs = json.loads(out.read_text())["runs"]["python"]
    assert list(runs) == ["gravy-balances", "gravitec-push", "gravitec-tag", "groove-flow",
                          "integry-call", "passage-create-link"]
    for name, run in runs.items():
        assert name in summary
        for kind in ("mock", "bare"):
            (res,) = run["rounds"][kind]
            assert res["requests"] > 0 and res["errors"] == 0 and res["non200"] == 0, (name, res)
