"""The documented examples: stored verbatim, valid against the contracts, served back."""
from __future__ import annotations

import base64
import json
import re

import pytest

from mockserver.core.contracts import load
from tests.gravy.test_documented import missing_input

from ..conftest import vendor_doc
from .conftest import BASE, DOCUMENTED, FREE, SANDBOX, documented, push, push_body, site, stats

NOW_MS = 1705314600000  # the frozen test clock, 2024-01-15T10:30:00.000Z

# Each stored example and the contract it falls under.
SCHEMAS = {
    "alias-active.response": "alias.response.json",
    "alias-inactive.response": "alias.response.json",
    "alias-no-alias.response": "alias.response.json",
    "alias-no-regid.response": "alias.response.json",
    "message.response": "message.response.json",
    "name-too-long.response": "wrong-param.json",
    "no-follower.response": "wrong-param.json",
    "no-message.response": "wrong-param.json",
    "tag-not-on-follower.response": "wrong-param.json",
    "push-bad-auth.response": "bad-auth.json",
    "push.response": "push.response.json",
    "push.request": "push.request.json",
    "push-bad-auth.request": "push.request.json",
    # audience fragments: checked inside the documented push request
    "tags-segment-and.request": "push.request.json",
    "tags-segment-or.request": "push.request.json",
}
ALIAS_OF_LITERAL_URL = "okf8kj589ktGF5g3gF"  # what the doc's URL sends: "#" starts a fragment
ALIAS_DOC_REGID = "okf8kj589ktGF5g3gF#gf3#46g^^6gfGfgfgfg%g5g"  # the regId as the doc writes it
DOC_BAD_AUTH_KEY = "5459059059405940gpgkj"
DOC_CAMPAIGN = "1603861504654835713"  # the doc's stats example URL's id


def doc_examples(text: str) -> list:
    """Every JSON example of the page: each block opening a line with "{", and the tags_segment
    snippets (written as a bare property) as {"tags_segment": [...]}. The request-properties
    template (`[{""}]`) is not JSON and is left out."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r"(?m)^\{", text):
        try:
            out.append(decoder.raw_decode(text, m.start())[0])
        except ValueError:
            assert text[m.start():].startswith('{\n"send_date": ""'), text[m.start():][:80]
    for m in re.finditer(r'(?m)^"tags_segment": (?=\[\{\n)', text):
        out.append({"tags_segment": decoder.raw_decode(text, m.end())[0]})
    return out


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True)


# -- the stored examples -------------------------------------------------------------------
def test_stored_examples_are_the_documented_ones_verbatim():
    doc = vendor_doc("gravitec.txt")
    if doc is None:
        missing_input("the vendor docs are not beside this checkout (gravitec.txt)")
    examples = doc_examples(doc.read_text())
    in_doc = {canonical(e) for e in examples}
    stored = {name: canonical(documented(name)) for name in SCHEMAS}
    for name, text in stored.items():
        assert text in in_doc, f"{name} is not one of the doc's examples"
    # and every distinct example of the page is stored (the 422 bodies repeat on the page)
    assert in_doc == set(stored.values())
    assert len(examples) == 19


def test_every_stored_example_is_listed():
    assert sorted(p.stem for p in DOCUMENTED.glob("*.json")) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_documented_example_satisfies_its_contract(name):
    example = documented(name)
    if name.startswith("tags-segment"):
        example = {**documented("push.request"), "audience": example}
    load().check("gravitec", SCHEMAS[name], example)


# -- POST /api/v3/push ---------------------------------------------------------------------------
def test_documented_push_request_gets_the_documented_response(client):
    r = client.post(f"{BASE}/push", json=documented("push.request"), auth=SANDBOX)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    got, want = r.json(), documented("push.response")
    assert list(got) == list(want)
    # The example shows ttl 86400 for a request without "ttl" while the doc's property list
    # says the default is 28800: the documented request gets the example's value.
    assert {k: got[k] for k in ("ttl", "display_time", "payload")} == \
        {k: want[k] for k in ("ttl", "display_time", "payload")}
    # id and send_date are minted: a snowflake id, and the mock clock's "now" in milliseconds
    assert re.fullmatch(r"[0-9]{19}", got["id"]) and len(got["id"]) == len(want["id"])
    assert got["send_date"] == str(NOW_MS)
    # any other request without ttl: the documented default
    body = documented("push.request")
    body["payload"]["message"] = "Test massage"   # as the doc's 403 example writes it
    r = client.post(f"{BASE}/push", json=body, auth=SANDBOX)
    assert r.status_code == 200 and r.json()["ttl"] == 28800


def test_documented_bad_auth_key_gets_the_documented_body(client):
    r = push(client, documented("push-bad-auth.request"), auth=(DOC_BAD_AUTH_KEY, "whatever"))
    assert r.status_code == 403
    assert r.json() == documented("push-bad-auth.response")


def test_documented_bad_auth_request_gets_the_documented_body(client):
    """The doc's request sends "ghjghjgh:hgmjghj" and its answer names another key: that
    request gets that answer; any other unknown key is named as sent."""
    header = "Basic Z2hqZ2hqZ2g6aGdtamdoag=="
    assert base64.b64decode(header.split()[1]) == b"ghjghjgh:hgmjghj"
    r = client.post(f"{BASE}/push", json=documented("push-bad-auth.request"),
                    headers={"Authorization": header, "Cache-Control": "no-cache"})
    assert r.status_code == 403
    assert r.json() == documented("push-bad-auth.response")
    r = push(client, documented("push-bad-auth.request"), auth=("ghjghjgh", "other"))
    assert r.json() == {**documented("push-bad-auth.response"),
                        "error_message": "There is no web site with appKey: ghjghjgh"}


# -- GET /api/v3/alias ---------------------------------------------------------------------------
@pytest.mark.parametrize("reg_id, name", [
    ("no-such-regid", "alias-no-regid.response"),
    ("someregid", "alias-no-alias.response"),
    (ALIAS_DOC_REGID, "alias-inactive.response"),
    (ALIAS_OF_LITERAL_URL, "alias-active.response"),
])
def test_documented_alias_variants(client, reg_id, name):
    r = client.get(f"{BASE}/alias", params={"regId": reg_id}, auth=SANDBOX)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == documented(name)
    assert r.content == r.content.strip()  # exactly the body, nothing around it


def test_the_docs_literal_alias_url_sends_what_precedes_the_fragment(client):
    r = client.get(f"{BASE}/alias?regId={ALIAS_DOC_REGID}", auth=SANDBOX)
    assert r.request.url.query == f"regId={ALIAS_OF_LITERAL_URL}".encode()
    assert r.status_code == 200
    assert r.json() == documented("alias-active.response")


def test_documented_empty_regid_is_springs_missing_parameter(client):
    r = client.get(f"{BASE}/alias?regId=", auth=SANDBOX)
    assert r.status_code == 400
    assert r.json() == {"timestamp": "2024-01-15T10:30:00.000+0000", "status": 400,
                        "error": "Bad Request",
                        "message": "Required String parameter 'regId' is not present",
                        "path": "/api/v3/alias"}


# -- GET /api/v3/messages/{campaignID} ---------------------------------------------------------
def test_documented_stats_of_a_push_to_two_followers(client):
    body = push_body()
    body["audience"] = {"tokens": ["someregid", ALIAS_OF_LITERAL_URL]}  # two active followers
    r = push(client, body)
    assert r.status_code == 200, r.text
    campaign = r.json()["id"]
    r = client.post("/__admin/clock", json={"advance": 600})
    assert r.status_code == 200
    r = stats(client, campaign)
    assert r.status_code == 200
    assert r.json() == documented("message.response")


def test_documented_unknown_campaign(client):
    r = stats(client, "1603861504654835714")  # never minted here
    assert r.status_code == 422
    assert r.json() == documented("no-message.response")


def test_the_docs_example_campaign_id_answers_the_documented_stats(client, app):
    r = stats(client, DOC_CAMPAIGN)
    assert r.status_code == 200
    assert r.json() == documented("message.response")
    # an answer of the doc's, not a campaign of the site: nothing counts or exports it
    assert DOC_CAMPAIGN not in site(app).campaigns
    # the main site's only: the free-plan site has no such campaign
    assert stats(client, DOC_CAMPAIGN, auth=FREE).status_code == 422


@pytest.mark.parametrize("path", ["/api/v3/messages", "/api/v3/messages/"])
def test_documented_missing_campaign_id(client, path):
    r = client.get(f"/gravitec{path}", auth=SANDBOX)
    assert r.status_code == 400
    assert r.json() == {"timestamp": "2024-01-15T10:30:00.000+0000", "status": 400,
                        "error": "Bad Request",
                        "message": "Required String parameter 'campaignID' is not present",
                        "path": path}


# -- the followers' documented 422s --------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("POST", "alias"), ("POST", "tag"), ("DELETE", "tag")])
def test_documented_no_follower(client, method, path):
    r = client.request(method, f"{BASE}/{path}", params={"regId": "nobody", "name": "x"},
                       auth=SANDBOX)
    assert r.status_code == 422
    assert r.json() == documented("no-follower.response")


@pytest.mark.parametrize("method, path", [("POST", "alias"), ("POST", "tag"), ("DELETE", "tag")])
def test_documented_name_too_long(client, method, path):
    r = client.request(method, f"{BASE}/{path}", params={"regId": "someregid", "name": "n" * 256},
                       auth=SANDBOX)
    assert r.status_code == 422
    assert r.json() == documented("name-too-long.response")


def test_documented_tag_not_on_follower(client):
    r = client.delete(f"{BASE}/tag", params={"regId": "someregid", "name": "tag2"}, auth=SANDBOX)
    assert r.status_code == 422
    assert r.json() == documented("tag-not-on-follower.response")


# -- the documented tags_segment examples --------------------------------------------------------
@pytest.mark.parametrize("name", ["tags-segment-and.request", "tags-segment-or.request"])
def test_documented_tags_segment_reaches_what_it_describes(client, app, name):
    segment = documented(name)["tags_segment"]
    s = site(app)
    has = {r: {t.lower() for t in f.tags} for r, f in s.followers.items() if f.active}
    if name.endswith("and.request"):   # with tag1 and without tag2
        want = [r for r, tags in has.items() if "tag1" in tags and "tag2" not in tags]
    else:                              # without tag1 or with tag2
        want = [r for r, tags in has.items() if "tag1" not in tags or "tag2" in tags]
    assert 0 < len(want) < len(has)
    r = push(client, {**push_body(), "audience": {"tags_segment": segment}})
    assert r.status_code == 200, r.text
    assert stats(client, r.json()["id"]).json()["send"] == len(want)


# -- every documented request and its documented answer, one test each -------------------------
HOST = "https://uapi.gravitec.net"
DOC_BASIC = {"Authorization": "Basic Z2hqZ2hqZ2g6aGdtamdoag==", "Cache-Control": "no-cache"}
# (method, URL as the doc writes it, auth, headers, JSON body, status, answer); an answer of None
# is an empty body (a void handler's 200). The 422 bodies the doc lists without a request are
# tested above with requests that produce them.
PAIRS = {
    "push": ("POST", f"{HOST}/api/v3/push", SANDBOX, {}, "push.request", 200, "push.response"),
    "push-bad-auth": ("POST", "https://api.gravitec.net/api/v3/push", None, DOC_BASIC,
                      "push-bad-auth.request", 403, "push-bad-auth.response"),
    "alias-add": ("POST", f"{HOST}/api/v3/alias?regId=someregid&name=newalias", SANDBOX, {},
                  None, 200, None),
    "tag-add": ("POST", f"{HOST}/api/v3/tag?regId=someregid&name=tagname", SANDBOX, {}, None,
                200, None),
    "tag-delete": ("DELETE", f"{HOST}/api/v3/tag?regId=someregid&name=tagname", SANDBOX, {},
                   None, 200, None),
    "alias-get-empty": ("GET", f"{HOST}/api/v3/alias?regId=", SANDBOX, {}, None, 400, None),
    # the four documented answers to the same URL: one per fixture follower (see above)
    "alias-get-no-regid": ("GET", f"{HOST}/api/v3/alias?regId=no-such-regid", SANDBOX, {}, None,
                           200, "alias-no-regid.response"),
    "alias-get-no-alias": ("GET", f"{HOST}/api/v3/alias?regId=someregid", SANDBOX, {}, None, 200,
                           "alias-no-alias.response"),
    "alias-get-inactive": ("GET", f"{HOST}/api/v3/alias", SANDBOX, {}, None, 200,
                           "alias-inactive.response"),
    "alias-get-active": ("GET", f"{HOST}/api/v3/alias?regId={ALIAS_DOC_REGID}", SANDBOX, {},
                         None, 200, "alias-active.response"),
    "messages": ("GET", f"{HOST}/api/v3/messages/{DOC_CAMPAIGN}", SANDBOX, {}, None, 200,
                 "message.response"),
}
MINTED = {"push": ("id", "send_date")}   # a snowflake id and the clock's now: checked above


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_every_documented_request_gets_its_documented_answer(client, name):
    method, url, auth, headers, body, status, answer = PAIRS[name]
    params = {"regId": ALIAS_DOC_REGID} if name == "alias-get-inactive" else None
    r = client.request(method, url, auth=auth, headers=headers, params=params,
                       json=None if body is None else documented(body))
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["message"] == "Required String parameter 'regId' is not present"
        return
    if answer is None:
        assert r.content == b""
        return
    got, want = r.json(), documented(answer)
    for key in MINTED.get(name, ()):
        got.pop(key), want.pop(key)
    assert got == want
