"""The create's hot path (bench row passage-create-link) answers as the general code does: the
usual body's one-pass check, the remembered bodies and Authorization headers, the ids drawn in
one go and the 201 written from its parts."""
from __future__ import annotations

import json
import random
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.core.http import VendorError, dump
from mockserver.vendors.passage import handlers, links
from mockserver.vendors.passage.store import Link, PassageStore

from .conftest import (A_QUICKSTART, B_QUICKSTART, PREFIX, SKILL_MULTI, SKILL_SINGLE, api_key_of,
                       bearer, body, create)

LINKS = f"{PREFIX}/v1/links"
CATALOGUE = [("tmobile", "mobileBillingStatement", "read"), ("tmobile", "paymentMethod", "read"),
             ("tmobile", "paymentMethod", "write"), ("tmobile", "nope", "read"),
             ("nobody", "paymentMethod", "read")]
TEXTS = st.one_of(st.sampled_from(["", "https://your-server.com/webhook", "not a url",
                                   "myapp://done", "x" * 2049, "user_123", "tmobile", "read"]),
                  st.none(), st.integers(), st.lists(st.text(max_size=2), max_size=1))
GOOD_OP = st.sampled_from(CATALOGUE[:2]).map(lambda k: {"resource": k[1], "action": k[2]})
GOOD = st.builds(
    lambda ops, single, extra: {"integrationId": "tmobile",
                                **(ops[0] if single else {"operations": ops}), **extra},
    st.lists(GOOD_OP, min_size=1, max_size=3), st.booleans(),
    st.fixed_dictionaries({}, optional={"webhookUrl": st.just("https://your-server.com/hook"),
                                        "returnUrl": st.just("myapp://done"),
                                        "externalUserId": st.just("user_123")}))
ANY_OP = st.builds(lambda k, extra: {"resource": k[1], "action": k[2], **extra},
                   st.sampled_from(CATALOGUE),
                   st.fixed_dictionaries({}, optional={"arguments": st.sampled_from([{}, None]),
                                                       "action": TEXTS, "other": TEXTS}))
KEYS = st.sampled_from(["integrationId", "operations", "resource", "action", "webhookUrl",
                        "returnUrl", "externalUserId", "debug", "expiresIn", "arguments"])


def _changed(good: dict[str, Any], key: str, value: Any, drop: bool) -> dict[str, Any]:
    out = dict(good)
    if drop:
        out.pop(key, None)
    else:
        out[key] = value
    return out


# the usual bodies, and each with one key changed or dropped (into the usual shape or out of it)
BODY = st.one_of(GOOD, st.builds(_changed, GOOD, KEYS,
                                 st.one_of(TEXTS, st.lists(ANY_OP, max_size=22), ANY_OP),
                                 st.booleans()))


def service(client) -> handlers.Passage:
    return client.app.vendors["passage"].service


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=BODY)
def test_the_usual_body_s_one_pass_check_says_what_the_full_check_says(client, sent):
    g = service(client)
    plain = handlers._plain_create(g, sent)
    try:
        full: Any = handlers._full_create(g, sent)
    except VendorError as exc:
        full = exc
    if plain is not None:
        assert plain == full
    # the quickstart's shapes all take the one pass
    assert handlers._plain_create(g, body(A_QUICKSTART)) is not None
    assert handlers._plain_create(g, body(B_QUICKSTART, returnUrl="myapp://done")) is not None


def test_the_201_is_what_dump_writes_of_its_fields():
    ops = [{"resource": "paymentMethod", "action": "read"},
           {"resource": "mobileBillingStatement", "action": "read", "arguments": {"limit": 3}}]
    for back in (None, "https://app.example/é?x=1#top", "myapp://done\ud800"):
        link = Link(id="link_1", claim_code="clm_2", integration_id="tmobile", operations=ops,
                    external_user_id=None, webhook_url=None, return_url=back, debug=False,
                    created_at=5, expires_at=9, updated_at=5)
        expected: dict[str, Any] = {
            "linkId": "link_1", "claimCode": "clm_2", "integrationId": "tmobile",
            "operations": [{"resource": o["resource"], "action": o["action"]} for o in ops],
            "resource": "paymentMethod", "action": "read", "status": "pending",
            "appClipUrl": "https://clip.getpassage.ai?code=clm_2"}
        if back is not None:
            expected["returnUrl"] = links.with_link_id(back, "link_1")
        expected |= {"expiresAt": 9, "createdAt": 5}
        assert links.created(link) == dump(expected)
        assert links.created(link, links.created_middle("tmobile", ops)) == dump(expected)


def test_a_link_s_two_ids_are_the_two_uuid4s_the_seeded_stream_draws_next():
    class Ctx:
        rng: random.Random
    for seed in range(50):
        ctx, twin = Ctx(), random.Random(seed)
        ctx.rng = random.Random(seed)
        assert links.mint(ctx) == (
            f"link_{uuid.UUID(int=twin.getrandbits(128), version=4)}",
            f"clm_{uuid.UUID(int=twin.getrandbits(128), version=4)}")
        assert links.new_id(ctx, "session") == \
            f"session_{uuid.UUID(int=twin.getrandbits(128), version=4)}"


def test_links_made_from_one_remembered_body_share_nothing(client, auth):
    sent = json.dumps(body(B_QUICKSTART)).encode()
    first, second = (client.post(LINKS, content=sent, headers={**auth, "Content-Type":
                                                                "application/json"})
                     for _ in range(2))
    assert first.status_code == second.status_code == 201
    a, b = (first.json(), second.json())
    assert a["linkId"] != b["linkId"] and a["claimCode"] != b["claimCode"]
    assert {k: v for k, v in a.items() if k not in ("linkId", "claimCode", "appClipUrl")} == \
        {k: v for k, v in b.items() if k not in ("linkId", "claimCode", "appClipUrl")}
    store = next(t for t in client.app.tenants if t.is_default).stores["passage"]
    assert store.links[a["linkId"]].operations is not store.links[b["linkId"]].operations
    assert store.links[a["linkId"]].operations[0] is not store.links[b["linkId"]].operations[0]
    # a body with arguments is checked every time, never remembered
    create(client, auth, SKILL_MULTI)
    create(client, auth, SKILL_SINGLE)
    assert all("arguments" not in op for data in service(client).creates.values()
               for op in data["operations"])


def test_a_remembered_key_stops_working_with_its_tenant(client):
    made = client.post("/__admin/tenants")
    assert made.status_code == 201
    auth = bearer(api_key_of(made.json()["credentials"]["passage"]))
    assert client.get(LINKS, headers=auth).status_code == 200
    assert client.get(LINKS, headers=auth).status_code == 200   # from the memo now
    assert client.delete(f"/__admin/tenants/{made.json()['id']}").status_code in (200, 204)
    assert client.get(LINKS, headers=auth).status_code == 401
    assert client.get(LINKS, headers=bearer("psg_nobody")).status_code == 401


class _Ctx:
    clock = None

    def __init__(self, limit: int) -> None:
        self.session_limit = limit


def _link(n: int) -> Link:
    return Link(id=f"link_{n}", claim_code=f"clm_{n}", integration_id="tmobile",
                operations=[], external_user_id=None, webhook_url=None, return_url=None,
                debug=False, created_at=0, expires_at=1, updated_at=0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.lists(st.integers(0, 9), max_size=40))
def test_the_store_keeps_the_newest_links_in_order_as_an_ordered_dict_would(limit, adds):
    """`PassageStore.add` (a dict and a deque of ids) against the OrderedDict it replaced:
    the same links in the same order past the bound, an id added again keeping its place, and
    the claim codes of exactly the links kept (a link's code is its own: uuid4s)."""
    from collections import OrderedDict
    store, model = PassageStore(None, _Ctx(limit)), OrderedDict()
    for n in adds:
        link = _link(n)
        store.add(link)
        model[link.id] = link
        while len(model) > limit:
            model.popitem(last=False)
        assert list(store.links.items()) == list(model.items())
        assert {code: store.by_code(code) for code in store.codes} == \
            {ln.claim_code: ln for ln in model.values()}
