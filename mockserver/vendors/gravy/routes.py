"""Gravy Connect URLs -> handlers. Express rules: case-insensitive, trailing slash optional."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Router, VendorApp, bound
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import GravyVendor


def build(g: h.Gravy, vendor: "GravyVendor") -> VendorApp:
    routes = bound(
        g,
        ("POST", "/oauth/token", h.create_token),
        ("POST", "/intent-token", h.create_intent_token),
        ("GET", "/intent-token", h.get_intent_token),
        ("POST", "/intent-token/validate", h.validate_intent_token),
        ("GET", "/intent-token-links/short-code/{code}", h.get_intent_token_link),
        ("GET", "/connections", h.list_connections),
        ("GET", "/connections/{connectionId}", h.get_connection),
        ("GET", "/connections/{connectionId}/resources/{type}", h.list_resource),
        ("GET", "/connections/{connectionId}/{resource}", h.list_resource),
        ("GET", "/integrations", h.list_integrations),
        ("GET", "/integrations/{slug}", h.get_integration),
        ("GET", "/automation/integrations", h.list_integrations),
        ("GET", "/automation/integrations/{slug}", h.get_integration),
        ("POST", "/webhook_verification_key/get", h.get_webhook_verification_key),
    )
    g.router = Router(routes, partial(h.route_missing, g), trailing_slash=True, ignore_case=True)
    return VendorApp(g.router, internal_error, headers={"X-Powered-By": "Express"},
                     content_type=vendor.content_type, cors=vendor.cors_policy(),
                     body_limit=h.BODY_LIMIT)
