"""Groove domain state per tenant: people, flows (steps, label instances), memberships, and the
OAuth grants (codes, access and refresh tokens) with each token's rate-limit window."""
from __future__ import annotations

import itertools
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from ...core.overlay import Overlay
from ...core.ratelimit import SlidingWindow
from ...core.sessions import Sessions

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from ...core.vendor import Context

NAME = "groove"  # the vendor's name: its prefix, its key in each tenant's stores, its journal name

CODE_TTL = 600                 # "codes ... will expire after 10 minutes"
ACCESS_TTL = 7200              # "An access token expires 2 hours after creation"
REFRESH_TTL = 90 * 86400       # Doorkeeper's refresh tokens do not expire; this bounds the table
EXPIRED_KEPT = 86400           # an expired or revoked token is still recognised (its 401 says so)
RATE_LIMIT = 100               # "not more than 100 API requests, per minute, per OAuth token"
MAX_COMPLEXITY = 10_000        # graphql-ruby's max_complexity (unset there; Groove's is not
                               # public): a Relay page of 1,000 steps with every field passes
MAX_DEPTH = 20                 # graphql-ruby's max_depth: graphql-core's introspection query
                               # (15 deep) passes, with room for deeper type references

_SERIALS = itertools.count(1)  # a store's identity in the query result cache, never reused


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    emailAddress: str
    salesforceId: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "emailAddress": self.emailAddress,
                "salesforceId": self.salesforceId}


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    dayNumber: str


@dataclass(frozen=True)
class LabelInstance:
    id: str


@dataclass(frozen=True)
class Flow:
    id: str
    name: str
    description: str | None
    userId: str | None
    finalized: bool
    isMasterFlow: bool
    autoImportAssignOwner: bool
    autoImportId: str | None
    removePersonAfterBounce: bool
    removePersonAfterReply: bool
    sfdcCampaignId: str | None
    steps: tuple[Step, ...] = ()
    labelInstances: tuple[LabelInstance, ...] = ()


@dataclass(frozen=True)
class PersonFlow:
    flowId: str
    personId: str
    createdAt: str               # ISO 8601 from the mock clock


@dataclass
class Grant:
    """What a code, an access token or a refresh token stands for."""

    client_id: str
    user_id: str
    scope: str
    redirect_uri: str | None = None      # codes: the one the authorize call used
    created_at: int = 0                  # access tokens: epoch seconds
    expires_at: float = 0.0
    revoked: bool = False
    refresh_token: str | None = None     # access tokens: their pair
    access_token: str | None = None      # refresh tokens: their pair


class GrooveTemplate:
    """The fixture data every tenant starts from, built once (flows and people are immutable)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.user = data["user"]
        self.scopes: tuple[str, ...] = tuple(data["scopes"])
        self.default_scopes: str = data["defaultScopes"]
        self.flows: dict[str, Flow] = {f.id: f for f in data["flows"]}
        # as `flows` lists them, by id, numerically: a tuple, read by queries in worker threads
        self.flow_list: tuple[Flow, ...] = tuple(
            self.flows[k] for k in sorted(self.flows, key=lambda k: (len(k), k)))
        self.people: dict[str, Person] = {p.id: p for p in data["people"]}
        self.memberships: dict[tuple[str, str], PersonFlow] = {
            (m.flowId, m.personId): m for m in data["memberships"]}
        self.by_salesforce: dict[str, str] = {
            p.salesforceId: p.id for p in self.people.values() if p.salesforceId}
        self.next_person = max((int(p) for p in self.people if p.isdigit()), default=0) + 1


@dataclass
class GrooveStore:
    template: GrooveTemplate
    ctx: InitVar["Context"]
    limit: int = field(init=False)               # --max-sessions: live grants and added people
    # Each an Overlay of the template's (a tenant keeps only what it added), or after an
    # import the imported dicts themselves; people and memberships are immutable records.
    people: Overlay[str, Person] | dict[str, Person] = field(init=False)
    by_salesforce: Overlay[str, str] | dict[str, str] = field(init=False)
    memberships: Overlay[tuple[str, str], PersonFlow] | dict[tuple[str, str], PersonFlow] = \
        field(init=False)
    codes: Sessions[Grant] = field(init=False)
    tokens: Sessions[Grant] = field(init=False)
    refresh: Sessions[Grant] = field(init=False)
    window: SlidingWindow = field(init=False)
    rate_limit: int = RATE_LIMIT
    max_complexity: int | None = MAX_COMPLEXITY    # None: no limit, as graphql-ruby's nil
    max_depth: int | None = MAX_DEPTH
    next_person: int = field(init=False)
    # (serial, version) names the data a query reads: the serial is unique to this store (a
    # reset or an import makes a new one), the version moves on every write (`changed`).
    serial: int = field(init=False)
    version: int = field(init=False, default=0)

    def __post_init__(self, ctx: "Context") -> None:
        self.limit = ctx.session_limit
        t = self.template
        self.people = Overlay(t.people)
        self.by_salesforce = Overlay(t.by_salesforce)
        self.memberships = Overlay(t.memberships)
        self.codes = Sessions(self.limit)
        self.tokens = Sessions(self.limit)
        self.refresh = Sessions(self.limit)
        self.window = SlidingWindow(self.limit)
        self.next_person = t.next_person
        self.serial = next(_SERIALS)

    def changed(self) -> None:
        """Every write to what a query can read calls this: cached answers are stale."""
        self.version += 1

    def set_query_limits(self, max_complexity: int | None, max_depth: int | None) -> None:
        self.max_complexity, self.max_depth = max_complexity, max_depth
        self.changed()  # an answer kept under the old limits may now be refused, or not

    @property
    def flows(self) -> dict[str, Flow]:
        return self.template.flows

    @property
    def flow_list(self) -> tuple[Flow, ...]:
        return self.template.flow_list

    def add_person(self, name: str, email: str, salesforce_id: str | None) -> Person:
        self.changed()
        person = Person(str(self.next_person), name, email, salesforce_id)
        self.next_person += 1
        self.people[person.id] = person
        if salesforce_id:
            self.by_salesforce[salesforce_id] = person.id
        return person

    def add_to_flow(self, flow_id: str, person_id: str, now_iso: str) -> PersonFlow:
        self.changed()
        membership = PersonFlow(flow_id, person_id, now_iso)
        self.memberships[(flow_id, person_id)] = membership
        return membership

    def summary(self) -> dict[str, Any]:
        """The sandbox page's counts: people, flows and people's flow memberships."""
        return {"people": len(self.people), "flows": len(self.flows),
                "memberships": len(self.memberships)}

    def snapshot(self) -> dict[str, Any]:
        return {
            "people": [self.people[k].to_json() for k in sorted(self.people, key=_id_key)],
            "memberships": sorted([m.flowId, m.personId, m.createdAt]
                                  for m in self.memberships.values()),
            "codes": sorted(self.codes), "tokens": sorted(self.tokens),
            "refresh": sorted(self.refresh), "rateLimit": self.rate_limit,
            "maxComplexity": self.max_complexity, "maxDepth": self.max_depth,
            "nextPerson": self.next_person,
        }  # the rate-limit window is a meter, like the journal: every call moves it


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def store_of(tenant: "Tenant") -> GrooveStore:
    return tenant.stores[NAME]
