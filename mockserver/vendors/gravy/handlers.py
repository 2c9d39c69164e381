"""One function per Gravy Connect operation: parse, call the store, render."""
from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import parse_qsl

from starlette.requests import Request

from ...core.http import (RawJSON, TooDeep, TooLarge, VendorError, authorization, base_url, dump,
                          header, json_response, load, original_url, read_limited)
from ...core.control import encode_pieces, off_loop
from ...core.memo import Memo
from .errors import bad_request, http_error, not_found, payload_too_large, route_not_found, \
    unauthorized, validation_failed
from ...core.vendor import Service
from .auth import GravyAuth
from .resources import ResourceSet, kind_for, read_limit, requested_errors
from .store import (NAME, Connection, GravyStore, GravyTemplate, IntentSession, ResourceState,
                    store_of)
from .validation import (Dto, EachString, IsArray, IsBoolean, IsNotEmpty, IsObject,
                         IsString, IsUrl, Prop, page_props, query_dict)

if TYPE_CHECKING:
    from ...core.tenancy import Tenant

# What the service remembers (core/memo.py), by entries
LISTED_MEMO = 256    # answers to bearer tokens' page reads (`Listed`): each holds one page of at
                     # most 100 items, which its resource set may have dropped; a suite or a
                     # poller repeats few pages
QUERIES_MEMO = 4096  # (DTO, raw query string) -> validated values or error (`query_key`)


@dataclass(eq=False)
class Gravy(Service[GravyTemplate]):
    """Per-app Gravy runtime the handlers share."""

    auth_type = GravyAuth
    auth: GravyAuth = field(init=False)
    # (bearer token, path, raw query) -> a resource page served to it (`list_resource`).
    listed: "Memo[tuple[str, str, bytes], Listed]" = field(
        default_factory=lambda: Memo(LISTED_MEMO))
    queries: "Memo[tuple[Dto, bytes], tuple[Mapping[str, Any], tuple] | VendorError]" = field(
        default_factory=lambda: Memo(QUERIES_MEMO))

    def store(self, tenant: "Tenant") -> GravyStore:
        return store_of(tenant)


# -- request parsing (Express body-parser + ValidationPipe) ----------------------------------
BODY_LIMIT = 100 * 1024  # body-parser's default `limit` for json and urlencoded, "100kb"


async def read_body(request: Request) -> dict[str, Any]:
    ctype = (header(request.scope, b"content-type") or "").split(";")[0].strip().lower()
    try:
        raw = await read_limited(request, BODY_LIMIT)
    except TooLarge:
        if _parsed(ctype):
            raise payload_too_large() from None
        return {}  # body-parser never reads a type it does not parse
    if not raw:
        return {}
    if ctype == "application/json" or ctype.endswith("+json"):
        text = raw.decode("utf-8", "replace")
        try:
            data = load(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise bad_request(_json_error(text, exc)) from None
        if not isinstance(data, (dict, list)):  # body-parser's strict mode
            raise bad_request(_json_error(text, None))
        return data if isinstance(data, dict) else {}
    if ctype == "application/x-www-form-urlencoded":
        return query_dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return {}  # other types are not parsed: the body is empty to the DTO


class _Constant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are Python's JSON extensions; JSON.parse rejects them."""
    raise _Constant(name)


def _parsed(ctype: str) -> bool:
    return ctype in ("application/json", "application/x-www-form-urlencoded") \
        or ctype.endswith("+json")


def _json_error(text: str, exc: ValueError | None) -> str:
    """Node's JSON.parse wording, which body-parser passes through."""
    if isinstance(exc, TooDeep):
        # V8 parses any depth; past core.http.MAX_DEPTH the mock answers as V8 does for the
        # usual case, an unclosed run of brackets, and says so plainly for a balanced one.
        opened = text.count("[") + text.count("{")
        closed = text.count("]") + text.count("}")
        return "Unexpected end of JSON input" if opened > closed else \
            "Request body is nested too deeply"
    pos = text.find(str(exc)) if isinstance(exc, _Constant) else getattr(exc, "pos", 0) or 0
    if pos >= len(text.rstrip()):
        return "Unexpected end of JSON input"
    snippet = text if len(text) <= 30 else text[:30] + "..."
    return f"Unexpected token '{text[pos]}', \"{snippet}\" is not valid JSON"


def validate(dto: Dto, data: dict[str, Any]) -> dict[str, Any]:
    values, errors = dto.validate(data)
    if errors:
        raise validation_failed(errors)
    return values


# A query string this long is validated each time, never kept (Gravy.queries)
QUERY_MEMO_MAX = 2048


def query(g: Gravy, dto: Dto, request: Request) -> Mapping[str, Any]:
    """The validated query. Parsing is pure, so each (DTO, query string) is validated once."""
    return query_key(g, dto, request)[0]


def query_key(g: Gravy, dto: Dto, request: Request) -> tuple[Mapping[str, Any], tuple]:
    """(validated values as a read-only mapping, a hashable key of them). Remembered in
    `g.queries`: saves parsing and validating the same query string on every request
    (bench/README.md, "cached query validation")."""
    qs = request.scope.get("query_string", b"")
    key = (dto, qs)
    hit = g.queries.get(key)
    if hit is None:
        try:
            values = validate(dto, query_dict(parse_qsl(qs.decode("latin-1"),
                                                        keep_blank_values=True)))
            hit = (MappingProxyType(values), tuple(sorted(values.items())))
        except VendorError as exc:
            hit = exc
        if len(qs) <= QUERY_MEMO_MAX:
            g.queries.keep(key, hit)
    if isinstance(hit, VendorError):
        # A fresh exception (no traceback build-up) with its own body.
        raise VendorError(hit.status, copy.deepcopy(hit.body))
    return hit


def paginate(rows: Sequence, q: Mapping[str, Any]) -> tuple[Sequence, dict[str, Any]]:
    """The page `q` asks for (default 1, 20 per page) and its `meta`."""
    page, limit = q.get("page", 1), int(q.get("limit", 20))  # 1e308 passes IsInt, as in JS
    start = (int(page) - 1) * limit
    window = rows[start: start + limit]
    pages = -(-len(rows) // limit)
    return window, {"page": page, "limit": limit, "total": len(rows), "totalPages": pages,
                    "hasNext": page < pages, "hasPrev": page > 1, "itemCount": len(window)}


def envelope_head(encoded_items: list[bytes], meta: dict[str, Any]) -> bytes:
    """`{"data":[...],"meta":{...},"timestamp":"` around pre-encoded items."""
    return b'{"data":[' + b",".join(encoded_items) + b'],"meta":' + dump(meta) + b',"timestamp":"'


TAIL = b'","version":"v1"}'


def envelope(encoded_items: list[bytes], meta: dict[str, Any], timestamp: str) -> RawJSON:
    """{data, meta, timestamp, version}."""
    return RawJSON(envelope_head(encoded_items, meta) + timestamp.encode() + TAIL)


# -- DTOs -------------------------------------------------------------------------------------
TOKEN_DTO = Dto((
    Prop("grant_type", (IsNotEmpty(), IsString())),
    Prop("client_id", (IsString(),), optional=True),
    Prop("client_secret", (IsString(),), optional=True),
    Prop("scope", (IsString(),), optional=True),
))
PROMPT_DTO = Dto((
    Prop("name", (IsNotEmpty(), IsString())),
    Prop("value", (IsNotEmpty(), IsString())),
    Prop("outputType", (IsString(),), optional=True),
    Prop("outputFormat", (IsString(),), optional=True),
))
# The doc's table order, then the fields only the web SDK sends. Only integrationId is
# required: the SDK (passage.ts generateAppClip) may leave out every other field.
INTENT_DTO = Dto((
    Prop("integrationId", (IsNotEmpty(), IsString())),
    Prop("products", (EachString(), IsArray()), optional=True),
    Prop("operations", (EachString(), IsArray()), optional=True),
    Prop("userId", (IsNotEmpty(), IsString()), optional=True),
    Prop("prompts", (IsArray(),), optional=True, nested=PROMPT_DTO),
    Prop("sessionArgs", (IsObject(),), optional=True),
    Prop("debug", (IsBoolean(),), optional=True),
    Prop("captureScreenshot", (IsBoolean(),), optional=True),
    Prop("resources", (IsObject(),), optional=True, check=requested_errors),
    Prop("returnUrl", (IsString(),), optional=True),
    Prop("webhookUrl", (IsUrl(),), optional=True),
    Prop("record", (IsBoolean(),), optional=True),
    Prop("clearAllCookies", (IsBoolean(),), optional=True),
    Prop("interactive", (IsBoolean(),), optional=True),
    Prop("adCampaign", (IsString(),), optional=True),
))
SHORT_CODE_DTO = Dto((Prop("shortCode", (IsNotEmpty(), IsString())),))
VALIDATE_DTO = Dto((Prop("intentToken", (IsNotEmpty(), IsString())),))
KEY_DTO = Dto((Prop("key_id", (IsNotEmpty(), IsString())),))
_CONN_PAGE = page_props(("createdAt", "updatedAt"))
CONNECTIONS_DTO = Dto(tuple(_CONN_PAGE.values()) + (
    Prop("status", (IsString(),), optional=True),
    Prop("integrationId", (IsString(),), optional=True),
    Prop("userId", (IsString(),), optional=True),
))


# -- operations -------------------------------------------------------------------------------
async def create_token(g: Gravy, request: Request) -> RawJSON:
    body = await read_body(request)
    values = validate(TOKEN_DTO, body)
    if values["grant_type"] != "client_credentials":
        raise bad_request("Unsupported grant type")
    client_id, client_secret = values.get("client_id"), values.get("client_secret")
    basic = g.auth.basic(request)
    if basic is not None and client_id is None:
        client_id, client_secret = basic
    tenant = g.auth.client(request, client_id or "", client_secret or "")
    if tenant is None:
        raise http_error(401, "Invalid client credentials")
    scope = values.get("scope") or "read write"
    token = g.auth.issue(tenant, client_id or "", scope)
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                          "scope": scope},
                         headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def create_intent_token(g: Gravy, request: Request) -> RawJSON:
    tenant = g.auth.bearer(request) or g.auth.publishable(request)
    if tenant is None:
        raise unauthorized()
    body = await read_body(request)
    values = validate(INTENT_DTO, body)
    integration = g.template.by_slug.get(values["integrationId"])
    if integration is None:
        raise not_found(f"Integration {values['integrationId']} not found")
    branding = g.template.branding[integration["slug"]]
    documented = g.template.documented_intent
    if documented is not None and body == documented[0]:
        branding = documented[1]  # the doc's own request: its documented answer's branding
    store = g.store(tenant)
    now = g.ctx.clock.iso()
    connection_id = str(uuid.UUID(int=g.ctx.rng.getrandbits(128), version=4))
    requested = values.get("resources") or {}
    return_url = values.get("returnUrl")
    states, limits = _requested_resources(requested, values.get("products") or [])
    store.add_connection(Connection(
        id=connection_id, integrationId=integration["slug"], status="pending",
        userId=values.get("userId"), createdAt=now, updatedAt=now, resources=states,
        webhookUrl=values.get("webhookUrl"), returnUrl=return_url, read_limits=limits))
    # Without a returnUrl the claim is absent, as JSON.stringify drops an undefined one.
    token, short, exp = g.auth.mint_intent(tenant, {
        "sessionId": connection_id, "resources": requested,
        **({"returnUrl": return_url} if return_url is not None else {}),
        "products": values.get("products") or []})
    store.add_intent(IntentSession(token, short, connection_id, integration["slug"], requested,
                                   return_url, exp), g.ctx.clock.time())
    return json_response({"intentToken": token, "connectionId": connection_id,
                          "debug": values.get("debug", False), "shortToken": short,
                          "branding": branding}, 201)


def _requested_resources(requested: dict[str, Any], products: list[str]) \
        -> tuple[list[ResourceState], dict[str, int]]:
    states: list[ResourceState] = []
    limits: dict[str, int] = {}
    for name, ops in requested.items():  # validated: known names, objects or null
        ops = ops or {}
        for op in ("read", "write"):
            if ops.get(op) is not None:
                states.append(ResourceState(name, op))
        limit = read_limit(ops)  # validated: a positive integer, maybe sent as "5" or 5.0
        if limit is not None:
            limits[kind_for(name).name] = limit
    if not states:  # the deprecated `products` named resources before `resources` existed
        states = [ResourceState(p, "read") for p in products]
    return states, limits


def _caller(g: Gravy, request: Request) -> "Tenant | None":
    """The tenant of a valid Bearer or Publishable credential, if the request carries one."""
    return g.auth.bearer(request) or g.auth.publishable(request)


def _short_code_session(g: Gravy, request: Request, code: str) -> IntentSession | None:
    """The live intent session of a short code. Public, so the code names its tenant; a
    credential of another tenant finds nothing (README.md, "Use in CI": tenants)."""
    caller = _caller(g, request)
    if caller is not None:
        session = g.store(caller).intents.get(code, g.ctx.clock.time())
    else:
        found = g.auth.short_code(request, code)
        session = found[1] if found is not None else None
    return session if session is not None and session.short_token == code else None


async def get_intent_token(g: Gravy, request: Request) -> RawJSON:
    # No Authorization: the web SDK (shortcode.ts resolveShortCode) sends none.
    values = query(g, SHORT_CODE_DTO, request)
    session = _short_code_session(g, request, values["shortCode"])
    if session is None:
        raise not_found("Intent token not found")
    return json_response({"intentToken": session.token, "sessionId": session.connection_id,
                          "resources": session.resources,
                          **_present("returnUrl", session.return_url)})


async def get_intent_token_link(g: Gravy, request: Request) -> RawJSON:
    """A short code's display configuration, in the shape the web SDK reads (shortcode.ts
    getShortCodeConfig / resolveShortCode): the integration's branding and logo."""
    code = request.path_params["code"]
    session = _short_code_session(g, request, code)
    if session is None:
        raise not_found("Intent token link not found")
    branding = g.template.branding[session.integration_id]
    return json_response({"shortCode": code, "intentToken": session.token,
                          "integrationName": branding["integrationName"],
                          "logoUrl": g.template.by_slug[session.integration_id]["logoUrl"],
                          **{k: v for k, v in branding.items() if k != "integrationName"}})


async def validate_intent_token(g: Gravy, request: Request) -> RawJSON:
    # Public: the web SDK (shortcode.ts validateIntentToken) sends no Authorization, so the
    # token names its tenant. A credential of another tenant gets the invalid-token 401
    # (tenants are isolated).
    caller = _caller(g, request)
    values = validate(VALIDATE_DTO, await read_body(request))
    token = values["intentToken"]
    found = g.auth.intent_claims(token) if caller is not None else g.auth.intent(request, token)
    if found is None or (caller is not None and found[0] is not caller):
        raise http_error(401, "Invalid or expired intent token")
    session = found[1]
    return json_response({"valid": True, "sessionId": session.connection_id,
                          "connectionId": session.connection_id,
                          "integrationId": session.integration_id,
                          "resources": session.resources,
                          **_present("returnUrl", session.return_url), "exp": session.exp}, 201)


def _present(key: str, value: Any) -> dict[str, Any]:
    """`{key: value}`, or nothing for None: Express drops undefined keys from JSON."""
    return {key: value} if value is not None else {}


async def list_connections(g: Gravy, request: Request) -> RawJSON:
    tenant = g.auth.require_bearer(request)
    q = query(g, CONNECTIONS_DTO, request)
    rows = g.store(tenant).sorted_connections(q.get("sortBy", "createdAt"),
                                              q.get("sortOrder", "desc"))
    for name in ("status", "integrationId", "userId"):
        if name in q:
            rows = [c for c in rows if getattr(c, name) == q[name]]
    window, meta = paginate(rows, q)
    base = base_url(request)
    if any(c.connectionMetadata or c.errorDetails for c in window):
        # Free-form objects a snapshot filled (hundreds of KB each): encoded off the event loop
        # from the page as it is now, and sent in pieces (see Pieces).
        page = {"data": [c.to_json(base) for c in window], "meta": meta,
                "timestamp": g.ctx.clock.iso(), "version": "v1"}
        return Pieces(await off_loop(encode_pieces, page))
    return envelope([dump(c.to_json(base)) for c in window], meta, g.ctx.clock.iso())


def _authorize(g: Gravy, request: Request, connection_id: str) \
        -> tuple["Tenant", Connection | None]:
    """Bearer sees the tenant's connections; x-intent-token only its own connection."""
    tenant = g.auth.bearer(request)
    if tenant is None:
        intent = request.headers.get("x-intent-token")
        found = g.auth.intent(request, intent.strip()) if intent else None
        if found is None or found[1].connection_id != connection_id:
            raise unauthorized()
        tenant = found[0]
    return tenant, store_of(tenant).connections.get(connection_id)


async def get_connection(g: Gravy, request: Request) -> RawJSON:
    _, conn = _authorize(g, request, request.path_params["connectionId"])
    if conn is None:
        raise not_found("Connection not found")
    if conn.connectionMetadata or conn.errorDetails:  # as list_connections
        return Pieces(await off_loop(encode_pieces, conn.to_json(base_url(request))))
    return json_response(conn.to_json(base_url(request)))


class Pieces(RawJSON):
    """A RawJSON whose body is sent in the pieces it was encoded in (`encode_pieces`): a page
    of 60 MB is never joined into one block, a copy that would hold the interpreter."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: list[bytes]) -> None:
        super().__init__(b"")
        self.pieces = pieces or [b""]

    async def __call__(self, scope, receive, send) -> None:
        raw = [(b"content-type", self.content_type),
               (b"content-length", str(sum(map(len, self.pieces))).encode())]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        pieces, last = self.pieces, len(self.pieces) - 1
        for i in range(last + 1):
            piece, pieces[i] = pieces[i], b""  # each freed once sent, not all at the end
            await send({"type": "http.response.body", "body": piece, "more_body": i < last})


async def list_resource(g: Gravy, request: Request) -> RawJSON:
    scope = request.scope
    # The answer to a repeated page read (a client polling, a load) is recalled, checked against
    # everything it depends on, rather than worked out again: see `Listed`.
    token = authorization(scope, "bearer")
    qs = scope.get("query_string", b"")
    key = (token, scope["vendor_path"], qs) if token is not None else None
    if key is not None:
        listed = g.listed.get(key)
        if listed is not None:
            body = listed.body(g, token)
            if body is not None:
                scope["state"]["tenant"] = listed.tenant.id  # tenancy.attribute
                return RawJSON(body)
    params = request.path_params
    kind = kind_for(params.get("resource") or params.get("type") or "")
    if kind is None:
        raise route_not_found(request.method, original_url(request))
    # Guard, then pipe, then handler: 401 before 400 before 404, as NestJS orders them.
    tenant, conn = _authorize(g, request, params["connectionId"])
    q, page_key = query_key(g, kind.dto, request)
    if conn is None:
        raise not_found("Connection not found")
    store = store_of(tenant)
    rs: ResourceSet | None = store.resource_set(conn, kind)
    if rs is None:
        raise not_found(f"No {kind.name} data available for connection {conn.id}")
    if len(qs) > QUERY_MEMO_MAX:
        # client junk is rendered each time, never kept
        return RawJSON(_render_page(rs, kind, q) + g.ctx.clock.iso().encode() + TAIL)
    entry = rs.cached_page(page_key)
    if entry is None:
        entry = rs.keep_page(page_key, _render_page(rs, kind, q))
    listed = Listed(tenant, store, store.version, entry)
    if key is not None and g.auth.bearer(request) is tenant:  # not an x-intent-token's read
        g.listed.keep(key, listed)
    return RawJSON(listed.body(g, None))


@dataclass(slots=True)
class Listed:
    """A page served to a bearer token, valid while the token lives, its tenant keeps this
    store (no reset, import or deletion) and no connection of the store changed since
    (`GravyStore.version`). The page itself is immutable data; only its timestamp moves."""

    tenant: "Tenant"
    store: GravyStore
    version: int
    entry: list  # ResourceSet.cached_page: [head, timestamp, whole body]

    def body(self, g: Gravy, token: str | None) -> bytes | None:
        """The whole body at the clock's time; None when no longer valid for `token` (None:
        just checked by the caller)."""
        store = self.store
        if token is not None and (
                self.tenant.stores.get(NAME) is not store or store.version != self.version
                or g.tenants.owner_of(token) is not self.tenant
                or store.tokens.get(token, g.ctx.clock.time()) is None):
            return None
        stamp = g.ctx.clock.iso()
        entry = self.entry
        if entry[1] != stamp:  # the body for this timestamp, built once
            entry[2] = entry[0] + stamp.encode() + TAIL
            entry[1] = stamp
        return entry[2]


def _render_page(rs: ResourceSet, kind, q: dict[str, Any]) -> bytes:
    """Everything of a page response before its timestamp (the data is immutable)."""
    window, meta = paginate(rs.select(kind, q), q)
    return envelope_head([rs.encoded[n] for n in window], meta)


async def list_integrations(g: Gravy, request: Request) -> RawJSON:
    return json_response(g.template.integrations)


async def get_integration(g: Gravy, request: Request) -> RawJSON:
    slug = request.path_params["slug"]
    integration = g.template.by_slug.get(slug)
    if integration is None:
        raise not_found(f"Integration {slug} not found")  # POST /intent-token's wording
    return json_response(integration)


async def get_webhook_verification_key(g: Gravy, request: Request) -> RawJSON:
    g.auth.require_bearer(request)
    values = validate(KEY_DTO, await read_body(request))
    if values["key_id"] != g.auth.key_id:
        raise not_found("Key not found")
    return json_response({"key_id": g.auth.key_id, "key": g.auth.public_pem}, 201)


async def route_missing(g: Gravy, request: Request) -> RawJSON:
    raise route_not_found(request.method, original_url(request))
