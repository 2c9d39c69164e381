"""Gravitec: web push campaigns, audiences, followers' aliases and tags (a Spring Boot API)."""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from starlette.requests import Request

from ...core.cors import SpringCors
from ...core.http import basic_credentials
from ...core.routing import VendorApp
from ...core.vendor import Vendor
from . import admin, errors, fixtures, handlers, state
from .auth import GravitecAuth
from .handlers import Gravitec
from .routes import build
from .store import NAME, GravitecStore, GravitecTemplate

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Scope

    from ...core.http import VendorError
    from ...core.tenancy import Tenant, Tenants


class GravitecVendor(Vendor):
    name = NAME
    # The API's real host (README.md's vendor base URLs), and the doc's 403 example's
    # `Host: api.gravitec.net` (a slip it accepts)
    hosts = ("uapi.gravitec.net", "api.gravitec.net")
    default_credentials = {"appKey": "1e26f7bb3f81e1ab789d3e20b9cf6325",
                           "appSecret": "9bb59fcbff38b85647c421c65cca06ce"}
    tenant_keys = ("appKey",)
    content_type = "application/json"  # Spring 5.2's Jackson converter, no charset
    not_found = staticmethod(handlers.route_missing)  # Spring Boot's 404 (and 405) body
    cors = SpringCors()    # @CrossOrigin's defaults on the controllers
    admin_openapi = admin.OPENAPI      # its /__admin calls, for GET /__admin/openapi.json
    summary_schema = admin.SUMMARY     # the shape of summary()

    template: GravitecTemplate
    service: Gravitec

    def new_credentials(self) -> dict[str, str]:
        return {"appKey": secrets.token_hex(16), "appSecret": secrets.token_hex(16)}

    def load_template(self) -> GravitecTemplate:
        return fixtures.load(self.ctx.fixtures_dir, self.ctx.seed)

    def new_store(self) -> GravitecStore:
        return GravitecStore(self.template, self.ctx.session_limit)

    def build_app(self, tenants: "Tenants") -> VendorApp:
        self.service = Gravitec(self.ctx, tenants, GravitecAuth(tenants, self.template),
                                documented=self.template.documented)
        return build(self.service, self)

    def admin_routes(self) -> list["BaseRoute"]:
        return admin.routes(self.service)

    def tenant_of(self, scope: "Scope", body: bytes | None) -> "Tenant | None":
        return self.service.auth.tenant_of(Request(scope))

    def fault_response(self, status: int, scope: "Scope") -> "VendorError":
        creds = basic_credentials(scope)
        return errors.fault(status, creds[0] if creds else None,
                            handlers.path_of(Request(scope)), self.ctx.clock.time())

    def snapshot(self, store: GravitecStore) -> dict:
        # Due campaigns are sent first: a request that settles them changed nothing a client
        # could not already observe.
        store.settle(self.ctx.clock.time())
        return store.snapshot()

    def state_schema(self) -> dict:
        return state.schema(self.template)

    def export_state(self, store: GravitecStore, tenant: "Tenant") -> dict:
        return state.export(store, self.ctx.clock.time())

    def import_state(self, data: dict, tenant: "Tenant") -> GravitecStore:
        return state.restore(data, self.template, self.ctx.session_limit)

    def adopt_state(self, store: GravitecStore) -> None:
        state.adopt(store)
