"""Integry's control-plane calls: connect and disconnect an app for a user."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.apidoc import ANY, INT, STR, TENANT, answer, json_body, obj, op
from ...core.control import JSON, ControlError, body_json, tenant_of
from .store import store_of

if TYPE_CHECKING:
    from .handlers import Integry


def _text(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ControlError(400, f"{key} must be a non-empty string of at most 255 characters")
    return value


def drf_time(dt: datetime) -> str:
    """DRF's DateTimeField: ISO 8601, microseconds only when there are some, Z for UTC (the
    documented account's "2024-11-10T23:28:58Z")."""
    text = dt.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def routes(g: "Integry") -> list[Route]:
    async def connected_accounts(request: Request) -> Response:
        """POST `{"userId", "app", "displayName"?, "tenant"?}` connects an account (201);
        DELETE `{"userId", "app", "id"?, "tenant"?}` disconnects it, or all of that app."""
        body = await body_json(request)
        user = _text(body, "userId")
        app = _text(body, "app")
        if app not in g.template.apps_by_name:
            raise ControlError(404, f"no app {app}")
        tenant = tenant_of(g.tenants, body)
        store = store_of(tenant)
        if request.method == "DELETE":
            account_id = body.get("id")
            if account_id is not None and (isinstance(account_id, bool)
                                           or not isinstance(account_id, int)):
                raise ControlError(400, "id must be an integer")
            removed = store.disconnect(user, app, account_id)
            if not removed:
                raise ControlError(404, f"user {user} has no such {app} account")
            return JSON({"tenant": tenant.id, "userId": user, "app": app, "removed": removed})
        display = _text(body, "displayName", required=False) or f"{user}@{app}"
        account = store.connect(user, app, display, drf_time(g.ctx.clock.now()))
        return JSON({"tenant": tenant.id, "userId": user, "app": app, **account.to_json()}, 201)

    return [Route("/connected-accounts", connected_accounts, methods=["POST", "DELETE"])]


# The OpenAPI paths of these calls and the shape of this vendor's part of GET /__admin/summary
# (the control plane's document, GET /__admin/openapi.json).
OPENAPI: dict[str, Any] = {"/__admin/integry/connected-accounts": {
    "post": op("Connect an app account for a user",
               answer(obj(["tenant", "userId", "app", "id", "display_name", "modified_at"],
                          tenant=STR, userId=STR, app=STR, id=INT, display_name=STR,
                          modified_at=STR), "created"), status="201",
               body=json_body(obj(["userId", "app"], userId=STR, app=STR,
                                  displayName=STR, tenant=TENANT)), errors=("400", "404")),
    "delete": op("Disconnect a user's account of an app (or all of them)",
                 answer(obj(["tenant", "userId", "app", "removed"], tenant=STR, userId=STR,
                            app=STR, removed=ANY)),
                 body=json_body(obj(["userId", "app"], userId=STR, app=STR, id=INT,
                                    tenant=TENANT)), errors=("400", "404"))}}
SUMMARY = obj(["connectedAccounts", "users"], connectedAccounts=INT, users=INT)
