"""The container image, built and run by a real Docker engine (`make test-container`).

scripts/container starts a private Docker daemon, builds the Dockerfile on a Debian bookworm
stand-in for its base and runs this module against that daemon; it is not under tests/, so
`make test` never collects it. Run alone, without that daemon, it skips (fails under CI).

The containers run as a user would run them: the image's own CMD, HEALTHCHECK and user.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKER = os.environ.get("MOCKSERVER_CONTAINER_DOCKER", "")
COMPOSE = os.environ.get("MOCKSERVER_CONTAINER_COMPOSE", "")
IMAGE = os.environ.get("MOCKSERVER_CONTAINER_IMAGE", "")
CLIENT = os.environ.get("MOCKSERVER_CONTAINER_CLIENT", "")
BRIDGES = os.environ.get("MOCKSERVER_CONTAINER_BRIDGES", "").split()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(why: str) -> None:
    if in_ci():
        pytest.fail(why)  # CI must run it
    pytest.skip(why)


if not (DOCKER and IMAGE and CLIENT and len(BRIDGES) >= 2):
    _why = "needs the Docker daemon and images scripts/container makes: run `make test-container`"
    if in_ci():
        raise RuntimeError(_why)
    pytest.skip(_why, allow_module_level=True)

NETWORK = "mockserver-ci"
MOCK = "mockserver-ci-mock"
TLS_MOCK = "mockserver-ci-tls"
COMPOSE_PROJECT = "mockserverci"

# README's sandbox credentials (the default tenant).
GRAVY = {"client_id": "gravy-sandbox-client", "client_secret": "gravy-sandbox-secret"}
GRAVITEC = ("1e26f7bb3f81e1ab789d3e20b9cf6325", "9bb59fcbff38b85647c421c65cca06ce")
GROOVE = {"client_id": "groove-sandbox-client", "client_secret": "groove-sandbox-secret",
          "redirect_uri": "http://localhost:3000/oauth/callback"}
INTEGRY_KEY = "002d4f23-778a-11e7-bf2a-42010a8002c7"
INTEGRY_USER = "123456"
INTEGRY_HASH = hmac.new(b"integry-sandbox-secret", INTEGRY_USER.encode(), hashlib.sha256).hexdigest()


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    if check:
        assert proc.returncode == 0, (
            f"docker {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def logs(name: str) -> str:
    proc = docker("logs", "--tail", "50", name, check=False)
    return proc.stdout + proc.stderr


def remove(name: str) -> None:
    docker("rm", "-f", "-v", name, check=False)


def wait_healthy(name: str, within: float = 180) -> dict:
    """The container's state once its HEALTHCHECK says healthy (a generous wait, not a promise)."""
    deadline = time.monotonic() + within
    while True:
        state = inspect(name)["State"]
        health = state.get("Health") or {}
        if health.get("Status") == "healthy":
            return state
        if state["Status"] != "running" or health.get("Status") == "unhealthy":
            pytest.fail(f"{name} is {state['Status']}, health {json.dumps(health)}:\n{logs(name)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{name} not healthy after {within} s: {json.dumps(health)}\n{logs(name)}")
        time.sleep(0.5)


def published(name: str) -> str:
    """The URL of the container's 8080 on the host (`-p 127.0.0.1::8080`: a port Docker picks)."""
    lines = docker("port", name, "8080/tcp").stdout.split()
    (address,) = [line for line in lines if line.startswith("127.0.0.1:")]
    return f"http://{address}"


def wait_answering(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"{url}/__admin/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer within {within} s:\n{logs(MOCK)}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def network() -> Iterator[str]:
    docker("network", "rm", NETWORK, check=False)
    # A named bridge: after a killed daemon, scripts/container knows what to remove.
    docker("network", "create", "-o", f"com.docker.network.bridge.name={BRIDGES[0]}", NETWORK)
    yield NETWORK
    docker("network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def mock(network: str) -> Iterator[str]:
    """The image run as it is published: its CMD, its user, its HEALTHCHECK, its /data volume."""
    remove(MOCK)
    docker("run", "-d", "--name", MOCK, "--network", network, "-p", "127.0.0.1::8080", IMAGE)
    try:
        wait_healthy(MOCK)
        yield MOCK
    finally:
        remove(MOCK)


def test_the_image_s_healthcheck_says_healthy(mock):
    info = inspect(mock)
    assert info["State"]["Health"]["Status"] == "healthy"
    probes = info["State"]["Health"]["Log"]
    assert probes and all(p["ExitCode"] == 0 for p in probes), probes
    # The Dockerfile's own check and command, not an override.
    check = info["Config"]["Healthcheck"]["Test"]
    assert check[:2] == ["CMD", "python"] and "http://127.0.0.1:8080/__admin/health" in check[-1]
    assert info["Config"]["Cmd"] == ["mockserver", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert "MOCKSERVER_DATA_DIR=/data" in info["Config"]["Env"]


def test_one_call_per_vendor_through_the_published_port(mock):
    with httpx.Client(base_url=published(mock), timeout=10) as http:
        # Gravy Connect: a token, then the documented balances page.
        r = http.post("/gravy/oauth/token", json={"grant_type": "client_credentials", **GRAVY})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        r = http.get("/gravy/connections/conn_789xyz123abc/balances", params={"page": 1, "limit": 20},
                     headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["data"], list)

        # Gravitec: a follower's alias, HTTP Basic.
        r = http.get("/gravitec/api/v3/alias", params={"regId": "someregid"}, auth=GRAVITEC)
        assert r.status_code == 200, r.text
        assert r.json()["regIdExists"] == "true"

        # Groove: the OAuth code flow (the sandbox user approves at once), then GraphQL.
        r = http.get("/groove/oauth/authorize", params={
            "client_id": GROOVE["client_id"], "redirect_uri": GROOVE["redirect_uri"],
            "scope": "first-scope", "state": "xyz"})
        assert r.status_code in (302, 303), r.text
        location = urllib.parse.urlsplit(r.headers["location"])
        code = urllib.parse.parse_qs(location.query)["code"][0]
        r = http.post("/groove/oauth/token",
                      json={"grant_type": "authorization_code", "code": code, **GROOVE})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        r = http.post("/groove/api/public/v1/graphql", headers={"Authorization": f"Bearer {token}"},
                      json={"query": '{ flow(id: "1001") { name } }'})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["flow"]["name"]
        assert "X-RateLimit-Remaining" in r.headers

        # Integry: a signed call of the documented function.
        r = http.post("/integry/functions/slack-post-message/call/",
                      headers={"App-Key": INTEGRY_KEY, "User-ID": INTEGRY_USER, "Hash": INTEGRY_HASH},
                      json={"channel": "random", "text": "{first_name} just signed up!",
                            "_variables": {"first_name": "John"}})
        assert r.status_code == 200, r.text
        assert r.json()["output"]["message"]["text"] == "John just signed up!", r.text


def test_the_server_does_not_run_as_root(mock):
    assert docker("exec", mock, "id", "-u").stdout.strip() == "10001"
    # The server itself (PID 1: no init in the image), not only what `docker exec` starts.
    status = docker("exec", mock, "cat", "/proc/1/status").stdout
    (uids,) = [line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")]
    assert uids == ["10001"] * 4, status
    assert "mockserver" in docker("exec", mock, "cat", "/proc/1/cmdline").stdout


# As docker-compose.example.yml's check: the TLS port, liveness only.
TLS_HEALTH = ("python -c \"import ssl, urllib.request as u; u.urlopen('https://127.0.0.1:443/__admin/health',"
              " context=ssl._create_unverified_context(), timeout=2)\"")


def test_a_vendor_s_real_hostname_over_tls(network):
    """A second container calls https://api.integry.io by name and reaches the mock, verified."""
    remove(TLS_MOCK)
    docker(
        "run", "-d", "--name", TLS_MOCK, "--network", network,
        "--network-alias", "api.integry.io", "--network-alias", "uapi.gravitec.net",
        "--sysctl", "net.ipv4.ip_unprivileged_port_start=0",
        "--health-cmd", TLS_HEALTH,
        "--health-interval", "1s", "--health-retries", "120",
        IMAGE, "mockserver", "serve", "--host", "0.0.0.0", "--port", "443", "--tls",
    )
    try:
        wait_healthy(TLS_MOCK)
        script = f"""
            curl -sSk -o /tmp/mock-ca.pem https://{TLS_MOCK}/__admin/ca.pem || exit 2
            curl -sS -o /dev/null https://api.integry.io/apps/list/ -X POST 2>/dev/null
            echo "without the CA: $?"
            curl -sS --fail --cacert /tmp/mock-ca.pem -X POST https://api.integry.io/apps/list/ \\
                -H 'App-Key: {INTEGRY_KEY}' -H 'User-ID: {INTEGRY_USER}' -H 'Hash: {INTEGRY_HASH}'
        """
        proc = docker("run", "--rm", "--network", network, CLIENT, "sh", "-uc", script, check=False,
                      timeout=120)
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{logs(TLS_MOCK)}"
        first, _, body = proc.stdout.partition("\n")
        # 60: curl could not verify the server: the mock's CA is not in the client's store, so
        # the next call's success is the mock's certificate for that host, checked.
        assert first == "without the CA: 60", proc.stdout
        apps = json.loads(body)["apps"]
        assert apps and all("name" in app for app in apps)
    finally:
        remove(TLS_MOCK)


def test_the_compose_example(tmp_path):
    """docker-compose.example.yml as written, but for its images: Docker Hub is out of reach."""
    if not COMPOSE:
        unavailable("no docker-compose (Debian's docker-compose package; .ci/run installs it)")
    override = tmp_path / "local-images.yml"
    override.write_text(
        "services:\n"
        f"  mockserver:\n    image: {IMAGE}\n"
        f"  app:\n    image: {CLIENT}\n"
        "networks:\n  default:\n    driver_opts:\n"
        f"      com.docker.network.bridge.name: {BRIDGES[1]}\n"
    )
    compose = [COMPOSE, "--ansi", "never", "-p", COMPOSE_PROJECT,
               "-f", str(REPO / "docker-compose.example.yml"), "-f", str(override)]

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*compose, *args], capture_output=True, text=True, cwd=REPO,
                              stdin=subprocess.DEVNULL, timeout=timeout)

    run("down", "-v", "--remove-orphans")
    try:
        # The app starts once the mock's healthcheck passes (depends_on: service_healthy).
        proc = run("up", "--no-build", "--abort-on-container-exit", "--exit-code-from", "app")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        # Each of the app's calls, by the vendor's hostname over verified TLS, answered.
        assert '"regIdExists":"true"' in out, out
        assert '"access_token":' in out, out
        assert '{"apps":[' in out, out
    finally:
        down = run("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stdout + down.stderr


def test_stop_is_clean_and_the_data_volume_survives_it(mock):
    """Last: it stops and restarts the module's container."""
    url = published(mock)
    tenant = httpx.post(f"{url}/__admin/tenants", timeout=10).json()
    key = tenant["credentials"]["gravitec"]

    docker("stop", "-t", "10", mock, timeout=60)
    state = inspect(mock)["State"]
    assert state["Status"] == "exited"
    # 0: the server ended on SIGTERM; after the 10 s grace Docker kills it, and that is 137.
    assert state["ExitCode"] == 0, f"{state}\n{logs(mock)}"
    assert not state["OOMKilled"]

    # The /data volume is the container's own, so a restart keeps what was written to it.
    docker("start", mock)
    url = published(mock)  # Docker picks the host port anew
    wait_answering(url)
    alias = httpx.get(f"{url}/gravitec/api/v3/alias", params={"regId": "someregid"},
                      auth=(key["appKey"], key["appSecret"]), timeout=10)
    assert alias.status_code == 200, alias.text
    assert httpx.get(f"{url}/__admin/health", timeout=5).json() == {"status": "ok", "dataDir": "/data"}
    unknown = httpx.get(f"{url}/gravitec/api/v3/alias", params={"regId": "someregid"},
                        auth=("0" * 32, "0" * 32), timeout=10)
    assert unknown.status_code == 403, unknown.text  # Gravitec's answer to an unknown key

    docker("stop", "-t", "10", mock, timeout=60)
    assert inspect(mock)["State"]["ExitCode"] == 0
