"""Passage Connect, the Links API (the successor of Gravy Connect's intent tokens): links and
their claim codes, the providers catalogue, the link-status WebSocket, ES256-signed webhooks."""
from __future__ import annotations

import secrets

from ...core.cors import ExpressCors
from ...core.vendor import Vendor
from . import admin, errors, fixtures, routes, state, verify
from .handlers import Passage
from .store import NAME, PassageStore, PassageTemplate


class PassageVendor(Vendor[PassageTemplate, PassageStore, Passage]):
    name = NAME
    # connect.passage.dev: the host of an earlier quickstart's curl lines
    hosts = ("connect.getpassage.ai", "connect.dev.getpassage.ai",
             "connect.services.getpassage.ai", "connect.passage.dev")
    default_credentials = {"apiKey": "psg_sandbox_key"}
    tenant_keys = ("apiKey",)
    secret_headers = frozenset()   # the key travels in Authorization, redacted by the journal
    secret_fields = frozenset({"clientToken"})   # a claim's session credential, masked as issued
    content_type = "application/json"   # Hono's c.json()
    cors = ExpressCors()   # Hono's cors() defaults: any origin, the requested headers

    fixtures, routes, errors, state, admin = fixtures, routes, errors, state, admin
    verify = verify
    store_type = PassageStore
    service_type = Passage

    def new_credentials(self) -> dict[str, str]:
        return {"apiKey": f"psg_{secrets.token_hex(16)}"}
