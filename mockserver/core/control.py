"""What control-plane routes share, the core's and each vendor's `admin.py` alike.

Vendor packages build their `/__admin/<vendor>/...` routes from these, so they never import the
admin package (the control plane stays apart from vendor routing).
"""
from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from .datadir import note
from .http import TooLarge, dump, finite, header, load, read_limited

T = TypeVar("T")
BODY_LIMIT = 1024 * 1024  # no admin call needs more; a larger body is refused unread
# An answer encoded off the event loop is sent in pieces of about this size: no step of its
# encoding or sending copies more at once (a 60 MB export joined into one block would hold the
# interpreter, and so every other request, for tens of milliseconds).
PIECE = 256 * 1024

if TYPE_CHECKING:
    from .tenancy import Tenant, Tenants


class JSON(JSONResponse):
    """Every control-plane JSON answer: `dump`'s bytes, so whatever a client stored (a lone
    surrogate, a NaN) and the journal shows back renders instead of failing as a 500."""

    def render(self, content: Any) -> bytes:
        return dump(content)


class ControlError(Exception):
    """An admin call's refusal: `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _finite(name: str) -> float:
    raise ValueError(name)


async def body_json(request: Request) -> dict[str, Any]:
    """The JSON object an admin call was sent ({} for none). NaN/Infinity and bodies nested past
    what Python can hold are refused like any malformed JSON."""
    try:
        raw = await read_limited(request, BODY_LIMIT)
    except TooLarge:
        raise ControlError(413, "the body is larger than 1 MiB") from None
    if not raw.strip():
        return {}
    try:
        data = load(raw, parse_constant=_finite)
    except ValueError:
        raise ControlError(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def tenant_of(tenants: "Tenants", body: dict[str, Any]) -> "Tenant":
    """The tenant a vendor admin call acts on: the body's "tenant", else the default."""
    tid = body.get("tenant")
    tenant = tenants.default if tid is None else \
        tenants.get(str(tid)) if isinstance(tid, str) else None
    if tenant is None:
        raise ControlError(404, f"no tenant {tid}")
    note(tenant.id)  # --data-dir writes its state after the call
    return tenant


def finite_number(value: Any) -> bool:
    # An int is finite however large (math.isfinite would overflow converting 10**400).
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and (isinstance(value, int) or math.isfinite(value))


class Pieces:
    """A JSON answer already encoded in pieces (`encode_pieces`), sent as they are."""

    __slots__ = ("pieces", "status_code")

    def __init__(self, pieces: list[bytes], status_code: int = 200) -> None:
        self.pieces = pieces
        self.status_code = status_code

    async def __call__(self, scope, receive, send) -> None:
        pieces = self.pieces or [b""]
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(sum(map(len, pieces))).encode())]})
        last = len(pieces) - 1
        for i in range(last + 1):
            # each piece freed once sent: freeing 60 MB at the end is one long step
            piece, pieces[i] = pieces[i], b""
            await send({"type": "http.response.body", "body": piece, "more_body": i < last})


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread, for work that reads only what it is given (a body, an
    export taken on the loop) or lookups that are atomic. An exception comes back without its
    traceback and context: their frames hold what `fn` parsed (the 200,000 objects of a 1 MiB
    body), and the thread pool's future would keep them in a reference cycle that only a full
    collection frees, a pause of tens of milliseconds for every other request."""
    def run() -> tuple[Any, BaseException | None]:
        try:
            return fn(*args), None
        except Exception as exc:  # noqa: BLE001 - re-raised on the loop, below
            exc.__traceback__ = exc.__context__ = exc.__cause__ = None
            return None, exc

    result, error = await run_in_threadpool(run)
    if error is not None:
        raise error
    return result


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_pieces(obj: Any) -> list[bytes]:
    """`dump(obj)` in pieces of about PIECE bytes, for a worker thread. json's own pure-Python
    encoder (`iterencode`, not one-shot) writes a token at a time, so the interpreter can switch
    to the event loop between any two: the C encoder that `dump` uses would hold it for the
    whole document."""
    try:
        return _pieces(_ENCODER.iterencode(obj))
    except ValueError:  # NaN or Infinity: written as null, as dump writes them
        return _pieces(_ENCODER.iterencode(finite(obj)))


def _pieces(tokens: Iterable[str]) -> list[bytes]:
    out: list[bytes] = []
    group: list[str] = []
    size = 0
    for token in tokens:
        group.append(token)
        size += len(token)
        if size >= PIECE:
            out.append("".join(group).encode("utf-8", "backslashreplace"))
            group, size = [], 0
    if group:
        out.append("".join(group).encode("utf-8", "backslashreplace"))
    return out


def join_pieces(head: bytes, items: Iterable[bytes], tail: bytes) -> list[bytes]:
    """`head` + items joined by commas + `tail`, grouped into pieces of about PIECE bytes."""
    out: list[bytes] = []
    group: list[bytes] = [head]
    size = len(head)
    for n, item in enumerate(items):
        if n:
            group.append(b",")
        group.append(item)
        size += len(item) + 1
        if size >= PIECE:
            out.append(b"".join(group))
            group, size = [], 0
    group.append(tail)
    out.append(b"".join(group))
    return out


async def read_parts(request: Request, limit: int) -> list[bytes]:
    """A body as the parts it arrived in, never joined here: a 64 MiB body joined on the event
    loop is one copy that holds it for tens of milliseconds. `TooLarge` past `limit` bytes
    (announced or sent), `ClientDisconnect` when the client leaves first."""
    declared = header(request.scope, b"content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(declared)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise TooLarge(str(size))
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts
