"""Gravy fixture data: the documented examples verbatim, the connections and integrations the
sandbox starts with, and the generator's settings (resource data itself: generator.py)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .store import GravyTemplate

if TYPE_CHECKING:
    from pathlib import Path

    from ...core.vendor import Context


def load(ctx: "Context") -> GravyTemplate:
    return GravyTemplate(read(ctx.fixtures_dir / "gravy"), ctx.seed)  # fixtures/<vendor name>


def read(root: "Path") -> dict[str, Any]:
    documented = {p.stem: json.loads(p.read_text())
                  for p in sorted((root / "documented").glob("*.json"))}
    # Each documented resource response shows one item: that item is the fixture.
    examples = {name[:-len(".list")]: doc["data"][0] for name, doc in documented.items()
                if name.endswith(".list") and isinstance(doc, dict) and "data" in doc
                and name != "connections.list"}
    # The documented intent-token exchange: that request gets that answer's branding (the doc
    # pairs an `audible` request with Airbnb's); every other request its integration's.
    intent = (documented["intent-token.request"], documented["intent-token.response"]["branding"]) \
        if "intent-token.request" in documented and "intent-token.response" in documented else None
    return {
        "examples": examples,
        "intent": intent,
        "connections": json.loads((root / "connections.json").read_text())["connections"],
        "integrations": json.loads((root / "integrations.json").read_text())["integrations"],
        "generator": json.loads((root / "generator.json").read_text()),
        # Optional, so a --fixtures directory written before it existed still loads.
        "books": json.loads(books.read_text())["books"] if (books := root / "books.json").exists()
        else [],
    }
