"""What control-plane routes share, the core's and each vendor's `admin.py` alike.

Vendor packages build their `/__admin/<vendor>/...` routes from these, so they never import the
admin package (the control plane stays apart from vendor routing).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .http import TooLarge, dump, load, read_limited

BODY_LIMIT = 1024 * 1024  # no admin call needs more; a larger body is refused unread

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
    if tid is None:
        return tenants.default
    tenant = tenants.get(str(tid)) if isinstance(tid, str) else None
    if tenant is None:
        raise ControlError(404, f"no tenant {tid}")
    return tenant


def finite_number(value: Any) -> bool:
    # An int is finite however large (math.isfinite would overflow converting 10**400).
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and (isinstance(value, int) or math.isfinite(value))
