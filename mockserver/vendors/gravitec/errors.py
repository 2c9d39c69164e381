"""Gravitec's error bodies: its own (bad auth, wrong params) and Spring Boot's default ones."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ...core.http import VendorError, basic_credentials, original_url, reason

if TYPE_CHECKING:
    from starlette.requests import Request

    from .handlers import Gravitec

REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 415: "Unsupported Media Type",
           500: "Internal Server Error"}


def bad_auth(app_key: str | None) -> VendorError:
    """The documented 403. Java string concatenation writes a missing key as "null"."""
    return VendorError(403, {"status": "incomplete by bad auth",
                             "error_message": "There is no web site with appKey: "
                                              + ("null" if app_key is None else app_key)})


def wrong_param(description: str) -> VendorError:
    """The documented 422 shape; `errorDescription` is what clients read."""
    return VendorError(422, {"httpStatus": "UNPROCESSABLE_ENTITY",
                             "error": "Incomplete by wrong param(s)!",
                             "errorDescription": description})


def timestamp(now: float) -> str:
    """Spring Boot 2.2's error timestamp: Jackson's StdDateFormat, "+0000" offset."""
    dt = datetime.fromtimestamp(now, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def spring(status: int, message: str, path: str, now: float,
           headers: dict[str, str] | None = None) -> VendorError:
    """Spring Boot's BasicErrorController body (2.2: the message is included)."""
    return VendorError(status, {"timestamp": timestamp(now), "status": status,
                                "error": REASONS.get(status, "Error"), "message": message,
                                "path": path}, headers)


def missing_param(name: str, path: str, now: float) -> VendorError:
    """MissingServletRequestParameterException, Spring 5.2's wording."""
    return spring(400, f"Required String parameter '{name}' is not present", path, now)


def internal_error() -> VendorError:
    # No clock here (a handler bug): the epoch keeps the body's shape.
    return spring(500, "No message available", "/", 0.0)


def fault(g: "Gravitec", request: "Request", status: int) -> VendorError:
    """Gravitec's answer for `status` when nothing more is said: its documented 403 (bad auth)
    and 422 shapes, else Spring Boot's error body with its default "No message available"."""
    if status == 403:
        creds = basic_credentials(request.scope)
        return bad_auth(creds[0] if creds else None)
    if status == 422:
        return wrong_param(reason(422))
    return VendorError(status, {"timestamp": timestamp(g.ctx.clock.time()), "status": status,
                                "error": reason(status), "message": "No message available",
                                "path": path_of(request)})


def path_of(request: "Request") -> str:
    """The servlet request URI Spring puts in its error bodies (no query string)."""
    return original_url(request).split("?", 1)[0]
