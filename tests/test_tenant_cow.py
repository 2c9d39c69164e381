"""Isolation of copy-on-write tenants (issue 24): however the writes of many tenants to the same
fixture records interleave, each tenant's exported state is what a fresh server replaying only
that tenant's calls exports (the model copies everything: a server of its own per tenant), a new
tenant still starts from the untouched fixtures, and a reset tenant equals a new one.

Random ids (tokens, link ids) come from each vendor's one stream per server, which the tenants'
interleaved calls would share in one server and not in the models: before every call both sides
reseed it from the tenant and the number of that tenant's call, so both draw the same ids
(Groove's OAuth tokens, from `secrets`, are drawn from such a stream here too)."""
from __future__ import annotations

import base64
import random
import types
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from mockserver import Clock, create_app
from mockserver.core.state import export
from mockserver.vendors.groove import auth as groove_auth
from mockserver.core.overlay import Overlay

from .conftest import DOC_TIME, MockClient, restore_pristine
from .gravitec.conftest import BASE as GRAVITEC
from .groove.conftest import GRAPHQL, REDIRECT_URI, redirect_params
from .passage.conftest import A_QUICKSTART, PREFIX as PASSAGE, api_key_of

MAX_TENANTS = 5
CONNECTIONS = ("conn_789xyz123abc", "conn_abc123xyz789", "conn_456def789ghi")
STATUSES = ("connecting", "connected", "data_available", "failed", "inactive", "canceled")
FOLLOWERS = ("someregid", "okf8kj589ktGF5g3gF")
TAGS = ("tagname", "tag1", "news", "fresh")
FLOWS = ("1001", "1002")
PEOPLE = ("1", "2", "3", "4", "5")
INTEGRY_USERS = ("123456", "u-2", None)          # None: the workspace
INTEGRY_APPS = ("pipedrive", "slack")

WRITES = st.one_of(
    st.tuples(st.just("gravy"), st.sampled_from(CONNECTIONS), st.sampled_from(STATUSES)),
    st.tuples(st.just("gravitec"), st.sampled_from(FOLLOWERS), st.sampled_from(TAGS),
              st.sampled_from(("POST", "DELETE"))),
    st.tuples(st.just("groove-person"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("groove-flow"), st.sampled_from(FLOWS), st.sampled_from(PEOPLE)),
    st.tuples(st.just("integry"), st.sampled_from(INTEGRY_USERS), st.sampled_from(INTEGRY_APPS),
              st.sampled_from(("POST", "DELETE"))),
    st.tuples(st.just("passage"),),
    st.tuples(st.just("reset"),),
)
SCENARIOS = st.integers(2, MAX_TENANTS).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), WRITES), min_size=1, max_size=30)))


_SECRETS = random.Random()


def _token_urlsafe(nbytes: int) -> str:
    return base64.urlsafe_b64encode(_SECRETS.randbytes(nbytes)).rstrip(b"=").decode()


def fresh_app():
    return create_app(seed=0, clock=Clock(DOC_TIME))


class Side:
    """One server and a client of it; `reseeded` puts every vendor's stream where both the
    shared server and a tenant's own model have it for that tenant's `n`th call."""

    def __init__(self) -> None:
        self.app = fresh_app()
        self.client = MockClient(self.app)

    def __repr__(self) -> str:
        return "Side()"

    def reseed(self, tenant_id: str, n: int | str) -> None:
        _SECRETS.seed(f"cow:{tenant_id}:{n}")
        for vendor in self.app.vendors.values():
            vendor.ctx.rng.seed(f"cow:{tenant_id}:{n}")

    def vendors(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's export as GET /__admin/state builds it, before its encoding (fast)."""
        tenant = self.app.tenants.get(tenant_id)
        assert tenant is not None, tenant_id
        return export(tenant, self.app.vendors)["vendors"]

    def exported(self, tenant_id: str) -> bytes:
        r = self.client.get("/__admin/state", params={"tenant": tenant_id})
        assert r.status_code == 200, r.text
        return r.content


class Tenant:
    """A tenant of the shared server and its model: the same id and credentials in each."""

    def __init__(self, shared: Side, model: Side) -> None:
        r = shared.client.post("/__admin/tenants")
        assert r.status_code == 201, r.text
        self.id, self.credentials = r.json()["id"], r.json()["credentials"]
        model.app.tenants.restore(self.id, self.credentials)
        self.shared, self.model, self.calls = shared, model, 0
        self.groove_token = self._groove_token()

    def send(self, method: str, url: str, **kw: Any) -> int:
        """The call to both servers; their answers' statuses, which must agree."""
        statuses = []
        for side in (self.shared, self.model):
            side.reseed(self.id, self.calls)
            statuses.append(side.client.request(method, url, check=False, **kw).status_code)
        self.calls += 1
        assert statuses[0] == statuses[1], (method, url, kw, statuses)
        return statuses[0]

    def _groove_token(self) -> str:
        creds = self.credentials["groove"]
        tokens = []
        for side in (self.shared, self.model):
            side.reseed(self.id, "token")
            code = redirect_params(side.client.get("/groove/oauth/authorize", params={
                "client_id": creds["clientId"], "redirect_uri": REDIRECT_URI,
                "scope": "first-scope", "state": "s"}))["code"]
            r = side.client.post("/groove/oauth/token", json={
                "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "client_id": creds["clientId"], "client_secret": creds["clientSecret"]})
            assert r.status_code == 200, r.text
            tokens.append(r.json()["access_token"])
        assert tokens[0] == tokens[1]
        return tokens[0]

    def write(self, op: tuple) -> None:
        kind = op[0]
        if kind == "gravy":
            _, conn, status = op
            self.send("POST", f"/__admin/gravy/connections/{conn}/status",
                      json={"status": status, "tenant": self.id})
        elif kind == "gravitec":
            _, reg_id, name, method = op
            c = self.credentials["gravitec"]
            self.send(method, f"{GRAVITEC}/tag", params={"regId": reg_id, "name": name},
                      auth=(c["appKey"], c["appSecret"]))
        elif kind == "groove-person":
            _, i, with_salesforce = op
            body = {"name": f"Person {i}", "emailAddress": f"p{i}@example.com",
                    "tenant": self.id}
            if with_salesforce:
                body["salesforceId"] = f"00Q5e00000Cow{i:04d}"
            self.send("POST", "/__admin/groove/people", json=body)
        elif kind == "groove-flow":
            _, flow, person = op
            query = ('mutation { addPersonToFlow(input: {flowId: "%s", personId: "%s"}) '
                     "{ personFlow { createdAt } } }" % (flow, person))
            self.send("POST", GRAPHQL, json={"query": query},
                      headers={"Authorization": f"Bearer {self.groove_token}"})
        elif kind == "integry":
            _, user, app, method = op
            owner = {"userId": user} if user is not None else {"workspace": True}
            self.send(method, "/__admin/integry/connected-accounts",
                      json={**owner, "app": app, "tenant": self.id})
        elif kind == "passage":
            key = api_key_of(self.credentials["passage"])
            self.send("POST", f"{PASSAGE}/v1/links", json=A_QUICKSTART,
                      headers={"Authorization": f"Bearer {key}"})
        elif kind == "reset":
            self.send("POST", "/__admin/reset", json={"tenant": self.id})
            # a reset tenant is a new one: its OAuth grant went with it
            self.groove_token = self._groove_token()


class Untouched(dict):
    def __repr__(self) -> str:   # hypothesis prints the fixtures of a failing example
        return "Untouched()"


@pytest.fixture(scope="module")
def sides():
    patch = pytest.MonkeyPatch()
    patch.setattr(groove_auth, "secrets", types.SimpleNamespace(token_urlsafe=_token_urlsafe))
    shared = Side()
    models = [Side() for _ in range(MAX_TENANTS)]
    pristine = Side()
    # what a new tenant of an untouched server exports, its own id aside
    fresh = pristine.client.post("/__admin/tenants").json()["id"]
    untouched = Untouched(new=pristine.vendors(fresh), default=pristine.vendors("default"))
    yield shared, models, untouched
    for side in (shared, *models, pristine):
        side.client.close()
    patch.undo()


# Every kind of write, by two or three tenants to the same fixture records, whatever the
# generated examples happen to hold.
EVERY_WRITE = (3, [
    (0, ("gravy", CONNECTIONS[0], "connecting")), (1, ("gravy", CONNECTIONS[0], "failed")),
    (2, ("gravy", CONNECTIONS[1], "inactive")),
    (0, ("gravitec", FOLLOWERS[0], "fresh", "POST")),
    (1, ("gravitec", FOLLOWERS[0], "tagname", "DELETE")),
    (2, ("gravitec", FOLLOWERS[1], "news", "POST")),
    (0, ("groove-person", 0, True)), (1, ("groove-person", 1, True)),
    (0, ("groove-flow", FLOWS[0], "1")), (1, ("groove-flow", FLOWS[0], "1")),
    (2, ("groove-flow", FLOWS[1], "6")),
    (0, ("integry", "123456", "pipedrive", "POST")), (1, ("integry", None, "slack", "POST")),
    (2, ("integry", None, "slack", "DELETE")), (1, ("integry", "123456", "pipedrive", "DELETE")),
    (2, ("integry", "u-2", "slack", "POST")),
    (0, ("passage",)), (1, ("passage",)),
    (0, ("reset",)), (0, ("gravitec", FOLLOWERS[0], "tag1", "DELETE")),
])


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=SCENARIOS)
@example(scenario=EVERY_WRITE)
def test_each_tenant_is_a_server_of_its_own(sides, scenario) -> None:
    shared, models, untouched = sides
    n, writes = scenario
    for side in (shared, *models):
        restore_pristine(side.app)
    tenants = [Tenant(shared, models[i]) for i in range(n)]
    for who, op in writes:
        tenants[who].write(op)
        for t in tenants:   # every tenant after every step, not only the one that wrote
            assert shared.vendors(t.id) == t.model.vendors(t.id), (who, op, t.id)
    for t in tenants:       # and byte for byte, in the same order, as the HTTP export
        assert shared.exported(t.id) == t.model.exported(t.id)
    # The template is untouched: a new tenant, and the default one, start from the fixtures.
    fresh = shared.client.post("/__admin/tenants").json()["id"]
    assert shared.vendors(fresh) == untouched["new"]
    assert shared.vendors("default") == untouched["default"]
    # A reset tenant is a new one.
    for t in tenants:
        assert shared.client.post("/__admin/reset", json={"tenant": t.id}).status_code == 200
        assert shared.vendors(t.id) == untouched["new"]


# -- the overlay the Groove and Integry stores keep their changes in ---------------------------
KEYS = st.sampled_from("abcdefg")
OVERLAY_OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), KEYS, st.integers(0, 9)), st.tuples(st.just("pop"), KEYS),
    st.tuples(st.just("move_to_end"), KEYS), st.tuples(st.just("popitem"), st.booleans()),
    st.tuples(st.just("setdefault"), KEYS, st.integers(0, 9))), max_size=40)


@settings(max_examples=200, deadline=None)
@given(ops=OVERLAY_OPS)
def test_an_overlay_reads_as_a_copied_ordered_dict_and_leaves_its_template(ops) -> None:
    template = {"a": 0, "b": 1, "c": 2, "d": 3}
    untouched = dict(template)
    overlay, copied = Overlay(template), OrderedDict(template)
    for op, *args in ops:
        outcomes = []
        for m in (overlay, copied):
            try:
                if op == "set":
                    m[args[0]] = args[1]
                    outcomes.append(None)
                elif op == "popitem":
                    outcomes.append(m.popitem(last=args[0]))
                else:
                    outcomes.append(getattr(m, op)(*args))
            except KeyError:
                outcomes.append(KeyError)
        assert outcomes[0] == outcomes[1], (op, args)
        assert list(overlay.items()) == list(copied.items())
        assert len(overlay) == len(copied)
        assert all((k in overlay) == (k in copied) and overlay.get(k) == copied.get(k)
                   for k in "abcdefg")
    assert template == untouched
