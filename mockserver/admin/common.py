"""What every admin module shares: its error, body parsing, and the tenant a call acts on."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:
    from ..app import MockServer
    from ..core.tenancy import Tenant


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def body_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise AdminError(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise AdminError(400, "the body must be a JSON object")
    return data


def tenant_of(server: "MockServer", body: dict[str, Any]) -> "Tenant":
    """The tenant a vendor admin call acts on: the body's "tenant", else the default."""
    tid = body.get("tenant")
    if tid is None:
        return server.tenants.default
    tenant = server.tenants.get(str(tid))
    if tenant is None:
        raise AdminError(404, f"no tenant {tid}")
    return tenant
