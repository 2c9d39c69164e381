"""Passage Connect's error bodies: `{"error": "<message>"}`, and for a refused body
`{"error": "Validation failed", "issues": [{"path", "message"}]}` (docs.getpassage.ai/errors,
passage-skills types.md)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.http import VendorError, reason

if TYPE_CHECKING:
    from starlette.requests import Request

    from .handlers import Passage

LINK_NOT_FOUND = "Link not found"                 # the errors page's own example
BAD_CODE = "Invalid claim code"
USED = "Link has already been used"
CLAIMING = "Link is already being claimed"
EXPIRED = "Link has expired"
UNAUTHORIZED = "Missing or invalid API key"       # the status table's description
KEY_NOT_FOUND = "Key not found"


def error(status: int, message: str) -> VendorError:
    return VendorError(status, {"error": message})


def validation(issues: list[tuple[str, str]]) -> VendorError:
    return VendorError(400, {"error": "Validation failed",
                             "issues": [{"path": p, "message": m} for p, m in issues]})


def unauthorized() -> VendorError:
    return error(401, UNAUTHORIZED)


def link_not_found() -> VendorError:
    return error(404, LINK_NOT_FOUND)


def route_not_found() -> VendorError:
    return error(404, "Not Found")


def payload_too_large() -> VendorError:
    return error(413, "Payload Too Large")


def internal_error() -> VendorError:
    return error(500, "Internal Server Error")


def fault(g: "Passage", request: "Request", status: int) -> VendorError:
    """A status fault with no body: the API's `{"error": <description>}` for it (the status
    table's own words for 401 and 502)."""
    if status == 401:
        return unauthorized()
    if status == 502:
        return error(502, "Upstream service error")
    return error(status, reason(status))
