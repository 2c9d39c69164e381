"""Helpers the Integry tests share: the vendor doc's samples, connected accounts, store state."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..conftest import vendor_doc
from .conftest import headers

ADMIN_ACCOUNTS = "/__admin/integry/connected-accounts"


def doc_path() -> Path | None:
    return vendor_doc("integry.txt")


@dataclass
class Curl:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


_CURL = re.compile(r"curl -X (\w+) \"([^\"]+)\"\n((?:-H '[^']*' *\n)*)(?:-d '(.*?)'\n)?", re.S)


def curls(text: str) -> list[Curl]:
    """Every curl of the page, in page order (a -d body runs to the quote ending its line)."""
    return [Curl(m.group(1), m.group(2),
                 dict(h.split(": ", 1) for h in re.findall(r"-H '([^']*)'", m.group(3))),
                 m.group(4))
            for m in _CURL.finditer(text)]


def responses(text: str) -> list[Any]:
    """The JSON after every "Sample Response / 200 OK", in page order."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(text, m.end())[0]
            for m in re.finditer(r"Sample Response\n\n200 OK\n", text)]


def store(app, tenant: str = "default"):
    return app.tenants.get(tenant).stores["integry"]


def snapshot(app, tenant: str = "default") -> Any:
    return app.vendors["integry"].snapshot(store(app, tenant))


def connect(client, user: str, app_name: str, **extra: Any) -> dict[str, Any]:
    r = client.post(ADMIN_ACCOUNTS, json={"userId": user, "app": app_name, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def walk(client, path: str, key: str, *, params: dict[str, str] | None = None,
         cursor_in: str = "body", user_id: str = "123456",
         hdrs: dict[str, str] | None = None) -> list[list[dict[str, Any]]]:
    """Every page of a list call, following `_cursor` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = dict(params or {})
        body: dict[str, Any] = {}
        if cursor is not None:
            if cursor_in == "body":
                body["_cursor"] = cursor
            else:
                query["_cursor"] = cursor
        r = client.post("/integry" + path, params=query, json=body,
                        headers=hdrs or headers(user_id))
        assert r.status_code == 200, r.text
        pages.append(r.json()[key])
        cursor = r.json()["_cursor"]
        assert cursor != ""  # the Python SDK would start over forever
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor never ends"
