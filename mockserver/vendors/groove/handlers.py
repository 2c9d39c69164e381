"""One function per Groove operation: parse, call the store, render."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ...core.http import RawJSON, TooLarge, VendorError, header, json_response, load, read_limited
from ...core.tenancy import attribute, wrote
from ...core.vendor import Service
from .auth import GrooveAuth
from .errors import DESCRIPTIONS, NO_STORE, graphql_errors, missing, not_found, oauth, rails
from .schema import Context as QueryContext
from .schema import RESULT_MAX_REQUEST, Executor
from .store import NAME, Grant, GrooveTemplate, store_of

if TYPE_CHECKING:
    from ...core.tenancy import Tenant

BODY_LIMIT = 1024 * 1024  # larger bodies are refused before they are held in memory


@dataclass(eq=False)
class Groove(Service[GrooveTemplate]):
    """Per-app Groove runtime the handlers share."""

    auth_type = GrooveAuth
    auth: GrooveAuth = field(init=False)
    # GraphQL: the schema, its prepared documents and answers (schema.py's memos)
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.executor = Executor(flows=len(self.template.flows))


# -- request parsing (Rails params) -------------------------------------------------------------
def _scalar(value: Any) -> str:
    """A params value as Rails hands it to Doorkeeper: scalars as text, anything else blank."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return ""


def _query(request: Request) -> dict[str, str]:
    raw = request.scope.get("query_string", b"").decode("latin-1")
    return {k: v for k, v in parse_qsl(raw, keep_blank_values=True, encoding="utf-8",
                                       errors="replace")}


async def _body(request: Request) -> bytes:
    try:
        return await read_limited(request, BODY_LIMIT)
    except TooLarge:
        raise rails(413, "Payload Too Large") from None


def _ctype(request: Request) -> str:
    return (header(request.scope, b"content-type") or "").split(";")[0].strip().lower()


async def _params(request: Request) -> dict[str, str]:
    """Query string and body merged (the body wins), JSON or form, as Rails' params."""
    params = _query(request)
    raw = await _body(request)
    if not raw.strip():
        return params
    ctype = _ctype(request)
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            data = load(raw.decode("utf-8", "replace"), parse_constant=_no_constant)
        except ValueError:
            raise oauth("invalid_request", 400, "The request body is not valid JSON.") from None
        if isinstance(data, dict):
            params.update({str(k): _scalar(v) for k, v in data.items()})
    elif ctype == "application/x-www-form-urlencoded":
        params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _no_constant(name: str) -> Any:
    raise ValueError(name)


# -- OAuth: authorization -----------------------------------------------------------------------
def _pre_authorize(g: Groove, request: Request,
                   params: dict[str, str]) -> tuple["Tenant", str, str, str | None]:
    """Doorkeeper's pre-authorization: (tenant, redirect URI, scope, state), or an error shown
    to the user (never redirected) for a bad client or redirect URI, or an error redirected
    back for the rest. Once the client is known the call is its tenant's (journal, reset)."""
    client_id = params.get("client_id")
    if not client_id:
        raise missing("client_id")
    tenant = g.auth.client_tenant(client_id)
    if tenant is None:
        raise oauth("invalid_client")
    attribute(request.scope, tenant)
    redirect_uri = params.get("redirect_uri") or params.get("redirect_url")
    if not redirect_uri:
        raise missing("redirect_uri")
    if redirect_uri != tenant.credentials[NAME]["redirectUri"]:
        raise oauth("invalid_redirect_uri")
    state = params.get("state")
    response_type = params.get("response_type") or "code"  # the doc's step 1 leaves it out
    if response_type != "code":
        raise _redirect_error(redirect_uri, "unsupported_response_type", state)
    scope = " ".join(params.get("scope", "").split()) or g.template.default_scopes
    if any(s not in g.template.scopes for s in scope.split()):
        raise _redirect_error(redirect_uri, "invalid_scope", state)
    return tenant, redirect_uri, scope, state


def _with_query(uri: str, values: dict[str, str | None]) -> str:
    extra = urlencode({k: v for k, v in values.items() if v is not None})
    return uri + ("&" if urlsplit(uri).query else "?") + extra


class _Redirect(VendorError):
    """An authorization answer sent back to the client's redirect URI."""

    def __init__(self, location: str) -> None:
        super().__init__(302, None, {"Location": location, **NO_STORE})


def _redirect_error(redirect_uri: str, error: str, state: str | None) -> _Redirect:
    return _Redirect(_with_query(redirect_uri, {"error": error,
                                                "error_description": DESCRIPTIONS[error],
                                                "state": state}))


def _approve(g: Groove, tenant: "Tenant", redirect_uri: str, scope: str,
             state: str | None) -> Response:
    """Issue a code for the sandbox user and send it back (raises the 302)."""
    client_id = tenant.credentials[NAME]["clientId"]
    code = g.auth.issue_code(tenant, Grant(client_id, g.template.user["id"], scope,
                                           redirect_uri=redirect_uri))
    raise _Redirect(_with_query(redirect_uri, {"code": code, "state": state}))


async def authorize(g: Groove, request: Request) -> Response:
    """GET /oauth/authorize: the sandbox user approves at once (302 with a code); with
    `prompt=consent`, a small page asks first."""
    params = _query(request)
    tenant, redirect_uri, scope, state = _pre_authorize(g, request, params)
    if params.get("prompt") == "consent":
        return _consent_page(params, tenant, redirect_uri, scope, state)
    wrote(request.scope)  # the code it mints
    return _approve(g, tenant, redirect_uri, scope, state)


async def decide(g: Groove, request: Request) -> Response:
    """POST /oauth/authorize: the consent page's answer (Doorkeeper's create); with a
    `grant_type` it is the doc's slip for the token endpoint."""
    params = await _params(request)
    if params.get("grant_type"):
        return _token(g, request, params)
    tenant, redirect_uri, scope, state = _pre_authorize(g, request, params)
    if params.get("decision") == "deny":
        raise _redirect_error(redirect_uri, "access_denied", state)
    return _approve(g, tenant, redirect_uri, scope, state)


async def deny(g: Groove, request: Request) -> Response:
    """DELETE /oauth/authorize: Doorkeeper's deny."""
    params = await _params(request)
    _, redirect_uri, _, state = _pre_authorize(g, request, params)
    raise _redirect_error(redirect_uri, "access_denied", state)


def _consent_page(params: dict[str, str], tenant: "Tenant", redirect_uri: str, scope: str,
                  state: str | None) -> Response:
    fields = {"client_id": tenant.credentials[NAME]["clientId"],
              "redirect_uri": redirect_uri, "scope": scope, "response_type": "code",
              **({"state": state} if state is not None else {})}
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    scopes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scope.split())
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Authorize {html.escape(fields['client_id'])}</title>
<style>body{{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#222}}
button{{font:inherit;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:6px;border:1px solid
#888;cursor:pointer}}button[value=approve]{{background:#1a7f37;color:#fff;border-color:#1a7f37}}
</style></head><body><h1>Authorize application</h1>
<p><strong>{html.escape(fields['client_id'])}</strong> asks to use your Groove account
(sandbox user) with these scopes:</p><ul>{scopes}</ul>
<form method="post" action="authorize">{hidden}
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button></form></body></html>"""
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


# -- OAuth: tokens ------------------------------------------------------------------------------
async def create_token(g: Groove, request: Request) -> RawJSON:
    """POST /oauth/token (and the doc's /oauth/authorize/token, /oauth/token/refresh)."""
    return _token(g, request, await _params(request))


def _token(g: Groove, request: Request, params: dict[str, str]) -> RawJSON:
    grant_type = params.get("grant_type")
    if not grant_type:
        raise missing("grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise oauth("unsupported_grant_type")
    tenant = g.auth.authenticate_client(request, params.get("client_id"),
                                        params.get("client_secret"))
    client_id = tenant.credentials[NAME]["clientId"]
    store = store_of(tenant)
    now = g.ctx.clock.time()
    if grant_type == "authorization_code":
        code = params.get("code")
        if not code:
            raise missing("code")
        redirect_uri = params.get("redirect_uri") or params.get("redirect_url")
        if not redirect_uri:
            raise missing("redirect_uri")
        grant = store.codes.get(code, now)
        if grant is None or grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            raise oauth("invalid_grant")
        store.codes.pop(code)  # single use
        body = g.auth.issue_tokens(tenant, client_id, grant.user_id, grant.scope)
    else:
        refresh = params.get("refresh_token")
        if not refresh:
            raise missing("refresh_token")
        grant = store.refresh.get(refresh, now)
        if grant is None or grant.client_id != client_id:
            raise oauth("invalid_grant")
        store.refresh.pop(refresh)  # the used refresh token is revoked, and its access token
        if grant.access_token is not None:
            access = store.tokens.get(grant.access_token, now)
            if access is not None:
                access.revoked = True
        body = g.auth.issue_tokens(tenant, client_id, grant.user_id, grant.scope)
    return json_response(body, 200, NO_STORE)


# -- GraphQL ------------------------------------------------------------------------------------
async def graphql(g: Groove, request: Request) -> RawJSON:
    """POST /api/public/v1/graphql: bearer token, then the rate limit, then the query."""
    tenant, store, token = g.auth.bearer(request)
    now = g.ctx.clock.time()
    decision = store.window.hit(token, now, store.rate_limit)
    headers = {"X-RateLimit-Limit": str(decision.limit),
               "X-RateLimit-Remaining": str(decision.remaining),
               "X-RateLimit-Reset": str(decision.reset)}
    if not decision.allowed:
        raise VendorError(429, None, headers)  # "an empty response with status code 429"
    try:
        raw = await _body(request)
        ctype = _ctype(request)
        key = (ctype, raw) if len(raw) <= RESULT_MAX_REQUEST else None
        if key is not None:
            body = g.executor.recall(store, key)
            if body is not None:
                return RawJSON(body, 200, headers)
        query, variables, operation = _graphql_request(raw, ctype)
    except VendorError as exc:
        exc.headers.update(headers)
        raise
    prepared = g.executor.cached(query)
    if prepared is None:    # a new document: parsed and validated off the loop
        prepared = await g.executor.prepare_off_loop(query, variables, operation)
    body, data = await g.executor.respond(prepared, variables, operation,
                                          QueryContext(store, now))
    if data is not None and key is not None:
        g.executor.remember(data, key, body)
    return RawJSON(body, 200, headers)


def _graphql_request(raw: bytes, ctype: str) -> tuple[str, dict[str, Any] | None, str | None]:
    if ctype == "application/graphql":
        data: Any = {"query": raw.decode("utf-8", "replace")}
    elif ctype == "application/x-www-form-urlencoded":
        data = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    elif ctype == "application/json" or ctype.endswith("+json") or not ctype:
        if not raw.strip():
            data = {}
        else:
            try:
                data = load(raw.decode("utf-8", "replace"), parse_constant=_no_constant)
            except ValueError as exc:
                raise graphql_errors(400, (f"The request body is not valid JSON: "
                                           f"{str(exc).split(':')[0]}", "badRequest")) from None
    else:
        raise graphql_errors(400, (f"Unsupported Content-Type {ctype!r}: send "
                                   "application/json with {\"query\": ...}", "badRequest"))
    if not isinstance(data, dict):
        raise graphql_errors(400, ("The request body must be a JSON object with a `query`; "
                                   "batched queries are not supported", "badRequest"))
    query = data.get("query")
    if query is not None and not isinstance(query, str):
        raise graphql_errors(400, ("`query` must be a string", "badRequest"))
    variables = data.get("variables")
    if isinstance(variables, str):  # graphql-ruby's controller also takes them as JSON text
        try:
            variables = load(variables, parse_constant=_no_constant) if variables.strip() else None
        except ValueError:
            raise graphql_errors(400, ("`variables` is not valid JSON", "badRequest")) from None
    if variables is not None and not isinstance(variables, dict):
        raise graphql_errors(400, ("`variables` must be an object", "badRequest"))
    operation = data.get("operationName")
    if operation is not None and not isinstance(operation, str):
        raise graphql_errors(400, ("`operationName` must be a string", "badRequest"))
    if query is None or not query.strip():  # graphql-ruby answers this one with a 200
        raise graphql_errors(200, ("No query string was present", "badRequest"))
    return query, variables, operation or None


# -- everything else ----------------------------------------------------------------------------
async def route_missing(g: Groove, request: Request) -> RawJSON:
    """Rails' 404 for a JSON client (a wrong method is a routing error too)."""
    raise not_found()
