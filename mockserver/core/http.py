"""Small response helpers shared by the vendors: exact JSON bytes, no Starlette defaults leaking."""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Mapping

from starlette.requests import ClientDisconnect, Request

# allow_nan=False: a non-finite float raises, and `dump` writes it as JSON.stringify does.
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode

# Nesting a body may have. V8 parses any depth; Python's parser stops near 1,000 levels and every
# later recursive step (validation, signing, journal redaction, echoing it back) costs stack too,
# so past this depth a body is refused up front, in one place, before any of them runs.
MAX_DEPTH = 256


class TooLarge(ValueError):
    """A request body over the size a route reads."""


# Where `read_limited` notes the body it read in the call's `scope["state"]`, for the journal
# (app.py), which so needs no wrapper around every call's `receive`.
REQUEST_BODY = "mockserver.request_body"


async def read_limited(request: Request, limit: int, declared: str | None = None) -> bytes:
    """The body, read only as far as `limit` bytes: a larger one (announced or streamed) is
    `TooLarge` before it is held in memory, as body-parser's `limit` refuses it. Read straight
    from `receive` (Starlette's stream() generator costs more than the small body it reads);
    `declared` is the Content-Length when the caller has already looked it up."""
    if declared is None:
        declared = header(request.scope, b"content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(declared)
    receive = request.receive
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body = message.get("body", b"")  # the usual body: one message
    else:
        body = await _parts(message, receive, limit)
    state = request.scope.get("state")
    if state is not None:  # for the journal: the body, or what was read of a larger one
        state[REQUEST_BODY] = body
    if len(body) > limit:
        raise TooLarge(str(len(body)))
    # Starlette's own cache: a later request.body() or stream() reads it again instead of
    # waiting on a receive that has nothing left.
    request._body = body
    return body


async def _parts(message: dict, receive, limit: int) -> bytes:
    """A body sent in several messages, from `message` on, read until it ends or until it is
    past `limit` bytes (then what was read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    break
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientDisconnect()
        message = await receive()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_rest(receive, limit: int, wait: float) -> bytes:
    """What the client sends of a body the app never read: until it ends, the client goes,
    more than `limit` bytes came (then what came) or `wait` seconds passed in all (then what
    came by then). Awaited in place, so nothing is left waiting once it returns."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(wait):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                if chunk:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        break
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        pass
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def declares_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """The request announces a body (a non-zero Content-Length or a Transfer-Encoding) and
    sends it without waiting for `100 Continue` (a client that waits sends none once it has
    its answer)."""
    body = False
    for k, v in headers:
        if k == b"content-length":
            body = v.strip() not in (b"0", b"")
        elif k == b"transfer-encoding":
            body = True
        elif k == b"expect" and v.strip().lower() == b"100-continue":
            return False
    return body


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH (or than Python's parser can recurse)."""


def as_js(x: float) -> int | float:
    """A double as JavaScript prints it. JS has one number type and writes an integer-valued one
    below 1e21 without a fraction or exponent, in its shortest digits (2**60 is
    1152921504606847000); Python writes 5.0 and 1e+17. So such a float becomes that int."""
    if math.isfinite(x) and x.is_integer() and abs(x) < 1e21:
        return int(x) if abs(x) < 2**53 else int(Decimal(repr(x)))
    return x


def load(text: str | bytes, **kw: Any) -> Any:
    """json.loads for untrusted bodies, as JSON.parse reads them: every number is a double, so
    `5.0` is 5, an integer past 2**53 loses its last digits, and one too long for Python's int()
    is Infinity (`1e400` too); nesting past MAX_DEPTH is a ValueError (`TooDeep`) like any other
    malformed body, never a RecursionError."""
    return Loader(**kw)(text)


class Loader:
    """`load` with its options (json.loads') given once, for a hot route's bodies (a
    module-level constant). json.loads with any option builds its decoder per call, and the
    decoder's `decode` matches whitespace with two regexes around the C scanner: together
    two thirds of a small body's parse. A Loader builds the decoder once and calls its
    scanner itself, with the same results and the same errors."""

    __slots__ = ("_scan",)

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("parse_int", _js_int)
        kw.setdefault("parse_float", _js_float)
        self._scan = json.JSONDecoder(**kw).scan_once

    def __call__(self, text: str | bytes) -> Any:
        # what json.loads does before its decoder
        if isinstance(text, str):
            if text.startswith("\ufeff"):
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)",
                                           text, 0)
        elif isinstance(text, (bytes, bytearray)):
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        else:
            raise TypeError("the JSON object must be str, bytes or bytearray, "
                            f"not {text.__class__.__name__}")
        # JSONDecoder.decode: JSON's whitespace around one value, "Extra data" after it
        size = len(text)
        try:
            data, end = self._scan(text, size - len(text.lstrip(_JSON_SPACE)))
        except StopIteration as err:
            raise json.JSONDecodeError("Expecting value", text, err.value) from None
        except RecursionError:
            raise TooDeep("nested too deeply") from None
        if end != size:
            end = size - len(text[end:].lstrip(_JSON_SPACE))
            if end != size:
                raise json.JSONDecodeError("Extra data", text, end)
        if isinstance(data, (dict, list)) and _brackets(text) > MAX_DEPTH and _too_deep(data):
            raise TooDeep("nested too deeply")
        return data


_JSON_SPACE = " \t\n\r"   # json.decoder.WHITESPACE's characters


def _js_int(literal: str) -> int | float:
    if len(literal) <= 15:  # below 2**53 whatever the digits: exact as a double too
        return int(literal)
    return as_js(float(literal))  # V8's double: rounded, or Infinity past its range


def _js_float(literal: str) -> int | float:
    return as_js(float(literal))


def _brackets(text: str | bytes) -> int:
    """An upper bound of the nesting, counted at C speed (most bodies stop here)."""
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _too_deep(data: Any) -> bool:
    level = [data]
    for _ in range(MAX_DEPTH):
        level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                 if isinstance(v, (dict, list))]
        if not level:
            return False
    return True


def dump(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as JSON.stringify, Jackson and Rails write it. As JSON.stringify also:
    NaN and ±Infinity (a body's 1e400, echoed) are null, a lone surrogate (a body's "\\ud800") is
    its \\u escape; so any value a client sent can be stored and sent back."""
    try:
        text = _dumps(obj)
    except ValueError:
        text = _dumps(finite(obj))
    return text.encode("utf-8", "backslashreplace")


def finite(obj: Any) -> Any:
    """`obj` with NaN and ±Infinity as None: what JSON.stringify makes of them, for JSON that
    other encoders write (a JWT's claims)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


# RFC 9110 names where Python's table keeps older ones; Node's, Spring's and Rack's use these.
_PHRASES = {413: "Payload Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable"}


def reason(status: int) -> str:
    """The reason phrase of `status` as the vendors' frameworks write it ("Error" if none)."""
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def form_or_json(body: bytes | None, content_type: str) -> dict[str, str]:
    """The string fields of a form or JSON object body ({} for anything else): where OAuth
    token calls carry their client credentials."""
    if not body:
        return {}
    if "x-www-form-urlencoded" in content_type:
        from urllib.parse import parse_qsl
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        data = load(body.decode("utf-8", "replace"))
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)}


class RawJSON:
    """A JSON response sent as two raw ASGI messages.

    Vendor responses are on the hot path; Starlette's Response builds and re-parses header objects
    we never need, so this one keeps a plain dict and encodes it once when sent. `content_type`
    is left to the vendor app, which sets its framework's (`Vendor.content_type`).
    """

    __slots__ = ("body", "status_code", "headers", "content_type")

    def __init__(self, body: bytes, status_code: int = 200,
                 headers: Mapping[str, str] | None = None) -> None:
        self.body = body
        self.status_code = status_code
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.content_type: bytes = b"application/json"

    async def __call__(self, scope, receive, send) -> None:
        raw = [(b"content-type", self.content_type),
               (b"content-length", str(len(self.body)).encode())]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def json_response(obj: Any, status_code: int = 200,
                  headers: Mapping[str, str] | None = None) -> RawJSON:
    return RawJSON(dump(obj), status_code=status_code, headers=headers)


class VendorError(Exception):
    """Raised anywhere in a vendor's handling; the vendor app turns it into the vendor's response
    (`body` None: no body at all)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> RawJSON:
        if self.body is None:  # an answer with no body (an empty 401 or 429)
            return RawJSON(b"", self.status, self.headers)
        return json_response(self.body, self.status, self.headers)


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of a header (lower-case `name`), as Starlette's `request.headers.get`
    reads it, straight from the ASGI list: cheaper than building Headers on a hot path."""
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


def authorization(scope: Mapping[str, Any], scheme: str) -> str | None:
    """The credentials of an `Authorization: <scheme> <credentials>` header (scheme matched
    case-insensitively), or None. Straight from the ASGI headers: auth runs on every request."""
    for k, header in scope["headers"]:  # a plain loop: cheaper than next() over a generator
        if k == b"authorization":
            break
    else:
        return None
    name, _, value = header.decode("latin-1").strip().partition(" ")
    value = value.strip()
    return value if name.lower() == scheme and value else None


def basic_credentials(scope: Mapping[str, Any]) -> tuple[str, str] | None:
    """(user, password) of HTTP Basic credentials, or None when absent or not base64 of UTF-8
    "user:password"."""
    value = authorization(scope, "basic")
    if value is None:
        return None
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode("utf-8") \
            .partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


def origin(request: Request) -> str:
    """scheme://host as this client reached the mock."""
    return f"{request.scope.get('scheme', 'http')}://{request.headers.get('host') or 'localhost'}"


def base_url(request: Request) -> str:
    """The vendor's base URL as this client reached it (prefix or real Host)."""
    return origin(request) + request.scope.get("root_path", "")


def original_url(request: Request) -> str:
    """The raw (still percent-encoded) path and query after the vendor prefix, as the client sent
    it (Express's originalUrl, Spring's request URI)."""
    scope = request.scope
    raw = scope.get("raw_path")
    if raw:
        path = raw.decode("latin-1").split("?", 1)[0][len(scope.get("root_path", "")):] or "/"
    else:
        path = scope["vendor_path"]
    qs = scope.get("query_string", b"")
    return path + ("?" + qs.decode("latin-1") if qs else "")
