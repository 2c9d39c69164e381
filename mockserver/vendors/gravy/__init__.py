"""Gravy Connect (Passage): OAuth, intent tokens, connections, resources, integrations, webhooks."""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request

from ...core.cors import ExpressCors
from ...core.routing import VendorApp
from ...core.vendor import Vendor
from . import admin, errors, fixtures, handlers, state
from .auth import GravyAuth
from .handlers import Gravy
from .routes import build
from .store import NAME, GravyStore, GravyTemplate

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Scope

    from ...core.http import VendorError
    from ...core.tenancy import Tenant, Tenants


class GravyVendor(Vendor):
    name = NAME
    hosts = ("api.getpassage.ai", "api.runpassage.ai", "prod-gravy-connect-api.onrender.com")
    default_credentials = {"clientId": "gravy-sandbox-client",
                           "clientSecret": "gravy-sandbox-secret",
                           "publishableKey": "pk-test-sandbox"}
    tenant_keys = ("clientId", "publishableKey")
    # access_token: the token call's answer in the journal, as Groove masks its issued tokens
    secret_fields = frozenset({"client_secret", "clientSecret", "access_token"})
    content_type = "application/json; charset=utf-8"  # Express's res.json()
    not_found = staticmethod(handlers.route_missing)  # Express: "Cannot GET /path", also for 405s
    cors = ExpressCors()   # NestJS app.enableCors(): the cors package's defaults
    admin_openapi = admin.OPENAPI      # its /__admin calls, for GET /__admin/openapi.json
    summary_schema = admin.SUMMARY     # the shape of summary()

    template: GravyTemplate
    service: Gravy

    def new_credentials(self) -> dict[str, str]:
        return {"clientId": f"gravy-{secrets.token_hex(8)}",
                "clientSecret": secrets.token_urlsafe(24),
                "publishableKey": f"pk-test-{secrets.token_hex(12)}"}

    def load_template(self) -> GravyTemplate:
        return GravyTemplate(fixtures.load(self.ctx.fixtures_dir), self.ctx.seed)

    def new_store(self) -> GravyStore:
        return GravyStore(self.template, self.ctx.seed, self.ctx.session_limit)

    def build_app(self, tenants: "Tenants") -> VendorApp:
        self.service = Gravy(self.ctx, tenants, GravyAuth(self.ctx, tenants, self.template),
                             self.template)
        return build(self.service, self)

    def admin_routes(self) -> list["BaseRoute"]:
        return admin.routes(self.service)

    def tenant_of(self, scope: "Scope", body: bytes | None) -> "Tenant | None":
        return self.service.auth.tenant_of(Request(scope), body)

    def fault_response(self, status: int, scope: "Scope") -> "VendorError":
        return errors.fault(status)

    def state_schema(self) -> dict:
        return state.SCHEMA

    def export_state(self, store: GravyStore, tenant: "Tenant") -> dict:
        return state.export(store, self.ctx.clock.time())

    def import_state(self, data: dict, tenant: "Tenant") -> GravyStore:
        return state.restore(data, tenant, self.template, self.service.auth, self.ctx.seed,
                             self.ctx.session_limit, self.ctx.clock.time())
