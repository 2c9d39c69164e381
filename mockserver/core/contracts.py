"""JSON Schemas of every vendor request and response, loaded once from contracts/<vendor>/.

`contracts/<vendor>/index.json` maps (method, path regex) to a request schema and to response
schemas by status ("200", "4XX"), null for a status answered with no body, and says with
`"ignoreCase": false` that the vendor routes case-sensitively; files reference each other by
relative `$ref`. The index's `openapi` section and each route's `paths`, `summary`, `security`,
`parameters` and `requestBody` only feed the served OpenAPI document (core/openapi.py); matching
reads `method` and `pattern` alone.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .paths import data_dir


class ContractError(AssertionError):
    """A body that its contract rejects (an AssertionError so pytest reports it plainly)."""


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern
    request: str | None
    responses: dict[str, str]


class Contracts:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or data_dir("contracts")
        resources: list[tuple[str, Resource]] = []
        self._schemas: dict[tuple[str, str], dict] = {}
        self._routes: dict[str, list[_Route]] = {}
        for vendor_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            vendor = vendor_dir.name
            for f in sorted(vendor_dir.glob("*.json")):
                doc = json.loads(f.read_text())
                if f.name == "index.json":
                    # DOTALL: a decoded path may hold any character, "\n" too; paths match
                    # in any letter case unless the vendor's framework routes case-sensitively
                    flags = re.DOTALL | (re.IGNORECASE if doc.get("ignoreCase", True) else 0)
                    self._routes[vendor] = [
                        _Route(r["method"].upper(), re.compile(r["pattern"], flags),
                               r.get("request"), r["responses"]) for r in doc["routes"]]
                    continue
                self._schemas[(vendor, f.name)] = doc
                resources.append((doc["$id"], Resource.from_contents(doc)))
        self._registry = Registry().with_resources(resources)
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    def validator(self, vendor: str, name: str) -> Draft202012Validator:
        key = (vendor, name)
        v = self._validators.get(key)
        if v is None:
            v = self._validators[key] = Draft202012Validator(self._schemas[key],
                                                             registry=self._registry)
        return v

    def route(self, vendor: str, method: str, path: str) -> _Route | None:
        if "//" in path:  # vendors that merge repeated slashes answer as the merged path
            path = re.sub("/{2,}", "/", path)
        for r in self._routes.get(vendor, ()):
            if r.method in ("*", method.upper()) and r.pattern.fullmatch(path):
                return r
        return None

    def response_schema(self, vendor: str, method: str, path: str, status: int) -> str | None:
        r = self.route(vendor, method, path)
        if r is None:
            return None
        return r.responses.get(str(status)) or r.responses.get(f"{str(status)[0]}XX")

    def expects_no_body(self, vendor: str, method: str, path: str, status: int) -> bool:
        """True where the index maps this status to null: the vendor answers with no body."""
        r = self.route(vendor, method, path)
        return r is not None and str(status) in r.responses and r.responses[str(status)] is None

    def check(self, vendor: str, name: str, body: Any, what: str = "body") -> None:
        errors = sorted(self.validator(vendor, name).iter_errors(body), key=lambda e: e.path)
        if errors:
            lines = [f"- at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
                     for e in errors[:10]]
            raise ContractError(f"{what} breaks contracts/{vendor}/{name}:\n" + "\n".join(lines))

    def check_response(self, vendor: str, method: str, path: str, status: int, body: Any) -> str:
        """Validate a vendor response; the schema's name, or ContractError when none applies."""
        name = self.response_schema(vendor, method, path, status)
        if name is None:
            raise ContractError(f"no contract for {vendor} {method} {path} -> {status}")
        self.check(vendor, name, body, f"{method} {path} -> {status}")
        return name

    def check_request(self, vendor: str, method: str, path: str, body: Any) -> str | None:
        r = self.route(vendor, method, path)
        if r is None or r.request is None:
            return None
        self.check(vendor, r.request, body, f"request {method} {path}")
        return r.request


@lru_cache(maxsize=None)
def load(root: str | None = None) -> Contracts:
    """The contracts, parsed once per process."""
    return Contracts(Path(root) if root else None)
