"""Gravitec fixtures: sandbox credentials, the documented examples, helpers for common calls."""
from __future__ import annotations

import copy
import json
from typing import Any

import httpx

from mockserver.core.paths import data_dir

APP_KEY = "1e26f7bb3f81e1ab789d3e20b9cf6325"
APP_SECRET = "9bb59fcbff38b85647c421c65cca06ce"
SANDBOX = (APP_KEY, APP_SECRET)
FREE_KEY = "5d3c1a2b9e8f7a6b5c4d3e2f1a0b9c8d"       # the README's free-plan site
FREE_SECRET = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
FREE = (FREE_KEY, FREE_SECRET)
DOCUMENTED = data_dir("fixtures") / "gravitec" / "documented"
BASE = "/gravitec/api/v3"


def documented(name: str) -> Any:
    """A documented example, verbatim (fixtures/gravitec/documented/<name>.json)."""
    return json.loads((DOCUMENTED / f"{name}.json").read_text())


def push_body(**payload: Any) -> dict[str, Any]:
    """The documented push request with payload overrides (None removes a key)."""
    body = copy.deepcopy(documented("push.request"))
    for k, v in payload.items():
        if v is None:
            body["payload"].pop(k, None)
        else:
            body["payload"][k] = v
    return body


def push(client, body: dict[str, Any] | None = None, auth=SANDBOX, **kw: Any) -> httpx.Response:
    return client.post(f"{BASE}/push", json=push_body() if body is None else body, auth=auth,
                       **kw)


def stats(client, campaign_id: str, auth=SANDBOX) -> httpx.Response:
    return client.get(f"{BASE}/messages/{campaign_id}", auth=auth)


def add_subscriber(client, **body: Any) -> httpx.Response:
    return client.post("/__admin/gravitec/subscribers", json=body)


def site(app, role: str = "main", tenant: str = "default"):
    """A site's live state, for assertions on what a call changed."""
    return app.tenants.get(tenant).stores["gravitec"].sites[role]
