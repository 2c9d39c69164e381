"""The seam between the core and a vendor package, and the one shape every vendor package has.

A vendor package is the same files with the same signatures (moto's sameness), so a fifth vendor
is written by copying any one of the four:

    __init__.py   the `Vendor` subclass: names, hosts, credentials, secrets, content type, CORS,
                  and the package's modules and types below, declared (no code of its own but
                  `new_credentials`)
    fixtures.py   `load(ctx) -> Template`, the fixture state every tenant starts from;
                  `learn(root, exchange)`, fixtures from a recorded exchange    (Fixtures)
    store.py      the `Store` class: a tenant's state, `Store(template, ctx)`; `NAME`
    auth.py       the `Auth` class: `Auth(ctx, tenants, template)`, `tenant_of(request, body)`
    handlers.py   the `Service` subclass the handlers share (`g`), one `async (g, request)` per
                  operation, and `route_missing(g, request)`, its framework's unknown route
    routes.py     `build(g, vendor) -> VendorApp`                                     (Routes)
    errors.py     its framework's error bodies; `fault(g, request, status)` and
                  `internal_error()`                                                   (Errors)
    state.py      snapshots: `schema(template)`, `export(g, store, tenant)`,
                  `restore(g, data, tenant)`, `adopt(g, store)`, `snapshot(g, store)`  (State)
    admin.py      `routes(g)` under `/__admin/<name>/`, `OPENAPI`, `SUMMARY`           (Admin)
    verify.py     `mockserver verify`'s probes: `BASE_URLS`, `INPUTS`, `sandbox(server)`,
                  `probes()`, `base_of(path)`                          (Verify)

The Protocols below state each module's contract once; tests/core/test_vendor_shape.py holds
every package to them. The core lends each vendor a `Context`; adding a vendor touches
`default_vendors()` (mockserver/app.py) and that vendor's own package only
(docs/architecture.md).
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Generic, Mapping, Protocol, TypeVar

from starlette.requests import Request

from .http import VendorError
from .settings import DEFAULTS

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Scope

    from .clock import Clock
    from .cors import CorsPolicy
    from .journal import Journal
    from .probe import Exchange, Input, Probe
    from .routing import Router, VendorApp
    from .tenancy import Tenant, Tenants
    from .webhooks import Webhooks

TemplateT = TypeVar("TemplateT")
StoreT = TypeVar("StoreT")
ServiceT = TypeVar("ServiceT", bound="Service[Any]")


@dataclass
class Context:
    """What the core lends every vendor, injected once by `create_app`."""

    seed: int
    clock: "Clock"
    journal: "Journal"
    webhooks: "Webhooks"
    fixtures_dir: Path
    session_limit: int = DEFAULTS["max_sessions"]  # live tokens/sessions per tenant and vendor
    cors_origins: list[str] | None = None   # --cors-origins; None: any origin
    rng: random.Random = field(init=False)
    # (tenant id, vendor name): a vendor changed a tenant's part outside any call (a timer, a
    # clock move), which no call's end marks; --data-dir writes the part then.
    changed: Callable[[str, str], None] = field(default=lambda tenant, vendor: None, repr=False)

    def __post_init__(self) -> None:
        # Ids the mock mints (connections, events) follow the seed, so runs are reproducible.
        self.rng = random.Random(f"runtime:{self.seed}")


class Auth(Protocol):
    """`auth.py`'s class: how the vendor resolves a call's credentials to a tenant."""

    def __init__(self, ctx: Context, tenants: "Tenants", template: Any) -> None: ...

    def tenant_of(self, request: Request, body: bytes | None) -> "Tenant | None":
        """The tenant whose valid credentials this call carries (headers, query, or `body`, the
        request body when it is small), as the vendor's auth would resolve them, without
        serving it: how a fault matches a tenant before the vendor runs. None when unknown."""


@dataclass(eq=False)
class Service(Generic[TemplateT]):
    """What a vendor's handlers share (`g` in `handlers.py`): built once per app, before its
    routes, so its auth, admin routes and `tenant_of` exist from `Vendor.attach` on. A vendor's
    subclass adds its own caches (`core/memo.py`) and runtime."""

    auth_type: ClassVar[type]     # auth.py's class, built with the service

    ctx: Context
    tenants: "Tenants"
    template: TemplateT
    router: "Router | None" = None   # set by routes.build: a 405 or CORS lists a path's methods
    auth: Any = field(init=False)

    def __post_init__(self) -> None:
        self.auth = self.auth_type(self.ctx, self.tenants, self.template)


class Fixtures(Protocol[TemplateT]):
    def load(self, ctx: Context) -> TemplateT:
        """The fixture state every tenant starts from, read and generated once per app."""

    def learn(self, root: Path, exchange: "Exchange") -> bool:
        """`serve --record-dir`: what one recorded exchange shows (a 2xx read) merged into the
        fixture files under `root/<name>/`, redacted and checked against contracts/, written
        atomically (mockserver/verify/recording.py has the shared helpers); an item recorded
        again replaces the earlier one, the generated extras stay. True when files changed;
        False for what it does not learn (writes, other reads); `NotLearned` says why not."""


class Routes(Protocol[ServiceT]):
    def build(self, g: ServiceT, vendor: "Vendor[Any, Any, ServiceT]") -> "VendorApp":
        """The vendor's ASGI app; it sees paths after the prefix in `scope["vendor_path"]`.
        Sets `g.router`."""


class Errors(Protocol[ServiceT]):
    def fault(self, g: ServiceT, request: Request, status: int) -> VendorError:
        """This vendor's own error for `status` (4xx/5xx), as its framework writes it: what a
        status fault without a body answers."""

    def internal_error(self) -> VendorError:
        """Its framework's 500: a handler bug must still look like the vendor."""


class State(Protocol[TemplateT, StoreT, ServiceT]):
    def schema(self, template: TemplateT) -> dict[str, Any]:
        """The JSON Schema of this vendor's part of a snapshot."""

    def export(self, g: ServiceT, store: StoreT, tenant: "Tenant") -> Any:
        """Everything of `store` a client can observe or that drives later behaviour, as JSON
        that `restore` reads back to an equal store (export -> restore -> export is
        byte-identical). Caches stay out; the tenant's credentials are never part of it."""

    def restore(self, g: ServiceT, data: Any, tenant: "Tenant") -> StoreT:
        """A new store for `tenant` from `data` (already fitting `schema()`), bounded as the
        running server bounds it; `StateError` listing every inconsistency otherwise. It must
        not change anything shared (it may run off the event loop): the caller swaps the
        stores in, and calls `adopt`, only when every vendor's part restored."""

    def adopt(self, g: ServiceT, store: StoreT) -> None:
        """A restored store was swapped in: update what the vendor shares across tenants (an id
        counter), which `restore` must leave alone."""

    def claims(self, g: ServiceT, store: StoreT) -> Any:
        """What of `store` the vendor's shared state must cover (the highest id it holds), as
        small JSON; None when the vendor shares nothing. A data dir keeps it beside the store's
        export and hands it to `claim` at start, before the export itself is read."""

    def claim(self, g: ServiceT, claims: Any) -> None:
        """`claims` of a store not read yet: shared state moves past it (an id counter), as
        `adopt` would once the store is read."""

    def snapshot(self, g: ServiceT, store: StoreT) -> Any:
        """One tenant's state as deterministic JSON-able data, caches left out: equal snapshots
        mean nothing a client can observe changed (tests compare them around rejected input)."""


class Admin(Protocol[ServiceT]):
    # For GET /__admin/openapi.json (built with core/apidoc.py): the OpenAPI path items of the
    # routes() calls, and the JSON Schema of what the store's summary() returns.
    OPENAPI: Mapping[str, Any]
    SUMMARY: Mapping[str, Any]

    def routes(self, g: ServiceT) -> list["BaseRoute"]:
        """Starlette routes under `/__admin/<name>/`."""


class Verify(Protocol):
    """`mockserver verify`: the real API's base URLs by name (a `Call.base`; "api" for most), what
    the real side takes from the user (credentials, ids of their account), and the probes
    (core/probe.py), each safe on a production account or marked `write`."""

    BASE_URLS: Mapping[str, str]
    INPUTS: Mapping[str, "Input"]

    def sandbox(self, server: Any) -> dict[str, str]:
        """The mock side's inputs, from the in-process server (`MockServer`): the default
        tenant's credentials, and a token or an id of its fixtures where a probe needs one."""

    def probes(self) -> "list[Probe]":
        """The probe suite, in the order it is sent (a probe may use what an earlier kept)."""

    def base_of(self, path: str) -> str:
        """The `BASE_URLS` key a vendor path belongs to (where `record` forwards it)."""


class Vendor(ABC, Generic[TemplateT, StoreT, ServiceT]):
    """One vendor's declaration: class attributes, its package's modules and types, and
    `new_credentials`. Everything else is done here, the same way for every vendor.

    Lifecycle, driven by the app: `attach(ctx, tenants)` loads the fixture template once and
    builds the service; `new_store()` builds each tenant's state from the template (on first
    use after create and reset); `build_app()` makes the ASGI app; `admin_routes()` adds the
    vendor's `/__admin/<name>/...` calls.
    """

    name: ClassVar[str]                          # the path prefix without its slash; journal key
    hosts: ClassVar[tuple[str, ...]] = ()        # real API hosts routed here by the Host header
    default_credentials: ClassVar[Mapping[str, str]] = {}   # the default tenant's (README.md)
    tenant_keys: ClassVar[tuple[str, ...]] = ()  # credential fields that name their tenant
    secret_headers: ClassVar[frozenset[str]] = frozenset()  # redacted in the journal
    secret_fields: ClassVar[frozenset[str]] = frozenset()   # body fields redacted in the journal
    content_type: ClassVar[str] = "application/json"        # what its framework sends JSON as
    cors: ClassVar["CorsPolicy | None"] = None   # its framework's CORS middleware (core/cors.py)

    # The package's modules and types (see the module docstring)
    fixtures: ClassVar[Fixtures[Any]]
    routes: ClassVar[Routes[Any]]
    errors: ClassVar[Errors[Any]]
    state: ClassVar[State[Any, Any, Any]]
    admin: ClassVar[Admin[Any]]
    verify: ClassVar[Verify]
    store_type: ClassVar[type]       # store.py's class: Store(template, ctx)
    service_type: ClassVar[type]     # handlers.py's Service subclass

    ctx: Context
    template: TemplateT
    service: ServiceT

    def attach(self, ctx: Context, tenants: "Tenants") -> None:
        self.ctx = ctx
        self.template = self.fixtures.load(ctx)
        self.service = self.service_type(ctx, tenants, self.template)

    def credential_keys(self, credentials: Mapping[str, str]) -> list[str]:
        return [credentials[k] for k in self.tenant_keys]

    @abstractmethod
    def new_credentials(self) -> dict[str, str]:
        """Fresh random credentials of the same shape as `default_credentials`."""

    def new_store(self) -> StoreT:
        """A tenant's state, a cheap copy of the template."""
        return self.store_type(self.template, self.ctx)

    def build_app(self) -> "ASGIApp":
        return self.routes.build(self.service, self)

    def cors_policy(self) -> "CorsPolicy | None":
        """The CORS policy its app applies: `cors` narrowed to `--cors-origins`."""
        return self.cors.with_origins(self.ctx.cors_origins) if self.cors is not None else None

    def admin_routes(self) -> list["BaseRoute"]:
        return self.admin.routes(self.service)

    def summary(self, store: StoreT) -> dict[str, Any]:
        """A few counts of one tenant's state for the sandbox page (`GET /__admin/summary`):
        numbers, or objects of numbers."""
        return store.summary()  # type: ignore[attr-defined]

    def tenant_of(self, scope: "Scope", body: bytes | None) -> "Tenant | None":
        return self.service.auth.tenant_of(Request(scope), body)

    def fault_response(self, status: int, scope: "Scope") -> VendorError:
        return self.errors.fault(self.service, Request(scope), status)

    # -- state snapshots (core/state.py); the vendor's state.py does the work ---------------
    def state_schema(self) -> dict[str, Any]:
        return self.state.schema(self.template)

    def export_state(self, store: StoreT, tenant: "Tenant") -> Any:
        return self.state.export(self.service, store, tenant)

    def import_state(self, data: Any, tenant: "Tenant") -> StoreT:
        return self.state.restore(self.service, data, tenant)

    def adopt_state(self, store: StoreT) -> None:
        self.state.adopt(self.service, store)

    def snapshot(self, store: StoreT) -> Any:
        return self.state.snapshot(self.service, store)

    def state_claims(self, store: StoreT) -> Any:
        return self.state.claims(self.service, store)

    def claim_state(self, claims: Any) -> None:
        self.state.claim(self.service, claims)
