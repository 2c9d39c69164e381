"""Integry's error bodies: Django REST Framework's `{"detail": ...}` and the documented ones."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.http import VendorError

if TYPE_CHECKING:
    from starlette.requests import Request

    from .handlers import Integry

CALL_INVALID = ("Could not call the function due to invalid input. Please see `error_details` "
                "for further information.")
CALL_NOT_CONNECTED = ("Could not call the function because the user has not connected an "
                      "account. Please see `error_details` for further information.")
REQUIRED = "This parameter is required and must not be null or empty"


def detail(status: int, message: str) -> VendorError:
    return VendorError(status, {"detail": message})


def not_provided() -> VendorError:
    return detail(403, "Authentication credentials were not provided.")


def incorrect() -> VendorError:
    return detail(403, "Incorrect authentication credentials.")


def not_found(what: str = "") -> VendorError:
    """DRF's NotFound: the route's "Not found." or the documented "App not found"."""
    return detail(404, what or "Not found.")


def method_not_allowed(method: str) -> VendorError:
    return detail(405, f'Method "{method}" not allowed.')


def parse_error(message: str) -> VendorError:
    return detail(400, f"JSON parse error - {message}")


def unsupported_media(ctype: str) -> VendorError:
    return detail(415, f'Unsupported media type "{ctype}" in request.')


def field_errors(errors: dict[str, Any]) -> VendorError:
    """A serializer's 400: `{field: [messages]}` (the predict prompt's is a string)."""
    return VendorError(400, errors)


def call_failed(error: str, details: Any) -> VendorError:
    return VendorError(400, {"error": error, "error_details": details})


def internal_error() -> VendorError:
    return detail(500, "A server error occurred.")


# DRF's exceptions' default details (rest_framework/exceptions.py)
DEFAULT_DETAIL = {400: "Malformed request.",                       # ParseError
                  401: "Authentication credentials were not provided.",  # NotAuthenticated
                  403: "You do not have permission to perform this action.",  # PermissionDenied
                  404: "Not found.", 406: "Could not satisfy the request Accept header.",
                  429: "Request was throttled.", 500: "A server error occurred."}


def fault(g: "Integry", request: "Request", status: int) -> VendorError:
    """DRF's answer for `status` when nothing more is said: the default detail of its exception
    for it, else APIException's own ("A server error occurred.")."""
    if status == 405:
        return method_not_allowed(request.method)
    if status == 415:
        return unsupported_media(request.headers.get("content-type", ""))
    return detail(status, DEFAULT_DETAIL.get(status, DEFAULT_DETAIL[500]))
