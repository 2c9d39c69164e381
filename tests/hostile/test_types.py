"""Wrong types: each property of each request contract in turn holds each of `WRONG_TYPES`."""
from __future__ import annotations

import itertools
import json
from typing import Any

from ..conftest import CONTRACTS
from .harness import Harness, Req, fills
from .material import WRONG_TYPES


def _base(schema: dict, h: Harness, name: str | None = None) -> Any:
    """A valid instance of a request schema, its strings the state's first under that key."""
    kind = schema.get("type")
    if kind == "string":
        return (h.by_key.get(name or "") or ["x"])[0]
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return 1
    if kind == "array":
        return []
    return {k: _base(v, h, k) for k, v in schema.get("properties", {}).items()
            if k in schema.get("required", ())}


def test_every_body_property_with_every_wrong_type(h):
    """Each property of each request contract in turn holds each hostile value while the rest
    of the body is valid, so the value meets whatever the handler does with it."""
    for vendor, methods, template in h.body_routes:
        for method in methods:
            route = CONTRACTS.route(vendor, method, template)
            if route is None or route.request is None:
                continue
            schema = CONTRACTS.validator(vendor, route.request).schema
            auth = [(k.lower().encode(), v.encode()) for k, v in h.valid[vendor][0].items()]
            headers = auth + [(b"content-type", b"application/json")]
            for prop, value in itertools.product(schema.get("properties", {}), WRONG_TYPES):
                body = {**_base(schema, h), prop: value}
                h.send(Req(method, f"/{vendor}{next(fills(template, h.records[0]))}", headers,
                           json.dumps(body).encode("utf-8", "surrogatepass")))
    h.journal_renders()
