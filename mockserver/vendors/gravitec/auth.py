"""Gravitec credentials: HTTP Basic, APP_KEY as the user and APP_SECRET as the password.

An APP_KEY names a site. A tenant's own key opens its main site; the fixture sites' keys (the
free-plan site of the README) open that site of the default tenant.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.http import VendorError, basic_credentials
from ...core.tenancy import attribute, same_secret
from .errors import bad_auth
from .store import NAME, store_of

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants
    from .store import GravitecTemplate, Site


# Decoded Basic credentials by Authorization header value: saves the base64 and UTF-8 decoding
# of the header every call repeats. At most DECODED headers of at most DECODED_HEADER bytes;
# the secret is still checked on every call.
DECODED, DECODED_HEADER = 256, 1024
_UNSEEN = object()


class GravitecAuth:
    def __init__(self, tenants: "Tenants", template: "GravitecTemplate") -> None:
        self.tenants = tenants
        self.fixture_sites = template.by_key
        self._decoded: dict[bytes, tuple[str, str] | None] = {}

    def credentials(self, scope: dict) -> tuple[str, str] | None:
        """`basic_credentials(scope)`, remembered per header value."""
        for k, header in scope["headers"]:
            if k == b"authorization":
                break
        else:
            return None
        creds = self._decoded.get(header, _UNSEEN)
        if creds is _UNSEEN:
            creds = basic_credentials({"headers": [(b"authorization", header)]})
            if len(header) <= DECODED_HEADER:
                if len(self._decoded) >= DECODED:
                    self._decoded.clear()
                self._decoded[header] = creds
        return creds  # type: ignore[return-value]

    def site(self, request: "Request") -> "tuple[Tenant, Site]":
        """The tenant and site these credentials open; the documented 403 otherwise. A wrong
        secret reads like an unknown key: the site is looked up by the pair."""
        creds = self.credentials(request.scope)
        if creds is None:
            raise bad_auth(None)
        key, secret = creds
        fixture = self.fixture_sites.get(key)
        if fixture is not None and fixture.app_secret is not None:
            if not same_secret(secret, fixture.app_secret):
                raise bad_auth(key)
            tenant, role = self.tenants.default, fixture.role
        else:
            found = self.tenants.authenticate(NAME, "appKey", key, "appSecret", secret)
            if found is None:
                raise bad_auth(key)
            tenant, role = found, "main"
        attribute(request.scope, tenant)
        return tenant, store_of(tenant).sites[role]

    def tenant_of(self, request: "Request") -> "Tenant | None":
        """The tenant `site` would resolve, without serving the call."""
        try:
            return self.site(request)[0]
        except VendorError:
            return None
