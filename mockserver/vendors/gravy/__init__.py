"""Gravy Connect (Passage): OAuth, intent tokens, connections, resources, integrations, webhooks."""
from __future__ import annotations

import secrets

from ...core.cors import ExpressCors
from ...core.vendor import Vendor
from . import admin, errors, fixtures, routes, state, verify
from .handlers import Gravy
from .store import NAME, GravyStore, GravyTemplate


class GravyVendor(Vendor[GravyTemplate, GravyStore, Gravy]):
    name = NAME
    hosts = ("api.getpassage.ai", "api.runpassage.ai", "prod-gravy-connect-api.onrender.com")
    default_credentials = {"clientId": "gravy-sandbox-client",
                           "clientSecret": "gravy-sandbox-secret",
                           "publishableKey": "pk-test-sandbox"}
    tenant_keys = ("clientId", "publishableKey")
    secret_headers = frozenset()
    # access_token: the token call's answer in the journal, as Groove masks its issued tokens
    secret_fields = frozenset({"client_secret", "clientSecret", "access_token"})
    content_type = "application/json; charset=utf-8"  # Express's res.json()
    cors = ExpressCors()   # NestJS app.enableCors(): the cors package's defaults

    fixtures, routes, errors, state, admin = fixtures, routes, errors, state, admin
    verify = verify
    store_type = GravyStore
    service_type = Gravy

    def new_credentials(self) -> dict[str, str]:
        return {"clientId": f"gravy-{secrets.token_hex(8)}",
                "clientSecret": secrets.token_urlsafe(24),
                "publishableKey": f"pk-test-{secrets.token_hex(12)}"}
