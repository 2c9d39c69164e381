"""create_app(): one ASGI app serving every vendor by path prefix and by Host, plus /__admin."""
from __future__ import annotations

import logging
from pathlib import Path
from time import perf_counter
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admin import Plane, build_admin
from .core.accesslog import SCOPE_KEY as ACCESS_KEY
from .core.clock import Clock
from .core.faults import Fault, Faults, buffered, drop, encode_body, pause, raw_headers
from .core.http import REQUEST_BODY, dump
from .core.journal import Call, Journal, SocketEnd
from .core.memo import Memo
from .core.openapi import SPEC_SUFFIXES, Specs
from .core.paths import data_dir as bundled
from .core.routing import ANSWER, VendorApp, noting
from .core.settings import DEFAULTS
from .core.tenancy import Tenants
from .core.vendor import Context, Vendor
from .core.webhooks import Webhooks

ADMIN_PREFIX = "/__admin"
# websocket.close without a code: the ASGI spec's default, normal closure
ASGI_CLOSE_CODE = 1000
_ADMIN_SUB = ADMIN_PREFIX + "/"
HOSTS_MEMO = 256  # Host header values remembered with their vendor (None: not a vendor's)
READS = ("GET", "HEAD")  # vendor calls after which --data-dir writes nothing (unless `wrote`)
MAX_JOURNAL_BODY = 32 * 1024  # per entry, so 10,000 entries stay a few hundred MB at worst

log = logging.getLogger("mockserver")


def default_vendors() -> list[Vendor]:
    """A fresh instance of every vendor: each app keeps its own templates and runtime."""
    from .vendors.gravitec import GravitecVendor
    from .vendors.gravy import GravyVendor
    from .vendors.groove import GrooveVendor
    from .vendors.integry import IntegryVendor
    from .vendors.passage import PassageVendor
    return [GravyVendor(), GravitecVendor(), GrooveVendor(), IntegryVendor(),
            PassageVendor()]


class MockServer:
    """The ASGI app. Tests reach its parts directly: `.clock`, `.journal`, `.tenants`, `.vendors`."""

    def __init__(self, ctx: Context, vendors: Iterable[Vendor], admin_token: str | None,
                 ca_pem: bytes | None = None, max_faults: int = DEFAULTS["max_faults"],
                 max_tenants: int = DEFAULTS["max_tenants"], data: Any = None) -> None:
        self.clock = ctx.clock
        self.journal = ctx.journal
        self.webhooks = ctx.webhooks
        self.vendors: dict[str, Vendor] = {v.name: v for v in vendors}
        # The tenants first: a vendor's service holds them, and a store is built only when a
        # tenant first reads it, after every vendor is attached.
        self.tenants = Tenants(self.vendors.values(), max_tenants)
        for vendor in self.vendors.values():
            vendor.attach(ctx, self.tenants)
            ctx.journal.declare_secrets(vendor.name, vendor.secret_headers, vendor.secret_fields)
        self.faults = Faults(self.vendors, seed=ctx.seed, limit=max_faults)
        self._apps: dict[str, ASGIApp] = {n: v.build_app() for n, v in self.vendors.items()}
        self._by_host = {h: n for n, v in self.vendors.items() for h in v.hosts}
        self._hosts: Memo[bytes, str | None] = Memo(HOSTS_MEMO)  # raw Host -> _by_host's answer
        # /<prefix>/openapi.json and /groove/schema.graphql: mock features, not vendor calls
        self.specs = Specs(bundled("contracts"), self.vendors)
        self._admin = build_admin(Plane(self.clock, self.journal, self.tenants, self.vendors,
                                        ca_pem=ca_pem, faults=self.faults, data=data,
                                        webhooks=self.webhooks),
                                  admin_token)
        # serve --record (mockserver/verify/record.py): its Recorder, and each recorded vendor's
        # forwarding app by name; set by create_app.
        self.recorder: Any = None
        self.recorded: dict[str, ASGIApp] = {}
        # --data-dir (core/datadir.py): the state kept across restarts (loaded by create_app).
        self.data: Any = data

    @property
    def apps(self) -> dict[str, ASGIApp]:
        """Each vendor's ASGI app by name; a `VendorApp` lists its calls in `.router.routes`."""
        return self._apps

    @property
    def admin(self) -> ASGIApp:
        """The /__admin control plane (a Starlette app, or its token guard)."""
        return self._admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send, self.recorder, self.data)
            return
        if kind != "http":
            await self._websocket(scope, receive, send)
            return
        # RFC 9112 §3.2: exactly one Host, none only before HTTP/1.1 (h11 refuses the same).
        host = None
        for key, value in scope["headers"]:
            if key == b"host":
                if host is not None:
                    await _bad_request(send, "A request carries one Host header, not several.")
                    return
                host = value
        if host is None and scope.get("http_version") == "1.1":
            await _bad_request(send, "An HTTP/1.1 request needs a Host header.")
            return
        path: str = scope["path"]
        if path[:1] != "/" and "://" in path:
            scope, path, host = _absolute_form(scope, path)
        if path == ADMIN_PREFIX or path.startswith(_ADMIN_SUB):
            if self.data is not None and scope["method"] not in ("GET", "HEAD"):
                await self._admin_kept(scope, receive, send)
                return
            await self._admin(scope, receive, send)
            return
        vendor, prefix = self._route(host, path)
        # By prefix only (a real vendor host has no such URL); a suffix test spares other calls.
        if prefix and path.endswith(SPEC_SUFFIXES) \
                and await self.specs.serve(path, scope, receive, send):
            return
        if vendor is None:
            await _plain_404(scope, send, self.vendors)
            return
        vscope = dict(scope)
        vscope["root_path"] = scope.get("root_path", "") + prefix
        vscope["vendor_path"] = path[len(prefix):] or "/"
        vscope["state"] = state = {}
        scope[ACCESS_KEY] = (vendor, state)  # the access log's tenant and vendor, read after
        if self.recorded and vendor in self.recorded:  # the real API answers, faults aside
            await self.recorded[vendor](vscope, receive, send)
            return
        if self.data is not None:  # --data-dir: its tenant's state written after the call
            await self._kept(vendor, vscope, receive, send)
            return
        if self.faults.items:  # the one check a call pays while no fault is set
            await self._faulted(vendor, vscope, receive, send)
            return
        app = self._apps[vendor]
        if app.__class__ is not VendorApp or not self.journal.enabled:
            await self._journaled(vendor, app, vscope, receive, send)
            return
        # _journaled for a vendor app, written out here: one coroutine less on every call
        started = perf_counter()
        try:
            await app(vscope, receive, send)
        finally:
            self._record(vendor, vscope, started)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake: to the vendor its Host or prefix names, where that vendor
        serves one at the path; refused otherwise. One reaching a vendor is journaled as its
        HTTP calls are (one with no vendor, as an HTTP call's plain 404, is not)."""
        host = next((v for k, v in scope.get("headers", ()) if k == b"host"), None)
        path: str = scope.get("path", "")
        vendor, prefix = self._route(host, path) if not path.startswith(_ADMIN_SUB) \
            else (None, "")
        if scope["type"] != "websocket" or vendor is None:
            await send({"type": "websocket.close", "code": 1000})
            return
        vscope = dict(scope)
        vscope["root_path"] = scope.get("root_path", "") + prefix
        vscope["vendor_path"] = path[len(prefix):] or "/"
        vscope["state"] = {}
        if not self.journal.enabled:
            await _serve_socket(self._apps[vendor], vscope, receive, send)
            return
        await self._socket_journaled(vendor, vscope, receive, send)

    async def _socket_journaled(self, vendor: str, scope: Scope, receive: Receive,
                                send: Send) -> None:
        """Serve a WebSocket and journal it as one entry when the connection ends: only then
        are its close code and message counts known, and a kept entry never changes (a journal
        copy shares it). Its time is the handshake's (what the entry's GET was sent at)."""
        at, started = self.clock.time(), perf_counter()
        watch = _SocketWatch(receive, send)
        tenant = self._socket_tenant(vendor, scope)
        failed = False
        try:
            await _serve_socket(self._apps[vendor], scope, watch.receive, watch.send)
        except Exception:
            failed = True
            raise
        finally:
            status, error = watch.status, None
            if status is None:
                if watch.gone:  # the client left before any answer
                    error = "connection dropped"
                else:  # neither accepted nor refused: the server answers the handshake 500
                    status = 500
            if failed:
                error = "the WebSocket handler failed"
            self.journal.record(Call(
                vendor=vendor, at=at, method="GET", path=scope["vendor_path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                raw_headers=list(scope.get("headers", ())), status=status,
                tenant=scope["state"].get("tenant", tenant),
                duration_ms=(perf_counter() - started) * 1000.0, error=error,
                id=self.journal.next_id(), secrets=self.journal.secrets_of(vendor),
                websocket=SocketEnd(watch.close_code, watch.received, watch.sent)))

    def _socket_tenant(self, vendor: str, scope: Scope) -> str | None:
        """The tenant whose credentials a handshake carries (headers, query), as the vendor's
        auth resolves them; a handler that knows better notes `state["tenant"]`."""
        probe = dict(scope)
        probe["type"], probe["method"], probe["state"] = "http", "GET", {}
        try:
            tenant = self.vendors[vendor].tenant_of(probe, b"")
        except Exception:  # noqa: BLE001 - a lookup bug must not fail the socket: no tenant
            log.exception("tenant lookup for a WebSocket failed")
            return None
        return tenant.id if tenant is not None else None

    async def _kept(self, vendor: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A vendor call with --data-dir: served as any other, then its tenant's part marked for
        the next write (core/datadir.py; the write leaves the request path). Reads mark
        nothing (a vendor's GET that writes says so: `tenancy.wrote`): a part's export costs
        more than the read (tests/test_data_dir.py checks every vendor's GETs)."""
        try:
            if self.faults.items:
                await self._faulted(vendor, scope, receive, send)
            else:
                await self._journaled(vendor, self._apps[vendor], scope, receive, send)
        finally:
            state = scope["state"]
            if scope["method"] not in READS or "wrote" in state:
                self.data.touched(state.get("tenant"), vendor)
            if "fault" in state:  # a fault's count moved
                self.data.touched(None)

    async def _admin_kept(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A control-plane change with --data-dir: the tenants it acted on (`datadir.note`)
        and the server's own state (clock, faults, the tenant list) marked for the next
        write."""
        token = self.data.tracking()
        try:
            await self._admin(scope, receive, send)
        finally:
            for tid in self.data.noted(token):
                self.data.touched(tid)
            self.data.touched(None)

    async def _faulted(self, vendor: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the first fault matching this call, if any. A fault may name a tenant, known
        only from the call's credentials: the vendor resolves them (`Vendor.tenant_of`, body
        read ahead and replayed) before anything is served, so a faulted call changes nothing
        and its journal entry still names its tenant."""
        app = self._apps[vendor]
        candidates = self.faults.candidates(vendor, scope["method"], scope["vendor_path"])
        if not candidates:
            await self._journaled(vendor, app, scope, receive, send)
            return
        replay, body = await buffered(receive)
        read_ahead = replay.read_ahead()
        probe = dict(scope)
        probe["state"] = {}
        try:
            tenant = self.vendors[vendor].tenant_of(probe, body)
        except Exception:  # noqa: BLE001 - a lookup bug must not fail the call: no tenant
            log.exception("tenant lookup for a fault failed")
            tenant = None
        fault = self.faults.take(candidates, tenant.id if tenant is not None else None)
        if fault is None:
            await self._journaled(vendor, app, scope, replay, send)
            return
        scope["state"]["fault"] = fault.id
        if tenant is not None:
            scope["state"]["tenant"] = tenant.id

        async def faulted(scope: Scope, receive: Receive, send: Send) -> None:
            if fault.drop or fault.status is not None:
                # Answered here: what was read ahead still reaches the journal (the request
                # detail of a faulted POST shows its body, redacted as any other).
                scope["state"][REQUEST_BODY] = read_ahead
            await pause(self.faults.delay_ms(fault))
            if fault.drop:
                scope["state"]["dropped"] = True
                await drop(send)
            elif fault.status is None:  # latency alone: then the real answer
                await app(scope, receive, send)
            else:
                await self._fault_answer(vendor, app, fault, scope, send)

        await self._journaled(vendor, faulted, scope, replay, send)

    async def _fault_answer(self, vendor: str, app: ASGIApp, fault: Fault, scope: Scope,
                            send: Send) -> None:
        """The fault's status with its body, or the vendor's own error for it; with what the
        vendor's framework adds to every answer, and the fault's headers over all."""
        # a VendorApp's framework and CORS headers (X-Powered-By, Allow, Access-Control-*)
        framework = app.answer_headers(scope) if isinstance(app, VendorApp) else {}
        content_type = self.vendors[vendor].content_type
        own: dict[str, str] = {}
        if fault.body is not None:
            body, ctype = encode_body(fault, content_type)
        elif fault.status is not None and fault.status >= 400:
            error = self.vendors[vendor].fault_response(fault.status, scope)
            own = error.headers
            body, ctype = (b"", "") if error.body is None else (dump(error.body), content_type)
        else:  # a 2xx/3xx without a body
            body, ctype = b"", ""
        headers = raw_headers(framework, {"content-type": ctype} if ctype else {}, own,
                              fault.headers)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _route(self, host: bytes | None, path: str) -> tuple[str | None, str]:
        if host is not None:
            name = self._hosts.get(host, "")
            if name == "":  # not seen yet
                # Vendor hosts are names, so dropping everything from the first ":" is safe;
                # a name's trailing-dot form (fully qualified) is the same name.
                hostname = host.split(b":", 1)[0].decode("latin-1").lower()
                name = self._by_host.get(hostname[:-1] if hostname[-1:] == "." else hostname)
                self._hosts.keep(host, name)
            if name is not None:
                return name, ""
        seg_end = path.find("/", 1)
        first = path[1:] if seg_end == -1 else path[1:seg_end]
        if first in self._apps:
            return first, "/" + first
        return None, ""

    async def _journaled(self, vendor: str, app: ASGIApp, scope: Scope,
                         receive: Receive, send: Send) -> None:
        if not self.journal.enabled:
            await app(scope, receive, send)
            return
        started = perf_counter()
        if app.__class__ is not VendorApp:  # a VendorApp notes its answer itself (ANSWER)
            send = noting(send, scope)
        try:
            await app(scope, receive, send)
        finally:
            self._record(vendor, scope, started)

    def _record(self, vendor: str, scope: Scope, started: float) -> None:
        """The journal entry of a call served (its answer noted in the call's state)."""
        state = scope["state"]
        answer = state.get(ANSWER) or (None, b"")
        dropped = state.get("dropped", False)  # the client got no status at all
        body = answer[1]
        if len(body) > MAX_JOURNAL_BODY:
            body = body[:MAX_JOURNAL_BODY]
        # The request body as the vendor read it (core.http.read_limited notes it).
        req = state.get(REQUEST_BODY, b"")
        if len(req) > MAX_JOURNAL_BODY:
            req = req[:MAX_JOURNAL_BODY]
        # The journal's field list, in its order (REQUEST_FIELDS: Call's fields before `id`).
        self.journal.record_request(
            vendor, self.clock.time(), scope["method"], scope["vendor_path"],
            scope.get("query_string", b""), scope["headers"],
            None if dropped else answer[0], state.get("tenant"),
            (perf_counter() - started) * 1000.0, req, body,
            "connection dropped" if dropped else None, state.get("fault"))


async def _serve_socket(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    if isinstance(app, VendorApp):
        await app.serve_websocket(scope, receive, send)
    else:  # an app with no WebSocket routes: refused
        await send({"type": "websocket.close", "code": 1000})


class _SocketWatch:
    """One WebSocket connection's messages, watched for its journal entry: the handshake's
    outcome as it is on the wire (101 accepted; a close before accepting is a 403; a denial
    response its own status), the first close either side sent, and the messages each way."""

    __slots__ = ("_receive", "_send", "status", "close_code", "received", "sent", "gone")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send
        self.status: int | None = None
        self.close_code: int | None = None
        self.received = self.sent = 0
        self.gone = False  # the client disconnected

    async def receive(self) -> Message:
        message = await self._receive()
        kind = message.get("type")
        if kind == "websocket.receive":
            self.received += 1
        elif kind == "websocket.disconnect":
            self.gone = True
            if self.close_code is None and self.status == 101:
                self.close_code = message.get("code", 1005)  # 1005: none given (RFC 6455)
        return message

    async def send(self, message: Message) -> None:
        await self._send(message)  # noted after: what the server refused to send never went
        kind = message.get("type")
        if kind == "websocket.send":
            self.sent += 1
        elif kind == "websocket.accept":
            self.status = 101
        elif kind == "websocket.close":
            if self.status is None:
                self.status = 403
            elif self.close_code is None and self.status == 101:
                self.close_code = message.get("code", ASGI_CLOSE_CODE)
        elif kind == "websocket.http.response.start" and self.status is None:
            self.status = message.get("status")


async def _lifespan(receive: Receive, send: Send, recorder: Any = None, data: Any = None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if recorder is not None:  # its HTTP client's connections
                await recorder.aclose()
            if data is not None:  # the last changes written, the data dir's lock released
                data.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _absolute_form(scope: Scope, path: str) -> tuple[Scope, str, bytes]:
    """`GET http://authority/path`: as a forward-proxy client sends it. The target's authority
    wins over Host (RFC 9112 §3.2.2): the call goes on with the path alone and the authority as
    its Host, so routing, the vendor and the journal see what an origin-form request shows."""
    raw = scope.get("raw_path")
    if not raw or b"://" not in raw:
        raw = path.encode("latin-1")
    rest = raw.split(b"://", 1)[-1]
    slash = rest.find(b"/")
    authority, raw_path = (rest, b"/") if slash == -1 else (rest[:slash], rest[slash:])
    authority = authority.rpartition(b"@")[2]  # userinfo is no part of the host
    origin = raw_path.decode("latin-1")
    scope = dict(scope)
    scope["path"] = path = unquote(origin) if "%" in origin else origin
    scope["raw_path"] = raw_path
    scope["headers"] = [(b"host", authority)] + [h for h in scope["headers"] if h[0] != b"host"]
    return scope, path, authority


async def _bad_request(send: Send, message: str) -> None:
    """A request no vendor could be chosen for; the connection is closed after, as Node does."""
    body = dump({"error": "Bad Request", "message": message})
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def _plain_404(scope: Scope, send: Send, vendors: Iterable[str]) -> None:
    body = dump({"error": "Not Found",
                 "message": f"No vendor is mounted at {scope['path']}. Use a vendor prefix "
                            f"({', '.join('/' + v for v in vendors)}) or a vendor's real Host "
                            "header; the control plane is /__admin."})
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(seed: int = DEFAULTS["seed"], clock: Clock | None = None,
               fixtures: str | Path | None = DEFAULTS["fixtures"],
               admin_token: str | None = DEFAULTS["admin_token"],
               journal_size: int = DEFAULTS["journal_size"],
               max_sessions: int = DEFAULTS["max_sessions"],
               vendors: Iterable[Vendor] | None = None,
               ca_pem: bytes | None = None, cors_origins: list[str] | None = None,
               max_faults: int = DEFAULTS["max_faults"], max_tenants: int = DEFAULTS["max_tenants"],
               state: dict | None = None,
               journal_bytes: int = DEFAULTS["journal_bytes"],
               record: Mapping[str, str | None] | None = DEFAULTS["record"],
               record_dir: str | Path | None = DEFAULTS["record_dir"],
               data_dir: str | Path | None = DEFAULTS["data_dir"],
               data_dir_recover: bool = DEFAULTS["data_dir_recover"]) -> MockServer:
    """The ASGI app. `clock` and `seed` are the seams tests inject; `fixtures` overrides the data;
    `max_sessions` bounds the live tokens each tenant keeps per vendor, `max_faults` the active
    faults, `max_tenants` the tenants; `journal_size` and `journal_bytes` bound the journal
    in entries and in approximate bytes; `ca_pem` is the CA that `serve --tls` made, served at /__admin/ca.pem; `cors_origins`
    limits the browser origins each vendor's CORS answers allow (None: any); `state` is a
    snapshot (GET /__admin/state) loaded into the default tenant (`StateError` when it does not
    fit); `record` names the vendors whose calls go to a real API ({vendor: URL}, None for its
    own), each exchange also written as a fixture in `record_dir` (`RecordError` when they
    cannot be set up); `data_dir` keeps every tenant, the clock and the faults across restarts
    (core/datadir.py; `DataDirError` in one line when it cannot be used, `data_dir_recover`
    moving bad files aside instead). The caller closes it: `server.data.close()`."""
    clock = clock or Clock()
    journal = Journal(maxlen=journal_size, max_bytes=journal_bytes)
    ctx = Context(seed=seed, clock=clock, journal=journal, webhooks=Webhooks(clock, journal),
                  fixtures_dir=Path(fixtures) if fixtures else bundled("fixtures"),
                  session_limit=max_sessions,
                  cors_origins=None if cors_origins is None or "*" in cors_origins
                  else list(cors_origins))
    vendors = list(vendors) if vendors is not None else default_vendors()
    data = None
    if data_dir is not None:  # locked and checked before anything is built on it
        from .core.datadir import DataDir, fixtures_digest

        data = DataDir(data_dir, seed=seed, recover=data_dir_recover,
                       fixtures_digest=fixtures_digest(ctx.fixtures_dir,
                                                       [v.name for v in vendors]))
        data.open()
        ctx.changed = data.touched
    server = MockServer(ctx, vendors, admin_token, ca_pem=ca_pem, max_faults=max_faults,
                        max_tenants=max_tenants, data=data)
    if state is not None:
        from .core.state import Importer, parse
        # Through the JSON text, so a dict is read exactly as a file or a PUT body would be.
        Importer(server.vendors).load(parse(dump(state)), server.tenants.default)
    if data is not None:
        try:  # over --state: the data dir holds what happened since
            data.load(server)
        except BaseException:
            data.close()
            raise
    if record_dir is not None and not record:
        raise ValueError("record_dir is for record")
    if record:
        from .verify.record import Recorder

        server.recorder = Recorder(server, record, record_dir)
        server.recorded = dict(server.recorder.apps)
    return server
