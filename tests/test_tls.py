"""`serve --tls`: the vendors' real hostnames over HTTPS, trusted through /__admin/ca.pem."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpcore
import httpx
import pytest
import trustme
from cryptography import x509

from mockserver import create_app
from mockserver.app import default_vendors
from mockserver.tls import LOCAL_NAMES, hostnames, issue, load_ca

from .test_cli import _as_a_terminal_would, _child_env, _first_line, _stop

HTTPS_BANNER = re.compile(r"mockserver listening on https://127\.0\.0\.1:(\d+)")
GRAVITEC_AUTH = "Basic " + base64.b64encode(
    b"1e26f7bb3f81e1ab789d3e20b9cf6325:9bb59fcbff38b85647c421c65cca06ce").decode()
INTEGRY_QUERY = ("app_key=002d4f23-778a-11e7-bf2a-42010a8002c7&user_id=123456&hash="
                 + hmac.new(b"integry-sandbox-secret", b"123456", hashlib.sha256).hexdigest())
VENDOR_HOSTS = {h for v in default_vendors() for h in v.hosts}


# --- no server -------------------------------------------------------------------


def test_the_certificate_names_every_vendor_host_and_the_local_names():
    names = hostnames(default_vendors())
    assert set(names) == VENDOR_HOSTS | set(LOCAL_NAMES) and len(names) == len(set(names))
    # README.md's vendor hosts, spelled out: a vendor dropping one must fail here.
    assert {"api.getpassage.ai", "api.runpassage.ai", "prod-gravy-connect-api.onrender.com",
            "uapi.gravitec.net", "app.grooveapp.com", "auth.grooveapp.com",
            "api.integry.io", "connect.getpassage.ai", "connect.dev.getpassage.ai",
            "connect.services.getpassage.ai"} <= set(names)
    leaf = issue(trustme.CA(), names)
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    covered = set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert covered == set(names)


def test_ca_pem_is_404_without_tls_and_the_pem_with_it(client):
    r = client.get("/__admin/ca.pem")
    assert r.status_code == 404 and "--tls" in r.json()["error"]
    pem = trustme.CA().cert_pem.bytes()
    from .conftest import MockClient

    tls = MockClient(create_app(ca_pem=pem))
    r = tls.get("/__admin/ca.pem")
    assert r.status_code == 200 and r.content == pem
    assert r.headers["content-type"] == "application/x-pem-file"


def test_tls_dir_keeps_the_ca_across_starts(tmp_path):
    folder = tmp_path / "ca"
    first = load_ca(folder)
    assert (folder / "ca-key.pem").stat().st_mode & 0o077 == 0  # the key is private
    again = load_ca(folder)
    assert again.cert_pem.bytes() == first.cert_pem.bytes() == (folder / "ca.pem").read_bytes()
    assert again.private_key_pem.bytes() == first.private_key_pem.bytes()
    assert load_ca(None).cert_pem.bytes() != first.cert_pem.bytes()  # no dir: fresh each time


def _encrypted_key() -> bytes:
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw"))


def _ed25519_key() -> bytes:  # loads as a CA key, but cannot sign with a hash
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())


@pytest.mark.parametrize("kind", ["garbage", "encrypted key", "ed25519 key"])
def test_an_unusable_tls_dir_fails_cleanly(tmp_path, kind):
    folder = tmp_path / "ca"
    folder.mkdir()
    if kind == "garbage":
        (folder / "ca.pem").write_text("not a certificate")
        (folder / "ca-key.pem").write_text("not a key")
    else:
        (folder / "ca.pem").write_bytes(trustme.CA().cert_pem.bytes())
        (folder / "ca-key.pem").write_bytes(
            _encrypted_key() if kind == "encrypted key" else _ed25519_key())
    proc = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--tls", "--tls-dir", str(folder)],
        cwd=tmp_path, env=_child_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert proc.returncode == 1 and "listening" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mockserver: cannot set up TLS in {folder}")


# --- a real process, called by the vendors' real hostnames -------------------------


class ToLoopback(httpcore.SyncBackend):
    """Every hostname resolves to 127.0.0.1, as a network alias would; TLS still sees the name."""

    def connect_tcp(self, host, port, *args, **kwargs):
        return super().connect_tcp("127.0.0.1", port, *args, **kwargs)


def by_name(ca_pem: str | None, method: str, url: str, **kw) -> httpcore.Response:
    ctx = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    with httpcore.ConnectionPool(ssl_context=ctx, network_backend=ToLoopback()) as pool:
        return pool.request(method, url, **kw)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    (tmp / "tmpdir").mkdir()
    stderr = (tmp / "stderr.txt").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--tls-dir", str(tmp / "ca")],
        cwd=tmp, env=_child_env(MOCKSERVER_TLS="1", TMPDIR=str(tmp / "tmpdir")), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=stderr, text=True, preexec_fn=_as_a_terminal_would,
    )  # fmt: skip
    try:
        line = _first_line(proc, timeout=10).rstrip("\n")
        match = HTTPS_BANNER.fullmatch(line)
        assert match, line
        # The server key went to uvicorn through a temporary file, gone once it was read.
        assert list((tmp / "tmpdir").iterdir()) == []
        yield int(match.group(1)), tmp / "ca"
    finally:
        _stop(proc)
        stderr.seek(0)
        err = stderr.read()
        stderr.close()
        assert "Traceback" not in err, err


def test_https_by_real_hostname_with_only_the_served_ca_trusted(tls_server):
    port, folder = tls_server
    # The first fetch cannot verify yet (as an app container's first call): trust on first use.
    ca = httpx.get(f"https://127.0.0.1:{port}/__admin/ca.pem", verify=False, timeout=5)
    assert ca.status_code == 200 and ca.headers["content-type"] == "application/x-pem-file"
    pem = ca.text
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE" not in pem
    assert pem == (folder / "ca.pem").read_text()  # --tls-dir holds the very same CA

    r = by_name(pem, "GET", f"https://uapi.gravitec.net:{port}/api/v3/alias?regId=someregid",
                headers={"Authorization": GRAVITEC_AUTH})
    assert r.status == 200 and b'"regIdExists"' in r.content
    r = by_name(pem, "POST", f"https://api.integry.io:{port}/apps/list?{INTEGRY_QUERY}")
    assert r.status == 200 and b'"apps"' in r.content
    r = by_name(pem, "GET", f"https://localhost:{port}/__admin/health")
    assert r.status == 200
    # The verified calls went to the vendors by Host, with no path prefix.
    with httpx.Client(verify=ssl.create_default_context(cadata=pem), timeout=5) as http:
        journal = http.get(f"https://127.0.0.1:{port}/__admin/requests").json()["requests"]
    assert [(e["vendor"], e["path"], e["status"]) for e in journal[:2]] == [
        ("integry", "/apps/list", 200), ("gravitec", "/api/v3/alias", 200)]


def test_a_hostname_the_certificate_does_not_name_is_refused(tls_server):
    port, folder = tls_server
    pem = (folder / "ca.pem").read_text()
    with pytest.raises(httpcore.ConnectError, match="(?i)hostname|match"):
        by_name(pem, "GET", f"https://api.example.com:{port}/__admin/health")
    # And without the CA, no client trusts the mock at all.
    with pytest.raises(httpcore.ConnectError, match="(?i)certificate"):
        by_name(None, "GET", f"https://api.integry.io:{port}/__admin/health")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_resolve_by_real_hostname(tls_server, tmp_path):
    port, folder = tls_server
    base = ["curl", "-sS", "--cacert", str(folder / "ca.pem"), "--max-time", "5"]
    ok = subprocess.run(
        [*base, "--resolve", f"uapi.gravitec.net:{port}:127.0.0.1", "-u",
         "1e26f7bb3f81e1ab789d3e20b9cf6325:9bb59fcbff38b85647c421c65cca06ce",
         f"https://uapi.gravitec.net:{port}/api/v3/alias?regId=someregid"],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    assert ok.returncode == 0 and '"regIdExists"' in ok.stdout, ok.stderr
    refused = subprocess.run(
        [*base, "--resolve", f"api.example.com:{port}:127.0.0.1",
         f"https://api.example.com:{port}/__admin/health"],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip
    assert refused.returncode == 60, refused  # curl: peer certificate cannot be authenticated


def test_plain_http_serve_has_no_ca(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0"],
        cwd=tmp_path, env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, preexec_fn=_as_a_terminal_would,
    )  # fmt: skip
    try:
        line = _first_line(proc, timeout=10).rstrip("\n")
        port = line.rsplit(":", 1)[1]
        assert line.startswith("mockserver listening on http://")
        r = httpx.get(f"http://127.0.0.1:{port}/__admin/ca.pem", timeout=5)
        assert r.status_code == 404 and r.json()["error"]
    finally:
        _stop(proc)


# --- docker-compose.example.yml, without Docker -------------------------------------

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.example.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml")  # uvicorn[standard] brings PyYAML
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_aliases_every_vendor_host_and_serves_tls_on_443(compose):
    mock = compose["services"]["mockserver"]
    assert mock["build"] == "."
    assert set(mock["networks"]["default"]["aliases"]) == VENDOR_HOSTS
    cmd = mock["command"]
    assert cmd[:2] == ["mockserver", "serve"] and "--tls" in cmd
    assert cmd[cmd.index("--port") + 1] == "443" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    # The image runs as non-root: binding 443 needs the sysctl, and the image's health check
    # (plain HTTP on 8080) must be replaced by one on the TLS port.
    assert mock["sysctls"]["net.ipv4.ip_unprivileged_port_start"] in ("0", 0)
    assert "https://127.0.0.1:443/__admin/health" in " ".join(mock["healthcheck"]["test"])
    app = compose["services"]["app"]
    assert app["depends_on"]["mockserver"]["condition"] == "service_healthy"
    script = app["command"][0]
    assert "https://mockserver/__admin/ca.pem" in script
    called = set(re.findall(r"https://([a-z0-9.-]+)/", script)) - {"mockserver"}
    assert called and called <= VENDOR_HOSTS


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_compose_app_script_runs_against_a_tls_mock(compose, tls_server, tmp_path):
    """The app's script as written, with every host:443 connected to the mock on loopback (what
    the network aliases do in Docker), so only the names and the CA are put to the test."""
    port, _ = tls_server
    shim = tmp_path / "bin" / "curl"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {shutil.which("curl")} --connect-to "::127.0.0.1:{port}" "$@"\n')
    shim.chmod(0o755)
    script = compose["services"]["app"]["command"][0].replace("/tmp/mock-ca.pem",
                                                              str(tmp_path / "ca.pem"))
    env = {k: v for k, v in os.environ.items() if not k.endswith(("CA_BUNDLE", "CERT_FILE"))}
    run = subprocess.run([*compose["services"]["app"]["entrypoint"], script], capture_output=True,
                         text=True, timeout=30, env={**env, "PATH": f"{shim.parent}:{env['PATH']}"})
    assert run.returncode == 0, run.stderr
    assert '"regIdExists"' in run.stdout and '"access_token"' in run.stdout
    assert '"apps"' in run.stdout
