"""`/__admin/faults`: add, list and delete injected faults (core/faults.py applies them)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.control import JSON, ControlError, body_json, tenant_of
from ..core.faults import FaultError

if TYPE_CHECKING:
    from ..core.faults import Faults
    from ..core.tenancy import Tenants


def routes(faults: "Faults", tenants: "Tenants") -> list[Route]:
    async def collection(request: Request) -> Response:
        if request.method == "GET":
            return JSON({"faults": [f.to_dict() for f in faults.items]})
        if request.method == "DELETE":
            faults.clear()
            return Response(status_code=204)
        body = await body_json(request)
        try:
            # an unknown tenant is a 404 (as every admin call naming one), after the 400s
            fault = faults.add(body, lambda f: tenant_of(tenants, {"tenant": f.tenant}))
        except FaultError as exc:
            raise ControlError(400, str(exc)) from None
        return JSON(fault.to_dict(), 201)

    async def one(request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        if request.method == "GET":
            fault = faults.get(fault_id)
            if fault is None:
                raise ControlError(404, f"no fault {fault_id}")
            return JSON(fault.to_dict())
        if not faults.remove(fault_id):
            raise ControlError(404, f"no fault {fault_id}")
        return Response(status_code=204)

    return [Route("/__admin/faults", collection, methods=["GET", "POST", "DELETE"]),
            Route("/__admin/faults/{fault_id}", one, methods=["GET", "DELETE"])]
