"""Connection.Updated webhooks, signed as Passage signs them; the core delivers them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...core.http import dump
from ...core.webhooks import Outbound

if TYPE_CHECKING:
    from ...core.vendor import Context
    from .auth import GravyAuth
    from .store import Connection


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


def connection_updated(ctx: "Context", auth: "GravyAuth", conn: "Connection",
                       base: str) -> Outbound:
    """The webhook for `conn`'s current state, to its webhookUrl."""
    body = dump(event(ctx, conn, base))
    return Outbound(conn.webhookUrl or "", body, {
        "Content-Type": "application/json", "User-Agent": "Passage-Webhooks/1.0",
        "X-Passage-Signature": auth.sign(body),
        "X-Passage-Timestamp": str(int(ctx.clock.time()))})
