"""`mockserver verify passage`: the probes. Reads (the providers catalogue, the links list, a
link), the public key endpoint, and calls the API refuses before it does anything (no key, a
wrong key, an unknown link, a create body that fails validation, an unknown claim code, a body
that is no JSON, unknown routes). Only `create link` makes something (a pending link that
expires unclaimed): it runs with --allow-writes and names the run's label as externalUserId.

The texts of errors other than "Link not found" and "Validation failed" are the mock's choice
(no source prints them), so those are compared by shape only.
"""
from __future__ import annotations

from typing import Any

from ...core.probe import Answer, Call, Input, Probe, Side

BASE_URLS = {"api": "https://connect.getpassage.ai"}
INPUTS = {"apiKey": Input("an organization's API key (psg_…, Passage dashboard)")}
WRONG = "psg_mockserver-verify-wrong-key"
UNKNOWN = "mockserver-verify-unknown"
VOLATILE = frozenset({"createdAt", "expiresAt", "updatedAt", "linkId", "claimCode", "id",
                      "appClipUrl", "currentSessionId"})
# A provider's JSON Schemas and a link's result are data, not the API's shape
DATA = frozenset({"arguments", "result"})


def base_of(path: str) -> str:
    return "api"


def sandbox(server: Any) -> dict[str, str]:
    return dict(server.vendors["passage"].default_credentials)


def _auth(side: Side) -> dict[str, str]:
    return {"authorization": f"Bearer {side.get('apiKey')}"}


def _get(path: str):
    return lambda side: Call("GET", path, _auth(side))


def _keep_first_link(side: Side, answer: Answer) -> None:
    body = answer.json()
    rows = body.get("links") if isinstance(body, dict) else None
    if isinstance(rows, list) and rows and isinstance(rows[0], dict) \
            and isinstance(rows[0].get("id"), str):
        side.kept["link"] = rows[0]["id"]


def _link(side: Side) -> Call | None:
    link = side.get("link")
    return None if link is None else Call("GET", f"/v1/links/{link}", _auth(side))


def _create(side: Side) -> Call:
    return Call.json("POST", "/v1/links", {
        "integrationId": "tmobile", "resource": "mobileBillingStatement", "action": "read",
        "externalUserId": side.get("label"), "expiresIn": 60}, _auth(side))


def probes() -> list[Probe]:
    return [
        Probe("providers list", _get("/v1/providers"), "a read", opaque=DATA),
        Probe("providers list, no key", lambda s: Call("GET", "/v1/providers"),
              "refused: no credentials", authed=False),
        Probe("providers list, wrong key",
              lambda s: Call("GET", "/v1/providers", {"authorization": f"Bearer {WRONG}"}),
              "refused: the key is unknown", authed=False),
        Probe("links list", _get("/v1/links"), "a read", volatile=VOLATILE,
              keep=_keep_first_link),
        Probe("link get", _link, "a read", volatile=VOLATILE, opaque=DATA,
              needs="a link on the account (the links list probe)"),
        Probe("link get, unknown id", _get(f"/v1/links/link_{UNKNOWN}"),
              "refused: no such link", exact=True),
        Probe("link create, no integrationId",
              lambda s: Call.json("POST", "/v1/links", {"resource": "paymentMethod",
                                                        "action": "read"}, _auth(s)),
              "refused by validation before anything is made"),
        Probe("link create, invalid webhookUrl and expiresIn",
              lambda s: Call.json("POST", "/v1/links", {
                  "integrationId": "tmobile", "resource": "paymentMethod", "action": "read",
                  "webhookUrl": "not a url", "expiresIn": -1}, _auth(s)),
              "refused by validation before anything is made", exact=True),
        Probe("link create, malformed JSON",
              lambda s: Call("POST", "/v1/links", {"content-type": "application/json",
                                                   **_auth(s)}, body=b'{"integrationId": '),
              "refused: the body is no JSON"),
        Probe("claim, unknown code",
              lambda s: Call.json("POST", "/link/claim", {"code": f"clm_{UNKNOWN}"}),
              "refused: no link has this code", authed=False),
        Probe("claim, no code", lambda s: Call.json("POST", "/link/claim", {}),
              "refused: the code is required", authed=False),
        Probe("webhook key, unknown key id",
              lambda s: Call.json("POST", "/webhook_verification_key/get", {"key_id": UNKNOWN}),
              "refused: no such key", authed=False),
        Probe("unknown route", lambda s: Call("GET", f"/{UNKNOWN}"),
              "refused: no such route", authed=False),
        Probe("link create", _create,
              "makes a pending link for a user named by the run's label; it expires unclaimed "
              "after 60 s (the API has no call to delete one)",
              write=True, volatile=VOLATILE),
    ]
