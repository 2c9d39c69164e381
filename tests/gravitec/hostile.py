"""What the generic hostile-input test (tests/hostile/) cannot guess about Gravitec."""
from __future__ import annotations

import base64

from .conftest import APP_KEY, APP_SECRET, FREE_KEY, FREE_SECRET

QUERY_NAMES = ["regId", "name", "campaignID"]


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def valid_headers(client) -> list[dict[str, str]]:
    """The sandbox site's Basic credentials first, then the free-plan site's."""
    return [_basic(APP_KEY, APP_SECRET), _basic(FREE_KEY, FREE_SECRET)]
