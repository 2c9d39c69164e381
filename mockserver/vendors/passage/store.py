"""Passage Connect state per tenant: its links (each with its claim code, sessions and outcome)
and the sandbox's outcome settings. The providers catalogue and the fixture results are the
template's, shared and immutable.

A link's status is computed on the mock clock when read: any link not complete reads `expired`
once `now >= expiresAt` ("expired before being claimed or completed"), and an active link whose
auto-complete instant has passed is completed by `settle` before it is shown.
"""
from __future__ import annotations

import copy
from collections import deque
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from ...core.vendor import Context

NAME = "passage"  # the vendor's name: its prefix, its key in each tenant's stores, its journal name
DEFAULT_TTL = 14400          # seconds: "default: 14400 = 4 hours"
AUTO_COMPLETE = 5.0          # mock-clock seconds from a claim to the default completion
SESSIONS_KEPT = 20           # past sessions remembered per link (each claim makes one)
STATUSES = ("pending", "active", "complete", "failed", "expired")
ERROR_CODES = {
    "AUTOMATION_ERROR": "The automation failed to complete the requested operations.",
    "CLIENT_TIMEOUT": "The client did not respond in time.",
    "CONNECTION_FAILED": "Could not connect to the provider.",
    "UNKNOWN_PROVIDER": "The provider is not supported.",
    "RESULT_VALIDATION_ERROR": "The operation's result did not match its schema.",
    "INTERNAL_ERROR": "An internal error occurred.",
}


@dataclass(slots=True)  # one object per link, no __dict__: 10,000 are kept per tenant
class Link:
    id: str
    claim_code: str
    integration_id: str
    operations: list[dict[str, Any]]     # {resource, action, arguments?}, in request order
    external_user_id: str | None
    webhook_url: str | None
    return_url: str | None               # as given; answers append ?linkId=
    debug: bool
    created_at: int                      # epoch ms
    expires_at: int
    updated_at: int
    status: str = "pending"              # pending, active, complete, failed (expired: computed)
    current_session_id: str | None = None
    client_token: str | None = None
    result: Any = None
    error: dict[str, str] | None = None
    auto_at: int | None = None           # epoch ms: when an active link completes by itself
    sessions: tuple[str, ...] = ()       # the last SESSIONS_KEPT, oldest first (no list per link)

    def status_at(self, now_ms: int) -> str:
        if self.status != "complete" and now_ms >= self.expires_at:
            return "expired"
        return self.status

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "claimCode": self.claim_code, "integrationId": self.integration_id,
                "operations": copy.deepcopy(self.operations),
                "externalUserId": self.external_user_id, "webhookUrl": self.webhook_url,
                "returnUrl": self.return_url, "debug": self.debug,
                "createdAt": self.created_at, "expiresAt": self.expires_at,
                "updatedAt": self.updated_at, "status": self.status,
                "currentSessionId": self.current_session_id, "clientToken": self.client_token,
                "result": copy.deepcopy(self.result), "error": copy.deepcopy(self.error),
                "autoAt": self.auto_at, "sessions": list(self.sessions)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Link":
        return cls(id=d["id"], claim_code=d["claimCode"], integration_id=d["integrationId"],
                   operations=copy.deepcopy(d["operations"]),
                   external_user_id=d["externalUserId"], webhook_url=d["webhookUrl"],
                   return_url=d["returnUrl"], debug=d["debug"], created_at=d["createdAt"],
                   expires_at=d["expiresAt"], updated_at=d["updatedAt"], status=d["status"],
                   current_session_id=d["currentSessionId"], client_token=d["clientToken"],
                   result=copy.deepcopy(d["result"]), error=copy.deepcopy(d["error"]),
                   auto_at=d["autoAt"], sessions=tuple(d["sessions"]))


@dataclass
class PassageTemplate:
    providers: list[dict[str, Any]]                    # GET /v1/providers, catalogue order
    # (integration, resource, action) -> (arguments schema or None, result schema or None)
    operations: dict[tuple[str, str, str], tuple[Any, Any]]
    results: dict[str, dict[str, Any]]                 # integration -> resource -> read data


@dataclass
class PassageStore:
    template: PassageTemplate
    ctx: InitVar["Context"]
    limit: int = field(init=False)                  # --max-sessions: links kept
    links: dict[str, Link] = field(default_factory=dict)   # oldest first
    # their ids, oldest first: the dict's first key would cost a scan past every key deleted
    # before it; made by the first link (an empty deque is 0.7 KB, a tenant's whole store 0.4)
    order: "deque[str] | None" = None
    codes: dict[str, str] = field(default_factory=dict)   # claim code -> link id
    # the links claimed with an auto-complete instant (a few): what `due` looks at, instead of
    # every link on every read; a link that left `active` is dropped from it there
    armed: dict[str, Link] = field(default_factory=dict)
    auto_complete: float | None = AUTO_COMPLETE
    clock: Any = field(init=False, repr=False, compare=False)  # computed statuses read it

    def __post_init__(self, ctx: "Context") -> None:
        self.limit = max(1, ctx.session_limit)
        self.clock = ctx.clock

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def add(self, link: Link) -> None:
        order = self.order
        if order is None:
            order = self.order = deque()
        if link.id not in self.links:  # (one already kept keeps its place, as in a dict)
            order.append(link.id)
        self.links[link.id] = link
        self.codes[link.claim_code] = link.id
        if link.auto_at is not None:
            self.armed[link.id] = link
        while len(self.links) > self.limit:  # the oldest link goes first
            old = self.links.pop(order.popleft())
            self.codes.pop(old.claim_code, None)
            if self.armed:
                self.armed.pop(old.id, None)

    def by_code(self, code: str) -> Link | None:
        lid = self.codes.get(code)
        return self.links.get(lid) if lid is not None else None

    def arm(self, link: Link) -> None:
        """`link` was claimed with an auto-complete instant."""
        self.armed[link.id] = link

    def upcoming(self) -> list[Link]:
        """The active links that will complete by themselves (unless they expire first)."""
        for lid in [lid for lid, ln in self.armed.items()
                    if ln.status != "active" or ln.auto_at is None]:
            del self.armed[lid]  # completed, failed or reclaimed without one since
        return [ln for ln in self.armed.values() if ln.auto_at < ln.expires_at]

    def due(self, now_ms: int) -> list[Link]:
        """Active links whose auto-complete instant has come (and that have not expired)."""
        return [ln for ln in self.upcoming() if ln.auto_at <= now_ms < ln.expires_at]

    def summary(self) -> dict[str, Any]:
        now_ms = self.now_ms()
        by: dict[str, int] = {}
        for link in self.links.values():
            s = link.status_at(now_ms)
            by[s] = by.get(s, 0) + 1
        return {"links": {"total": len(self.links), "byStatus": dict(sorted(by.items()))}}

    def snapshot(self) -> dict[str, Any]:
        """As a read now shows it: an auto-completion that is due counts as done (the sweep
        or the next read only writes down what the clock already decided)."""
        from .links import settled_view
        now = self.now_ms()
        return {"links": [settled_view(self.template, ln, now).to_json()
                          for ln in self.links.values()],
                "autoCompleteSeconds": self.auto_complete}


def store_of(tenant: "Tenant") -> PassageStore:
    return tenant.stores[NAME]
