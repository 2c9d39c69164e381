"""Simulated app backends behind function calls, with state in the tenant's store: Slack
messages posted are kept per channel, HubSpot objects created are listed by the QUERY functions
with `_cursor` pages, passthrough requests are answered for their method and URL, and every
other generated function answers a plausible record or page."""
from __future__ import annotations

import base64
from collections import OrderedDict, deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...core.http import dump
from ...core.memo import Memo
from .store import IntegryStore

if TYPE_CHECKING:
    from .handlers import Integry

PAGE = 10
SLACK_KEPT = 1000      # messages kept per channel
NO_CURSOR = object()   # the answer has no `_cursor` key at all (not a paginated function)
SLACK_CHANNELS = {"random": "C6F3LQ03A", "general": "C6F3LQ01G", "sales": "C6F3LQ05S",
                  "support": "C6F3LQ07P"}
SLACK_BOT = {"id": "B0447TKCF1N", "app_id": "A6FQL4KQC", "name": "Integry",
             "icons": {f"image_{n}": "https://slack-files2.s3-us-west-2.amazonaws.com/avatars/"
                                     f"2017-08-09/225182834294_8020ddc74d7822b48ea1_{n}.png"
                       for n in (36, 48, 72)},
             "deleted": False, "updated": 1663866569, "team_id": "T6F74R6TB"}
HUBSPOT_KINDS = {"hubspot-create-contact": "contacts", "hubspot-create-company": "companies",
                 "hubspot-create-deal": "deals", "hubspot-list-contacts": "contacts",
                 "hubspot-list-companies": "companies", "hubspot-list-deals": "deals"}
HUBSPOT_PROPERTIES = {
    "contacts": ["email", "firstname", "lastname", "phone", "company", "lifecyclestage"],
    "companies": ["name", "domain", "industry", "city", "phone"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate"]}


class BadCursor(ValueError):
    pass


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadCursor(value)
    if isinstance(value, int):
        if value < 0:
            raise BadCursor(value)
        return value
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise BadCursor(value) from None
    if not raw.startswith("o:") or not raw[2:].isdigit() or len(raw) > 12:
        raise BadCursor(value)
    return int(raw[2:])


def _iso(now: float) -> str:
    dt = datetime.fromtimestamp(now, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def run(g: "Integry", store: IntegryStore, fn: dict[str, Any], args: dict[str, Any],
        cursor: Any, now: float) -> tuple[str, Any, Any]:
    """(network_code, output, _cursor or NO_CURSOR) of one call."""
    name = fn["name"]
    if name == "slack-post-message":
        return "200", _slack_post(g.rendered, store, args, now), NO_CURSOR
    if name == "slack-list-conversations":
        channels = [{"id": cid, "name": cname, "is_channel": True, "is_archived": False}
                    for cname, cid in sorted(SLACK_CHANNELS.items())]
        return _page(channels, cursor, lambda items: {"ok": True, "channels": items})
    if name == "hubspot-list-properties":
        kind = str(args.get("object_type", "contacts"))
        props = HUBSPOT_PROPERTIES.get(kind)
        if props is None:
            return "400", {"status": "error", "message": f"Unable to infer object type from: "
                                                         f"{kind}", "category": "VALIDATION_ERROR"}, NO_CURSOR
        return "200", {"results": [{"name": p, "label": p.title(), "type": "string"}
                                   for p in props]}, NO_CURSOR
    if name in HUBSPOT_KINDS:
        kind = HUBSPOT_KINDS[name]
        if fn["type"] == "ACTION":
            return "201", _hubspot_create(store, kind, args, now), NO_CURSOR
        objects = list(store.hubspot.get(kind, {}).values())
        return _page(objects, cursor, lambda items: {"results": items})
    if fn["type"] == "PASSTHROUGH":
        return _passthrough(fn, args)
    if fn["type"] == "ACTION":
        record = {"id": str(store.next_object), "name": args.get("name"),
                  "fields": args.get("fields") or {}, "created_at": _iso(now)}
        store.next_object += 1
        return "201", record, NO_CURSOR
    records = [{"id": str(i), "name": f"{fn['app']} record {i}"} for i in range(1, 24)]
    query = args.get("query")
    if isinstance(query, str) and query:
        records = [r for r in records if query.lower() in r["name"]]
    return _page(records, cursor, lambda items: {"results": items})


def _page(items: list[Any], cursor: Any, shape) -> tuple[str, Any, Any]:
    offset = decode_cursor(cursor)
    chunk = items[offset:offset + PAGE]
    following = offset + PAGE
    return "200", shape(chunk), encode_cursor(following) if following < len(items) else None


class Rendered(bytes):
    """An output already written as the JSON `dump` would write it."""


def _slack_output(channel_id: str, ts: str, text: str) -> dict[str, Any]:
    """chat.postMessage's answer."""
    message = {"user": "U02L42QCVGV", "type": "message", "ts": ts, "bot_id": SLACK_BOT["id"],
               "app_id": SLACK_BOT["app_id"], "text": text, "team": "T6F74R6TB",
               "bot_profile": SLACK_BOT,
               "blocks": [{"type": "rich_text", "block_id": "B92", "elements": [
                   {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]}
    return {"ok": True, "channel": channel_id, "ts": ts, "message": message}


def _template(build, *names: str) -> tuple[list[bytes], list[int]]:
    """`build(*names)`'s JSON cut at its string arguments: (constant pieces, which argument
    goes after each piece but the last). Filling in each argument's own JSON gives the JSON of
    `build(*values)`, since compact JSON of a container is its members' JSON joined."""
    marks = ["\x00" + n for n in names]            # no real value holds a NUL
    raw = dump(build(*marks))
    found = sorted((at, i) for i, m in enumerate(marks) for at in _all(raw, dump(m)))
    pieces, order, start = [], [], 0
    for at, i in found:
        pieces.append(raw[start:at])
        order.append(i)
        start = at + len(dump(marks[i]))
    pieces.append(raw[start:])
    return pieces, order


def _all(raw: bytes, part: bytes) -> list[int]:
    out, at = [], raw.find(part)
    while at != -1:
        out.append(at)
        at = raw.find(part, at + 1)
    return out


# the Slack answer's constant JSON, written once: a post only fills in channel, ts and text
_SLACK_PIECES, _SLACK_ORDER = _template(_slack_output, "channel", "ts", "text")
assert _SLACK_ORDER == [0, 1, 1, 2, 2], _SLACK_ORDER  # the order _slack_post fills them in


# (channel id, clock time, text) -> (ts, the rendered answer) of recent posts (Integry.rendered):
# a repeated post (a suite's, a load's; the mock clock frozen or within one microsecond) is not
# rendered again.
RENDERED_MEMO = 256
RENDERED_TEXT_MAX = 4096  # longer texts are rendered each time, never kept
Posts = Memo[tuple[str, float, str], tuple[str, Rendered]]


def _slack_post(rendered: Posts, store: IntegryStore, args: dict[str, Any],
                now: float) -> Rendered:
    channel = str(args["channel"]).lstrip("#")
    channel_id = SLACK_CHANNELS.get(channel) or _channel_id(channel)
    text = str(args["text"])
    key = (channel_id, now, text)
    done = rendered.get(key)
    if done is None:
        ts = f"{now:.6f}"
        c = dump(channel_id)
        t = dump(ts)
        x = dump(text)
        p = _SLACK_PIECES
        done = ts, Rendered(b"".join((p[0], c, p[1], t, p[2], t, p[3], x, p[4], x, p[5])))
        if len(text) <= RENDERED_TEXT_MAX:
            rendered.keep(key, done)
    ts, rendered = done
    kept = store.slack.get(channel_id)
    if kept is None:
        if len(store.slack) >= store.limit:
            store.slack.pop(next(iter(store.slack)))
        kept = store.slack[channel_id] = deque(maxlen=SLACK_KEPT)
    kept.append({"ts": ts, "text": text})
    return rendered


def _channel_id(name: str) -> str:
    """A stable Slack-like id for a channel name (no hash randomisation: the same every run)."""
    total = 0
    for ch in name.encode("utf-8", "surrogatepass"):
        total = (total * 131 + ch) % 16**8
    return "C" + format(total, "08X")


def _hubspot_create(store: IntegryStore, kind: str, args: dict[str, Any],
                    now: float) -> dict[str, Any]:
    props = args.get("properties") or {}
    stamp = _iso(now)
    obj = {"id": str(store.next_object), "properties": {**props, "createdate": stamp,
                                                        "hs_object_id": str(store.next_object)},
           "createdAt": stamp, "updatedAt": stamp, "archived": False}
    store.next_object += 1
    objects = store.hubspot.setdefault(kind, OrderedDict())
    objects[obj["id"]] = obj
    while len(objects) > store.limit:
        objects.popitem(last=False)
    return obj


def _passthrough(fn: dict[str, Any], args: dict[str, Any]) -> tuple[str, Any, Any]:
    method = str(args["method"]).upper()
    url = str(args["url"])
    parts = urlsplit(url) if url.startswith(("http://", "https://")) else None
    if parts is None or not parts.netloc:
        return "400", {"error": "invalid_url", "message": f"Not an absolute URL: {url[:200]}"}, \
            NO_CURSOR
    code = {"POST": "201", "DELETE": "204"}.get(method, "200")
    body = args.get("body")
    output: dict[str, Any] = {"ok": True, "app": fn["app"], "method": method, "url": url,
                              "path": parts.path or "/"}
    if body is not None and method in ("POST", "PUT", "PATCH"):
        output["echo"] = body
    return code, None if code == "204" else output, NO_CURSOR
