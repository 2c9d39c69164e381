"""`serve --state FILE` (MOCKSERVER_STATE): a snapshot loaded at start-up in a real process; a
bad one ends the process with one line before it ever listens."""
from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from mockserver import create_app
from mockserver.cli import parse_args

from .conftest import MockClient
from .test_cli import BANNER, _child_env, _first_line, _stop, _wait_healthy


def test_state_flag_and_environment():
    assert parse_args(["serve"], env={}).state is None
    assert parse_args(["serve"], env={"MOCKSERVER_STATE": "/env.json"}).state == "/env.json"
    assert parse_args(["serve", "--state", "/flag.json"],
                      env={"MOCKSERVER_STATE": "/env.json"}).state == "/flag.json"


def _snapshot() -> bytes:
    """A snapshot with something in it, from an in-process app on the real clock."""
    c = MockClient(create_app(seed=0))
    try:
        assert c.post("/__admin/groove/people", json={"name": "Grace",
                                                      "emailAddress": "g@x.io"}).status_code == 201
        assert c.post("/__admin/gravitec/subscribers",
                      json={"regId": "from-a-file", "tags": ["cli"]}).status_code == 201
        return c.get("/__admin/state").content
    finally:
        c.close()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_loads_the_snapshot_before_it_listens(tmp_path, how):
    snap = _snapshot()
    path = tmp_path / "state.json"
    path.write_bytes(snap)
    argv = ["serve", "--port", "0"] + (["--state", str(path)] if how == "flag" else [])
    env = _child_env(**({"MOCKSERVER_STATE": str(path)} if how == "env" else {}))
    proc = subprocess.Popen([sys.executable, "-m", "mockserver", *argv], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        match = BANNER.fullmatch(_first_line(proc, timeout=10).rstrip("\n"))
        assert match, proc.stderr.read() if proc.poll() is not None else "no banner"
        url = f"http://127.0.0.1:{match.group(1)}"
        _wait_healthy(url + "/__admin/health", deadline=time.monotonic() + 10)
        assert httpx.get(url + "/__admin/state", timeout=5).content == snap
    finally:
        _stop(proc)


@pytest.mark.parametrize("content, says", [
    (None, "cannot read"),
    (b'{"version": 1,', "not valid JSON"),
    (b'{"version": 2, "vendors": {}}', "version"),
    (b'{"version": 1, "vendors": {}}', "schema"),
])
def test_a_bad_state_file_exits_with_one_line_and_never_listens(tmp_path, content, says):
    path = tmp_path / "state.json"
    if content is not None:
        path.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--port", "0",
                           "--state", str(path)], cwd=tmp_path, env=_child_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stdout == ""                      # no banner: it never listened
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mockserver: --state {path}: "), proc.stderr
    assert says in lines[0]
