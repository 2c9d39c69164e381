"""Groove's error bodies: Doorkeeper's OAuth errors, Rails' 404, graphql-ruby's errors."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.http import VendorError, reason
from ...core.ratelimit import reset_at
from .store import RATE_LIMIT, store_of

if TYPE_CHECKING:
    from starlette.requests import Request

    from .handlers import Groove

# Doorkeeper's descriptions (config/locales/en.yml)
DESCRIPTIONS = {
    "invalid_grant": "The provided authorization grant is invalid, expired, revoked, does not "
                     "match the redirection URI used in the authorization request, or was issued "
                     "to another client.",
    "invalid_client": "Client authentication failed due to unknown client, no client "
                      "authentication included, or unsupported authentication method.",
    "unsupported_grant_type": "The authorization grant type is not supported by the "
                              "authorization server.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "invalid_redirect_uri": "The requested redirect uri is malformed or doesn't match client "
                            "redirect URI.",
    "unsupported_response_type": "The authorization server does not support this response "
                                 "type.",
    "access_denied": "The resource owner or authorization server denied the request.",
    "invalid_request": "The request is missing a required parameter, includes an unsupported "
                       "parameter value, or is otherwise malformed.",
}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth(error: str, status: int | None = None, description: str | None = None) -> VendorError:
    """`{"error", "error_description"}`: 401 for invalid_client, 400 otherwise."""
    if status is None:
        status = 401 if error == "invalid_client" else 400
    return VendorError(status, {"error": error,
                                "error_description": description or DESCRIPTIONS[error]},
                       NO_STORE)


def missing(name: str) -> VendorError:
    return oauth("invalid_request", 400, f"Missing required parameter: {name}.")


def invalid_token(reason: str) -> VendorError:
    """doorkeeper_authorize!: an empty 401 whose WWW-Authenticate says why."""
    description = {"expired": "The access token expired",
                   "revoked": "The access token was revoked"}.get(reason,
                                                                  "The access token is invalid")
    return VendorError(401, None, {"WWW-Authenticate":
                                   f'Bearer realm="Doorkeeper", error="invalid_token", '
                                   f'error_description="{description}"'})


def rails(status: int, error: str) -> VendorError:
    """ActionDispatch::PublicExceptions for a JSON client: `{"status", "error"}`."""
    return VendorError(status, {"status": status, "error": error})


def not_found() -> VendorError:
    return rails(404, "Not Found")


def internal_error() -> VendorError:
    return rails(500, "Internal Server Error")


def graphql_errors(status: int, *messages: tuple[str, str]) -> VendorError:
    """A request graphql-ruby cannot run: `{"errors": [{"message", "extensions": {"code"}}]}`."""
    return VendorError(status, {"errors": [{"message": m, "extensions": {"code": c}}
                                           for m, c in messages]})


def rate_limited(limit: int, now: float) -> VendorError:
    """The documented empty 429 with its rate-limit headers, for a token that has just spent
    its `limit` calls: Reset is when that window slides back below the limit."""
    return VendorError(429, None, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                                   "X-RateLimit-Reset": str(reset_at(int(now * 1000), 0, limit,
                                                                     limit))})


def fault(g: "Groove", request: "Request", status: int) -> VendorError:
    """Groove's answer for `status` when nothing more is said: the documented empty 429;
    Doorkeeper's own 400 and 401 on its OAuth routes, its empty invalid_token 401 on the API;
    else Rails' public exception body. The 429 counts the tenant's own limit."""
    path = request.scope["vendor_path"]
    if status == 429:
        tenant = g.tenants.get(request.scope["state"].get("tenant") or "")
        limit = store_of(tenant).rate_limit if tenant is not None else RATE_LIMIT
        return rate_limited(limit, g.ctx.clock.time())
    if path.startswith("/oauth/") and status in (400, 401):
        return oauth("invalid_request" if status == 400 else "invalid_client")
    if path.startswith("/api/") and status == 401:
        return invalid_token("invalid")
    return rails(status, reason(status))
