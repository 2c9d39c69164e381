"""Gravy Connect (Passage): OAuth, intent tokens, connections, resources, integrations, webhooks."""
from __future__ import annotations

import secrets
from typing import Any

from ...core.vendor import Context
from . import fixtures
from .auth import GravyAuth
from .handlers import Gravy
from .routes import build
from .store import GravyStore, GravyTemplate

DEFAULT_CREDENTIALS = {"clientId": "gravy-sandbox-client", "clientSecret": "gravy-sandbox-secret",
                       "publishableKey": "pk-test-sandbox"}


class GravyVendor:
    name = "gravy"
    hosts = ("api.getpassage.ai", "api.runpassage.ai", "prod-gravy-connect-api.onrender.com")

    def default_credentials(self) -> dict[str, str]:
        return dict(DEFAULT_CREDENTIALS)

    def new_credentials(self) -> dict[str, str]:
        return {"clientId": f"gravy-{secrets.token_hex(8)}",
                "clientSecret": secrets.token_urlsafe(24),
                "publishableKey": f"pk-test-{secrets.token_hex(12)}"}

    def credential_keys(self, credentials: dict[str, str]) -> list[str]:
        return [credentials["clientId"], credentials["publishableKey"]]

    def load_template(self, ctx: Context) -> GravyTemplate:
        return GravyTemplate(fixtures.load(ctx.fixtures_dir), ctx.seed)

    def new_store(self, template: GravyTemplate, ctx: Context) -> GravyStore:
        return GravyStore(template, ctx.seed)

    def build_app(self, ctx: Context) -> Any:
        template = ctx.tenants.template(self.name)
        g = Gravy(ctx, GravyAuth(ctx, template.settings["clients"]), template)
        ctx.runtime[self.name] = g
        return build(g)


VENDOR = GravyVendor()
