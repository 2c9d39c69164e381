"""Gravitec credentials: HTTP Basic, APP_KEY as the user and APP_SECRET as the password.

An APP_KEY names a site. A tenant's own key opens its main site; the fixture sites' keys (the
free-plan site of the README) open that site of the default tenant.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.http import VendorError, basic_credentials
from ...core.memo import Memo
from ...core.tenancy import attribute, same_secret
from .errors import bad_auth
from .store import NAME, store_of

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants
    from ...core.vendor import Context
    from .store import GravitecTemplate, Site

# Authorization header values that opened a site, with its (tenant, role): saves decoding the
# header and looking the pair up on every call of a suite or a load. Only accepted headers are
# kept (a refused one is checked in full, in constant time, every time); an entry counts only
# while its tenant exists (credentials never change, a deleted tenant's never work again).
OPENED_MEMO = 256       # headers remembered (core/memo.py)
OPENED_HEADER = 1024    # longest header remembered


class GravitecAuth:
    def __init__(self, ctx: "Context", tenants: "Tenants", template: "GravitecTemplate") -> None:
        self.tenants = tenants
        self.fixture_sites = template.by_key
        self.documented_refusals = template.documented.refusals
        self._opened: Memo[bytes, tuple[Tenant, str]] = Memo(OPENED_MEMO)

    def site(self, request: "Request") -> "tuple[Tenant, Site]":
        """The tenant and site these credentials open; the documented 403 otherwise. A wrong
        secret reads like an unknown key: the site is looked up by the pair."""
        scope = request.scope
        for k, header in scope["headers"]:
            if k == b"authorization":
                break
        else:
            header = None
        opened = self._opened.get(header) if header is not None else None
        if opened is None or self.tenants.get(opened[0].id) is not opened[0]:
            opened = self._open(scope)
            if header is not None and len(header) <= OPENED_HEADER:
                self._opened.keep(header, opened)
        tenant, role = opened
        attribute(scope, tenant)
        return tenant, store_of(tenant).sites[role]

    def _open(self, scope: dict) -> "tuple[Tenant, str]":
        creds = basic_credentials(scope)
        if creds is None:
            raise bad_auth(None)
        key, secret = creds
        fixture = self.fixture_sites.get(key)
        if fixture is not None and fixture.app_secret is not None:
            if not same_secret(secret, fixture.app_secret):
                raise bad_auth(key)
            return self.tenants.default, fixture.role
        found = self.tenants.authenticate(NAME, "appKey", key, "appSecret", secret)
        if found is None:
            documented = self.documented_refusals.get((key, secret))
            if documented is not None:  # the doc's 403 request: its documented body
                raise VendorError(403, documented)
            raise bad_auth(key)
        return found, "main"

    def tenant_of(self, request: "Request", body: bytes | None) -> "Tenant | None":
        """The tenant `site` would resolve, without serving the call."""
        try:
            return self.site(request)[0]
        except VendorError:
            return None
