"""Gravy Connect URLs -> handlers. Express rules: case-insensitive, trailing slash optional."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Route, Router, VendorApp, route
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import GravyVendor


def build(g: h.Gravy, vendor: "GravyVendor") -> VendorApp:
    def r(methods: str, path: str, fn) -> Route:
        return route(methods, path, partial(fn, g))

    routes = [
        r("POST", "/oauth/token", h.create_token),
        r("POST", "/intent-token", h.create_intent_token),
        r("GET", "/intent-token", h.get_intent_token),
        r("POST", "/intent-token/validate", h.validate_intent_token),
        r("GET", "/intent-token-links/short-code/{code}", h.get_intent_token_link),
        r("GET", "/connections", h.list_connections),
        r("GET", "/connections/{connectionId}", h.get_connection),
        r("GET", "/connections/{connectionId}/resources/{type}", h.list_resource),
        r("GET", "/connections/{connectionId}/{resource}", h.list_resource),
        r("GET", "/integrations", h.list_integrations),
        r("GET", "/integrations/{slug}", h.get_integration),
        r("GET", "/automation/integrations", h.list_integrations),
        r("GET", "/automation/integrations/{slug}", h.get_integration),
        r("POST", "/webhook_verification_key/get", h.get_webhook_verification_key),
    ]
    router = Router(routes, vendor.not_found, trailing_slash=True, ignore_case=True)
    return VendorApp(router, internal_error, headers={"X-Powered-By": "Express"},
                     content_type=vendor.content_type)
