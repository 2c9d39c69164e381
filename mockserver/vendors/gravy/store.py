"""Gravy domain state per tenant: connections and their lifecycle, resource data, intent sessions."""
from __future__ import annotations

import json
import random
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from ...core.clock import iso_ms, parse_iso
from ...core.http import dump
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
    for conn in out:
        prime(conn)
    return tuple(out)


def prime(conn: Connection) -> Connection:
    """Fill a template record's `readable` cache once, before it is shared: reads of a
    template record then never write to it."""
    conn._readable = frozenset(r.kind for r in conn.resources if r.status == "completed")
    return conn


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
        # (connection id, kind slug, seed) -> the set a store generates for an unchanged fixture
        # connection without data of its own (GravyStore.resource_set): the same for every
        # tenant, so made once.
        self._fresh: dict[tuple[str, str, int], ResourceSet] = {}
        # (sortBy, sortOrder) -> the template's connections in that order: what every store
        # that changed no connection lists (GravyStore.sorted_connections).
        self._orders: dict[tuple[str, str], tuple[Connection, ...]] = {}
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


    def sorted_connections(self, sort_by: str, sort_order: str) -> tuple[Connection, ...]:
        key = (sort_by, sort_order)
        order = self._orders.get(key)
        if order is None:
            order = self._orders[key] = _sorted(self.connections, sort_by, sort_order)
        return order


def _sorted(conns: Any, sort_by: str, sort_order: str) -> tuple[Connection, ...]:
    # ISO strings from different writers differ in precision, so compare instants.
    return tuple(sorted(conns, key=lambda c: parse_iso(getattr(c, sort_by)),
                        reverse=(sort_order == "desc")))


def _same(a: Connection, b: Connection) -> bool:
    """Equal, and exported as the same bytes: `==` takes 1 for 1.0 and ignores key order."""
    return a == b and all(dump(x) == dump(y) for x, y in (
        (a.errorDetails, b.errorDetails), (a.connectionMetadata, b.connectionMetadata),
        (dict(sorted(a.read_limits.items())), dict(sorted(b.read_limits.items())))) if x)


class Connections(Mapping[str, Connection]):
    """A tenant's connections, read-only: the template's in their order, each replaced by the
    tenant's own copy where it has one and left out where it removed one, then the tenant's
    own new ones, oldest first (the order a dict of clones had). The tenant keeps only `own`
    and `removed`; GravyStore makes every change. `full`: an import in an order of its own;
    `own` then holds every connection in that order (template records shared until written)."""

    __slots__ = ("base", "base_ids", "own", "removed", "full")

    def __init__(self, template: GravyTemplate, own: dict[str, Connection] | None = None,
                 removed: set[str] | None = None, full: bool = False) -> None:
        self.base: Sequence[Connection] = () if full else template.connections
        self.base_ids: Mapping[str, Connection] = {} if full else template.connections_by_id
        self.own: dict[str, Connection] = own if own is not None else {}
        self.removed: set[str] = removed if removed is not None else set()
        self.full = full

    @property
    def pristine(self) -> bool:
        """Exactly the template's connections."""
        return not (self.own or self.removed or self.full)

    def get(self, cid: str, default: Any = None) -> Any:
        conn = self.own.get(cid)
        if conn is not None:
            return conn
        if self.removed and cid in self.removed:
            return default
        return self.base_ids.get(cid, default)

    def __getitem__(self, cid: str) -> Connection:
        conn = self.get(cid)
        if conn is None:
            raise KeyError(cid)
        return conn

    def __contains__(self, cid: object) -> bool:
        return isinstance(cid, str) and self.get(cid) is not None

    def __len__(self) -> int:
        base_ids = self.base_ids
        return len(self.base) - len(self.removed) + sum(1 for cid in self.own
                                                        if cid not in base_ids)

    def __iter__(self) -> Iterator[str]:
        return (c.id for c in self.values())

    def values(self) -> Iterator[Connection]:  # type: ignore[override]
        own, removed, base_ids = self.own, self.removed, self.base_ids
        if not own and not removed:
            yield from self.base
            return
        for c in self.base:
            if c.id not in removed:
                yield own.get(c.id, c)
        for cid, c in own.items():
            if cid not in base_ids:
                yield c

    def items(self) -> Iterator[tuple[str, Connection]]:  # type: ignore[override]
        return ((c.id, c) for c in self.values())

    def keys(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self)


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
        # The template's connections plus this tenant's changes (copy-on-write): a store that
        # changed nothing holds no connection. Read freely; change only through `own`,
        # `add_connection`, `step`, `load`.
        self.connections = Connections(template)
        self.tokens: Sessions = Sessions(session_limit)   # access token -> AccessToken
        # intent token and its short code -> the one IntentSession they share
        self.intents: Sessions[IntentSession] = Sessions(2 * session_limit)
        self._minted: deque[str] = deque()  # connections opened by intent tokens, oldest first
        self._sets: dict[tuple[str, str], ResourceSet] = {}  # generated for own connections
        # (sortBy, sortOrder) -> the connections in that order, until the next change: saves a
        # sort of every connection per list request. Empty while the store has no changes of
        # its own: the template's orders serve then.
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
            if self.connections.pristine:
                return self.template.sorted_connections(sort_by, sort_order)
            order = self._orders[key] = _sorted(self.connections.values(), sort_by, sort_order)
        return order

    def own(self, cid: str) -> Connection | None:
        """The tenant's own record of a connection to change, cloned from the template's on
        the first write; None when the tenant has no such connection."""
        conn = self.connections.get(cid)
        if conn is not None and conn is self.template.connections_by_id.get(cid):
            conn = self.connections.own[cid] = conn.clone()
        return conn

    def _drop(self, cid: str) -> None:
        cons = self.connections
        cons.own.pop(cid, None)
        if cid in cons.base_ids:
            cons.removed.add(cid)
        for kind in KINDS:
            self._sets.pop((cid, kind.slug), None)

    def load(self, conns: list[Connection]) -> None:
        """An import's connections, in its order. The ones equal to the template's stay the
        template's (no copy); an order the template's cannot give keeps them all in `own`."""
        by_id = self.template.connections_by_id
        kept = {c.id: t if (t := by_id.get(c.id)) is not None and _same(c, t) else c
                for c in conns}
        cons = Connections(self.template, {cid: c for cid, c in kept.items()
                                           if c is not by_id.get(cid)},
                           {cid for cid in by_id if cid not in kept})
        if list(cons) != list(kept):
            cons = Connections(self.template, kept, full=True)
        self.connections = cons
        self._sets.clear()
        self._changed()

    def add_intent(self, session: IntentSession, now: float) -> None:
        self.intents.add(session.token, session, session.exp, now)
        self.intents.add(session.short_token, session, session.exp, now)

    def add_connection(self, conn: Connection) -> None:
        """A connection an intent token opened; past the session limit the oldest such one goes,
        so sustained load cannot grow a tenant without bound (fixture connections stay)."""
        cons = self.connections
        if conn.id in cons.removed:  # back after an import left it out: it goes last now
            self.connections = cons = Connections(self.template, dict(cons.items()), full=True)
        cons.own[conn.id] = conn
        self._minted.append(conn.id)
        if len(self._minted) > self.session_limit:
            self._drop(self._minted.popleft())
        self._changed()

    @staticmethod
    def plan(conn: Connection, target: str) -> list[str]:
        """The statuses `conn` passes through to reach `target`; ValueError if it cannot."""
        path = lifecycle_path(conn.status, target)
        if path is None:
            raise ValueError(f"a connection cannot move from {conn.status} to {target}")
        return path

    def step(self, conn: Connection, status: str, now: str,
             failed: set[str] | None = None) -> Connection:
        """One lifecycle step (each one is a Connection.Updated webhook), on the tenant's own
        record of `conn`, which it returns: the caller reads that one from then on."""
        mine = self.own(conn.id)
        if mine is None:
            raise KeyError(conn.id)
        _settle(mine, status, now, failed if failed is not None else _default_failed(mine))
        if status in DATA_STATUSES:
            # New data: forget sets generated for an earlier refresh.
            for kind in KINDS:
                self._sets.pop((mine.id, kind.slug), None)
        self._changed()
        return mine


    # -- resources ------------------------------------------------------------------------
    def resource_set(self, conn: Connection, kind: Kind) -> ResourceSet | None:
        if not conn.readable(kind):
            return None
        key = (conn.id, kind.slug)
        rs = self._sets.get(key)
        if rs is not None:
            return rs
        template = self.template
        original = template.connections_by_id.get(conn.id)
        if original is not None and original.data_ready_at is not None:
            # A fixture connection that had data serves the template's data, shared by every
            # tenant, also after a refresh: re-reading the same account finds the same items,
            # so the documented connection keeps its documented examples (and its 150 items).
            return template.resource_set(original, kind)
        if original is conn:  # unchanged: what every tenant of this seed generates, made once
            shared = (conn.id, kind.slug, self.seed)
            rs = template._fresh.get(shared)
            if rs is None:
                rs = template._fresh[shared] = self._generate(conn, kind)
            return rs
        rs = self._sets[key] = self._generate(conn, kind)
        return rs

    def _generate(self, conn: Connection, kind: Kind) -> ResourceSet:
        count = self.template.settings["newConnectionItems"]
        limit = conn.read_limits.get(kind.name)
        if limit is not None:
            count = max(1, min(count, limit))
        return ResourceSet(generator.generate(
            kind, conn.id, count, self.seed, parse_iso(conn.data_ready_at or conn.updatedAt),
            books=self.template.books))

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
