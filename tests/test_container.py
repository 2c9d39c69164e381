"""The Dockerfile's steps, without Docker.

The build context is exactly what the Dockerfile COPYs; the wheel built from it
goes into a fresh venv, and the Dockerfile's own CMD and HEALTHCHECK commands
run against it. Slow (pip installs every dependency), hence the marker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from .conftest import stop_process

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DATA_DIRS = ("fixtures", "contracts")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    text = (REPO / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def exec_form(args: str) -> list[str]:
    cmd = json.loads(args)
    assert isinstance(cmd, list) and all(isinstance(a, str) for a in cmd), args
    return cmd


def dockerfile_cmd() -> list[str]:
    (cmd,) = [rest for word, rest in dockerfile_instructions() if word == "CMD"]
    return exec_form(cmd)


def dockerfile_healthcheck() -> list[str]:
    (hc,) = [rest for word, rest in dockerfile_instructions() if word == "HEALTHCHECK"]
    tokens = hc.split(" ")
    while tokens[0].startswith("--") or not tokens[0]:
        tokens.pop(0)
    assert tokens[0] == "CMD", hc
    return exec_form(" ".join(tokens[1:]))


def copy_sources() -> list[str]:
    sources = []
    for word, rest in dockerfile_instructions():
        if word == "COPY":
            parts = shlex.split(rest)
            assert not any(p.startswith("--from") for p in parts), "multi-stage: update this test"
            sources += parts[:-1]
    return sources


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> dict[str, Path]:
    """The 'image': a wheel built from the COPYed context, installed in a fresh venv."""
    tmp = tmp_path_factory.mktemp("image")
    context = tmp / "src"
    context.mkdir()
    for src in copy_sources():
        path = REPO / src
        assert path.exists(), f"Dockerfile COPYs {src}, which is missing"
        if path.is_dir():
            shutil.copytree(path, context / src, ignore=IGNORED)
        else:
            shutil.copy2(path, context / src)

    # Isolated build, as `pip install .` does in the image: hatchling is fetched.
    dist = tmp / "dist"
    run([sys.executable, "-m", "build", "--wheel", "--quiet", "--outdir", str(dist), str(context)], timeout=300)
    (wheel,) = dist.glob("mockserver-*.whl")

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
           "--python", str(venv / "bin" / "python")]
    # The wheel alone: its dependencies come from this run's own environment through a .pth
    # (appended after the venv's own packages, so the wheel's mockserver is the one imported),
    # which spares installing them again (most of this fixture's time); `pip check` still
    # proves that the wheel's declared requirements are all met.
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([*pip, "install", "--no-deps", str(wheel)], timeout=600)
    run([*pip, "check"], timeout=120)
    return {"wheel": wheel, "venv": venv, "workdir": tmp}


def test_dockerfile_copies_only_what_exists_and_runs_exec_form():
    assert set(copy_sources()) >= {"pyproject.toml", "mockserver", *DATA_DIRS}
    cmd = dockerfile_cmd()
    assert cmd == ["mockserver", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert any(w == "USER" and r not in ("root", "0") for w, r in dockerfile_instructions())
    assert ("EXPOSE", "8080") in dockerfile_instructions()
    # The published base is the official image; scripts/container swaps it by this argument only.
    assert dockerfile_instructions()[:2] == [("ARG", "BASE=python:3.11-slim"), ("FROM", "${BASE}")]


def test_wheel_ships_fixtures_and_contracts(image):
    names = set(zipfile.ZipFile(image["wheel"]).namelist())
    for data in DATA_DIRS:
        expected = {
            f"mockserver/{data}/{p.relative_to(REPO / data).as_posix()}"
            for p in (REPO / data).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert expected, f"{data}/ is empty in the repo"
        assert expected <= names, f"missing from the wheel: {sorted(expected - names)[:5]}"
    # Files inside the package that are not Python ship too: the sandbox page's.
    static = {f"mockserver/admin/static/{p.name}" for p in (REPO / "mockserver/admin/static").iterdir()}
    assert static and static <= names, f"missing from the wheel: {sorted(static - names)}"

    # Installed, the data sits beside the package, where the app looks first.
    probe = "import mockserver, pathlib; p = pathlib.Path(mockserver.__file__).parent; print(p.parent)"
    python = image["venv"] / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    site = Path(run([str(python), "-c", probe], cwd=image["workdir"], env=env).stdout.strip())
    assert site.name == "site-packages"
    for data in DATA_DIRS:
        assert (site / "mockserver" / data).is_dir()


def test_cmd_serves_and_healthcheck_passes(image):
    port = free_port()
    bin_dir = image["venv"] / "bin"

    cmd = dockerfile_cmd()
    cmd[cmd.index("--port") + 1] = str(port)
    cmd[0] = str(bin_dir / cmd[0])

    health = [a.replace(":8080/", f":{port}/") for a in dockerfile_healthcheck()]
    assert health != dockerfile_healthcheck(), "HEALTHCHECK no longer targets :8080/"
    health[0] = str(bin_dir / health[0])

    # As in the image: the venv's bin first on PATH, no access to the work tree.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSERVER_", "PYTHON"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.pop("VIRTUAL_ENV", None)
    workdir = image["workdir"]
    # The image keeps the sandbox in its /data volume: here a directory stands in for it.
    (data_env,) = [rest for word, rest in dockerfile_instructions() if word == "ENV"
                   and rest.startswith("MOCKSERVER_DATA_DIR=")]
    volume = data_env.split("=", 1)[1]
    assert ("VOLUME", volume) in dockerfile_instructions()
    env["MOCKSERVER_DATA_DIR"] = str(workdir / "data")

    stderr = (workdir / "serve.stderr").open("w+")
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            check = subprocess.run(health, cwd=workdir, env=env, capture_output=True, timeout=10)
            if check.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                stderr.seek(0)
                pytest.fail(f"healthcheck never passed (server exit {proc.poll()}):\n{stderr.read()}")
            time.sleep(0.2)

        resp = httpx.get(f"http://127.0.0.1:{port}/__admin/health", timeout=5)
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok", "dataDir": str(workdir / "data")}
    finally:
        stop_process(proc)
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr.close()
    assert first == f"mockserver listening on http://0.0.0.0:{port}\n"
