"""The specs the mock serves about its vendors, built from contracts/ and cached as bytes.

`GET /<prefix>/openapi.json`: an OpenAPI 3.1 document for each vendor whose
`contracts/<vendor>/index.json` has an `"openapi"` section (info, servers, security schemes);
its routes' `paths`, `summary`, `security`, `parameters` (`parametersByPath` for one path only)
and `requestBody` become the operations, their `responses` the documented statuses. Each schema
file becomes `components/schemas/<file name>` with its relative `$ref`s rewritten to point there.
`GET /<prefix>/schema.graphql`: `contracts/<vendor>/schema.graphql` as it is (Groove).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

from starlette.types import Receive, Scope, Send

from .http import dump

DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENTS = "#/components/schemas/"
SPEC_SUFFIXES = ("/openapi.json", "/schema.graphql")   # app.py tests these before a dict lookup
SDL_TYPE = "application/graphql; charset=utf-8"
OPENAPI_TYPE = "application/json"
JSON_MEDIA = "application/json"
STATUS_TEXT = {"1XX": "Informational", "2XX": "Success", "3XX": "Redirect",
               "4XX": "Client error", "5XX": "Server error"}


def rewrite_refs(node: Any, own: str) -> Any:
    """A contract schema with every `$ref` pointed into components/schemas: `x.json` and
    `x.json#/p` name another file's component, `#/p` a part of this file's (`own`)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                file, _, pointer = value.partition("#")
                out[key] = COMPONENTS + (file or own) + pointer
            else:
                out[key] = rewrite_refs(value, own)
        return out
    if isinstance(node, list):
        return [rewrite_refs(v, own) for v in node]
    return node


def component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A contract file as a component: its `$id` and `$schema` left out (the document is the
    base for its `$ref`s and `jsonSchemaDialect` names the dialect), refs rewritten."""
    return rewrite_refs({k: v for k, v in schema.items() if k not in ("$id", "$schema")}, name)


def operation_id(method: str, path: str) -> str:
    return method.lower() + "_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


def _response(status: str, name: str | None, schemas: dict[str, dict]) -> dict[str, Any]:
    if name is None:
        return {"description": "No content"}
    title = schemas[name].get("title") or STATUS_TEXT.get(status, "Response")
    return {"description": title,
            "content": {JSON_MEDIA: {"schema": {"$ref": COMPONENTS + name}}}}


def vendor_document(root: Path, vendor: str) -> dict[str, Any] | None:
    """The vendor's OpenAPI document, or None when its index has no "openapi" section."""
    folder = root / vendor
    index = json.loads((folder / "index.json").read_text())
    meta = index.get("openapi")
    if meta is None:
        return None
    schemas = {f.name: json.loads(f.read_text())
               for f in sorted(folder.glob("*.json")) if f.name != "index.json"}
    paths: dict[str, dict[str, Any]] = {}
    for route in index["routes"]:
        for path in route.get("paths", ()):   # the catch-all route has none
            params = [p for p in route.get("parameters", ())
                      if p["in"] != "path" or "{" + p["name"] + "}" in path]
            params += route.get("parametersByPath", {}).get(path, [])
            op: dict[str, Any] = {"operationId": operation_id(route["method"], path),
                                  "summary": route.get("summary", "")}
            if params:
                op["parameters"] = params
            if "requestBody" in route:
                op["requestBody"] = rewrite_refs(route["requestBody"], "")
            op["responses"] = {status: _response(status, name, schemas)
                               for status, name in route["responses"].items()}
            if "security" in route:
                op["security"] = route["security"]
            paths.setdefault(path, {})[route["method"].lower()] = op
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": meta["info"],
        "servers": meta["servers"],
        "paths": paths,
        "components": {"schemas": {name: component(s, name) for name, s in schemas.items()},
                       "securitySchemes": meta.get("securitySchemes", {})},
    }


class Specs:
    """`/<vendor>/openapi.json` and `/<vendor>/schema.graphql` for the mounted vendors: found and
    built on first request, then served from bytes."""

    def __init__(self, root: Path, vendors: Iterable[str]) -> None:
        self.root = root
        self.vendors = tuple(vendors)
        self._index: dict[str, tuple[str, str]] | None = None   # URL path -> (vendor, file)
        self._built: dict[str, tuple[bytes, str]] = {}

    def _find(self) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for vendor in self.vendors:
            folder = self.root / vendor
            index = folder / "index.json"
            if index.is_file() and "openapi" in json.loads(index.read_text()):
                found[f"/{vendor}/openapi.json"] = (vendor, "openapi.json")
            if (folder / "schema.graphql").is_file():
                found[f"/{vendor}/schema.graphql"] = (vendor, "schema.graphql")
        return found

    def paths(self) -> list[str]:
        if self._index is None:
            self._index = self._find()
        return sorted(self._index)

    def get(self, path: str) -> tuple[bytes, str] | None:
        """(body, content type) of the spec at this URL path, or None."""
        hit = self._built.get(path)
        if hit is not None:
            return hit
        if self._index is None:
            self._index = self._find()
        where = self._index.get(path)
        if where is None:
            return None
        vendor, name = where
        if name == "schema.graphql":
            hit = ((self.root / vendor / name).read_bytes(), SDL_TYPE)
        else:
            hit = (dump(vendor_document(self.root, vendor)), OPENAPI_TYPE)
        self._built[path] = hit
        return hit

    async def serve(self, path: str, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer a spec URL (GET or HEAD; 405 otherwise); False when `path` names none."""
        hit = self.get(path)
        if hit is None:
            return False
        body, ctype = hit
        method = scope["method"]
        status = 200
        headers = [(b"content-type", ctype.encode())]
        if method not in ("GET", "HEAD"):
            status, body = 405, dump({"error": f"{path} answers GET and HEAD"})
            headers = [(b"content-type", b"application/json"), (b"allow", b"GET, HEAD")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        return True
