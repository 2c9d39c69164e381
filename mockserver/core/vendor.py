"""What a vendor package provides to the app. Each vendor's `__init__` exposes one `VENDOR`."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from .clock import Clock
    from .journal import Journal
    from .tenancy import Tenants


@dataclass
class Context:
    """Everything a vendor may use at run time, injected by `create_app`."""

    seed: int
    clock: "Clock"
    fixtures_dir: Path
    journal: "Journal"
    runtime: dict[str, Any] = field(default_factory=dict)  # per-app vendor state, by vendor name
    tenants: "Tenants" = field(init=False)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        # Ids the mock mints (connections, events) follow the seed, so runs are reproducible.
        self.rng = random.Random(f"runtime:{self.seed}")


class Vendor(Protocol):
    name: str                      # "gravy": the path prefix without its slash, the journal's key
    hosts: tuple[str, ...]         # real API hosts routed here by the Host header

    def default_credentials(self) -> dict[str, str]: ...
    def new_credentials(self) -> dict[str, str]: ...
    def credential_keys(self, credentials: dict[str, str]) -> list[str]: ...
    def load_template(self, ctx: Context) -> Any: ...
    def new_store(self, template: Any, ctx: Context) -> Any: ...
    def build_app(self, ctx: Context) -> "ASGIApp": ...

