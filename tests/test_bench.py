"""bench/run.py: its endpoint table, the requests its drivers send, and one short real run.

The short run uses the Python driver (wrk may be missing) for a fraction of a second per target:
it checks the plumbing (servers, verification, load, summary, JSON), not the figures.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_endpoint_table(bench):
    names = [e.name for e in bench.ENDPOINTS]
    assert names == ["gravy-balances", "gravitec-push", "gravitec-tag"]
    gravy, push, tag = bench.ENDPOINTS
    assert (gravy.method, gravy.target_url) == ("GET", f"{bench.PATH}?{bench.QUERY}")
    assert gravy.target == bench.TARGET_RATIO == 0.5
    assert push.target is None and tag.target is None  # reported, not gated
    assert push.body == (REPO / "fixtures/gravitec/documented/push.request.json").read_bytes()
    assert json.loads(push.body) == {"payload": {"message": " Test massage",
                                                 "title": "Test message",
                                                 "redirect_url": "https://gravitec.net"}}
    assert tag.target_url == "/gravitec/api/v3/tag?regId=someregid&name=tagname"
    basic = "Basic " + base64.b64encode(b"1e26f7bb3f81e1ab789d3e20b9cf6325:"
                                        b"9bb59fcbff38b85647c421c65cca06ce").decode()
    assert dict(push.headers)["Authorization"] == dict(tag.headers)["Authorization"] == basic
    assert bench.needed_secrets(list(bench.ENDPOINTS)) == ["gravy_token"]
    assert bench.resolve_headers(gravy, {"gravy_token": "t"}) == [("Authorization", "Bearer t")]


def test_lua_string_keeps_every_byte(bench):
    assert bench.lua_string(b'a "b"\\\n\x00\xff') == '"a \\034b\\034\\092\\010\\000\\255"'
    assert bench.lua_string(b"") == '""'


def test_wrk_script_and_python_request(bench, tmp_path):
    gravy, push, tag = bench.ENDPOINTS
    assert bench.wrk_script(gravy) is None  # a plain GET: wrk's command line says it all
    assert 'wrk.method = "POST"' in bench.wrk_script(push)
    assert 'wrk.body = ""' in bench.wrk_script(tag)  # so wrk sends Content-Length: 0
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


def test_short_run_every_endpoint(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN), "--driver", "python", "--seconds", "0.3",
                           "--rounds", "1", "--warmup", "0", "--reset-runs", "3",
                           "--json", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ABORT" not in proc.stdout
    for name in ("gravy-balances", "gravitec-push", "gravitec-tag"):
        assert f"{name} identical: status 200" in proc.stdout
    summary = proc.stdout.split("== summary", 1)[1]
    runs = json.loads(out.read_text())["runs"]["python"]
    assert list(runs) == ["gravy-balances", "gravitec-push", "gravitec-tag"]
    for name, run in runs.items():
        assert name in summary
        for kind in ("mock", "bare"):
            (res,) = run["rounds"][kind]
            assert res["requests"] > 0 and res["errors"] == 0 and res["non200"] == 0, (name, res)
