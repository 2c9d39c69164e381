"""Gravy credentials: OAuth access tokens, publishable keys, intent tokens, the webhook key.

Tokens are indexed app-wide (token -> tenant) because the token alone must name its tenant;
what a token may reach is then looked up in that tenant's store.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import unauthorized

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant
    from ...core.vendor import Context

ACCESS_TOKEN_TTL = 3600
INTENT_TOKEN_TTL = 3600


@dataclass
class AccessToken:
    tenant: str
    expires_at: float
    scope: str


class GravyAuth:
    def __init__(self, ctx: "Context", fixture_clients: list[dict[str, str]]) -> None:
        self.ctx = ctx
        self.tokens: dict[str, AccessToken] = {}
        self.intents: dict[str, str] = {}       # intent token -> tenant id
        self.short_codes: dict[str, str] = {}   # short token -> tenant id
        # Documented example clients belong to the default tenant and mint their documented token.
        self.fixture_clients = {c["clientId"]: c for c in fixture_clients}
        material = hashlib.sha256(f"gravy:{ctx.seed}".encode()).digest()
        self.intent_secret = hashlib.sha256(b"intent-token" + material).hexdigest()
        self.signing_key = ec.derive_private_key(
            int.from_bytes(hashlib.sha256(b"webhook-key" + material).digest(), "big")
            % (2**255) + 1, ec.SECP256R1())
        self.key_id = "whk_" + hashlib.sha256(b"kid" + material).hexdigest()[:16]
        self.public_pem = self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    # -- client credentials ---------------------------------------------------------------
    def client_tenant(self, client_id: str, client_secret: str) -> "Tenant | None":
        fixture = self.fixture_clients.get(client_id)
        if fixture is not None:
            return self.ctx.tenants.default if secrets.compare_digest(
                fixture["clientSecret"], client_secret) else None
        tenant = self.ctx.tenants.by_credential("gravy", client_id)
        if tenant is None:
            return None
        creds = tenant.credentials["gravy"]
        if creds["clientId"] != client_id or not secrets.compare_digest(
                creds["clientSecret"], client_secret):
            return None
        return tenant

    def issue(self, tenant: "Tenant", client_id: str, scope: str) -> str:
        fixture = self.fixture_clients.get(client_id)
        token = fixture["accessToken"] if fixture else secrets.token_urlsafe(32)
        self.tokens[token] = AccessToken(tenant.id, self.ctx.clock.time() + ACCESS_TOKEN_TTL, scope)
        return token

    # -- request guards -------------------------------------------------------------------
    def _scheme(self, request: "Request", scheme: str) -> str | None:
        # Straight from the ASGI headers: this runs on every request.
        header = next((v for k, v in request.scope["headers"] if k == b"authorization"), b"")
        name, _, value = header.decode("latin-1").strip().partition(" ")
        value = value.strip()
        return value if name.lower() == scheme and value else None

    def bearer(self, request: "Request") -> "Tenant | None":
        token = self._scheme(request, "bearer")
        if token is None:
            return None
        info = self.tokens.get(token)
        if info is None or info.expires_at <= self.ctx.clock.time():
            return None
        return self.ctx.tenants.get(info.tenant)

    def publishable(self, request: "Request") -> "Tenant | None":
        key = self._scheme(request, "publishable")
        if key is None:
            return None
        tenant = self.ctx.tenants.by_credential("gravy", key)
        if tenant is None or tenant.credentials["gravy"]["publishableKey"] != key:
            return None
        return tenant

    def require_bearer(self, request: "Request") -> "Tenant":
        tenant = self.bearer(request)
        if tenant is None:
            raise unauthorized()
        request.scope["state"]["tenant"] = tenant.id
        return tenant

    # -- intent tokens --------------------------------------------------------------------
    def mint_intent(self, tenant: "Tenant", payload: dict[str, Any]) -> tuple[str, str, int]:
        exp = int(self.ctx.clock.time()) + INTENT_TOKEN_TTL
        token = jwt.encode({**payload, "iat": int(self.ctx.clock.time()), "exp": exp},
                           self.intent_secret, algorithm="HS256")
        short = "".join(self.ctx.rng.choice("0123456789") for _ in range(10))
        while short in self.short_codes:
            short = "".join(self.ctx.rng.choice("0123456789") for _ in range(10))
        self.intents[token] = tenant.id
        self.short_codes[short] = tenant.id
        return token, short, exp

    def intent_claims(self, token: str) -> tuple["Tenant", dict[str, Any]] | None:
        """The tenant and payload of a live intent token this server issued, else None."""
        tenant_id = self.intents.get(token)
        if tenant_id is None:
            return None
        try:
            # The mock clock, not the system clock, decides expiry.
            claims = jwt.decode(token, self.intent_secret, algorithms=["HS256"],
                                options={"verify_exp": False})
        except jwt.PyJWTError:
            return None
        if claims.get("exp", 0) <= self.ctx.clock.time():
            return None
        tenant = self.ctx.tenants.get(tenant_id)
        return (tenant, claims) if tenant is not None else None

    # -- webhooks -------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        return jwt.encode({"iat": int(self.ctx.clock.time()),
                           "request_body_sha256": hashlib.sha256(body).hexdigest()},
                          self.signing_key, algorithm="ES256", headers={"kid": self.key_id})
