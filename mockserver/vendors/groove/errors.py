"""Groove's error bodies: Doorkeeper's OAuth errors, Rails' 404, graphql-ruby's errors."""
from __future__ import annotations

from ...core.http import VendorError

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
