"""Groove's OAuth 2.0 server, as Doorkeeper runs it: clients, codes, access and refresh tokens.

A tenant's OAuth client is its credentials (client id, secret, one redirect URI). Grants live in
the tenant's store; a code or token names its tenant (`Tenants.scoped`), so no app-wide table.
"""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ...core.http import VendorError, authorization, basic_credentials, form_or_json
from ...core.tenancy import attribute
from .errors import invalid_token, oauth
from .store import (ACCESS_TTL, CODE_TTL, EXPIRED_KEPT, NAME, REFRESH_TTL, Grant, GrooveStore,
                    store_of)

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants
    from ...core.vendor import Context
    from .store import GrooveTemplate


class GrooveAuth:
    def __init__(self, ctx: "Context", tenants: "Tenants", template: "GrooveTemplate") -> None:
        self.ctx = ctx
        self.tenants = tenants

    # -- clients ----------------------------------------------------------------------------
    def client_tenant(self, client_id: str) -> "Tenant | None":
        tenant = self.tenants.by_credential(NAME, client_id)
        if tenant is None or tenant.credentials[NAME]["clientId"] != client_id:
            return None
        return tenant

    def authenticate_client(self, request: "Request", client_id: str | None,
                            client_secret: str | None) -> "Tenant":
        """Client credentials by HTTP Basic (RFC 6749 2.3.1, each part form-encoded) or in the
        body, as Doorkeeper's `from_basic` and `from_params`; invalid_client otherwise."""
        pair = basic_credentials(request.scope)
        if pair is not None:
            client_id, client_secret = unquote(pair[0]), unquote(pair[1])
        if not client_id or client_secret is None:
            raise oauth("invalid_client")
        tenant = self.tenants.authenticate(NAME, "clientId", client_id, "clientSecret",
                                           client_secret)
        if tenant is None:
            raise oauth("invalid_client")
        attribute(request.scope, tenant)
        return tenant

    # -- grants -----------------------------------------------------------------------------
    def issue_code(self, tenant: "Tenant", grant: Grant) -> str:
        code = self.tenants.scoped(tenant, secrets.token_urlsafe(32))
        now = self.ctx.clock.time()
        store_of(tenant).codes.add(code, grant, now + CODE_TTL, now)
        return code

    def issue_tokens(self, tenant: "Tenant", client_id: str, user_id: str,
                     scope: str) -> dict[str, object]:
        """A new access/refresh pair: Doorkeeper's token body, `created_at` an integer."""
        store = store_of(tenant)
        now = self.ctx.clock.time()
        access = self.tenants.scoped(tenant, secrets.token_urlsafe(32))
        refresh = self.tenants.scoped(tenant, secrets.token_urlsafe(32))
        created = int(now)
        store.tokens.add(access, Grant(client_id, user_id, scope, created_at=created,
                                       expires_at=now + ACCESS_TTL, refresh_token=refresh),
                         now + ACCESS_TTL + EXPIRED_KEPT, now)
        store.refresh.add(refresh, Grant(client_id, user_id, scope, created_at=created,
                                         expires_at=now + REFRESH_TTL, access_token=access),
                          now + REFRESH_TTL, now)
        return {"access_token": access, "token_type": "Bearer", "expires_in": ACCESS_TTL,
                "refresh_token": refresh, "scope": scope, "created_at": created}

    def owner(self, token: str) -> "tuple[Tenant, GrooveStore] | None":
        tenant = self.tenants.owner_of(token)
        return (tenant, store_of(tenant)) if tenant is not None else None

    # -- the resource guard -----------------------------------------------------------------
    def bearer(self, request: "Request") -> "tuple[Tenant, GrooveStore, str]":
        """doorkeeper_authorize!: the tenant, store and token of a live access token; an empty
        401 whose WWW-Authenticate says invalid, expired or revoked otherwise."""
        token = authorization(request.scope, "bearer")
        found = self.owner(token) if token else None
        if found is None:
            raise invalid_token("invalid")
        tenant, store = found
        now = self.ctx.clock.time()
        grant = store.tokens.get(token, now)
        if grant is None:
            raise invalid_token("invalid")
        if grant.revoked:
            raise invalid_token("revoked")
        if grant.expires_at <= now:
            raise invalid_token("expired")
        attribute(request.scope, tenant)
        return tenant, store, token

    # -- faults -----------------------------------------------------------------------------
    def tenant_of(self, request: "Request", body: bytes | None) -> "Tenant | None":
        """The tenant of a live access token, or of the client credentials of an OAuth call
        (Basic, body or query; the authorize page's client_id alone), without serving it."""
        try:
            if authorization(request.scope, "bearer"):
                return self.bearer(request)[0]
            fields = {**dict(request.query_params),
                      **form_or_json(body, request.headers.get("content-type", ""))}
            if basic_credentials(request.scope) is not None or "client_secret" in fields:
                return self.authenticate_client(request, fields.get("client_id"),
                                                fields.get("client_secret"))
            client_id = fields.get("client_id")
            return self.client_tenant(client_id) if client_id else None
        except VendorError:
            return None
