"""pytest plugin (entry point `pytest11`): the mock as fixtures.

- `mockserver_app`: an httpx.Client over a fresh in-process app per test (`.app`, `.clock`,
  `.journal`, `.credentials`, `.new_tenant()`); base URL `http://mockserver.test`.
- `mockserver_url`: a real server's base URL, once per session (under pytest-xdist, once per
  worker); `--mockserver-url` points at one already running instead (a CI service container).
- `mockserver_tenant`: a fresh tenant per test (`.id`, `.credentials`, `.urls`, `.journal`),
  dropped afterwards, so tests in parallel never see each other's data or calls.
- `mockserver_journal`: that tenant's calls, read like unittest.mock.
- `mockserver_clock`: the server's clock (`.now`, `.advance(s)`, `.set(iso)`), put back after.

pytest loads this module in every run of every project that has mockserver installed, so it
imports nothing beyond pytest here; the helpers (httpx, uvicorn, the app) load when a fixture
is first used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

from .core.settings import DEFAULTS   # imports nothing else of the package

if TYPE_CHECKING:
    from .testing import ClockControl, InProcessClient, JournalView, TenantHandle, ThreadedServer

    import httpx


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "mockserver fixtures")
    group.addoption("--mockserver-seed", type=int, default=DEFAULTS["seed"], metavar="N",
                    help="seed of the fixture data of the servers the fixtures start "
                         f"[{DEFAULTS['seed']}]")
    group.addoption("--mockserver-url", metavar="URL", default=None,
                    help="use the mock already running at URL (e.g. a CI service container) "
                         "instead of starting one")
    group.addoption("--mockserver-admin-token", metavar="T", default=None,
                    help="X-Admin-Token for the mock at --mockserver-url, if it has one")


class MockServerSession:
    """The session's server: `.url`, `.http` (an httpx.Client on it, admin token set) and
    `.app` (the app when the plugin started it; None for --mockserver-url)."""

    def __init__(self, url: str, http: "httpx.Client", server: "ThreadedServer | None") -> None:
        self.url = url
        self.http = http
        self._server = server
        self.app = server.app if server is not None else None

    def close(self) -> None:
        self.http.close()
        if self._server is not None:
            self._server.stop()


@pytest.fixture(scope="session")
def mockserver_server(pytestconfig: pytest.Config) -> Iterator[MockServerSession]:
    """The server behind `mockserver_url`, `mockserver_tenant` and `mockserver_clock`."""
    from .testing import ThreadedServer, admin_client, wait_healthy

    url = pytestconfig.getoption("mockserver_url")
    token = pytestconfig.getoption("mockserver_admin_token")
    server = None
    if url:
        url = url.rstrip("/")
    else:
        server = ThreadedServer(seed=pytestconfig.getoption("mockserver_seed"))
        url = server.url
    http = admin_client(url, token)
    session = MockServerSession(url, http, server)
    try:
        wait_healthy(http)
    except BaseException:
        session.close()
        raise
    yield session
    session.close()


@pytest.fixture(scope="session")
def mockserver_url(mockserver_server: MockServerSession) -> str:
    """The mock's base URL, e.g. `http://127.0.0.1:40123`; vendors below it at /gravy etc."""
    return mockserver_server.url


@pytest.fixture
def mockserver_tenant(mockserver_server: MockServerSession) -> Iterator["TenantHandle"]:
    """A fresh tenant on the session's server, dropped after the test."""
    from .testing import create_tenant

    tenant = create_tenant(mockserver_server.http, mockserver_server.url)
    yield tenant
    tenant.drop()


@pytest.fixture
def mockserver_journal(mockserver_tenant: "TenantHandle") -> "JournalView":
    """The calls made with `mockserver_tenant`'s credentials."""
    return mockserver_tenant.journal


@pytest.fixture
def mockserver_clock(mockserver_server: MockServerSession) -> Iterator["ClockControl"]:
    """The session server's clock. It is one for the whole server: the fixture puts it back as
    it found it after the test."""
    from .testing import ClockControl

    clock = ClockControl(mockserver_server.http)
    yield clock
    clock.restore()


@pytest.fixture
def mockserver_app(pytestconfig: pytest.Config) -> Iterator["InProcessClient"]:
    """An httpx.Client over a fresh in-process app (no socket): `mockserver_app.post(
    "/gravy/oauth/token", json=...)`; `.app` is the app, `.clock`/`.journal` drive it."""
    from .app import create_app
    from .testing import InProcessClient

    client = InProcessClient(create_app(seed=pytestconfig.getoption("mockserver_seed")))
    yield client
    client.close()
