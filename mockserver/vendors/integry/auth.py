"""Integry credentials: `App-Key`, `User-ID` and `Hash` = hex HMAC-SHA256 of the user id keyed by
the app secret; or the same three as `app_key`, `user_id`, `hash` query parameters (the Node
SDK's way). The hash is compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from ...core.http import VendorError
from ...core.tenancy import attribute, same_secret
from .errors import incorrect, not_provided
from .store import NAME

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants


def signature(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode("utf-8", "surrogatepass"),
                    user_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


class IntegryAuth:
    def __init__(self, tenants: "Tenants", documented: frozenset[tuple[str, str]]) -> None:
        self.tenants = tenants
        # The doc's curls carry a Hash made with Integry's real secret: accepted for the
        # default tenant's key, so the documented examples run as written.
        self.documented = documented

    @staticmethod
    def credentials(request: "Request") -> tuple[str | None, str | None, str | None]:
        # Per field, the header, else the query parameter: the Node SDK puts all three in the
        # query and still sends them as headers named app_key, user_id and hash, so its `hash`
        # header must not stop `app_key`/`user_id` from being read from the query.
        headers = request.headers
        query = dict(parse_qsl(request.scope.get("query_string", b"").decode("latin-1"),
                               keep_blank_values=True))
        return (headers.get("app-key") or query.get("app_key"),
                headers.get("user-id") or query.get("user_id"),
                headers.get("hash") or query.get("hash"))

    def user(self, request: "Request") -> "tuple[Tenant, str]":
        """(tenant, user id) of a correctly signed request; DRF's 403s otherwise."""
        app_key, user_id, given = self.credentials(request)
        if not app_key or not user_id or not given:
            raise not_provided()
        tenant = self.tenants.by_credential(NAME, app_key)
        creds = tenant.credentials[NAME] if tenant is not None else None
        if creds is None or creds["appKey"] != app_key:
            # still compute a hash, so an unknown key costs what a known one does
            same_secret(given.lower(), signature("", user_id))
            raise incorrect()
        if not same_secret(given.lower(), signature(creds["appSecret"], user_id)) and not (
                tenant.is_default and (user_id, given.lower()) in self.documented):
            raise incorrect()
        attribute(request.scope, tenant)
        return tenant, user_id

    def tenant_of(self, request: "Request") -> "Tenant | None":
        """The tenant `user` would resolve, without serving the call."""
        try:
            return self.user(request)[0]
        except VendorError:
            return None
