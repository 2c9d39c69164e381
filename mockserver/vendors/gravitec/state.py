"""Gravitec's part of a state snapshot: per site role ("main", "free"), its followers, campaigns
(scheduled ones are those not sent yet), the day's API push count and the last id it minted.

Sites are keyed by role, never by APP_KEY: the main site's keys are the tenant's credentials
and the free site's are the fixtures', so neither belongs to the data. Plans and segments are
fixtures no call can change; they come from the importing server."""
from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ...core.state import BOOL, COUNT, INSTANT, MAYBE_TEXT, StateError, arr, closed, duplicates
from .store import (MAX_TAGS_PER_FOLLOWER, OPERATORS, Campaign, Follower, GravitecStore,
                    GravitecTemplate)

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from .handlers import Gravitec

# Snowflake-style ids pass 2**63 (19 digits) once the mock clock passes 2079 and reach ~1.06e21
# (22 digits) at its end (9000-01-01): what the server can mint, an import must read back.
MAX_ID = 2**72
_ID = {"type": "string", "pattern": "^[0-9]{1,22}$"}
_NAMES = {"type": "array", "items": {"type": "string"}}
_AUDIENCE = {"oneOf": [
    {"type": "null", "description": "everyone"},
    {"type": "array", "prefixItems": [{"enum": ["tokens", "aliases", "tags"]}, _NAMES],
     "minItems": 2, "maxItems": 2},
    {"type": "array", "prefixItems": [{"const": "tags_segment"}, arr(closed({
        "association": {"enum": list(OPERATORS)}, "name": {"type": "string"}}))],
     "minItems": 2, "maxItems": 2},
    {"type": "array", "prefixItems": [{"const": "segment"}, {"type": "string"}],
     "minItems": 2, "maxItems": 2},
]}
_FOLLOWER = closed({"regId": {"type": "string", "minLength": 1}, "active": BOOL,
                 "tags": {**_NAMES, "maxItems": MAX_TAGS_PER_FOLLOWER}, "alias": MAYBE_TEXT})
_CAMPAIGN = closed({"id": _ID, "createdAt": INSTANT,
                 "sendAt": {"type": "integer", "minimum": 0, "maximum": 253402300799999},
                 "ttl": COUNT, "displayTime": COUNT, "payload": {"type": "object"},
                 "pushTag": MAYBE_TEXT, "isTransactional": BOOL, "audience": _AUDIENCE,
                 "send": {"oneOf": [COUNT, {"type": "null"}]}})
_SITE = closed({"followers": arr(_FOLLOWER), "campaigns": arr(_CAMPAIGN),
             "day": {"type": "array", "prefixItems": [COUNT, COUNT], "minItems": 2,
                     "maxItems": 2, "description": "[mock-clock UTC day, API pushes that day]"},
             "lastId": {"type": "integer", "minimum": 0, "maximum": MAX_ID}})


def schema(template: GravitecTemplate) -> dict[str, Any]:
    roles = sorted(s.role for s in template.sites)
    return closed({"sites": closed({r: _SITE for r in roles})})


def export(g: "Gravitec", store: GravitecStore, tenant: "Tenant") -> dict[str, Any]:
    now = g.ctx.clock.time()
    store.settle(now)  # due campaigns go out first, to the followers as they are now
    return {"sites": {role: {
        "followers": [f.to_json() for f in site.followers.values()],
        "campaigns": [c.to_json() for c in site.campaigns.values()],
        "day": list(site.day), "lastId": site.last_id,
    } for role, site in sorted(store.sites.items())}}


def restore(g: "Gravitec", data: dict[str, Any], tenant: "Tenant") -> GravitecStore:
    template, limit = g.template, g.ctx.session_limit
    problems: list[str] = []
    fixture_counts = {s.role: len(s.followers) for s in template.sites}
    limit = max(1, limit)
    for role, site in data["sites"].items():
        where = f"/sites/{role}"
        followers = site["followers"]
        problems += [f"{where}/followers: duplicate regId {d!r}"
                     for d in duplicates(f["regId"] for f in followers)]
        for i, f in enumerate(followers):
            if duplicates(t.lower() for t in f["tags"]):
                problems.append(f"{where}/followers/{i}/tags: a tag repeats (in any case)")
        most = fixture_counts[role] + limit
        if len(followers) > most:
            problems.append(f"{where}/followers: {len(followers)} followers, more than this "
                            f"server keeps for the site ({most}, see --max-sessions)")
        problems += [f"{where}/campaigns: duplicate id {d!r}"
                     for d in duplicates(c["id"] for c in site["campaigns"])]
        problems += [f"{where}/campaigns/{i}/id: above {MAX_ID}"
                     for i, c in enumerate(site["campaigns"]) if int(c["id"]) > MAX_ID]
    if problems:
        raise StateError("gravitec", problems)

    store = GravitecStore(template, g.ctx)
    for role, part in data["sites"].items():
        site = store.sites[role]
        site.load([Follower(f["regId"], f["active"], list(f["tags"]), f["alias"])
                   for f in part["followers"]])
        campaigns = [Campaign(c["id"], c["createdAt"], c["sendAt"], c["ttl"], c["displayTime"],
                              c["payload"], c["pushTag"], c["isTransactional"],
                              tuple(c["audience"]) if c["audience"] is not None else None,
                              c["send"])
                     for c in part["campaigns"]]
        # The bound add_campaign keeps: the oldest are forgotten first.
        site.campaigns = OrderedDict((c.id, c) for c in campaigns[-site.limit:])
        site.scheduled = [(c.send_at_ms, c.id) for c in site.campaigns.values() if c.send is None]
        heapq.heapify(site.scheduled)
        site.day = (part["day"][0], part["day"][1])
        site.last_id = part["lastId"]
    return store


def adopt(g: "Gravitec", store: GravitecStore) -> None:
    """Ids are unique across the server: later campaigns are numbered after the imported ones."""
    claim(g, claims(g, store))


def claims(g: "Gravitec", store: GravitecStore) -> int:
    """The highest campaign id the store holds (or its sites minted)."""
    return max([0] + [max([site.last_id] + [int(c) for c in site.campaigns])
                      for site in store.sites.values()])


def claim(g: "Gravitec", claims: Any) -> None:
    g.template.ids.last = max(g.template.ids.last, claims)


def snapshot(g: "Gravitec", store: GravitecStore) -> dict[str, Any]:
    # Due campaigns are sent first: a request that settles them changed nothing a client
    # could not already observe.
    store.settle(g.ctx.clock.time())
    return store.snapshot()
