"""Gravy fixture data: the documented examples verbatim, the connections and integrations the
sandbox starts with, and the generator's settings (resource data itself: generator.py).

A recording (`serve --record-dir`, `learn`) keeps what the real API showed in each file's
`recorded` list: integrations (integrations.json) and connections with every field the API
shows (connections.json). They are laid over the rest once it is built, so the generated
connections stay as the seed makes them unless a recorded one has the same id."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ...core.clock import parse_iso
from ...verify.recording import (NotLearned, answer_json, read_fixture, recorded_list, route,
                                 scrub, upsert, write_json)
from .store import DATA_STATUSES, NAME, Connection, GravyTemplate, ResourceState, prime

if TYPE_CHECKING:
    from pathlib import Path

    from ...core.probe import Exchange
    from ...core.vendor import Context

# The branding an integration only a recording knows gets (POST /intent-token answers it): the
# palette every documented integration but Airbnb's shows.
BRANDING = {"colorPrimary": "#2563EB", "colorBackground": "#000000",
            "colorCardBackground": "rgba(15, 16, 20, 0.85)", "colorText": "#ffffff",
            "colorTextSecondary": "rgba(255, 255, 255, 0.7)"}


def load(ctx: "Context") -> GravyTemplate:
    data = read(ctx.fixtures_dir / NAME)  # fixtures/<vendor name>
    template = GravyTemplate(data, ctx.seed)
    _lay_over(template, data["recorded"])
    return template


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
    connections = json.loads((root / "connections.json").read_text())
    integrations = json.loads((root / "integrations.json").read_text())
    return {
        "examples": examples,
        "intent": intent,
        "connections": connections["connections"],
        "integrations": integrations["integrations"],
        "generator": json.loads((root / "generator.json").read_text()),
        # Optional, so a --fixtures directory written before it existed still loads.
        "books": json.loads(books.read_text())["books"] if (books := root / "books.json").exists()
        else [],
        "recorded": {"integrations": integrations.get("recorded", []),
                     "connections": connections.get("recorded", [])},
    }


def _lay_over(t: GravyTemplate, recorded: dict[str, list[dict[str, Any]]]) -> None:
    """Recorded items in place of those of the same slug or id, the others after them."""
    at = {i["slug"]: n for n, i in enumerate(t.integrations)}
    for item in recorded["integrations"]:
        slug = item["slug"]
        if slug in at:
            t.integrations[at[slug]] = item
        else:
            at[slug] = len(t.integrations)
            t.integrations.append(item)
        t.by_slug[slug] = item
        t.branding.setdefault(slug, {"integrationName": item.get("name", slug), **BRANDING})
    at = {c.id: n for n, c in enumerate(t.connections)}
    for rec in recorded["connections"]:
        conn = prime(_connection(rec))
        if conn.id in at:
            t.connections[at[conn.id]] = conn
        else:
            at[conn.id] = len(t.connections)
            t.connections.append(conn)
        t.connections_by_id[conn.id] = conn


def _connection(rec: dict[str, Any]) -> Connection:
    resources = [ResourceState(r["type"], r["operation"], r["status"], r["startedAt"],
                               r["completedAt"], r["errorMessage"], r["failureReason"])
                 for r in rec["resources"]]
    # Data is ready when a resource completed (generated items end then); none completed and a
    # data status: when the connection last changed.
    done = [r.completedAt for r in resources if r.status == "completed" and r.completedAt]
    ready = max(done, key=parse_iso) if done else \
        rec["updatedAt"] if rec["status"] in DATA_STATUSES else None
    return Connection(id=rec["id"], integrationId=rec["integrationId"], status=rec["status"],
                      userId=rec["userId"], createdAt=rec["createdAt"],
                      updatedAt=rec["updatedAt"], resources=resources,
                      failureReason=rec["failureReason"], errorMessage=rec["errorMessage"],
                      errorDetails=dict(rec["errorDetails"]),
                      connectionMetadata=dict(rec["connectionMetadata"]), data_ready_at=ready)


# -- learning from a recording -----------------------------------------------------------------
INTEGRATIONS = r"/(?:automation/)?integrations"
INTEGRATION = r"/(?:automation/)?integrations/[^/]+"
CONNECTIONS = r"/connections"
CONNECTION = r"/connections/[^/]+"


def learn(root: "Path", exchange: "Exchange") -> bool:
    """Integrations (GET /integrations, /integrations/{slug}, and their /automation/ twins) and
    connections (GET /connections, /connections/{id}). Resource pages are not learned: the
    mock generates them from the seed, and no fixture file holds a page."""
    if exchange.method.upper() != "GET" or not 200 <= exchange.answer.status < 300:
        return False
    path = exchange.path
    if route(INTEGRATIONS, path, ignore_case=True):
        return _learn(root / NAME / "integrations.json", answer_json(exchange), "slug",
                      _integration)
    if route(INTEGRATION, path, ignore_case=True):
        return _learn(root / NAME / "integrations.json", [answer_json(exchange)], "slug",
                      _integration)
    if route(CONNECTIONS, path, ignore_case=True):
        return _learn(root / NAME / "connections.json", answer_json(exchange)["data"], "id",
                      _connection_record)
    if route(CONNECTION, path, ignore_case=True):
        return _learn(root / NAME / "connections.json", [answer_json(exchange)], "id",
                      _connection_record)
    return False


def _learn(path: "Path", items: list[dict[str, Any]], key: str, record: Any) -> bool:
    doc = read_fixture(path)
    recorded = recorded_list(doc, path.name)
    changed = False
    for item in items:
        rec = record(item)
        changed |= upsert(recorded, rec, lambda old, v=rec[key]: old.get(key) == v)
    if changed:
        write_json(path, doc)
    return changed


def _integration(item: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(item.get("slug"), str):
        raise NotLearned("not learned: an integration without a slug")
    return scrub(item)


def _connection_record(item: dict[str, Any]) -> dict[str, Any]:
    """What the fixture keeps of a connection: all it shows but the resources' URLs (the mock
    writes them from the URL a client reaches it at), redacted; its free-form objects more
    strictly (any key ending in "name" is taken for a person's)."""
    rec = scrub({k: v for k, v in item.items()
                 if k not in ("resources", "connectionMetadata", "errorDetails")})
    rec["resources"] = [scrub({k: v for k, v in r.items() if k != "url"})
                        for r in item["resources"]]
    rec["errorDetails"] = scrub(item["errorDetails"], loose=True)
    rec["connectionMetadata"] = scrub(item["connectionMetadata"], loose=True)
    return rec
