"""Integry's catalogues: the documented apps and functions verbatim, then a deterministic rest
(ids and icon URLs from the seed), so the same --seed serves byte-identical catalogues.

Every app gets `login_url` and `allow_multiple_connected_accounts` (the Python SDK's model
requires both) and a `<app>-passthrough-request` function; popular apps also get QUERY and ACTION
functions. Schemas use only the types the SDK allows (no "integer").

A recording (`serve --record-dir`, `learn`) keeps the apps and functions the real API showed in
the `recorded` list of apps.json and functions.json, laid over the catalogues once they are
built: the seeded ones stay as they are unless a recorded one has their name (it replaces them)
or their id (they draw another).
"""
from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...verify.recording import (NotLearned, answer_json, read_fixture, recorded_list, route,
                                 scrub, upsert, write_json)
from .store import NAME, Account, IntegryTemplate

if TYPE_CHECKING:
    from ...core.probe import Exchange
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
    _recorded_apps(apps, apps_doc.get("recorded", []), taken, seed)
    for app in apps.values():  # a recorded app keeps the values the API showed
        app.setdefault("login_url", f"https://app.integry.io/auth/{app['name']}/login/")
        app.setdefault("allow_multiple_connected_accounts",
                       app["name"] in ("pipedrive", "hubspot", "slack", "gmail"))
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
    for fn in functions_doc.get("recorded", []):
        if fn["app"] not in apps:
            raise ValueError(f"fixtures/integry/functions.json: recorded function {fn['name']} "
                             f"names no app ({fn['app']})")
        functions[fn["name"]] = {k: fn[k] for k in FUNCTION_KEYS}
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


# -- recorded catalogue items -------------------------------------------------------------------
FUNCTION_KEYS = ("name", "app", "type", "description", "parameters")
KINDS = ("QUERY", "ACTION", "PASSTHROUGH")
# The words of a function name that read (its type when the answer shows no `meta`)
READS = re.compile(r"-(?:list|get|search|find|fetch|read|lookup|query|retrieve)(?:-|$)")


def _recorded_apps(apps: dict[str, dict[str, Any]], recorded: list[dict[str, Any]],
                   taken: set[int], seed: int) -> None:
    """Recorded apps in place of those of the same name; an app holding a recorded app's id
    draws another from a stream of its own, so no other seeded id moves."""
    owners = {}
    for rec in recorded:
        apps[rec["name"]] = dict(rec)
        owners[rec["id"]] = rec["name"]
    taken = taken | {a["id"] for a in apps.values()}
    for name, app in apps.items():
        owner = owners.get(app["id"])
        if owner is not None and owner != name:
            r = random.Random(f"integry:{seed}:{name}")
            app_id = r.randint(100, 30000)
            while app_id in taken:
                app_id = r.randint(100, 30000)
            taken.add(app_id)
            app["id"] = app_id


def learn(root: Path, exchange: "Exchange") -> bool:
    """Apps (POST /apps/list, /apps/{app}/get) and functions (POST /functions/list,
    /functions/{name}/get): the catalogues. A user's connected accounts are theirs, not the
    catalogue's, and are not kept; predictions and calls are not learned."""
    if exchange.method.upper() != "POST" or not 200 <= exchange.answer.status < 300:
        return False
    path = exchange.path
    if route(r"/apps/list", path):
        return _learn_apps(root, answer_json(exchange)["apps"])
    if route(r"/apps/[^/]+/get", path):
        return _learn_apps(root, [answer_json(exchange)])
    if route(r"/functions/list", path):
        return _learn_functions(root, answer_json(exchange)["functions"])
    if route(r"/functions/[^/]+/get", path):
        return _learn_functions(root, [answer_json(exchange)])
    return False


def _learn_apps(root: Path, items: list[dict[str, Any]]) -> bool:
    path = root / NAME / "apps.json"
    doc = read_fixture(path)
    recorded = recorded_list(doc, path.name)
    changed = False
    for item in items:
        rec = scrub({k: v for k, v in item.items() if k != "connected_accounts"})
        changed |= upsert(recorded, rec, lambda old, n=rec["name"]: old.get("name") == n)
    if changed:
        write_json(path, doc)
    return changed


def _learn_functions(root: Path, items: list[dict[str, Any]]) -> bool:
    """Each function with its app and type: from its `meta` (include=meta), else from what the
    fixtures already say of that name, else from its name (`<app>-...`; QUERY when it reads)."""
    apps_doc = read_fixture(root / NAME / "apps.json")
    path = root / NAME / "functions.json"
    doc = read_fixture(path)
    recorded = recorded_list(doc, path.name)
    apps = {a["name"] for key in ("documented", "generated", "recorded")
            for a in apps_doc.get(key, []) if isinstance(a, dict) and "name" in a}
    known = _known_kinds(doc, apps, apps_doc.get("popular", []))
    changed, unknown = False, []
    for item in items:
        name = item["name"]
        meta = item.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("app"), dict):
            app, kind = meta["app"].get("name"), meta["type"]
        else:
            app, kind = known.get(name) or _guess(name, apps)
        if app not in apps or kind not in KINDS:
            unknown.append(name)
            continue
        rec = scrub({"name": name, "app": app, "type": kind, "description": item["description"],
                     "parameters": item["parameters"]})
        known[name] = (app, kind)
        changed |= upsert(recorded, rec, lambda old, n=name: old.get("name") == n)
    if changed:
        write_json(path, doc)
    if unknown:
        raise NotLearned(f"not learned: {len(unknown)} function(s) of no app the recording knows "
                         f"({', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''}): "
                         f"record apps/list first, or functions/list with include=meta")
    return changed


def _known_kinds(doc: dict[str, Any], apps: set[str], popular: list[str]) \
        -> dict[str, tuple[str, str]]:
    """Function name -> (app, type) of every function the fixtures already hold."""
    known = {f"{a}-passthrough-request": (a, "PASSTHROUGH") for a in apps}
    for a in popular:
        known[f"{a}-list-records"] = (a, "QUERY")
        known[f"{a}-create-record"] = (a, "ACTION")
    for key in ("documented", "backends", "recorded"):
        for f in doc.get(key, []):
            if isinstance(f, dict) and {"name", "app", "type"} <= f.keys():
                known[f["name"]] = (f["app"], f["type"])
    return known


def _guess(name: str, apps: set[str]) -> tuple[str | None, str]:
    owners = [a for a in apps if name.startswith(a + "-")]
    if not owners:
        return None, "ACTION"
    app = max(owners, key=len)
    return app, "QUERY" if READS.search(name[len(app):]) else "ACTION"
