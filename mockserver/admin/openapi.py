"""The OpenAPI 3.1 document of the control plane, served at GET /__admin/openapi.json.

Written as data beside the routes it describes (a test walks the admin app's routes and fails
on any the document lacks). `op()` and the shared schemas below keep each operation to the few
lines that differ: its summary, query, body and answers. A vendor's `/__admin/<vendor>/...`
calls are included for the vendors the server mounts.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..core.http import dump

REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def obj(required: Iterable[str] = (), **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ANY: dict[str, Any] = {}
TENANT = {"type": "string", "description": "the tenant acted on; the default tenant when absent"}
NULL_STR = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {**obj(["error"], error=STR,
                    details={"type": "array", "description": "what a refused snapshot breaks"}),
              "description": 'Every refused admin call: {"error": "..."}'},
    "Credentials": {"type": "object", "description": "per vendor, its credential fields",
                    "additionalProperties": {"type": "object",
                                             "additionalProperties": STR}},
    "Clock": obj(["now", "mode", "offsetSeconds"], now={"type": "string", "format": "date-time"},
                 mode={"enum": ["frozen", "real"]}, offsetSeconds={"type": "number"}),
    "CallSummary": obj(
        ["id", "time", "kind", "vendor", "tenant", "method", "path", "query", "url", "status",
         "durationMs", "error"],
        id=INT, time={"type": "string", "format": "date-time"},
        kind={"enum": ["request", "webhook"]}, vendor=STR, tenant=NULL_STR, method=STR,
        path=STR, query=STR, url=NULL_STR, status={"type": ["integer", "null"]},
        durationMs={"type": "number"}, error=NULL_STR,
        fault={"type": ["string", "null"], "description": "the fault that answered it, if any"}),
    "Call": {"allOf": [ref("CallSummary"), obj(
        ["request", "response"],
        request=obj(["headers", "body"], headers={"type": "object",
                                                  "additionalProperties": STR}, body=STR),
        response=obj(["body"], body=STR))],
        "description": "a journal entry, secrets redacted"},
    "Journal": obj(["total", "capacity", "requests"], total=INT, capacity=INT,
                   requests={"type": "array", "items": {"anyOf": [ref("Call"),
                                                                  ref("CallSummary")]}}),
    "Latency": {"oneOf": [
        obj(["fixed"], fixed={"type": "number", "minimum": 0}),
        obj(["uniform"], uniform={"type": "array", "items": {"type": "number", "minimum": 0},
                                  "minItems": 2, "maxItems": 2}),
        obj(["lognormal"], lognormal=obj(["median", "sigma"],
                                         median={"type": "number", "minimum": 0},
                                         sigma={"type": "number", "minimum": 0}))],
        "description": "milliseconds added before the answer"},
    "FaultRequest": obj(
        vendor=STR, method=STR,
        path={"type": "string", "description": "a Python regex, searched in the vendor path"},
        tenant=STR, status={"type": "integer", "minimum": 100, "maximum": 599},
        body={"description": "any JSON; absent: the vendor's own error body for the status"},
        headers={"type": "object", "additionalProperties": STR}, latency=ref("Latency"),
        drop={"type": "boolean", "description": "drop the connection"},
        times={"type": ["integer", "null"], "minimum": 1,
               "description": "how many calls it answers; absent/null: until deleted"}),
    "Fault": {"allOf": [ref("FaultRequest"), obj(
        ["id", "remaining", "hits"], id=STR, remaining={"type": ["integer", "null"]},
        hits=INT)]},
    "Faults": obj(["faults"], faults={"type": "array", "items": ref("Fault")}),
    "State": obj(["version", "tenant", "vendors"], version={"const": 1}, tenant=STR,
                 vendors=obj(["gravy", "gravitec", "groove", "integry"], gravy=ANY,
                             gravitec=ANY, groove=ANY, integry=ANY)),
    "Summary": obj(["tenant", "vendors"], tenant=STR, vendors=obj(
        gravy=obj(["connections"], connections=obj(
            ["total", "byStatus"], total=INT,
            byStatus={"type": "object", "additionalProperties": INT})),
        gravitec=obj(["followers", "campaigns"], followers=INT, campaigns=INT),
        groove=obj(["people", "flows", "memberships"], people=INT, flows=INT, memberships=INT),
        integry=obj(["connectedAccounts", "users"], connectedAccounts=INT, users=INT))),
    "Tenant": obj(["id", "credentials"], id=STR, credentials=ref("Credentials")),
}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def answer(schema: dict[str, Any] | None, what: str = "OK",
           media: str = "application/json") -> dict[str, Any]:
    if schema is None:
        return {"description": what}
    return {"description": what, "content": {media: {"schema": schema}}}


ERROR = answer(ref("Error"), "refused")


def op(summary: str, ok: dict[str, Any], *, status: str = "200", body: dict | None = None,
       query: Iterable[tuple[str, dict]] = (), errors: Iterable[str] = ("400",)) -> dict:
    out: dict[str, Any] = {"summary": summary}
    params = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in query]
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = body
    out["responses"] = {status: ok, **{e: ERROR for e in errors}}
    return out


TENANT_Q = ("tenant", TENANT)
FILTERS = [(n, STR) for n in ("vendor", "method", "path", "status", "tenant", "kind")]
PAGE = answer(None, "the sandbox page", "text/html")
PAGE["content"] = {"text/html": {"schema": STR}}

CORE: dict[str, dict[str, Any]] = {
    "/__admin": {"get": op("The sandbox page", PAGE, errors=())},
    "/__admin/": {"get": op("The sandbox page", PAGE, errors=())},
    "/__admin/health": {"get": op("Liveness", answer(obj(["status"], status={"const": "ok"})),
                                  errors=())},
    "/__admin/credentials": {"get": op("The default tenant's credentials",
                                       answer(ref("Credentials")), errors=())},
    "/__admin/reset": {"post": op(
        "Every tenant (or one) back to its fixtures; clears the journal",
        answer(obj(["reset"], reset={"type": "array", "items": STR})),
        body=json_body(obj(tenant=TENANT), required=False), errors=("400", "404"))},
    "/__admin/clock": {
        "get": op("The mock's time", answer(ref("Clock")), errors=()),
        "post": op("Move the mock's time", answer(ref("Clock")), body=json_body({"oneOf": [
            obj(["advance"], advance={"type": "number", "description": "seconds"}),
            obj(["set"], set={"type": "string", "format": "date-time"}),
            obj(["real"], real={"const": True})]}))},
    "/__admin/requests": {
        "get": op("The request journal, newest first", answer(ref("Journal")),
                  query=FILTERS + [("limit", {"type": "integer", "default": 100}),
                                   ("summary", {"enum": ["1", "true"],
                                                "description": "leave out headers and bodies"})]),
        "delete": op("Clear the journal (one tenant's with ?tenant=)",
                     answer(None, "cleared"), status="204", query=[TENANT_Q], errors=())},
    "/__admin/requests/{call_id}": {"get": {
        **op("One journal entry in full, secrets redacted", answer(ref("Call")),
             errors=("404",)),
        "parameters": [{"name": "call_id", "in": "path", "required": True, "schema": INT}]}},
    "/__admin/tenants": {
        "get": op("The tenants", answer(obj(["tenants"], tenants={
            "type": "array", "items": obj(["id"], id=STR)})), errors=()),
        "post": op("A new tenant with fresh credentials", answer(ref("Tenant"), "created"),
                   status="201", errors=("409",))},
    "/__admin/tenants/{tenant_id}": {"delete": {
        **op("Drop a tenant and its journal", answer(None, "deleted"), status="204",
             errors=("400", "404")),
        "parameters": [{"name": "tenant_id", "in": "path", "required": True, "schema": STR}]}},
    "/__admin/faults": {
        "post": op("Inject a fault on matching vendor calls", answer(ref("Fault"), "created"),
                   status="201", body=json_body(ref("FaultRequest"))),
        "get": op("The active faults", answer(ref("Faults")), errors=()),
        "delete": op("Clear every fault", answer(None, "cleared"), status="204", errors=())},
    "/__admin/faults/{id}": {
        "get": op("One fault", answer(ref("Fault")), errors=("404",)),
        "delete": op("Remove one fault", answer(None, "removed"), status="204", errors=("404",)),
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}]},
    "/__admin/state": {
        "get": op("Export a tenant's whole state", answer(ref("State")), query=[TENANT_Q],
                  errors=("404",)),
        "put": op("Import a tenant's state; refused snapshots change nothing",
                  answer(obj(["imported"], imported=STR)), query=[TENANT_Q],
                  body=json_body(ref("State")))},
    "/__admin/state/schema": {"get": op("The JSON Schema a snapshot must fit",
                                        answer({"type": "object"}), errors=())},
    "/__admin/summary": {"get": op("Counts for the sandbox page", answer(ref("Summary")),
                                   query=[TENANT_Q], errors=("404",))},
    "/__admin/ca.pem": {"get": op("The TLS CA certificate (when serving with --tls)",
                                  answer(STR, "the CA", "application/x-pem-file"),
                                  errors=("404",))},
    "/__admin/openapi.json": {"get": op("This document", answer({"type": "object"}),
                                        errors=())},
}

VENDORS: dict[str, dict[str, dict[str, Any]]] = {
    "gravy": {"/__admin/gravy/connections/{connection_id}/status": {"post": {
        **op("Move a connection through its lifecycle, firing its webhooks", answer(obj(
            ["connection", "transitions", "webhooks"], connection={"type": "object"},
            transitions={"type": "array", "items": STR},
            webhooks={"type": "array", "items": obj(
                ["status", "pending", "responseStatus", "delivered", "error"], status=STR,
                pending=BOOL, responseStatus={"type": ["integer", "null"]}, delivered=BOOL,
                error=NULL_STR)})),
             body=json_body(obj(["status"], status=STR, tenant=TENANT, failedResources={
                 "type": "array", "items": STR})), errors=("400", "404", "409")),
        "parameters": [{"name": "connection_id", "in": "path", "required": True,
                        "schema": STR}]}}},
    "gravitec": {"/__admin/gravitec/subscribers": {"post": op(
        "Add (201) or replace (200) a follower",
        answer(obj(["tenant", "site", "regId", "active", "tags", "alias"], tenant=STR,
                   site=STR, regId=STR, active=BOOL, tags={"type": "array", "items": STR},
                   alias=NULL_STR), "replaced"),
        body=json_body(obj(["regId"], regId=STR, tags={"type": "array", "items": STR},
                           alias=STR, active=BOOL, site={"enum": ["main", "free"]},
                           tenant=TENANT)), errors=("400", "404", "409"))}},
    "groove": {
        "/__admin/groove/people": {"post": op(
            "Add a person", answer(obj(["tenant", "id", "name", "emailAddress", "salesforceId"],
                                       tenant=STR, id=STR, name=STR, emailAddress=STR,
                                       salesforceId=NULL_STR), "created"), status="201",
            body=json_body(obj(["name", "emailAddress"], name=STR, emailAddress=STR,
                               salesforceId=STR, tenant=TENANT)),
            errors=("400", "404", "409"))},
        "/__admin/groove/rate-limit": {"post": op(
            "Set a tenant's requests per minute per access token",
            answer(obj(["tenant", "limit"], tenant=STR, limit=INT)),
            body=json_body(obj(["limit"], limit={"type": "integer", "minimum": 1,
                                                 "maximum": 1_000_000}, tenant=TENANT)),
            errors=("400", "404"))}},
    "integry": {"/__admin/integry/connected-accounts": {
        "post": op("Connect an app account for a user",
                   answer(obj(["tenant", "userId", "app", "id", "display_name", "modified_at"],
                              tenant=STR, userId=STR, app=STR, id=INT, display_name=STR,
                              modified_at=STR), "created"), status="201",
                   body=json_body(obj(["userId", "app"], userId=STR, app=STR,
                                      displayName=STR, tenant=TENANT)), errors=("400", "404")),
        "delete": op("Disconnect a user's account of an app (or all of them)",
                     answer(obj(["tenant", "userId", "app", "removed"], tenant=STR, userId=STR,
                                app=STR, removed=ANY)),
                     body=json_body(obj(["userId", "app"], userId=STR, app=STR, id=INT,
                                        tenant=TENANT)), errors=("400", "404"))}},
}
# The one status besides 200 that answers gravitec/subscribers: 201 when the follower is new.
VENDORS["gravitec"]["/__admin/gravitec/subscribers"]["post"]["responses"]["201"] = answer(
    VENDORS["gravitec"]["/__admin/gravitec/subscribers"]["post"]["responses"]["200"]
    ["content"]["application/json"]["schema"], "created")


def document(vendors: Iterable[str]) -> dict[str, Any]:
    paths = dict(CORE)
    for name in vendors:
        paths.update(VENDORS.get(name, {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "mockserver control plane", "version": "1",
                 "description": "Never routed to a vendor. With --admin-token every call needs "
                                "X-Admin-Token (or ?token=)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "adminToken": {"type": "apiKey", "in": "header", "name": "X-Admin-Token",
                           "description": "only when the server runs with --admin-token"}}},
        "security": [{}, {"adminToken": []}],
    }


def document_bytes(vendors: Iterable[str]) -> bytes:
    return dump(document(vendors))
