"""Integry credentials: `App-Key`, `User-ID` and `Hash` = hex HMAC-SHA256 of the user id keyed by
the app secret; or the same three as `app_key`, `user_id`, `hash` query parameters (the Node
SDK's way). The hash is compared in constant time."""
from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ...core.http import VendorError
from ...core.memo import Memo
from ...core.tenancy import attribute, same_secret
from .errors import incorrect, not_provided
from .store import NAME

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants
    from ...core.vendor import Context
    from .store import IntegryTemplate

# The request headers an Integry call reads: the credentials and the body's type and size.
WANTED = frozenset({b"app-key", b"user-id", b"hash", b"content-type", b"content-length"})
VERIFIED_MEMO = 256  # signatures remembered (see IntegryAuth._verified)


def signature(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode("utf-8", "surrogatepass"),
                    user_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def wanted_headers(scope: dict[str, Any]) -> dict[bytes, str]:
    """The WANTED headers, each its first value as Starlette's `headers.get` reads it, in one
    pass over the raw list (every call reads them)."""
    found: dict[bytes, str] = {}
    for key, value in scope["headers"]:
        if key in WANTED and key not in found:
            found[key] = value.decode("latin-1")
    return found


def query_of(scope: dict[str, Any]) -> dict[str, str]:
    """The query parameters (the last of a repeated name), as DRF's `request.query_params`."""
    raw = scope.get("query_string", b"")
    if not raw:  # most calls have none
        return {}
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                          errors="replace"))


class IntegryAuth:
    def __init__(self, ctx: "Context", tenants: "Tenants", template: "IntegryTemplate") -> None:
        self.tenants = tenants
        # The doc's curls carry a Hash made with Integry's real secret: accepted for the
        # default tenant's key, so the documented examples run as written.
        self.documented = template.documented
        # (app key, user id, hash) already verified -> (tenant id, app secret then): saves the
        # HMAC of a client's repeated calls. A hit still needs the key to name that tenant with
        # that secret, so a deleted tenant or a changed secret is verified afresh. Ids, not
        # Tenant objects, so a deleted tenant's stores are not kept alive here.
        self._verified: Memo[tuple[str, str, str], tuple[str, str]] = Memo(VERIFIED_MEMO)

    @staticmethod
    def credentials(headers: dict[bytes, str], query: dict[str, str]) \
            -> tuple[str | None, str | None, str | None]:
        # Per field, the header, else the query parameter: the Node SDK puts all three in the
        # query and still sends them as headers named app_key, user_id and hash, so its `hash`
        # header must not stop `app_key`/`user_id` from being read from the query.
        return (headers.get(b"app-key") or query.get("app_key"),
                headers.get(b"user-id") or query.get("user_id"),
                headers.get(b"hash") or query.get("hash"))

    def user(self, request: "Request") -> "tuple[Tenant, str]":
        """(tenant, user id) of a correctly signed request; DRF's 403s otherwise."""
        scope = request.scope
        return self.signed(scope, wanted_headers(scope), query_of(scope))

    def signed(self, scope: dict[str, Any], headers: dict[bytes, str],
               query: dict[str, str]) -> "tuple[Tenant, str]":
        """`user` from the already read headers and query."""
        app_key, user_id, given = self.credentials(headers, query)
        if not app_key or not user_id or not given:
            raise not_provided()
        given = given.lower()
        tenant = self.tenants.by_credential(NAME, app_key)
        creds = tenant.credentials[NAME] if tenant is not None else None
        if creds is None or creds["appKey"] != app_key:
            # still compute a hash, so an unknown key costs what a known one does
            same_secret(given, signature("", user_id))
            raise incorrect()
        key = (app_key, user_id, given)
        seen = self._verified.get(key)
        # `is`: the very secret verified before (unchanged); another object is compared in
        # constant time (a rotated secret of the same value is the same secret).
        if seen is None or seen[0] != tenant.id or (
                seen[1] is not creds["appSecret"]
                and not same_secret(seen[1], creds["appSecret"])):
            if not same_secret(given, signature(creds["appSecret"], user_id)) and not (
                    tenant.is_default and (user_id, given) in self.documented):
                raise incorrect()
            self._verified.keep(key, (tenant.id, creds["appSecret"]))
        attribute(scope, tenant)
        return tenant, user_id

    def tenant_of(self, request: "Request", body: bytes | None) -> "Tenant | None":
        """The tenant `user` would resolve, without serving the call."""
        try:
            return self.user(request)[0]
        except VendorError:
            return None
