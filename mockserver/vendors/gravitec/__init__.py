"""Gravitec: web push campaigns, audiences, followers' aliases and tags (a Spring Boot API)."""
from __future__ import annotations

import secrets

from ...core.cors import SpringCors
from ...core.vendor import Vendor
from . import admin, errors, fixtures, routes, state, verify
from .handlers import Gravitec
from .store import NAME, GravitecStore, GravitecTemplate


class GravitecVendor(Vendor[GravitecTemplate, GravitecStore, Gravitec]):
    name = NAME
    # The API's real host (README.md's vendor base URLs), and the doc's 403 example's
    # `Host: api.gravitec.net` (a slip it accepts)
    hosts = ("uapi.gravitec.net", "api.gravitec.net")
    default_credentials = {"appKey": "1e26f7bb3f81e1ab789d3e20b9cf6325",
                           "appSecret": "9bb59fcbff38b85647c421c65cca06ce"}
    tenant_keys = ("appKey",)
    secret_headers = frozenset()
    secret_fields = frozenset()
    content_type = "application/json"  # Spring 5.2's Jackson converter, no charset
    cors = SpringCors()    # @CrossOrigin's defaults on the controllers

    fixtures, routes, errors, state, admin = fixtures, routes, errors, state, admin
    verify = verify
    store_type = GravitecStore
    service_type = Gravitec

    def new_credentials(self) -> dict[str, str]:
        return {"appKey": secrets.token_hex(16), "appSecret": secrets.token_hex(16)}
