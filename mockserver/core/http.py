"""Small response helpers shared by the vendors: exact JSON bytes, no Starlette defaults leaking."""
from __future__ import annotations

import json
from typing import Any, Mapping

from starlette.responses import Response

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dump(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as JSON.stringify, Jackson and Rails write it."""
    return _dumps(obj).encode("utf-8")


class RawJSON(Response):
    """A response whose body is already-encoded JSON (pre-rendered items on hot paths)."""

    media_type = "application/json; charset=utf-8"

    def __init__(self, body: bytes, status_code: int = 200,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body, status_code=status_code, headers=headers)


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

    def response(self, extra_headers: Mapping[str, str] | None = None) -> RawJSON:
        headers = dict(extra_headers or {})
        headers.update(self.headers)
        return json_response(self.body, self.status, headers)
