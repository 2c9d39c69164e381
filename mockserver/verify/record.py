"""`serve --record VENDOR=URL` (and `mockserver record VENDOR [URL]`): a vendor's calls go to its
real API, the client gets the real answer, and each exchange is journaled (kind "recorded")
beside what the mock answered the same call and the differences between the two.

MockServer hands a recorded vendor's calls here after routing by Host or prefix, before faults.
For each call a `Forward` reads the request body (bounded), runs the call through the mock's own
vendor app in process (its answer captured, never sent), forwards it with httpx (TLS verified,
the real Host from the URL) and compares the answers with `compare.py`, error texts word for
word. With `--record-dir` each exchange also goes to `Recording.add`, which writes it as a
fixture. docs/fidelity.md ("Recording from the real API") says what is forwarded and why.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import quote

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from ..app import MAX_JOURNAL_BODY
from ..core.control import off_loop, read_parts
from ..core.http import TooLarge, dump
from ..core.journal import RECORDED, Call as Entry
from ..core.probe import Answer, Exchange, Probe
from .compare import compare
from .run import allows as contract_allows  # what verify counts as data, record counts alike
# One wording of an upstream failure for `verify` and `record` alike.
from .upstream import host_of, reason, tls_failure

try:
    from .recording import Recording
except ImportError:  # pragma: no cover - written beside this module; --record-dir needs it
    Recording = None

if TYPE_CHECKING:
    from ..app import MockServer

FORWARD_TIMEOUT = 30.0     # seconds a forwarded call, and the mock's run of it, may take
# The request body read and forwarded: four times the largest vendor's own limit (1 MiB), so a
# body over a vendor's limit still reaches the real API and its refusal is what gets recorded.
MAX_REQUEST = 4 * 2**20
MAX_ANSWER = 16 * 2**20    # the real answer read; a larger one is not forwarded (502)
COMPARE_INLINE = 64 * 1024  # answers larger in all are compared in a worker thread
# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded either way.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
# httpx sets Host from the URL and Content-Length from the body; the answer is asked for
# uncompressed (it is compared and journaled); the body was read already, so no 100-continue.
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "expect"}
# httpx hands over the body decoded, and its length is counted again; the server that serves
# the mock writes its own Date and Server on every answer (uvicorn's), and a second of either
# would be a duplicate. The journal and the comparison still see all of them.
NOT_RETURNED = HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}
PREFIX = "mockserver --record: "

log = logging.getLogger("mockserver")


class RecordError(ValueError):
    """A `--record` that cannot be set up (a vendor without a known real API, an unwritable
    `--record-dir`): `str()` is the one line the CLI prints."""


class Upstream(Exception):
    """The real API gave no usable answer: `str()` says what failed, in one line."""


@dataclass(frozen=True)
class Target:
    """Where one recorded vendor's calls go."""

    vendor: str
    bases: Mapping[str, str]           # the vendor's BASE_URLS names -> the URL forwarded to
    base_of: Callable[[str], str]      # a vendor path -> its BASE_URLS name
    volatile: frozenset[str]           # error-body keys whose text is never compared (times)

    def base(self, path: str) -> str:
        return self.bases.get(self.base_of(path)) or next(iter(self.bases.values()))

    def describe(self) -> str:
        urls = list(dict.fromkeys(self.bases.values()))
        if len(urls) == 1:
            return urls[0]
        return ", ".join(f"{name} {url}" for name, url in self.bases.items())


def _api(path: str) -> str:
    return "api"


def target(vendor: Any, url: str | None) -> Target:
    """`vendor`'s target: every path to `url`, or (None) each path to the real base its
    `verify.base_of` names (Groove's OAuth host and its API host)."""
    verify = getattr(vendor, "verify", None)
    known = dict(getattr(verify, "BASE_URLS", None) or {})
    if url is not None:
        bases = {name: url for name in known} or {"api": url}
    elif known:
        bases = known
    else:
        raise RecordError(f"--record {vendor.name}: its real API is not known here; name it "
                          f"with --record {vendor.name}=URL")
    probes = getattr(verify, "probes", None)
    volatile = frozenset().union(*(p.volatile for p in probes())) if probes else frozenset()
    return Target(vendor.name, bases, getattr(verify, "base_of", None) or _api, volatile)


def _unbuilt(side: Any) -> None:
    return None  # a recorded call is the client's own, never built


class Recorder:
    """The recorded vendors of one app: a `Forward` ASGI app each (`apps`), one httpx client
    shared by them (`aclose()` at shutdown), and the `--record-dir` recording."""

    def __init__(self, server: "MockServer", targets: Mapping[str, str | None],
                 record_dir: str | Path | None = None, timeout: float = FORWARD_TIMEOUT,
                 verify: Any = True) -> None:
        unknown = [name for name in targets if name not in server.vendors]
        if unknown:
            raise RecordError(f"--record {unknown[0]}: no such vendor "
                              f"({', '.join(server.vendors)})")
        self.server = server
        self.targets = {name: target(server.vendors[name], url) for name, url in targets.items()}
        self.timeout = timeout
        self.verify = verify  # True: httpx's CA bundle (certifi's), as `verify`; or an SSLContext
        self.recording = None
        if record_dir is not None:
            if Recording is None:
                raise RecordError("--record-dir: this build cannot write recordings")
            try:
                self.recording = Recording(Path(record_dir), server)
            except (OSError, ValueError) as exc:
                raise RecordError(f"--record-dir {record_dir}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
        self._writing = asyncio.Lock()  # Recording.add runs one call at a time
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.apps = {name: Forward(self, t) for name, t in self.targets.items()}

    def describe(self) -> dict[str, str]:
        """Each recorded vendor and where its calls go (the serve banner's lines)."""
        return {name: t.describe() for name, t in self.targets.items()}

    def client(self) -> httpx.AsyncClient:
        """The app's one client, made in the loop that serves (a client's connections belong to
        one event loop: a test's second `asyncio.run` gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout),
                                             verify=self.verify, follow_redirects=False,
                                             trust_env=False)
            for name in ("accept", "user-agent"):  # httpx's own: only the client's headers go
                del self._client.headers[name]
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def write(self, exchange: Exchange) -> None:
        """`--record-dir`: the exchange as a fixture; each problem logged in one line."""
        if self.recording is None:
            return
        try:
            async with self._writing:  # files written off the event loop, one call at a time
                problems = await off_loop(self.recording.add, exchange)
        except Exception as exc:  # noqa: BLE001 - a recording that fails must not fail the call
            problems = [f"cannot record {exchange.method} {exchange.path}: {reason(exc)}"]
        for problem in problems:
            log.warning("mockserver --record-dir: %s", _line(str(problem)))


class Forward:
    """The ASGI app a recorded vendor's calls go to (see the module docstring)."""

    def __init__(self, recorder: Recorder, target: Target) -> None:
        self.recorder = recorder
        self.target = target
        self.app = recorder.server.apps[target.vendor]  # the mock's own vendor app
        self.probe = Probe(f"{target.vendor} recorded", _unbuilt, "a client's own call",
                           exact=True, volatile=target.volatile)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        method: str = scope["method"]
        path: str = scope["vendor_path"]
        base = self.target.base(path)
        raw = _raw_path(scope)
        where = f"{method} {base}{raw}"  # for messages: never the query (it may hold a secret)
        try:
            body = await _body(scope, receive, MAX_REQUEST)
        except ClientDisconnect:
            return
        real: _Real | None = None
        mock: Answer | None = None
        tenant: str | None = None
        drifts: tuple[tuple[str, str, str], ...] = ()
        error: str | None = None
        refused = 502
        if body is None:
            error = f"{where}: a request body over {_size(MAX_REQUEST)} is not forwarded"
            refused, body = 413, b""
        else:
            mock, tenant, why = await self._mock(scope, body)
            query = scope.get("query_string", b"")
            url = base + raw + ("?" + query.decode("latin-1") if query else "")
            try:
                real = await self._forward(scope, url, where, body)
            except Upstream as exc:
                error = str(exc)
            else:
                if real.status >= 500:  # passed on as it came: the client sees what the API said
                    error = f"{where} answered {real.status}"
                drifts = (("mock", "error", why),) if mock is None \
                    else await self._compare(method, path, real, mock)
        if error is not None:
            error = PREFIX + _line(error)
            log.warning("%s", error)
        answer = real if real is not None else _refusal(refused, error or "")
        if tenant is not None:
            scope["state"]["tenant"] = tenant  # for the access log
        self._journal(scope, body, answer, mock, tenant, drifts, error, base + raw, started)
        if real is not None:
            await self.recorder.write(Exchange(
                self.target.vendor, method, path, scope.get("query_string", b"").decode("latin-1"),
                _joined(scope["headers"]), body, Answer(real.status, real.headers, real.body)))
        await _send(send, answer, method == "HEAD")

    async def _mock(self, scope: Scope, body: bytes) -> tuple[Answer | None, str | None, str]:
        """The mock's answer to the same call (the body replayed, the answer captured), the
        tenant its credentials named, and why there is no answer when there is none."""
        mscope = dict(scope)
        mscope["state"] = state = {}
        done = asyncio.Event()
        given = False

        async def replay() -> dict:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()  # as a client that waits for its answer, then leaves
            return {"type": "http.disconnect"}

        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        size = 0

        async def capture(message: dict) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if size <= MAX_ANSWER:  # as much of the mock's answer as of the real one
                    chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        try:
            async with asyncio.timeout(self.recorder.timeout):
                await self.app(mscope, replay, capture)
        except Exception as exc:  # noqa: BLE001 - the client's answer is the real API's anyway
            why = "no answer in time" if isinstance(exc, TimeoutError) else reason(exc)
            return None, state.get("tenant"), f"the mock gave no answer: {why}"
        finally:
            done.set()
        if "status" not in start:
            return None, state.get("tenant"), "the mock gave no answer"
        if size > MAX_ANSWER:
            return None, state.get("tenant"), f"the mock's answer is over {_size(MAX_ANSWER)}"
        return (Answer(start["status"], _joined(start.get("headers", [])), b"".join(chunks)),
                state.get("tenant"), "")

    async def _forward(self, scope: Scope, url: str, where: str, body: bytes) -> "_Real":
        headers = _outgoing(scope["headers"])
        client = self.recorder.client()
        try:
            # httpx's timeout bounds each step (connect, each read); this, the whole call
            async with asyncio.timeout(self.recorder.timeout), \
                    client.stream(scope["method"], url, headers=headers,
                                  content=body or None) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER:
                        raise Upstream(f"{where} answered more than {_size(MAX_ANSWER)}: "
                                       "not forwarded")
                    chunks.append(chunk)
                raw = [(k.lower(), v) for k, v in response.headers.raw]
                return _Real(response.status_code, _incoming(raw), _joined(raw),
                             b"".join(chunks))
        except httpx.ConnectError as exc:
            if tls_failure(exc):
                raise Upstream(f"TLS with {host_of(url)} failed: {reason(exc)}") from None
            raise Upstream(f"cannot connect to {host_of(url)}: {reason(exc)}") from None
        except (httpx.TimeoutException, TimeoutError):
            raise Upstream(f"{where} gave no answer within {self.recorder.timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise Upstream(f"{where} failed: {reason(exc)}") from None

    async def _compare(self, method: str, path: str, real: "_Real",
                       mock: Answer) -> tuple[tuple[str, str, str], ...]:
        """The differences, as `verify` finds them: a key or a null the mock's contract admits
        is the account's data, not a difference."""
        answer = Answer(real.status, real.headers, real.body)
        allows = contract_allows(self.target.vendor, method, path, mock.status)
        if len(real.body) + len(mock.body) > COMPARE_INLINE:  # a big JSON walk: off the loop
            drifts = await off_loop(compare, self.probe, answer, mock, allows)
        else:
            drifts = compare(self.probe, answer, mock, allows)
        return tuple((d.path, d.kind, d.message) for d in drifts)

    def _journal(self, scope: Scope, body: bytes, real: "_Real", mock: Answer | None,
                 tenant: str | None, drifts: tuple[tuple[str, str, str], ...],
                 error: str | None, url: str, started: float) -> None:
        server = self.recorder.server
        journal = server.journal
        if not journal.enabled or not journal.maxlen:
            return
        vendor = self.target.vendor
        journal.record(Entry(
            vendor=vendor, at=server.clock.time(), method=scope["method"],
            path=scope["vendor_path"], query=scope.get("query_string", b"").decode("latin-1"),
            raw_headers=tuple(scope["headers"]), status=real.status, tenant=tenant,
            duration_ms=(perf_counter() - started) * 1000.0, raw_body=body[:MAX_JOURNAL_BODY],
            response_body=real.body[:MAX_JOURNAL_BODY], error=error, id=journal.next_id(),
            kind=RECORDED, url=url, secrets=journal.secrets_of(vendor),
            mock_status=None if mock is None else mock.status,
            mock_body=b"" if mock is None else mock.body[:MAX_JOURNAL_BODY],
            differences=drifts))


@dataclass(frozen=True, slots=True)
class _Real:
    """The real answer: the headers sent on to the client (a list: Set-Cookie repeats) and
    as `compare` reads them (lower-case, repeats joined)."""

    status: int
    raw: list[tuple[bytes, bytes]]
    headers: Mapping[str, str]
    body: bytes


def _refusal(status: int, message: str) -> _Real:
    """The recorder's own answer when the real API gave none: what failed, in one line."""
    body = dump({"error": "Payload Too Large" if status == 413 else "Bad Gateway",
                 "message": message})
    return _Real(status, [(b"content-type", b"application/json")],
                 {"content-type": "application/json"}, body)


async def _send(send: Send, real: _Real, head: bool) -> None:
    headers = list(real.raw)
    if head or real.status == 304:  # no body here: the length is the one the API said
        length = real.headers.get("content-length")
    elif real.status == 204 or real.status < 200:  # such an answer has none (RFC 9110 §8.6)
        length = None
    else:
        length = str(len(real.body))
    if length is not None:
        headers.append((b"content-length", length.encode("latin-1")))
    await send({"type": "http.response.start", "status": real.status, "headers": headers})
    await send({"type": "http.response.body", "body": real.body})


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is over `limit` (announced or sent: the rest
    is left unread)."""
    try:
        return b"".join(await read_parts(Request(scope, receive), limit))
    except TooLarge:
        return None


def _raw_path(scope: Scope) -> str:
    """The vendor path as the client wrote it (`%2F` stays `%2F`), without the mock's prefix."""
    path: str = scope["vendor_path"]
    full: str = scope["path"]
    # "/gravy/x" -> "/gravy"; "/gravy" (vendor path "/") -> itself; a vendor Host's -> ""
    prefix = full[:len(full) - len(path)] if full.endswith(path) else full
    raw = scope.get("raw_path")
    if raw and raw.startswith(prefix.encode("latin-1")):
        return raw[len(prefix):].decode("latin-1") or "/"
    return quote(path, safe="/:@!$&'()*+,;=~%")


def _named(headers: list[tuple[bytes, bytes]]) -> frozenset[str]:
    """Headers a Connection header names: hop-by-hop too."""
    return frozenset(t.strip().lower() for k, v in headers if k.lower() == b"connection"
                     for t in v.decode("latin-1").split(","))


def _outgoing(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    drop = NOT_FORWARDED | _named(headers)
    out = [(k, v) for k, v in headers if k.decode("latin-1").lower() not in drop]
    out.append((b"accept-encoding", b"identity"))
    return out


def _incoming(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    drop = NOT_RETURNED | _named(headers)
    return [(k, v) for k, v in headers if k.decode("latin-1") not in drop]


def _joined(headers: Any) -> dict[str, str]:
    """Lower-case names, repeats joined by ", " (as `Answer` holds them)."""
    out: dict[str, str] = {}
    for k, v in headers:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _line(text: str) -> str:
    return " ".join(text.split())


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n % 2**20 == 0 else f"{n} bytes"
