"""Connection.Updated webhooks: signed like Passage signs them, delivered without ever failing the mock."""
from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...core.http import dump
from ...core.journal import Call

if TYPE_CHECKING:
    from .auth import GravyAuth
    from .store import Connection
    from ...core.vendor import Context

DELIVERY_TIMEOUT = 5.0


def event(ctx: "Context", conn: "Connection", base: str) -> dict[str, Any]:
    return {
        "id": "evt_" + "".join(ctx.rng.choice("0123456789abcdef") for _ in range(24)),
        "timestamp": ctx.clock.iso(), "type": "Connection.Updated",
        "data": {"connectionId": conn.id, "status": conn.status,
                 "resources": [{k: v for k, v in r.to_json(base, conn.id).items()
                                if k in ("type", "url", "status", "operation", "startedAt",
                                         "completedAt")}
                               for r in conn.resources]},
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, bytes, str | None]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=DELIVERY_TIMEOUT) as resp:
            return resp.status, resp.read(65536), None
    except urllib.error.HTTPError as exc:  # the receiver answered, with an error status
        return exc.code, exc.read(65536), None
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, never raised
        return None, b"", f"{type(exc).__name__}: {exc}"


async def deliver(ctx: "Context", auth: "GravyAuth", tenant: str, conn: "Connection",
                  base: str) -> Call:
    """POST one Connection.Updated for `conn`'s current state; the journal gets the outcome."""
    body = dump(event(ctx, conn, base))
    headers = {"Content-Type": "application/json", "User-Agent": "Passage-Webhooks/1.0",
               "X-Passage-Signature": auth.sign(body),
               "X-Passage-Timestamp": str(int(ctx.clock.time()))}
    url = conn.webhookUrl or ""
    started = perf_counter()
    if urlsplit(url).scheme in ("http", "https"):
        status, answer, error = await asyncio.to_thread(_post, url, body, headers)
    else:
        status, answer, error = None, b"", f"not an http(s) URL: {url!r}"
    call = Call(id=ctx.journal.next_id(), at=ctx.clock.time(), vendor="gravy", kind="webhook",
                method="POST", path=urlsplit(url).path or "/", url=url, status=status,
                tenant=tenant, duration_ms=(perf_counter() - started) * 1000.0,
                raw_headers=[(k.lower().encode(), v.encode()) for k, v in headers.items()],
                raw_body=body, response_body=answer, error=error)
    ctx.journal.record(call)
    return call
