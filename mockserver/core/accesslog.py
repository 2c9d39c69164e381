"""The access log: one line per request, as text or as one JSON object.

text: `GET /acme/things?page=2 200 1.3ms tenant=default vendor=acme`
json: `{"ts": "2024-05-01T12:00:00.000Z", "level": "info", "tenant": "default", "vendor": "acme",
        "method": "GET", "path": "/acme/things", "query": "page=2", "status": 200, "ms": 1.3}`

`mockserver serve` wraps the app in `AccessLog` only at --log-level info or lower, so the
default level pays nothing, and turns uvicorn's own access log off: one line per request,
not two. It covers every request, vendor and /__admin alike.

The tenant and vendor are known only inside `MockServer`, which leaves them in the request's
scope under `SCOPE_KEY` (vendor name, the vendor call's state dict): one dict store per request,
read here once the call is over, when auth has named the tenant. The query is masked with the
same per-vendor `Secrets` the journal uses; /__admin also hides its `?token=`.
"""
from __future__ import annotations

import copy
import json
import logging
from datetime import datetime, timezone
from time import perf_counter
from typing import Any, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .journal import BASE_SECRETS, Secrets
from .settings import DEFAULTS

LOGGER = "mockserver.access"
SCOPE_KEY = "mockserver.access"  # (vendor, state) set by MockServer on vendor calls
# Not a vendor call (/__admin, an unknown path): the sandbox page's `?token=` is the admin token.
PLANE_SECRETS = BASE_SECRETS.plus(frozenset(), frozenset({"token"}))


class AccessLog:
    """ASGI wrapper logging each HTTP request once it is over, whatever became of it.

    Each record carries the line's fields as `record.access` (a dict) for `JsonFormatter`; its
    message is the text line, formatted only if a handler emits it.
    """

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None,
                 secrets_of: Callable[[str], Secrets] | None = None) -> None:
        self.app = app
        self.log = logger or logging.getLogger(LOGGER)
        journal = getattr(app, "journal", None)  # a MockServer knows each vendor's secrets
        self.secrets_of = secrets_of or (journal.secrets_of if journal is not None
                                         else (lambda vendor: BASE_SECRETS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status: list[int] = []

        async def send_and_note(message: Message) -> None:
            await send(message)  # first: a start the server refused (a dropped call) sent nothing
            if message["type"] == "http.response.start":
                status.append(message.get("status"))

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_and_note)
        except BaseException as exc:  # logged, then re-raised untouched
            failure = exc
            raise
        finally:
            self._line(scope, status[0] if status else None, perf_counter() - started, failure)

    def _line(self, scope: Scope, status: int | None, seconds: float,
              failure: BaseException | None) -> None:
        # Never raises: a log line must not turn a served request into an error.
        try:
            vendor, state = scope.get(SCOPE_KEY) or (None, None)
            tenant = state.get("tenant") if state else None
            fault = state.get("fault") if state else None  # set by the fault injector, if any
            secrets = self.secrets_of(vendor) if vendor else PLANE_SECRETS
            path = _raw_path(scope).decode("latin-1")
            query = secrets.query((scope.get("query_string") or b"").decode("latin-1"))
            fields: dict[str, Any] = {
                "tenant": tenant, "vendor": vendor, "method": str(scope.get("method", "-")),
                "path": path, "query": query, "status": status, "ms": round(seconds * 1000.0, 3)}
            if fault is not None:
                fields["fault"] = fault
            if failure is not None:
                fields["error"] = type(failure).__name__
            self.log.info("%s", _TextLine(fields), extra={"access": fields})
        except Exception:
            pass


class _TextLine:
    """The text form, built only when a handler formats the record."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        f = self.fields
        target = _printable(f["path"])
        if f["query"]:
            target += "?" + _printable(f["query"])
        # "-": the app sent no status (it failed first, or the client was gone), or no
        # tenant/vendor (the control plane, an unknown path, a call auth refused).
        status = f["status"] if f["status"] is not None else "-"
        line = (f"{_printable(f['method'])} {target} {status} {f['ms']:.1f}ms"
                f" tenant={_printable(f['tenant'] or '-')} vendor={f['vendor'] or '-'}")
        if "fault" in f:
            line += f" fault={_printable(str(f['fault']))}"
        if "error" in f:
            line += f" ({f['error']})"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line. `ts` is wall time (the record's), not the mock clock: log lines
    sit next to other processes' logs; the journal keeps the mock's time. Records that are not
    access lines (uvicorn's own) become {"ts", "level", "logger", "message"}, so a JSON log
    stream stays JSON."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            out.update(access)
        else:
            out["logger"] = record.name
            out["message"] = record.getMessage()
            if record.exc_info:
                out["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: control characters and non-ASCII come out escaped, so a request can
        # never break the one-object-per-line framing.
        return json.dumps(out, ensure_ascii=True)


def _raw_path(scope: Scope) -> bytes:
    raw = scope.get("raw_path")
    if raw:
        # ASGI's raw_path has no query, but some clients (httpx's transport) put it there.
        return bytes(raw).split(b"?", 1)[0]
    return str(scope.get("path", "")).encode("utf-8")


def _printable(text: str | bytes) -> str:
    """Text as ASCII, escaped so a request line cannot forge log lines or terminal codes."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c < "\x7f" else f"\\x{ord(c):02x}" if ord(c) < 0x100
                   else f"\\u{ord(c):04x}" for c in text)


def with_access_log(base: dict[str, Any], fmt: str = DEFAULTS["log_format"]) -> dict[str, Any]:
    """uvicorn's logging config `base` plus a handler for this log, on stdout (where uvicorn's
    own access log goes) and in uvicorn's format; with fmt="json", every formatter (uvicorn's
    too) writes JSON lines."""
    config = copy.deepcopy(base)
    config["handlers"][LOGGER] = {"formatter": "default", "class": "logging.StreamHandler",
                                  "stream": "ext://sys.stdout"}
    config["loggers"][LOGGER] = {"handlers": [LOGGER], "level": "INFO", "propagate": False}
    if fmt == "json":
        config = json_logging(config)
    return config


def json_logging(base: dict[str, Any]) -> dict[str, Any]:
    """`base` with every formatter replaced by `JsonFormatter`."""
    config = copy.deepcopy(base)
    config["formatters"] = {name: {"()": f"{__name__}.JsonFormatter"}
                            for name in config.get("formatters", {})}
    return config
