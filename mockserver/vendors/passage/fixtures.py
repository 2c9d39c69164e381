"""Passage Connect's fixtures: the providers catalogue (GET /v1/providers, with each operation's
JSON Schemas) and each provider's data per resource, the results a completed link carries.

A recording (`serve --record-dir`, `learn`) keeps the providers the real API showed in the
`recorded` list of providers.json, laid over the catalogue by id.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...verify.recording import (answer_json, read_fixture, recorded_list, route, upsert,
                                 write_json)
from .store import NAME, PassageTemplate

if TYPE_CHECKING:
    from ...core.probe import Exchange
    from ...core.vendor import Context


def load(ctx: "Context") -> PassageTemplate:
    root = ctx.fixtures_dir / NAME
    doc = json.loads((root / "providers.json").read_text())
    results = json.loads((root / "results.json").read_text())
    providers: dict[str, dict[str, Any]] = {p["id"]: p for p in doc["providers"]}
    for p in doc.get("recorded", []):   # what the real API showed replaces the fixture's
        providers[p["id"]] = p
    operations: dict[tuple[str, str, str], tuple[Any, Any]] = {}
    for p in providers.values():
        for resource in p["resources"]:
            for action, op in resource["operations"].items():
                operations[(p["id"], resource["name"], action)] = (op.get("arguments"),
                                                                   op.get("result"))
    return PassageTemplate(providers=list(providers.values()), operations=operations,
                           results={k: v for k, v in results.items() if not k.startswith("_")})


def learn(root: Path, exchange: "Exchange") -> bool:
    """GET /v1/providers: the catalogue. Links are an organization's own and are not kept."""
    if exchange.method.upper() != "GET" or not 200 <= exchange.answer.status < 300:
        return False
    if not route(r"/v1/providers", exchange.path):
        return False
    providers = answer_json(exchange).get("providers")
    if not isinstance(providers, list):
        return False
    path = root / NAME / "providers.json"
    doc = read_fixture(path)
    recorded = recorded_list(doc, path.name)
    changed = False
    for item in providers:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            changed |= upsert(recorded, item, lambda old, n=item["id"]: old.get("id") == n)
    if changed:
        write_json(path, doc)
    return changed
