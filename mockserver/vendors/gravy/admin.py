"""Gravy's control-plane calls: move a connection through its lifecycle, firing its webhooks."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.apidoc import BOOL, INT, NULL_STR, STR, TENANT, answer, json_body, obj, op
from ...core.control import JSON, ControlError, body_json, tenant_of
from ...core.http import origin
from ...core.webhooks import delivered
from . import webhooks
from .store import NAME, STATUSES

if TYPE_CHECKING:
    from .handlers import Gravy


def routes(g: "Gravy") -> list[Route]:
    async def connection_status(request: Request) -> Response:
        body = await body_json(request)
        status = body.get("status")
        if status not in STATUSES:
            raise ControlError(400, "status must be one of: " + ", ".join(STATUSES))
        failed = body.get("failedResources")
        if failed is not None and not (isinstance(failed, list)
                                       and all(isinstance(x, str) for x in failed)):
            raise ControlError(400, "failedResources must be a list of resource names")
        tenant = tenant_of(g.tenants, body)
        store = g.store(tenant)
        conn = store.connections.get(request.path_params["connection_id"])
        if conn is None:
            raise ControlError(404, f"no connection {request.path_params['connection_id']} "
                                    f"in tenant {tenant.id}")
        base = f"{origin(request)}/{NAME}"
        try:
            steps = store.plan(conn, status)
        except ValueError as exc:
            raise ControlError(409, str(exc)) from None
        messages = []
        for step in steps:
            # the tenant's own record from the first step on (copy-on-write)
            conn = store.step(conn, step, g.ctx.clock.iso(),
                              set(failed) if failed is not None else None)
            if conn.webhookUrl:
                messages.append(webhooks.connection_updated(g.ctx, g.auth, conn, base))
        calls = await g.ctx.webhooks.send(NAME, tenant.id, messages)
        deliveries = [{"status": step, "pending": call is None,
                       "responseStatus": call.status if call else None,
                       "delivered": delivered(call), "error": call.error if call else None}
                      for step, call in zip(steps, calls)] if messages else []
        return JSON({"connection": conn.to_json(base), "transitions": steps,
                     "webhooks": deliveries})

    return [Route("/connections/{connection_id}/status", connection_status, methods=["POST"])]


# The OpenAPI paths of these calls and the shape of this vendor's part of GET /__admin/summary
# (the control plane's document, GET /__admin/openapi.json).
OPENAPI: dict[str, Any] = {"/__admin/gravy/connections/{connection_id}/status": {"post": {
    **op("Move a connection through its lifecycle, firing its webhooks", answer(obj(
        ["connection", "transitions", "webhooks"], connection={"type": "object"},
        transitions={"type": "array", "items": STR},
        webhooks={"type": "array", "items": obj(
            ["status", "pending", "responseStatus", "delivered", "error"], status=STR,
            pending=BOOL, responseStatus={"type": ["integer", "null"]}, delivered=BOOL,
            error=NULL_STR)})),
         body=json_body(obj(["status"], status=STR, tenant=TENANT, failedResources={
             "type": "array", "items": STR})), errors=("400", "404", "409")),
    "parameters": [{"name": "connection_id", "in": "path", "required": True,
                    "schema": STR}]}}}
SUMMARY = obj(["connections"], connections=obj(
    ["total", "byStatus"], total=INT, byStatus={"type": "object", "additionalProperties": INT}))
