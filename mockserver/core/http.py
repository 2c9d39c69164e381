"""Small response helpers shared by the vendors: exact JSON bytes, no Starlette defaults leaking."""
from __future__ import annotations

import json
from typing import Any, Mapping

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_JSON_TYPE = (b"content-type", b"application/json; charset=utf-8")


def dump(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as JSON.stringify, Jackson and Rails write it."""
    return _dumps(obj).encode("utf-8")


class RawJSON:
    """A JSON response sent as two raw ASGI messages.

    Vendor responses are on the hot path; Starlette's Response builds and re-parses header objects
    we never need, so this one keeps a plain dict and encodes it once when sent.
    """

    __slots__ = ("body", "status_code", "headers")

    def __init__(self, body: bytes, status_code: int = 200,
                 headers: Mapping[str, str] | None = None) -> None:
        self.body = body
        self.status_code = status_code
        self.headers: dict[str, str] = dict(headers) if headers else {}

    async def __call__(self, scope, receive, send) -> None:
        raw = [_JSON_TYPE, (b"content-length", str(len(self.body)).encode())]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def json_response(obj: Any, status_code: int = 200,
                  headers: Mapping[str, str] | None = None) -> RawJSON:
    return RawJSON(dump(obj), status_code=status_code, headers=headers)


class VendorError(Exception):
    """Raised anywhere in a vendor's handling; the vendor app turns it into the vendor's response."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> RawJSON:
        return json_response(self.body, self.status, self.headers)
