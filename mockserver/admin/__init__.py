"""The /__admin control plane. Never routed to a vendor; vendor code never imports it."""
from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from ..core.clock import RANGE, parse_iso
from ..core.control import (JSON, ControlError, Pieces, body_json, encode_pieces, finite_number,
                            join_pieces, off_loop, read_parts, tenant_of)
from ..core.http import TooLarge, dump
from ..core.journal import FILTERS
from ..core.state import BODY_LIMIT as STATE_LIMIT
from ..core.datadir import note
from ..core.state import Importer, StateError, export
from ..core.tenancy import TooManyTenants
from . import faults as fault_routes
from .openapi import document_bytes
from .page import page_response, render

if TYPE_CHECKING:
    from ..core.clock import Clock
    from ..core.faults import Faults
    from ..core.journal import Journal
    from ..core.tenancy import Tenants
    from ..core.vendor import Vendor
    from ..core.webhooks import Webhooks


@dataclass(frozen=True)
class Plane:
    """What the control plane acts on."""

    clock: "Clock"
    journal: "Journal"
    tenants: "Tenants"
    vendors: Mapping[str, "Vendor"]
    ca_pem: bytes | None = None  # the TLS CA when serving with --tls
    faults: "Faults | None" = None
    data: Any = None             # the --data-dir (core/datadir.py), when one is kept
    webhooks: "Webhooks | None" = None  # its retries follow the clock and go with a reset


def build_admin(server: Plane, admin_token: str | None = None) -> Starlette:
    # The control plane deletes tenants: the journal then drops what their calls still in
    # flight record (DELETE /__admin/tenants/{id} clears what they recorded before).
    server.journal.only_tenants(server.tenants.live)

    async def health(request: Request) -> Response:
        if server.data is None:
            return JSON({"status": "ok"})
        kept = server.data.health()  # where the state is kept; why writes fail, if they do
        return JSON({"status": "degraded" if "degraded" in kept else "ok", **kept})

    async def credentials(request: Request) -> Response:
        return JSON(server.tenants.default.credentials)

    async def reset(request: Request) -> Response:
        body = await body_json(request)
        if body.get("tenant") is not None:
            tenant = tenant_of(server.tenants, body)  # noted for --data-dir
            server.tenants.reset(tenant.id)
            server.journal.clear(tenant.id)
            if server.faults is not None:  # reset = back to fixtures: no faults either
                server.faults.clear(tenant.id)
            if server.webhooks is not None:  # nor webhook retries
                server.webhooks.cancel(tenant.id)
            return JSON({"reset": [tenant.id]})
        server.tenants.reset()
        for t in server.tenants:
            note(t.id)
        server.journal.clear()
        if server.faults is not None:
            server.faults.clear()
        if server.webhooks is not None:
            server.webhooks.cancel()
        return JSON({"reset": [t.id for t in server.tenants]})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await body_json(request)
            # Each check runs before the clock moves: a refused call changes nothing.
            if "advance" in body:
                seconds = body["advance"]
                if not finite_number(seconds):
                    raise ControlError(400, "advance must be a finite number of seconds")
                try:
                    server.clock.advance(float(seconds))
                except (ValueError, OverflowError) as exc:
                    raise ControlError(400, f"advance refused: {exc}") from None
            elif "set" in body:
                when = body["set"]
                try:
                    if not isinstance(when, str):
                        raise ValueError("not a string")
                    server.clock.set(parse_iso(when))
                except (ValueError, OverflowError):
                    raise ControlError(400, f"set must be an ISO-8601 date-time {RANGE}") \
                        from None
            elif body.get("real") is True:
                server.clock.real()
            else:
                raise ControlError(400, 'send {"advance": seconds}, {"set": "ISO-8601"} '
                                        'or {"real": true}')
            if server.webhooks is not None:  # what the move made due goes out before the answer
                await server.webhooks.run_due()
        return JSON(server.clock.describe())

    async def requests_(request: Request) -> Response:
        q = request.query_params
        tenant = q.get("tenant")
        if request.method == "DELETE":
            server.journal.clear(tenant)
            return Response(status_code=204)
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            raise ControlError(400, "limit must be an integer") from None
        criteria = {k: q.get(k) for k in FILTERS}
        # ?summary=1 leaves out headers and bodies: the sandbox page polls it every 2 s.
        brief = q.get("summary") in ("1", "true")
        # Selecting, redacting and encoding up to 10,000 entries (32 MiB of bodies) is read
        # from a copy, off the event loop: the journal goes on recording meanwhile.
        view = server.journal.view()

        def listing() -> list[bytes]:
            total, calls = view.select(max(limit, 0), **criteria)
            head = b'{"total":%d,"capacity":%d,"requests":[' % (total, view.maxlen)
            return join_pieces(head, (dump(c.summary() if brief else c.to_dict())
                                      for c in calls), b"]}")

        return Pieces(await off_loop(listing))

    async def request_one(request: Request) -> Response:
        """One entry in full (headers and bodies, secrets masked): the page's detail view."""
        cid = request.path_params["call_id"]
        call = server.journal.get(cid)
        if call is None:
            raise ControlError(404, f"no journal entry {cid}")
        return JSON(call.to_dict())

    async def summary(request: Request) -> Response:
        """A tenant's state in a few counts per vendor (each vendor's `summary` hook)."""
        tid = request.query_params.get("tenant")
        tenant = server.tenants.default if tid is None else server.tenants.get(tid)
        if tenant is None:
            raise ControlError(404, f"no tenant {tid}")
        return JSON({"tenant": tenant.id,
                     "vendors": {n: v.summary(tenant.stores[n])
                                 for n, v in server.vendors.items()}})

    async def tenants(request: Request) -> Response:
        if request.method == "POST":
            try:
                tenant = server.tenants.create()
            except TooManyTenants as exc:
                raise ControlError(409, str(exc)) from None
            note(tenant.id)
            return JSON({"id": tenant.id, "credentials": tenant.credentials}, 201)
        return JSON({"tenants": [{"id": t.id} for t in server.tenants]})

    async def tenant(request: Request) -> Response:
        tid = request.path_params["tenant_id"]
        if tid == "default":
            raise ControlError(400, "the default tenant cannot be deleted")
        if not server.tenants.delete(tid):
            raise ControlError(404, f"no tenant {tid}")
        server.journal.clear(tid)
        if server.faults is not None:
            server.faults.clear(tid)
        if server.webhooks is not None:
            server.webhooks.cancel(tid)
        return Response(status_code=204)

    async def ca_pem(request: Request) -> Response:
        if server.ca_pem is None:
            raise ControlError(404, "not serving TLS: start with --tls to get a CA")
        return Response(server.ca_pem, media_type="application/x-pem-file")

    html = render(list(server.vendors))

    snapshots = Importer(server.vendors)
    # One snapshot read and checked at a time: concurrent PUTs wait with their bodies unread,
    # so memory holds one snapshot (up to STATE_LIMIT, parsed) however many arrive.
    importing = asyncio.Lock()

    async def state(request: Request) -> Response:
        """GET exports a tenant's state; PUT imports a snapshot into it, all or nothing."""
        tid = request.query_params.get("tenant")
        tenant = server.tenants.default if tid is None else server.tenants.get(tid)
        if tenant is None:
            raise ControlError(404, f"no tenant {tid}")
        if request.method == "GET":
            # Taken on the loop (a consistent state: the vendors' exports copy what calls
            # change), encoded off it.
            return Pieces(await off_loop(encode_pieces, export(tenant, server.vendors)))
        async with importing:
            try:
                parts = await read_parts(request, STATE_LIMIT)
            except TooLarge:
                raise ControlError(413, f"a snapshot is at most {STATE_LIMIT // 2**20} MiB") \
                    from None
            try:
                # A big snapshot takes a while to check: off the event loop, which keeps
                # serving. Only the swap, below, touches the tenant: a refusal changes nothing.
                stores = await off_loop(snapshots.prepare_parts, parts, tenant)
            except StateError as exc:
                return JSON({"error": exc.message, "details": exc.details}, 400)
            if server.tenants.get(tenant.id) is not tenant:  # deleted while it was checked
                raise ControlError(404, f"no tenant {tenant.id}")
            snapshots.commit(tenant, stores)
            note(tenant.id)
        return JSON({"imported": tenant.id})

    async def state_schema(request: Request) -> Response:
        return JSON(snapshots.schema)

    async def page(request: Request) -> Response:
        return page_response(html)

    spec: list[bytes] = []  # built on first request, then served as bytes

    async def openapi(request: Request) -> Response:
        if not spec:
            spec.append(document_bytes(server.vendors))
        return Response(spec[0], media_type="application/json")

    async def admin_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ControlError)
        return JSON({"error": exc.message}, exc.status)

    async def gone(request: Request, exc: Exception) -> None:
        """The client left before its body was read: nobody to answer and no server error,
        as a vendor route treats it (no traceback in the log)."""
        return None

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSON({"error": f"no admin endpoint {request.method} {request.url.path}"},
                    getattr(exc, "status_code", 404))

    routes = [
        Route("/__admin/", page, methods=["GET"]),
        Route("/__admin", page, methods=["GET"]),
        Route("/__admin/health", health, methods=["GET"]),
        Route("/__admin/credentials", credentials, methods=["GET"]),
        Route("/__admin/reset", reset, methods=["POST"]),
        Route("/__admin/clock", clock, methods=["GET", "POST"]),
        Route("/__admin/requests", requests_, methods=["GET", "DELETE"]),
        Route("/__admin/requests/{call_id:int}", request_one, methods=["GET"]),
        Route("/__admin/summary", summary, methods=["GET"]),
        Route("/__admin/tenants", tenants, methods=["GET", "POST"]),
        Route("/__admin/tenants/{tenant_id}", tenant, methods=["DELETE"]),
        Route("/__admin/openapi.json", openapi, methods=["GET"]),
        Route("/__admin/ca.pem", ca_pem, methods=["GET"]),
        Route("/__admin/state", state, methods=["GET", "PUT"]),
        Route("/__admin/state/schema", state_schema, methods=["GET"]),
    ]
    if server.faults is not None:
        routes += fault_routes.routes(server.faults, server.tenants)
    for name, vendor in server.vendors.items():  # each vendor's own calls, /__admin/<vendor>/...
        vendor_routes = vendor.admin_routes()
        if vendor_routes:
            routes.append(Mount(f"/__admin/{name}",
                                app=Router(vendor_routes, redirect_slashes=False)))
    app = Starlette(routes=routes, exception_handlers={ControlError: admin_error,
                                                       ClientDisconnect: gone,
                                                       404: not_found, 405: not_found})
    app.router.redirect_slashes = False
    if admin_token:
        return _TokenGuard(app, admin_token, html)
    return app


class _TokenGuard:
    """X-Admin-Token (or ?token= for the browser page) when --admin-token is set.

    A browser opening the page without the token gets the page itself with a 401: it holds no
    data, and its script asks for the token, rather than leaving a bare JSON error on screen.
    """

    def __init__(self, app: Starlette, token: str, html: str) -> None:
        self.app = app
        self.token = token.encode()
        self.html = html

    async def __call__(self, scope, receive, send) -> None:
        given = next((v for k, v in scope["headers"] if k == b"x-admin-token"), None)
        if given is None:
            # Raw query bytes need not be UTF-8: latin-1 takes any; parse_qs decodes the escapes.
            query = scope.get("query_string", b"").decode("latin-1")
            given = (parse_qs(query).get("token") or [""])[0].encode()
        if not hmac.compare_digest(given, self.token):
            if _wants_page(scope):
                await page_response(self.html, 401)(scope, receive, send)
                return
            await JSON({"error": "X-Admin-Token required"}, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _wants_page(scope) -> bool:
    """A browser navigating to the page (it asks for HTML); API clients keep the JSON 401."""
    if scope["method"] != "GET" or scope["path"] not in ("/__admin", "/__admin/"):
        return False
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
    return b"text/html" in accept
