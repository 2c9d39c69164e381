"""The access log wrapper: one line per request, and never an error of its own."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from mockserver import create_app
from mockserver.core.accesslog import (LOGGER, SCOPE_KEY, AccessLog, JsonFormatter, json_logging,
                                       with_access_log)

LINE = re.compile(r"(\S+) (\S+) (\S+) (\d+\.\d)ms tenant=(\S+) vendor=(\S+)"
                  r"(?: fault=(\S+))?(?: \((\w+)\))?")
GRAVITEC = [(b"authorization", b"Basic " + base64.b64encode(
    b"1e26f7bb3f81e1ab789d3e20b9cf6325:9bb59fcbff38b85647c421c65cca06ce"))]
INTEGRY_HASH = hmac.new(b"integry-sandbox-secret", b"123456", hashlib.sha256).hexdigest()
INTEGRY_QUERY = ("app_key=002d4f23-778a-11e7-bf2a-42010a8002c7&user_id=123456&hash="
                 + INTEGRY_HASH).encode()


def run(app, path: str = "/", query: bytes = b"", method: str = "GET", raw_path: bytes | None = None,
        messages: list | None = None, headers: list | None = None,
        host: bytes = b"mock.test") -> list[dict]:
    """Drive one HTTP request through `app`; the messages it sent."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": raw_path, "query_string": query,
             "root_path": "", "headers": [(b"host", host), *(headers or [])],
             "client": ("127.0.0.1", 1), "server": ("mock.test", 80)}
    inbox = list(messages or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


class Grab(logging.Handler):
    def __init__(self, out: list[str], formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self.out = out
        self.setFormatter(formatter or logging.Formatter("%(message)s"))

    def emit(self, record):
        self.out.append(self.format(record))


@pytest.fixture
def lines(caplog) -> list[str]:
    caplog.set_level(logging.INFO, logger=LOGGER)
    out: list[str] = []
    handler = Grab(out)
    logging.getLogger(LOGGER).addHandler(handler)
    yield out
    logging.getLogger(LOGGER).removeHandler(handler)


@pytest.fixture
def json_lines(caplog) -> list[str]:
    caplog.set_level(logging.INFO, logger=LOGGER)
    out: list[str] = []
    handler = Grab(out, JsonFormatter())
    logging.getLogger(LOGGER).addHandler(handler)
    yield out
    logging.getLogger(LOGGER).removeHandler(handler)


def test_one_line_per_request_with_method_path_query_status_and_ms(lines):
    app = AccessLog(create_app())
    run(app, "/gravy/integrations", b"page=2&limit=5")
    run(app, "/__admin/health")
    run(app, "/nowhere", method="POST")
    assert len(lines) == 3
    parsed = [LINE.fullmatch(line).groups()[:3] for line in lines]
    assert parsed == [("GET", "/gravy/integrations?page=2&limit=5", "200"),
                      ("GET", "/__admin/health", "200"), ("POST", "/nowhere", "404")]


def test_the_raw_path_is_logged_escaped(lines):
    app = AccessLog(create_app())
    run(app, "/gravy/a b", raw_path=b"/gravy/a%20b")
    run(app, "/x", raw_path=b"/x?dup=1", query=b"dup=1")  # httpx's transport puts the query there
    run(app, "/\x1b[31mred\n", raw_path=b"/\x1b[31mred\n\xff")
    assert [line.split()[1] for line in lines] == ["/gravy/a%20b", "/x?dup=1",
                                                   "/\\x1b[31mred\\x0a\\xff"]


def test_a_response_without_status_logs_a_dash(lines):
    async def silent(scope, receive, send):
        return None

    assert run(AccessLog(silent)) == []
    assert LINE.fullmatch(lines[0]).groups()[2] == "-"


def test_a_failing_app_is_logged_and_its_exception_passes_unchanged(lines):
    boom = RuntimeError("boom")

    async def failing(scope, receive, send):
        raise boom

    with pytest.raises(RuntimeError) as exc:
        run(AccessLog(failing))
    assert exc.value is boom
    assert LINE.fullmatch(lines[0]).group(3, 8) == ("-", "RuntimeError")


def test_a_client_that_disconnected_is_still_logged(lines):
    async def waits_for_body(scope, receive, send):
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # nobody to answer
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    assert run(AccessLog(waits_for_body), messages=[{"type": "http.disconnect"}]) == []
    assert LINE.fullmatch(lines[0]).group(1, 3) == ("GET", "-")


def test_a_broken_logger_never_breaks_the_request():
    class Broken(logging.Logger):
        def info(self, *args, **kwargs):
            raise OSError("disk full")

    sent = run(AccessLog(create_app(), logger=Broken("x")), "/__admin/health")
    assert sent[0]["status"] == 200


def test_other_scopes_pass_through_unlogged(lines):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    asyncio.run(AccessLog(app)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"] and lines == []


def test_with_access_log_extends_a_logging_config_without_changing_it():
    base = {"version": 1, "formatters": {"default": {}}, "handlers": {}, "loggers": {}}
    config = with_access_log(base)
    assert base == {"version": 1, "formatters": {"default": {}}, "handlers": {}, "loggers": {}}
    assert config["loggers"][LOGGER]["handlers"] == [LOGGER]
    assert config["handlers"][LOGGER]["stream"] == "ext://sys.stdout"


# --- tenant, vendor, secrets, json ----------------------------------------------


def test_tenant_and_vendor_of_vendor_calls_and_dashes_elsewhere(lines):
    app = AccessLog(create_app())
    tenant = app.app.tenants.create()
    creds = tenant.credentials["gravitec"]
    own = [(b"authorization", b"Basic " + base64.b64encode(
        f"{creds['appKey']}:{creds['appSecret']}".encode()))]
    run(app, "/gravitec/api/v3/alias", b"regId=1", headers=GRAVITEC)
    run(app, "/api/v3/alias", b"regId=1", headers=own, host=b"uapi.gravitec.net")  # by Host
    run(app, "/gravitec/api/v3/alias", b"regId=1")  # no credentials: no tenant
    run(app, "/__admin/health")
    run(app, "/nowhere")
    got = [LINE.fullmatch(line).group(1, 2, 5, 6) for line in lines]
    assert got == [("GET", "/gravitec/api/v3/alias?regId=1", "default", "gravitec"),
                   ("GET", "/api/v3/alias?regId=1", tenant.id, "gravitec"),
                   ("GET", "/gravitec/api/v3/alias?regId=1", "-", "gravitec"),
                   ("GET", "/__admin/health", "-", "-"), ("GET", "/nowhere", "-", "-")]


def test_secrets_in_the_query_never_appear(lines, json_lines):
    app = AccessLog(create_app(admin_token="adm1n-s3cret"))
    run(app, "/integry/apps/slack/get", INTEGRY_QUERY, method="POST")  # the Node SDK's way
    run(app, "/integry/apps/slack/get", INTEGRY_QUERY.replace(b"&hash=", b"&h%61sh="),
        method="POST")  # an escaped name is the same parameter to the vendor's framework
    run(app, "/__admin/", b"token=adm1n-s3cret")  # the sandbox page's link
    run(app, "/gravy/oauth/token", b"client_secret=gravy-sandbox-secret", method="POST")
    text = "\n".join(lines + json_lines)
    for secret in (INTEGRY_HASH, "adm1n-s3cret", "gravy-sandbox-secret"):
        assert secret not in text
    first = LINE.fullmatch(lines[0])
    assert first.group(5, 6) == ("default", "integry")  # the masked call still authenticated
    assert "user_id=123456" in first.group(2) and "hash=%5Bredacted%5D" in first.group(2)
    assert json.loads(json_lines[2])["query"] == "token=%5Bredacted%5D"


def test_json_lines_carry_every_field(json_lines):
    app = AccessLog(create_app())
    before = datetime.now(timezone.utc)
    run(app, "/gravitec/api/v3/alias", b"regId=1", headers=GRAVITEC)
    run(app, "/__admin/health")
    after = datetime.now(timezone.utc)
    first, second = map(json.loads, json_lines)
    assert set(first) == {"ts", "level", "tenant", "vendor", "method", "path", "query", "status", "ms"}
    assert (first["level"], first["tenant"], first["vendor"], first["method"], first["path"],
            first["query"]) == ("info", "default", "gravitec", "GET", "/gravitec/api/v3/alias",
                                "regId=1")
    assert isinstance(first["status"], int) and first["ms"] >= 0
    # Wall time, in the journal's ISO form (the mock clock may be anywhere).
    ts = datetime.fromisoformat(first["ts"].replace("Z", "+00:00"))
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= ts <= after
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert (second["tenant"], second["vendor"], second["status"]) == (None, None, 200)


def test_a_fault_and_an_error_are_named(lines, json_lines):
    async def faulted(scope, receive, send):
        scope[SCOPE_KEY] = ("groove", {"tenant": "t1", "fault": "f_7"})
        raise ConnectionResetError  # a dropped connection

    with pytest.raises(ConnectionResetError):
        run(AccessLog(faulted))
    assert LINE.fullmatch(lines[0]).group(5, 6, 7, 8) == ("t1", "groove", "f_7",
                                                          "ConnectionResetError")
    line = json.loads(json_lines[0])
    assert (line["fault"], line["error"], line["status"]) == ("f_7", "ConnectionResetError", None)


@settings(max_examples=60, deadline=None)
@given(path=st.binary(max_size=40), query=st.binary(max_size=40))
def test_no_request_forges_a_line(path, query):
    out: list[str] = []
    log = logging.getLogger("mockserver.access.hypothesis")
    log.propagate = False
    log.setLevel(logging.INFO)
    text, js = Grab(out), Grab(out, JsonFormatter())
    log.addHandler(text)
    log.addHandler(js)
    try:
        async def ok(scope, receive, send):
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        run(AccessLog(ok, logger=log), "/p", query, raw_path=b"/" + path)
    finally:
        log.removeHandler(text)
        log.removeHandler(js)
    line, blob = out
    assert line.isascii() and line.isprintable()  # no newline, no terminal escape
    assert blob.isascii() and blob.isprintable()
    parsed = json.loads(blob)
    assert parsed["path"] == (b"/" + path).split(b"?", 1)[0].decode("latin-1")


def test_json_logging_turns_every_formatter_into_json():
    base = {"version": 1, "formatters": {"default": {"fmt": "%(message)s"}, "access": {}},
            "handlers": {}, "loggers": {}}
    config = json_logging(with_access_log(base))
    assert config == with_access_log(base, "json")
    assert set(config["formatters"]) == {"default", "access"}
    record = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "port %d busy",
                               (80,), None)
    assert json.loads(JsonFormatter().format(record)) | {"ts": "-"} == {
        "ts": "-", "level": "warning", "logger": "uvicorn.error", "message": "port 80 busy"}
