"""A tiny router per vendor, so a vendor decides its own 404/405 and path-matching rules.

Starlette's Router answers a method mismatch with its own plain-text 405 and is case-sensitive;
real vendor frameworks differ (Express ignores case and a trailing slash, Spring is strict), so
each vendor app states its rules here.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping

from starlette.requests import ClientDisconnect, Request
from starlette.websockets import WebSocket

from starlette.responses import Response

from .http import REQUEST_BODY, RawJSON, VendorError, declares_body, header, read_rest
from .memo import Memo

if TYPE_CHECKING:
    from .cors import CorsPolicy

Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("mockserver")

MEMO_MAX_PATH = 512  # longer paths (client junk, not a real API's URLs) are resolved, not memoised
ROUTES_MEMO = 8192   # (method, path) pairs remembered with their endpoint, per router
NAMES_MEMO = 256     # a vendor's own answer header names (X-Session-ID, ...): few, fixed by its code
BODY_LIMIT = 1024 * 1024  # what a VendorApp reads of a body its handler left unread, by default
# How long, once the answer is out, a VendorApp waits for the rest of a body its handler left
# unread (for the journal): the client has its answer; only its own connection waits.
UNREAD_BODY_WAIT = 5.0
_SLASHES = re.compile(r"/{2,}")
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    path: str
    endpoint: Endpoint


def route(methods: str | Iterable[str], path: str, endpoint: Endpoint) -> Route:
    if isinstance(methods, str):
        methods = (methods,)
    return Route(tuple(m.upper() for m in methods), path, endpoint)


def bound(service: Any,
          *specs: tuple[str | Iterable[str], str, Callable[..., Any]]) -> list[Route]:
    """Routes whose handlers take the vendor's runtime first (`handler(service, request)`),
    from `(methods, path, handler)` triples: how every vendor's routes.py lists its calls."""
    return [route(methods, path, partial(fn, service)) for methods, path, fn in specs]


def compile_path(template: str, *, trailing_slash: bool, ignore_case: bool) -> re.Pattern:
    parts: list[str] = []
    last = 0
    for m in _PARAM.finditer(template):
        parts.append(re.escape(template[last:m.start()]))
        parts.append(f"(?P<{m.group(1)}>[^/]+)")
        last = m.end()
    parts.append(re.escape(template[last:]))
    pattern = "".join(parts)
    if trailing_slash:
        pattern = pattern.rstrip("/") + "/?"
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


class Router:
    """Matches (method, path) to an endpoint; `not_found(request)` answers everything else.

    Literal paths go through a dict so the hot routes cost one lookup; templated ones are tried
    in order.
    """

    def __init__(self, routes: Iterable[Route], not_found: Endpoint, *,
                 trailing_slash: bool = True, ignore_case: bool = False,
                 merge_slashes: bool = False) -> None:
        self.not_found = not_found
        self._merge = merge_slashes
        self._ignore_case = ignore_case
        self._trailing = trailing_slash
        self._literal: dict[tuple[str, str], Endpoint] = {}
        self._patterns: list[tuple[frozenset[str], re.Pattern, Endpoint]] = []
        # (method, path) -> (endpoint, path params): saves the regex scan over templated routes
        # for the repeated URLs of a test suite or a load (see bench/README.md).
        self._seen: Memo[tuple[str, str], tuple[Endpoint, dict[str, str]]] = Memo(ROUTES_MEMO)
        self.routes = tuple(routes)
        for r in self.routes:
            if "{" not in r.path:
                for m in r.methods:
                    self._literal.setdefault((m, self._norm(r.path)), r.endpoint)
            else:
                rx = compile_path(r.path, trailing_slash=trailing_slash, ignore_case=ignore_case)
                self._patterns.append((frozenset(r.methods), rx, r.endpoint))

    def _norm(self, path: str) -> str:
        if self._trailing and len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        return path.lower() if self._ignore_case else path

    def resolve(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        """(endpoint, path params); the params are the caller's own copy."""
        if self._merge and "//" in path:
            path = _SLASHES.sub("/", path)
        if len(path) > MEMO_MAX_PATH:  # kept out of the memo, which holds only short keys
            return self._resolve(method, path)
        key = (method, path)
        hit = self._seen.get(key)
        if hit is None:
            hit = self._seen.keep(key, self._resolve(method, path))
        return hit[0], dict(hit[1]) if hit[1] else {}

    def allowed(self, path: str) -> tuple[str, ...]:
        """The methods some route serves at `path` (for a framework that answers 405)."""
        if self._merge and "//" in path:
            path = _SLASHES.sub("/", path)
        methods: list[str] = []
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            endpoint = self._resolve("GET" if method == "HEAD" else method, path)[0]
            if endpoint is not self.not_found:
                methods.append(method)
        return tuple(methods)

    def _resolve(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        ep = self._literal.get((method, self._norm(path)))
        if ep is not None:
            return ep, {}
        for methods, rx, endpoint in self._patterns:
            if method in methods:
                m = rx.fullmatch(path)
                if m is not None:
                    return endpoint, m.groupdict()
        return self.not_found, {}


class VendorApp:
    """ASGI app of one vendor: route, run the handler, render the vendor's own errors.

    `internal_error` is the vendor's 500 (a handler bug must still look like the vendor);
    `headers` are what the vendor's framework adds to every response, `content_type` what it
    sends JSON as.
    """

    def __init__(self, router: Router, internal_error: Callable[[], Any],
                 headers: dict[str, str] | None = None,
                 content_type: str = "application/json",
                 cors: "CorsPolicy | None" = None, body_limit: int = BODY_LIMIT,
                 websockets: "Mapping[str, Callable[[WebSocket], Awaitable[None]]] | None"
                 = None) -> None:
        self.router = router
        # path -> handler of a WebSocket the vendor serves there (`serve` below)
        self.websockets = dict(websockets or {})
        # A body the handler never read (a call refused for its credentials) is still read
        # after the answer, up to the vendor's own limit, so the journal shows what was sent.
        self.body_limit = body_limit
        self.body_wait = UNREAD_BODY_WAIT
        self.internal_error = internal_error
        self.headers = headers or {}
        self.content_type = content_type.encode("latin-1")
        self.cors = cors
        # The CORS middleware's unconditional headers join the framework's own (free per request).
        self._always = {**self.headers, **cors.always} if cors else self.headers
        self._routed = {**self._always, **cors.routed} if cors else self.headers
        # The same, encoded once for the common answer (a RawJSON with no headers of its own,
        # no Origin): saves merging and encoding them per request.
        self._raw_always = _encoded(self._always)
        self._raw_routed = _encoded(self._routed)
        # their names as sets: `isdisjoint` then walks the answer's own few names, not these
        self._names_always = frozenset(self._always)
        self._names_routed = frozenset(self._routed)
        self._names: Memo[str, bytes] = Memo(NAMES_MEMO)  # header name -> as sent

    def answer_headers(self, scope) -> dict[str, str]:
        """What the framework and its CORS layer add to any answer to this request: an injected
        fault's answer carries them too, so a browser sees the fault, not a CORS error."""
        method = scope["method"]
        endpoint, _ = self.router.resolve("GET" if method == "HEAD" else method,
                                          scope["vendor_path"])
        routed = endpoint is not self.router.not_found
        headers = dict(self._routed if routed else self._always)
        if self.cors is not None:
            origin = header(scope, b"origin")
            if origin is not None:
                headers.update(self.cors.after(scope, method, origin, routed))
        return headers

    async def __call__(self, scope, receive, send) -> None:
        """Serve the call. The answer (status, body) is noted in the call's state under
        ANSWER, so the journal reads it without wrapping `send`."""
        method = scope["method"]
        endpoint, params = self.router.resolve("GET" if method == "HEAD" else method,
                                               scope["vendor_path"])
        routed = endpoint is not self.router.not_found
        origin = None
        cors = self.cors
        if cors is not None:
            for k, v in scope["headers"]:
                if k == b"origin":
                    origin = v.decode("latin-1")
                    break
            if origin is not None or method == "OPTIONS":
                # The CORS middleware runs before routing: a preflight or a refusal ends here.
                early = cors.before(scope, method, origin, self.router.allowed, routed)
                if early is not None:
                    if cors.app_headers_on_early:
                        early.headers = {**self.headers, **early.headers}
                    if declares_body(scope["headers"]):  # refused before any handler read it
                        await self._answer_then_read(early, scope, receive, noting(send, scope))
                    else:
                        await early(scope, receive, noting(send, scope))
                    return
        request = Request(scope, receive)
        scope["path_params"] = params
        try:
            try:
                response = await endpoint(request)
            except VendorError as exc:
                response = exc.response()  # rendering it can fail too: then it is a mock bug
        except ClientDisconnect:
            return  # gone before its body was read: nobody to answer, and no mock bug
        except Exception:  # noqa: BLE001 - a mock bug must not leak Starlette's error page
            log.exception("unhandled error in %s %s", method, scope["vendor_path"])
            response = self.internal_error().response()
        state = scope.get("state")
        unread = False
        if state is not None and REQUEST_BODY not in state:
            # read with Starlette's request.body() / .json() rather than read_limited
            read = request.__dict__.get("_body")
            if read is not None:
                state[REQUEST_BODY] = read
            elif not request._stream_consumed and declares_body(scope["headers"]):
                unread = True  # never read (refused first): read after the answer, below
        own = response.headers
        if response.__class__ is RawJSON and origin is None and (not own or own.keys().isdisjoint(
                self._names_routed if routed else self._names_always)):
            # The hot path: two messages with the framework headers encoded at start-up, in the
            # order the general path below gives them (RawJSON's two, its own, the framework's).
            body = response.body
            status = response.status_code
            headers = [(b"content-type", self.content_type),
                       (b"content-length", str(len(body)).encode())]
            if own:
                names = self._names
                for k, v in own.items():  # a loop, not a listcomp: no frame of its own
                    name = names.get(k)
                    if name is None:
                        name = names.keep(k, k.lower().encode("latin-1"))
                    headers.append((name, v.encode("latin-1")))
            headers += self._raw_routed if routed else self._raw_always
            answer = [None, b""]
            if state is not None:
                state[ANSWER] = answer
            await send({"type": "http.response.start", "status": status, "headers": headers})
            answer[0] = status  # after: a start the server refused sent nothing
            if unread:
                # The whole answer goes out (its Content-Length tells the client so), the
                # response stays open while the body is read, then it ends.
                await send({"type": "http.response.body", "body": body, "more_body": True})
                answer[1] = body
                state[REQUEST_BODY] = await read_rest(receive, self.body_limit, self.body_wait)
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.body", "body": body})
            answer[1] = body
            return
        if isinstance(response, RawJSON):
            response.content_type = self.content_type
        framework = self._routed if routed else self._always
        for k, v in framework.items():
            if k not in response.headers:
                response.headers[k] = v
        if origin is not None:
            for k, v in cors.after(scope, method, origin, routed).items():
                response.headers[k] = v
        if unread:
            await self._answer_then_read(response, scope, receive, noting(send, scope))
            return
        await response(scope, receive, noting(send, scope))

    async def serve_websocket(self, scope, receive, send) -> None:
        """A WebSocket handshake at `scope["vendor_path"]`: the vendor's handler, or refused
        (closed before it is accepted: the client sees a 403) where it serves none."""
        handler = self.websockets.get(scope["vendor_path"])
        if handler is None:
            await send({"type": "websocket.close", "code": 1000})
            return
        await handler(WebSocket(scope, receive, send))

    async def _answer_then_read(self, response, scope, receive, send) -> None:
        """Send `response` whole but leave it open, read the body no handler read (for the
        journal), then end it. The client has its answer first: an answer with a
        Content-Length is complete for it before the server's end of the response."""
        held = _Held(send)
        await response(scope, receive, held)
        if held.open:
            body = await read_rest(receive, self.body_limit, self.body_wait)
            state = scope.get("state")
            if state is not None:
                state[REQUEST_BODY] = body
            await held.send({"type": "http.response.body", "body": b""})


class _Held:
    """`send` that turns the answer's last body message into one more to come, when the answer
    has a Content-Length (without one, only that last message tells the client it is over)."""

    __slots__ = ("send", "sized", "open")

    def __init__(self, send) -> None:
        self.send = send
        self.sized = False
        self.open = False

    async def __call__(self, message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.sized = any(k.lower() == b"content-length" for k, _ in message.get("headers", ()))
        elif kind == "http.response.body" and self.sized and not message.get("more_body", False):
            message = {**message, "more_body": True}
            self.open = True
        await self.send(message)


# Where a VendorApp notes its answer in the call's `scope["state"]`: [status, body].
ANSWER = "mockserver.answer"
NOTED_MAX = 64 * 1024  # of a streamed body; the journal keeps less (app.MAX_JOURNAL_BODY)


def noting(send, scope):
    """`send`, noting the status and body it sends under ANSWER in the call's state."""
    state = scope.get("state")
    if state is None:
        return send
    answer = state[ANSWER] = [None, b""]

    async def note(message) -> None:
        await send(message)  # first: a start the server refused sent nothing
        kind = message["type"]
        if kind == "http.response.start":
            answer[0] = message["status"]
        elif kind == "http.response.body":
            chunk, have = message.get("body", b""), answer[1]
            if not have:
                answer[1] = chunk
            elif len(have) < NOTED_MAX:  # a streamed answer: its start is all the journal keeps
                answer[1] = have + chunk[:NOTED_MAX - len(have)]

    return note


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
