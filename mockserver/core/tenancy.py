"""Tenants: each one owns a store per vendor, built from that vendor's fixture template.

Parallel CI jobs each create a tenant and use its credentials; a credential only ever resolves to
its own tenant, so no job sees or changes another's data.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from .settings import DEFAULTS

DEFAULT_TENANT = "default"
_SCOPE_SEP = "."  # token_urlsafe never writes a dot, tenant ids never hold one


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of any two strings (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


def rescoped(token: str, tenant: "Tenant") -> str:
    """A token minted for some tenant, as `Tenants.scoped` would have minted it for `tenant`:
    a snapshot's tokens keep working after it is imported into another tenant."""
    _, sep, raw = token.partition(_SCOPE_SEP)
    raw = raw if sep else token
    return raw if tenant.is_default else f"{tenant.id}{_SCOPE_SEP}{raw}"


def attribute(scope: dict, tenant: "Tenant") -> "Tenant":
    """Name the tenant of the request being served, for the journal. Auth calls it on success."""
    scope["state"]["tenant"] = tenant.id
    return tenant


def wrote(scope: dict) -> None:
    """The GET being served changes what its tenant keeps (an OAuth code minted): a data dir
    writes it (core/datadir.py marks a tenant after its other calls, never after a GET or HEAD)."""
    scope["state"]["wrote"] = True


class StoreFactory(Protocol):
    """What tenancy needs of a vendor (`core/vendor.py`'s `Vendor` is one): its name, the
    credentials its tenants get, which of them name a tenant, and a new store."""

    name: str
    default_credentials: Mapping[str, str]

    def new_credentials(self) -> dict[str, str]: ...

    def credential_keys(self, credentials: Mapping[str, str]) -> list[str]: ...

    def new_store(self) -> Any: ...


class Stores(dict):
    """A tenant's store per vendor name, each built from its vendor's template when first read.
    Creating a tenant, and resetting every tenant, then costs no store building: a server with
    1,000 tenants resets them all in under half a second, freeing them (it took 8.7 s, the event
    loop blocked, building 4,000 stores) and a tenant holds only the stores of the vendors it
    called. A store has no clock or random
    draw in it when built, so building it later answers exactly as building it at once did."""

    __slots__ = ("_vendors", "pending")

    def __init__(self, vendors: Mapping[str, StoreFactory]) -> None:
        super().__init__()
        self._vendors = vendors
        # name -> what builds the store when first read, instead of the template: a part a data
        # dir kept (core/datadir.py), read only once the tenant calls that vendor
        self.pending: dict[str, Callable[[], Any]] = {}

    def __missing__(self, name: str) -> Any:
        build = self.pending.pop(name, None)
        # KeyError for a vendor not served
        store = self[name] = build() if build is not None else self._vendors[name].new_store()
        return store

    def update(self, stores: Mapping[str, Any]) -> None:  # type: ignore[override]
        """Stores swapped in (an import): what was pending for them is gone."""
        for name in stores:
            self.pending.pop(name, None)
        super().update(stores)

    def clear(self) -> None:
        self.pending.clear()
        super().clear()


@dataclass
class Tenant:
    id: str
    credentials: dict[str, dict[str, str]]
    stores: dict[str, Any] = field(default_factory=dict)   # a `Stores` in a server

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_TENANT


MAX_TENANTS: int = DEFAULTS["max_tenants"]  # tenants kept at once, the default one included


class TooManyTenants(Exception):
    """`create` refused: the server holds its maximum of tenants."""


class Tenants:
    def __init__(self, vendors: Iterable[StoreFactory], limit: int = MAX_TENANTS) -> None:
        self._vendors = {v.name: v for v in vendors}
        self.limit = max(1, limit)
        self._tenants: dict[str, Tenant] = {}
        # (vendor, credential value) -> tenant id, e.g. ("gravy", "gravy-sandbox-client").
        self._by_key: dict[tuple[str, str], str] = {}
        self._add(Tenant(DEFAULT_TENANT,
                         {n: dict(v.default_credentials) for n, v in self._vendors.items()},
                         Stores(self._vendors)))

    # -- lookup ---------------------------------------------------------------------------
    @property
    def default(self) -> Tenant:
        return self._tenants[DEFAULT_TENANT]

    def get(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    @property
    def live(self) -> Mapping[str, Tenant]:
        """The tenants by id, a read-only view that follows creations and deletions."""
        return MappingProxyType(self._tenants)

    def by_credential(self, vendor: str, key: str) -> Tenant | None:
        tid = self._by_key.get((vendor, key))
        return self._tenants.get(tid) if tid is not None else None

    def authenticate(self, vendor: str, key_field: str, key: str, secret_field: str,
                     secret: str) -> Tenant | None:
        """The tenant whose `key_field` is `key` and whose `secret_field` is `secret`."""
        tenant = self.by_credential(vendor, key)
        if tenant is None:
            return None
        creds = tenant.credentials[vendor]
        expected = creds.get(secret_field)
        # A tenant without that secret is nobody's to open: an empty secret must not match it.
        if creds.get(key_field) != key or expected is None or not same_secret(secret, expected):
            return None
        return tenant

    # Opaque tokens a vendor mints name their tenant, so a token alone finds its tenant's store
    # without an app-wide token table. The default tenant's tokens look exactly like the vendor's.
    def scoped(self, tenant: Tenant, token: str) -> str:
        return token if tenant.is_default else f"{tenant.id}{_SCOPE_SEP}{token}"

    def owner_of(self, token: str) -> Tenant | None:
        tid, sep, _ = token.partition(_SCOPE_SEP)
        return self._tenants.get(tid) if sep else self._tenants[DEFAULT_TENANT]

    def __iter__(self) -> Iterator[Tenant]:
        return iter(list(self._tenants.values()))

    def __len__(self) -> int:
        return len(self._tenants)

    # -- lifecycle --------------------------------------------------------------------------
    def create(self) -> Tenant:
        if len(self._tenants) >= self.limit:  # every tenant holds a store per vendor
            raise TooManyTenants(f"at most {self.limit} tenants may exist; delete some first")
        tid = "t_" + secrets.token_hex(8)
        tenant = Tenant(tid, {n: v.new_credentials() for n, v in self._vendors.items()},
                        Stores(self._vendors))
        self._add(tenant)
        return tenant

    def restore(self, tenant_id: str, credentials: dict[str, dict[str, str]]) -> Tenant:
        """A tenant as a data dir kept it (core/datadir.py): its id and credentials, stores
        built from the fixtures until the caller swaps restored ones in. ValueError for
        credentials of other vendors or shapes, or another tenant's."""
        if set(credentials) != set(self._vendors) or not all(
                isinstance(c, dict) and all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in c.items())
                for c in credentials.values()):
            raise ValueError("credentials of other vendors or shapes")
        for name, vendor in self._vendors.items():  # a key names one tenant (tenant_of)
            for key in vendor.credential_keys(credentials[name]):
                holder = self._by_key.get((name, key), tenant_id)
                if holder != tenant_id:
                    raise ValueError(f"its {name} credentials are tenant {holder}'s")
        old = self._tenants.get(tenant_id)
        if old is not None:  # the default tenant, made at start: its saved credentials
            self.delete(tenant_id) if not old.is_default else self._forget(old)
        tenant = Tenant(tenant_id, {n: dict(c) for n, c in credentials.items()},
                        Stores(self._vendors))
        self._add(tenant)
        return tenant

    def _forget(self, tenant: Tenant) -> None:
        self._tenants.pop(tenant.id, None)
        for name, vendor in self._vendors.items():
            for key in vendor.credential_keys(tenant.credentials[name]):
                self._by_key.pop((name, key), None)

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
        self._tenants[tenant.id] = tenant
        for name, vendor in self._vendors.items():
            for key in vendor.credential_keys(tenant.credentials[name]):
                self._by_key[(name, key)] = tenant.id

    def _fill(self, tenant: Tenant) -> None:
        """Back to the fixtures: each store is built afresh when next read (`Stores`)."""
        tenant.stores.clear()
