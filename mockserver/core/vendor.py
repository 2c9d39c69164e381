"""The seam between the core and a vendor package.

A vendor package declares everything the app needs from it in one `Vendor` subclass in its
`__init__`: name, hosts, credentials, the secrets the journal redacts, its framework's content
type and 404, its fixtures and stores, its ASGI app and its control-plane routes (`admin.py`).
The core lends each vendor a `Context`; adding a vendor touches `default_vendors()` and that
vendor's own package only.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Scope
    from starlette.types import ASGIApp

    from .clock import Clock
    from .cors import CorsPolicy
    from .journal import Journal
    from .http import VendorError
    from .tenancy import Tenant, Tenants
    from .webhooks import Webhooks


@dataclass
class Context:
    """What the core lends every vendor, injected once by `create_app`."""

    seed: int
    clock: "Clock"
    journal: "Journal"
    webhooks: "Webhooks"
    fixtures_dir: Path
    session_limit: int = 10_000   # live tokens/sessions kept per tenant and vendor (--max-sessions)
    cors_origins: list[str] | None = None   # --cors-origins; None: any origin
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        # Ids the mock mints (connections, events) follow the seed, so runs are reproducible.
        self.rng = random.Random(f"runtime:{self.seed}")


class Vendor(ABC):
    """One vendor's declaration. Subclasses set the class attributes and the abstract methods.

    Lifecycle, driven by the app: `attach(ctx)` loads the fixture template once; `new_store()`
    builds each tenant's state from it (on create and on reset); `build_app(tenants)` makes the
    ASGI app; `admin_routes()` adds the vendor's `/__admin/<name>/...` calls.
    """

    name: ClassVar[str]                          # the path prefix without its slash; journal key
    hosts: ClassVar[tuple[str, ...]] = ()        # real API hosts routed here by the Host header
    default_credentials: ClassVar[Mapping[str, str]] = {}   # the default tenant's (README.md)
    tenant_keys: ClassVar[tuple[str, ...]] = ()  # credential fields that name their tenant
    secret_headers: ClassVar[frozenset[str]] = frozenset()  # redacted in the journal
    secret_fields: ClassVar[frozenset[str]] = frozenset()   # body fields redacted in the journal
    content_type: ClassVar[str] = "application/json"        # what its framework sends JSON as
    not_found: ClassVar[Any]     # its framework's answer to an unknown route: async (request)
    # For GET /__admin/openapi.json (built with core/apidoc.py): the OpenAPI path items of the
    # admin_routes() calls, and the JSON Schema of what summary() returns.
    admin_openapi: ClassVar[Mapping[str, Any]] = {}
    summary_schema: ClassVar[Mapping[str, Any]] = {"type": "object"}
    cors: ClassVar["CorsPolicy | None"] = None   # its framework's CORS middleware (core/cors.py)

    ctx: Context
    template: Any

    def attach(self, ctx: Context) -> None:
        self.ctx = ctx
        self.template = self.load_template()

    def credential_keys(self, credentials: Mapping[str, str]) -> list[str]:
        return [credentials[k] for k in self.tenant_keys]

    @abstractmethod
    def new_credentials(self) -> dict[str, str]:
        """Fresh random credentials of the same shape as `default_credentials`."""

    @abstractmethod
    def load_template(self) -> Any:
        """The fixture state every tenant starts from, read and generated once."""

    @abstractmethod
    def new_store(self) -> Any:
        """A tenant's state, a cheap copy of the template."""

    @abstractmethod
    def build_app(self, tenants: "Tenants") -> "ASGIApp":
        """The vendor's ASGI app; it sees paths after the prefix in `scope["vendor_path"]`."""

    def cors_policy(self) -> "CorsPolicy | None":
        """The CORS policy its app applies: `cors` narrowed to `--cors-origins`."""
        return self.cors.with_origins(self.ctx.cors_origins) if self.cors is not None else None

    def admin_routes(self) -> list["BaseRoute"]:
        """Starlette routes under `/__admin/<name>/` (the vendor's `admin.py`)."""
        return []

    def summary(self, store: Any) -> dict[str, Any]:
        """A few counts of one tenant's state for the sandbox page (`GET /__admin/summary`):
        numbers, or objects of numbers; the store's `summary()`, `{}` for a store without one."""
        counts = getattr(store, "summary", None)
        return counts() if counts is not None else {}

    # -- state snapshots (core/state.py); the vendor's state.py does the work ---------------
    def state_schema(self) -> dict[str, Any]:
        """The JSON Schema of this vendor's part of a snapshot. A vendor that keeps no state
        worth exporting keeps these defaults: its part is null and an import rebuilds it."""
        return {"type": "null"}

    def export_state(self, store: Any, tenant: "Tenant") -> Any:
        """Everything of `store` a client can observe or that drives later behaviour, as JSON
        that `import_state` reads back to an equal store (export -> import -> export is
        byte-identical). Caches stay out; the tenant's credentials are never part of it."""
        return None

    def import_state(self, data: Any, tenant: "Tenant") -> Any:
        """A new store for `tenant` from `data` (already fitting `state_schema()`), bounded as
        the running server bounds it; `StateError` listing every inconsistency otherwise.
        It must not change anything shared (it may run off the event loop): the caller swaps
        the stores in, and calls `adopt_state`, only when every vendor's part imported."""
        return self.new_store()

    def adopt_state(self, store: Any) -> None:
        """An imported store was swapped in: update what the vendor shares across tenants (an
        id counter), which `import_state` must leave alone."""

    def snapshot(self, store: Any) -> Any:
        """One tenant's state as deterministic JSON-able data, caches left out: equal snapshots
        mean nothing a client can observe changed (tests compare them around rejected input)."""
        return store.snapshot()

    def tenant_of(self, scope: "Scope", body: bytes | None) -> "Tenant | None":
        """The tenant whose valid credentials this call carries (headers, query, or `body`, the
        request body when it is small), as the vendor's auth would resolve them, without
        serving it: how a fault matches a tenant before the vendor runs. None when unknown."""
        return None

    def fault_response(self, status: int, scope: "Scope") -> "VendorError":
        """This vendor's own error for `status` (4xx/5xx), as its framework writes it: what a
        status fault without a body answers."""
        from .http import VendorError, reason
        return VendorError(status, {"status": status, "error": reason(status)})
