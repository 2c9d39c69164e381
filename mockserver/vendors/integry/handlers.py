"""One function per Integry operation: parse, call the store, render."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft7Validator
from starlette.requests import Request

from ...core.control import off_loop
from ...core.memo import Memo
from ...core.vendor import Service
from ...core.http import (MAX_DEPTH, RawJSON, TooLarge, _js_float, _js_int, dump, json_response,
                          load, read_limited)
from . import backends, predict
from .auth import IntegryAuth, query_of, wanted_headers
from .errors import (CALL_INVALID, CALL_NOT_CONNECTED, REQUIRED, call_failed, detail,
                     field_errors, method_not_allowed, not_found, parse_error,
                     unsupported_media)
from .store import NAME, IntegryStore, IntegryTemplate, store_of

PAGE_SIZE = 50            # "Default page size is 50"
BODY_LIMIT = 1024 * 1024  # larger bodies are refused before they are held in memory
CALL_MEMO = 256          # valid call bodies remembered (Integry.known_calls)
CALL_MEMO_BODY = 4096    # and the largest one
INLINE_BODY = 64 * 1024  # a larger call body is read off the event loop
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


@dataclass(eq=False)
class Integry(Service[IntegryTemplate]):
    """Per-app Integry runtime the handlers share."""

    auth_type = IntegryAuth
    auth: IntegryAuth = field(init=False)
    # one per catalogue function, built when first called: bounded by the immutable catalogue
    validators: dict[str, Draft7Validator] = field(default_factory=dict)
    # (function name, content type, body) of a valid call -> (function, arguments as items,
    # body's `_cursor`): a repeated call skips parsing, tag replacement and validation, which
    # depend on nothing else (the catalogue is immutable). Only calls whose arguments are all
    # scalars, so each call gets its own dict and shares nothing mutable.
    known_calls: "Memo[tuple[str, str, bytes], tuple[Any, ...]]" = field(
        default_factory=lambda: Memo(CALL_MEMO))
    rendered: "backends.Posts" = field(
        default_factory=lambda: Memo(backends.RENDERED_MEMO))  # see backends._slack_post

    def validator(self, fn: dict[str, Any]) -> Draft7Validator:
        v = self.validators.get(fn["name"])
        if v is None:  # one per catalogue function, built once
            v = self.validators[fn["name"]] = Draft7Validator(fn["parameters"])
        return v


# -- request parsing (DRF) ----------------------------------------------------------------------
async def _body(request: Request, headers: dict[bytes, str]) -> dict[str, Any]:
    """request.data: JSON or form; no body at all (the SDK's apps.get) is empty."""
    return _parse(await _raw(request, headers), headers)


async def _raw(request: Request, headers: dict[bytes, str]) -> bytes:
    try:
        return await read_limited(request, BODY_LIMIT, headers.get(b"content-length", ""))
    except TooLarge:
        # DRF's shape for a status it has no exception of its own for: {"detail": ...}
        raise detail(413, "Request body is larger than 1 MiB.") from None


def _parse(raw: bytes, headers: dict[bytes, str]) -> dict[str, Any]:
    if not raw.strip():
        return {}
    ctype = headers.get(b"content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            data = _json(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise parse_error(str(exc)[:200]) from None
        if not isinstance(data, dict):
            raise parse_error("Expected a JSON object")
        return data
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    raise unsupported_media(ctype or "text/plain")


def _no_constant(name: str) -> Any:
    raise ValueError(f"Unexpected token {name}")


# core.http.load's decoder (JSON.parse's numbers, no NaN/Infinity), built once instead of per call
_DECODER = json.JSONDecoder(parse_int=_js_int, parse_float=_js_float, parse_constant=_no_constant)


def _json(text: str) -> Any:
    """`load(text, parse_constant=_no_constant)`: a body nested at most MAX_DEPTH (bracket count,
    an upper bound) and without a BOM (json.loads' own error) goes to the prebuilt decoder,
    which can then neither recurse too deep nor need load's depth check; anything else to load."""
    if text[:1] == "\ufeff" or text.count("[") + text.count("{") > MAX_DEPTH:
        return load(text, parse_constant=_no_constant)
    return _DECODER.decode(text)


async def _signed(g: Integry, request: Request) \
        -> tuple[IntegryStore, str, dict[str, str], dict[str, Any]]:
    """(store, user id, query, body) of a correctly signed call: what every operation reads."""
    scope = request.scope
    headers = wanted_headers(scope)
    query = query_of(scope)
    tenant, user = g.auth.signed(scope, headers, query)
    return store_of(tenant), user, query, await _body(request, headers)


def _bool(params: dict[str, str], name: str, default: bool = False) -> bool:
    """A DRF BooleanField query param: true/True/1 and false/False/0 (the Python SDK sends
    Python's spelling); anything else is the field's 400."""
    value = params.get(name)
    if value is None or value == "":
        return default
    low = value.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise field_errors({name: ["Must be a valid boolean."]})


def _cursor(g: Integry, body: dict[str, Any], query: dict[str, str]) -> int:
    """The page offset from `_cursor` in the body (Python SDK) or the query (Node SDK)."""
    value = body.get("_cursor", query.get("_cursor"))
    if value.__class__ is str and value in g.template.cursor_offsets:  # the doc's own cursor
        return g.template.cursor_offsets[value]
    try:
        return backends.decode_cursor(value)
    except backends.BadCursor:
        raise not_found("Invalid cursor") from None


def _page(g: Integry, items: list[Any], offset: int) -> tuple[list[Any], str | None]:
    following = offset + PAGE_SIZE
    if following >= len(items):
        return items[offset:following], None
    return items[offset:following], g.template.cursor_at.get(following) \
        or backends.encode_cursor(following)


# -- apps ---------------------------------------------------------------------------------------
def _connected_apps(store: IntegryStore, user: str) -> set[str]:
    return {app for app, accounts in store.users.get(user, {}).items() if accounts}


def _app_json(app: dict[str, Any], store: IntegryStore, user: str) -> dict[str, Any]:
    return {**app, "connected_accounts": [a.to_json() for a in store.accounts(user,
                                                                                app["name"])]}


async def list_apps(g: Integry, request: Request) -> RawJSON:
    store, user, query, body = await _signed(g, request)
    connected_only = _bool(query, "connected_only")
    offset = _cursor(g, body, query)
    connected = _connected_apps(store, user)
    # the user's connected apps first, then the rest by name (the doc's sample order)
    apps = [a for a in g.template.apps if a["name"] in connected]
    if not connected_only:
        apps += [a for a in g.template.apps if a["name"] not in connected]
    page, cursor = _page(g, apps, offset)
    return json_response({"apps": [_app_json(a, store, user) for a in page], "_cursor": cursor})


async def get_app(g: Integry, request: Request) -> RawJSON:
    store, user, _, _ = await _signed(g, request)
    app = g.template.apps_by_name.get(request.path_params["app"])
    if app is None:
        raise not_found("App not found")
    return json_response(_app_json(app, store, user))


# -- functions ----------------------------------------------------------------------------------
def _include_meta(query: dict[str, str]) -> bool:
    include = query.get("include")
    if include in (None, ""):
        return False
    if include != "meta":
        raise field_errors({"include": [f'"{include}" is not a valid choice.']})
    return True


def _function_json(g: Integry, fn: dict[str, Any], meta: bool) -> dict[str, Any]:
    out = {"name": fn["name"], "description": fn["description"], "parameters": fn["parameters"]}
    if meta:
        app = g.template.apps_by_name[fn["app"]]
        props = fn["parameters"].get("properties", {})
        required = set(fn["parameters"].get("required", []))
        out["meta"] = {
            "type": fn["type"],
            "app": {k: app[k] for k in ("id", "name", "title", "icon_url")},
            "fields": [{"name": name, "title": name.replace("_", " ").capitalize(),
                        "type": spec.get("type", "string"), "required": name in required,
                        "description": spec.get("description", ""),
                        **({"options": spec["enum"]} if "enum" in spec else {})}
                       for name, spec in props.items()],
        }
    return out


async def list_functions(g: Integry, request: Request) -> RawJSON:
    store, user, query, body = await _signed(g, request)
    meta = _include_meta(query)
    kind = query.get("type")
    if kind not in (None, ""):
        kind = kind.upper()
        if kind not in ("QUERY", "ACTION", "PASSTHROUGH"):
            raise field_errors({"type": [f'"{query["type"]}" is not a valid choice.']})
    app = (query.get("app") or "").lower() or None
    search = (query.get("search") or "").lower() or None
    connected = _connected_apps(store, user) if _bool(query, "connected_only") else None
    offset = _cursor(g, body, query)
    found = [f for f in g.template.functions
             if (app is None or f["app"] == app) and (not kind or f["type"] == kind)
             and (connected is None or f["app"] in connected)
             and (search is None or search in f["name"] or search in f["description"].lower())]
    page, cursor = _page(g, found, offset)
    return json_response({"functions": [_function_json(g, f, meta) for f in page],
                          "_cursor": cursor})


def _variables(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("_variables")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise field_errors({"_variables": ["Must be an object."]})
    return value


async def predict_function(g: Integry, request: Request) -> RawJSON:
    _, _, query, body = await _signed(g, request)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise field_errors({"prompt": "Must be a non-empty string"})
    variables = _variables(body)
    meta = _include_meta(query)
    with_arguments = _bool(query, "predict_arguments")
    known = g.template.predictions.get((prompt, frozenset(variables)))
    if known is not None:  # the doc's own example: its function and arguments
        fn = g.template.functions_by_name[known[0]]
        out = _function_json(g, fn, meta)
        if with_arguments:
            out["arguments"] = known[1]
        return json_response({"functions": [out]})
    titles = {a["name"]: a["title"] for a in g.template.apps}
    fn = predict.best(prompt, g.template.functions, titles)
    if fn is None:
        return json_response({"functions": []})
    out = _function_json(g, fn, meta)
    if with_arguments:
        out["arguments"] = predict.arguments(prompt, variables, fn, titles[fn["app"]])
    return json_response({"functions": [out]})


async def get_function(g: Integry, request: Request) -> RawJSON:
    _, _, query, body = await _signed(g, request)
    fn = g.template.functions_by_name.get(request.path_params["name"])
    if fn is None:
        raise not_found("Function not found")
    out = _function_json(g, fn, _include_meta(query))
    prompt = body.get("prompt")
    variables = _variables(body)
    if prompt is not None and not isinstance(prompt, str):
        raise field_errors({"prompt": "Must be a non-empty string"})
    names = frozenset(variables)
    documented = (fn["name"], prompt or "", names)
    predicted = g.template.predictions.get((prompt or "", names))
    if documented in g.template.documented_gets:  # the doc's own example
        arguments = g.template.documented_gets[documented]
        if arguments is not None:
            out["arguments"] = arguments
    elif predicted is not None and predicted[0] == fn["name"]:  # as the doc's predict gives them
        out["arguments"] = predicted[1]
    elif (prompt and prompt.strip()) or variables:
        title = g.template.apps_by_name[fn["app"]]["title"]
        out["arguments"] = predict.arguments(prompt or "", variables, fn, title)
    return json_response(out)


# What replacing reference tags may cost one call: characters of text scanned (each text holding
# a "{" is scanned once per variable: 30,000 variables over 700 KB of text took 21 s), and the
# length a text may reach (each "{a}" of 1 MB of them could become 500 KB). Past either, the
# call is refused as invalid before the work, or the memory, is spent.
TAG_SCAN_MAX = 2**26
TAG_TEXT_MAX = BODY_LIMIT


class TagsTooCostly(Exception):
    """Replacing a call's reference tags would pass TAG_SCAN_MAX or TAG_TEXT_MAX."""


def substitute(value: Any, tags: list[tuple[str, Any]], budget: list[int] | None = None) -> Any:
    """`{name}` reference tags replaced by the variables' values, in every string (`tags`:
    ("{name}", value) of each variable in turn). `budget` ([characters left to scan]) bounds
    the work across one call's strings; `TagsTooCostly` past it or past TAG_TEXT_MAX."""
    if budget is None:
        budget = [TAG_SCAN_MAX]
    if isinstance(value, str):
        if "{" in value:  # no tag without one, and only a tag found adds text
            for tag, replacement in tags:
                budget[0] -= len(value)
                if budget[0] < 0:
                    raise TagsTooCostly(f"more than {TAG_SCAN_MAX:,} characters to scan")
                if tag in value:
                    text = replacement if isinstance(replacement, str) else _text(replacement)
                    grows = value.count(tag) * (len(text) - len(tag))
                    if len(value) + grows > TAG_TEXT_MAX:
                        raise TagsTooCostly(f"a text of more than {TAG_TEXT_MAX:,} characters")
                    value = value.replace(tag, text)
        return value
    if isinstance(value, dict):
        return {k: substitute(v, tags, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, tags, budget) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _problems(g: Integry, fn: dict[str, Any], args: dict[str, Any]) -> dict[str, str]:
    """`{param: message}` for every parameter the function's JSON Schema refuses."""
    required = fn["parameters"].get("required", [])
    details: dict[str, str] = {}
    for name in required:
        value = args.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            details[name] = REQUIRED
    for err in g.validator(fn).iter_errors(args):
        if err.validator == "required":
            continue
        name = str(err.absolute_path[0]) if err.absolute_path else "_body"
        if name in details:
            continue
        if err.validator == "type":
            expected = err.validator_value
            expected = " or ".join(expected) if isinstance(expected, list) else expected
            details[name] = f"Must be of type {expected}"
        elif err.validator == "enum":
            details[name] = "Must be one of: " + ", ".join(map(str, err.validator_value))
        else:
            details[name] = err.message[:300]
    return details


# the version (4) and variant (10) bits of a random UUID: cleared, then set
_UUID_KEEP, _UUID_SET = 0xffffffffffff0fff3fffffffffffffff, 0x00000000000040008000000000000000


def _session_id(bits: int) -> str:
    """str(uuid.UUID(int=bits, version=4)), without building the UUID."""
    h = (bits & _UUID_KEEP | _UUID_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# network_code's JSON, for the codes the simulated backends give (any other is dumped)
_CODE_JSON = {c: dump(c) for c in ("200", "201", "204", "400", "404")}


UNSENT = object()  # a call body without `_cursor`: the query's is used
_SCALARS = (str, int, float, bool, type(None))


def _call_args(g: Integry, name: str, body: dict[str, Any]) \
        -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(function, its arguments with the reference tags replaced, the body's `_cursor` or
    UNSENT) of a valid call; the documented 404 or 400 otherwise."""
    fn = g.template.functions_by_name.get(name)
    if fn is None:
        raise not_found("Function not found")
    variables = _variables(body)
    if variables:
        tags = [("{" + str(k) + "}", v) for k, v in variables.items()]
        budget = [TAG_SCAN_MAX]
        try:
            args = {k: substitute(v, tags, budget) for k, v in body.items()
                    if k != "_variables" and k != "_cursor"}
        except TagsTooCostly as exc:
            raise call_failed(CALL_INVALID, {"_variables": (
                f"Replacing these reference tags would need {exc}: send fewer variables or "
                f"less text.")}) from None
    else:  # nothing to replace, and the body is this call's own already
        args = {k: v for k, v in body.items() if k != "_variables" and k != "_cursor"}
    problems = _problems(g, fn, args)
    if problems:
        raise call_failed(CALL_INVALID, problems)
    return fn, args, body.get("_cursor", UNSENT)


async def call_function(g: Integry, request: Request) -> RawJSON:
    scope = request.scope
    headers = wanted_headers(scope)
    query = query_of(scope)
    tenant, user = g.auth.signed(scope, headers, query)
    store = tenant.stores[NAME]
    raw = await _raw(request, headers)
    key = (scope["path_params"]["name"], headers.get(b"content-type", ""), raw)
    known = g.known_calls.get(key)
    if known is None:
        if len(raw) > INLINE_BODY:
            # Parsing, replacing tags and checking a large call reads only its body and the
            # catalogue (immutable): off the event loop, which serves other calls meanwhile.
            fn, args, sent = await off_loop(
                lambda: _call_args(g, key[0], _parse(raw, headers)))
        else:
            fn, args, sent = _call_args(g, key[0], _parse(raw, headers))
        if len(raw) <= CALL_MEMO_BODY and (sent is UNSENT or type(sent) in _SCALARS) \
                and all(type(v) in _SCALARS for v in args.values()):
            g.known_calls.keep(key, (fn, tuple(args.items()), sent))
    else:
        fn, items, sent = known
        args = dict(items)  # the call's own
    cursor = query.get("_cursor") if sent is UNSENT else sent
    app = g.template.apps_by_name[fn["app"]]
    account = _account(store, user, app, query)
    if cursor is not None:  # None: the first page
        try:
            backends.decode_cursor(cursor)
        except backends.BadCursor:
            raise call_failed(CALL_INVALID, {"_cursor": "Invalid cursor"}) from None
    now = g.ctx.clock.time()
    network_code, output, next_cursor = backends.run(g, store, fn, args, cursor, now)
    store.log(user, {"function": fn["name"], "at": now, "account": account.id,
                     "network_code": network_code})
    # {"network_code", "output"[, "_cursor"]} written piecewise: compact JSON of an object is
    # its members' JSON joined, and the Slack post's output comes already rendered.
    code = _CODE_JSON.get(network_code) or dump(network_code)
    if output.__class__ is not backends.Rendered:
        output = dump(output)
    if next_cursor.__class__ is str:
        # More pages. The last page carries no `_cursor` at all: the doc says null, but the
        # Python SDK's paginated-output model requires a string wherever the key appears.
        body = b'{"network_code":%b,"output":%b,"_cursor":%b}' % (code, output,
                                                                  dump(next_cursor))
    else:
        body = b'{"network_code":%b,"output":%b}' % (code, output)
    return RawJSON(body, 200, {"X-Credits": "1",
                               "X-Session-ID": _session_id(g.ctx.rng.getrandbits(128))})


def _account(store: IntegryStore, user: str, app: dict[str, Any], query: dict[str, str]):
    """The connected account a call runs with: `connected_account_id`'s, else the user's first,
    else (unless `allow_workspace_connected_accounts=false`) the workspace's."""
    own = store.accounts(user, app["name"])
    if own and not query:  # the usual call: no account asked for, and the user has one
        return own[0]
    shared = store.workspace.get(app["name"], []) \
        if _bool(query, "allow_workspace_connected_accounts", default=True) else []
    wanted = query.get("connected_account_id")
    if wanted not in (None, ""):
        if not wanted.isdigit():
            raise call_failed(CALL_INVALID, {"connected_account_id": "Must be a number"})
        match = next((a for a in own + shared if a.id == int(wanted)), None)
        if match is None:
            raise call_failed(CALL_NOT_CONNECTED, [
                f"Connected account {wanted} of {app['title']} was not found for this user."])
        return match
    if own:
        return own[0]
    if shared:
        return shared[0]
    raise call_failed(CALL_NOT_CONNECTED, [
        f"User has not connected their {app['title']} account. To connect an account, please "
        f"call following SDK method: `connectApp('{app['name']}')`"])


# -- everything else ----------------------------------------------------------------------------
async def route_missing(g: Integry, request: Request) -> RawJSON:
    """DRF: a known path with another method is 405; anything else Django's 404."""
    allowed = g.router.allowed(request.scope["vendor_path"]) if g.router else ()
    if allowed:
        raise method_not_allowed(request.method)
    raise not_found()
