"""What the generic hostile-input test (tests/hostile/) cannot guess about Groove."""
from __future__ import annotations

from .conftest import bearer, tokens_for

# Every parameter the OAuth endpoints read (not `prompt`, whose answer is an HTML page).
QUERY_NAMES = ["client_id", "redirect_uri", "redirect_url", "scope", "state", "response_type",
               "grant_type", "code", "refresh_token", "client_secret"]


def valid_headers(client) -> list[dict[str, str]]:
    """A live access token of the default tenant."""
    return [bearer(tokens_for(client)["access_token"])]
