"""Test helpers behind the pytest plugin (`mockserver.pytest_plugin`), usable without pytest too.

Everything here talks to the mock through its control plane (`/__admin`) over HTTP, so the same
helpers drive an in-process app (`InProcessClient`), a server in a background thread
(`ThreadedServer`) and a server somewhere else (a CI service container) alike. One concept per
module: `admin` (the control plane's client and errors), `journal` (the calls, read like
unittest.mock), `clock`, `tenant`, `in_process` (the app on an event loop of its own) and
`server` (a real server in a thread).
"""
from __future__ import annotations

from .admin import MockServerError, admin_client
from .clock import ClockControl
from .in_process import IN_PROCESS_URL, InProcessClient
from .journal import JournalView, RecordedCall
from .server import ThreadedServer, wait_healthy
from .tenant import TenantHandle, create_tenant

__all__ = ["IN_PROCESS_URL", "ClockControl", "InProcessClient", "JournalView", "MockServerError",
           "RecordedCall", "TenantHandle", "ThreadedServer", "admin_client", "create_tenant",
           "wait_healthy"]
