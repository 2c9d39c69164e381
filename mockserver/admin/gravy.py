"""Gravy admin calls: move a connection through its lifecycle, firing its webhooks."""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..vendors.gravy import webhooks
from ..vendors.gravy.store import STATUSES
from .common import AdminError, body_json, tenant_of

if TYPE_CHECKING:
    from ..app import MockServer


def routes(server: "MockServer") -> list[Route]:
    async def connection_status(request: Request) -> Response:
        body = await body_json(request)
        status = body.get("status")
        if status not in STATUSES:
            raise AdminError(400, "status must be one of: " + ", ".join(STATUSES))
        failed = body.get("failedResources")
        if failed is not None and not (isinstance(failed, list)
                                       and all(isinstance(x, str) for x in failed)):
            raise AdminError(400, "failedResources must be a list of resource names")
        tenant = tenant_of(server, body)
        g = server.ctx.runtime["gravy"]
        store = g.store(tenant)
        conn = store.connections.get(request.path_params["connection_id"])
        if conn is None:
            raise AdminError(404, f"no connection {request.path_params['connection_id']} "
                                  f"in tenant {tenant.id}")
        base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}/gravy"
        try:
            steps = store.plan(conn, status)
        except ValueError as exc:
            raise AdminError(409, str(exc)) from None
        deliveries = []
        for step in steps:
            store.step(conn, step, server.clock.iso(), set(failed) if failed is not None else None)
            if conn.webhookUrl:
                call = await webhooks.deliver(server.ctx, g.auth, tenant.id, conn, base)
                deliveries.append({"status": step, "responseStatus": call.status,
                                   "delivered": call.error is None and call.status is not None
                                   and 200 <= call.status < 300, "error": call.error})
        return JSONResponse({"connection": conn.to_json(base), "transitions": steps,
                             "webhooks": deliveries})

    return [Route("/__admin/gravy/connections/{connection_id}/status", connection_status,
                  methods=["POST"])]
