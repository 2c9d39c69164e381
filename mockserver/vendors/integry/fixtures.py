"""Integry's catalogues: the documented apps and functions verbatim, then a deterministic rest
(ids and icon URLs from the seed), so the same --seed serves byte-identical catalogues.

Every app gets `login_url` and `allow_multiple_connected_accounts` (the Python SDK's model
requires both) and a `<app>-passthrough-request` function; popular apps also get QUERY and ACTION
functions. Schemas use only the types the SDK allows (no "integer").
"""
from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store import Account, IntegryTemplate

if TYPE_CHECKING:
    from ...core.vendor import Context

ICON = "https://storage.googleapis.com/app-services-prod--bucket/public/{}.png"
PASSTHROUGH_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def load(ctx: "Context") -> IntegryTemplate:
    root, seed = ctx.fixtures_dir / "integry", ctx.seed  # fixtures/<vendor name>
    apps_doc = json.loads((root / "apps.json").read_text())
    functions_doc = json.loads((root / "functions.json").read_text())
    accounts_doc = json.loads((root / "accounts.json").read_text())
    r = random.Random(f"integry:{seed}")
    apps: dict[str, dict[str, Any]] = {a["name"]: dict(a) for a in apps_doc["documented"]}
    taken = {a["id"] for a in apps.values()}
    for spec in apps_doc["generated"]:
        if spec["name"] in apps:
            continue
        app_id = r.randint(100, 30000)
        while app_id in taken:
            app_id = r.randint(100, 30000)
        taken.add(app_id)
        apps[spec["name"]] = {"id": app_id, "name": spec["name"], "title": spec["title"],
                              "icon_url": ICON.format(uuid.UUID(int=r.getrandbits(128),
                                                                version=4)),
                              "docs_url": ""}
    for app in apps.values():
        app["login_url"] = f"https://app.integry.io/auth/{app['name']}/login/"
        app["allow_multiple_connected_accounts"] = app["name"] in ("pipedrive", "hubspot",
                                                                   "slack", "gmail")
    ordered = [apps[k] for k in sorted(apps)]

    functions: dict[str, dict[str, Any]] = {}
    for f in functions_doc["documented"] + functions_doc["backends"]:
        functions[f["name"]] = f
    for name in apps_doc["popular"]:  # QUERY and ACTION for each, unless it already has them
        title = apps[name]["title"]
        kinds = {f["type"] for f in functions.values() if f["app"] == name}
        for kind, fn in (("QUERY", _query(name, title)), ("ACTION", _action(name, title))):
            if kind not in kinds:
                functions[fn["name"]] = fn
    for app in ordered:
        fn = _passthrough(app["name"], app["title"])
        functions[fn["name"]] = fn
    function_list = [functions[k] for k in sorted(functions)]

    users = {user: {app: [Account(**a) for a in accs] for app, accs in per_app.items()}
             for user, per_app in accounts_doc["users"].items()}
    workspace = {app: [Account(**a) for a in accs]
                 for app, accs in accounts_doc["workspace"].items()}
    top = max([a.id for accs in workspace.values() for a in accs]
              + [a.id for per in users.values() for accs in per.values() for a in accs])
    documented = frozenset((s["userId"], s["hash"])
                           for s in accounts_doc.get("documentedSignatures", []))
    template = IntegryTemplate(ordered, apps, function_list, functions, users, workspace, top + 1,
                               documented)
    _documented_answers(template, root, apps_doc)
    return template


def _documented_answers(template: IntegryTemplate, root: Path, apps_doc: dict[str, Any]) -> None:
    """The doc's answers that the generic rules would not give, keyed to the doc's input."""
    path = root / "predictions.json"
    if path.exists():
        known = json.loads(path.read_text())
        for p in known.get("predict", []):
            _known_function(template, p["function"])
            template.predictions[(p["prompt"], frozenset(p["variables"]))] = \
                (p["function"], p["arguments"])
        for g in known.get("get", []):
            _known_function(template, g["function"])
            template.documented_gets[(g["function"], g["prompt"], frozenset(g["variables"]))] = \
                g["arguments"]
    cursor = apps_doc.get("documentedCursor")
    if cursor is not None:
        template.cursor_at[cursor["offset"]] = cursor["cursor"]
        template.cursor_offsets[cursor["cursor"]] = cursor["offset"]


def _known_function(template: IntegryTemplate, name: str) -> None:
    if name not in template.functions_by_name:
        raise ValueError(f"fixtures/integry/predictions.json: no function {name}")


def _query(app: str, title: str) -> dict[str, Any]:
    return {"name": f"{app}-list-records", "app": app, "type": "QUERY",
            "description": f"List records from {title}. Paginated with _cursor.",
            "parameters": {"type": "object", "properties": {
                "query": {"type": "string", "description": "Only records matching this text."},
                "limit": {"type": "number", "description": "Records per page, at most 100."}},
                "required": []}}


def _action(app: str, title: str) -> dict[str, Any]:
    return {"name": f"{app}-create-record", "app": app, "type": "ACTION",
            "description": f"Create a record in {title} with the given fields.",
            "parameters": {"type": "object", "properties": {
                "name": {"type": "string", "description": "The record's name."},
                "fields": {"type": "object", "description": "Other fields as key, value pairs.",
                           "properties": {}}},
                "required": ["name"]}}


def _passthrough(app: str, title: str) -> dict[str, Any]:
    return {"name": f"{app}-passthrough-request", "app": app, "type": "PASSTHROUGH",
            "description": f"Make an authenticated request to the {title} API.",
            "parameters": {"type": "object", "properties": {
                "method": {"type": "string", "description": "The HTTP method.",
                           "enum": PASSTHROUGH_METHODS},
                "url": {"type": "string", "description": f"The full URL of the {title} API "
                                                         "endpoint."},
                "body": {"type": "object", "description": "The JSON body, if any.",
                         "properties": {}}},
                "required": ["method", "url"]}}
