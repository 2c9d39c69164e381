"""Integry URLs -> handlers. Every call is a POST (a function's details also a GET), with or
without the trailing slash (the Python SDK writes it, the Node SDK does not); repeated slashes are
one, as nginx merges them."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Router, VendorApp, bound
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import IntegryVendor


def build(g: h.Integry, vendor: "IntegryVendor") -> VendorApp:
    routes = bound(
        g,
        ("POST", "/apps/list", h.list_apps),
        ("POST", "/apps/{app}/get", h.get_app),
        ("POST", "/functions/list", h.list_functions),
        ("POST", "/functions/predict", h.predict_function),
        # GET too: the browser SDK's getFunction() (@integry/sdk 4.9) asks with GET, no body
        (("POST", "GET"), "/functions/{name}/get", h.get_function),
        ("POST", "/functions/{name}/call", h.call_function),
    )
    g.router = Router(routes, partial(h.route_missing, g), trailing_slash=True,
                      ignore_case=False, merge_slashes=True)
    return VendorApp(g.router, internal_error, headers={"Allow": "POST, OPTIONS"},
                     content_type=vendor.content_type, cors=vendor.cors_policy(),
                     body_limit=h.BODY_LIMIT)
