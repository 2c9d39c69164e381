"""Local stand-ins for a real vendor API: no real vendor is reachable from here or from CI.

`serve(app)` runs any ASGI app under uvicorn on a free port (what `verify` and `record` call as
"the real API"); `Drifted(app, change)` is an unmodified mockserver with one change applied to
each answer, the drifts `verify` must report once each.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from mockserver.http1 import protocol

# change(method, path, status, headers, body) -> (status, headers, body); headers: a dict of
# lower-case names to values; path: the vendor path (after the prefix), body: bytes.
Change = Callable[[str, str, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@contextmanager
def serve(app: Any, tls: tuple[Any, Any] | None = None) -> Iterator[str]:
    """`app` under uvicorn on 127.0.0.1; yields its base URL ("http://127.0.0.1:PORT"). With
    `tls` (certificate file, key file) it speaks HTTPS (the URL still says http)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    options = {} if tls is None else {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
    config = uvicorn.Config(app, http=protocol(), lifespan="off", log_level="critical",
                            access_log=False, timeout_graceful_shutdown=1, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the upstream did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Drifted:
    """An ASGI app: `app`'s answers passed through `change` (the whole body buffered)."""

    def __init__(self, app: Any, change: Change) -> None:
        self.app, self.change = app, change

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._answer(scope, start, b"".join(chunks), send)

        await self.app(scope, receive, capture)

    async def _answer(self, scope, start, body: bytes, send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in start.get("headers", [])}
        path = scope["path"]
        parts = path.split("/", 2)  # a prefix path: /gravy/connections -> /connections
        vendor_path = "/" + parts[2] if len(parts) > 2 else "/"
        status, headers, body = self.change(scope["method"], vendor_path, start["status"],
                                            headers, body)
        headers["content-length"] = str(len(body))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": body})


class Switch:
    """One drifted upstream for a whole module (`Drifted(app, switch)`), its change set per
    test: none, the unmodified mockserver."""

    def __init__(self) -> None:
        self.change: Change | None = None

    def __call__(self, method, path, status, headers, body):
        if self.change is None:
            return status, headers, body
        return self.change(method, path, status, headers, body)

    @contextmanager
    def serving(self, change: Change) -> Iterator[None]:
        self.change = change
        try:
            yield
        finally:
            self.change = None


async def no_sleep(seconds: float) -> None:
    """The verify runner's politeness waits, not slept: the upstream is local (the runner's own
    tests check what it asked for)."""


def json_change(when: Callable[[str, str, int], bool],
                edit: Callable[[Any], Any]) -> Change:
    """A change of the JSON body of the answers `when(method, path, status)` picks."""
    def change(method, path, status, headers, body):
        if when(method, path, status) and body:
            body = json.dumps(edit(json.loads(body))).encode()
        return status, headers, body
    return change
