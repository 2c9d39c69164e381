"""Passage Connect URLs -> handlers. Hono's rules: case-sensitive, a trailing slash is another
path, no 405 (an unmatched method is the 404 of any unknown route). `/link/ws` is a WebSocket."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Router, VendorApp, bound
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import PassageVendor


def build(g: h.Passage, vendor: "PassageVendor") -> VendorApp:
    routes = bound(
        g,
        ("POST", "/v1/links", h.create_link),
        ("GET", "/v1/links", h.list_links),
        ("GET", "/v1/links/{id}", h.get_link),
        ("GET", "/v1/providers", h.list_providers),
        ("POST", "/link/claim", h.claim_link),
        ("GET", "/link/ws", h.link_socket_http),
        ("POST", "/webhook_verification_key/get", h.webhook_key),
    )
    g.router = Router(routes, partial(h.route_missing, g), trailing_slash=False,
                      ignore_case=False)
    return VendorApp(g.router, internal_error, content_type=vendor.content_type,
                     cors=vendor.cors_policy(), body_limit=h.BODY_LIMIT,
                     websockets={"/link/ws": partial(h.link_socket, g)})
