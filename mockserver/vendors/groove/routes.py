"""Groove URLs -> handlers. Rails routing: case-sensitive, a trailing slash ignored, repeated
slashes squeezed; a path with the wrong method is a 404 like any unknown route."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Router, VendorApp, bound
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import GrooveVendor


def build(g: h.Groove, vendor: "GrooveVendor") -> VendorApp:
    routes = bound(
        g,
        ("GET", "/oauth/authorize", h.authorize),
        ("POST", "/oauth/authorize", h.decide),
        ("DELETE", "/oauth/authorize", h.deny),
        ("POST", "/oauth/token", h.create_token),
        ("POST", "/oauth/authorize/token", h.create_token),   # the doc's step 3 URL
        ("POST", "/oauth/token/refresh", h.create_token),
        ("POST", "/api/public/v1/graphql", h.graphql),
    )
    g.router = Router(routes, partial(h.route_missing, g), trailing_slash=True,
                      ignore_case=False, merge_slashes=True)
    return VendorApp(g.router, internal_error, content_type=vendor.content_type,
                     cors=vendor.cors_policy(), body_limit=h.BODY_LIMIT)
