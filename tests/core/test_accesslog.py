"""The access log wrapper: one line per request, and never an error of its own."""
from __future__ import annotations

import asyncio
import logging
import re

import pytest

from mockserver import create_app
from mockserver.core.accesslog import LOGGER, AccessLog, with_access_log

LINE = re.compile(r"(\S+) (\S+) (\S+) (\d+\.\d)ms(?: \((\w+)\))?")


def run(app, path: str = "/", query: bytes = b"", method: str = "GET", raw_path: bytes | None = None,
        messages: list | None = None) -> list[dict]:
    """Drive one HTTP request through `app`; the messages it sent."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": raw_path, "query_string": query,
             "root_path": "", "headers": [(b"host", b"mock.test")], "client": ("127.0.0.1", 1),
             "server": ("mock.test", 80)}
    inbox = list(messages or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[dict] = []

    async def receive():
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


@pytest.fixture
def lines(caplog) -> list[str]:
    caplog.set_level(logging.INFO, logger=LOGGER)
    out: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record):
            out.append(record.getMessage())

    handler = Grab()
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
    assert LINE.fullmatch(lines[0]).group(3, 5) == ("-", "RuntimeError")


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
