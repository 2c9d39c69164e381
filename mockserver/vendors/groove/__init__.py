"""Groove (grooveapp.com): Doorkeeper OAuth 2.0, a graphql-ruby API, sliding-window rate limits."""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from ...core.routing import VendorApp
from ...core.vendor import Vendor
from . import admin, fixtures, handlers, state
from .auth import GrooveAuth
from .handlers import Groove
from .routes import build
from .schema import Executor
from .store import NAME, GrooveStore, GrooveTemplate

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

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
                              Executor())
        return build(self.service, self)

    def admin_routes(self) -> list["BaseRoute"]:
        return admin.routes(self.service)

    def state_schema(self) -> dict:
        return state.SCHEMA

    def export_state(self, store: GrooveStore, tenant: "Tenant") -> dict:
        return state.export(store, self.ctx.clock.time())

    def import_state(self, data: dict, tenant: "Tenant") -> GrooveStore:
        return state.restore(data, tenant, self.template, self.ctx.session_limit,
                             self.ctx.clock.time())
