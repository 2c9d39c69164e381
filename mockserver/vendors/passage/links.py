"""A link's lifecycle on the mock clock, shared by the API handlers and the control plane:
claim, complete, fail, the auto-completion, the results from fixtures, and how a link renders.

    pending -> active (claim) -> complete | failed (claimable again, a new session each time)
    any link not complete -> expired once now >= expiresAt

Operations run in order in one session; when one fails, the link fails (no partial result is
kept). An active link completes by itself `autoCompleteSeconds` after its claim unless the
control plane completes or fails it first.
"""
from __future__ import annotations

import copy
import uuid
from json.encoder import encode_basestring as _quote  # a str as `dump` writes it (no \u escapes)
from typing import TYPE_CHECKING, Any

from jsonschema import Draft7Validator

from ...core.http import dump
from ...core.webhooks import Outbound, Retry
from .store import ERROR_CODES, SESSIONS_KEPT, Link, PassageStore, PassageTemplate

if TYPE_CHECKING:
    from ...core.vendor import Context
    from .auth import PassageAuth

APP_CLIP = "https://clip.getpassage.ai?code="   # + the claim code
SESSION_SOCKET = "wss://sessions.getpassage.ai/sessions/{}/ws"
LIMITED = {"mobileBillingStatement": "billing", "readHistory": "history",
           "orderHistory": "orders"}   # resource -> the list `limit` cuts


# the version (4) and variant (10) bits of a random UUID: cleared, then set
_UUID_KEEP, _UUID_SET = 0xffffffffffff0fff3fffffffffffffff, 0x00000000000040008000000000000000


def new_id(ctx: "Context", prefix: str) -> str:
    """`<prefix>_<uuid4>` drawn from the seeded stream, so a run's ids repeat: the text of
    `uuid.UUID(int=bits, version=4)` without building the UUID (a third of the cost)."""
    h = (ctx.rng.getrandbits(128) & _UUID_KEEP | _UUID_SET).to_bytes(16, "big").hex()
    return f"{prefix}_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def mint(ctx: "Context") -> tuple[str, str]:
    """A new link's id and claim code: `new_id(ctx, "link")` then `new_id(ctx, "clm")`, in
    one draw of 256 bits (the stream's first 128 are its low ones: the id's)."""
    h = (ctx.rng.getrandbits(256) & _UUID_KEEP_2 | _UUID_SET_2).to_bytes(32, "big").hex()
    return (f"link_{h[32:40]}-{h[40:44]}-{h[44:48]}-{h[48:52]}-{h[52:]}",
            f"clm_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}")


_UUID_KEEP_2 = _UUID_KEEP << 128 | _UUID_KEEP   # the same bits of two uuids in one int
_UUID_SET_2 = _UUID_SET << 128 | _UUID_SET


def now_ms(ctx: "Context") -> int:
    return int(ctx.clock.time() * 1000)


def with_link_id(url: str | None, link_id: str) -> str | None:
    """returnUrl as answers show it: `linkId` appended as a query parameter."""
    if url is None:
        return None
    base, hash_, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}linkId={link_id}{hash_}{fragment}"


# -- results ------------------------------------------------------------------------------------
def operation_data(template: PassageTemplate, integration: str, op: dict[str, Any]) -> Any:
    """One operation's data: a read from the provider's fixtures (`limit` honoured), a write
    from its arguments."""
    args = op.get("arguments") or {}
    if op["action"] == "write":
        last4 = str(args.get("cardNumber", ""))[-4:]
        if args.get("dryRun") is True:
            card: dict[str, Any] = {"last4": last4}
            if isinstance(args.get("nickname"), str):
                card["nickname"] = args["nickname"]
            return {"dryRun": True, "card": card}
        return {"success": True, "card": {"last4": last4}}
    data = copy.deepcopy(template.results.get(integration, {}).get(op["resource"], {}))
    key = LIMITED.get(op["resource"])
    limit = args.get("limit")
    if key and isinstance(limit, int) and isinstance(data.get(key), list):
        data[key] = data[key][:limit]
        if op["resource"] == "orderHistory":
            data["orderCount"] = len(data[key])
    return data


def wrap(link: Link, datas: list[Any]) -> Any:
    """One operation: its data is the result; several: `{"operations": [{resource, action,
    data}]}` in request order."""
    if len(link.operations) == 1:
        return datas[0]
    return {"operations": [{"resource": op["resource"], "action": op["action"], "data": d}
                           for op, d in zip(link.operations, datas)]}


def default_result(template: PassageTemplate, link: Link) -> Any:
    return wrap(link, [operation_data(template, link.integration_id, op)
                       for op in link.operations])


def result_problem(template: PassageTemplate, link: Link, result: Any) -> str | None:
    """Why `result` would fail the operations' result schemas (validated before it is kept,
    as the service does), naming the first failing operation; None when it fits."""
    if len(link.operations) == 1:
        datas = [result]
    else:
        ops = result.get("operations") if isinstance(result, dict) else None
        if not isinstance(ops, list) or len(ops) != len(link.operations) or not all(
                isinstance(o, dict) and "data" in o for o in ops):
            return "the result must be {\"operations\": [{resource, action, data}, ...]}, " \
                   "one per operation"
        datas = [o["data"] for o in ops]
    for i, (op, data) in enumerate(zip(link.operations, datas)):
        schema = template.operations.get((link.integration_id, op["resource"], op["action"]),
                                         (None, None))[1]
        if schema is None:
            continue
        error = next(iter(Draft7Validator(schema).iter_errors(data)), None)
        if error is not None:
            where = "/".join(map(str, error.absolute_path))
            return (f"operation {i} ({op['resource']}.{op['action']}): "
                    f"{error.message[:200]}" + (f" at {where}" if where else ""))
    return None


# -- transitions --------------------------------------------------------------------------------
def claim(ctx: "Context", store: PassageStore, link: Link) -> dict[str, Any]:
    """A new session on a pending or failed link (the caller checked which)."""
    now = now_ms(ctx)
    session = new_id(ctx, "session")
    link.status = "active"
    link.current_session_id = session
    link.client_token = "ct_" + uuid.UUID(int=ctx.rng.getrandbits(128), version=4).hex
    link.result = None
    link.error = None
    link.updated_at = now
    link.auto_at = None if store.auto_complete is None \
        else now + int(store.auto_complete * 1000)
    if link.auto_at is not None:
        store.arm(link)
    link.sessions = (*link.sessions, session)[-SESSIONS_KEPT:]
    return {"linkId": link.id, "sessionId": session, "clientToken": link.client_token,
            "websocketUrl": SESSION_SOCKET.format(session), "expiresAt": link.expires_at}


def complete(link: Link, result: Any, at: int) -> None:
    link.status = "complete"
    link.result = result
    link.error = None
    link.updated_at = at
    link.auto_at = None


def fail(link: Link, code: str, message: str | None, at: int) -> None:
    link.status = "failed"
    link.result = None
    link.error = {"code": code, "message": message if message is not None else ERROR_CODES.get(
        code, "The automation failed.")}
    link.updated_at = at
    link.auto_at = None


def settle(template: PassageTemplate, store: PassageStore, now: int) -> list[Link]:
    """Complete the active links whose auto-complete instant has come; those links."""
    done = store.due(now)
    for link in done:
        complete(link, default_result(template, link), link.auto_at or now)
    return done


def settled_view(template: PassageTemplate, link: Link, now: int) -> Link:
    """The link as a read at `now` shows it (an auto-completion due is already done)."""
    if link.status == "active" and link.auto_at is not None and link.auto_at <= now \
            and link.auto_at < link.expires_at:
        view = Link.from_json(link.to_json())
        complete(view, default_result(template, link), link.auto_at)
        return view
    return link


# -- rendering ----------------------------------------------------------------------------------
def _ops(link: Link) -> list[dict[str, str]]:
    # Arguments stay out of every answer (a write's are card data), as the docs' examples show.
    return [{"resource": op["resource"], "action": op["action"]} for op in link.operations]


def created(link: Link, middle: str | None = None) -> bytes:
    """The 201 of a create, exactly as `dump` writes `{linkId, claimCode, integrationId,
    operations, resource, action, status: "pending", appClipUrl, returnUrl?, expiresAt,
    createdAt}`, put together from its strings (through dump's own string encoder): building
    the dict and walking it cost a sixth of a create. `middle`: `created_middle`
    of the link's integration and operations, when the caller has it already."""
    if middle is None:
        middle = created_middle(link.integration_id, link.operations)
    back = "" if link.return_url is None else \
        f',"returnUrl":{_quote(with_link_id(link.return_url, link.id))}'
    # The ids are new_id's (letters, digits, "_" and "-"): JSON escapes none of them.
    return (f'{{"linkId":"{link.id}","claimCode":"{link.claim_code}",{middle},'
            f'"appClipUrl":"{APP_CLIP}{link.claim_code}"{back},'
            f'"expiresAt":{link.expires_at},"createdAt":{link.created_at}}}'
            ).encode("utf-8", "backslashreplace")


def created_middle(integration_id: str, operations: list[dict[str, Any]]) -> str:
    """The part of `created` its body alone decides, integrationId to status: the same for
    every link one body makes."""
    q = _quote
    first = operations[0]
    ops = ",".join([f'{{"resource":{q(op["resource"])},"action":{q(op["action"])}}}'
                    for op in operations])
    return (f'"integrationId":{q(integration_id)},"operations":[{ops}],'
            f'"resource":{q(first["resource"])},"action":{q(first["action"])},'
            f'"status":"pending"')


def shown(link: Link, now: int, full: bool = True) -> dict[str, Any]:
    """GET /v1/links/:id (`full`), or a GET /v1/links item (no result, no error)."""
    out: dict[str, Any] = {
        "id": link.id, "integrationId": link.integration_id, "operations": _ops(link),
        "resource": link.operations[0]["resource"], "action": link.operations[0]["action"],
        "externalUserId": link.external_user_id, "status": link.status_at(now),
        "currentSessionId": link.current_session_id}
    if link.return_url is not None:
        out["returnUrl"] = with_link_id(link.return_url, link.id)
    if full:
        out["result"] = copy.deepcopy(link.result)
        out["error"] = copy.deepcopy(link.error)
    out["expiresAt"] = link.expires_at
    out["createdAt"] = link.created_at
    out["updatedAt"] = link.updated_at
    return out


def status_message(link: Link, now: int) -> dict[str, Any]:
    """What /link/ws pushes (the mock's own shape: no source documents one)."""
    return {"type": "link.status", "linkId": link.id, "status": link.status_at(now),
            "error": copy.deepcopy(link.error), "updatedAt": link.updated_at}


# -- webhooks -----------------------------------------------------------------------------------
# "3 attempts with exponential backoff (0ms, 1s, 5s)", each delay after the attempt before
# (docs/fidelity.md, "Webhook retries on the mock clock").
RETRY = Retry((0, 1, 5))


def webhook(ctx: "Context", auth: "PassageAuth", link: Link) -> Outbound | None:
    """link.complete / link.failed for the link's current outcome, signed; None without a
    webhookUrl or an outcome."""
    if not link.webhook_url or link.status not in ("complete", "failed"):
        return None
    body = dump({"event": f"link.{link.status}", "linkId": link.id, "status": link.status,
                 "result": link.result if link.status == "complete" else None,
                 "error": link.error if link.status == "failed" else None,
                 "timestamp": link.updated_at})
    # one instant for both: read twice, a running clock could tick between (a receiver checks
    # that they agree)
    iat = int(ctx.clock.time())
    return Outbound(link.webhook_url, body, {
        "Content-Type": "application/json", "User-Agent": "Passage-Webhooks/1.0",
        "X-Passage-Signature": auth.sign(body, iat), "X-Passage-Timestamp": str(iat)})
