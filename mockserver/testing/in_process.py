"""The app in this process: an httpx.Client whose requests go to it, on an event loop of its own."""
from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import httpx

from .clock import ClockControl
from .journal import JournalView
from .tenant import TenantHandle, create_tenant

if TYPE_CHECKING:
    from ..app import MockServer

IN_PROCESS_URL = "http://mockserver.test"


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

    def new_tenant(self) -> TenantHandle:
        """A fresh tenant of this app (it goes with the app; `.drop()` to go sooner)."""
        return create_tenant(self, self.url)
