"""HTTP/1.1 on the wire, as `mockserver serve` speaks it: uvicorn's httptools protocol with what
the vendors' own frontends (Node above all) add to it.

- **Head size.** A request head (request line and header lines) of more than `max_head` bytes
  is answered `431 Request Header Fields Too Large` with Node's exact bytes, and the connection
  closed. A head still arriving is refused as soon as the bytes received for it pass the bound,
  so a slow head is never buffered whole.
- **Header timeout.** A connection whose head is not complete `header_timeout` seconds after it
  opened (or after the head's first byte, on a kept-alive connection) is answered `408 Request
  Timeout` (Node's bytes) and closed. Between requests uvicorn's keep-alive timeout applies.
- **Connection bound.** Past `max_connections` open connections a new one is closed at once,
  as Node's `server.maxConnections` drops it.
- **Pipelining.** Requests pipelined before a malformed one are all answered, in order, before
  the refusal and the close (RFC 9112 §9.3.2); stock uvicorn answers the refusal at once and
  loses them.
- **Absolute form.** The request target of `GET http://host/path HTTP/1.1` reaches the app
  whole in `path` and `raw_path` (as uvicorn's h11 protocol passes it), where stock httptools
  keeps only `/path`: the app's routing, not the protocol, decides what the authority means.

Nothing here names a vendor. `protocol()` makes the class `uvicorn.Config(http=...)` takes.
"""
from __future__ import annotations

import logging
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .core.settings import DEFAULTS

MAX_HEAD: int = DEFAULTS["max_header_bytes"]  # Node's --max-http-header-size
HEADER_TIMEOUT: float = DEFAULTS["header_timeout"]  # seconds; Node's server.headersTimeout
MAX_CONNECTIONS: int = DEFAULTS["max_connections"]
FD_RESERVE = 64  # open files kept for everything else: listener, loop, logs, webhook calls

# Node's answers (lib/_http_server.js): no date, no body, then the socket is closed.
HEAD_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
BAD_REQUEST = "Invalid HTTP request received."  # uvicorn's own 400 and its log line

log = logging.getLogger("uvicorn.error")


class _Refused(Exception):
    """Raised in a parser callback to stop llhttp; the reason is on the protocol."""


class Http1Protocol(HttpToolsProtocol):
    # Slots, not the instance dict: past 30 keys CPython stops sharing a class's dict keys, and
    # every attribute read of uvicorn's code on the hot path gets slower (about 1.5k
    # instructions a request).
    __slots__ = ("_since", "_timer", "_head_bytes", "_read", "_before", "_refusal")
    max_head = MAX_HEAD
    header_timeout = HEADER_TIMEOUT
    max_connections = MAX_CONNECTIONS
    _full = False  # the bound was hit and said so in the log; said again after it clears

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._since: float | None = None  # when the open head began; None: no head open
        self._timer = None
        self._head_bytes = 0  # bytes of the open head received in earlier reads (a lower bound)
        self._read = 0  # length of the read being parsed
        self._before = None  # the cycle before the newest (answered last if that is refused)
        self._refusal: bytes | str | None = None  # answer owed once earlier answers are out

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport) -> None:  # type: ignore[override]
        open_now = len(self.connections)
        if open_now >= self.max_connections:
            self.transport = transport  # connection_lost, still called, closes it again
            self._refusal = b""  # nothing it sends is read
            transport.close()
            if not type(self)._full:
                type(self)._full = True
                log.warning("%d connections open, the bound (--max-connections): new ones "
                            "are closed until some end.", open_now)
            return
        if open_now < self.max_connections * 0.9:  # well below again: the next drop is news
            type(self)._full = False
        super().connection_made(transport)
        self._since = now = self.loop.time()
        self._timer = self.loop.call_at(now + self.header_timeout, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        if self._timer is not None:  # the connection is the WebSocket protocol's from here
            self._timer.cancel()
            self._timer = None
        super().handle_websocket_upgrade()

    # -- reading ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:  # the parser stopped at a refused request: nothing more
            return
        self._unset_keepalive_if_required()
        scope, cycle, self._read = self.scope, self.cycle, len(data)
        # Between requests at the start of this read: none yet, or the last one read whole?
        between = scope is None or (self._since is None and (cycle is None or not cycle.more_body))
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is None:
                log.warning(BAD_REQUEST)
                self._refuse(BAD_REQUEST)
            return
        # uvicorn makes a scope when a request begins and a cycle for it when its head is
        # complete: a head is open after this read while the newest scope has no cycle.
        if self.scope is scope:  # no request began in this read
            if self._since is None:  # in a body, or between requests
                return
            self._head_bytes += len(data)  # the whole read went to the head open before it
        else:
            latest = self.cycle
            if latest is not None and latest.scope is self.scope:  # complete, as usual
                return
            if self._since is None:  # a connection's first head counts from the connection
                self._since = self.loop.time()
            # The head began with this read, or after other requests' bytes in it (a share
            # not known: nothing counted, as a lower bound).
            self._head_bytes = len(data) if between and latest is cycle else 0
        if self._head_bytes > self.max_head:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._since = None
        # Exact size only when the cheap bound cannot clear it: the head lies within the bytes
        # of earlier reads counted for it and the read being parsed.
        if self._head_bytes + self._read > self.max_head and self._head_size() > self.max_head:
            self._refuse_head()
            raise _Refused
        self._head_bytes = 0
        self._before = self.cycle
        HttpToolsProtocol.on_headers_complete(self)
        url = self.url
        if url[:1] != b"/" and b"://" in url:
            # Absolute form: the target whole, as h11 passes it (RFC 9112 §3.2.2 has the
            # authority win over Host; the app decides). A non-ASCII target is a bad request.
            raw_path = url.partition(b"?")[0]
            path = raw_path.decode("ascii")
            self.scope["path"] = self.root_path + (unquote(path) if "%" in path else path)
            self.scope["raw_path"] = self.root_path.encode("ascii") + raw_path

    def _head_size(self) -> int:
        """The head's size as parsed: request line and header lines with their line ends and
        no optional whitespace (so at most what was sent)."""
        size = len(self.parser.get_method()) + len(self.url) + 12 + 2  # " HTTP/1.1\r\n", "\r\n"
        for name, value in self.headers:
            size += len(name) + len(value) + 3
        return size

    # -- refusing -----------------------------------------------------------------------------

    def _refuse_head(self) -> None:
        log.warning("Request head over %d bytes: 431.", self.max_head)
        self._refuse(HEAD_TOO_LARGE)

    def _refuse(self, answer: bytes | str) -> None:
        """Stop reading; answer `answer` (bytes as they are, text as uvicorn's 400) and close,
        once every request before the refused one is answered."""
        self._refusal = answer
        self._since = None
        self._unset_keepalive_if_required()
        self.flow.pause_reading()
        last = self.cycle  # the newest request: the ones before it are answered first
        if last is not None and not last.response_complete and last.more_body:
            # The refused request is this one, its body malformed.
            if not (self.pipeline and self.pipeline[0][0] is last):
                self._send_refusal(written=last.response_started)  # running: waits in vain
                return
            self.pipeline.popleft()  # queued behind others: never run
            last = self._before
        if last is None or last.response_complete:
            self._send_refusal()
            return
        answered = last.on_response  # the connection's, starting the next queued request

        def then_refuse() -> None:
            answered()
            self._send_refusal()

        last.on_response = then_refuse

    def _send_refusal(self, written: bool = False) -> None:
        answer, self._refusal = self._refusal, b""  # b"": refused and answered
        if self.transport.is_closing():
            return
        if written or not answer:  # an answer already begun on the wire: only the close
            self.transport.close()
        elif isinstance(answer, str):
            self.send_400_response(answer)
        else:
            self.transport.write(answer)
            self.transport.close()

    # -- the header timeout -------------------------------------------------------------------

    def _check_head(self) -> None:
        """One timer per connection, re-armed rather than made per request: a head open since
        `_since` is refused once `header_timeout` has passed, unless an answer is still being
        made (the app's time, not the client's)."""
        self._timer = None
        if self.transport.is_closing() or self._refusal is not None:
            return
        now = self.loop.time()
        since = self._since
        if since is not None and self.cycle is not None and not self.cycle.response_complete:
            since = None  # an answer is still being made: the app's time, not the client's
        if since is None or now + 0.001 < since + self.header_timeout:  # timers may fire early
            due = now + self.header_timeout if since is None else since + self.header_timeout
            self._timer = self.loop.call_at(due, self._check_head)
            return
        log.info("No complete request head within %g s: 408.", self.header_timeout)
        self._refusal = REQUEST_TIMEOUT
        self._send_refusal()


def open_files_limit() -> int | None:
    """The process's soft limit of open files, where the platform has one."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def connection_bound(asked: int, files: int | None) -> int:
    """`asked`, lowered so the connections leave FD_RESERVE open files to the rest."""
    if files is None:
        return asked
    return max(1, min(asked, files - FD_RESERVE))


def protocol(max_head: int = MAX_HEAD, header_timeout: float = HEADER_TIMEOUT,
             max_connections: int = MAX_CONNECTIONS) -> type[Http1Protocol]:
    """The protocol class for one server, with its bounds."""
    return type("Http1Protocol", (Http1Protocol,), {
        "max_head": max_head, "header_timeout": header_timeout,
        "max_connections": max_connections, "_full": False})
