"""Groove (grooveapp.com): Doorkeeper OAuth 2.0, a graphql-ruby API, sliding-window rate limits."""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request

from ...core.cors import RackCors
from ...core.routing import VendorApp
from ...core.vendor import Vendor
from . import admin, errors, fixtures, handlers, state
from .auth import GrooveAuth
from .handlers import Groove
from .routes import build
from .schema import Executor
from .store import NAME, RATE_LIMIT, GrooveStore, GrooveTemplate, store_of

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Scope

    from ...core.http import VendorError
    from ...core.tenancy import Tenant, Tenants

REDIRECT_URI = "http://localhost:3000/oauth/callback"


class GrooveVendor(Vendor):
    name = NAME
    hosts = ("app.grooveapp.com", "auth.grooveapp.com")
    default_credentials = {"clientId": "groove-sandbox-client",
                           "clientSecret": "groove-sandbox-secret",
                           "redirectUri": REDIRECT_URI}
    tenant_keys = ("clientId",)
    secret_fields = frozenset({"client_secret", "code", "access_token", "refresh_token"})
    content_type = "application/json; charset=utf-8"  # Rails' render json:
    not_found = staticmethod(handlers.route_missing)  # Rails' {"status": 404, "error": ...}
    cors = RackCors()      # rack-cors as Rails' generated cors.rb configures it
    admin_openapi = admin.OPENAPI      # its /__admin calls, for GET /__admin/openapi.json
    summary_schema = admin.SUMMARY     # the shape of summary()

    template: GrooveTemplate
    service: Groove

    def new_credentials(self) -> dict[str, str]:
        # A new tenant's client keeps the sandbox redirect URI, so the same app works unchanged.
        return {"clientId": f"groove-{secrets.token_hex(8)}",
                "clientSecret": secrets.token_urlsafe(24), "redirectUri": REDIRECT_URI}

    def load_template(self) -> GrooveTemplate:
        return fixtures.load(self.ctx.fixtures_dir, self.ctx.seed)

    def new_store(self) -> GrooveStore:
        return GrooveStore(self.template, self.ctx.session_limit)

    def build_app(self, tenants: "Tenants") -> VendorApp:
        self.service = Groove(self.ctx, tenants, GrooveAuth(self.ctx, tenants), self.template,
                              Executor(flows=len(self.template.flows)))
        return build(self.service, self)

    def admin_routes(self) -> list["BaseRoute"]:
        return admin.routes(self.service)

    def tenant_of(self, scope: "Scope", body: bytes | None) -> "Tenant | None":
        return self.service.auth.tenant_of(Request(scope), body)

    def fault_response(self, status: int, scope: "Scope") -> "VendorError":
        tenant = self.service.tenants.get(scope["state"].get("tenant") or "")
        limit = store_of(tenant).rate_limit if tenant is not None else RATE_LIMIT
        return errors.fault(status, scope["vendor_path"], limit, self.ctx.clock.time())

    def state_schema(self) -> dict:
        return state.SCHEMA

    def export_state(self, store: GrooveStore, tenant: "Tenant") -> dict:
        return state.export(store, self.ctx.clock.time())

    def import_state(self, data: dict, tenant: "Tenant") -> GrooveStore:
        return state.restore(data, tenant, self.template, self.ctx.session_limit,
                             self.ctx.clock.time())
