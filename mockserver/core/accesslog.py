"""The access log: one line per request, `GET /acme/things?page=2 200 1.3ms`.

`mockserver serve` wraps the app in `AccessLog` only at --log-level info or lower, so the
default level pays nothing, and turns uvicorn's own access log off: one line per request,
not two. It covers every request, vendor and /__admin alike.
"""
from __future__ import annotations

import copy
import logging
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER = "mockserver.access"


class AccessLog:
    """ASGI wrapper logging each HTTP request once it is over, whatever became of it."""

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.log = logger or logging.getLogger(LOGGER)

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
            target = _printable(_raw_path(scope))
            query = scope.get("query_string") or b""
            if query:
                target += "?" + _printable(query)
            # "-": the app sent no status (it failed first, or the client was gone).
            self.log.info("%s %s %s %.1fms%s", _printable(str(scope.get("method", "-")).encode()),
                          target, status if status is not None else "-", seconds * 1000.0,
                          f" ({type(failure).__name__})" if failure is not None else "")
        except Exception:
            pass


def _raw_path(scope: Scope) -> bytes:
    raw = scope.get("raw_path")
    if raw:
        # ASGI's raw_path has no query, but some clients (httpx's transport) put it there.
        return bytes(raw).split(b"?", 1)[0]
    return str(scope.get("path", "")).encode("utf-8")


def _printable(raw: bytes) -> str:
    """Bytes as ASCII, escaped so a request line cannot forge log lines or terminal codes."""
    text = raw.decode("latin-1")
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c < "\x7f" else f"\\x{ord(c):02x}" for c in text)


def with_access_log(base: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's logging config `base` plus a handler for this log, on stdout (where uvicorn's
    own access log goes) and in uvicorn's format."""
    config = copy.deepcopy(base)
    config["handlers"][LOGGER] = {"formatter": "default", "class": "logging.StreamHandler",
                                  "stream": "ext://sys.stdout"}
    config["loggers"][LOGGER] = {"handlers": [LOGGER], "level": "INFO", "propagate": False}
    return config
