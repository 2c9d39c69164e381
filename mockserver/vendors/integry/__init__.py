"""Integry: hash-signed calls, the apps and functions catalogues, predict, and function calls
against simulated app backends (a Django REST Framework API)."""
from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from starlette.requests import Request

from ...core.cors import DJANGO_HEADERS, DjangoCors
from ...core.routing import VendorApp
from ...core.vendor import Vendor
from . import admin, errors, fixtures, handlers, state
from .auth import IntegryAuth
from .handlers import Integry
from .routes import build
from .store import NAME, IntegryStore, IntegryTemplate

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Scope

    from ...core.http import VendorError
    from ...core.tenancy import Tenant, Tenants


class IntegryVendor(Vendor):
    name = NAME
    hosts = ("api.integry.io",)
    default_credentials = {"appKey": "002d4f23-778a-11e7-bf2a-42010a8002c7",
                           "appSecret": "integry-sandbox-secret", "userId": "123456"}
    tenant_keys = ("appKey",)
    secret_headers = frozenset({"hash"})
    secret_fields = frozenset({"hash"})   # the Node SDK's query parameter too
    content_type = "application/json"     # DRF's JSONRenderer
    not_found = staticmethod(handlers.route_missing)  # DRF/Django: {"detail": "Not found."}
    # django-cors-headers' defaults, its allowed headers also naming the signed-call headers
    # a browser app sends (App-Key, User-ID, Hash), or no browser call could pass
    cors = DjangoCors(allow_headers=DJANGO_HEADERS + ("app-key", "user-id", "hash"))
    admin_openapi = admin.OPENAPI      # its /__admin calls, for GET /__admin/openapi.json
    summary_schema = admin.SUMMARY     # the shape of summary()

    template: IntegryTemplate
    service: Integry

    def new_credentials(self) -> dict[str, str]:
        # A new tenant's users are the fixtures' (user 123456 keeps its accounts there too).
        return {"appKey": str(uuid.uuid4()), "appSecret": secrets.token_urlsafe(24),
                "userId": "123456"}

    def load_template(self) -> IntegryTemplate:
        return fixtures.load(self.ctx.fixtures_dir, self.ctx.seed)

    def new_store(self) -> IntegryStore:
        return IntegryStore(self.template, self.ctx.session_limit)

    def build_app(self, tenants: "Tenants") -> VendorApp:
        self.service = Integry(self.ctx, tenants, IntegryAuth(tenants, self.template.documented),
                               self.template)
        return build(self.service, self)

    def admin_routes(self) -> list["BaseRoute"]:
        return admin.routes(self.service)

    def tenant_of(self, scope: "Scope", body: bytes | None) -> "Tenant | None":
        return self.service.auth.tenant_of(Request(scope))

    def fault_response(self, status: int, scope: "Scope") -> "VendorError":
        request = Request(scope)
        return errors.fault(status, request.method, request.headers.get("content-type", ""))

    def state_schema(self) -> dict:
        return state.SCHEMA

    def export_state(self, store: IntegryStore, tenant: "Tenant") -> dict:
        return state.export(store)

    def import_state(self, data: dict, tenant: "Tenant") -> IntegryStore:
        return state.restore(data, self.template, self.ctx.session_limit)
