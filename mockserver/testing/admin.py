"""Talking to the control plane: its client, and its refusals as an exception."""
from __future__ import annotations

from typing import Any

import httpx


class MockServerError(Exception):
    """The control plane refused a call (its `{"error": ...}` message), or could not be reached."""


def checked(response: httpx.Response) -> httpx.Response:
    """`response`, or MockServerError with the control plane's message when it refused."""
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise MockServerError(f"{response.request.method} {response.request.url.path} -> "
                              f"{response.status_code}: {message}")
    return response


def admin_client(base_url: str, admin_token: str | None = None, **kw: Any) -> httpx.Client:
    headers = {"X-Admin-Token": admin_token} if admin_token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=10, **kw)
