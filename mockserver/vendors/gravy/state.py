"""Gravy's part of a state snapshot: connections (with their lifecycle fields), which of them
intent tokens opened, live access tokens and intent sessions. Generated resource data is a
cache: it is rebuilt from the seed and each connection's id, readLimits and dataReadyAt."""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import jwt

from ...core.state import (ANY, INSTANT, MAYBE_TEXT, TEXT, StateError, arr, closed,
                           duplicates, mapping)
from ...core.tenancy import rescoped
from .auth import AccessToken
from .store import STATUSES, Connection, GravyStore, IntentSession, ResourceState

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from .auth import GravyAuth
    from .handlers import Gravy
    from .store import GravyTemplate

_RESOURCE = closed({"type": TEXT, "operation": {"enum": ["read", "write"]},
                 "status": {"enum": ["pending", "in_progress", "completed", "failed"]},
                 "startedAt": MAYBE_TEXT, "completedAt": MAYBE_TEXT, "errorMessage": MAYBE_TEXT,
                 "failureReason": MAYBE_TEXT})
_CONNECTION = closed({
    "id": {"type": "string", "minLength": 1}, "integrationId": TEXT,
    "status": {"enum": list(STATUSES)}, "userId": MAYBE_TEXT, "createdAt": TEXT,
    "updatedAt": TEXT, "resources": arr(_RESOURCE), "failureReason": MAYBE_TEXT,
    "errorMessage": MAYBE_TEXT, "errorDetails": {"type": "object"},
    "connectionMetadata": {"type": "object"}, "webhookUrl": MAYBE_TEXT, "returnUrl": MAYBE_TEXT,
    "dataReadyAt": MAYBE_TEXT,
    "readLimits": mapping({"type": "integer", "minimum": 1, "maximum": 2**53})})
_SCHEMA: dict[str, Any] = closed({
    "connections": arr(_CONNECTION),
    "minted": {**arr(TEXT), "description": "connections intent tokens opened, oldest first: "
                                           "past --max-sessions the oldest goes"},
    "tokens": arr(closed({"token": {"type": "string", "minLength": 1}, "scope": TEXT,
                       "expiresAt": INSTANT})),
    "intents": arr(closed({"token": {"type": "string", "minLength": 1},
                        "shortToken": {"type": "string", "pattern": "^[0-9]{10}$"},
                        "connectionId": TEXT, "integrationId": TEXT, "resources": ANY,
                        "returnUrl": MAYBE_TEXT, "exp": {**INSTANT, "type": "integer"}})),
})


def _resource(r: ResourceState) -> dict[str, Any]:
    return {"type": r.type, "operation": r.operation, "status": r.status,
            "startedAt": r.startedAt, "completedAt": r.completedAt,
            "errorMessage": r.errorMessage, "failureReason": r.failureReason}


def _connection(c: Connection) -> dict[str, Any]:
    return {"id": c.id, "integrationId": c.integrationId, "status": c.status,
            "userId": c.userId, "createdAt": c.createdAt, "updatedAt": c.updatedAt,
            "resources": [_resource(r) for r in c.resources], "failureReason": c.failureReason,
            "errorMessage": c.errorMessage, "errorDetails": c.errorDetails,
            "connectionMetadata": c.connectionMetadata, "webhookUrl": c.webhookUrl,
            "returnUrl": c.returnUrl, "dataReadyAt": c.data_ready_at,
            "readLimits": dict(sorted(c.read_limits.items()))}


def schema(template: "GravyTemplate") -> dict[str, Any]:
    return _SCHEMA


def export(g: "Gravy", store: GravyStore, tenant: "Tenant") -> dict[str, Any]:
    # Connections keep their order: a list sorted by a field orders ties by it.
    now = g.ctx.clock.time()
    sessions: dict[int, IntentSession] = {}
    for _, _, s in store.intents.live(now):   # a session is under its token and short code
        sessions.setdefault(id(s), s)
    return {
        "connections": [_connection(c) for c in store.connections.values()],
        "minted": list(store._minted),
        "tokens": [{"token": k, "scope": t.scope, "expiresAt": exp}
                   for k, exp, t in store.tokens.live(now)],
        "intents": [{"token": s.token, "shortToken": s.short_token,
                     "connectionId": s.connection_id, "integrationId": s.integration_id,
                     "resources": s.resources, "returnUrl": s.return_url, "exp": s.exp}
                    for s in sessions.values()],
    }


def _resign(token: str, tenant: "Tenant", auth: "GravyAuth") -> str | None:
    """The intent token with the same claims, naming `tenant` and signed by this server (whose
    seed may differ from the exporting one's); None when it is no JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    claims.pop("tenant", None)
    if not tenant.is_default:
        claims["tenant"] = tenant.id
    return jwt.encode(claims, auth.intent_secret, algorithm="HS256")


def restore(g: "Gravy", data: dict[str, Any], tenant: "Tenant") -> GravyStore:
    auth, template, limit, now = g.auth, g.template, g.ctx.session_limit, g.ctx.clock.time()
    problems: list[str] = []
    conns = data["connections"]
    ids = [c["id"] for c in conns]
    problems += [f"/connections: duplicate id {d!r}" for d in duplicates(ids)]
    for i, c in enumerate(conns):
        if c["integrationId"] not in template.by_slug:
            problems.append(f"/connections/{i}/integrationId: unknown integration "
                            f"{c['integrationId']!r}")
    known = set(ids)
    problems += [f"/minted: duplicate id {d!r}" for d in duplicates(data["minted"])]
    problems += [f"/minted/{i}: no connection {m!r}" for i, m in enumerate(data["minted"])
                 if m not in known]
    # Only connections intent tokens opened have an oldest to drop; the rest are fixtures'.
    kept = len(known - set(data["minted"]))
    most = len(template.connections) + max(1, limit)
    if kept > most:
        problems.append(f"/connections: {kept} not in /minted, more than this server keeps for "
                        f"a tenant ({most}, see --max-sessions)")
    tokens = [rescoped(t["token"], tenant) for t in data["tokens"]]
    problems += [f"/tokens: duplicate token {d!r}" for d in duplicates(tokens)]
    intents = data["intents"]
    problems += [f"/intents: duplicate token {d!r}"
                 for d in duplicates(s["token"] for s in intents)]
    problems += [f"/intents: duplicate shortToken {d!r}"
                 for d in duplicates(s["shortToken"] for s in intents)]
    signed: list[str] = []
    for i, s in enumerate(intents):
        if s["integrationId"] not in template.by_slug:
            problems.append(f"/intents/{i}/integrationId: unknown integration "
                            f"{s['integrationId']!r}")
        token = _resign(s["token"], tenant, auth)
        if token is None:
            problems.append(f"/intents/{i}/token: not an intent token (a JWT)")
        signed.append(token or "")
    if problems:
        raise StateError("gravy", problems)

    store = GravyStore(g.template, g.ctx)
    store.load([Connection(
        id=c["id"], integrationId=c["integrationId"], status=c["status"], userId=c["userId"],
        createdAt=c["createdAt"], updatedAt=c["updatedAt"],
        resources=[ResourceState(**r) for r in c["resources"]],
        failureReason=c["failureReason"], errorMessage=c["errorMessage"],
        errorDetails=c["errorDetails"], connectionMetadata=c["connectionMetadata"],
        webhookUrl=c["webhookUrl"], returnUrl=c["returnUrl"], data_ready_at=c["dataReadyAt"],
        read_limits=dict(c["readLimits"])) for c in conns])
    minted = deque(data["minted"])
    while len(minted) > limit:  # the bound add_connection keeps: the oldest opened goes
        store._drop(minted.popleft())
    store._minted = minted
    for token, t in zip(tokens, data["tokens"]):
        store.tokens.add(token, AccessToken(t["expiresAt"], t["scope"]), t["expiresAt"], now)
    for token, s in zip(signed, intents):
        store.add_intent(IntentSession(token, s["shortToken"], s["connectionId"],
                                       s["integrationId"], s["resources"], s["returnUrl"],
                                       s["exp"]), now)
    return store


def adopt(g: "Gravy", store: GravyStore) -> None:
    """Nothing Gravy shares across tenants moves with a restored store."""


def claims(g: "Gravy", store: GravyStore) -> None:
    """Gravy shares nothing across tenants."""


def claim(g: "Gravy", claims: Any) -> None:
    """Gravy shares nothing across tenants."""


def snapshot(g: "Gravy", store: GravyStore) -> dict[str, Any]:
    return store.snapshot()
