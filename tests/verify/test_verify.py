"""`mockserver verify`: the runner, its comparisons, its politeness and its outputs, on Gravy's
probe suite against local upstreams (no real vendor is reachable from here or from CI): an
unmodified mockserver (no drift), drifted ones (each drift once, at its path, nothing else) and
bad ones (one clear line, exit 2)."""
from __future__ import annotations

import json
import socket
import threading
from xml.etree import ElementTree as ET

import pytest
import trustme

from mockserver import create_app
from mockserver.cli import main
from mockserver.verify import env_name, inputs, InputError
from mockserver.verify.run import run

from .upstream import Drifted, json_change, serve

GRAVY = {"clientId": "gravy-sandbox-client", "clientSecret": "gravy-sandbox-secret"}
FLAGS = ["--credential", f"clientId={GRAVY['clientId']}",
         "--credential", f"clientSecret={GRAVY['clientSecret']}", "--rate", "5"]


class Sleeps:
    """The runner's sleep: noted, not slept (politeness is checked by what it asked for)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


def verify(mock, url: str, sleeps: Sleeps | None = None, **options):
    vendor = mock.vendors["gravy"]
    return run(vendor, mock, dict(GRAVY), {"api": f"{url}/gravy"},
               sleep=sleeps or Sleeps(), rate=5, **options)


@pytest.fixture(scope="module")
def upstream():
    with serve(create_app()) as url:
        yield url


def test_an_unmodified_mockserver_shows_no_drift(mock, upstream):
    report = verify(mock, upstream)
    assert report.error is None
    assert report.drifts == [] and report.exit_code == 0
    ran = [o for o in report.outcomes if o.skipped is None]
    skipped = [o.probe.name for o in report.outcomes if o.skipped is not None]
    assert skipped == ["intent token"]            # the one write, without --allow-writes
    assert len(ran) == len(report.outcomes) - 1
    assert {o.real.status for o in ran} >= {200, 400, 401, 404, 413}


def test_other_data_is_no_drift(mock):
    """A real account holds other data: another seed's connections and resources (optional
    keys, fields null only for some) are no drift where the contract admits them."""
    with serve(create_app(seed=7)) as url:
        report = verify(mock, url)
    assert report.findings == []


def test_writes_run_only_when_allowed(mock, upstream):
    report = verify(mock, upstream, allow_writes=True)
    write = next(o for o in report.outcomes if o.probe.name == "intent token")
    assert write.skipped is None and write.real.status == write.mock.status == 201
    assert report.exit_code == 0


def _gravy(status_path, edit, method="GET", status=200):
    def when(m, path, s):
        return m == method and path == status_path and (status is None or s == status)
    return json_change(when, edit)


def _rename(doc):
    for row in doc["data"]:
        row["state"] = row.pop("status")
    return doc


def _name_as_number(doc):
    for row in doc:
        row["name"] = 7
    return doc


def _created_null(doc):
    doc["createdAt"] = None
    return doc


def _limit_10(doc):
    doc["data"], doc["meta"]["limit"] = doc["data"][:10], 10
    return doc


def _message(doc):
    doc["message"] = "Client authentication failed"
    return doc


def _status(change_status, path):
    def change(method, p, status, headers, body):
        return (change_status if p == path else status), headers, body
    return change


def _no_cache_control(method, path, status, headers, body):
    headers.pop("cache-control", None)
    return status, headers, body


DRIFTS = {
    "a field renamed": (_gravy("/connections", _rename),
                        "$.data[].status", "keys",
                        {"connections list", "connections list, page 2 of 5"}),
    "a type changed": (_gravy("/integrations", _name_as_number), "$[].name", "type",
                       {"integrations list"}),
    "a field becoming nullable": (None, "$.createdAt", "nullable", {"connection get"}),
    "an error text changed": (_gravy("/oauth/token", _message, "POST", 401), "$.message",
                              "text", {"oauth token, wrong secret"}),
    "a status changed": (_status(400, "/integrations/mockserver-verify-unknown"), "status",
                         "status", {"integration get, unknown slug"}),
    "a header missing": (_no_cache_control, "header Cache-Control", "header", {"oauth token"}),
    "a page size changed": (_gravy("/connections", _limit_10), "$.meta.limit", "value",
                            {"connections list"}),
}


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_each_drift_is_reported_once_at_its_path(mock, name):
    change, path, kind, probes = DRIFTS[name]
    if change is None:  # the connection read: its path names the first connection's id
        def change(method, p, status, headers, body):
            if method == "GET" and p.startswith("/connections/conn") and status == 200:
                body = json.dumps(_created_null(json.loads(body))).encode()
            return status, headers, body
    if name == "a page size changed":  # only the default page: the explicit limit=5 is kept
        inner = change

        def change(method, p, status, headers, body, _inner=inner):
            if b'"limit":20' not in body:
                return status, headers, body
            return _inner(method, p, status, headers, body)
    with serve(Drifted(create_app(), change)) as url:
        report = verify(mock, url)
    assert report.error is None and report.exit_code == 1
    assert [(f.path, f.kind) for f in report.findings] == [(path, kind)]
    assert set(report.findings[0].probes) == probes


# -- bad upstreams: one clear line, exit 2 ------------------------------------------------


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    """The command's real API end asks for its waits (Sleeps) instead of sleeping them."""
    import functools

    from mockserver.verify import run as runner

    monkeypatch.setattr(runner, "Real", functools.partial(runner.Real, sleep=Sleeps()))


def _cli(capsys, url: str, *extra: str) -> tuple[int, str, str]:
    code = main(["verify", "gravy", "--base-url", url, *FLAGS, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("mockserver verify gravy: could not be made: ")
    return lines[0]


def test_a_refused_connection(capsys):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    code, out, err = _cli(capsys, f"http://127.0.0.1:{port}/gravy")
    assert code == 2
    assert f"cannot connect to 127.0.0.1:{port}" in _one_line(err)


def test_tls_with_an_unknown_ca(capsys, tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    with serve(create_app(), tls=(cert, key)) as url:
        https = url.replace("http://", "https://")
        code, out, err = _cli(capsys, f"{https}/gravy")
        assert code == 2
        assert "TLS with 127.0.0.1" in _one_line(err) and "certificate" in err.lower()
        # trusted with --ca-file, the same upstream verifies clean
        ca.cert_pem.write_to_path(tmp_path / "ca.pem")
        code, out, err = _cli(capsys, f"{https}/gravy", "--ca-file", str(tmp_path / "ca.pem"))
        assert code == 0, out + err


def test_a_hang_past_the_timeout(capsys):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and never answer
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        code, out, err = _cli(capsys, f"http://127.0.0.1:{port}/gravy", "--timeout", "0.5")
    finally:
        stop.set()
        thread.join(5)
        for s in held:
            s.close()
        listener.close()
    assert code == 2
    assert "gave no answer within 0.5 s" in _one_line(err)


def _everything(status: int, ctype: str, body: bytes, extra: dict | None = None):
    def change(method, path, s, headers, b):
        return status, {"content-type": ctype, **(extra or {})}, body
    return change


@pytest.mark.parametrize("change, words", [
    (_everything(502, "text/plain", b"Bad Gateway"), "answered 502"),
    (_everything(200, "text/html", b"<html><body>Sign in</body></html>"), "an HTML page"),
    (_everything(429, "application/json", b'{"message":"Too Many Requests"}',
                 {"retry-after": "0"}), "rate-limited every try"),
], ids=["502", "html", "429-storm"])
def test_bad_upstreams(capsys, change, words):
    with serve(Drifted(create_app(), change)) as url:
        code, out, err = _cli(capsys, f"{url}/gravy")
    assert code == 2
    assert words in _one_line(err)


def test_credentials_refused_on_every_probe(mock, upstream):
    vendor = mock.vendors["gravy"]
    report = run(vendor, mock, {**GRAVY, "clientSecret": "not-the-secret"},
                 {"api": f"{upstream}/gravy"}, sleep=Sleeps(), rate=5)
    assert report.exit_code == 2
    assert "refused the credentials on every probe" in report.error


# -- politeness ---------------------------------------------------------------------------


def test_requests_are_spaced_by_the_rate(mock, upstream):
    sleeps = Sleeps()
    report = verify(mock, upstream, sleeps)
    assert report.requests == sum(1 for o in report.outcomes if o.real is not None)
    assert sleeps.asked and all(0 < s <= 0.2 for s in sleeps.asked)   # 5 a second at most


def test_retry_after_and_a_spent_rate_limit_are_waited_for(mock):
    seen = {"n": 0}

    def change(method, path, status, headers, body):
        seen["n"] += 1
        if seen["n"] == 1:   # the first answer: a 429 asking for 3 s
            return 429, {"content-type": "application/json", "retry-after": "3"}, b"{}"
        if seen["n"] == 2:   # then the limit is spent for 7 s
            headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "7"})
        return status, headers, body

    sleeps = Sleeps()
    with serve(Drifted(create_app(), change)) as url:
        report = verify(mock, url, sleeps)
    assert 3.0 in sleeps.asked
    assert any(6.0 < s <= 7.0 for s in sleeps.asked)
    outcome = report.outcomes[0]      # the retried probe compares its second answer
    assert outcome.real.status == 200


# -- inputs and outputs -------------------------------------------------------------------


def test_inputs_flag_over_environment_over_file(mock, tmp_path):
    vendor = mock.vendors["gravy"]
    file = tmp_path / "creds.json"
    file.write_text(json.dumps({"gravy": {"clientId": "from-file", "clientSecret": "file-s"}}))
    env = {env_name("gravy", "clientSecret"): "env-s"}
    assert env_name("gravy", "clientSecret") == "MOCKSERVER_GRAVY_CLIENT_SECRET"
    got = inputs(vendor, ["clientId=from-flag"], str(file), env)
    assert got == {"clientId": "from-flag", "clientSecret": "env-s"}
    with pytest.raises(InputError, match="clientSecret"):
        inputs(vendor, ["clientId=x"], None, {})
    with pytest.raises(InputError, match="takes clientId, clientSecret"):
        inputs(vendor, ["password=x"], None, {})


def test_missing_credentials_exit_2_with_one_line(capsys, monkeypatch):
    monkeypatch.delenv("MOCKSERVER_GRAVY_CLIENT_SECRET", raising=False)
    code = main(["verify", "gravy", "--base-url", "http://127.0.0.1:9/gravy",
                 "--credential", "clientId=x"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "MOCKSERVER_GRAVY_CLIENT_SECRET" in err


def test_reports_for_people_and_ci_never_hold_a_secret(capsys, tmp_path):
    """The upstream echoes the client secret in an error text: neither the table nor the
    report files show it, and the JUnit XML lists each probe."""
    secret = GRAVY["clientSecret"]

    def echo(method, path, status, headers, body):
        if path == "/oauth/token" and status == 401:
            body = json.dumps({"statusCode": 401, "message": f"bad secret {secret}"}).encode()
        return status, headers, body

    with serve(Drifted(create_app(), echo)) as url:
        code, out, err = _cli(capsys, f"{url}/gravy", "--report", str(tmp_path))
    assert code == 1
    files = [tmp_path / "verify-gravy.json", tmp_path / "verify-gravy.xml"]
    for text in [out, err] + [f.read_text() for f in files]:
        assert secret not in text
    assert "[redacted]" in out
    doc = json.loads(files[0].read_text())
    assert doc["exitCode"] == 1 and doc["result"] == "drift"
    assert [d["path"] for d in doc["drifts"]] == ["$.message"]
    suite = ET.parse(files[1]).getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {p["name"] for p in doc["probes"]}
    assert cases["oauth token, wrong secret"].find("failure") is not None
    assert cases["intent token"].find("skipped") is not None
    assert suite.get("failures") == "1"
    assert "probe" in out and "verdict" in out     # the table's head


def test_the_table_and_exit_0(capsys, upstream, tmp_path):
    code, out, err = _cli(capsys, f"{upstream}/gravy", "--report", str(tmp_path / "r"))
    assert code == 0 and err == ""
    assert "no drift" in out.splitlines()[-3]
    assert json.loads((tmp_path / "r" / "verify-gravy.json").read_text())["result"] == "no drift"
