"""One function per Passage Connect operation: parse, check, call the lifecycle, render.

The service (a Cloudflare Worker in reality) parses a JSON body whatever its Content-Type says,
validates it as a Zod schema does (every issue listed, unknown keys ignored), and answers
`{"error": ...}`."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketDisconnect

from ...core.http import Loader, RawJSON, TooLarge, json_response, read_limited
from ...core.memo import Memo
from ...core.tenancy import attribute
from ...core.vendor import Service
from . import links
from .auth import PassageAuth
from .errors import (BAD_CODE, CLAIMING, EXPIRED, KEY_NOT_FOUND, USED, error, link_not_found,
                     payload_too_large, route_not_found, validation)
from .store import DEFAULT_TTL, NAME, Link, PassageStore, PassageTemplate, store_of

if TYPE_CHECKING:
    from ...core.tenancy import Tenant

BODY_LIMIT = 1024 * 1024     # a larger body is refused before it is held in memory
MAX_TTL = 365 * 24 * 3600    # expiresIn's upper bound (none documented): a year
MAX_TEXT = 2048              # characters of an id or URL field
MAX_OPERATIONS = 20          # operations in one link
URL_MEMO = 1024              # URLs remembered with their verdict (Passage.urls)
CREATE_MEMO = 256            # create bodies remembered checked (Passage.creates), each at most
CREATE_MEMO_BODY = 4096      # this many bytes
SWEEP = 0.05                 # real seconds: the soonest a sweep for due completions runs again
IMPORTED_CODES = 100_000     # restored claim codes remembered one by one (Passage.taken)
WS_POLL = 0.05               # real seconds between a link socket's looks at its link
MALFORMED = "Malformed JSON in request body"   # Hono's text for a body that is no JSON


@dataclass(eq=False)
class Passage(Service[PassageTemplate]):
    """Per-app Passage runtime the handlers share."""

    auth_type = PassageAuth
    auth: PassageAuth = field(init=False)
    # one per catalogue operation with arguments, built when first used: bounded by the catalogue
    validators: dict[tuple[str, str, str], Draft7Validator] = field(default_factory=dict)
    # (URL, web) -> `_url`'s verdict: a client sends the same webhook and return URLs each time
    urls: "Memo[tuple[str, bool], bool]" = field(default_factory=lambda: Memo(URL_MEMO))
    # whether an operation sent without arguments passes its schema (bounded by the catalogue
    # too): most creates send none, and checking `{}` gives the same answer every time
    bare_ok: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    # create bodies checked, by their bytes (`_create_data`): a client sends the same body
    # again and again, and its check depends on nothing else
    creates: "Memo[bytes, dict[str, Any]]" = field(default_factory=lambda: Memo(CREATE_MEMO))
    sockets: int = 0                                    # open /link/ws connections
    _sweep: asyncio.TimerHandle | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task] = field(default_factory=set, repr=False)
    # Claim codes restored from snapshots: the only ones a fresh draw can meet again (a run's
    # stream never repeats itself; a snapshot from a server of the same seed holds its draws).
    # Past IMPORTED_CODES, every tenant's codes are asked instead.
    imported: set[str] = field(default_factory=set, repr=False)
    imported_all: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        # A jump of the mock clock completes what it made due at once (and sends its webhook)
        self.ctx.clock.on_change(self._clock_moved)

    def _clock_moved(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # moved outside the server's loop (a test's setup): reads settle it later
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._sweeping()

    def validator(self, key: tuple[str, str, str], schema: dict[str, Any]) -> Draft7Validator:
        v = self.validators.get(key)
        if v is None:
            v = self.validators[key] = Draft7Validator(schema)
        return v

    def no_arguments_ok(self, key: tuple[str, str, str], schema: dict[str, Any]) -> bool:
        ok = self.bare_ok.get(key)
        if ok is None:
            ok = self.bare_ok[key] = self.validator(key, schema).is_valid({})
        return ok

    def now(self) -> int:
        return links.now_ms(self.ctx)

    # -- the auto-completion, on the mock clock ---------------------------------------------
    def settle(self, tenant: "Tenant", store: PassageStore) -> list[Link]:
        """Write down the completions the clock has reached, and send their webhooks."""
        done = links.settle(self.template, store, self.now())
        if done:
            self.ctx.changed(tenant.id, NAME)  # a read or a timer: no write marks it
        messages = [m for m in (links.webhook(self.ctx, self.auth, ln) for ln in done) if m]
        if messages:
            self.fire(tenant.id, messages)
        return done

    def fire(self, tenant_id: str, messages: list[Any]) -> None:
        """Deliver in the background: a read that completed a link does not wait for it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.ctx.webhooks.send(NAME, tenant_id, messages,
                                                      retry=links.RETRY))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def arm(self, delay: float = SWEEP) -> None:
        """Look for due auto-completions after `delay` real seconds (a webhook goes out
        without anyone reading)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._sweep is not None:
            if self._sweep.when() <= loop.time() + delay:
                return  # one comes as soon already
            self._sweep.cancel()
        self._sweep = loop.call_later(delay, self._sweeping)

    def _sweeping(self) -> None:
        self._sweep = None
        upcoming: int | None = None
        for tenant in self.tenants:
            stores = tenant.stores
            if NAME not in stores:
                continue
            store = stores[NAME]
            self.settle(tenant, store)
            for ln in store.upcoming():
                upcoming = ln.auto_at if upcoming is None else min(upcoming, ln.auto_at)
        # A frozen clock moves only when told (_clock_moved sweeps then); a running one is
        # looked at again when the next completion is due.
        if upcoming is not None and not self.ctx.clock.frozen:
            self.arm(max(SWEEP, (upcoming - self.now()) / 1000))

    def find_code(self, code: str) -> "tuple[Tenant, PassageStore, Link] | None":
        """A claim code names no tenant: each tenant's links are asked (tenants are few)."""
        for tenant in self.tenants:
            stores = tenant.stores
            if NAME not in stores and NAME not in getattr(stores, "pending", {}):
                continue  # never called: its fixtures hold no links
            store = stores[NAME]
            link = store.by_code(code)
            if link is not None:
                return tenant, store, link
        return None

    def code_holders(self, but: str | None = None) -> "dict[str, str]":
        """Claim code -> tenant id, over the tenants (other than `but`) whose links are read
        (a data dir's unread part is left unread: its codes were checked when it was kept)."""
        held: dict[str, str] = {}
        for tenant in list(self.tenants):
            store = tenant.stores.get(NAME) if tenant.id != but else None
            if store is not None:
                held.update(dict.fromkeys(list(store.codes), tenant.id))
        return held

    def taken(self, store: PassageStore, link_id: str, code: str) -> bool:
        """A fresh id or claim code already in use: the seeded stream draws a run's ids again
        after a state import from a server with the same seed."""
        if link_id in store.links:
            return True
        if not self.imported_all:
            return code in self.imported
        for tenant in self.tenants:
            other = tenant.stores.get(NAME)
            if other is not None and code in other.codes:
                return True
        return False

    def restored(self, store: PassageStore) -> None:
        """A restored store's claim codes, for `taken`."""
        if len(self.imported) + len(store.codes) > IMPORTED_CODES:
            self.imported_all, self.imported = True, set()
        elif not self.imported_all:
            self.imported.update(store.codes)


# -- request parsing ----------------------------------------------------------------------------
def _no_constant(name: str) -> Any:
    raise ValueError(name)


_load = Loader(parse_constant=_no_constant)   # NaN and Infinity are no JSON to JSON.parse


async def _json(request: Request) -> Any:
    return _parsed(await _raw(request))


async def _raw(request: Request) -> bytes:
    try:
        return await read_limited(request, BODY_LIMIT)
    except TooLarge:
        raise payload_too_large() from None


def _parsed(raw: bytes) -> Any:
    try:
        return _load(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise error(400, MALFORMED) from None


def _is_int(v: Any) -> bool:
    return v.__class__ is int


def _known_url(g: Passage, value: str, web: bool) -> bool:
    """`_url`, remembered for the URLs a client sends again and again."""
    verdict = g.urls.get((value, web))
    if verdict is None:
        verdict = g.urls.keep((value, web), _url(value, web))
    return verdict


def _url(value: str, web: bool) -> bool:
    """A URL as `new URL()` reads one; `web`: http(s) with a host (a webhook target)."""
    if len(value) > MAX_TEXT or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # noqa: F841 - a bad port is a ValueError
    except ValueError:
        return False
    if web:
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    return bool(parts.scheme) and value.startswith(parts.scheme + ":") and (
        bool(parts.netloc) or bool(parts.path))


def _text(body: dict[str, Any], name: str, issues: list[tuple[str, str]],
          required: bool = False, path: str | None = None) -> str | None:
    value = body.get(name)
    where = path or name
    if value is None:
        if required or name in body:
            issues.append((where, "is required" if name not in body else "must be a string"))
        return None
    if not isinstance(value, str):
        issues.append((where, "must be a string"))
        return None
    if required and not value:
        issues.append((where, "must not be empty"))
        return None
    if len(value) > MAX_TEXT:
        issues.append((where, f"must be at most {MAX_TEXT} characters"))
        return None
    return value


def _schema_issues(validator: Draft7Validator, args: Any, where: str) -> list[tuple[str, str]]:
    out = []
    for e in sorted(validator.iter_errors(args), key=lambda e: list(map(str, e.path))):
        path = ".".join([where, *map(str, e.absolute_path)])
        if e.validator == "required":
            missing = e.message.split("'")[1] if "'" in e.message else ""
            out.append((f"{path}.{missing}" if missing else path, "is required"))
        elif e.validator == "type":
            out.append((path, f"must be {_a(e.validator_value)}"))
        elif e.validator == "exclusiveMinimum" and e.validator_value == 0:
            out.append((path, "must be a positive integer"))
        elif e.validator == "pattern" and path.endswith("expirationDate"):
            out.append((path, "must be in MM/YY format"))
        else:
            out.append((path, e.message[:200]))
        if len(out) >= 20:
            break
    return out


def _a(kind: Any) -> str:
    kind = kind[0] if isinstance(kind, list) else kind
    return {"integer": "an integer", "object": "an object", "array": "an array",
            "boolean": "a boolean"}.get(kind, f"a {kind}")


def _operation(g: Passage, integration: str | None, op: Any, where: str,
               issues: list[tuple[str, str]]) -> dict[str, Any] | None:
    """One `{resource, action, arguments?}` checked against the catalogue; None if refused."""
    prefix = f"{where}." if where else ""
    if not isinstance(op, dict):
        issues.append((where, "must be an object"))
        return None
    n = len(issues)
    resource = _text(op, "resource", issues, required=True, path=prefix + "resource")
    action = _text(op, "action", issues, required=True, path=prefix + "action")
    args = op.get("arguments")
    if "arguments" in op and not isinstance(args, dict):
        issues.append((prefix + "arguments", "must be an object"))
    if len(issues) > n or integration is None:
        return None
    key = (integration, resource, action)
    if key not in g.template.operations:
        issues.append((where or "resource",
                       f"unknown operation {resource}.{action} for integration {integration}"))
        return None
    schema = g.template.operations[key][0]
    if schema is not None and (args is not None or not g.no_arguments_ok(key, schema)):
        found = _schema_issues(g.validator(key, schema), args if args is not None else {},
                               prefix + "arguments")
        if found:
            issues += found
            return None
    out: dict[str, Any] = {"resource": resource, "action": action}
    if args:  # kept for the results (a read's limit, a write's card); never shown
        out["arguments"] = args
    return out


def _fits(value: Any) -> bool:
    """A string `_text(..., required=True)` takes."""
    return value.__class__ is str and 0 < len(value) <= MAX_TEXT


def _plain_create(g: Passage, body: Any) -> dict[str, Any] | None:
    """The create body in its usual shape, in one pass: integrationId with operations of
    {resource, action} (or resource + action), catalogue operations that need no arguments,
    string URLs and user id, nothing else. What `_create_body` makes of it; None for any
    other body, which the full check then takes (and says what is wrong with it)."""
    if body.__class__ is not dict or not body.keys() <= _PLAIN_KEYS:
        return None
    integration = body.get("integrationId")
    if "operations" in body:
        raw = body["operations"]
        if "resource" in body or "action" in body or raw.__class__ is not list \
                or not 0 < len(raw) <= MAX_OPERATIONS:
            return None
    else:
        raw = [body]   # resource + action beside integrationId (no arguments: not _PLAIN_KEYS)
    ops: list[dict[str, Any]] = []
    catalogue = g.template.operations
    for op in raw:
        if op.__class__ is not dict or "arguments" in op:
            return None
        resource, action = op.get("resource"), op.get("action")
        if not (_fits(integration) and _fits(resource) and _fits(action)):
            return None
        key = (integration, resource, action)
        entry = catalogue.get(key)
        if entry is None or entry[0] is not None and not g.no_arguments_ok(key, entry[0]):
            return None
        ops.append({"resource": resource, "action": action})
    for name in _PLAIN_TEXTS:
        if name in body:   # null too is refused, by the full check
            value = body[name]
            if value.__class__ is not str or len(value) > MAX_TEXT:
                return None
    webhook, return_url, user = (body.get("webhookUrl"), body.get("returnUrl"),
                                 body.get("externalUserId"))
    if webhook is not None and not _known_url(g, webhook, web=True) \
            or return_url is not None and not _known_url(g, return_url, web=False):
        return None
    return {"integration": integration, "operations": ops, "webhook": webhook,
            "return_url": return_url, "user": user, "debug": False, "ttl": DEFAULT_TTL}


# what `_plain_create` takes (debug, expiresIn, arguments: the full check)
_PLAIN_KEYS = frozenset({"integrationId", "operations", "resource", "action", "webhookUrl",
                         "returnUrl", "externalUserId"})
_PLAIN_TEXTS = ("webhookUrl", "returnUrl", "externalUserId")   # optional strings


def _create_body(g: Passage, body: Any) -> dict[str, Any]:
    """The create body checked; a validation error listing every issue otherwise."""
    plain = _plain_create(g, body)
    return plain if plain is not None else _full_create(g, body)


def _full_create(g: Passage, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation([("", "must be an object")])
    issues: list[tuple[str, str]] = []
    integration = _text(body, "integrationId", issues, required=True)
    if integration is not None and not any(p["id"] == integration
                                           for p in g.template.providers):
        issues.append(("integrationId", f"unknown integration {integration}"))
        integration = None
    single = "resource" in body or "action" in body
    multi = "operations" in body
    ops: list[dict[str, Any]] = []
    if single and multi:
        issues.append(("operations", "provide either resource + action or operations, "
                                     "not both"))
    elif multi:
        raw = body["operations"]
        if not isinstance(raw, list):
            issues.append(("operations", "must be an array"))
        elif not raw:
            issues.append(("operations", "must contain at least one operation"))
        elif len(raw) > MAX_OPERATIONS:
            issues.append(("operations",
                           f"must contain at most {MAX_OPERATIONS} operations"))
        else:
            ops = [o for i, item in enumerate(raw)
                   if (o := _operation(g, integration, item, f"operations.{i}", issues))]
    elif single:
        op = _operation(g, integration, {k: body[k] for k in ("resource", "action", "arguments")
                                         if k in body}, "", issues)
        ops = [op] if op else []
    else:
        issues.append(("operations", "is required (or resource and action)"))
    if not single and "arguments" in body and not isinstance(body["arguments"], dict):
        # the schema's optional top-level record, type-checked whichever form the body takes
        issues.append(("arguments", "must be an object"))
    webhook = _text(body, "webhookUrl", issues)
    if webhook is not None and not _known_url(g, webhook, web=True):
        issues.append(("webhookUrl", "must be a valid URL"))
    return_url = _text(body, "returnUrl", issues)
    if return_url is not None and not _known_url(g, return_url, web=False):
        issues.append(("returnUrl", "must be a valid URL"))
    user = _text(body, "externalUserId", issues)
    debug = body.get("debug")
    if debug is not None and not isinstance(debug, bool):
        issues.append(("debug", "must be a boolean"))
    ttl = body.get("expiresIn")
    if ttl is not None:
        if not _is_int(ttl) or ttl <= 0:
            issues.append(("expiresIn", "must be a positive integer"))
        elif ttl > MAX_TTL:
            issues.append(("expiresIn", f"must be at most {MAX_TTL}"))
    if issues:
        raise validation(issues)
    return {"integration": integration, "operations": ops, "webhook": webhook,
            "return_url": return_url, "user": user, "debug": bool(debug),
            "ttl": ttl if ttl is not None else DEFAULT_TTL}


def _create_data(g: Passage, raw: bytes) -> dict[str, Any]:
    """The create body checked (`_create_body`), with the part of the answer it decides
    (`answer`: links.created_middle); remembered by its bytes when its operations carry no
    arguments (then a copy of each is all a link needs of its own)."""
    data = g.creates.get(raw)
    if data is None:
        data = _create_body(g, _parsed(raw))
        data["answer"] = links.created_middle(data["integration"], data["operations"])
        if len(raw) <= CREATE_MEMO_BODY and not any("arguments" in op
                                                    for op in data["operations"]):
            g.creates.keep(raw, data)
    return data


# -- the API ------------------------------------------------------------------------------------
async def create_link(g: Passage, request: Request) -> RawJSON:
    tenant = g.auth.require(request)
    data = _create_data(g, await _raw(request))
    store = store_of(tenant)
    now = g.now()
    link_id, code = links.mint(g.ctx)
    while g.taken(store, link_id, code):  # an imported snapshot holds what the seed draws next
        link_id, code = links.mint(g.ctx)
    link = Link(id=link_id, claim_code=code, integration_id=data["integration"],
                operations=[dict(op) for op in data["operations"]],  # its own: data is kept
                external_user_id=data["user"], webhook_url=data["webhook"],
                return_url=data["return_url"], debug=data["debug"], created_at=now,
                expires_at=now + data["ttl"] * 1000, updated_at=now)
    store.add(link)
    return RawJSON(links.created(link, data["answer"]), 201)


async def get_link(g: Passage, request: Request) -> RawJSON:
    tenant = g.auth.require(request)
    store = store_of(tenant)
    link = store.links.get(request.path_params["id"])
    if link is None:
        raise link_not_found()
    g.settle(tenant, store)
    return json_response(links.shown(link, g.now()))


async def list_links(g: Passage, request: Request) -> RawJSON:
    tenant = g.auth.require(request)
    store = store_of(tenant)
    g.settle(tenant, store)
    now = g.now()
    return json_response({"links": [links.shown(ln, now, full=False)
                                    for ln in reversed(store.links.values())]})


async def list_providers(g: Passage, request: Request) -> RawJSON:
    g.auth.require(request)
    return json_response({"providers": [{k: p[k] for k in ("id", "name", "resources")}
                                        for p in g.template.providers]})


def claim_refusal(link: Link, now: int) -> tuple[int, str] | None:
    status = link.status_at(now)
    if status == "expired":
        return 410, EXPIRED
    if status == "complete":
        return 409, USED
    if status == "active":
        return 409, CLAIMING
    return None


async def claim_link(g: Passage, request: Request) -> RawJSON:
    body = await _json(request)
    if not isinstance(body, dict):
        raise validation([("", "must be an object")])
    code = body.get("code")
    if code is None or code == "":
        raise validation([("code", "is required")])
    if not isinstance(code, str):
        raise validation([("code", "must be a string")])
    found = g.find_code(code)
    if found is None:
        raise error(404, BAD_CODE)
    tenant, store, link = found
    attribute(request.scope, tenant)
    now = g.now()
    if links.settled_view(g.template, link, now) is not link:
        g.settle(tenant, store)  # its auto-completion came first: written down, then refused
    refused = claim_refusal(link, now)
    if refused is not None:
        raise error(*refused)
    answer = links.claim(g.ctx, store, link)
    if link.auto_at is not None:
        g.arm()
    return json_response(answer)


async def webhook_key(g: Passage, request: Request) -> RawJSON:
    body = await _json(request)
    if not isinstance(body, dict):
        raise validation([("", "must be an object")])
    key_id = body.get("key_id")
    if key_id is None or key_id == "":
        raise validation([("key_id", "is required")])
    if not isinstance(key_id, str):
        raise validation([("key_id", "must be a string")])
    if key_id != g.auth.key_id:
        raise error(404, KEY_NOT_FOUND)
    return json_response({"key_id": g.auth.key_id, "key": g.auth.public_pem})


async def route_missing(g: Passage, request: Request) -> RawJSON:
    """Hono's notFound for any unmatched method or path (it has no 405), as JSON."""
    raise route_not_found()


async def link_socket_http(g: Passage, request: Request) -> RawJSON:
    """/link/ws asked without the WebSocket upgrade (a Worker's usual answer)."""
    raise error(426, "Expected Upgrade: websocket")


# -- GET /link/ws?code=clm_… --------------------------------------------------------------------
async def link_socket(g: Passage, ws: WebSocket) -> None:
    """Pushes `{"type": "link.status", linkId, status, error, updatedAt}` on connect and on each
    change; closes (1000) after complete or expired. An unknown code closes 4004, a missing one
    4000. Client messages are read and ignored."""
    code = ws.query_params.get("code")
    if g.sockets >= max(1, g.ctx.session_limit):
        await ws.close(1013)  # try again later: the sockets' bound
        return
    await ws.accept()
    g.sockets += 1
    incoming: asyncio.Future | None = None
    try:
        if not code:
            await ws.close(4000)
            return
        found = g.find_code(code)
        if found is None:
            await ws.close(4004)
            return
        tenant, _, link = found
        attribute(ws.scope, tenant)  # the journal's entry for this socket names its tenant
        last: tuple[Any, ...] | None = None
        incoming = asyncio.ensure_future(ws.receive())
        while True:
            current = tenant.stores.get(NAME) if g.tenants.get(tenant.id) is tenant else None
            if current is None or current.links.get(link.id) is not link:
                await ws.close(4004)  # reset, deleted, or dropped past the store's bound
                return
            now = g.now()
            if links.settled_view(g.template, link, now) is not link:
                g.settle(tenant, current)  # its auto-completion has come: written down now
            message = links.status_message(link, now)
            seen = (message["status"], message["updatedAt"])
            if seen != last:
                await ws.send_json(message)
                last = seen
                if message["status"] in ("complete", "expired"):
                    await ws.close(code=1000)
                    return
            done, _ = await asyncio.wait({incoming}, timeout=WS_POLL)
            if done:
                if incoming.result().get("type") == "websocket.disconnect":
                    return
                incoming = asyncio.ensure_future(ws.receive())
    except (WebSocketDisconnect, RuntimeError, OSError):
        return  # the client went away mid-send
    finally:
        g.sockets -= 1
        if incoming is not None and not incoming.done():
            incoming.cancel()
