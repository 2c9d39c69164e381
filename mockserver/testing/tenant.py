"""A test's handle on a tenant of the mock, over `/__admin/tenants`."""
from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from .admin import checked
from .journal import JournalView


# A handle, not the tenant: the tenant itself (core.tenancy.Tenant, its stores) lives in the
# server; this is what a test holds to reach it, possibly from another process.
@dataclass
class TenantHandle:
    """A tenant of the mock: its own copy of the fixtures behind its own credentials
    (README.md, "Use in CI")."""

    id: str
    credentials: dict[str, dict[str, str]]
    base_url: str
    journal: JournalView
    _http: httpx.Client = field(repr=False)

    @property
    def urls(self) -> dict[str, str]:
        """Each vendor's base URL on the mock: `{"gravy": "http://127.0.0.1:PORT/gravy", ...}`."""
        return {v: f"{self.base_url}/{v}" for v in self.credentials}

    def drop(self) -> None:
        """`DELETE /__admin/tenants/{id}`: its data, credentials and journal go."""
        response = self._http.delete(f"/__admin/tenants/{self.id}")
        if response.status_code != 404:  # already gone is fine
            checked(response)


def create_tenant(http: httpx.Client, base_url: str) -> TenantHandle:
    """A new tenant on the mock `http` reaches (`POST /__admin/tenants`)."""
    body = checked(http.post("/__admin/tenants")).json()
    return TenantHandle(id=body["id"], credentials=body["credentials"],
                        base_url=base_url.rstrip("/"), journal=JournalView(http, body["id"]),
                        _http=http)
