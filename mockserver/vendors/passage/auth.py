"""Passage Connect credentials: an organization's `psg_` API key as `Authorization: Bearer`, and
the webhook signing key (ES256, P-256) served at `/webhook_verification_key/get`.

The key pair is derived from the seed, apart from Gravy Connect's (the Links API is a separate
service), so a webhook verifies across restarts of the same --seed.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ...core.http import authorization
from ...core.memo import Memo
from ...core.tenancy import attribute
from .errors import unauthorized
from .store import NAME

if TYPE_CHECKING:
    from starlette.requests import Request

    from ...core.tenancy import Tenant, Tenants
    from ...core.vendor import Context
    from .store import PassageTemplate

KEY_PREFIX = "psg_"
OPENED_MEMO = 256       # Authorization headers remembered with their tenant (core/memo.py)
OPENED_HEADER = 1024    # longest header remembered


class PassageAuth:
    def __init__(self, ctx: "Context", tenants: "Tenants", template: "PassageTemplate") -> None:
        self.ctx = ctx
        self.tenants = tenants
        # Authorization header -> the tenant its key opened (a client sends the same header
        # with every call): one lookup instead of parsing it. Credentials never change, so an
        # entry holds while its tenant exists; a refused header is checked every time.
        self._opened: Memo[bytes, Tenant] = Memo(OPENED_MEMO)
        material = hashlib.sha256(f"passage:{ctx.seed}".encode()).digest()
        self.signing_key = ec.derive_private_key(
            int.from_bytes(hashlib.sha256(b"webhook-key" + material).digest(), "big")
            % (2**255) + 1, ec.SECP256R1())
        # Letters and digits only: the docs decode the JWT header with plain atob, which
        # refuses base64url's "-" and "_" (none arise from such a header).
        self.key_id = "key_" + hashlib.sha256(b"kid" + material).hexdigest()[:16]
        self.public_pem = self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def bearer(self, request: "Request") -> "Tenant | None":
        """The tenant of a `Bearer psg_…` key; None for anything else (an OAuth JWT too: the
        mock has no dashboard users)."""
        scope = request.scope
        for k, header in scope["headers"]:  # the Authorization header `authorization` reads
            if k == b"authorization":
                break
        else:
            return None
        tenant = self._opened.get(header)
        if tenant is None or self.tenants.get(tenant.id) is not tenant:
            tenant = self._open(scope)
            if tenant is None:
                return None
            if len(header) <= OPENED_HEADER:
                self._opened.keep(header, tenant)
        return attribute(scope, tenant)

    def _open(self, scope: dict) -> "Tenant | None":
        key = authorization(scope, "bearer")
        if key is None or not key.startswith(KEY_PREFIX):
            return None
        tenant = self.tenants.by_credential(NAME, key)
        if tenant is None or tenant.credentials[NAME].get("apiKey") != key:
            return None
        return tenant

    def require(self, request: "Request") -> "Tenant":
        tenant = self.bearer(request)
        if tenant is None:
            raise unauthorized()
        return tenant

    def tenant_of(self, request: "Request", body: bytes | None) -> "Tenant | None":
        """The API key's tenant; the public calls (claim, key) name none."""
        return self.bearer(request)

    def sign(self, body: bytes, iat: int) -> str:
        """X-Passage-Signature: an ES256 JWT over the body's SHA-256 (lower-case hex), issued at
        `iat`, the X-Passage-Timestamp sent beside it."""
        return jwt.encode({"iat": iat,
                           "request_body_sha256": hashlib.sha256(body).hexdigest()},
                          self.signing_key, algorithm="ES256", headers={"kid": self.key_id})
