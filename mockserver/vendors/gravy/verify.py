"""`mockserver verify gravy`: the probes. Reads (a token, the connections and integrations), and
calls the API refuses before it does anything (wrong secret, no token, bad query, missing field,
a body over the limit, unknown routes). Only `intent token` creates something (a pending
connection's intent token): it runs with --allow-writes and names the label as its `userId`."""
from __future__ import annotations

from typing import Any

from ...core.probe import Answer, Call, Input, Probe, Side

BASE_URLS = {"api": "https://api.getpassage.ai"}
INPUTS = {
    "clientId": Input("the OAuth client id (Passage dashboard, API keys)", secret=False),
    "clientSecret": Input("the OAuth client secret"),
}
WRONG = "mockserver-verify-wrong-secret"
UNKNOWN = "mockserver-verify-unknown"
OVER_LIMIT = 101 * 1024  # body-parser's `limit`, 100kb, and then some
PAGE = ("$.data", "$.meta.hasNext")
META = ("$.meta.page", "$.meta.limit")
VOLATILE = frozenset({"timestamp"})


def base_of(path: str) -> str:
    return "api"


def sandbox(server: Any) -> dict[str, str]:
    return dict(server.vendors["gravy"].default_credentials)


def _token(side: Side, secret: str | None = None, grant: str = "client_credentials") -> Call:
    return Call.json("POST", "/oauth/token", {
        "grant_type": grant, "client_id": side.get("clientId"),
        "client_secret": secret if secret is not None else side.get("clientSecret")})


def _keep_token(side: Side, answer: Answer) -> None:
    body = answer.json()
    if isinstance(body, dict) and isinstance(body.get("access_token"), str):
        side.kept["token"] = body["access_token"]


def _bearer(side: Side) -> dict[str, str] | None:
    token = side.get("token")
    return None if token is None else {"authorization": f"Bearer {token}"}


def _get(path: str, *query: tuple[str, str]):
    def build(side: Side) -> Call | None:
        auth = _bearer(side)
        return None if auth is None else Call("GET", path, auth, query)
    return build


def _keep_first(key: str, field: str):
    def keep(side: Side, answer: Answer) -> None:
        body = answer.json()
        rows = body.get("data") if isinstance(body, dict) else body
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) \
                and isinstance(rows[0].get(field), str):
            side.kept[key] = rows[0][field]
    return keep


def _with(key: str, path: str):
    def build(side: Side) -> Call | None:
        auth, value = _bearer(side), side.get(key)
        return None if auth is None or value is None else Call("GET", path.format(value), auth)
    return build


def _intent(side: Side) -> Call | None:
    auth, integration = _bearer(side), side.get("integration")
    if auth is None or integration is None:
        return None
    return Call.json("POST", "/intent-token", {"integrationId": integration,
                                               "userId": side.get("label")}, auth)


def probes() -> list[Probe]:
    token_needed = "a token (the oauth token probe)"
    return [
        Probe("oauth token", _token, "issues a short-lived token; nothing else changes",
              keep=_keep_token),
        Probe("oauth token, wrong secret", lambda s: _token(s, WRONG),
              "refused: the secret is wrong; no token is made", authed=False, exact=True),
        Probe("oauth token, unsupported grant",
              lambda s: _token(s, grant="password"), "refused: grant_type is unsupported",
              authed=False, exact=True),
        Probe("oauth token, malformed JSON",
              lambda s: Call("POST", "/oauth/token", {"content-type": "application/json"},
                             body=b'{"grant_type": '), "refused: the body is no JSON",
              authed=False, exact=True),
        Probe("connections list", _get("/connections"), "a read", same=META, page=PAGE,
              volatile=VOLATILE, keep=_keep_first("connection", "id"), needs=token_needed),
        Probe("connections list, page 2 of 5", _get("/connections", ("page", "2"),
                                                    ("limit", "5")),
              "a read", same=META, page=PAGE, volatile=VOLATILE, needs=token_needed),
        Probe("connections list, limit not a number", _get("/connections", ("limit", "many")),
              "refused: the query is invalid", exact=True, volatile=VOLATILE,
              needs=token_needed),
        Probe("connections list, no token", lambda s: Call("GET", "/connections"),
              "refused: no credentials", authed=False, exact=True),
        Probe("connections list, wrong token",
              lambda s: Call("GET", "/connections", {"authorization": f"Bearer {WRONG}"}),
              "refused: the token is unknown", authed=False, exact=True),
        Probe("connection get", _with("connection", "/connections/{}"), "a read",
              volatile=VOLATILE, needs="a connection on the account"),
        Probe("connection get, unknown id", _get(f"/connections/{UNKNOWN}"),
              "refused: no such connection", exact=True, volatile=VOLATILE,
              needs=token_needed),
        Probe("integrations list", _get("/integrations"), "a read",
              keep=_keep_first("integration", "slug"), needs=token_needed),
        Probe("integration get", _with("integration", "/integrations/{}"), "a read",
              needs="an integration (the integrations list probe)"),
        Probe("integration get, unknown slug", _get(f"/integrations/{UNKNOWN}"),
              "refused: no such integration", exact=True, needs=token_needed),
        Probe("intent token, no integrationId",
              lambda s: None if _bearer(s) is None else Call.json("POST", "/intent-token", {},
                                                                    _bearer(s)),
              "refused by validation before anything is made", exact=True,
              volatile=VOLATILE, needs=token_needed),
        Probe("intent token, body over the limit",
              lambda s: None if _bearer(s) is None else Call(
                  "POST", "/intent-token", {"content-type": "application/json",
                                            **_bearer(s)},
                  body=b'{"userId": "' + b"x" * OVER_LIMIT + b'"}'),
              "refused by body-parser's 100kb limit before anything is read", exact=True, needs=token_needed),
        Probe("webhook key, unknown key id",
              lambda s: None if _bearer(s) is None else Call.json(
                  "POST", "/webhook_verification_key/get", {"key_id": UNKNOWN}, _bearer(s)),
              "refused: no such key", exact=True, needs=token_needed),
        Probe("unknown route", lambda s: Call("GET", f"/{UNKNOWN}"),
              "refused: Express's 404", authed=False, exact=True),
        Probe("unknown method", lambda s: Call("DELETE", "/integrations"),
              "refused: Express's 404 for a method no route has", authed=False, exact=True),
        Probe("intent token", _intent,
              "makes an intent token for a user named by the run's label; it expires unused "
              "(the API has no call to delete one)",
              write=True, volatile=VOLATILE, needs="an integration and a token"),
    ]
