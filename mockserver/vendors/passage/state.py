"""Passage Connect's part of a state snapshot: the links (oldest first, the one dropped first past
--max-sessions), each with its claim code, sessions and outcome, and the tenant's
auto-complete setting. The providers catalogue and the fixture results come from the importing
server."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.state import BOOL, TEXT, StateError, arr, closed, duplicates
from .store import ERROR_CODES, SESSIONS_KEPT, Link, PassageStore, PassageTemplate

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from .handlers import Passage

_MAYBE = {"type": ["string", "null"]}
_MS = {"type": "integer", "minimum": 0, "maximum": 2**53}
_MAYBE_MS = {"type": ["integer", "null"], "minimum": 0, "maximum": 2**53}
_OP = {"type": "object", "additionalProperties": False, "required": ["resource", "action"],
       "properties": {"resource": TEXT, "action": TEXT, "arguments": {"type": "object"}}}
_LINK = closed({
    "id": TEXT, "claimCode": TEXT, "integrationId": TEXT, "operations": arr(_OP, minItems=1),
    "externalUserId": _MAYBE, "webhookUrl": _MAYBE, "returnUrl": _MAYBE, "debug": BOOL,
    "createdAt": _MS, "expiresAt": _MS, "updatedAt": _MS,
    "status": {"enum": ["pending", "active", "complete", "failed"]},
    "currentSessionId": _MAYBE, "clientToken": _MAYBE, "result": {},
    "error": {"oneOf": [{"type": "null"}, closed({"code": TEXT, "message": TEXT})]},
    "autoAt": _MAYBE_MS, "sessions": arr(TEXT, maxItems=SESSIONS_KEPT),
})
_SCHEMA: dict[str, Any] = closed({
    "links": arr(_LINK),
    "autoCompleteSeconds": {"oneOf": [{"type": "null"},
                                      {"type": "number", "minimum": 0, "maximum": 86400}]},
})


def schema(template: PassageTemplate) -> dict[str, Any]:
    return _SCHEMA


def export(g: "Passage", store: PassageStore, tenant: "Tenant") -> dict[str, Any]:
    return {"links": [ln.to_json() for ln in store.links.values()],
            "autoCompleteSeconds": store.auto_complete}


def restore(g: "Passage", data: dict[str, Any], tenant: "Tenant") -> PassageStore:
    template = g.template
    problems: list[str] = []
    items = data["links"]
    problems += [f"/links: duplicate id {d!r}" for d in duplicates(x["id"] for x in items)]
    problems += [f"/links: duplicate claimCode {d!r}"
                 for d in duplicates(x["claimCode"] for x in items)]
    # POST /link/claim names no tenant: a code must lead to one link on the whole server
    held = g.code_holders(but=tenant.id)
    problems += [f"/links/{i}/claimCode: tenant {held[x['claimCode']]} holds this claim code "
                 "(claim codes are unique across the server)"
                 for i, x in enumerate(items) if x["claimCode"] in held]
    providers = {p["id"] for p in template.providers}
    for i, x in enumerate(items):
        where = f"/links/{i}"
        if x["integrationId"] not in providers:
            problems.append(f"{where}/integrationId: no integration {x['integrationId']!r}")
        for j, op in enumerate(x["operations"]):
            if (x["integrationId"], op["resource"], op["action"]) not in template.operations:
                problems.append(f"{where}/operations/{j}: no operation "
                                f"{op['resource']}.{op['action']}")
        if x["expiresAt"] < x["createdAt"]:
            problems.append(f"{where}/expiresAt: before createdAt")
        if x["status"] == "failed" and x["error"] is None:
            problems.append(f"{where}/error: a failed link carries its error")
        if x["error"] is not None and x["error"]["code"] not in ERROR_CODES:
            problems.append(f"{where}/error/code: not one of {', '.join(ERROR_CODES)}")
        if x["status"] in ("active", "complete", "failed") and x["currentSessionId"] is None:
            problems.append(f"{where}/currentSessionId: a claimed link has a session")
        if x["status"] != "active" and x["autoAt"] is not None:
            problems.append(f"{where}/autoAt: only an active link completes by itself")
    if problems:
        raise StateError("passage", problems)
    store = PassageStore(template, g.ctx)
    store.auto_complete = data["autoCompleteSeconds"]
    for x in items[-store.limit:]:  # kept within the bound the running server keeps
        store.add(Link.from_json(x))
    return store


def adopt(g: "Passage", store: PassageStore) -> None:
    """Active links of the restored store complete by themselves: look for them soon; its
    claim codes are ones a new link must not draw again."""
    g.restored(store)
    if store.armed:
        g.arm()


def claims(g: "Passage", store: PassageStore) -> None:
    """Passage keeps no shared counter: a claim code, unique across tenants, is checked by
    `restore` and drawn again when taken (handlers.py `Passage.taken`)."""


def claim(g: "Passage", claims: Any) -> None:
    """Passage shares nothing across tenants."""


def snapshot(g: "Passage", store: PassageStore) -> dict[str, Any]:
    return store.snapshot()
