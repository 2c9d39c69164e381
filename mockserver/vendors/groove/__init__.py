"""Groove (grooveapp.com): Doorkeeper OAuth 2.0, a graphql-ruby API, sliding-window rate limits."""
from __future__ import annotations

import secrets

from ...core.cors import RackCors
from ...core.vendor import Vendor
from . import admin, errors, fixtures, routes, state, verify
from .handlers import Groove
from .store import NAME, GrooveStore, GrooveTemplate

REDIRECT_URI = "http://localhost:3000/oauth/callback"


class GrooveVendor(Vendor[GrooveTemplate, GrooveStore, Groove]):
    name = NAME
    hosts = ("app.grooveapp.com", "auth.grooveapp.com")
    default_credentials = {"clientId": "groove-sandbox-client",
                           "clientSecret": "groove-sandbox-secret",
                           "redirectUri": REDIRECT_URI}
    tenant_keys = ("clientId",)
    secret_headers = frozenset()
    secret_fields = frozenset({"client_secret", "code", "access_token", "refresh_token"})
    content_type = "application/json; charset=utf-8"  # Rails' render json:
    cors = RackCors()      # rack-cors as Rails' generated cors.rb configures it

    fixtures, routes, errors, state, admin = fixtures, routes, errors, state, admin
    verify = verify
    store_type = GrooveStore
    service_type = Groove

    def new_credentials(self) -> dict[str, str]:
        # A new tenant's client keeps the sandbox redirect URI, so the same app works unchanged.
        return {"clientId": f"groove-{secrets.token_hex(8)}",
                "clientSecret": secrets.token_urlsafe(24), "redirectUri": REDIRECT_URI}
