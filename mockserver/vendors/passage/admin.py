"""Passage's control-plane calls: drive a link's outcome as the end user's device and the
automation would (claim, complete with a result, fail with an error code), and the
auto-complete setting. Completions and failures send their webhooks."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.apidoc import ANY, BOOL, INT, NULL_STR, STR, TENANT, answer, json_body, obj, op
from ...core.control import JSON, ControlError, body_json, finite_number, tenant_of
from ...core.webhooks import delivered
from . import links
from .handlers import claim_refusal
from .store import ERROR_CODES, NAME, store_of

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from .handlers import Passage
    from .store import Link, PassageStore

MAX_AUTO = 86400  # seconds: the auto-complete delay's bound (a day of mock time)


def routes(g: "Passage") -> list[Route]:
    def found(request: Request, body: dict[str, Any]) -> "tuple[Tenant, PassageStore, Link]":
        tenant = tenant_of(g.tenants, body)
        store = store_of(tenant)
        link_id = request.path_params["link_id"]
        link = store.links.get(link_id)
        if link is None:
            raise ControlError(404, f"no link {link_id} in tenant {tenant.id}")
        g.settle(tenant, store)
        return tenant, store, link

    def active(link: "Link") -> None:
        status = link.status_at(g.now())
        if status != "active":
            raise ControlError(409, f"link {link.id} is {status}, not active: claim it first")

    async def outcome(tenant: "Tenant", link: "Link") -> Response:
        message = links.webhook(g.ctx, g.auth, link)
        calls = await g.ctx.webhooks.send(NAME, tenant.id, [message] if message else [],
                                          retry=links.RETRY)
        deliveries = [{"event": f"link.{link.status}", "pending": call is None,
                       "responseStatus": call.status if call else None,
                       "delivered": delivered(call), "error": call.error if call else None}
                      for call in calls]
        return JSON({"link": links.shown(link, g.now()), "webhooks": deliveries})

    async def claim(request: Request) -> Response:
        body = await body_json(request)
        tenant, store, link = found(request, body)
        refused = claim_refusal(link, g.now())
        if refused is not None:
            raise ControlError(refused[0], refused[1])
        answer_ = links.claim(g.ctx, store, link)
        if link.auto_at is not None:
            g.arm()
        return JSON({"claim": answer_, "link": links.shown(link, g.now())})

    async def complete(request: Request) -> Response:
        body = await body_json(request)
        tenant, store, link = found(request, body)
        active(link)
        if "result" in body:
            result = body["result"]
        else:
            result = links.default_result(g.template, link)
        problem = links.result_problem(g.template, link, result)
        if problem is not None:  # validated before it is kept, as the service does
            links.fail(link, "RESULT_VALIDATION_ERROR", problem, g.now())
        else:
            links.complete(link, result, g.now())
        return await outcome(tenant, link)

    async def fail(request: Request) -> Response:
        body = await body_json(request)
        code = body.get("code", "AUTOMATION_ERROR")
        if not isinstance(code, str) or code not in ERROR_CODES:
            raise ControlError(400, "code must be one of: " + ", ".join(ERROR_CODES))
        message = body.get("message")
        if message is not None and not (isinstance(message, str) and len(message) <= 2048):
            raise ControlError(400, "message must be a string of at most 2048 characters")
        index = body.get("operation")
        tenant, store, link = found(request, body)
        if index is not None and not (index.__class__ is int
                                      and 0 <= index < len(link.operations)):
            raise ControlError(400, f"operation must be an index of the link's "
                                    f"{len(link.operations)} operations")
        active(link)
        if index is not None and message is None:
            op_ = link.operations[index]
            message = f"Operation {index} ({op_['resource']}.{op_['action']}) failed: " \
                      f"{ERROR_CODES[code]}"
        links.fail(link, code, message, g.now())
        return await outcome(tenant, link)

    async def settings(request: Request) -> Response:
        if request.method == "GET":
            tid = request.query_params.get("tenant")
            tenant = tenant_of(g.tenants, {} if tid is None else {"tenant": tid})
            return JSON({"autoCompleteSeconds": store_of(tenant).auto_complete})
        body = await body_json(request)
        if "autoCompleteSeconds" not in body:
            raise ControlError(400, "autoCompleteSeconds is required (a number of seconds, "
                                    "or null to turn the auto-completion off)")
        value = body["autoCompleteSeconds"]
        if value is not None and not (finite_number(value) and not isinstance(value, bool)
                                      and 0 <= value <= MAX_AUTO):
            raise ControlError(400, f"autoCompleteSeconds must be a number from 0 to {MAX_AUTO}"
                                    ", or null")
        tenant = tenant_of(g.tenants, body)
        store_of(tenant).auto_complete = value
        return JSON({"autoCompleteSeconds": value})

    return [Route("/links/{link_id}/claim", claim, methods=["POST"]),
            Route("/links/{link_id}/complete", complete, methods=["POST"]),
            Route("/links/{link_id}/fail", fail, methods=["POST"]),
            Route("/settings", settings, methods=["GET", "POST"])]


_LINK_PARAM = [{"name": "link_id", "in": "path", "required": True, "schema": STR}]
_DELIVERIES = {"type": "array", "items": obj(
    ["event", "pending", "responseStatus", "delivered", "error"], event=STR, pending=BOOL,
    responseStatus={"type": ["integer", "null"]}, delivered=BOOL, error=NULL_STR)}
_OUTCOME = answer(obj(["link", "webhooks"], link={"type": "object"}, webhooks=_DELIVERIES))
_SETTINGS = obj(["autoCompleteSeconds"], autoCompleteSeconds={"type": ["number", "null"]})
# The OpenAPI paths of these calls and the shape of this vendor's part of GET /__admin/summary
# (the control plane's document, GET /__admin/openapi.json).
OPENAPI: dict[str, Any] = {
    "/__admin/passage/links/{link_id}/claim": {"post": {
        **op("Claim a link as the end user's device would (a new session, status active)",
             answer(obj(["claim", "link"], claim={"type": "object"}, link={"type": "object"})),
             body=json_body(obj(tenant=TENANT), required=False),
             errors=("400", "404", "409", "410")),
        "parameters": _LINK_PARAM}},
    "/__admin/passage/links/{link_id}/complete": {"post": {
        **op("Complete an active link with its fixture result or the given one (a result "
             "that fails the operations' schemas fails the link: RESULT_VALIDATION_ERROR); "
             "sends link.complete", _OUTCOME,
             body=json_body(obj(tenant=TENANT, result=ANY), required=False),
             errors=("400", "404", "409")),
        "parameters": _LINK_PARAM}},
    "/__admin/passage/links/{link_id}/fail": {"post": {
        **op("Fail an active link with an error code (and message, and the failing "
             "operation's index); sends link.failed", _OUTCOME,
             body=json_body(obj(tenant=TENANT, code={"enum": list(ERROR_CODES)},
                                message=STR, operation=INT), required=False),
             errors=("400", "404", "409")),
        "parameters": _LINK_PARAM}},
    "/__admin/passage/settings": {
        "get": op("The tenant's auto-complete delay (mock-clock seconds from a claim; null: "
                  "off)", answer(_SETTINGS), query=[("tenant", TENANT)],
                  errors=("404",)),
        "post": op("Set the tenant's auto-complete delay", answer(_SETTINGS),
                   body=json_body(obj(["autoCompleteSeconds"], tenant=TENANT,
                                      autoCompleteSeconds={"type": ["number", "null"]})),
                   errors=("400", "404"))},
}
SUMMARY = obj(["links"], links=obj(
    ["total", "byStatus"], total=INT, byStatus={"type": "object", "additionalProperties": INT}))
