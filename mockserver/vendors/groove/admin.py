"""Groove's control-plane calls: add a person; set a tenant's rate limit and its GraphQL query
limits (graphql-ruby's max_complexity and max_depth)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.apidoc import INT, NULL_STR, STR, TENANT, answer, json_body, obj, op
from ...core.control import JSON, ControlError, body_json, tenant_of
from .store import store_of

if TYPE_CHECKING:
    from .handlers import Groove

TEXT_MAX = 255
RATE_LIMIT_MAX = 1_000_000
COMPLEXITY_MAX = 1_000_000_000
DEPTH_MAX = 200               # graphql-core parses no document nested deeper
LIMITS = {"maxComplexity": COMPLEXITY_MAX, "maxDepth": DEPTH_MAX}
NULL_INT = {"type": ["integer", "null"]}


def _text(body: dict[str, Any], key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
        raise ControlError(400, f"{key} must be a non-empty string of at most {TEXT_MAX} "
                                "characters")
    return value


def routes(g: "Groove") -> list[Route]:
    async def add_person(request: Request) -> Response:
        """`{"name", "emailAddress", "salesforceId"?, "tenant"?}` -> 201 the person."""
        body = await body_json(request)
        name = _text(body, "name", True)
        email = _text(body, "emailAddress", True)
        salesforce_id = _text(body, "salesforceId", False)
        tenant = tenant_of(g.tenants, body)
        store = store_of(tenant)
        if salesforce_id is not None and salesforce_id in store.by_salesforce:
            raise ControlError(409, f"a person with salesforceId {salesforce_id} exists")
        if len(store.people) >= len(g.template.people) + store.limit:
            raise ControlError(409, "this tenant holds its maximum of people (--max-sessions)")
        person = store.add_person(name, email, salesforce_id)
        return JSON({"tenant": tenant.id, **person.to_json()}, 201)

    async def rate_limit(request: Request) -> Response:
        """`{"limit": n, "tenant"?}`: requests per minute per access token (default 100)."""
        body = await body_json(request)
        limit = body.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) \
                or not 1 <= limit <= RATE_LIMIT_MAX:
            raise ControlError(400, f"limit must be an integer from 1 to {RATE_LIMIT_MAX}")
        tenant = tenant_of(g.tenants, body)
        store_of(tenant).rate_limit = limit
        return JSON({"tenant": tenant.id, "limit": limit})

    async def query_limits(request: Request) -> Response:
        """`{"maxComplexity"?: n | null, "maxDepth"?: n | null, "tenant"?}`: graphql-ruby's
        limits on the tenant's GraphQL queries (null: none); a key left out keeps its value."""
        body = await body_json(request)
        if not any(k in body for k in LIMITS):
            raise ControlError(400, "give maxComplexity, maxDepth or both")
        for key, most in LIMITS.items():
            value = body.get(key)
            if key in body and value is not None and (
                    isinstance(value, bool) or not isinstance(value, int)
                    or not 1 <= value <= most):
                raise ControlError(400, f"{key} must be null or an integer from 1 to {most}")
        tenant = tenant_of(g.tenants, body)
        store = store_of(tenant)
        store.set_query_limits(body.get("maxComplexity", store.max_complexity),
                               body.get("maxDepth", store.max_depth))
        return JSON({"tenant": tenant.id, "maxComplexity": store.max_complexity,
                     "maxDepth": store.max_depth})

    return [Route("/people", add_person, methods=["POST"]),
            Route("/rate-limit", rate_limit, methods=["POST"]),
            Route("/query-limits", query_limits, methods=["POST"])]


# The OpenAPI paths of these calls and the shape of this vendor's part of GET /__admin/summary
# (the control plane's document, GET /__admin/openapi.json).
OPENAPI: dict[str, Any] = {
    "/__admin/groove/people": {"post": op(
        "Add a person", answer(obj(["tenant", "id", "name", "emailAddress", "salesforceId"],
                                   tenant=STR, id=STR, name=STR, emailAddress=STR,
                                   salesforceId=NULL_STR), "created"), status="201",
        body=json_body(obj(["name", "emailAddress"], name=STR, emailAddress=STR,
                           salesforceId=STR, tenant=TENANT)),
        errors=("400", "404", "409"))},
    "/__admin/groove/rate-limit": {"post": op(
        "Set a tenant's requests per minute per access token",
        answer(obj(["tenant", "limit"], tenant=STR, limit=INT)),
        body=json_body(obj(["limit"], limit={"type": "integer", "minimum": 1,
                                             "maximum": 1_000_000}, tenant=TENANT)),
        errors=("400", "404"))},
    "/__admin/groove/query-limits": {"post": op(
        "Set a tenant's GraphQL limits: graphql-ruby's max_complexity and max_depth",
        answer(obj(["tenant", "maxComplexity", "maxDepth"], tenant=STR,
                   maxComplexity=NULL_INT, maxDepth=NULL_INT)),
        body=json_body(obj([], maxComplexity={"type": ["integer", "null"], "minimum": 1,
                                              "maximum": COMPLEXITY_MAX},
                           maxDepth={"type": ["integer", "null"], "minimum": 1,
                                     "maximum": DEPTH_MAX}, tenant=TENANT)),
        errors=("400", "404"))}}
SUMMARY = obj(["people", "flows", "memberships"], people=INT, flows=INT, memberships=INT)
