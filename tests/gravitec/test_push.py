"""POST /api/v3/push: every documented rule, once kept and once broken; tags_segment read left to
right as the doc's two examples say; hypothesis properties.

The rules come from the "Send Push Notification V3" part of gravitec.txt; the texts of the 422s
(`errorDescription`) are the ones the mock chose (validation.py), written out here so that a
changed text fails. A broken rule must leave the site exactly as it was: no campaign, no
campaign id used up, no free-plan push counted (the whole store snapshot is compared).

The reference evaluation of tags_segment below is written from the doc, per follower, and
independently of store.py: the first condition decides alone, each later AND/AND_NOT keeps only
followers that also satisfy it, each later OR/OR_NOT adds those that satisfy it; tag names
match case-insensitively (the doc: CARS and cars are the same tag); only active followers count.
"""
from __future__ import annotations

import copy
import string
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient
from .conftest import (BASE, FREE, SANDBOX, add_subscriber, documented, push, site,
                       stats)

NOW_MS = 1705314600000            # DOC_TIME in milliseconds
HOUR_MS = 3_600_000
EMOJI = "\U0001F600"              # two UTF-16 code units: Java's String.length() counts 2
ABSENT = object()                 # a key left out of the body (None sends JSON null)

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# -- bodies -------------------------------------------------------------------------------------
def body(fields: dict[str, Any] | None = None, /, **top: Any) -> dict[str, Any]:
    """The documented push request with payload and top-level overrides (ABSENT drops a key)."""
    out = copy.deepcopy(documented("push.request"))
    for key, value in (fields or {}).items():
        if value is ABSENT:
            out["payload"].pop(key, None)
        else:
            out["payload"][key] = value
    for key, value in top.items():
        if value is ABSENT:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def url(length: int, ending: str = "", base: str = "https://cdn.example.com/") -> str:
    """An http(s) URL of exactly `length` characters ending with `ending`."""
    return base + "a" * (length - len(base) - len(ending)) + ending


def button(title: Any = "Read", link: Any = "https://gravitec.net/read") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if title is not ABSENT:
        out["title"] = title
    if link is not ABSENT:
        out["url"] = link
    return out


def segment(*conditions: tuple[str, str]) -> dict[str, Any]:
    return {"tags_segment": [{"association": op, "name": name} for op, name in conditions]}


# -- state --------------------------------------------------------------------------------------
def state(app, tenant: str = "default") -> dict[str, Any]:
    """Everything the tenant's Gravitec store holds (followers, campaigns, day counts, last id)."""
    return app.vendors["gravitec"].snapshot(app.tenants.get(tenant).stores["gravitec"])


def reach(s, keep: Callable[[set[str]], bool]) -> int:
    """Active followers of site `s` whose lower-cased tag set satisfies `keep`."""
    return sum(1 for f in s.followers.values() if f.active and keep({t.lower() for t in f.tags}))


def accept(client, app, request_body: Any, role: str = "main") -> tuple[dict[str, Any], Any]:
    """Push, expect 200 and exactly one new campaign; (response body, the stored campaign)."""
    s = site(app, role)
    before = len(s.campaigns)
    r = push(client, request_body, auth=SANDBOX if role == "main" else FREE)
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(s.campaigns) == before + 1
    campaign = s.campaigns[out["id"]]
    assert out["send_date"] == str(campaign.send_at_ms)
    assert out["ttl"] == campaign.ttl and out["display_time"] == campaign.display_time
    assert out["payload"] == {"title": campaign.payload["title"]}
    return out, campaign


def reject(client, app, request_body: Any, status: int, role: str = "main",
           **kw: Any) -> dict[str, Any]:
    """Push, expect `status` and nothing created: no campaign, no free-plan push counted, no
    change at all in the store."""
    s = site(app, role)
    now = app.clock.time()
    campaigns, today, before = len(s.campaigns), s.pushes_today(now), state(app)
    auth = SANDBOX if role == "main" else FREE
    if kw:  # a raw body: content= or data= with its own headers
        r = client.post(f"{BASE}/push", auth=auth, **kw)
    else:
        r = push(client, request_body, auth=auth)
    assert r.status_code == status, r.text
    assert len(s.campaigns) == campaigns
    assert s.pushes_today(now) == today
    assert state(app) == before
    return r.json()


def wrong(description: str) -> dict[str, str]:
    return {"httpStatus": "UNPROCESSABLE_ENTITY", "error": "Incomplete by wrong param(s)!",
            "errorDescription": description}


def spring(status: int, error: str, message: str) -> dict[str, Any]:
    return {"timestamp": "2024-01-15T10:30:00.000+0000", "status": status, "error": error,
            "message": message, "path": "/api/v3/push"}


# == 1. every documented rule: kept ===============================================================
def has(tag: str) -> Callable[[set[str]], bool]:
    return lambda tags: tag in tags


# Each case: the body, then what the campaign must hold. Defaults: title "Test message",
# ttl 28800, display_time 60, sent now, no push tag, not transactional, everyone reached.
ACCEPTED = [
    # the doc's own request: its example's ttl (86400), not the field's default
    pytest.param(documented("push.request"), {"message": " Test massage", "ttl": 86400},
                 id="documented-body"),
    # message: required, at most 1000 UTF-16 units
    pytest.param(body({"message": "m" * 1000}), {"message": "m" * 1000}, id="message-1000"),
    pytest.param(body({"message": EMOJI * 500}), {"message": EMOJI * 500},
                 id="message-500-emoji"),
    pytest.param(body({"message": "x"}), {"message": "x"}, id="message-1"),
    # title: optional, "Title" by default, at most 1000
    pytest.param(body({"title": ABSENT}), {"title": "Title"}, id="title-absent"),
    pytest.param(body({"title": ""}), {"title": "Title"}, id="title-empty"),
    pytest.param(body({"title": None}), {"title": "Title"}, id="title-null"),
    pytest.param(body({"title": "t" * 1000}), {"title": "t" * 1000}, id="title-1000"),
    pytest.param(body({"title": EMOJI * 500}), {"title": EMOJI * 500}, id="title-500-emoji"),
    # icon and image: .jpg/.jpeg/.png in any case, at most 1000; "" or absent is no icon
    *[pytest.param(body({key: f"https://cdn.example.com/pic{ext}"}),
                   {key: f"https://cdn.example.com/pic{ext}"}, id=f"{key}-{ext[1:]}")
      for key in ("icon", "image")
      for ext in (".jpg", ".jpeg", ".png", ".PNG", ".JpEg", ".JPG")],
    pytest.param(body({"icon": "http://example.com/i.png"}),
                 {"icon": "http://example.com/i.png"}, id="icon-http"),
    pytest.param(body({"icon": url(1000, ".png")}), {"icon": url(1000, ".png")}, id="icon-1000"),
    pytest.param(body({"image": url(1000, ".jpeg")}), {"image": url(1000, ".jpeg")},
                 id="image-1000"),
    pytest.param(body({"icon": "", "image": ""}), {"icon": None, "image": None},
                 id="icon-image-empty"),
    pytest.param(body({"icon": None, "image": None}), {"icon": None, "image": None},
                 id="icon-image-null"),
    pytest.param(body(), {"icon": None, "image": None, "ttl": 86400},  # the doc's request
                 id="icon-image-absent"),
    # redirect_url: required http(s) URL, at most 1000
    pytest.param(body({"redirect_url": "http://yoursite.com/news"}),
                 {"redirect_url": "http://yoursite.com/news"}, id="redirect-doc-example"),
    pytest.param(body({"redirect_url": "https://gravitec.net:8443/a/b?c=d&e=f#g"}),
                 {"redirect_url": "https://gravitec.net:8443/a/b?c=d&e=f#g"},
                 id="redirect-port-query-fragment"),
    pytest.param(body({"redirect_url": url(1000)}), {"redirect_url": url(1000)},
                 id="redirect-1000"),
    # buttons: at most 2, title 1..48, url required and valid, at most 1000
    pytest.param(body({"buttons": []}), {"buttons": None}, id="buttons-none"),
    pytest.param(body({"buttons": [button()]}), {"buttons": [button()]}, id="buttons-1"),
    pytest.param(body({"buttons": [button("A"), button("B", "http://b.example")]}),
                 {"buttons": [button("A"), button("B", "http://b.example")]}, id="buttons-2"),
    pytest.param(body({"buttons": [button("b" * 48, url(1000))]}),
                 {"buttons": [button("b" * 48, url(1000))]}, id="button-title-48-url-1000"),
    pytest.param(body({"buttons": [button(EMOJI * 24)]}), {"buttons": [button(EMOJI * 24)]},
                 id="button-title-24-emoji"),
    # ttl: 0..2419200, 28800 by default; numeric strings and "" as Jackson reads them
    pytest.param(body(ttl=0), {"ttl": 0}, id="ttl-0"),
    pytest.param(body(ttl=2419200), {"ttl": 2419200}, id="ttl-max"),
    pytest.param(body(ttl=86400), {"ttl": 86400}, id="ttl-86400"),
    pytest.param(body(ttl="3600"), {"ttl": 3600}, id="ttl-numeric-string"),
    pytest.param(body(ttl=""), {"ttl": 28800}, id="ttl-empty-string"),
    pytest.param(body(ttl=None), {"ttl": 28800}, id="ttl-null"),
    pytest.param(body(ttl=3600.0), {"ttl": 3600}, id="ttl-3600.0"),
    # display_time: 0..2419200, 60 by default
    pytest.param(body(display_time=0), {"display_time": 0}, id="display-0"),
    pytest.param(body(display_time=2419200), {"display_time": 2419200}, id="display-max"),
    pytest.param(body(display_time="120"), {"display_time": 120}, id="display-string"),
    pytest.param(body(display_time=""), {"display_time": 60}, id="display-empty-string"),
    # push_tag: 1..100 characters; "" is unset
    pytest.param(body(push_tag="news"), {"push_tag": "news"}, id="push-tag-doc-example"),
    pytest.param(body(push_tag="n"), {"push_tag": "n"}, id="push-tag-1"),
    pytest.param(body(push_tag="p" * 100), {"push_tag": "p" * 100}, id="push-tag-100"),
    pytest.param(body(push_tag=EMOJI * 50), {"push_tag": EMOJI * 50}, id="push-tag-50-emoji"),
    pytest.param(body(push_tag=""), {"push_tag": None}, id="push-tag-empty"),
    # is_transactional: booleans, also as the strings "true" / "false"; false by default
    pytest.param(body(is_transactional=True), {"is_transactional": True}, id="transactional"),
    pytest.param(body(is_transactional=False), {"is_transactional": False},
                 id="transactional-false"),
    pytest.param(body(is_transactional="true"), {"is_transactional": True},
                 id="transactional-string-true"),
    pytest.param(body(is_transactional="false"), {"is_transactional": False},
                 id="transactional-string-false"),
    pytest.param(body(is_transactional=""), {"is_transactional": False},
                 id="transactional-empty"),
    # send_date: absent, "" or "now" is now; a future time (number or string) schedules
    pytest.param(body(send_date=""), {"send_date": NOW_MS}, id="send-date-empty"),
    pytest.param(body(send_date="now"), {"send_date": NOW_MS}, id="send-date-now"),
    pytest.param(body(send_date=None), {"send_date": NOW_MS}, id="send-date-null"),
    pytest.param(body(send_date=NOW_MS), {"send_date": NOW_MS}, id="send-date-this-ms"),
    pytest.param(body(send_date=NOW_MS + HOUR_MS), {"send_date": NOW_MS + HOUR_MS},
                 id="send-date-future-number"),
    pytest.param(body(send_date=str(NOW_MS + 1)), {"send_date": NOW_MS + 1},
                 id="send-date-future-string"),
    # the Laravel client's body: "" for every scalar it leaves unset
    pytest.param(body(send_date="", ttl="", display_time="", is_transactional="", push_tag=""),
                 {}, id="laravel-empty-strings"),
    # segments: one existing segment
    pytest.param(body(segments=["Sandbox testers"]), {"send": has("tag1")},
                 id="segment-sandbox-testers"),
    pytest.param(body(segments=["Car fans without news"]),
                 {"send": lambda t: "cars" in t and "news" not in t}, id="segment-two-conditions"),
    pytest.param(body(segments=[]), {}, id="segments-empty-list"),
    # audience: exactly one of tokens, aliases, tags, tags_segment
    pytest.param(body(audience={"tokens": ["dec301908b9ba...8df85e57a58e40f96f",
                                           "523f4c2068674f1fe...2ba25cdc250a2a41"]}),
                 {"send": 2}, id="audience-doc-tokens"),
    pytest.param(body(audience={"tokens": ["okf8kj589ktGF5g3gF#gf3#46g^^6gfGfgfgfg%g5g",
                                           "no-such-token"]}),
                 {"send": 0}, id="audience-inactive-and-unknown-token"),
    pytest.param(body(audience={"aliases": ["own_id_device_1", "own_id_device_2",
                                            "own_id_device_3"]}),
                 {"send": 3}, id="audience-doc-aliases"),
    pytest.param(body(audience={"tags": ["tag1", "tag2", "tag3"]}),
                 {"send": lambda t: bool(t & {"tag1", "tag2", "tag3"})}, id="audience-doc-tags"),
    pytest.param(body(audience={"tags": ["news"], "tokens": None}), {"send": has("news")},
                 id="audience-null-key-is-absent"),
    pytest.param(body(audience=segment(("AND", "cars"))), {"send": has("cars")},
                 id="tags-segment-1"),
    pytest.param(body(audience=segment(("AND", "TAG1"))), {"send": has("tag1")},
                 id="tags-segment-name-any-case"),
    *[pytest.param(body(audience=segment((op, "news"))),
                   {"send": has("news") if op in ("AND", "OR")
                    else (lambda t: "news" not in t)}, id=f"tags-segment-{op}")
      for op in ("AND", "AND_NOT", "OR", "OR_NOT")],
    # the documented body on the free-plan site
    pytest.param(documented("push.request"), {"role": "free", "ttl": 86400}, id="free-site"),
]


def test_accepted_bodies_documented_defaults_hold(client, app):
    """The documented body as sent: title echoed, sent now, the example's ttl 86400, display
    60; the same body with another message: the documented default ttl, 28800."""
    out, campaign = accept(client, app, documented("push.request"))
    assert out["send_date"] == str(NOW_MS)
    assert (out["ttl"], out["display_time"], out["payload"]) == \
        (86400, 60, {"title": "Test message"})
    assert len(out["id"]) == 19 and out["id"].isdigit()
    out, campaign = accept(client, app, body({"message": "Test message"}))
    assert (out["ttl"], out["display_time"], campaign.ttl) == (28800, 60, 28800)


@pytest.mark.parametrize("request_body,expect", ACCEPTED)
def test_rule_kept(client, app, request_body, expect):
    expect = dict(expect)
    role = expect.pop("role", "main")
    s = site(app, role)
    out, campaign = accept(client, app, request_body, role)
    assert out["payload"]["title"] == expect.pop("title", "Test message")
    assert campaign.payload["title"] == out["payload"]["title"]
    assert out["ttl"] == expect.pop("ttl", 28800)
    assert out["display_time"] == expect.pop("display_time", 60)
    assert out["send_date"] == str(expect.pop("send_date", NOW_MS))
    assert campaign.push_tag == expect.pop("push_tag", None)
    assert campaign.is_transactional is expect.pop("is_transactional", False)
    assert campaign.payload["message"] == expect.pop("message", " Test massage")
    assert campaign.payload["redirect_url"] == expect.pop("redirect_url", "https://gravitec.net")
    for key in ("icon", "image", "buttons"):
        if key in expect:
            assert campaign.payload.get(key) == expect.pop(key)
    reached = expect.pop("send", lambda tags: True)
    assert not expect, f"unchecked expectations {expect}"
    if campaign.send_at_ms > NOW_MS:
        assert campaign.send is None
        assert stats(client, out["id"]).json()["status"] == "SCHEDULED"
        return
    want = reached if isinstance(reached, int) else reach(s, reached)
    assert campaign.send == want
    assert stats(client, out["id"], auth=SANDBOX if role == "main" else FREE).json()["send"] \
        == want


def test_scheduled_push_goes_out_when_its_time_comes(client, app):
    out, campaign = accept(client, app, body(send_date=str(NOW_MS + HOUR_MS)))
    assert out["send_date"] == str(NOW_MS + HOUR_MS)
    app.clock.advance(3599.999)
    assert stats(client, out["id"]).json() == {"status": "SCHEDULED", "send": 0, "received": 0,
                                               "clicked": 0, "closed": 0}
    app.clock.advance(0.001)
    sent = stats(client, out["id"]).json()
    assert sent["status"] == "SENT" and sent["send"] == len(site(app).active)


def test_a_repeated_body_is_read_again_against_the_clock(client, app):
    """The same bytes pushed again (as a suite or a load repeats them) are a new campaign with
    its own id, sent at the clock's new time; a send_date time is checked anew against it."""
    first, _ = accept(client, app, documented("push.request"))
    app.clock.advance(60)
    second, _ = accept(client, app, documented("push.request"))
    assert second["id"] > first["id"] and second["send_date"] == str(NOW_MS + 60_000)
    later = body(send_date=str(NOW_MS + HOUR_MS))
    accept(client, app, later)
    app.clock.advance(3600)
    assert reject(client, app, later, 422) == wrong("Send date must be in the future!")


def test_campaigns_of_one_body_share_no_payload(client, app):
    with_button = body({"buttons": [button()]})
    _, a = accept(client, app, with_button)
    _, b = accept(client, app, with_button)
    assert a.payload == b.payload and a.payload is not b.payload
    assert a.payload["buttons"][0] is not b.payload["buttons"][0]


def test_answer_bytes_are_compact_utf8_json(client, app):
    """Jackson's bytes: no spaces, non-ASCII text as UTF-8, quotes escaped, keys in this order."""
    title = 'Sale "today" \u00fcber \U0001F600 </b>'
    r = push(client, body({"title": title}))
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    assert r.content == ('{"id":"' + cid + '","send_date":"' + str(NOW_MS) + '","ttl":28800,'
                         '"display_time":60,"payload":{"title":"Sale \\"today\\" \u00fcber '
                         '\U0001F600 </b>"}}').encode("utf-8")


def test_tokens_up_to_100(client, app):
    s = site(app)
    tokens = sorted(s.followers)[:100]
    _, campaign = accept(client, app, body(audience={"tokens": tokens}))
    assert campaign.send == sum(s.followers[t].active for t in tokens)


def test_tags_segment_of_256_elements_and_255_character_name(client, app):
    names = [f"t{i:03d}" for i in range(256)]
    assert add_subscriber(client, regId="many-tags", tags=names).status_code == 201
    _, campaign = accept(client, app, body(audience=segment(*[("AND", n) for n in names])))
    assert campaign.send == 1
    long_name = "L" * 255
    assert add_subscriber(client, regId="long-tag", tags=[long_name]).status_code == 201
    _, campaign = accept(client, app, body(audience=segment(("OR", long_name.lower()))))
    assert campaign.send == 1


def test_tags_segment_tags_must_exist_on_this_site(client, app):
    """A tag exists while some follower of the same site carries it, in any letter case."""
    assert add_subscriber(client, regId="free-fan", tags=["freeonly"], site="free") \
        .status_code == 201
    accept(client, app, body(audience=segment(("AND", "FreeOnly"))), role="free")
    assert reject(client, app, body(audience=segment(("AND", "freeonly"))), 422) == \
        wrong("There is no tag with this name: freeonly!")
    # Added to a main-site follower it exists there; deleted from its only follower it is gone.
    add = {"regId": "someregid", "name": "Fleeting"}
    assert client.post(f"{BASE}/tag", params=add, auth=SANDBOX).status_code == 200
    _, campaign = accept(client, app, body(audience=segment(("OR", "fleeting"))))
    assert campaign.send == 1
    assert client.delete(f"{BASE}/tag", params=add, auth=SANDBOX).status_code == 200
    assert reject(client, app, body(audience=segment(("OR", "fleeting"))), 422) == \
        wrong("There is no tag with this name: fleeting!")


def test_content_type_with_charset_is_json(client, app):
    s = site(app)
    r = client.post(f"{BASE}/push", content=b'{"payload": {"message": "m", "redirect_url": '
                    b'"https://gravitec.net"}}', auth=SANDBOX,
                    headers={"Content-Type": "application/json;charset=UTF-8"})
    assert r.status_code == 200, r.text
    assert s.campaigns[r.json()["id"]].payload["title"] == "Title"


# == 1. every documented rule: broken (422) =====================================================
PAYLOAD_REQUIRED = "Payload is required!"
MESSAGE_REQUIRED = "Message is required!"
ICON_BAD = "Icon url must be a correct url ending with .jpg, .jpeg or .png!"
IMAGE_BAD = "Image url must be a correct url ending with .jpg, .jpeg or .png!"
REDIRECT_REQUIRED = "Redirect url is required!"
REDIRECT_BAD = ("Redirect url must be a correct url without spaces or tabs at the start and at "
                "the end!")
BUTTON_TITLE_REQUIRED = "Button title is required!"
BUTTON_URL_REQUIRED = "Button url is required!"
BUTTON_URL_BAD = ("Button url must be a correct url without spaces or tabs at the start and at "
                  "the end!")
TTL_RANGE = "TTL must be between 0 and 2419200!"
DISPLAY_RANGE = "Display time must be between 0 and 2419200!"
PUSH_TAG_RANGE = "Push tag length must be between 1 and 100!"
SEND_DATE_PAST = "Send date must be in the future!"
SEND_DATE_BAD = 'Send date must be "now" or a time in milliseconds since the epoch!'
SEGMENTS_AND_AUDIENCE = "You can not include both the segments and the audience section!"
ONE_SEGMENT = "You can only send to one segment!"
NO_SEGMENT = "There is no segment with this name!"
ONE_AUDIENCE = "Audience must contain only one of tokens, aliases, tags or tags_segment!"
TAGS_SEGMENT_SIZE = "Tags segment must contain from 1 to 256 elements!"
OPERATOR = "Logical operator must be one of AND, AND_NOT, OR, OR_NOT!"
TAG_NAME_LENGTH = "Tag name length must be between 1 and 255!"
TAG_NAMES_UNIQUE = "Tag names must be unique case-insensitively!"
FREE_LIMIT = "For Free plan only 10 push campaigns per day are available through API!"

GOOD_PNG = "https://cdn.example.com/pic.png"
BAD_IMAGE_URLS = [
    ("gif", "https://cdn.example.com/pic.gif"),
    ("no-extension", "https://cdn.example.com/png"),
    ("png-not-at-end", "https://cdn.example.com/pic.png?size=80"),
    ("leading-space", " " + GOOD_PNG),
    ("trailing-space", GOOD_PNG + " "),
    ("leading-tab", "\t" + GOOD_PNG),
    ("trailing-tab", GOOD_PNG + "\t"),
    ("inner-space", "https://cdn.example.com/my pic.png"),
    ("no-scheme", "cdn.example.com/pic.png"),
    ("ftp", "ftp://cdn.example.com/pic.png"),
    ("no-host", "https:///pic.png"),
    ("blank", "   "),
]
BAD_URLS = [
    ("leading-space", " https://gravitec.net"),
    ("trailing-space", "https://gravitec.net "),
    ("leading-tab", "\thttps://gravitec.net"),
    ("trailing-tab", "https://gravitec.net\t"),
    ("no-scheme", "gravitec.net"),
    ("words", "not a url"),
    ("ftp", "ftp://gravitec.net"),
    ("javascript", "javascript:alert(1)"),
    ("no-host", "https://"),
    ("bad-port", "https://gravitec.net:99999/"),
]

# Rules about the request's fields: the same on every site.
FIELD_RULES = [
    pytest.param({}, PAYLOAD_REQUIRED, id="payload-absent"),
    pytest.param(body(payload=ABSENT), PAYLOAD_REQUIRED, id="payload-absent-other-fields-set"),
    pytest.param({"payload": None}, PAYLOAD_REQUIRED, id="payload-null"),
    pytest.param(body({"message": ABSENT}), MESSAGE_REQUIRED, id="message-absent"),
    pytest.param(body({"message": ""}), MESSAGE_REQUIRED, id="message-empty"),
    pytest.param(body({"message": None}), MESSAGE_REQUIRED, id="message-null"),
    pytest.param(body({"message": "   "}), MESSAGE_REQUIRED, id="message-blank"),
    pytest.param({"payload": {}}, MESSAGE_REQUIRED, id="payload-empty"),
    pytest.param(body({"message": "m" * 1001}), "Max message length is 1000!", id="message-1001"),
    pytest.param(body({"message": EMOJI * 501}), "Max message length is 1000!",
                 id="message-501-emoji"),
    pytest.param(body({"message": "m" * 999 + EMOJI}), "Max message length is 1000!",
                 id="message-999-plus-emoji"),
    pytest.param(body({"title": "t" * 1001}), "Max title length is 1000!", id="title-1001"),
    pytest.param(body({"title": EMOJI * 501}), "Max title length is 1000!",
                 id="title-501-emoji"),
    *[pytest.param(body({"icon": bad}), ICON_BAD, id=f"icon-{name}")
      for name, bad in BAD_IMAGE_URLS],
    pytest.param(body({"icon": url(1001, ".png")}), "Max icon url length is 1000!",
                 id="icon-1001"),
    *[pytest.param(body({"image": bad}), IMAGE_BAD, id=f"image-{name}")
      for name, bad in BAD_IMAGE_URLS],
    pytest.param(body({"image": url(1001, ".jpg")}), "Max image url length is 1000!",
                 id="image-1001"),
    pytest.param(body({"redirect_url": ABSENT}), REDIRECT_REQUIRED, id="redirect-absent"),
    pytest.param(body({"redirect_url": ""}), REDIRECT_REQUIRED, id="redirect-empty"),
    pytest.param(body({"redirect_url": None}), REDIRECT_REQUIRED, id="redirect-null"),
    pytest.param(body({"redirect_url": " \t "}), REDIRECT_REQUIRED, id="redirect-blank"),
    *[pytest.param(body({"redirect_url": bad}), REDIRECT_BAD, id=f"redirect-{name}")
      for name, bad in BAD_URLS],
    pytest.param(body({"redirect_url": url(1001)}), "Max redirect url length is 1000!",
                 id="redirect-1001"),
    pytest.param(body({"buttons": [button("1"), button("2"), button("3")]}),
                 "Max buttons count is 2!", id="buttons-3"),
    pytest.param(body({"buttons": [button(ABSENT)]}), BUTTON_TITLE_REQUIRED,
                 id="button-title-absent"),
    pytest.param(body({"buttons": [button("")]}), BUTTON_TITLE_REQUIRED,
                 id="button-title-empty"),
    pytest.param(body({"buttons": [button(), button(None)]}), BUTTON_TITLE_REQUIRED,
                 id="second-button-title-null"),
    pytest.param(body({"buttons": [None]}), BUTTON_TITLE_REQUIRED, id="button-null"),
    pytest.param(body({"buttons": [{}]}), BUTTON_TITLE_REQUIRED, id="button-empty"),
    pytest.param(body({"buttons": [button("b" * 49)]}), "Max button title length is 48!",
                 id="button-title-49"),
    pytest.param(body({"buttons": [button(EMOJI * 25)]}), "Max button title length is 48!",
                 id="button-title-25-emoji"),
    pytest.param(body({"buttons": [button(link=ABSENT)]}), BUTTON_URL_REQUIRED,
                 id="button-url-absent"),
    pytest.param(body({"buttons": [button(link="")]}), BUTTON_URL_REQUIRED,
                 id="button-url-empty"),
    *[pytest.param(body({"buttons": [button(link=bad)]}), BUTTON_URL_BAD, id=f"button-url-{name}")
      for name, bad in BAD_URLS],
    pytest.param(body({"buttons": [button(link=url(1001))]}), "Max button url length is 1000!",
                 id="button-url-1001"),
    pytest.param(body(ttl=-1), TTL_RANGE, id="ttl-negative"),
    pytest.param(body(ttl=2419201), TTL_RANGE, id="ttl-over-max"),
    pytest.param(body(ttl="-5"), TTL_RANGE, id="ttl-negative-string"),
    pytest.param(body(display_time=-1), DISPLAY_RANGE, id="display-negative"),
    pytest.param(body(display_time=2419201), DISPLAY_RANGE, id="display-over-max"),
    pytest.param(body(push_tag="p" * 101), PUSH_TAG_RANGE, id="push-tag-101"),
    pytest.param(body(push_tag=EMOJI * 51), PUSH_TAG_RANGE, id="push-tag-51-emoji"),
    pytest.param(body(send_date=NOW_MS - 1), SEND_DATE_PAST, id="send-date-past-number"),
    pytest.param(body(send_date=str(NOW_MS - 1)), SEND_DATE_PAST, id="send-date-past-string"),
    pytest.param(body(send_date=1509058800000), SEND_DATE_PAST, id="send-date-doc-example"),
    pytest.param(body(send_date=0), SEND_DATE_PAST, id="send-date-epoch"),
    pytest.param(body(send_date="tomorrow"), SEND_DATE_BAD, id="send-date-word"),
    pytest.param(body(send_date="2024-01-16T00:00:00Z"), SEND_DATE_BAD, id="send-date-iso"),
    pytest.param(body(send_date=-1), SEND_DATE_BAD, id="send-date-negative"),
    pytest.param(body(send_date=True), SEND_DATE_BAD, id="send-date-boolean"),
    pytest.param(body(send_date=NOW_MS + 0.5), SEND_DATE_BAD, id="send-date-fraction"),
    pytest.param(body(send_date="9" * 20), SEND_DATE_BAD, id="send-date-past-long"),
    pytest.param(body(send_date="1e13"), SEND_DATE_BAD, id="send-date-exponent-string"),
    pytest.param(body(segments=["Sandbox testers"], audience={"tags": ["tag1"]}),
                 SEGMENTS_AND_AUDIENCE, id="segments-and-audience"),
    pytest.param(body(segments=["Sandbox testers", "Sandbox testers"]), ONE_SEGMENT,
                 id="segments-2"),
    pytest.param(body(segments=["No such segment"]), NO_SEGMENT, id="segment-unknown"),
    pytest.param(body(audience={}), ONE_AUDIENCE, id="audience-empty"),
    pytest.param(body(audience={"tokens": None, "tags": None}), ONE_AUDIENCE,
                 id="audience-all-null"),
    pytest.param(body(audience={"tokens": ["someregid"], "aliases": ["alias1"]}), ONE_AUDIENCE,
                 id="audience-tokens-and-aliases"),
    pytest.param(body(audience={"tags": ["tag1"], **segment(("AND", "tag1"))}), ONE_AUDIENCE,
                 id="audience-tags-and-tags-segment"),
    pytest.param(body(audience={"tokens": ["someregid"], "aliases": ["alias1"],
                                "tags": ["tag1"], **segment(("AND", "tag1"))}), ONE_AUDIENCE,
                 id="audience-all-four"),
    pytest.param(body(audience={"tokens": [f"token{i}" for i in range(101)]}),
                 "Max tokens count is 100!", id="tokens-101"),
    pytest.param(body(audience={"tags_segment": []}), TAGS_SEGMENT_SIZE, id="tags-segment-0"),
    pytest.param(body(audience=segment(*[("AND", f"tag{i}") for i in range(257)])),
                 TAGS_SEGMENT_SIZE, id="tags-segment-257"),
    *[pytest.param(body(audience=segment((op, "tag1"))), OPERATOR, id=f"operator-{op or 'empty'}")
      for op in ("XOR", "and", "NOT", "", "AND NOT")],
    pytest.param(body(audience={"tags_segment": [{"name": "tag1"}]}), OPERATOR,
                 id="operator-absent"),
    pytest.param(body(audience={"tags_segment": [None]}), OPERATOR, id="condition-null"),
    pytest.param(body(audience=segment(("AND", "tag1"), ("XOR", "tagname"))), OPERATOR,
                 id="operator-second-wrong"),
    pytest.param(body(audience=segment(("AND", ""))), TAG_NAME_LENGTH, id="tag-name-empty"),
    pytest.param(body(audience={"tags_segment": [{"association": "AND"}]}), TAG_NAME_LENGTH,
                 id="tag-name-absent"),
    pytest.param(body(audience=segment(("AND", "n" * 256))), TAG_NAME_LENGTH,
                 id="tag-name-256"),
    pytest.param(body(audience=segment(("AND", "tag1"), ("OR", "TAG1"))), TAG_NAMES_UNIQUE,
                 id="tag-names-tag1-TAG1"),
    pytest.param(body(audience=segment(("AND", "tag1"), ("AND_NOT", "tag1"))), TAG_NAMES_UNIQUE,
                 id="tag-names-repeated"),
    pytest.param(body(audience=segment(("AND", "nosuchtag"))),
                 "There is no tag with this name: nosuchtag!", id="tag-unknown"),
    pytest.param(body(audience=segment(("AND", "tag1"), ("OR", "Nope"))),
                 "There is no tag with this name: Nope!", id="second-tag-unknown"),
]

# Rules whose outcome depends on the main site's tags (the doc's CARS and cars).
MAIN_SITE_RULES = [
    pytest.param(body(audience=segment(("AND", "CARS"), ("AND", "cars"))), TAG_NAMES_UNIQUE,
                 id="tag-names-CARS-cars"),
    pytest.param(body(audience=segment(("OR", "cars"), ("OR_NOT", "news"), ("AND", "Cars"))),
                 TAG_NAMES_UNIQUE, id="tag-names-cars-Cars-later"),
    pytest.param(body(audience=segment(("AND", "cars"), ("AND", "tag1"), ("OR", "sports"),
                                       ("AND_NOT", "tag9"))),
                 "There is no tag with this name: tag9!", id="tag-unknown-after-good-ones"),
]


@pytest.mark.parametrize("request_body,description", FIELD_RULES + MAIN_SITE_RULES)
def test_rule_broken(client, app, request_body, description):
    assert reject(client, app, request_body, 422) == wrong(description)


@pytest.mark.parametrize("request_body,description", FIELD_RULES)
def test_rule_broken_on_free_site_counts_no_push(client, app, request_body, description):
    accept(client, app, documented("push.request"), role="free")
    assert site(app, "free").pushes_today(app.clock.time()) == 1
    assert reject(client, app, request_body, 422, role="free") == wrong(description)
    assert site(app, "free").pushes_today(app.clock.time()) == 1


def test_free_plan_sends_10_pushes_a_day(client, app):
    s = site(app, "free")
    for n in range(10):
        reject(client, app, body({"message": ""}), 422, role="free")  # refused ones don't count
        accept(client, app, body({"message": f"push {n}"}), role="free")
    assert s.pushes_today(app.clock.time()) == 10
    assert reject(client, app, documented("push.request"), 422, role="free") == \
        wrong(FREE_LIMIT)
    # The paid site has no such limit.
    accept(client, app, documented("push.request"))
    # The limit is per day: the next UTC day (13:30 later) the site sends again.
    app.clock.advance(13.5 * 3600)
    accept(client, app, documented("push.request"), role="free")
    assert s.pushes_today(app.clock.time()) == 1


# == 1. Jackson's stage (400) and the media type (415) ==========================================
JACKSON = [
    pytest.param(body(ttl="abc"), "java.lang.Integer", id="ttl-abc"),
    pytest.param(body(ttl="12.5"), "java.lang.Integer", id="ttl-decimal-string"),
    pytest.param(body(ttl=1e10), "out of range of int", id="ttl-1e10"),
    pytest.param(body(ttl=2**31), "out of range of int", id="ttl-2**31"),
    pytest.param(body(ttl=True), "java.lang.Integer", id="ttl-boolean"),
    pytest.param(body(ttl=[1]), "java.lang.Integer", id="ttl-array"),
    pytest.param(body(display_time="soon"), "java.lang.Integer", id="display-word"),
    pytest.param(body(payload="abc"), "Payload", id="payload-string"),
    pytest.param(body(payload=["abc"]), "Payload", id="payload-array"),
    pytest.param(body(payload=1), "Payload", id="payload-number"),
    pytest.param(body(audience="everyone"), "Audience", id="audience-string"),
    pytest.param(body(audience={"tokens": "someregid"}), "ArrayList", id="tokens-string"),
    pytest.param(body(audience={"tags": {"name": "tag1"}}), "ArrayList", id="tags-object"),
    pytest.param(body(audience={"tags_segment": ["tag1"]}), "TagCondition",
                 id="tags-segment-strings"),
    pytest.param(body(segments="Sandbox testers"), "ArrayList", id="segments-string"),
    pytest.param(body({"buttons": {"title": "a", "url": "https://a.b"}}), "ArrayList",
                 id="buttons-object"),
    pytest.param(body({"buttons": ["Read"]}), "Button", id="button-string"),
    pytest.param(body({"message": {"text": "hi"}}), "java.lang.String", id="message-object"),
    pytest.param(body({"redirect_url": ["https://gravitec.net"]}), "java.lang.String",
                 id="redirect-array"),
    pytest.param(body(is_transactional="yes"), "java.lang.Boolean", id="transactional-yes"),
    pytest.param(body(is_transactional={}), "java.lang.Boolean", id="transactional-object"),
    pytest.param(body(push_tag=["a"]), "java.lang.String", id="push-tag-array"),
    pytest.param([documented("push.request")], "PushRequest", id="body-array"),
    pytest.param("push", "PushRequest", id="body-string"),
    pytest.param(True, "PushRequest", id="body-true"),
    pytest.param(5, "PushRequest", id="body-number"),
]


def assert_spring_400(out: dict[str, Any], *fragments: str) -> None:
    assert set(out) == {"timestamp", "status", "error", "message", "path"}
    assert out == spring(400, "Bad Request", out["message"])
    assert out["message"].startswith("JSON parse error: "), out["message"]
    for fragment in fragments:
        assert fragment in out["message"], out["message"]


@pytest.mark.parametrize("request_body,fragment", JACKSON)
def test_jackson_refuses(client, app, request_body, fragment):
    assert_spring_400(reject(client, app, request_body, 400), fragment)


@pytest.mark.parametrize("raw", [
    pytest.param(b"{", id="unclosed"),
    pytest.param(b'{"payload": {"message": "m", "redirect_url": "https://a.b"}', id="truncated"),
    pytest.param(b"{'payload': {}}", id="single-quotes"),
    pytest.param(b'{"payload": {"message": "m"}} x', id="trailing-garbage"),
    pytest.param(b'{"ttl": NaN, "payload": {}}', id="nan"),
    pytest.param(b"payload=1", id="form-as-json"),
])
def test_malformed_json(client, app, raw):
    out = reject(client, app, None, 400, content=raw, headers={"Content-Type":
                                                                "application/json"})
    assert_spring_400(out)


@pytest.mark.parametrize("raw", [b"", b"  \n", b"null", b" null "],
                         ids=["empty", "whitespace", "json-null", "json-null-spaced"])
def test_empty_body(client, app, raw):
    """No body, or a JSON null: Spring's required @RequestBody finds nothing to bind."""
    out = reject(client, app, None, 400, content=raw,
                 headers={"Content-Type": "application/json"})
    assert out == spring(400, "Bad Request", "Required request body is missing")


@pytest.mark.parametrize("headers,content,shown", [
    pytest.param({"Content-Type": "application/x-www-form-urlencoded"},
                 b"payload=%7B%7D", "application/x-www-form-urlencoded", id="form"),
    pytest.param({"Content-Type": "text/plain"}, b'{"payload": {}}', "text/plain",
                 id="text-plain"),
    pytest.param({"Content-Type": "text/plain;charset=UTF-8"}, b"hello",
                 "text/plain;charset=UTF-8", id="text-plain-charset"),
    pytest.param({"Content-Type": "multipart/form-data; boundary=x"},
                 b"--x\r\n\r\n--x--\r\n", "multipart/form-data; boundary=x", id="multipart"),
])
def test_not_json_is_415(client, app, headers, content, shown):
    out = reject(client, app, None, 415, content=content, headers=headers)
    assert out == spring(415, "Unsupported Media Type", f"Content type '{shown}' not supported")


def test_utf8_byte_order_mark_is_skipped(client, app):
    """Jackson skips a leading UTF-8 BOM, as some .NET JSON writers send one."""
    raw = "\ufeff" + '{"payload": {"message": "m", "redirect_url": "https://gravitec.net"}}'
    r = client.post(f"{BASE}/push", content=raw.encode(), auth=SANDBOX,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert site(app).campaigns[r.json()["id"]].payload["message"] == "m"


def test_form_encoded_fields_are_415_too(client, app):
    out = reject(client, app, None, 415, data={"payload": '{"message": "m"}'})
    assert out["message"] == "Content type 'application/x-www-form-urlencoded' not supported"


# == 2. tags_segment, left to right, as the doc's two examples ==================================
def test_doc_example_and_not(client, app):
    """"all followers with tag tag1 and without tag2"."""
    audience = documented("tags-segment-and.request")
    out, campaign = accept(client, app, body(audience=audience))
    want = reach(site(app), lambda t: "tag1" in t and "tag2" not in t)
    assert want > 0 and campaign.send == want
    assert stats(client, out["id"]).json()["send"] == want
    assert campaign.audience == ("tags_segment", audience["tags_segment"])
    # The documented followers by name: two have tag1 without tag2, one has both.
    reached = site(app).resolve(campaign.audience)
    assert {"someregid", "dec301908b9ba...8df85e57a58e40f96f"} <= reached
    assert "okf8kj589ktGF5g3gF" not in reached


def test_doc_example_or(client, app):
    """"all followers without tag tag1 or with tag2"."""
    out, campaign = accept(client, app, body(audience=documented("tags-segment-or.request")))
    want = reach(site(app), lambda t: "tag1" not in t or "tag2" in t)
    assert want > 0 and campaign.send == want
    assert stats(client, out["id"]).json()["send"] == want


def test_tags_segment_is_read_left_to_right_not_by_precedence(client, app):
    """[A OR B AND C] is (A or B) and C; with precedence it would be A or (B and C)."""
    names = ("tag1", "tag2", "news")
    for reg_id, tags in (("a-only", ["tag1"]), ("bc", ["tag2", "news"]), ("ac", ["tag1", "news"])):
        assert add_subscriber(client, regId=reg_id, tags=tags).status_code == 201
    _, campaign = accept(client, app, body(audience=segment(
        ("AND", names[0]), ("OR", names[1]), ("AND", names[2]))))
    s = site(app)
    left_to_right = reach(s, lambda t: ("tag1" in t or "tag2" in t) and "news" in t)
    precedence = reach(s, lambda t: "tag1" in t or ("tag2" in t and "news" in t))
    assert left_to_right != precedence
    assert campaign.send == left_to_right


def test_inactive_followers_are_never_reached(client, app):
    """Not by tag, by a negated tag, by token or by alias (the doc's inactive follower shares
    alias1 with an active one)."""
    _, campaign = accept(client, app, body(audience={"aliases": ["alias1"]}))
    assert campaign.send == 1
    assert add_subscriber(client, regId="sleeper", tags=["only-here"],
                          active=False).status_code == 201
    for audience in (segment(("AND", "only-here")), segment(("AND_NOT", "tag1")),
                     {"tags": ["only-here"]}, {"tokens": ["sleeper"]}):
        _, campaign = accept(client, app, body(audience=audience))
        assert "sleeper" not in site(app).resolve(campaign.audience)
    _, campaign = accept(client, app, body(audience=segment(("AND", "only-here"))))
    assert campaign.send == 0


# == 3. hypothesis =================================================================================
class World:
    """One app for a property; each example starts from a fresh tenant store."""

    def __init__(self) -> None:
        self.app = create_app(seed=0, clock=Clock(DOC_TIME))
        self.client = MockClient(self.app)

    def reset(self) -> None:
        self.app.clock.set(DOC_TIME)
        self.app.tenants.reset()

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


VOCABULARY = ["alpha", "Beta", "gamma", "delta", "cars", "news", "x"]
OPERATORS = ["AND", "AND_NOT", "OR", "OR_NOT"]


@st.composite
def spelling(draw, name: str) -> str:
    """`name` in some letter case."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.swapcase() if f else c for c, f in zip(name, flips))


@st.composite
def followers(draw) -> dict[str, tuple[bool, list[str]]]:
    """regId -> (active, tags), tags from a small vocabulary in any letter case."""
    out: dict[str, tuple[bool, list[str]]] = {}
    for n in range(draw(st.integers(1, 25))):
        names = draw(st.lists(st.sampled_from(VOCABULARY), max_size=4,
                              unique_by=str.lower))
        tags = [draw(spelling(t)) for t in names]
        out[f"f{n:02d}"] = (draw(st.booleans() | st.just(True)), tags)
    return out


def reference_send(model: dict[str, tuple[bool, list[str]]],
                   conditions: list[dict[str, str]]) -> int:
    """How many followers the doc's tags_segment reaches, decided follower by follower."""
    reached = 0
    for active, tags in model.values():
        if not active:
            continue
        own = {t.lower() for t in tags}
        value = False
        for i, cond in enumerate(conditions):
            tagged = cond["name"].lower() in own
            holds = tagged if cond["association"] in ("AND", "OR") else not tagged
            if i == 0:
                value = holds
            elif cond["association"] in ("AND", "AND_NOT"):
                value = value and holds
            else:
                value = value or holds
        reached += value
    return reached


@FAST
@given(data=st.data(), model=followers(), via_admin=st.integers(0, 3))
def test_property_tags_segment_matches_reference(world, data, model, via_admin):
    from mockserver.vendors.gravitec.store import Follower, Site

    world.reset()
    app, client = world.app, world.client
    store = app.tenants.default.stores["gravitec"]
    old = store.sites["main"]
    # The first followers straight into a new site, the last few through the admin call (which
    # may also replace one of the first: the model keeps the last word).
    direct = list(model.items())[:len(model) - via_admin] if via_admin < len(model) else []
    store.sites["main"] = Site("main", old.plan, old.segments,
                               [Follower(r, a, list(t)) for r, (a, t) in direct], old.limit)
    final = dict(direct)
    for reg_id, (active, tags) in list(model.items())[len(direct):]:
        if direct and data.draw(st.booleans(), label="replace"):
            reg_id = data.draw(st.sampled_from([r for r, _ in direct]), label="replaced")
        r = add_subscriber(client, regId=reg_id, tags=tags, active=active)
        assert r.status_code in (200, 201), r.text
        final[reg_id] = (active, tags)
    assert len(site(app).followers) == len(final)

    existing = sorted({t.lower() for _, tags in final.values() for t in tags})
    assume(existing)
    names = data.draw(st.lists(st.sampled_from(existing), min_size=1, max_size=len(existing),
                               unique=True), label="names")
    conditions = [{"association": data.draw(st.sampled_from(OPERATORS), label="op"),
                   "name": data.draw(spelling(n), label="spelled")} for n in names]
    out, campaign = accept(client, app, body(audience={"tags_segment": conditions}))
    want = reference_send(final, conditions)
    assert campaign.send == want
    assert stats(client, out["id"]).json()["send"] == want


@FAST
@given(base=st.sampled_from(["news", "Cars", "x", "Sport_2024"]),
       other=st.sampled_from(["tag1", "Premium"]), data=st.data())
def test_property_a_tag_added_in_any_case_is_kept_once(world, base, other, data):
    world.reset()
    app, client = world.app, world.client
    assert add_subscriber(client, regId="taggee", tags=[]).status_code == 201
    sequence = data.draw(st.lists(st.sampled_from([base, other]).flatmap(spelling),
                                  min_size=1, max_size=8), label="sequence")
    for name in sequence:
        r = client.post(f"{BASE}/tag", params={"regId": "taggee", "name": name}, auth=SANDBOX)
        assert r.status_code == 200 and r.content == b""
    first: dict[str, str] = {}
    for name in sequence:
        first.setdefault(name.lower(), name)
    follower = site(app).followers["taggee"]
    assert follower.tags == list(first.values())
    for name in sequence:  # every spelling selects the follower, once
        _, campaign = accept(client, app, body(audience=segment(("AND", name.swapcase()))))
        assert campaign.send == reach(site(app), lambda t: name.lower() in t)
        assert "taggee" in site(app).resolve(campaign.audience)


def _long(n: int) -> str:
    return "n" * n


# One broken rule each, with random values: (strategy of the broken body).
BROKEN = st.one_of(
    st.integers(-2**31, -1).map(lambda v: body(ttl=v)),
    st.integers(2419201, 2**31 - 1).map(lambda v: body(ttl=v)),
    st.integers(2**31, 2**53).map(lambda v: body(display_time=v)),
    st.integers(-2**31, -1).map(lambda v: body(display_time=str(v))),
    st.text(string.ascii_letters, min_size=1, max_size=8).map(lambda v: body(ttl=v)),
    st.integers(1001, 1100).map(lambda n: body({"message": "m" * n})),
    st.integers(501, 540).map(lambda n: body({"message": EMOJI * n})),
    st.sampled_from([ABSENT, None, "", " ", "\t"]).map(lambda v: body({"message": v})),
    st.integers(1001, 1100).map(lambda n: body({"title": "t" * n})),
    st.tuples(st.sampled_from(["icon", "image"]),
              st.sampled_from([".gif", ".bmp", ".webp", ".svg", ".png ", " .jpg", ".pn"]),
              st.text(string.ascii_lowercase, min_size=1, max_size=10)).map(
        lambda v: body({v[0]: f"https://cdn.example.com/{v[2]}{v[1]}"})),
    st.tuples(st.sampled_from([" ", "\t", "  "]), st.booleans()).map(
        lambda v: body({"redirect_url": v[0] + "https://gravitec.net" if v[1]
                        else "https://gravitec.net" + v[0]})),
    st.text(string.ascii_letters + ". /", min_size=1, max_size=20).map(
        lambda v: body({"redirect_url": v})),
    st.integers(1001, 1200).map(lambda n: body({"redirect_url": url(n)})),
    st.integers(3, 6).map(lambda n: body({"buttons": [button(str(i)) for i in range(n)]})),
    st.integers(49, 60).map(lambda n: body({"buttons": [button("b" * n)]})),
    st.integers(101, 140).map(lambda n: body(push_tag=_long(n))),
    st.integers(0, NOW_MS - 1).flatmap(
        lambda v: st.sampled_from([body(send_date=v), body(send_date=str(v))])),
    st.text(string.ascii_letters + ":-", min_size=1, max_size=12).filter(
        lambda v: v.strip().lower() != "now").map(lambda v: body(send_date=v)),
    st.text(string.ascii_letters + " ", min_size=1, max_size=20).filter(
        lambda v: v not in ("Sandbox testers", "Car fans without news")).map(
        lambda v: body(segments=[v])),
    st.lists(st.sampled_from(["Sandbox testers", "Car fans without news"]), min_size=2,
             max_size=3).map(lambda v: body(segments=v)),
    st.lists(st.sampled_from(["tokens", "aliases", "tags"]), min_size=2, max_size=3,
             unique=True).map(lambda keys: body(audience={k: ["tag1"] for k in keys})),
    st.integers(101, 150).map(lambda n: body(audience={"tokens": [str(i) for i in range(n)]})),
    st.text(string.ascii_lowercase, min_size=1, max_size=10).map(
        lambda v: body(audience=segment(("AND", "tag1"), ("OR", "zz" + v)))),
    st.text(string.ascii_letters + "_", min_size=0, max_size=8).filter(
        lambda v: v not in OPERATORS).map(lambda v: body(audience=segment((v, "tag1")))),
    spelling("tag1").map(lambda v: body(audience=segment(("AND", "tag1"), ("AND_NOT", v)))),
    st.integers(257, 300).map(lambda n: body(audience=segment(*[("OR", f"t{i}")
                                                                  for i in range(n)]))),
    st.sampled_from([{}, {"payload": None}, {"payload": "x"}, [], "x", 5]),
)

BAD_FOLLOWER_CALL = st.one_of(
    # (method, path, params, auth)
    st.tuples(st.sampled_from(["POST /alias", "POST /tag", "DELETE /tag"]),
              st.sampled_from(["someregid", "okf8kj589ktGF5g3gF", ""]),
              st.text(string.ascii_letters, min_size=1, max_size=10),
              st.sampled_from(["no-regId", "no-name", "empty-name", "unknown-regId",
                               "long-name", "bad-auth"]),
              st.integers(256, 300)),
    st.tuples(st.just("DELETE /tag"), st.sampled_from(["someregid", "okf8kj589ktGF5g3gF"]),
              st.text(string.ascii_lowercase, min_size=1, max_size=10).map(lambda v: "zz" + v),
              st.just("not-on-follower"), st.just(0)),
)


def _bad_call(call) -> tuple[str, str, dict[str, str], Any]:
    route, reg_id, name, broken, n = call
    method, path = route.split()
    params = {"regId": reg_id or "someregid", "name": name}
    auth: Any = SANDBOX
    if broken == "no-regId":
        del params["regId"]
    elif broken == "no-name":
        del params["name"]
    elif broken == "empty-name":
        params["name"] = ""
    elif broken == "unknown-regId":
        params["regId"] = "unknown-" + name
    elif broken == "long-name":
        params["name"] = "n" * n
    elif broken == "bad-auth":
        auth = (SANDBOX[0], "wrong-secret")
    return method, path, params, auth


@FAST
@given(rejected=st.lists(st.one_of(BROKEN.map(lambda b: ("push", b)),
                                   BAD_FOLLOWER_CALL.map(lambda c: ("follower", c))),
                         min_size=1, max_size=4),
       role=st.sampled_from(["main", "free"]))
def test_property_rejected_request_changes_nothing(world, rejected, role):
    world.reset()
    app, client = world.app, world.client
    auth = SANDBOX if role == "main" else FREE
    # Some state to keep: a sent and a scheduled campaign, and the free site's daily count.
    accept(client, app, documented("push.request"), role=role)
    accept(client, app, body(send_date=NOW_MS + HOUR_MS), role=role)
    before = state(app)
    for kind, what in rejected:
        if kind == "push":
            r = push(client, what, auth=auth)
            assert r.status_code in (400, 422), r.text
        else:
            method, path, params, call_auth = _bad_call(what)
            r = client.request(method, f"{BASE}{path}", params=params,
                                auth=auth if call_auth is SANDBOX else call_auth)
            assert r.status_code in (400, 403, 422), r.text
        assert state(app) == before
