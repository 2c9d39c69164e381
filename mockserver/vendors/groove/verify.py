"""`mockserver verify groove`: the probes. Introspection (its schema diffed against
contracts/groove/schema.graphql), read queries (flows, a flow's steps page by page, a person by
Salesforce id), and calls Groove refuses before it does anything (no or a wrong token, invalid
documents, bad JSON, a body over the limit, unknown routes, token requests with a wrong client,
code or grant). Only `add person to flow` changes the account: it runs with --allow-writes, on the
flow the user names, and stays (Groove has no call that takes a person out of a flow)."""
from __future__ import annotations

import re
from typing import Any, Callable

from graphql import (DirectiveLocation, FieldNode, GraphQLObjectType, GraphQLSchema,
                     OperationDefinitionNode, OperationType, SelectionSetNode,
                     build_client_schema, get_introspection_query, is_list_type,
                     is_non_null_type, is_object_type, parse, specified_directives)
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from ...core.probe import Answer, Call, Input, Probe, Side
from .schema import build

BASE_URLS = {"api": "https://app.grooveapp.com", "auth": "https://auth.grooveapp.com"}
INPUTS = {
    "accessToken": Input("an OAuth access token of your Groove account (the code flow needs a "
                         "browser: bring a token your app obtained)"),
    "clientId": Input("your OAuth app's client id: the token endpoint probes", secret=False,
                      required=False),
    "clientSecret": Input("your OAuth app's client secret: the token endpoint probes",
                          required=False),
    "salesforceId": Input("the Salesforce Contact or Lead id of a person in Groove: the people "
                          "lookup, and the person --allow-writes adds to flowId", secret=False,
                          required=False),
    "flowId": Input("a test flow --allow-writes adds that person to (they stay in it: Groove has "
                    "no call that removes them)", secret=False, required=False),
}
GRAPHQL = "/api/public/v1/graphql"
TOKEN = "/oauth/token"
WRONG = "mockserver-verify-wrong-token"
UNKNOWN = "mockserver-verify-unknown"
REDIRECT = "http://localhost/mockserver-verify"  # any: the grant is refused before it is read
OVER_LIMIT = 1024 * 1024 + 1024  # the 1 MiB body limit, and then some
ACCEPT = {"accept": "application/json"}  # Rails answers its errors as JSON to a JSON client
STEPS = "$.data.flow.steps"
MAX_DEPTH = 32  # the probes' queries are a few fields deep; a hostile answer is read no deeper
PAGE_SIZE = 2  # a flow's steps are read two at a time: a flow of three steps has a second page

FLOW_FIELDS = ("id name description userId finalized isMasterFlow autoImportAssignOwner "
               "autoImportId removePersonAfterBounce removePersonAfterReply sfdcCampaignId")
PAGE_INFO = "pageInfo { startCursor endCursor hasNextPage hasPreviousPage }"
FLOWS = (f"{{ flows {{ {FLOW_FIELDS} steps(first: {PAGE_SIZE}) {{ pageInfo {{ hasNextPage }} }} "
         "} }")
FLOW_PAGE = (f"query($id: ID!, $after: String) {{ flow(id: $id) {{ {FLOW_FIELDS} "
             f"steps(first: {PAGE_SIZE}, after: $after) {{ edges {{ cursor node {{ id name "
             f"dayNumber }} }} nodes {{ id }} {PAGE_INFO} }} "
             f"labelInstances(first: {PAGE_SIZE}) {{ nodes {{ id }} {PAGE_INFO} }} }} }}")
FLOW_DEFAULT_PAGE = ("query($id: ID!) { flow(id: $id) { id steps { nodes { id } "
                     "pageInfo { hasNextPage } } } }")
FLOW_NAME = "query($id: ID!) { flow(id: $id) { id name } }"
PERSON = ("query($sfid: String!) { findPersonBySalesforceId(salesforceId: $sfid) "
          "{ id name emailAddress } }")
ADD = ("mutation($input: AddPersonToFlowInput!) { addPersonToFlow(input: $input) { personFlow "
       "{ createdAt flow { id name } person { id name emailAddress } } } }")


def base_of(path: str) -> str:
    """The OAuth calls are auth.grooveapp.com's, the GraphQL API app.grooveapp.com's."""
    return "auth" if path.startswith("/oauth/") else "api"


def sandbox(server: Any) -> dict[str, str]:
    """The default tenant's client, an access token issued to it in process (as a code
    exchange issues one), a person with a Salesforce id who is in no flow, and a flow of no
    steps for the write probe."""
    vendor = server.vendors["groove"]
    tenant = server.tenants.default
    credentials = tenant.credentials["groove"]
    template = vendor.template
    token = vendor.service.auth.issue_tokens(tenant, credentials["clientId"],
                                             template.user["id"], template.default_scopes)
    members = {person for _, person in template.memberships}
    person = next(p for p in template.people.values() if p.salesforceId and p.id not in members)
    flow = next((f for f in template.flow_list if not f.steps), template.flow_list[0])
    return {"accessToken": str(token["access_token"]), "clientId": credentials["clientId"],
            "clientSecret": credentials["clientSecret"], "salesforceId": person.salesforceId,
            "flowId": flow.id}


# -- calls --------------------------------------------------------------------------------------
def _bearer(side: Side) -> dict[str, str]:
    return {"authorization": f"Bearer {side.get('accessToken')}", **ACCEPT}


def _query(query: str, **variables: str) -> Callable[[Side], Call]:
    def build(side: Side) -> Call:
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = dict(variables)
        return Call.json("POST", GRAPHQL, payload, _bearer(side))
    return build


def _with(query: str, **names: str) -> Callable[[Side], Call | None]:
    """A query whose variables are values of the side (kept or inputs): None while one lacks."""
    def build(side: Side) -> Call | None:
        values = {var: side.get(key) for var, key in names.items()}
        if any(v is None for v in values.values()):
            return None
        return Call.json("POST", GRAPHQL, {"query": query, "variables": values}, _bearer(side))
    return build


def _raw(body: bytes, ctype: str = "application/json") -> Callable[[Side], Call]:
    return lambda side: Call("POST", GRAPHQL, {**_bearer(side), "content-type": ctype},
                             body=body)


CLIENT = {"client_id": "clientId", "client_secret": "clientSecret"}


def _token(fields: dict[str, str | None], path: str = TOKEN) -> Callable[[Side], Call | None]:
    """A token request; `client_id` or `client_secret` given as None is the side's own (the
    call is not built without it)."""
    def build(side: Side) -> Call | None:
        payload = {k: side.get(CLIENT[k]) if v is None else v for k, v in fields.items()}
        if any(v is None for v in payload.values()):
            return None
        return Call.json("POST", path, payload, ACCEPT, base=base_of(path))
    return build


def _add(side: Side) -> Call | None:
    person, flow = side.get("person"), side.get("flowId")
    if person is None or flow is None:
        return None
    return Call.json("POST", GRAPHQL, {"query": ADD, "variables": {
        "input": {"flowId": flow, "personId": person}}}, _bearer(side))


# -- what probes keep ---------------------------------------------------------------------------
def _at(doc: Any, *keys: str) -> Any:
    """The value under `keys`, None where an answer has no object on the way."""
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _pick(answer: Answer, *keys: str) -> Any:
    return _at(answer.json(), "data", *keys)


def _keep_flow(side: Side, answer: Answer) -> None:
    """The flow to page through: the first with a second page of steps, else the first."""
    flows = _pick(answer, "flows")
    if not isinstance(flows, list):
        return
    rows = [f for f in flows if isinstance(f, dict) and isinstance(f.get("id"), str)]
    paged = [f for f in rows if _at(f, "steps", "pageInfo", "hasNextPage") is True]
    if paged or rows:
        side.kept["flow"] = (paged or rows)[0]["id"]


def _keep_cursor(side: Side, answer: Answer) -> None:
    info = _pick(answer, "flow", "steps", "pageInfo")
    if isinstance(info, dict) and info.get("hasNextPage") is True \
            and isinstance(info.get("endCursor"), str):
        side.kept["after"] = info["endCursor"]


def _keep_person(side: Side, answer: Answer) -> None:
    person = _pick(answer, "findPersonBySalesforceId")
    if isinstance(person, dict) and isinstance(person.get("id"), str):
        side.kept["person"] = person["id"]


# -- checks of the real answer ------------------------------------------------------------------
def _errors(*expected: tuple[str, str | None]) -> Callable[[Answer], list[tuple[str, str, str]]]:
    """graphql-ruby answers a request it refuses with a 200, so `exact` (error statuses only)
    never reads it: each error's `extensions.code` (graphql-ruby's, by rule) and, where the
    mock's text is graphql-ruby's own, its message, compared with what the mock answers."""
    def check(answer: Answer) -> list[tuple[str, str, str]]:
        doc = answer.json()
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
            return []  # no errors at all: the JSON shape already says so
        out = []
        codes = [_at(e, "extensions", "code") for e in errors]
        want = [code for code, _ in expected]
        if codes != want:
            out.append(("$.errors[].extensions.code", "error",
                        f"{codes!r} from the real API, {want!r} from the mock"))
        for i, (error, (_, message)) in enumerate(zip(errors, expected)):
            if message is not None and error.get("message") != message:
                out.append((f"$.errors[{i}].message", "text", f"{error.get('message')!r} from "
                                                             f"the real API, {message!r} from the mock"))
        return out
    return check


def contract() -> GraphQLSchema:
    """The schema the mock serves (contracts/groove/schema.graphql, built once), which its
    clients are written against; the resolvers it carries change no type."""
    return build()


def _selected(query: str) -> Callable[[Answer], list[tuple[str, str, str]]]:
    """A read's answer against the schema: every field the query selects is there, and no
    non-null one is null. The JSON shape comparison cannot say so: the JSON contract admits any
    `data`, so a key or a null it admits passes as the account's data; here the SDL decides.
    Errors on a read the mock answers are drift too (the JSON contract admits them as well)."""
    operation = next(d for d in parse(query).definitions
                     if isinstance(d, OperationDefinitionNode))

    def check(answer: Answer) -> list[tuple[str, str, str]]:
        doc = answer.json()
        if not isinstance(doc, dict):
            return []
        out: dict[str, str] = {}
        errors = doc.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0].get("message") if isinstance(errors[0], dict) else errors[0]
            out["$.errors"] = f"the real API answered errors: {str(first)[:200]!r}"
        data = doc.get("data")
        schema = contract()
        root = schema.mutation_type if operation.operation is OperationType.MUTATION \
            else schema.query_type
        if isinstance(data, dict) and root is not None:
            _walk(operation.selection_set, root, data, "$.data", out, 0)
        return [(path, "data", message) for path, message in out.items()]
    return check


def _walk(selection: SelectionSetNode, parent: GraphQLObjectType, value: dict[str, Any],
          path: str, out: dict[str, str], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    fields = [s for s in selection.selections if isinstance(s, FieldNode)]
    keys = [(f.alias or f.name).value for f in fields]
    missing = [k for k in keys if k not in value]
    unselected = [k for k in value if k not in keys]
    if not (len(missing) == 1 and len(unselected) == 1):  # the shape comparison's "renamed"
        for key in missing:
            out.setdefault(f"{path}.{key}", "selected, missing from the real answer")
    for node, key in zip(fields, keys):
        definition = parent.fields.get(node.name.value)
        if definition is not None and key in value:
            _value(node, definition.type, value[key], f"{path}.{key}", out, depth + 1)


def _value(node: FieldNode, kind: Any, value: Any, path: str, out: dict[str, str],
           depth: int) -> None:
    if is_non_null_type(kind):
        if value is None:
            out.setdefault(path, f"null in the real answer, though the schema says {kind}")
            return
        kind = kind.of_type
    if is_list_type(kind) and isinstance(value, list):
        for item in value:
            _value(node, kind.of_type, item, f"{path}[]", out, depth + 1)
    elif is_object_type(kind) and isinstance(value, dict) and node.selection_set is not None:
        _walk(node.selection_set, kind, value, path, out, depth)


# Built-in directives only ever written in SDL (@deprecated, @specifiedBy, @oneOf): no request
# carries them, and graphql-ruby releases differ in which they list; @skip and @include count.
SDL_ONLY = frozenset(d.name for d in specified_directives
                     if not set(d.locations) & {DirectiveLocation.QUERY, DirectiveLocation.FIELD,
                                                DirectiveLocation.MUTATION,
                                                DirectiveLocation.FRAGMENT_SPREAD,
                                                DirectiveLocation.INLINE_FRAGMENT})
COORDINATE = re.compile(r"@?[_A-Za-z]\w*(?:\.[_A-Za-z]\w*)?(?:\([_A-Za-z]\w*:\))?")


def _coordinate(description: str, types: set[str]) -> str:
    """The schema coordinate a change's description names first (Flow.name, Flow.steps(first:),
    @skip), else the first type it names."""
    tokens = COORDINATE.findall(description)
    for token in tokens:
        if token.startswith("@") or "." in token or "(" in token:
            return token
    return next((t for t in tokens if t in types), "")


def schema_drift(answer: Answer) -> list[tuple[str, str, str]]:
    """The real schema, from its introspection answer, against the contract: each breaking or
    dangerous change (graphql-core's finders) is one drift at the coordinate it names."""
    data = _pick(answer)
    if not isinstance(data, dict) or not isinstance(data.get("__schema"), dict):
        return [("schema", "schema", "the introspection answer holds no data.__schema (is "
                                     "introspection off?)")]
    try:
        real = build_client_schema(data)
    except Exception as exc:  # noqa: BLE001 - any malformed answer is one drift, not a crash
        return [("schema", "schema", f"the introspection answer builds no schema: {exc}"[:300])]
    old = contract()
    types = set(old.type_map) | set(real.type_map)
    out = []
    for kind, changes in (("breaking", find_breaking_changes(old, real)),
                          ("dangerous", find_dangerous_changes(old, real))):
        for change in changes:
            where = _coordinate(change.description, types)
            if where.startswith("@") and where[1:].split("(")[0] in SDL_ONLY:
                continue
            out.append((f"schema {where}".rstrip(), "schema",
                        f"{change.description} ({kind}: {change.type.name})"))
    return out


def probes() -> list[Probe]:
    flow_needed = "a flow on the account (the flows list probe)"
    return [
        Probe("introspection", _query(get_introspection_query()),
              "a read: the schema, diffed against contracts/groove/schema.graphql", shape=False,
              check=schema_drift),
        Probe("flows list", _query(FLOWS), "a read", keep=_keep_flow, check=_selected(FLOWS)),
        Probe(f"flow, steps page 1 of {PAGE_SIZE}", _with(FLOW_PAGE, id="flow"), "a read",
              same=(f"{STEPS}.pageInfo.hasPreviousPage",),
              page=(f"{STEPS}.edges", f"{STEPS}.pageInfo.hasNextPage"), keep=_keep_cursor,
              check=_selected(FLOW_PAGE), needs=flow_needed),
        Probe(f"flow, steps page 2 of {PAGE_SIZE}", _with(FLOW_PAGE, id="flow", after="after"),
              "a read", same=(f"{STEPS}.pageInfo.hasPreviousPage",),
              page=(f"{STEPS}.edges", f"{STEPS}.pageInfo.hasNextPage"), check=_selected(FLOW_PAGE),
              needs="a flow of three steps or more"),
        Probe("flow, steps default page", _with(FLOW_DEFAULT_PAGE, id="flow"), "a read",
              page=(f"{STEPS}.nodes", f"{STEPS}.pageInfo.hasNextPage"),
              check=_selected(FLOW_DEFAULT_PAGE), needs=flow_needed),
        Probe("flow, unknown id", _query(FLOW_NAME, id=UNKNOWN), "a read: null",
              check=_selected(FLOW_NAME)),
        Probe("person by Salesforce id", _with(PERSON, sfid="salesforceId"), "a read",
              keep=_keep_person, check=_selected(PERSON), needs="a salesforceId (input)"),
        Probe("person by Salesforce id, unknown id", _query(PERSON, sfid=UNKNOWN),
              "a read: null", check=_selected(PERSON)),
        Probe("query, required argument missing", _query("{ flow { id } }"),
              "refused by validation: nothing runs", check=_errors(
                  ("missingRequiredArguments", None))),
        Probe("query, unknown field", _query("{ flows { id mockserverVerifyUnknown } }"),
              "refused by validation: nothing runs", check=_errors(("undefinedField", None))),
        Probe("query, syntax error", _query("{ flows { id "),
              "refused: the document does not parse; nothing runs",
              check=_errors(("parseError", None))),
        Probe("query missing", lambda s: Call.json("POST", GRAPHQL, {}, _bearer(s)),
              "refused: no query to run", check=_errors(
                  ("badRequest", "No query string was present"))),
        Probe("query, malformed JSON", _raw(b'{"query": '),
              "refused: the body is no JSON; nothing runs"),
        Probe("query, no token", lambda s: Call.json("POST", GRAPHQL, {"query": FLOWS}, ACCEPT),
              "refused: no credentials", authed=False, exact=True),
        Probe("query, wrong token", lambda s: Call.json(
            "POST", GRAPHQL, {"query": FLOWS}, {"authorization": f"Bearer {WRONG}", **ACCEPT}),
              "refused: the token is unknown", authed=False, exact=True),
        Probe("token, no grant_type", _token({"code": UNKNOWN}),
              "refused: grant_type is missing; no client is read", authed=False, exact=True),
        Probe("token, unsupported grant", _token({"grant_type": "password",
                                                  "username": UNKNOWN, "password": WRONG}),
              "refused: the grant type is unsupported; no client is read", authed=False,
              exact=True),
        Probe("token, unknown client", _token({
            "grant_type": "authorization_code", "code": UNKNOWN, "redirect_uri": REDIRECT,
            "client_id": UNKNOWN, "client_secret": WRONG}),
              "refused: no such client; nothing is issued", authed=False, exact=True),
        Probe("token, wrong client secret", _token({
            "grant_type": "authorization_code", "code": UNKNOWN, "redirect_uri": REDIRECT,
            "client_id": None, "client_secret": WRONG}),
              "refused: the secret is wrong; nothing is issued", authed=False, exact=True,
              needs="a clientId (input)"),
        Probe("token, wrong code", _token({
            "grant_type": "authorization_code", "code": UNKNOWN, "redirect_uri": REDIRECT,
            "client_id": None, "client_secret": None}),
              "refused: no such code; nothing is issued", authed=False, exact=True,
              needs="a clientId and clientSecret (inputs)"),
        Probe("token, wrong refresh token", _token({
            "grant_type": "refresh_token", "refresh_token": UNKNOWN, "client_id": None,
            "client_secret": None}),
              "refused: no such refresh token; nothing is revoked", authed=False, exact=True,
              needs="a clientId and clientSecret (inputs)"),
        Probe("token at the doc's step-3 URL, unsupported grant",
              _token({"grant_type": "password"}, "/oauth/authorize/token"),
              "refused: the grant type is unsupported", authed=False, exact=True),
        Probe("token, malformed JSON", lambda s: Call(
            "POST", TOKEN, {"content-type": "application/json", **ACCEPT},
            body=b'{"grant_type": ', base=base_of(TOKEN)), "refused: the body is no JSON",
              authed=False),
        Probe("unknown route", lambda s: Call("GET", f"/api/public/v1/{UNKNOWN}", ACCEPT),
              "refused: Rails' 404 for an unknown route", authed=False, exact=True),
        Probe("unknown method", lambda s: Call("GET", GRAPHQL, _bearer(s)),
              "refused: Rails' 404, the GraphQL endpoint has no GET route", exact=True),
        Probe("query, body over the limit", _raw(
            b'{"query": "{ flows { id } }", "pad": "' + b"x" * OVER_LIMIT + b'"}'),
              "refused: the body is over 1 MiB; nothing runs", exact=True),
        Probe("add person to flow", _add,
              "adds the person salesforceId names to the flowId flow (name a test flow: a "
              "person in a flow with steps gets its emails); it stays, as Groove has no call "
              "that removes a person from a flow, and nothing in it can carry the run's label",
              write=True, check=_selected(ADD),
              needs="a person (salesforceId) and a flowId (inputs)"),
    ]
