"""Groove's part of a state snapshot: people, memberships, the person id counter, the OAuth
grants (codes, access and refresh tokens, each with its expiry), the tenant's rate limit, its
GraphQL query limits (a snapshot without them gets the defaults) and each token's rate-limit
window. Flows are fixtures no call changes; they come from the importing
server. A grant's OAuth client is the tenant's own, so it is not written: an import gives the
grants to the importing tenant's client, and its codes and tokens name that tenant."""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ...core.state import (BOOL, COUNT, INSTANT, MAYBE_TEXT, TEXT, StateError, arr, closed,
                           duplicates)
from ...core.tenancy import rescoped
from .admin import COMPLEXITY_MAX, DEPTH_MAX, RATE_LIMIT_MAX
from .store import (MAX_COMPLEXITY, MAX_DEPTH, NAME, Grant, GrooveStore, GrooveTemplate, Person,
                    PersonFlow)

if TYPE_CHECKING:
    from ...core.sessions import Sessions
    from ...core.tenancy import Tenant
    from .handlers import Groove

_KEY = {"type": "string", "minLength": 1}
_GRANT = closed({"key": _KEY, "until": {**INSTANT, "description": "when the server forgets it"},
              "userId": TEXT, "scope": TEXT, "redirectUri": MAYBE_TEXT, "createdAt": COUNT,
              "expiresAt": INSTANT, "revoked": BOOL, "refreshToken": MAYBE_TEXT,
              "accessToken": MAYBE_TEXT})
_SCHEMA: dict[str, Any] = closed({
    "people": arr(closed({"id": {"type": "string", "minLength": 1}, "name": TEXT,
                       "emailAddress": TEXT, "salesforceId": MAYBE_TEXT})),
    "nextPerson": {**COUNT, "minimum": 1},
    "memberships": arr(closed({"flowId": TEXT, "personId": TEXT, "createdAt": TEXT})),
    "codes": arr(_GRANT), "tokens": arr(_GRANT), "refresh": arr(_GRANT),
    "rateLimit": {"type": "integer", "minimum": 1, "maximum": RATE_LIMIT_MAX},
    "maxComplexity": {"type": ["integer", "null"], "minimum": 1, "maximum": COMPLEXITY_MAX},
    "maxDepth": {"type": ["integer", "null"], "minimum": 1, "maximum": DEPTH_MAX},
    "window": arr(closed({"token": _KEY, "minute": COUNT, "current": COUNT, "previous": COUNT})),
}, optional=("maxComplexity", "maxDepth"))


def _grants(table: "Sessions[Grant]", now: float) -> list[dict[str, Any]]:
    return [{"key": key, "until": until, "userId": g.user_id, "scope": g.scope,
             "redirectUri": g.redirect_uri, "createdAt": g.created_at, "expiresAt": g.expires_at,
             "revoked": g.revoked, "refreshToken": g.refresh_token,
             "accessToken": g.access_token} for key, until, g in table.live(now)]


def schema(template: GrooveTemplate) -> dict[str, Any]:
    return _SCHEMA


def export(g: "Groove", store: GrooveStore, tenant: "Tenant") -> dict[str, Any]:
    now = g.ctx.clock.time()
    return {
        "people": [p.to_json() for p in store.people.values()],
        "nextPerson": store.next_person,
        "memberships": [{"flowId": m.flowId, "personId": m.personId, "createdAt": m.createdAt}
                        for m in store.memberships.values()],
        "codes": _grants(store.codes, now), "tokens": _grants(store.tokens, now),
        "refresh": _grants(store.refresh, now), "rateLimit": store.rate_limit,
        "maxComplexity": store.max_complexity, "maxDepth": store.max_depth,
        "window": [{"token": k, "minute": m, "current": c, "previous": p}
                   for k, (m, c, p) in store.window._counts.items()],
    }


def _maybe(token: str | None, tenant: "Tenant") -> str | None:
    return rescoped(token, tenant) if token is not None else None


def restore(g: "Groove", data: dict[str, Any], tenant: "Tenant") -> GrooveStore:
    template, limit, now = g.template, g.ctx.session_limit, g.ctx.clock.time()
    problems: list[str] = []
    people = data["people"]
    ids = [p["id"] for p in people]
    problems += [f"/people: duplicate id {d!r}" for d in duplicates(ids)]
    problems += [f"/people: duplicate salesforceId {d!r}"
                 for d in duplicates(p["salesforceId"] for p in people if p["salesforceId"])]
    numeric = [int(i) for i in ids if i.isdigit()]
    if numeric and data["nextPerson"] <= max(numeric):
        problems.append(f"/nextPerson: {data['nextPerson']} would reuse person id {max(numeric)}")
    most = len(template.people) + max(1, limit)
    if len(people) > most:
        problems.append(f"/people: {len(people)} people, more than this server keeps for a "
                        f"tenant ({most}, see --max-sessions)")
    known = set(ids)
    pairs = [(m["flowId"], m["personId"]) for m in data["memberships"]]
    problems += [f"/memberships: person {p!r} is in flow {f!r} twice"
                 for f, p in duplicates(pairs)]
    for i, (f, p) in enumerate(pairs):
        if f not in template.flows:
            problems.append(f"/memberships/{i}/flowId: no flow {f!r}")
        if p not in known:
            problems.append(f"/memberships/{i}/personId: no person {p!r}")
    for table in ("codes", "tokens", "refresh"):
        problems += [f"/{table}: duplicate key {d!r}"
                     for d in duplicates(rescoped(g["key"], tenant) for g in data[table])]
    problems += [f"/window: duplicate token {d!r}"
                 for d in duplicates(rescoped(w["token"], tenant) for w in data["window"])]
    if problems:
        raise StateError("groove", problems)

    store = GrooveStore(template, g.ctx)
    store.people = {p["id"]: Person(p["id"], p["name"], p["emailAddress"], p["salesforceId"])
                    for p in people}
    store.by_salesforce = {p.salesforceId: p.id for p in store.people.values()
                           if p.salesforceId}
    store.next_person = data["nextPerson"]
    store.memberships = {(m["flowId"], m["personId"]): PersonFlow(m["flowId"], m["personId"],
                                                                  m["createdAt"])
                         for m in data["memberships"]}
    client_id = tenant.credentials[NAME]["clientId"]
    for table in ("codes", "tokens", "refresh"):
        sessions = getattr(store, table)
        for g in data[table]:
            sessions.add(rescoped(g["key"], tenant), Grant(
                client_id, g["userId"], g["scope"], g["redirectUri"], g["createdAt"],
                g["expiresAt"], g["revoked"], _maybe(g["refreshToken"], tenant),
                _maybe(g["accessToken"], tenant)), g["until"], now)
    store.rate_limit = data["rateLimit"]
    store.max_complexity = data.get("maxComplexity", MAX_COMPLEXITY)
    store.max_depth = data.get("maxDepth", MAX_DEPTH)
    window = data["window"][-store.window.max_keys:]   # the bound the window keeps
    store.window.restore(OrderedDict((rescoped(w["token"], tenant),
                                      (w["minute"], w["current"], w["previous"]))
                                     for w in window))
    store.changed()  # its data were written here, not through its methods
    return store


def adopt(g: "Groove", store: GrooveStore) -> None:
    """Nothing Groove shares across tenants moves with a restored store."""


def claims(g: "Groove", store: GrooveStore) -> None:
    """Groove shares nothing across tenants."""


def claim(g: "Groove", claims: Any) -> None:
    """Groove shares nothing across tenants."""


def snapshot(g: "Groove", store: GrooveStore) -> dict[str, Any]:
    return store.snapshot()
