"""What the generic hostile-input test (tests/hostile/) cannot guess about Integry."""
from __future__ import annotations

from .conftest import headers

QUERY_NAMES = ["_cursor", "connected_only", "app", "type", "include", "search",
               "predict_arguments", "connected_account_id", "allow_workspace_connected_accounts",
               "app_key", "user_id", "hash"]


def valid_headers(client) -> list[dict[str, str]]:
    """Signed headers of the sandbox user, and of a user with no connected accounts."""
    return [headers(), headers("hostile-user")]
