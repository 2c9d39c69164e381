"""Integry's control-plane calls: list, connect and disconnect app accounts, a user's or the
workspace's (the accounts every user of the app may call with)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.apidoc import ANY, BOOL, INT, STR, TENANT, answer, json_body, obj, op
from ...core.control import JSON, ControlError, body_json, tenant_of
from .store import store_of

if TYPE_CHECKING:
    from .handlers import Integry
    from .store import Account


def _text(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ControlError(400, f"{key} must be a non-empty string of at most 255 characters")
    return value


def _owner(body: dict[str, Any]) -> str | None:
    """The user whose accounts a call acts on, or None for the workspace's."""
    workspace = body.get("workspace", False)
    if not isinstance(workspace, bool):
        raise ControlError(400, "workspace must be true or false")
    if not workspace:
        return _text(body, "userId")
    if body.get("userId") is not None:
        raise ControlError(400, 'send "userId" or "workspace": true, not both')
    return None


def drf_time(dt: datetime) -> str:
    """DRF's DateTimeField: ISO 8601, microseconds only when there are some, Z for UTC (the
    documented account's "2024-11-10T23:28:58Z")."""
    text = dt.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _accounts(apps: dict[str, list["Account"]], app: str | None) -> dict[str, list[dict]]:
    return {a: [x.to_json() for x in accs] for a, accs in sorted(apps.items())
            if accs and (app is None or a == app)}


def routes(g: "Integry") -> list[Route]:
    def known_app(name: str | None) -> str | None:
        if name is not None and name not in g.template.apps_by_name:
            raise ControlError(404, f"no app {name}")
        return name

    async def connected_accounts(request: Request) -> Response:
        """GET `?tenant=&userId=&app=` lists accounts, the workspace's and each user's;
        POST `{"userId" | "workspace": true, "app", "displayName"?, "tenant"?}` connects one
        (201); DELETE `{"userId" | "workspace": true, "app", "id"?, "tenant"?}` disconnects it,
        or all of that app."""
        if request.method == "GET":
            return _listing(request)
        body = await body_json(request)
        user = _owner(body)
        app = known_app(_text(body, "app"))
        tenant = tenant_of(g.tenants, body)
        store = store_of(tenant)
        whose = {"userId": user} if user is not None else {"workspace": True}
        if request.method == "DELETE":
            account_id = body.get("id")
            if account_id is not None and (isinstance(account_id, bool)
                                           or not isinstance(account_id, int)):
                raise ControlError(400, "id must be an integer")
            if user is None:
                removed = store.disconnect_workspace(app, account_id)
                if not removed:
                    raise ControlError(404, f"the workspace has no such {app} account")
            else:
                removed = store.disconnect(user, app, account_id)
                if not removed:
                    raise ControlError(404, f"user {user} has no such {app} account")
            return JSON({"tenant": tenant.id, **whose, "app": app, "removed": removed})
        display = _text(body, "displayName", required=False) \
            or (f"{user}@{app}" if user is not None else f"workspace@{app}")
        # Accounts are kept per user and for the workspace up to --max-sessions each, as the
        # users themselves are: memory stays bounded however often this is called.
        held = sum(map(len, (store.workspace if user is None
                             else store.users.get(user, {})).values()))
        if held >= store.limit:
            owner = "the workspace" if user is None else f"user {user}"
            raise ControlError(409, f"{owner} holds its maximum of {held} accounts "
                                    "(--max-sessions)")
        now = drf_time(g.ctx.clock.now())
        account = store.connect(user, app, display, now) if user is not None \
            else store.connect_workspace(app, display, now)
        return JSON({"tenant": tenant.id, **whose, "app": app, **account.to_json()}, 201)

    def _listing(request: Request) -> Response:
        q = request.query_params
        tid = q.get("tenant")
        tenant = g.tenants.default if tid is None else g.tenants.get(tid)
        if tenant is None:
            raise ControlError(404, f"no tenant {tid}")
        app = known_app(q.get("app"))
        user = q.get("userId")
        store = store_of(tenant)
        users = store.users.items() if user is None else \
            [(user, store.users[user])] if user in store.users else []
        listed = [{"userId": u, "apps": apps} for u, apps in
                  ((u, _accounts(apps, app)) for u, apps in users) if apps]
        return JSON({"tenant": tenant.id, "workspace": _accounts(store.workspace, app),
                     "users": listed})

    return [Route("/connected-accounts", connected_accounts, methods=["GET", "POST", "DELETE"])]


# The OpenAPI paths of these calls and the shape of this vendor's part of GET /__admin/summary
# (the control plane's document, GET /__admin/openapi.json).
_ACCOUNT = obj(["id", "display_name", "modified_at"], id=INT, display_name=STR, modified_at=STR)
_BY_APP = {"type": "object", "additionalProperties": {"type": "array", "items": _ACCOUNT}}
_WHOSE = {"userId": {**STR, "description": "the user whose accounts these are"},
          "workspace": {**BOOL, "description": "true: the workspace's accounts, which every "
                                               "user's calls may use (instead of userId)"}}
OPENAPI: dict[str, Any] = {"/__admin/integry/connected-accounts": {
    "get": op("List connected accounts: the workspace's and each user's, by app",
              answer(obj(["tenant", "workspace", "users"], tenant=STR, workspace=_BY_APP,
                         users={"type": "array", "items": obj(["userId", "apps"], userId=STR,
                                                              apps=_BY_APP)})),
              query=(("tenant", TENANT), ("userId", STR), ("app", STR)), errors=("404",)),
    "post": op("Connect an app account for a user, or for the workspace",
               answer(obj(["tenant", "app", "id", "display_name", "modified_at"],
                          tenant=STR, **_WHOSE, app=STR, id=INT, display_name=STR,
                          modified_at=STR), "created"), status="201",
               body=json_body(obj(["app"], **_WHOSE, app=STR, displayName=STR, tenant=TENANT)),
               errors=("400", "404", "409")),
    "delete": op("Disconnect an account of an app (or all of them), a user's or the "
                 "workspace's",
                 answer(obj(["tenant", "app", "removed"], tenant=STR, **_WHOSE, app=STR,
                            removed=ANY)),
                 body=json_body(obj(["app"], **_WHOSE, app=STR, id=INT, tenant=TENANT)),
                 errors=("400", "404"))}}
SUMMARY = obj(["connectedAccounts", "users", "workspace"], connectedAccounts=INT, users=INT,
              workspace=obj(["total", "byApp"], total=INT,
                            byApp={"type": "object", "additionalProperties": INT}))
