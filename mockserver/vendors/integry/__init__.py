"""Integry: hash-signed calls, the apps and functions catalogues, predict, and function calls
against simulated app backends (a Django REST Framework API)."""
from __future__ import annotations

import secrets
import uuid

from ...core.cors import DJANGO_HEADERS, DjangoCors
from ...core.vendor import Vendor
from . import admin, errors, fixtures, routes, state, verify
from .handlers import Integry
from .store import NAME, IntegryStore, IntegryTemplate


class IntegryVendor(Vendor[IntegryTemplate, IntegryStore, Integry]):
    name = NAME
    hosts = ("api.integry.io",)
    default_credentials = {"appKey": "002d4f23-778a-11e7-bf2a-42010a8002c7",
                           "appSecret": "integry-sandbox-secret", "userId": "123456"}
    tenant_keys = ("appKey",)
    secret_headers = frozenset({"hash"})
    secret_fields = frozenset({"hash"})   # the Node SDK's query parameter too
    content_type = "application/json"     # DRF's JSONRenderer
    # django-cors-headers' defaults, its allowed headers also naming the signed-call headers
    # a browser app sends (App-Key, User-ID, Hash), or no browser call could pass, and the
    # `Version` header the browser SDK (@integry/sdk) sends with a function's version
    cors = DjangoCors(allow_headers=DJANGO_HEADERS + ("app-key", "user-id", "hash", "version"))

    fixtures, routes, errors, state, admin = fixtures, routes, errors, state, admin
    verify = verify
    store_type = IntegryStore
    service_type = Integry

    def new_credentials(self) -> dict[str, str]:
        # A new tenant's users are the fixtures' (user 123456 keeps its accounts there too).
        return {"appKey": str(uuid.uuid4()), "appSecret": secrets.token_urlsafe(24),
                "userId": "123456"}
