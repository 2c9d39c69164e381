"""`mockserver verify gravitec`: the probes. Reads (a campaign's stats, an alias lookup), and
calls the API refuses before it does anything (pushes without `payload`, with an ill-typed
field, over the size limit or with wrong credentials; aliases and tags of a subscriber the site
does not have; unknown routes and methods). Every push a probe sends names an alias nobody
has as its audience, so even one the API took would reach no subscriber. With --allow-writes: a
push that is sent (to that same empty audience, marked transactional, `push_tag` the run's
label) and a tag added to a subscriber you name and removed again.
"""
from __future__ import annotations

import base64
from typing import Any

from ...core.probe import Answer, Call, Input, Probe, Side

BASE_URLS = {"api": "https://uapi.gravitec.net"}
INPUTS = {
    "appKey": Input("the App key (site Settings, REST API)", secret=False),
    "appSecret": Input("the App secret (site Settings, REST API)"),
    "campaignId": Input("a campaign id of your account to read (the campaign-read probe is "
                        "skipped without it)", secret=False, required=False),
    "regId": Input("a subscriber's token of your site to tag and untag (--allow-writes only)",
                   secret=False, required=False),
}
WRONG = "mockserver-verify-wrong-secret"
UNKNOWN = "mockserver-verify-unknown"
NOBODY = {"aliases": ["mockserver-verify-nobody"]}   # an audience no subscriber is in
UNKNOWN_CAMPAIGN = "1"     # no snowflake id of a campaign is this small
NAME_MAX = 255             # the doc's "1-255 symbols" for alias and tag names
OVER_LIMIT = 1024 * 1024 + 1024  # the mock's 1 MiB body limit, and then some
SPRING = frozenset({"timestamp"})   # Spring Boot's error body: when it was answered
JSON = {"content-type": "application/json"}


def base_of(path: str) -> str:
    return "api"


def sandbox(server: Any) -> dict[str, str]:
    vendor = server.vendors["gravitec"]
    main = next(s for s in vendor.template.sites if s.role == "main")
    follower = next(f for f in main.followers if f.active)
    return {**vendor.default_credentials,
            # the doc's stats example, answered on every tenant's main site
            "campaignId": next(iter(vendor.template.documented.messages)),
            "regId": follower.regId}


def _basic(key: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def _auth(side: Side) -> dict[str, str]:
    return _basic(side.get("appKey"), side.get("appSecret"))


def _get(path: str, *query: tuple[str, str]):
    return lambda side: Call("GET", path, _auth(side), query)


def _push(payload: Any, headers=_auth):
    return lambda side: Call.json("POST", "/api/v3/push", payload, headers(side))


def _campaign(key: str):
    def build(side: Side) -> Call | None:
        campaign = side.get(key)
        return None if campaign is None else Call("GET", f"/api/v3/messages/{campaign}",
                                                  _auth(side))
    return build


def _follower(method: str, path: str, reg_id: str, name: str):
    return lambda side: Call(method, path, _auth(side), (("regId", reg_id), ("name", name)))


def _sent(side: Side) -> Call:
    label = side.get("label")
    return Call.json("POST", "/api/v3/push", {
        "push_tag": label, "is_transactional": True, "audience": NOBODY,
        "payload": {"title": label, "message": f"{label}: mockserver verify's write probe",
                    "redirect_url": "https://example.com/"}}, _auth(side))


def _keep_id(side: Side, answer: Answer) -> None:
    body = answer.json()
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        side.kept["pushed"] = body["id"]


def _tag(method: str):
    def build(side: Side) -> Call | None:
        reg_id = side.get("regId")
        return None if reg_id is None else Call(method, "/api/v3/tag", _auth(side),
                                                (("regId", reg_id), ("name", side.get("label"))))
    return build


def probes() -> list[Probe]:
    wrong_param = frozenset({"errorDescription"})  # which rule: the mock's wording
    return [
        Probe("campaign read", _campaign("campaignId"), "a read",
              needs="campaignId (--credential campaignId=ID, a campaign of your account)"),
        Probe("campaign read, unknown id", _get(f"/api/v3/messages/{UNKNOWN_CAMPAIGN}"),
              "refused: no such campaign", exact=True),
        Probe("campaign read, no id", _get("/api/v3/messages"), "refused: the id is missing",
              volatile=SPRING),
        Probe("alias read, unknown subscriber", _get("/api/v3/alias", ("regId", UNKNOWN)),
              "a read: says the token is no subscriber's"),
        Probe("alias read, no regId", _get("/api/v3/alias"), "refused: regId is missing",
              volatile=SPRING),
        Probe("alias set, unknown subscriber",
              _follower("POST", "/api/v3/alias", UNKNOWN, UNKNOWN),
              "refused: no subscriber has this token", exact=True),
        Probe("tag add, unknown subscriber", _follower("POST", "/api/v3/tag", UNKNOWN, UNKNOWN),
              "refused: no subscriber has this token", exact=True),
        Probe("tag add, name too long",
              _follower("POST", "/api/v3/tag", UNKNOWN, "x" * (NAME_MAX + 1)),
              "refused: the name is over 255 characters", exact=True),
        Probe("tag remove, unknown subscriber",
              _follower("DELETE", "/api/v3/tag", UNKNOWN, UNKNOWN),
              "refused: no subscriber has this token", exact=True),
        # The summary texts are documented; which rule a description names is the mock's wording
        Probe("push without payload", _push({"audience": NOBODY}),
              "refused: payload is required", exact=True, volatile=wrong_param),
        Probe("push, ttl not a number",
              _push({"ttl": {"hours": 8}, "audience": NOBODY,
                     "payload": {"message": UNKNOWN, "redirect_url": "https://example.com/"}}),
              "refused: the body does not bind", volatile=SPRING),
        Probe("push, body over the limit",
              lambda s: Call("POST", "/api/v3/push", {**JSON, **_auth(s)},
                             body=b'{"audience": {"aliases": ["mockserver-verify-nobody"]}, '
                                  b'"push_tag": "' + b"x" * OVER_LIMIT + b'"}'),
              "refused: the body is over 1 MiB (and has no payload)"),
        # The answer names a key: the doc's example names another than the one sent, so only
        # the status text is compared
        Probe("push, wrong secret",
              _push({"audience": NOBODY}, lambda s: _basic(s.get("appKey"), WRONG)),
              "refused: the secret is wrong", authed=False, exact=True,
              volatile=frozenset({"error_message"})),
        Probe("push, unknown app key", _push({"audience": NOBODY},
                                             lambda s: _basic(UNKNOWN, WRONG)),
              "refused: no site has this key", authed=False, exact=True,
              volatile=frozenset({"error_message"})),
        Probe("push, no credentials", _push({"audience": NOBODY}, lambda s: {}),
              "refused: no credentials", authed=False, exact=True,
              volatile=frozenset({"error_message"})),
        Probe("unknown route", lambda s: Call("GET", f"/api/v3/{UNKNOWN}"),
              "refused: no such route", authed=False, exact=True, volatile=SPRING),
        # With credentials, in case the API checks them first; the answer does not depend on them
        Probe("unknown method", lambda s: Call("GET", "/api/v3/push", _auth(s)),
              "refused: GET is no method of /api/v3/push", authed=False, exact=True,
              volatile=SPRING),
        Probe("push", _sent,
              "sends a transactional campaign tagged with the run's label to an alias no "
              "subscriber has (reaches nobody; campaigns cannot be deleted)",
              write=True, keep=_keep_id),
        Probe("campaign read, the pushed campaign", _campaign("pushed"),
              "a read of the campaign the push probe made", write=True,
              needs="the push probe's campaign"),
        Probe("tag add", _tag("POST"),
              "tags the subscriber you named with the run's label; removed right after",
              write=True, undo=lambda side, answer: _tag("DELETE")(side),
              needs="regId (--credential regId=TOKEN, a subscriber of your site)"),
    ]
