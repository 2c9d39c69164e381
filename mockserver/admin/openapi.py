"""The OpenAPI 3.1 document of the control plane, served at GET /__admin/openapi.json.

Written as data beside the routes it describes (a test walks the admin app's routes and fails
on any the document lacks). `op()` and the shared schemas below keep each operation to the few
lines that differ: its summary, query, body and answers. Each vendor the server mounts adds its
own `/__admin/<vendor>/...` calls and summary shape (each vendor's `admin.OPENAPI` and `admin.SUMMARY`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..core.apidoc import ANY, INT, NULL_STR, STR, TENANT, answer, json_body, obj, op, ref
from ..core.http import dump
from ..core.journal import FILTERS as JOURNAL_FILTERS

if TYPE_CHECKING:
    from ..core.vendor import Vendor

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
        kind={"enum": ["request", "webhook", "recorded"]}, vendor=STR, tenant=NULL_STR,
        method=STR, path=STR, query=STR, url=NULL_STR, status={"type": ["integer", "null"]},
        durationMs={"type": "number"}, error=NULL_STR,
        fault={"type": ["string", "null"], "description": "the fault that answered it, if any"},
        mockStatus={"type": ["integer", "null"],
                    "description": "recorded: what the mock answered the same call"},
        differenceCount={**INT, "description": "recorded: differences from the mock's answer"},
        websocket={**obj(["closeCode", "received", "sent"],
                         closeCode={"type": ["integer", "null"]}, received=INT, sent=INT),
                   "description": "a WebSocket handshake (status 101 when accepted), journaled "
                                  "when its connection ended: the first close code either side "
                                  "sent (null: none), the messages the mock received and sent"}),
    "Call": {"allOf": [ref("CallSummary"), obj(
        ["request", "response"],
        request=obj(["headers", "body"], headers={"type": "object",
                                                  "additionalProperties": STR}, body=STR),
        response=obj(["body"], body=STR),
        mockResponse={**obj(["body"], body=STR), "description": "recorded: the mock's answer"},
        differences={"type": "array", "items": obj(["path", "kind", "message"], path=STR,
                                                   kind=STR, message=STR),
                     "description": "recorded: each difference of the real answer from the "
                                    "mock's"})],
        "description": "a journal entry, secrets redacted; a recorded one (serve --record) "
                       "holds the real API's answer"},
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
    "Tenant": obj(["id", "credentials"], id=STR, credentials=ref("Credentials")),
}


TENANT_Q = ("tenant", TENANT)
FILTERS = [(n, STR) for n in JOURNAL_FILTERS]
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
                   status="201", body=json_body(ref("FaultRequest")), errors=("400", "404")),
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
                  body=json_body(ref("State")), errors=("400", "404", "413"))},
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

def document(vendors: Mapping[str, "Vendor"]) -> dict[str, Any]:
    """The document for the vendors this server mounts: each adds its own admin calls and the
    shape of its part of a summary."""
    paths = dict(CORE)
    for vendor in vendors.values():
        paths.update(vendor.admin.OPENAPI)
    names = list(vendors)
    schemas = {
        **SCHEMAS,
        "State": obj(["version", "tenant", "vendors"], version={"const": 1}, tenant=STR,
                     vendors={**obj(names, **{n: ANY for n in names}),
                              "description": "each vendor's part: GET /__admin/state/schema"}),
        "Summary": obj(["tenant", "vendors"], tenant=STR, vendors=obj(
            **{n: dict(v.admin.SUMMARY) for n, v in vendors.items()})),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "mockserver control plane", "version": "1",
                 "description": "Never routed to a vendor. With --admin-token every call needs "
                                "X-Admin-Token (or ?token=)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "adminToken": {"type": "apiKey", "in": "header", "name": "X-Admin-Token",
                           "description": "only when the server runs with --admin-token"}}},
        "security": [{}, {"adminToken": []}],
    }


def document_bytes(vendors: Mapping[str, "Vendor"]) -> bytes:
    return dump(document(vendors))
