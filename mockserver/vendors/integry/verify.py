"""`mockserver verify integry`: the probes. Reads (the apps and functions catalogues, an app, a
function, predict), and calls the API refuses before it does anything (a wrong hash, no App-Key,
a user with no connected account, a call without its required arguments, unknown apps,
functions, routes and methods, a body over the limit). Only a function call that posts runs
with --allow-writes: a Slack message whose text names the run's label.

Every call is signed: `Hash` is the hex HMAC-SHA256 of the user id keyed by the app secret
(README.md, "Sandbox credentials"), so each side signs with its own secret.
"""
from __future__ import annotations

from typing import Any

from ...core.probe import Answer, Call, Input, Probe, Side
from .auth import signature

BASE_URLS = {"api": "https://api.integry.io"}
INPUTS = {
    "appKey": Input("the App-Key (Integry app, Settings)", secret=False),
    "appSecret": Input("the App-Secret that signs each call's Hash"),
    "userId": Input("a user id of your app (the User-ID the calls are made as)", secret=False),
}
WRONG = "mockserver-verify-wrong-secret"
UNKNOWN = "mockserver-verify-unknown"
# A user id no app has seen: no connected account of its own
NEW_USER = "mockserver-verify-user-without-accounts"
OVER_LIMIT = 1024 * 1024 + 1024  # the mock's 1 MiB body limit, and then some
APPS_PAGE = ("$.apps", "$._cursor")
FUNCTIONS_PAGE = ("$.functions", "$._cursor")
# A function's JSON Schema, its predicted arguments and a call's output are data (which
# functions, which parameters, what the app answered), not Integry's shape
DATA = frozenset({"parameters", "arguments", "output"})
# The doc's predict sample: the mock answers it with the doc's answer
PROMPT = ("Send a message on Slack on random that contact just signed up! Include the "
          "contact's details.")
VARIABLES = {"first_name": "John", "last_name": "Doe"}


def base_of(path: str) -> str:
    return "api"


def sandbox(server: Any) -> dict[str, str]:
    return dict(server.vendors["integry"].default_credentials)


def _signed(side: Side, user: str | None = None, secret: str | None = None) -> dict[str, str]:
    user = side.get("userId") if user is None else user
    secret = side.get("appSecret") if secret is None else secret
    return {"app-key": side.get("appKey"), "user-id": user, "hash": signature(secret, user)}


def _post(path: str, payload: Any = None, *query: tuple[str, str], user: str | None = None):
    """A signed POST (every Integry call is one); `payload` None sends no body, as the Python
    SDK's apps.get does."""
    def build(side: Side) -> Call:
        headers = _signed(side, user)
        if payload is None:
            return Call("POST", path, headers, query)
        return Call.json("POST", path, payload, headers, query=query)
    return build


def _keep(key: str, items: str, field: str | None = None):
    """Keep the answer's `_cursor` (field None) or its first item's `field`."""
    def keep(side: Side, answer: Answer) -> None:
        body = answer.json()
        if not isinstance(body, dict):
            return
        if field is None:
            if isinstance(body.get("_cursor"), str) and body["_cursor"]:
                side.kept[key] = body["_cursor"]
            return
        rows = body.get(items)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) \
                and isinstance(rows[0].get(field), str):
            side.kept[key] = rows[0][field]
    return keep


def _next_page(path: str, key: str):
    def build(side: Side) -> Call | None:
        cursor = side.get(key)
        return None if cursor is None else Call.json("POST", path, {"_cursor": cursor},
                                                     _signed(side))
    return build


def _with(key: str, path: str, payload: Any = None):
    def build(side: Side) -> Call | None:
        value = side.get(key)
        return None if value is None else _post(path.format(value), payload)(side)
    return build


def _keeps(*keeps):
    def keep(side: Side, answer: Answer) -> None:
        for one in keeps:
            one(side, answer)
    return keep


def _without_key(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "app-key"}


def _post_message(side: Side) -> Call:
    label = side.get("label")
    return Call.json("POST", "/functions/slack-post-message/call/",
                     {"channel": "random", "text": f"{label}: a message of mockserver verify's "
                      "write probe (safe to delete)", "_variables": None}, _signed(side))


def probes() -> list[Probe]:
    read = "a read"
    return [
        Probe("apps list", _post("/apps/list/", {}), read, page=APPS_PAGE,
              keep=_keeps(_keep("app", "apps", "name"), _keep("apps cursor", "apps"))),
        Probe("apps list, next page", _next_page("/apps/list/", "apps cursor"), read,
              page=APPS_PAGE, needs="a second page of apps (the apps list probe)"),
        Probe("app get", _with("app", "/apps/{}/get/"), read,
              needs="an app (the apps list probe)"),
        Probe("app get, unknown app", _post(f"/apps/{UNKNOWN}/get/"),
              "refused: no such app", exact=True),
        Probe("functions list", _post("/functions/list/", {}), read, page=FUNCTIONS_PAGE,
              opaque=DATA, keep=_keeps(_keep("function", "functions", "name"),
                                       _keep("functions cursor", "functions"))),
        Probe("functions list, next page", _next_page("/functions/list/", "functions cursor"),
              read, page=FUNCTIONS_PAGE, opaque=DATA,
              needs="a second page of functions (the functions list probe)"),
        Probe("function get", _with("function", "/functions/{}/get/", {}), read, opaque=DATA,
              needs="a function (the functions list probe)"),
        Probe("function get, unknown function", _post(f"/functions/{UNKNOWN}/get/", {}),
              "refused: no such function", exact=True),
        Probe("predict", _post("/functions/predict/", {"prompt": PROMPT,
                                                       "_variables": VARIABLES},
                               ("predict_arguments", "true")),
              "a read: names a function and its arguments, calls nothing", opaque=DATA),
        Probe("predict, empty prompt", _post("/functions/predict/", {"prompt": ""}),
              "refused: the prompt is required", exact=True),
        Probe("apps list, wrong hash",
              lambda s: Call.json("POST", "/apps/list/", {}, _signed(s, secret=WRONG)),
              "refused: the hash is not the secret's", authed=False, exact=True),
        Probe("apps list, no App-Key",
              lambda s: Call.json("POST", "/apps/list/", {}, _without_key(_signed(s))),
              "refused: no credentials", authed=False, exact=True),
        # A QUERY function (it only reads, were it ever run), as a user that never connected
        # an account, with the workspace's accounts declined: refused as not connected. Its
        # `error` summary is the mock's wording; `error_details` is the documented text.
        Probe("function call, user without accounts",
              _post("/functions/slack-list-conversations/call/", {"_variables": None},
                    ("allow_workspace_connected_accounts", "false"), user=NEW_USER),
              "refused: the user has no connected account", exact=True,
              volatile=frozenset({"error"})),
        Probe("function call, required arguments missing",
              _post("/functions/slack-post-message/call/", {"_variables": None}),
              "refused: channel and text are required, so nothing is posted", exact=True),
        Probe("function call, unknown function",
              _post(f"/functions/{UNKNOWN}/call/", {"_variables": None}),
              "refused: no such function", exact=True),
        Probe("apps list, body over the limit",
              lambda s: Call("POST", "/apps/list/", {"content-type": "application/json",
                                                     **_signed(s)},
                             body=b'{"_cursor": "' + b"x" * OVER_LIMIT + b'"}'),
              "refused: the body is over 1 MiB (and a list reads only)"),
        Probe("unknown route", lambda s: Call("POST", f"/{UNKNOWN}/"),
              "refused: no such route", authed=False, exact=True),
        # Signed, as DRF authenticates before it finds the method missing; not counted as
        # sending credentials, since the answer does not depend on them
        Probe("unknown method", lambda s: Call("GET", "/apps/list/", _signed(s)),
              "refused: GET is no method of the API", authed=False, exact=True),
        Probe("function call", _post_message,
              "posts a Slack message to #random whose text names the run's label (the API "
              "cannot delete it)", write=True, opaque=DATA),
    ]
