"""NestJS error bodies, as Gravy Connect's framework writes them."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.http import VendorError, reason

if TYPE_CHECKING:
    from starlette.requests import Request

    from .handlers import Gravy

REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error"}


def http_error(status: int, message: str | list[str]) -> VendorError:
    """What `throw new XxxException(message)` renders."""
    return VendorError(status, {"statusCode": status, "message": message,
                                "error": REASONS.get(status, "Error")})


def unauthorized() -> VendorError:
    """A guard's bare UnauthorizedException: no `error` key."""
    return VendorError(401, {"statusCode": 401, "message": "Unauthorized"})


def not_found(message: str) -> VendorError:
    return http_error(404, message)


def bad_request(message: str) -> VendorError:
    return http_error(400, message)


def payload_too_large() -> VendorError:
    """body-parser's PayloadTooLargeError (raw-body's wording), rendered as NestJS renders it."""
    return http_error(413, "request entity too large")


def route_not_found(method: str, url: str) -> VendorError:
    """Express/NestJS for an unmatched route; `url` is originalUrl, query string included."""
    return http_error(404, f"Cannot {method} {url}")


def validation_failed(errors: list[tuple[str, dict[str, str]]]) -> VendorError:
    """ValidationPipe's exception: flattened messages plus the errorCode/details clients read.

    Each entry's constraints keep class-validator's keys and add `message`, their text joined:
    the Passage web SDK shows `property: constraints.custom || constraints.message`.
    """
    messages = [m for _, constraints in errors for m in constraints.values()]
    return VendorError(400, {
        "statusCode": 400, "message": messages, "error": "Bad Request",
        "errorCode": "VALIDATION_001",
        "details": [{"property": prop, "constraints": with_message(constraints)}
                    for prop, constraints in errors],
    })


def with_message(constraints: dict[str, str]) -> dict[str, str]:
    return {**constraints, "message": ", ".join(constraints.values())}


def internal_error() -> VendorError:
    return VendorError(500, {"statusCode": 500, "message": "Internal server error"})


def fault(g: "Gravy", request: "Request", status: int) -> VendorError:
    """What NestJS answers for `status` when nothing more is said: a bare `XxxException()` is
    `{"statusCode", "message": <its description>}`; 401 is the guard's, 500 the filter's."""
    if status == 401:
        return unauthorized()
    if status == 500:
        return internal_error()
    return VendorError(status, {"statusCode": status, "message": reason(status)})
