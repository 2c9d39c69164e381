"""Building blocks of the control plane's OpenAPI document (GET /__admin/openapi.json).

In the core so that each vendor's `admin.py` describes its own `/__admin/<vendor>/...` calls
(`admin.OPENAPI`) without importing the control plane.
"""
from __future__ import annotations

from typing import Any, Iterable

REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def obj(required: Iterable[str] = (), **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ANY: dict[str, Any] = {}
TENANT = {"type": "string", "description": "the tenant acted on; the default tenant when absent"}
NULL_STR = {"type": ["string", "null"]}

def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def answer(schema: dict[str, Any] | None, what: str = "OK",
           media: str = "application/json") -> dict[str, Any]:
    if schema is None:
        return {"description": what}
    return {"description": what, "content": {media: {"schema": schema}}}


ERROR = answer(ref("Error"), "refused")


def op(summary: str, ok: dict[str, Any], *, status: str = "200", body: dict | None = None,
       query: Iterable[tuple[str, dict]] = (), errors: Iterable[str] = ("400",)) -> dict:
    out: dict[str, Any] = {"summary": summary}
    params = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in query]
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = body
    out["responses"] = {status: ok, **{e: ERROR for e in errors}}
    return out
