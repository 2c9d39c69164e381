"""Gravitec URLs -> handlers. Spring MVC rules: case-sensitive, a trailing slash also matches,
repeated slashes are one (UrlPathHelper's sanitized path)."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Router, VendorApp, bound
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import GravitecVendor


def build(g: h.Gravitec, vendor: "GravitecVendor") -> VendorApp:
    routes = bound(
        g,
        ("POST", "/api/v3/push", h.send_push),
        ("GET", "/api/v3/messages/{campaignID}", h.get_message),
        ("GET", "/api/v3/messages", h.get_message),
        ("POST", "/api/v3/alias", h.add_alias),
        ("GET", "/api/v3/alias", h.get_alias),
        ("POST", "/api/v3/tag", h.add_tag),
        ("DELETE", "/api/v3/tag", h.delete_tag),
    )
    g.router = Router(routes, partial(h.route_missing, g), trailing_slash=True,
                      ignore_case=False, merge_slashes=True)
    return VendorApp(g.router, internal_error, content_type=vendor.content_type,
                     cors=vendor.cors_policy(), body_limit=h.BODY_LIMIT)
