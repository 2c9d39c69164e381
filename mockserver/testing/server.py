"""A real server: `create_app()` under uvicorn in a thread, and waiting for one to answer."""
from __future__ import annotations

import socket
import threading
import time

import httpx

from ..core.settings import DEFAULTS
from .admin import MockServerError


class ThreadedServer:
    """`create_app()` served by uvicorn on 127.0.0.1, a free port, in a daemon thread."""

    def __init__(self, seed: int = DEFAULTS["seed"], admin_token: str | None = None,
                 startup_timeout: float = 10.0) -> None:
        import uvicorn

        from ..app import create_app
        from ..http1 import protocol

        self.app = create_app(seed=seed, admin_token=admin_token)
        # Bound and listening before uvicorn starts: the port is known at once, and a client
        # that connects early waits in the backlog instead of being refused.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(2048)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, http=protocol(), lifespan="off",
                                log_level=DEFAULTS["log_level"], access_log=False,
                                timeout_graceful_shutdown=2)  # as `serve`
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
