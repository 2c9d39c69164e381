"""Gravy credentials: client credentials, access tokens, publishable keys, intent tokens, the
webhook signing key.

Every guard that resolves a tenant goes through `_resolved`, which names it for the journal.
Tokens live in the tenant's store (`GravyStore.tokens`, `.intents`); a token names its tenant
(`Tenants.scoped`, or an intent token's `tenant` claim), so no app-wide table is needed.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ...core.http import authorization, basic_credentials, finite, form_or_json
from ...core.tenancy import DEFAULT_TENANT, attribute, same_secret
from .errors import unauthorized
from .store import NAME, store_of

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants
    from ...core.vendor import Context
    from .store import GravyTemplate, IntentSession

ACCESS_TOKEN_TTL = 3600
INTENT_TOKEN_TTL = 3600


@dataclass
class AccessToken:
    expires_at: float
    scope: str


class GravyAuth:
    def __init__(self, ctx: "Context", tenants: "Tenants", template: "GravyTemplate") -> None:
        self.ctx = ctx
        self.tenants = tenants
        # Documented example clients belong to the default tenant and mint their documented token.
        self.fixture_clients = {c["clientId"]: c for c in template.settings["clients"]}
        material = hashlib.sha256(f"gravy:{ctx.seed}".encode()).digest()
        self.intent_secret = hashlib.sha256(b"intent-token" + material).hexdigest()
        self.signing_key = ec.derive_private_key(
            int.from_bytes(hashlib.sha256(b"webhook-key" + material).digest(), "big")
            % (2**255) + 1, ec.SECP256R1())
        self.key_id = "whk_" + hashlib.sha256(b"kid" + material).hexdigest()[:16]
        self.public_pem = self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @staticmethod
    def _resolved(request: "Request", tenant: "Tenant | None") -> "Tenant | None":
        if tenant is not None:
            attribute(request.scope, tenant)
        return tenant

    # -- client credentials ---------------------------------------------------------------
    def client(self, request: "Request", client_id: str, client_secret: str) -> "Tenant | None":
        fixture = self.fixture_clients.get(client_id)
        if fixture is not None:
            tenant = self.tenants.default if same_secret(client_secret, fixture["clientSecret"]) \
                else None
        else:
            tenant = self.tenants.authenticate(NAME, "clientId", client_id,
                                               "clientSecret", client_secret)
        return self._resolved(request, tenant)

    def issue(self, tenant: "Tenant", client_id: str, scope: str) -> str:
        fixture = self.fixture_clients.get(client_id)
        token = fixture["accessToken"] if fixture else \
            self.tenants.scoped(tenant, secrets.token_urlsafe(32))
        now = self.ctx.clock.time()
        store_of(tenant).tokens.add(token, AccessToken(now + ACCESS_TOKEN_TTL, scope),
                                  now + ACCESS_TOKEN_TTL, now)
        return token

    # -- request guards -------------------------------------------------------------------
    @staticmethod
    def _scheme(request: "Request", scheme: str) -> str | None:
        return authorization(request.scope, scheme)

    @staticmethod
    def basic(request: "Request") -> tuple[str, str] | None:
        """HTTP Basic client credentials (RFC 6749 2.3.1: each part form-urlencoded first)."""
        pair = basic_credentials(request.scope)
        return (unquote(pair[0]), unquote(pair[1])) if pair else None

    def bearer(self, request: "Request") -> "Tenant | None":
        # On every resource call: the helpers are inlined (authorization, _resolved).
        scope = request.scope
        token = authorization(scope, "bearer")
        if token is None:
            return None
        tenant = self.tenants.owner_of(token)
        if tenant is None or tenant.stores[NAME].tokens.get(token, self.ctx.clock.time()) is None:
            return None
        scope["state"]["tenant"] = tenant.id  # tenancy.attribute
        return tenant

    def publishable(self, request: "Request") -> "Tenant | None":
        key = self._scheme(request, "publishable")
        if key is None:
            return None
        tenant = self.tenants.by_credential(NAME, key)
        if tenant is None or tenant.credentials[NAME]["publishableKey"] != key:
            return None
        return self._resolved(request, tenant)

    def require_bearer(self, request: "Request") -> "Tenant":
        tenant = self.bearer(request)
        if tenant is None:
            raise unauthorized()
        return tenant

    def intent(self, request: "Request", token: str) \
            -> "tuple[Tenant, IntentSession, dict[str, Any]] | None":
        """The tenant, session and claims of a live intent token this server issued."""
        found = self.intent_claims(token)
        if found is None:
            return None
        self._resolved(request, found[0])
        return found

    # -- intent tokens --------------------------------------------------------------------
    def mint_intent(self, tenant: "Tenant", payload: dict[str, Any]) -> tuple[str, str, int]:
        """(token, short code, exp) for a new intent session; the caller stores the session."""
        now = int(self.ctx.clock.time())
        # finite(): a body's 1e400 is Infinity, which jsonwebtoken writes as null, PyJWT as
        # "Infinity" (not JSON, so a client could not decode its own token).
        claims = {**finite(payload), "iat": now, "exp": now + INTENT_TOKEN_TTL}
        if not tenant.is_default:
            claims["tenant"] = tenant.id  # the default tenant's tokens carry only vendor claims
        token = jwt.encode(claims, self.intent_secret, algorithm="HS256")
        store = store_of(tenant)
        short = "".join(self.ctx.rng.choice("0123456789") for _ in range(10))
        while store.intents.get(short, now) is not None:
            short = "".join(self.ctx.rng.choice("0123456789") for _ in range(10))
        return token, short, now + INTENT_TOKEN_TTL

    def intent_claims(self, token: str) \
            -> "tuple[Tenant, IntentSession, dict[str, Any]] | None":
        try:
            # The mock clock, not the system clock, decides expiry (below, via the session).
            claims = jwt.decode(token, self.intent_secret, algorithms=["HS256"],
                                options={"verify_exp": False})
        except (jwt.PyJWTError, ValueError):  # ValueError: a lone surrogate is no UTF-8
            return None
        tid = claims.get("tenant", DEFAULT_TENANT)
        tenant = self.tenants.get(tid) if isinstance(tid, str) else None
        if tenant is None:
            return None
        session = store_of(tenant).intents.get(token, self.ctx.clock.time())
        if session is None:
            return None
        return tenant, session, claims

    def short_code(self, request: "Request", code: str) \
            -> "tuple[Tenant, IntentSession] | None":
        """A short code names no tenant, so each tenant's live sessions are asked (tenants are
        few: one per CI job)."""
        now = self.ctx.clock.time()
        for tenant in self.tenants:
            session = store_of(tenant).intents.get(code, now)
            if session is not None:
                self._resolved(request, tenant)
                return tenant, session
        return None

    # -- faults ---------------------------------------------------------------------------
    def tenant_of(self, request: "Request", body: bytes | None) -> "Tenant | None":
        """The tenant of a bearer token, publishable key or client credentials (Basic, else
        the token call's body fields), checked as the guards check them."""
        tenant = self.bearer(request) or self.publishable(request)
        if tenant is not None:
            return tenant
        pair = self.basic(request)
        if pair is None:
            fields = form_or_json(body, request.headers.get("content-type", ""))
            if "client_id" in fields and "client_secret" in fields:
                pair = fields["client_id"], fields["client_secret"]
        return self.client(request, *pair) if pair else None

    # -- webhooks -------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        return jwt.encode({"iat": int(self.ctx.clock.time()),
                           "request_body_sha256": hashlib.sha256(body).hexdigest()},
                          self.signing_key, algorithm="ES256", headers={"kid": self.key_id})
