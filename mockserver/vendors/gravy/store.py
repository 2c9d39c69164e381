"""Gravy domain state per tenant: connections and their lifecycle, resource data, intent sessions."""
from __future__ import annotations

import json
import random
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ...core.clock import iso_ms, parse_iso
from ...core.sessions import Sessions
from . import generator
from .resources import KINDS, Kind, ResourceSet, kind_for

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from ...core.vendor import Context

NAME = "gravy"  # the vendor's name: its prefix, its key in each tenant's stores, its journal name

STATUSES = ("pending", "connecting", "connected", "canceled", "rejected", "failed",
            "data_processing", "data_available", "data_partially_available", "inactive")
DATA_STATUSES = frozenset({"data_available", "data_partially_available"})

# The lifecycle: a move to a status walks the shortest path here, one webhook per step.
NEXT: dict[str, tuple[str, ...]] = {
    "pending": ("connecting", "canceled", "rejected", "failed"),
    "connecting": ("connected", "canceled", "rejected", "failed"),
    "connected": ("data_processing", "failed", "canceled", "inactive"),
    "data_processing": ("data_available", "data_partially_available", "failed"),
    "data_available": ("data_processing", "inactive"),
    "data_partially_available": ("data_processing", "inactive"),
    "failed": ("connecting",), "canceled": ("connecting",), "rejected": ("connecting",),
    "inactive": ("connecting",),
}
FAILURES = {"failed": ("automation_failed", "The automation could not complete the connection."),
            "canceled": ("user_canceled", "The user canceled the connection."),
            "rejected": ("user_rejected", "The user rejected the connection request.")}


def lifecycle_path(current: str, target: str) -> list[str] | None:
    """The statuses a connection passes through from `current` to `target` (BFS), or None."""
    if current == target:
        return []
    prev: dict[str, str] = {current: ""}
    queue = deque([current])
    while queue:
        status = queue.popleft()
        for nxt in NEXT[status]:
            if nxt not in prev:
                prev[nxt] = status
                if nxt == target:
                    path = [nxt]
                    while prev[path[-1]] != current:
                        path.append(prev[path[-1]])
                    return path[::-1]
                queue.append(nxt)
    return None


@dataclass
class ResourceState:
    type: str                      # as the client named it: "readingHistory", "accountBalance"
    operation: str = "read"
    status: str = "pending"
    startedAt: str | None = None
    completedAt: str | None = None
    errorMessage: str | None = None
    failureReason: str | None = None

    @property
    def kind(self) -> Kind | None:
        return kind_for(self.type)

    def to_json(self, base: str, connection_id: str) -> dict[str, Any]:
        kind = self.kind
        segment = kind.slug if kind else self.type
        return {"type": self.type, "url": f"{base}/connections/{connection_id}/{segment}",
                "status": self.status, "operation": self.operation,
                "errorMessage": self.errorMessage, "failureReason": self.failureReason,
                "startedAt": self.startedAt, "completedAt": self.completedAt}


@dataclass
class Connection:
    id: str
    integrationId: str
    status: str
    userId: str | None
    createdAt: str
    updatedAt: str
    resources: list[ResourceState] = field(default_factory=list)
    failureReason: str | None = None
    errorMessage: str | None = None
    errorDetails: dict = field(default_factory=dict)        # the doc shows `{}`, never null
    connectionMetadata: dict = field(default_factory=dict)
    webhookUrl: str | None = None
    returnUrl: str | None = None
    data_ready_at: str | None = None  # when data became available: generated items end there
    read_limits: dict[str, int] = field(default_factory=dict)  # `read.limit` per resource kind
    _readable: frozenset | None = field(default=None, repr=False, compare=False)  # see _settle

    def clone(self) -> "Connection":
        return replace(self, resources=[replace(r) for r in self.resources],
                       read_limits=dict(self.read_limits), errorDetails=dict(self.errorDetails),
                       connectionMetadata=dict(self.connectionMetadata))

    def to_json(self, base: str) -> dict[str, Any]:
        return {"id": self.id, "integrationId": self.integrationId, "status": self.status,
                "failureReason": self.failureReason, "errorMessage": self.errorMessage,
                "errorDetails": self.errorDetails, "connectionMetadata": self.connectionMetadata,
                "resources": [r.to_json(base, self.id) for r in self.resources],
                "userId": self.userId, "createdAt": self.createdAt, "updatedAt": self.updatedAt}

    def readable(self, kind: Kind) -> bool:
        # A completed operation stays readable when the connection later goes inactive; a
        # refresh (data_processing) or retry (connecting) puts the resources back in progress.
        # Writes count: the web SDK reads `balance`/`payment_method` after a one-time write to
        # see it done (utils/intentToken.ts isWriteOperationCompleted).
        if self._readable is None:
            self._readable = frozenset(r.kind for r in self.resources if r.status == "completed")
        return kind in self._readable


@dataclass
class IntentSession:
    token: str
    short_token: str
    connection_id: str
    integration_id: str
    resources: dict[str, Any]
    return_url: str | None
    exp: int


# The fixture connections and the ones generated from the seed, made once per process for each
# (fixtures, seed): read-only prototypes every template shares and every store clones. Making
# them was most of an app's start-up (about 20 ms, once per test of a suite); only a few
# (fixtures, seed) pairs occur.
@lru_cache(maxsize=8)
def _made(spec: str, seed: int) -> tuple[Connection, ...]:
    """`spec`: the JSON of [the fixture connections, each integration's (slug, resource
    names), the generator's settings]."""
    documented, integrations, settings = json.loads(spec)
    integrations = [{"slug": slug, "resources": [{"name": n} for n in names]}
                    for slug, names in integrations]
    out = []
    for c in documented:
        done = c["updatedAt"]
        conn = Connection(
            id=c["id"], integrationId=c["integrationId"], status=c["status"],
            userId=c["userId"], createdAt=c["createdAt"], updatedAt=c["updatedAt"],
            resources=[ResourceState(r, "read", "completed", c["createdAt"], done)
                       for r in c["resources"]],
            data_ready_at=done)
        if c["status"] not in DATA_STATUSES:  # no data yet: resources as that status has them
            conn.data_ready_at = None
            _settle(conn, c["status"], done)
        out.append(conn)
    r = random.Random(f"gravy-connections:{seed}")
    lo = parse_iso(settings["connectionsCreatedFrom"]).timestamp()
    hi = parse_iso(settings["connectionsCreatedTo"]).timestamp()
    users = [f"user_{r.randrange(10**9, 10**10)}" for _ in range(24)]
    for _ in range(settings["connections"] - len(out)):
        integ = r.choice(integrations)
        names = [res["name"] for res in integ["resources"]]
        picked = sorted(r.sample(names, r.randint(1, min(3, len(names)))), key=names.index)
        created_ts = r.uniform(lo, hi)
        updated_ts = created_ts + r.uniform(60, 7 * 86400)
        created = iso_ms(datetime.fromtimestamp(round(created_ts), tz=timezone.utc))
        updated = iso_ms(datetime.fromtimestamp(round(updated_ts), tz=timezone.utc))
        status = r.choice(STATUSES + ("data_available",) * 4)
        conn = Connection(
            id=f"conn_{''.join(r.choice('0123456789abcdefghijklmnopqrstuvwxyz') for _ in range(12))}",
            integrationId=integ["slug"], status=status, userId=r.choice(users),
            createdAt=created, updatedAt=updated,
            resources=[ResourceState(n) for n in picked])
        _settle(conn, status, updated, failed=_default_failed(conn))
        out.append(conn)
    return tuple(out)


class GravyTemplate:
    """Fixture state shared read-only by every tenant; resource sets are built on first read."""

    def __init__(self, data: dict[str, Any], seed: int) -> None:
        self.seed = seed
        self.examples = data["examples"]
        self.settings = data["generator"]
        self.books = data.get("books", [])
        self.integrations = [{k: _with_resource_type(v) if k == "resources" else v
                              for k, v in i.items() if k != "branding"}
                             for i in data["integrations"]]
        self.branding = {i["slug"]: i["branding"] for i in data["integrations"]}
        # (the documented intent-token request, its documented answer's branding), if stored
        self.documented_intent: tuple[dict[str, Any], dict[str, Any]] | None = data.get("intent")
        self.by_slug = {i["slug"]: i for i in self.integrations}
        # shared by every template of the same fixtures and seed, read-only as all of a template
        # (each store works on clones); the list is the template's own (recorded fixtures)
        self.connections = list(_made(
            json.dumps([data["connections"], [(i["slug"], [r["name"] for r in i["resources"]])
                                              for i in self.integrations], self.settings],
                       sort_keys=True), seed))
        self.connections_by_id = {c.id: c for c in self.connections}
        self._sets: dict[tuple[str, str], ResourceSet] = {}
        # The documented example of each kind, on the documented connection listing that kind
        # (and naming it, where the example carries a connectionId).
        self._documented: dict[tuple[str, str], dict] = {}
        for c in data["connections"]:
            for name in c["resources"]:
                kind = kind_for(name)
                example = self.examples[kind.slug]
                if example.get("connectionId", c["id"]) == c["id"]:
                    self._documented[(c["id"], kind.slug)] = example

    def resource_set(self, conn: Connection, kind: Kind) -> ResourceSet:
        key = (conn.id, kind.slug)
        rs = self._sets.get(key)
        if rs is None:
            example = self._documented.get(key)
            if example is not None:
                count = self.settings["itemsPerResource"]
            else:
                span = self.settings["generatedItems"]
                count = random.Random(f"gravy-count:{self.seed}:{conn.id}:{kind.slug}") \
                    .randint(span["min"], span["max"])
            newest = parse_iso(conn.data_ready_at or conn.updatedAt)
            rs = self._sets[key] = ResourceSet(
                generator.generate(kind, conn.id, count, self.seed, newest, example, self.books))
        return rs


def _with_resource_type(resources: list[dict]) -> list[dict]:
    """The doc's resources plus `resourceType: {name}` beside `name`: the web SDK's example app
    reads `resources[].resourceType.name` (an API version the doc does not show)."""
    return [{"name": r["name"], "resourceType": {"name": r["name"]},
             **{k: v for k, v in r.items() if k != "name"}} for r in resources]


def _default_failed(conn: Connection) -> set[str]:
    """For data_partially_available without a choice: the last resource failed."""
    return {conn.resources[-1].type} if len(conn.resources) > 1 else set()


def _settle(conn: Connection, status: str, now: str, failed: set[str] = frozenset()) -> None:
    """Put a connection and its resources into `status` at time `now`."""
    conn.status = status
    conn._readable = None
    conn.updatedAt = now
    if status in ("pending", "connecting", "connected"):
        conn.failureReason = conn.errorMessage = None
        conn.errorDetails = {}
        for r in conn.resources:
            r.status, r.startedAt, r.completedAt = "pending", None, None
            r.errorMessage = r.failureReason = None
    elif status == "data_processing":
        for r in conn.resources:
            r.status, r.startedAt, r.completedAt = "in_progress", now, None
            r.errorMessage = r.failureReason = None
    elif status in DATA_STATUSES:
        conn.data_ready_at = now
        for r in conn.resources:
            r.startedAt = r.startedAt or now
            r.completedAt = now
            if status == "data_partially_available" and r.type in failed:
                r.status = "failed"
                r.failureReason = "data_unavailable"
                r.errorMessage = f"{r.type} could not be retrieved."
            else:
                r.status = "completed"
    elif status in FAILURES:
        conn.failureReason, conn.errorMessage = FAILURES[status]
        for r in conn.resources:
            if r.status != "completed":
                r.status = "failed"
                r.failureReason, r.errorMessage = FAILURES[status]
                r.completedAt = now


def store_of(tenant: "Tenant") -> "GravyStore":
    return tenant.stores[NAME]


class GravyStore:
    """One tenant's Gravy state. Built from the template in well under a millisecond."""

    def __init__(self, template: GravyTemplate, ctx: "Context") -> None:
        self.template = template
        self.seed = ctx.seed
        self.session_limit = session_limit = ctx.session_limit
        self.connections: dict[str, Connection] = {c.id: c.clone() for c in template.connections}
        self.tokens: Sessions = Sessions(session_limit)   # access token -> AccessToken
        # intent token and its short code -> the one IntentSession they share
        self.intents: Sessions[IntentSession] = Sessions(2 * session_limit)
        self._minted: deque[str] = deque()  # connections opened by intent tokens, oldest first
        self._sets: dict[tuple[str, str], ResourceSet] = {}
        # (sortBy, sortOrder) -> the connections in that order, until the next change: saves a
        # sort of every connection per list request.
        self._orders: dict[tuple[str, str], tuple[Connection, ...]] = {}
        # Bumped by every change to a connection (a new one, a lifecycle step): what the list
        # handler's answer memo checks (handlers.Gravy.listed).
        self.version = 0

    # -- connections ----------------------------------------------------------------------
    def _changed(self) -> None:
        self._orders.clear()
        self.version += 1

    def sorted_connections(self, sort_by: str, sort_order: str) -> tuple[Connection, ...]:
        key = (sort_by, sort_order)
        order = self._orders.get(key)
        if order is None:
            # ISO strings from different writers differ in precision, so compare instants.
            order = self._orders[key] = tuple(sorted(
                self.connections.values(), key=lambda c: parse_iso(getattr(c, sort_by)),
                reverse=(sort_order == "desc")))
        return order

    def add_intent(self, session: IntentSession, now: float) -> None:
        self.intents.add(session.token, session, session.exp, now)
        self.intents.add(session.short_token, session, session.exp, now)

    def add_connection(self, conn: Connection) -> None:
        """A connection an intent token opened; past the session limit the oldest such one goes,
        so sustained load cannot grow a tenant without bound (fixture connections stay)."""
        self.connections[conn.id] = conn
        self._minted.append(conn.id)
        if len(self._minted) > self.session_limit:
            gone = self._minted.popleft()
            self.connections.pop(gone, None)
            for kind in KINDS:
                self._sets.pop((gone, kind.slug), None)
        self._changed()

    @staticmethod
    def plan(conn: Connection, target: str) -> list[str]:
        """The statuses `conn` passes through to reach `target`; ValueError if it cannot."""
        path = lifecycle_path(conn.status, target)
        if path is None:
            raise ValueError(f"a connection cannot move from {conn.status} to {target}")
        return path

    def step(self, conn: Connection, status: str, now: str,
             failed: set[str] | None = None) -> None:
        """One lifecycle step (each one is a Connection.Updated webhook)."""
        _settle(conn, status, now, failed if failed is not None else _default_failed(conn))
        if status in DATA_STATUSES:
            # New data: forget sets generated for an earlier refresh.
            for kind in KINDS:
                self._sets.pop((conn.id, kind.slug), None)
        self._changed()


    # -- resources ------------------------------------------------------------------------
    def resource_set(self, conn: Connection, kind: Kind) -> ResourceSet | None:
        if not conn.readable(kind):
            return None
        key = (conn.id, kind.slug)
        rs = self._sets.get(key)
        if rs is not None:
            return rs
        original = self.template.connections_by_id.get(conn.id)
        if original is not None and original.data_ready_at is not None:
            # A fixture connection that had data serves the template's data, shared by every
            # tenant, also after a refresh: re-reading the same account finds the same items,
            # so the documented connection keeps its documented examples (and its 150 items).
            rs = self._sets[key] = self.template.resource_set(original, kind)
            return rs
        count = self.template.settings["newConnectionItems"]
        limit = conn.read_limits.get(kind.name)
        if limit is not None:
            count = max(1, min(count, limit))
        rs = self._sets[key] = ResourceSet(generator.generate(
            kind, conn.id, count, self.seed, parse_iso(conn.data_ready_at or conn.updatedAt),
            books=self.template.books))
        return rs

    def summary(self) -> dict[str, Any]:
        """The sandbox page's counts: connections by lifecycle status."""
        by_status = Counter(c.status for c in self.connections.values())
        return {"connections": {"total": len(self.connections),
                                "byStatus": dict(sorted(by_status.items()))}}

    def snapshot(self) -> dict[str, Any]:
        """Connections as clients see them plus what only the store keeps; token and session
        counts. Generated resource sets and sort orders are caches and stay out."""
        return {
            "connections": {cid: {**c.to_json(""), "webhookUrl": c.webhookUrl,
                                  "returnUrl": c.returnUrl, "dataReadyAt": c.data_ready_at,
                                  "readLimits": dict(c.read_limits)}
                            for cid, c in sorted(self.connections.items())},
            "tokens": len(self.tokens), "intents": len(self.intents),
        }
