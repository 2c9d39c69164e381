"""`serve --record VENDOR=URL` and `mockserver record VENDOR [URL]`: a recorded vendor's calls go
to "the real API" (an unmodified mockserver served on a socket, or a drifted one), the client
gets its answer, and the journal keeps each exchange beside what the recorder's own mock
answered, with their differences. The recorder runs in process (httpx.ASGITransport)."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from mockserver import create_app
from mockserver.cli import main, parse_args
from mockserver.core.journal import RECORDED, Call
from mockserver.core.probe import Exchange, Probe
from mockserver.verify import record
from mockserver.verify.record import RecordError, target

from .upstream import Drifted, serve

GRAVITEC = ("1e26f7bb3f81e1ab789d3e20b9cf6325", "9bb59fcbff38b85647c421c65cca06ce")
GRAVY_SECRET = "gravy-sandbox-secret"
TOKEN_BODY = {"grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
              "client_secret": GRAVY_SECRET}
ONLY_UPSTREAM = "follower-only-upstream"  # a Gravitec follower the recorder's mock lacks


class Through:
    """A client of a recorder app in process, on one event loop of its own."""

    def __init__(self, app) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://mock.test")

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kw))

    def recorded(self, **criteria: Any) -> list[dict]:
        """The recorded entries in full, newest first (GET /__admin/requests?kind=recorded)."""
        listing = self.request("GET", "/__admin/requests",
                               params={"kind": "recorded", **criteria}).json()["requests"]
        return [self.request("GET", f"/__admin/requests/{e['id']}").json() for e in listing]

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        if self.app.recorder is not None:
            self.loop.run_until_complete(self.app.recorder.aclose())
        self.loop.close()


def _recorder(**record: str) -> Through:
    return Through(create_app(record=record))


@pytest.fixture(scope="module")
def upstream():
    """The real API: an unmodified mockserver with one follower the recorder's mock lacks."""
    with serve(create_app()) as url:
        r = httpx.post(f"{url}/__admin/gravitec/subscribers",
                       json={"regId": ONLY_UPSTREAM, "alias": "upstream-alias"})
        assert r.status_code == 201, r.text
        yield url


def _drift(method, path, status, headers, body):
    if path == "/api/v3/alias" and body:  # a key renamed
        doc = json.loads(body)
        doc["regIdFound"] = doc.pop("regIdExists")
        body = json.dumps(doc).encode()
    if path.startswith("/api/v3/messages/"):  # an outage of one route
        status, body = 503, b'{"status":"unavailable"}'
    return status, headers, body


@pytest.fixture(scope="module")
def drifted():
    with serve(Drifted(create_app(), _drift)) as url:
        yield url


@pytest.fixture
def through(upstream):
    c = _recorder(gravitec=f"{upstream}/gravitec", gravy=f"{upstream}/gravy")
    yield c
    c.close()


def _refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


# --- forwarding -------------------------------------------------------------------------------

def test_the_client_gets_the_real_answer_and_the_journal_the_mocks_beside_it(through, upstream):
    r = through.request("GET", "/gravitec/api/v3/alias", params={"regId": ONLY_UPSTREAM},
                        auth=GRAVITEC)
    assert r.status_code == 200
    assert r.json() == {"regIdExists": "true", "aliasExists": "true", "isActiveFollower": "true",
                        "alias": "upstream-alias"}  # only the upstream knows this follower
    assert int(r.headers["content-length"]) == len(r.content)

    (entry,) = through.recorded()
    assert entry["kind"] == RECORDED and entry["vendor"] == "gravitec"
    assert (entry["method"], entry["path"], entry["query"]) == ("GET", "/api/v3/alias",
                                                                f"regId={ONLY_UPSTREAM}")
    assert entry["url"] == f"{upstream}/gravitec/api/v3/alias"
    assert entry["status"] == 200 and json.loads(entry["response"]["body"]) == r.json()
    assert entry["mockStatus"] == 200
    assert json.loads(entry["mockResponse"]["body"]) == {"regIdExists": "false"}
    assert entry["error"] is None
    # Whatever `compare` makes of this account's data, the entry says it, counted.
    assert entry["differenceCount"] == len(entry["differences"])
    assert {d["path"] for d in entry["differences"]} <= {"$.aliasExists", "$.isActiveFollower",
                                                         "$.alias"}
    assert entry["tenant"] == "default"  # the tenant the mock's run resolved
    # The recorded call is its one entry: the mock's own run is no "request" of its own.
    assert through.request("GET", "/__admin/requests",
                           params={"kind": "request"}).json()["total"] == 0


def test_identical_answers_have_no_differences_errors_word_for_word(through):
    through.request("GET", "/gravitec/api/v3/alias", params={"regId": "nobody"}, auth=GRAVITEC)
    through.request("GET", "/gravitec/api/v3/alias", auth=GRAVITEC)  # a documented 400
    # Gravy's 401 carries a `timestamp`: another text on each side, never compared.
    through.request("GET", "/gravy/connections", headers={"authorization": "Bearer nope"})
    entries = through.recorded()
    assert [e["status"] for e in entries] == [401, 400, 200]
    for e in entries:
        assert e["status"] == e["mockStatus"]
        assert e["differences"] == [] and e["differenceCount"] == 0, e


def test_what_is_forwarded_and_what_is_not(through, upstream):
    """Hop-by-hop headers stay; the real Host is the URL's; the answer is asked uncompressed;
    method, path, query and body go as sent."""
    r = through.request("POST", "/gravitec/api/v3/alias", params={"regId": "nobody",
                                                                 "name": "renamed"},
                        auth=GRAVITEC, content=b"ignored body",
                        headers={"x-kept": "yes", "x-hop": "1", "connection": "x-hop",
                                 "te": "trailers", "keep-alive": "timeout=5"})
    assert r.status_code == 422, r.text  # no such follower: the upstream's state unchanged
    seen = httpx.get(f"{upstream}/__admin/requests", params={"path": "/api/v3/alias",
                                                              "method": "POST"}).json()
    got = httpx.get(f"{upstream}/__admin/requests/{seen['requests'][0]['id']}").json()
    headers = got["request"]["headers"]
    assert headers["host"] == upstream.removeprefix("http://")
    assert headers["x-kept"] == "yes" and headers["accept-encoding"] == "identity"
    assert not {"x-hop", "te", "keep-alive"} & set(headers)
    assert headers["authorization"] == "[redacted]"  # it went (the upstream redacts its own)
    assert got["query"] == "regId=nobody&name=renamed"
    assert got["request"]["body"] == "ignored body"


def test_a_drifted_upstream_is_one_difference(drifted):
    c = _recorder(gravitec=f"{drifted}/gravitec")
    try:
        r = c.request("GET", "/gravitec/api/v3/alias", params={"regId": "nobody"},
                      auth=GRAVITEC)
        assert r.json() == {"regIdFound": "false"}
        (entry,) = c.recorded()
        assert entry["differenceCount"] == 1
        (d,) = entry["differences"]
        assert d["path"] == "$.regIdExists" and d["kind"] == "keys"
        assert "renamed" in d["message"] and "regIdFound" in d["message"]
    finally:
        c.close()


def test_a_5xx_from_the_real_api_is_passed_on_and_said_once(drifted, caplog):
    c = _recorder(gravitec=f"{drifted}/gravitec")
    try:
        with caplog.at_level(logging.WARNING, logger="mockserver"):
            r = c.request("GET", "/gravitec/api/v3/messages/1", auth=GRAVITEC)
        assert (r.status_code, r.json()) == (503, {"status": "unavailable"})
        (entry,) = c.recorded()
        assert entry["error"] == (f"mockserver --record: GET {drifted}/gravitec"
                                  "/api/v3/messages/1 answered 503")
        assert [rec.getMessage() for rec in caplog.records] == [entry["error"]]
    finally:
        c.close()


# --- upstream trouble -------------------------------------------------------------------------

def test_a_refused_upstream_is_a_502_in_one_line_without_a_traceback(caplog):
    port = _refused_port()
    c = _recorder(gravitec=f"http://127.0.0.1:{port}")
    try:
        with caplog.at_level(logging.DEBUG):
            r = c.request("GET", "/gravitec/api/v3/alias", params={"regId": "x"}, auth=GRAVITEC)
        assert r.status_code == 502
        body = r.json()
        assert body["error"] == "Bad Gateway"
        assert body["message"].startswith(
            f"mockserver --record: cannot connect to 127.0.0.1:{port}: ")
        assert "\n" not in body["message"]
        mine = [rec for rec in caplog.records if rec.name == "mockserver"]
        assert [rec.getMessage() for rec in mine] == [body["message"]]
        assert all(rec.exc_info is None for rec in caplog.records)  # no traceback anywhere
        (entry,) = c.recorded()
        assert (entry["status"], entry["error"]) == (502, body["message"])
        assert entry["mockStatus"] == 200  # the mock still answered; nothing to compare with
        assert entry["differences"] == []
    finally:
        c.close()


def test_an_upstream_that_never_answers_times_out_in_one_line():
    listener = socket.socket()  # connections wait in its backlog: never a byte back
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    c = _recorder(gravitec=f"http://127.0.0.1:{port}")
    c.app.recorder.timeout = 0.2
    try:
        r = c.request("GET", "/gravitec/api/v3/alias", params={"regId": "secret-ish"},
                      auth=GRAVITEC)
        assert r.status_code == 502
        assert r.json()["message"] == (f"mockserver --record: GET http://127.0.0.1:{port}"
                                       "/api/v3/alias gave no answer within 0.2 s")
    finally:
        c.close()
        listener.close()


def test_a_body_over_the_bound_is_refused_not_forwarded(through, upstream, monkeypatch):
    monkeypatch.setattr(record, "MAX_REQUEST", 1000)
    before = httpx.get(f"{upstream}/__admin/requests").json()["total"]
    r = through.request("POST", "/gravitec/api/v3/push", auth=GRAVITEC, content=b"x" * 1001)
    assert r.status_code == 413
    assert r.json() == {"error": "Payload Too Large", "message": (
        f"mockserver --record: POST {upstream}/gravitec/api/v3/push: a request body over 1000 "
        "bytes is not forwarded")}
    assert httpx.get(f"{upstream}/__admin/requests").json()["total"] == before
    (entry,) = through.recorded()
    assert entry["status"] == 413 and "is not forwarded" in entry["error"]


# --- secrets ----------------------------------------------------------------------------------

def test_secrets_are_redacted_in_the_recorded_entry(through):
    r = through.request("POST", "/gravy/oauth/token", json=TOKEN_BODY)
    assert r.status_code == 200
    issued = r.json()["access_token"]
    through.request("GET", "/gravy/connections", headers={"authorization": f"Bearer {issued}"})
    token_entry, connections_entry = through.recorded()[::-1]
    text = json.dumps([token_entry, connections_entry])
    assert GRAVY_SECRET not in text and issued not in text
    assert json.loads(token_entry["request"]["body"])["client_secret"] == "[redacted]"
    assert json.loads(token_entry["response"]["body"])["access_token"] == "[redacted]"
    assert json.loads(token_entry["mockResponse"]["body"])["access_token"] == "[redacted]"
    assert connections_entry["request"]["headers"]["authorization"] == "[redacted]"


# --- --record-dir -----------------------------------------------------------------------------

class StandIn:
    """In place of mockserver.verify.recording.Recording: keeps what it is given."""

    made: list[tuple[Path, Any]] = []
    added: list[Exchange] = []

    def __init__(self, root: Path, server) -> None:
        StandIn.made.append((root, server))

    def add(self, exchange: Exchange) -> list[str]:
        StandIn.added.append(exchange)
        return ["contract: $.alias is not a string", "second problem"]


def test_each_exchange_goes_to_the_recording_and_its_problems_to_the_log(
        upstream, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(record, "Recording", StandIn)
    StandIn.made, StandIn.added = [], []
    app = create_app(record={"gravitec": f"{upstream}/gravitec"}, record_dir=tmp_path)
    c = Through(app)
    try:
        with caplog.at_level(logging.WARNING, logger="mockserver"):
            c.request("GET", "/gravitec/api/v3/alias", params={"regId": ONLY_UPSTREAM},
                      auth=GRAVITEC)
            c.request("GET", "/gravitec/api/v3/alias", params={"regId": "nobody"},
                      auth=GRAVITEC)
    finally:
        c.close()
    assert StandIn.made == [(tmp_path, app)]  # built once, at start
    first, second = StandIn.added
    assert (first.vendor, first.method, first.path, first.query) == (
        "gravitec", "GET", "/api/v3/alias", f"regId={ONLY_UPSTREAM}")
    assert first.headers["authorization"].startswith("Basic ")  # the recording redacts it
    assert first.body == b""
    assert first.answer.status == 200 and first.answer.json()["alias"] == "upstream-alias"
    assert first.answer.headers["content-type"] == "application/json"
    assert second.answer.json() == {"regIdExists": "false"}
    lines = [rec.getMessage() for rec in caplog.records]
    assert lines == ["mockserver --record-dir: contract: $.alias is not a string",
                     "mockserver --record-dir: second problem"] * 2


def test_a_recording_that_fails_is_one_line_and_the_client_still_answered(
        upstream, tmp_path, monkeypatch, caplog):
    class Broken(StandIn):
        def add(self, exchange):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(record, "Recording", Broken)
    c = Through(create_app(record={"gravitec": f"{upstream}/gravitec"}, record_dir=tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger="mockserver"):
            r = c.request("GET", "/gravitec/api/v3/alias", params={"regId": "nobody"},
                          auth=GRAVITEC)
    finally:
        c.close()
    assert r.status_code == 200
    assert [rec.getMessage() for rec in caplog.records] == [
        "mockserver --record-dir: cannot record GET /api/v3/alias: [Errno 28] No space left "
        "on device"]


# --- where a vendor's calls go ----------------------------------------------------------------

def _vendor(verify: Any = None) -> Any:
    return SimpleNamespace(name="acme", verify=verify)


def test_a_vendor_with_two_hosts_sends_each_path_to_its_own_unless_a_url_is_given():
    verify = SimpleNamespace(
        BASE_URLS={"api": "https://app.example.com", "auth": "https://auth.example.com"},
        base_of=lambda path: "auth" if path.startswith("/oauth/") else "api",
        probes=lambda: [Probe("p", lambda s: None, "", volatile=frozenset({"timestamp"}))])
    own = target(_vendor(verify), None)
    assert own.base("/oauth/token") == "https://auth.example.com"
    assert own.base("/graphql") == "https://app.example.com"
    assert own.volatile == frozenset({"timestamp"})
    given = target(_vendor(verify), "http://127.0.0.1:9/acme")
    assert {given.base("/oauth/token"), given.base("/graphql")} == {"http://127.0.0.1:9/acme"}
    # No base_of yet: every path is the "api" one's.
    plain = target(_vendor(SimpleNamespace(BASE_URLS={"api": "https://a", "auth": "https://b"})),
                   None)
    assert plain.base("/oauth/token") == "https://a"


def test_a_vendor_without_a_known_real_api_needs_a_url():
    with pytest.raises(RecordError, match=r"--record acme=URL"):
        target(_vendor(), None)
    assert target(_vendor(), "https://x.example").base("/any") == "https://x.example"


def test_record_groove_reaches_both_of_its_real_hosts():
    app = create_app(record={"groove": None})
    where = app.recorder.describe()["groove"]
    for url in app.vendors["groove"].verify.BASE_URLS.values():
        assert url in where


# --- the journal's bound counts what a recorded entry holds ----------------------------------

def test_a_recorded_entrys_size_counts_the_mocks_answer_and_the_differences():
    plain = Call("gravy", 0.0, "GET", "/x", kind=RECORDED)
    full = Call("gravy", 0.0, "GET", "/x", kind=RECORDED, mock_body=b"m" * 5000,
                differences=(("$.a", "keys", "x" * 300),))
    assert full.approx_size() >= plain.approx_size() + 5000 + 300
    assert "mockStatus" in plain.summary() and "mockStatus" not in Call(
        "gravy", 0.0, "GET", "/x").summary()


# --- the command line -------------------------------------------------------------------------

def test_record_is_serve_with_one_recorded_vendor():
    args = parse_args(["record", "gravy", "http://127.0.0.1:9/gravy/", "--port", "0"], env={})
    assert args.command == "record" and args.port == 0
    assert args.record == {"gravy": "http://127.0.0.1:9/gravy"}
    # No URL: the vendor's real API; MOCKSERVER_RECORD is not read for `record`.
    args = parse_args(["record", "groove"], env={"MOCKSERVER_RECORD": "gravy"})
    assert args.record == {"groove": None}


def test_serve_record_repeated_comma_separated_and_from_the_environment(tmp_path):
    args = parse_args(["serve", "--record", "gravy=https://a.example,gravitec",
                       "--record", "integry=http://127.0.0.1:1/integry",
                       "--record-dir", str(tmp_path)], env={})
    assert args.record == {"gravy": "https://a.example", "gravitec": None,
                           "integry": "http://127.0.0.1:1/integry"}
    assert args.record_dir == str(tmp_path)
    env = {"MOCKSERVER_RECORD": "groove=https://g.example", "MOCKSERVER_RECORD_DIR": "d"}
    args = parse_args(["serve"], env=env)
    assert (args.record, args.record_dir) == ({"groove": "https://g.example"}, "d")
    assert parse_args(["serve", "--record", "gravy"], env=env).record == {"gravy": None}
    assert parse_args(["serve"], env={}).record is None


@pytest.mark.parametrize("argv,env,said", [
    (["serve", "--record", "acme=https://a.example"], {}, "'acme' is no vendor"),
    (["serve"], {"MOCKSERVER_RECORD": "acme"}, "'acme' is no vendor"),
    (["record", "acme"], {}, "invalid choice: 'acme'"),
    (["serve", "--record", "gravy=ftp://a.example"], {}, "is no http(s) URL"),
    (["record", "gravy", "not a url"], {}, "is no http(s) URL"),
    (["serve", "--record", "gravy=http://:80"], {}, "is no http(s) URL"),
    (["serve", "--record", "gravy=http://a.example:99999"], {}, "is no http(s) URL"),
    (["serve", "--record", "gravy=https://a.example/?x=1"], {}, "no query or fragment"),
    (["serve", "--record", "gravy=https://u:p@a.example"], {}, "not in the URL"),
    (["serve", "--record", "gravy,gravy=https://a.example"], {}, "gravy is named twice"),
    (["serve", "--record-dir", "d"], {}, "--record-dir (MOCKSERVER_RECORD_DIR) is for --record"),
    (["serve"], {"MOCKSERVER_RECORD_DIR": "d"}, "is for --record"),
])
def test_bad_record_options_exit_2_in_one_line(argv, env, said, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv, env=env)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_serve_that_cannot_set_up_recording_says_so_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr(record, "Recording", None)  # a build without recordings
    code = main(["serve", "--port", "0", "--record", "gravy=http://127.0.0.1:9",
                 "--record-dir", "d"])
    assert code == 1
    err = capsys.readouterr().err
    assert err == "mockserver: --record-dir: this build cannot write recordings\n"


def test_a_head_answer_keeps_the_real_length(through):
    get = through.request("GET", "/gravitec/api/v3/alias", params={"regId": ONLY_UPSTREAM},
                          auth=GRAVITEC)
    head = through.request("HEAD", "/gravitec/api/v3/alias", params={"regId": ONLY_UPSTREAM},
                           auth=GRAVITEC)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_the_lifespans_shutdown_closes_the_recorders_client(upstream):
    c = _recorder(gravitec=f"{upstream}/gravitec")
    try:
        c.request("GET", "/gravitec/api/v3/alias", params={"regId": "nobody"}, auth=GRAVITEC)

        async def lifespan():
            client = c.app.recorder.client()  # the one the call used (same event loop)
            messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
            sent: list[str] = []

            async def receive():
                return next(messages)

            async def send(message):
                sent.append(message["type"])

            await c.app({"type": "lifespan"}, receive, send)
            return client, sent

        client, sent = c.loop.run_until_complete(lifespan())
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert client.is_closed
    finally:
        c.close()


def test_the_banner_says_where_each_recorded_vendor_goes():
    from mockserver.cli import banner

    lines = banner("http://127.0.0.1:8080",
                   recorded={"gravy": "https://api.getpassage.ai"}).splitlines()
    assert lines[0] == "mockserver listening on http://127.0.0.1:8080"
    assert lines[-1] == ("  recording     gravy -> https://api.getpassage.ai "
                         "(GET http://127.0.0.1:8080/__admin/requests?kind=recorded)")
