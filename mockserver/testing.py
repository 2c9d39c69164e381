"""Test helpers behind the pytest plugin (`mockserver.pytest_plugin`), usable without pytest too.

Everything here talks to the mock through its control plane (`/__admin`) over HTTP, so the same
helpers drive an in-process app (`InProcessClient`), a server in a background thread
(`ThreadedServer`) and a server somewhere else (a CI service container) alike.
"""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

import httpx

from .core.clock import parse_iso
from .core.journal import matches

if TYPE_CHECKING:
    from .app import MockServer

VENDORS = ("gravy", "gravitec", "groove", "integry")
IN_PROCESS_URL = "http://mockserver.test"
_CRITERIA = ("vendor", "method", "path", "status", "fault")
_SHOWN = 20  # calls listed in a failed assertion's message


class MockServerError(Exception):
    """The control plane refused a call (its `{"error": ...}` message), or could not be reached."""


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise MockServerError(f"{response.request.method} {response.request.url.path} -> "
                              f"{response.status_code}: {message}")
    return response


# == the journal, read like unittest.mock ====================================================
@dataclass(frozen=True)
class RecordedCall:
    """One journal entry as `GET /__admin/requests` serves it (secrets already redacted)."""

    id: int
    vendor: str
    method: str
    path: str
    query: str
    status: int | None
    tenant: str | None
    fault: str | None
    time: str
    request_headers: dict[str, str]
    request_body: str
    response_body: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> "RecordedCall":
        request = entry.get("request") or {}
        return cls(id=entry["id"], vendor=entry["vendor"], method=entry["method"],
                   path=entry["path"], query=entry.get("query") or "", status=entry.get("status"),
                   tenant=entry.get("tenant"), fault=entry.get("fault"), time=entry["time"],
                   request_headers=request.get("headers", {}),
                   request_body=request.get("body", ""),
                   response_body=(entry.get("response") or {}).get("body", ""), raw=entry)

    @property
    def json(self) -> Any:
        """The response body parsed, or None when it was empty."""
        return json.loads(self.response_body) if self.response_body else None

    def matches(self, criteria: dict[str, Any]) -> bool:
        # The server journal's own rules: a path glob, a status code or class (4xx), any case.
        return all(matches(key, getattr(self, key), want) for key, want in criteria.items())

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        fault = f" (fault {self.fault})" if self.fault else ""
        return f"{self.vendor} {self.method} {self.path}{query} -> {self.status}{fault}"


def _expected(criteria: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in criteria.items()) or "any call"


class JournalView:
    """The calls the vendors received, for one tenant (or every tenant when `tenant` is None).

    Reads like `unittest.mock`: `called`, `call_count`, `last`, `calls` (oldest first),
    `assert_called_with(vendor=..., method=..., path=..., status=...)`. Criteria compare exactly,
    except `path`, a glob (`/connections/*`), and `status`, a code or a class (`"4xx"`). A call whose credentials were refused names no
    tenant, so it shows only in the unfiltered journal (`JournalView(http, None)`).
    """

    def __init__(self, http: httpx.Client, tenant: str | None) -> None:
        self._http = http
        self.tenant = tenant

    def _page(self, kind: str, limit: int) -> dict[str, Any]:
        params = {"kind": kind, "limit": str(limit)}
        if self.tenant is not None:
            params["tenant"] = self.tenant
        return _checked(self._http.get("/__admin/requests", params=params)).json()

    def _entries(self, kind: str) -> list[RecordedCall]:
        body = self._page(kind, 2**31)
        return [RecordedCall.from_entry(e) for e in reversed(body["requests"])]

    # -- reading ------------------------------------------------------------------------------
    @property
    def calls(self) -> list[RecordedCall]:
        """Every request, oldest first (like `Mock.call_args_list`)."""
        return self._entries("request")

    @property
    def webhooks(self) -> list[RecordedCall]:
        """Webhooks the mock delivered for this tenant, oldest first."""
        return self._entries("webhook")

    # The count and the last call need not fetch every entry's headers and bodies.
    @property
    def called(self) -> bool:
        return self.call_count > 0

    @property
    def call_count(self) -> int:
        return self._page("request", 0)["total"]

    @property
    def last(self) -> RecordedCall:
        newest = self._page("request", 1)["requests"]
        if not newest:
            raise AssertionError("no call was made")
        return RecordedCall.from_entry(newest[0])

    def filter(self, **criteria: Any) -> list[RecordedCall]:
        """The calls matching every criterion, oldest first."""
        return [c for c in self.calls if c.matches(self._criteria(criteria))]

    def __iter__(self) -> Iterator[RecordedCall]:
        return iter(self.calls)

    def __len__(self) -> int:
        return self.call_count

    def reset(self) -> None:
        """Forget this tenant's calls (`DELETE /__admin/requests?tenant=`)."""
        params = {"tenant": self.tenant} if self.tenant is not None else {}
        _checked(self._http.delete("/__admin/requests", params=params))

    # -- asserting (__tracebackhide__: pytest shows the failure at the test's own line) -----
    @staticmethod
    def _criteria(criteria: dict[str, Any]) -> dict[str, Any]:
        unknown = set(criteria) - set(_CRITERIA)
        if unknown:
            raise TypeError(f"unknown criteria {', '.join(sorted(unknown))}; "
                            f"use {', '.join(_CRITERIA)}")
        return {k: v for k, v in criteria.items() if v is not None}

    @staticmethod
    def _listing(calls: list[RecordedCall]) -> str:
        if not calls:
            return "Calls: none."
        shown = calls[-_SHOWN:]
        lines = [f"Calls ({len(calls)}, oldest first):"]
        if len(calls) > len(shown):
            lines.append(f"  ... {len(calls) - len(shown)} earlier")
        lines += [f"  {c}" for c in shown]
        return "\n".join(lines)

    def assert_called(self) -> None:
        __tracebackhide__ = True
        if not self.calls:
            raise AssertionError("Expected a call to the mock. Not called.")

    def assert_called_once(self) -> None:
        __tracebackhide__ = True
        calls = self.calls
        if len(calls) != 1:
            raise AssertionError(f"Expected one call to the mock. Called {len(calls)} times.\n"
                                 + self._listing(calls))

    def assert_not_called(self) -> None:
        __tracebackhide__ = True
        calls = self.calls
        if calls:
            raise AssertionError(f"Expected no call to the mock. Called {len(calls)} times.\n"
                                 + self._listing(calls))

    def assert_called_with(self, **criteria: Any) -> None:
        """The last call matches (like `Mock.assert_called_with`)."""
        __tracebackhide__ = True
        wanted = self._criteria(criteria)
        calls = self.calls
        if not calls:
            raise AssertionError(f"expected call not found.\nExpected: {_expected(wanted)}\n"
                                 "  Actual: not called.")
        if not calls[-1].matches(wanted):
            raise AssertionError(f"expected call not found.\nExpected: {_expected(wanted)}\n"
                                 f"  Actual: {calls[-1]}\n" + self._listing(calls))

    def assert_called_once_with(self, **criteria: Any) -> None:
        __tracebackhide__ = True
        wanted = self._criteria(criteria)
        calls = self.calls
        if len(calls) != 1:
            raise AssertionError(f"Expected one call matching {_expected(wanted)}. Called "
                                 f"{len(calls)} times.\n" + self._listing(calls))
        self.assert_called_with(**criteria)

    def assert_any_call(self, **criteria: Any) -> None:
        __tracebackhide__ = True
        wanted = self._criteria(criteria)
        calls = self.calls
        if not any(c.matches(wanted) for c in calls):
            raise AssertionError(f"{_expected(wanted)} call not found.\n" + self._listing(calls))


# == the clock ==============================================================================
class ClockControl:
    """The mock's one clock, over `GET/POST /__admin/clock`. It is server-wide: every tenant
    sees it move. `restore()` puts it back as it was when this object was made."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self._initial = self.describe()
        self.touched = False

    def describe(self) -> dict[str, Any]:
        return _checked(self._http.get("/__admin/clock")).json()

    def _post(self, body: dict[str, Any]) -> datetime:
        self.touched = True
        response = self._http.post("/__admin/clock", json=body)
        if response.status_code == 400:
            raise ValueError(response.json().get("error"))
        return parse_iso(_checked(response).json()["now"])

    @property
    def now(self) -> datetime:
        """The mock's time, an aware UTC datetime."""
        return parse_iso(self.describe()["now"])

    @property
    def frozen(self) -> bool:
        return self.describe()["mode"] == "frozen"

    def advance(self, seconds: float) -> datetime:
        """Move the clock on by `seconds` (frozen or not); the new time."""
        return self._post({"advance": seconds})

    def set(self, when: str | datetime) -> datetime:
        """Freeze the clock at `when` (ISO-8601 or a datetime; naive means UTC)."""
        return self._post({"set": when if isinstance(when, str) else when.isoformat()})

    def real(self) -> datetime:
        """Back to the system time, unfrozen and without offset."""
        return self._post({"real": True})

    def restore(self) -> None:
        if not self.touched:
            return
        initial = self._initial
        if initial["mode"] == "frozen":
            self.set(initial["now"])
        else:
            self.real()
            if initial.get("offsetSeconds"):
                self.advance(initial["offsetSeconds"])
        self.touched = False


# == tenants ================================================================================
@dataclass
class Tenant:
    """A tenant of the mock: its own copy of the fixtures behind its own credentials
    (README.md, "Use in CI")."""

    id: str
    credentials: dict[str, dict[str, str]]
    base_url: str
    journal: JournalView
    _http: httpx.Client = field(repr=False)

    @property
    def urls(self) -> dict[str, str]:
        """Each vendor's base URL on the mock: `{"gravy": "http://127.0.0.1:PORT/gravy", ...}`."""
        return {v: f"{self.base_url}/{v}" for v in self.credentials}

    def drop(self) -> None:
        """`DELETE /__admin/tenants/{id}`: its data, credentials and journal go."""
        response = self._http.delete(f"/__admin/tenants/{self.id}")
        if response.status_code != 404:  # already gone is fine
            _checked(response)


def create_tenant(http: httpx.Client, base_url: str) -> Tenant:
    body = _checked(http.post("/__admin/tenants")).json()
    return Tenant(id=body["id"], credentials=body["credentials"], base_url=base_url.rstrip("/"),
                  journal=JournalView(http, body["id"]), _http=http)


def admin_client(base_url: str, admin_token: str | None = None, **kw: Any) -> httpx.Client:
    headers = {"X-Admin-Token": admin_token} if admin_token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=10, **kw)


# == the in-process app =====================================================================
class _ASGIThreadTransport(httpx.BaseTransport):
    """Sync httpx over an ASGI app. The app runs on an event loop in a thread of its own, so
    its background tasks (webhook deliveries) go on between calls, and a test that runs a
    loop itself (pytest-asyncio) can still make a call."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="mockserver-app")
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a sync body becomes bytes the async transport can stream too

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes, dict]:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return response.status_code, response.headers.raw, body, dict(response.extensions)

        status, headers, body, extensions = asyncio.run_coroutine_threadsafe(
            call(), self._loop).result()
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body),
                              extensions=extensions)

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def cancel_pending() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_pending(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()


class InProcessClient(httpx.Client):
    """An httpx.Client whose every request goes to `app`, a `create_app()` in this process.

    `.app` is the app itself (`.app.clock`, `.app.journal`, `.app.tenants`); `.clock`,
    `.journal` (every tenant's calls) and `.new_tenant()` work as the fixtures do against a
    server."""

    def __init__(self, app: "MockServer", base_url: str = IN_PROCESS_URL, **kw: Any) -> None:
        super().__init__(transport=_ASGIThreadTransport(app), base_url=base_url, **kw)
        self.app = app
        self.url = base_url
        self.journal = JournalView(self, None)
        self._clock: ClockControl | None = None

    @property
    def clock(self) -> ClockControl:
        if self._clock is None:
            self._clock = ClockControl(self)
        return self._clock

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        """The default tenant's credentials (the README's sandbox ones)."""
        return self.app.tenants.default.credentials

    def new_tenant(self) -> Tenant:
        """A fresh tenant of this app (it goes with the app; `.drop()` to go sooner)."""
        return create_tenant(self, self.url)


# == a real server in a background thread ===================================================
class ThreadedServer:
    """`create_app()` served by uvicorn on 127.0.0.1, a free port, in a daemon thread."""

    def __init__(self, seed: int = 0, admin_token: str | None = None,
                 startup_timeout: float = 10.0) -> None:
        import uvicorn

        from .app import create_app
        from .http1 import protocol

        self.app = create_app(seed=seed, admin_token=admin_token)
        # Bound and listening before uvicorn starts: the port is known at once, and a client
        # that connects early waits in the backlog instead of being refused.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(2048)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, http=protocol(), lifespan="off", log_level="warning",
                                access_log=False, timeout_graceful_shutdown=2)  # as `serve`
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        daemon=True, name="mockserver-server")
        self._thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise MockServerError("the mock server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def wait_healthy(http: httpx.Client, timeout: float = 10.0) -> None:
    """Until `GET /__admin/health` answers 200 (a container may still be starting)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            response = http.get("/__admin/health")
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise MockServerError(f"no mock server at {http.base_url}: {last}")
        time.sleep(0.1)
