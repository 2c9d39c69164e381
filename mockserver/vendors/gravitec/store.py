"""Gravitec domain state per tenant: sites, their followers (tags, aliases), segments, campaigns.

A tenant holds every fixture site (the sandbox site on a paid plan, a second one on the free plan);
credentials pick the site. Campaigns resolve their audience when they are sent: at once, or for a
scheduled one, at the first moment anything reads or changes the site after the mock clock passed
its `send_date` (`Site.settle`), which is before any later change to the followers.

Followers and their indexes are copy-on-write (issue 24): every tenant's site reads its
template's (`SiteBase`, built once) in place and holds only the followers and index sets it
changed, so a store built from the template costs about 2 KB, not 144 KB.
"""
from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from ...core.vendor import Context

NAME = "gravitec"  # the vendor's name: its prefix, its key in each tenant's stores, its journal name

OPERATORS = ("AND", "AND_NOT", "OR", "OR_NOT")
FREE_PLAN_DAILY_PUSHES = 10        # "For Free plan only 10 push campaigns per day ... through API"
MAX_TAGS_PER_FOLLOWER = 256        # keeps a follower bounded; the doc names no limit
SNOWFLAKE_EPOCH_MS = 1288834974657  # ids look like the doc's 19-digit "1590394828308348928"

# Stats of a sent campaign approach these shares over time (the doc's example, 2 sent, reads
# 2 received, 1 clicked, 1 closed once settled).
RECEIVE_SHARE, CLICK_SHARE, CLOSE_SHARE = 0.95, 0.4, 0.5
RECEIVE_SECONDS, REACT_SECONDS = 60.0, 600.0


def java_length(text: str) -> int:
    """String.length() in Java: UTF-16 code units, so an emoji counts two."""
    if text.isascii():  # the usual case, without encoding a copy
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _round(x: float) -> int:
    return math.floor(x + 0.5)


@dataclass
class Follower:
    regId: str
    active: bool = True
    tags: list[str] = field(default_factory=list)  # first spelling kept, in the order added
    alias: str | None = None

    def has_tag(self, name: str) -> str | None:
        """The follower's own spelling of `name` (case-insensitive), or None."""
        low = name.lower()
        for t in self.tags:  # a plain loop: no generator made on the tag call's hot path
            if t.lower() == low:
                return t
        return None

    def to_json(self) -> dict[str, Any]:
        return {"regId": self.regId, "active": self.active, "tags": list(self.tags),
                "alias": self.alias}


@dataclass(slots=True)  # 10,000 kept per site by default: no __dict__ each
class Campaign:
    id: str
    created_at: float            # mock-clock seconds
    send_at_ms: int              # when it goes out (immediate pushes: their creation)
    ttl: int
    display_time: int
    payload: dict[str, Any]
    push_tag: str | None
    is_transactional: bool
    audience: tuple[str, Any] | None   # ("tokens", [...]) ... or ("segment", name) or None: all
    send: int | None = None      # followers reached; None until sent

    def stats(self, now: float) -> dict[str, Any]:
        """The documented stats. Counts grow with the mock clock after sending and never exceed
        the count before them (send >= received >= clicked >= closed)."""
        if self.send is None:
            return {"status": "SCHEDULED", "send": 0, "received": 0, "clicked": 0, "closed": 0}
        elapsed = max(0.0, now - self.send_at_ms / 1000.0)
        final_received = _round(self.send * RECEIVE_SHARE)
        final_clicked = _round(final_received * CLICK_SHARE)
        final_closed = min(final_clicked, _round((final_received - final_clicked) * CLOSE_SHARE))
        received = math.floor(final_received * min(1.0, elapsed / RECEIVE_SECONDS))
        react = min(1.0, elapsed / REACT_SECONDS)
        clicked = min(received, math.floor(final_clicked * react))
        closed = min(clicked, math.floor(final_closed * react))
        return {"status": "SENT", "send": self.send, "received": received, "clicked": clicked,
                "closed": closed}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "createdAt": self.created_at, "sendAt": self.send_at_ms,
                "ttl": self.ttl, "displayTime": self.display_time, "payload": self.payload,
                "pushTag": self.push_tag, "isTransactional": self.is_transactional,
                "audience": list(self.audience) if self.audience else None, "send": self.send}


class IdSource:
    """Campaign ids of one server, shared by every site of every tenant: a real id names one
    campaign, so no two sites (nor a tenant before and after a reset) mint the same one. Ids
    are snowflake-like (they grow with the mock clock) and increase within one millisecond."""

    def __init__(self) -> None:
        self.last = 0

    def next(self, now: float) -> int:
        candidate = (int(now * 1000) - SNOWFLAKE_EPOCH_MS) << 22
        last = self.last + 1
        self.last = last = candidate if candidate > last else last  # never negative: last >= 1
        return last


_NONE: frozenset[str] = frozenset()


class SiteBase:
    """A fixture site's followers and their indexes, built once per template and shared
    read-only by every tenant's Site (its sets are frozen: a write must go through a Site,
    which takes the tenant's own copy first)."""

    __slots__ = ("followers", "active", "by_tag", "by_alias")

    def __init__(self, followers: Iterable[Follower]) -> None:
        # Copies: the fixtures' generated followers are shared by every app of the process
        own = {f.regId: Follower(f.regId, f.active, list(f.tags), f.alias) for f in followers}
        tags: dict[str, set[str]] = {}
        aliases: dict[str, set[str]] = {}
        for f in own.values():
            for t in f.tags:
                tags.setdefault(t.lower(), set()).add(f.regId)
            if f.alias is not None:
                aliases.setdefault(f.alias, set()).add(f.regId)
        self.followers: dict[str, Follower] = own
        self.active = frozenset(r for r, f in own.items() if f.active)
        self.by_tag = {k: frozenset(v) for k, v in tags.items()}
        self.by_alias = {k: frozenset(v) for k, v in aliases.items()}


class Index:
    """key -> regIds (a lower-case tag, an alias): the template's sets, read in place, under the
    tenant's own copy of each set it changed (taken on the first change of that key). An empty
    own set over a template key hides it; one over no template key is dropped."""

    __slots__ = ("base", "own")

    def __init__(self, base: dict[str, frozenset[str]]) -> None:
        self.base = base
        self.own: dict[str, set[str]] = {}

    def get(self, key: str) -> AbstractSet[str]:
        """Read only: the set may be the template's."""
        own = self.own.get(key)
        return self.base.get(key, _NONE) if own is None else own

    def __contains__(self, key: str) -> bool:
        return bool(self.get(key))

    def add(self, key: str, reg_id: str) -> None:
        own = self.own.get(key)
        if own is None:
            own = self.own[key] = set(self.base.get(key, _NONE))
        own.add(reg_id)

    def discard(self, key: str, reg_id: str) -> None:
        own = self.own.get(key)
        if own is None:
            base = self.base.get(key)
            if base is None or reg_id not in base:
                return  # nothing changes: no copy
            own = self.own[key] = set(base)
        own.discard(reg_id)
        if not own and key not in self.base:
            del self.own[key]  # keeps the delta bounded by the keys in use


class Followers(Mapping[str, Follower]):
    """A site's followers by regId: the template's, read in place, under the tenant's own (its
    copies of template followers it changed, and those it added). Iterates as one dict would:
    the template's order (a replaced follower keeps its place), then the added, as added."""

    __slots__ = ("base", "own", "added")

    def __init__(self, base: dict[str, Follower]) -> None:
        self.base = base
        self.own: dict[str, Follower] = {}
        self.added = 0                       # own followers the template has not

    def get(self, reg_id: str, default: Any = None) -> Any:  # type: ignore[override]
        f = self.own.get(reg_id)
        return self.base.get(reg_id, default) if f is None else f

    def __getitem__(self, reg_id: str) -> Follower:
        f = self.own.get(reg_id)
        return self.base[reg_id] if f is None else f

    def __contains__(self, reg_id: object) -> bool:
        return reg_id in self.own or reg_id in self.base

    def __len__(self) -> int:
        return len(self.base) + self.added

    def __iter__(self) -> Iterator[str]:
        yield from self.base
        if self.added:
            base = self.base
            yield from (r for r in self.own if r not in base)

    def values(self) -> Iterator[Follower]:  # type: ignore[override]
        own, base = self.own, self.base
        if not own:
            yield from base.values()
            return
        for r, f in base.items():
            yield own.get(r, f)
        if self.added:
            yield from (f for r, f in own.items() if r not in base)

    def items(self) -> Iterator[tuple[str, Follower]]:  # type: ignore[override]
        for f in self.values():
            yield f.regId, f

    def set(self, follower: Follower) -> None:
        """Add or replace: `follower` becomes the tenant's own."""
        r = follower.regId
        if r not in self.own and r not in self.base:
            self.added += 1
        self.own[r] = follower

    def writable(self, f: Follower) -> Follower:
        """The tenant's own copy of follower `f` (taken now if `f` is still the template's)."""
        own = self.own.get(f.regId)
        if own is None:
            own = self.own[f.regId] = Follower(f.regId, f.active, list(f.tags), f.alias)
        return own


class Site:
    """One site (an APP_KEY): followers with tag and alias indexes, segments, campaigns.

    Followers and indexes are copy-on-write over a SiteBase: a tenant holds only the followers
    (and index entries) it changed, so every follower write goes through this class."""

    __slots__ = ("role", "plan", "segments", "limit", "base", "followers", "active", "by_tag",
                 "by_alias", "campaigns", "scheduled", "day", "ids", "last_id", "fixture_count")

    def __init__(self, role: str, plan: str, segments: dict[str, list[dict[str, str]]],
                 followers: Iterable[Follower], limit: int, ids: IdSource | None = None,
                 base: SiteBase | None = None) -> None:
        """`base`: the template's site, shared; without one, a base of `followers` alone."""
        self.role = role
        self.plan = plan
        self.segments = segments                      # name -> tags_segment (shared, read-only)
        # --max-sessions: campaigns kept (the oldest forgotten first), followers added beyond
        # the fixtures' own
        self.limit = max(1, limit)
        self.base = SiteBase(followers) if base is None else base
        self._start(self.base)
        self.campaigns: OrderedDict[str, Campaign] = OrderedDict()
        self.scheduled: list[tuple[int, str]] = []    # heap of (send_at_ms, id)
        self.day: tuple[int, int] = (0, 0)            # (mock-clock UTC day, API pushes that day)
        self.ids = IdSource() if ids is None else ids
        self.last_id = 0                              # the last id this site minted
        self.fixture_count = len(self.followers)

    def _start(self, base: SiteBase) -> None:
        """Followers as `base` holds them, with no delta."""
        self.followers = Followers(base.followers)
        # regIds of the active followers: the template's frozenset until one's activity changes
        self.active: AbstractSet[str] = base.active
        self.by_tag = Index(base.by_tag)              # lower-case tag -> regIds carrying it
        self.by_alias = Index(base.by_alias)

    # -- followers ----------------------------------------------------------------------------
    def put(self, follower: Follower) -> None:
        """Add or replace a follower (the caller's new object, now the tenant's own), keeping
        every index in step."""
        r = follower.regId
        old = self.followers.get(r)
        self.followers.set(follower)
        if (r in self.active) != follower.active:
            active = self.active
            if isinstance(active, frozenset):
                active = self.active = set(active)
            active.add(r) if follower.active else active.discard(r)  # type: ignore[attr-defined]
        before = {t.lower() for t in old.tags} if old is not None else _NONE
        after = {t.lower() for t in follower.tags}
        for key in before - after:
            self.by_tag.discard(key, r)
        for key in after - before:
            self.by_tag.add(key, r)
        old_alias = old.alias if old is not None else None
        if old_alias != follower.alias:
            if old_alias is not None:
                self.by_alias.discard(old_alias, r)
            if follower.alias is not None:
                self.by_alias.add(follower.alias, r)

    def load(self, followers: list[Follower]) -> None:
        """Every follower replaced by `followers`, in their order (an import). Where they begin
        with the template's regIds in its order, the unchanged ones stay the template's."""
        base = self.base.followers
        if len(followers) >= len(base) and all(
                f.regId == r for f, r in zip(followers, base)):
            self._start(self.base)
            for f in followers:
                t = base.get(f.regId)
                if t is None or (t.active, t.tags, t.alias) != (f.active, f.tags, f.alias):
                    self.put(f)
        else:  # another order: all the tenant's own, as imported
            self._start(SiteBase(()))
            for f in followers:
                self.put(f)

    def set_alias(self, f: Follower, alias: str) -> None:
        if f.alias == alias:
            return  # unchanged: no copy
        f = self.followers.writable(f)
        if f.alias is not None:
            self.by_alias.discard(f.alias, f.regId)
        f.alias = alias
        self.by_alias.add(alias, f.regId)

    def add_tag(self, f: Follower, name: str) -> bool:
        """False when the follower already has it in any letter case (the first spelling stays)."""
        if f.has_tag(name) is not None:
            return False
        f = self.followers.writable(f)
        f.tags.append(name)
        self.by_tag.add(name.lower(), f.regId)
        return True

    def remove_tag(self, f: Follower, name: str) -> bool:
        own = f.has_tag(name)
        if own is None:
            return False
        f = self.followers.writable(f)
        f.tags.remove(own)
        self.by_tag.discard(name.lower(), f.regId)
        return True

    def tag_exists(self, name: str) -> bool:
        return name.lower() in self.by_tag

    # -- audiences ----------------------------------------------------------------------------
    def tagged(self, name: str) -> AbstractSet[str]:
        """Read only: the set may be the template's."""
        return self.by_tag.get(name.lower())

    def evaluate(self, conditions: list[dict[str, str]]) -> set[str]:
        """tags_segment, left to right over the active followers: the first condition selects,
        each later one narrows (AND, AND_NOT) or widens (OR, OR_NOT) the selection so far."""
        selected: set[str] = set()
        for i, cond in enumerate(conditions):
            op, members = cond["association"], self.tagged(cond["name"]) & self.active
            match = members if op in ("AND", "OR") else self.active - members
            if i == 0:
                selected = set(match)
            elif op in ("AND", "AND_NOT"):
                selected &= match
            else:
                selected |= match
        return selected

    def reach(self, audience: tuple[str, Any] | None) -> int:
        """How many active followers an audience reaches now (everyone: no set is built)."""
        return len(self.active) if audience is None else len(self.resolve(audience))

    def resolve(self, audience: tuple[str, Any] | None) -> set[str]:
        """The active followers an audience reaches now."""
        if audience is None:
            return set(self.active)
        kind, value = audience
        if kind == "tokens":
            return {t for t in value if t in self.active}
        if kind == "aliases":
            return {r for a in value for r in self.by_alias.get(a)} & self.active
        if kind == "tags":
            return {r for t in value for r in self.tagged(t)} & self.active
        if kind == "tags_segment":
            return self.evaluate(value)
        # a segment: its definition, as it stands at send time
        return self.evaluate(self.segments.get(value, []))

    # -- campaigns ----------------------------------------------------------------------------
    def settle(self, now: float) -> None:
        """Send every scheduled campaign whose time has come (by the mock clock)."""
        now_ms = int(now * 1000)
        while self.scheduled and self.scheduled[0][0] <= now_ms:
            _, cid = heapq.heappop(self.scheduled)
            campaign = self.campaigns.get(cid)
            if campaign is not None and campaign.send is None:
                campaign.send = self.reach(campaign.audience)

    def pushes_today(self, now: float) -> int:
        day = int(now // 86400)
        return self.day[1] if self.day[0] == day else 0

    def next_id(self, now: float) -> str:
        self.last_id = self.ids.next(now)
        return str(self.last_id)

    def add_campaign(self, campaign: Campaign, now: float) -> None:
        day = int(now // 86400)
        counted = self.day
        self.day = (day, counted[1] + 1 if counted[0] == day else 1)
        campaigns = self.campaigns
        campaigns[campaign.id] = campaign
        while len(campaigns) > self.limit:
            campaigns.popitem(last=False)
        if campaign.send_at_ms <= int(now * 1000):
            audience = campaign.audience
            campaign.send = len(self.active) if audience is None else self.reach(audience)
        else:
            heapq.heappush(self.scheduled, (campaign.send_at_ms, campaign.id))
            if len(self.scheduled) > 2 * self.limit:  # forgotten campaigns' entries
                self.scheduled = [e for e in self.scheduled if e[1] in self.campaigns]
                heapq.heapify(self.scheduled)

    def snapshot(self) -> dict[str, Any]:
        return {"role": self.role, "plan": self.plan,
                "followers": [self.followers[r].to_json() for r in sorted(self.followers)],
                "campaigns": [c.to_json() for c in self.campaigns.values()],
                "scheduled": sorted(self.scheduled), "day": list(self.day),
                "lastId": self.last_id}


@dataclass
class SiteTemplate:
    role: str
    plan: str
    app_key: str | None          # fixture credentials (the main site's are the tenant's own)
    app_secret: str | None
    segments: dict[str, list[dict[str, str]]]
    followers: list[Follower]

    @cached_property
    def base(self) -> SiteBase:
        """What every tenant's site of this role reads (built once)."""
        return SiteBase(self.followers)


@dataclass
class Documented:
    """The doc's own exchanges, each answered as documented for its documented input
    (fixtures/gravitec/sites.json "documented")."""

    push: Any = None                  # the documented push request (parsed JSON) ...
    push_ttl: int = 0                 # ... and its documented answer's ttl and display_time
    push_display_time: int = 0
    refusals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # key, secret
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # main site: id -> stats


class GravitecTemplate:
    """The fixture sites every tenant starts from, built once."""

    def __init__(self, sites: list[SiteTemplate], documented: Documented | None = None) -> None:
        self.sites = sites
        self.by_key = {s.app_key: s for s in sites if s.app_key is not None}
        self.ids = IdSource()  # one for the server: every tenant's sites are built from here
        for s in sites:
            _ = s.base  # built now, not in a tenant's first call
        self.documented = documented or Documented()


class GravitecStore:
    """One tenant's sites, by role ("main": the tenant's credentials; "free": a fixture site)."""

    def __init__(self, template: GravitecTemplate, ctx: "Context") -> None:
        self.sites = {s.role: Site(s.role, s.plan, s.segments, (), ctx.session_limit,
                                   template.ids, s.base) for s in template.sites}

    def settle(self, now: float) -> None:
        for site in self.sites.values():
            site.settle(now)

    def summary(self) -> dict[str, Any]:
        """The sandbox page's counts, over every site of the tenant (its own and the fixture's
        free-plan one): followers, active or not, and the campaigns kept."""
        return {"followers": sum(len(s.followers) for s in self.sites.values()),
                "campaigns": sum(len(s.campaigns) for s in self.sites.values())}

    def snapshot(self) -> dict[str, Any]:
        return {role: site.snapshot() for role, site in sorted(self.sites.items())}


def store_of(tenant: "Tenant") -> GravitecStore:
    return tenant.stores[NAME]
