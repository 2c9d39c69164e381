"""One function per Gravitec operation: parse, call the store, render."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...core.http import (RawJSON, TooDeep, TooLarge, VendorError, dump, header, json_response,
                          load, read_limited)
from ...core.control import off_loop
from ...core.memo import Memo
from ...core.vendor import Service
from .auth import GravitecAuth
from .errors import missing_param, path_of, spring, wrong_param
from .store import (FREE_PLAN_DAILY_PUSHES, MAX_TAGS_PER_FOLLOWER, Campaign, Follower,
                    GravitecTemplate, Site, java_length)
from .validation import Push, SpringError, param, parse_params, read_push

BODY_LIMIT = 1024 * 1024   # larger bodies get Spring's 413 before they are held in memory
INLINE_BODY = 64 * 1024   # a larger push body is checked off the event loop
NAME_MAX = 255             # regId and name: "1-255 symbols string"
FORM = "application/x-www-form-urlencoded"


# What the service remembers (core/memo.py), by entries
PUSH_MEMO = 256        # checked push bodies (`send_push`), each at most PUSH_MEMO_BODY bytes
PUSH_MEMO_BODY = 4096


@dataclass(eq=False)
class Gravitec(Service[GravitecTemplate]):
    """Per-app Gravitec runtime the handlers share."""

    auth_type = GravitecAuth
    auth: GravitecAuth = field(init=False)
    # Validated push bodies whose answer depends on nothing but the body (no send_date time,
    # no segment or audience to look up in the site), by their raw bytes: saves the JSON parse
    # and the documented rules for a suite's or a load's repeated push.
    pushes: "Memo[bytes, Checked]" = field(default_factory=lambda: Memo(PUSH_MEMO))

    def site(self, request: Request) -> Site:
        """The authenticated site, with its due campaigns sent first."""
        _, site = self.auth.site(request)
        site.settle(self.ctx.clock.time())
        return site

    def fail(self, request: Request, exc: SpringError) -> VendorError:
        return spring(exc.status, exc.message, path_of(request), self.ctx.clock.time())


def _media_type(value: str | None) -> str:
    return value.split(";")[0].strip().lower() if value else ""


def _content_type(request: Request) -> str:
    return _media_type(header(request.scope, b"content-type"))


async def _body(g: Gravitec, request: Request) -> bytes:
    """The body, read only as far as BODY_LIMIT bytes."""
    try:
        return await read_limited(request, BODY_LIMIT,
                                  header(request.scope, b"content-length") or "")
    except TooLarge:
        raise _too_large(g, request) from None


def _too_large(g: Gravitec, request: Request) -> VendorError:
    return g.fail(request, SpringError(413, "Maximum upload size exceeded"))


async def _params(g: Gravitec, request: Request) -> dict[str, list[str]]:
    """@RequestParam values: the query string, then a form body (Tomcat parses POST forms,
    Spring's FormContentFilter those of PUT, PATCH and DELETE). A JSON body binds nothing."""
    params: dict[str, list[str]] = {}
    parse_params(request.scope.get("query_string", b""), params)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and _content_type(request) == FORM:
        parse_params(await _body(g, request), params)
    return params


async def _follower_params(g: Gravitec, request: Request, site: Site) -> tuple[Follower, str]:
    params = await _params(g, request)
    now = g.ctx.clock.time()
    reg_id = param(params, "regId")
    if reg_id is None:
        raise missing_param("regId", path_of(request), now)
    name = param(params, "name")
    if name is None:
        raise missing_param("name", path_of(request), now)
    if java_length(name) > NAME_MAX:
        raise wrong_param("Max alias length is 255!")  # the doc's text, for tags too
    follower = site.followers.get(reg_id)
    if follower is None:
        raise wrong_param("There is no follower with this regId!")
    return follower, name


class Void:
    """200 with no body, as a void Spring handler answers: the bytes of Starlette's
    `Response(status_code=200)` (Content-Length 0, no Content-Type), without building its
    header objects. `headers` is what the vendor app adds (Vary, CORS)."""

    __slots__ = ("headers",)

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    async def __call__(self, scope, receive, send) -> None:
        raw = [(b"content-length", b"0")]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": b""})


def ok() -> Void:
    return Void()


# -- followers ----------------------------------------------------------------------------------
async def add_alias(g: Gravitec, request: Request) -> Void:
    site = g.site(request)
    follower, name = await _follower_params(g, request, site)
    site.set_alias(follower, name)
    return ok()


async def get_alias(g: Gravitec, request: Request) -> RawJSON:
    site = g.site(request)
    params = await _params(g, request)
    reg_id = param(params, "regId")
    if reg_id is None:
        raise missing_param("regId", path_of(request), g.ctx.clock.time())
    if java_length(reg_id) > NAME_MAX:
        reg_id = None  # longer than any token: no such follower
    follower = site.followers.get(reg_id) if reg_id is not None else None
    # The doc's examples write the booleans as strings; clients compare them as the doc shows.
    if follower is None:
        return json_response({"regIdExists": "false"})
    body = {"regIdExists": "true", "aliasExists": "true" if follower.alias else "false",
            "isActiveFollower": "true" if follower.active else "false"}
    if follower.alias:
        body["alias"] = follower.alias
    return json_response(body)


async def add_tag(g: Gravitec, request: Request) -> Void:
    site = g.site(request)
    follower, name = await _follower_params(g, request, site)
    if follower.has_tag(name) is None:  # a tag it has in any letter case is kept as first spelled
        if len(follower.tags) >= MAX_TAGS_PER_FOLLOWER:
            raise wrong_param(f"Max tags count is {MAX_TAGS_PER_FOLLOWER}!")
        site.add_tag(follower, name)
    return ok()


async def delete_tag(g: Gravitec, request: Request) -> Void:
    site = g.site(request)
    follower, name = await _follower_params(g, request, site)
    if not site.remove_tag(follower, name):
        raise wrong_param("The follower doesn't have this tag!")
    return ok()


# -- push campaigns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A push body read and checked, with the constant end of its answer already rendered."""

    ttl: int
    display_time: int
    push_tag: str | None
    is_transactional: bool
    payload: dict[str, Any]      # the checked template: each campaign gets its own copy
    audience: tuple[str, Any] | None
    send_at_ms: int | None       # None: the clock's now at each push
    tail: bytes                  # the answer after "send_date"'s value

    @classmethod
    def of(cls, push: Push) -> "Checked":
        rest = dump({"ttl": push.ttl, "display_time": push.display_time,
                     "payload": {"title": push.payload["title"]}})
        return cls(push.ttl, push.display_time, push.push_tag, push.is_transactional,
                   push.payload, push.audience, None if push.at_once else push.send_at_ms,
                   b'",' + rest[1:])


def _own_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy no other campaign shares (buttons are the one nested part)."""
    out = dict(payload)
    if "buttons" in out:
        out["buttons"] = [dict(b) for b in out["buttons"]]
    return out


async def send_push(g: Gravitec, request: Request) -> RawJSON:
    site = g.site(request)
    now = g.ctx.clock.time()
    scope = request.scope
    shown = header(scope, b"content-type")
    ctype = _media_type(shown)
    if ctype != "application/json" and not ctype.endswith("+json"):
        shown = shown or "application/octet-stream"
        raise g.fail(request, SpringError(415, f"Content type '{shown}' not supported"))
    raw = await _body(g, request)
    checked = g.pushes.get(raw)
    if checked is None:
        if len(raw) > INLINE_BODY:
            # Binding a large body (200,000 tokens, 60,000 nested arrays) reads only the body
            # and lookups of the site: off the event loop, which serves other calls meanwhile.
            checked = await off_loop(_check_push, g, request, raw, site, now)
        else:
            checked = _check_push(g, request, raw, site, now)
        if checked.send_at_ms is None and checked.audience is None \
                and len(raw) <= PUSH_MEMO_BODY:
            g.pushes.keep(raw, checked)
    if site.plan == "free" and site.pushes_today(now) >= FREE_PLAN_DAILY_PUSHES:
        raise wrong_param(f"For Free plan only {FREE_PLAN_DAILY_PUSHES} push campaigns per day "
                          "are available through API!")
    send_at = int(now * 1000) if checked.send_at_ms is None else checked.send_at_ms
    campaign = Campaign(site.next_id(now), now, send_at, checked.ttl, checked.display_time,
                        _own_payload(checked.payload), checked.push_tag,
                        checked.is_transactional, checked.audience)
    site.add_campaign(campaign, now)
    # json_response's bytes for {"id", "send_date", "ttl", "display_time", "payload": {title}}
    return RawJSON(b'{"id":"%b","send_date":"%d%b' % (campaign.id.encode(), send_at,
                                                       checked.tail))


def _check_push(g: Gravitec, request: Request, raw: bytes, site: Site, now: float) -> Checked:
    """The body as Spring binds and the documented rules check it; raises their error."""
    if not raw.strip():
        raise g.fail(request, SpringError(400, "Required request body is missing"))
    try:
        # Jackson skips a UTF-8 byte order mark (some .NET writers put one first)
        body = load(raw.decode("utf-8-sig", "replace"), parse_constant=_no_constant)
    except TooDeep:
        raise g.fail(request, SpringError(400, "JSON parse error: Document nested too "
                                               "deeply")) from None
    except ValueError as exc:
        raise g.fail(request, SpringError(400, f"JSON parse error: {_short(exc)}")) from None
    if body is None:  # a JSON null binds no PushRequest: Spring's required-body check
        raise g.fail(request, SpringError(400, "Required request body is missing"))
    try:
        push = read_push(body, site, now)
    except SpringError as exc:
        raise g.fail(request, exc) from None
    known = g.template.documented
    if known.push is not None and body == known.push:
        # The doc's own request: its example answers ttl 86400 where the field's documented
        # default is 28800; that request gets the example's values, every other the default.
        push = replace(push, ttl=known.push_ttl, display_time=known.push_display_time)
    return Checked.of(push)


def _no_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def _short(exc: ValueError) -> str:
    return str(exc).split(":", 1)[0][:200]


async def get_message(g: Gravitec, request: Request) -> RawJSON:
    site = g.site(request)
    now = g.ctx.clock.time()
    campaign_id = request.path_params.get("campaignID")
    if not campaign_id:  # /api/v3/messages?campaignID= : the doc also lists it as a parameter
        campaign_id = param(await _params(g, request), "campaignID")
    if campaign_id is None:
        raise missing_param("campaignID", path_of(request), now)
    campaign = site.campaigns.get(campaign_id)
    if campaign is None:
        documented = g.template.documented.messages.get(campaign_id) if site.role == "main" else None
        if documented is not None:  # the doc's example URL: its documented stats
            return json_response(documented)
        raise wrong_param("There is no message with this id!")
    return json_response(campaign.stats(now))


# -- everything else ----------------------------------------------------------------------------
async def route_missing(g: Gravitec, request: Request) -> Response:
    """Spring Boot's 404; for a path that exists with other methods, Spring MVC's answer to
    OPTIONS (200, `Allow`) or its 405 with `Allow`."""
    now = g.ctx.clock.time()
    allowed = g.router.allowed(request.scope["vendor_path"]) if g.router else ()
    if allowed:
        allowed += ("OPTIONS",)
        if request.method == "OPTIONS":
            return Response(status_code=200, headers={"Allow": ",".join(allowed)})
        raise spring(405, f"Request method '{request.method}' not supported", path_of(request),
                     now, {"Allow": ", ".join(allowed)})
    raise spring(404, "No message available", path_of(request), now)
