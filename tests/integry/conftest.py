"""Integry fixtures: the sandbox app's credentials and signed calls."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

APP_KEY = "002d4f23-778a-11e7-bf2a-42010a8002c7"
APP_SECRET = "integry-sandbox-secret"
USER_ID = "123456"
DOC_HASH = "08c123c88c6ee6b102710fcd00017c45250125e3a934d96750f4f70effece85a"  # the doc's curls
BASE = "/integry"


def sign(user_id: str = USER_ID, secret: str = APP_SECRET) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def headers(user_id: str = USER_ID, app_key: str = APP_KEY,
            secret: str = APP_SECRET) -> dict[str, str]:
    return {"App-Key": app_key, "User-ID": user_id, "Hash": sign(user_id, secret)}


def call(client, path: str, body: Any = None, user_id: str = USER_ID, **kw: Any) -> httpx.Response:
    """A signed POST the way the Python SDK sends it (headers, trailing slash, JSON body)."""
    extra = kw.pop("headers", {})
    if body is None:
        return client.post(BASE + path, headers={**headers(user_id), **extra}, **kw)
    return client.post(BASE + path, json=body, headers={**headers(user_id), **extra}, **kw)
