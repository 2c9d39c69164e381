"""Integry URLs -> handlers. Every call is a POST, with or without the trailing slash (the
Python SDK writes it, the Node SDK does not); repeated slashes are one, as nginx merges them."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ...core.routing import Route, Router, VendorApp, route
from . import handlers as h
from .errors import internal_error

if TYPE_CHECKING:
    from . import IntegryVendor


def build(g: h.Integry, vendor: "IntegryVendor") -> VendorApp:
    def r(path: str, fn) -> Route:
        return route("POST", path, partial(fn, g))

    routes = [
        r("/apps/list", h.list_apps),
        r("/apps/{app}/get", h.get_app),
        r("/functions/list", h.list_functions),
        r("/functions/predict", h.predict_function),
        r("/functions/{name}/get", h.get_function),
        r("/functions/{name}/call", h.call_function),
    ]
    router = Router(routes, partial(vendor.not_found, g), trailing_slash=True,
                    ignore_case=False, merge_slashes=True)
    g.router = router
    return VendorApp(router, internal_error, headers={"Allow": "POST, OPTIONS"},
                     content_type=vendor.content_type)
