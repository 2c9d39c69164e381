"""Tenants: each one owns a store per vendor, built from the shared fixture template.

Parallel CI jobs each create a tenant and use its credentials; a credential only ever resolves to
its own tenant, so no job sees or changes another's data.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Iterable

from .vendor import Context, Vendor

DEFAULT_TENANT = "default"


@dataclass
class Tenant:
    id: str
    credentials: dict[str, dict[str, str]]
    stores: dict[str, Any] = field(default_factory=dict)

    def store(self, vendor: str) -> Any:
        return self.stores[vendor]


class Tenants:
    def __init__(self, vendors: Iterable[Vendor], ctx: Context) -> None:
        self._vendors = {v.name: v for v in vendors}
        self._ctx = ctx
        # Fixtures are read and generated once; a store is a cheap copy of its template.
        self._templates = {name: v.load_template(ctx) for name, v in self._vendors.items()}
        self._tenants: dict[str, Tenant] = {}
        # (vendor, credential value) -> tenant id, e.g. ("gravy", "gravy-sandbox-client").
        self._by_key: dict[tuple[str, str], str] = {}
        self._add(Tenant(DEFAULT_TENANT,
                         {n: v.default_credentials() for n, v in self._vendors.items()}))

    # -- lookup ---------------------------------------------------------------------------
    @property
    def default(self) -> Tenant:
        return self._tenants[DEFAULT_TENANT]

    def get(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def template(self, vendor: str) -> Any:
        return self._templates[vendor]

    def by_credential(self, vendor: str, key: str) -> Tenant | None:
        tid = self._by_key.get((vendor, key))
        return self._tenants.get(tid) if tid is not None else None

    def __iter__(self):
        return iter(list(self._tenants.values()))

    # -- lifecycle --------------------------------------------------------------------------
    def create(self) -> Tenant:
        tid = "t_" + secrets.token_hex(8)
        tenant = Tenant(tid, {n: v.new_credentials() for n, v in self._vendors.items()})
        self._add(tenant)
        return tenant

    def delete(self, tenant_id: str) -> bool:
        if tenant_id == DEFAULT_TENANT or tenant_id not in self._tenants:
            return False
        tenant = self._tenants.pop(tenant_id)
        for name, vendor in self._vendors.items():
            for key in vendor.credential_keys(tenant.credentials[name]):
                self._by_key.pop((name, key), None)
        return True

    def reset(self, tenant_id: str | None = None) -> None:
        targets = [self._tenants[tenant_id]] if tenant_id else list(self._tenants.values())
        for tenant in targets:
            self._fill(tenant)

    def _add(self, tenant: Tenant) -> None:
        self._fill(tenant)
        self._tenants[tenant.id] = tenant
        for name, vendor in self._vendors.items():
            for key in vendor.credential_keys(tenant.credentials[name]):
                self._by_key[(name, key)] = tenant.id

    def _fill(self, tenant: Tenant) -> None:
        for name, vendor in self._vendors.items():
            tenant.stores[name] = vendor.new_store(self._templates[name], self._ctx)
