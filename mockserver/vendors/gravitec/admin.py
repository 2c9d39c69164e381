"""Gravitec's control-plane call: add (or replace) a follower of a site."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.apidoc import BOOL, INT, NULL_STR, STR, TENANT, answer, json_body, obj, op
from ...core.control import JSON, ControlError, body_json, tenant_of
from .store import MAX_TAGS_PER_FOLLOWER, Follower, java_length, store_of

if TYPE_CHECKING:
    from .handlers import Gravitec


def _text(body: dict[str, Any], key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= java_length(value) <= 255:
        raise ControlError(400, f"{key} must be a string of 1 to 255 characters")
    return value


def routes(g: "Gravitec") -> list[Route]:
    async def add_subscriber(request: Request) -> Response:
        """`{"regId", "tags"?, "alias"?, "active"?, "site"?, "tenant"?}`: 201 when new, 200 when
        it replaced a follower with the same regId. `site` is "main" (default) or "free"."""
        body = await body_json(request)
        reg_id = _text(body, "regId", True)
        alias = _text(body, "alias", False)
        active = body.get("active", True)
        if not isinstance(active, bool):
            raise ControlError(400, "active must be true or false")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(
                isinstance(t, str) and 1 <= java_length(t) <= 255 for t in tags):
            raise ControlError(400, "tags must be a list of strings of 1 to 255 characters")
        unique: list[str] = []  # de-duplicated case-insensitively, the first spelling kept
        seen: set[str] = set()
        for t in tags:
            if t.lower() not in seen:
                seen.add(t.lower())
                unique.append(t)
        if len(unique) > MAX_TAGS_PER_FOLLOWER:
            raise ControlError(400, f"a follower has at most {MAX_TAGS_PER_FOLLOWER} tags")
        tenant = tenant_of(g.tenants, body)
        store = store_of(tenant)
        role = body.get("site", "main")
        if not isinstance(role, str) or role not in store.sites:
            raise ControlError(400, "site must be one of: " + ", ".join(sorted(store.sites)))
        site = store.sites[role]
        site.settle(g.ctx.clock.time())  # due campaigns go out to the followers as they were
        existed = reg_id in site.followers
        if not existed and len(site.followers) >= site.limit + site.fixture_count:
            raise ControlError(409, f"site {role} holds its maximum of {len(site.followers)} "
                                    "followers (--max-sessions)")
        follower = Follower(reg_id, active, unique, alias)
        site.put(follower)
        return JSON({"tenant": tenant.id, "site": role, **follower.to_json()},
                    200 if existed else 201)

    return [Route("/subscribers", add_subscriber, methods=["POST"])]


# The OpenAPI paths of these calls and the shape of this vendor's part of GET /__admin/summary
# (the control plane's document, GET /__admin/openapi.json).
OPENAPI: dict[str, Any] = {"/__admin/gravitec/subscribers": {"post": op(
    "Add (201) or replace (200) a follower",
    answer(obj(["tenant", "site", "regId", "active", "tags", "alias"], tenant=STR,
               site=STR, regId=STR, active=BOOL, tags={"type": "array", "items": STR},
               alias=NULL_STR), "replaced"),
    body=json_body(obj(["regId"], regId=STR, tags={"type": "array", "items": STR},
                       alias=STR, active=BOOL, site={"enum": ["main", "free"]},
                       tenant=TENANT)), errors=("400", "404", "409"))}}

# The one status besides 200 that answers subscribers: 201 when the follower is new.
_ADD = OPENAPI["/__admin/gravitec/subscribers"]["post"]["responses"]
_ADD["201"] = answer(_ADD["200"]["content"]["application/json"]["schema"], "created")
SUMMARY = obj(["followers", "campaigns"], followers=INT, campaigns=INT)
