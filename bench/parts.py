"""A call's parts taken out, to measure what the rest of it costs under load.

    .venv/bin/python bench/run.py --endpoints passage-create-link --mock-part passage-no-link

serves the mock with the named variant (`apply`), against bare Starlette as usual. Each variant
swaps one route's handler for a reduced one that still answers the same status, headers and
bytes (its first answer is the real one, which the bare server copies), so the run's checks
hold. bench/README.md ("Passage create: the floor") has what each measured. The reduced
handlers are the real one's first lines, in its order: each variant adds one step to the one
before.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

CREATE = ("passage", "POST", "/v1/links")


def _swap(app: Any, route: tuple[str, str, str],
          make: Callable[[Any, Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]
          ) -> None:
    """Serve `route` (vendor, method, path: a literal route) with `make(service, real)`."""
    vendor, method, path = route
    router = app.apps[vendor].router
    real = router._literal[(method, path)]  # the vendor's Router; a literal path: one dict entry
    router._literal[(method, path)] = make(app.vendors[vendor].service, real)
    router._seen.clear()  # resolved endpoints it remembers


def _create(steps: int) -> Callable[[Any], None]:
    """The Passage create with its first `steps` steps: 0 reads the body only; 1 checks the key
    and the (remembered) body; 2 mints the two ids and reads the clock; 3 renders the answer
    from them. No variant keeps a link; steps 0-2 answer the first answer again."""
    from mockserver.core.http import RawJSON, read_limited
    from mockserver.vendors.passage import handlers as h
    from mockserver.vendors.passage import links

    def make(g: Any, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        first: list[bytes] = []

        async def create(request: Any) -> Any:
            if not first:  # the real answer once: the bare server's template
                answer = await real(request)
                first.append(answer.body)
                return answer
            if steps == 0:
                await read_limited(request, h.BODY_LIMIT)
                return RawJSON(first[0], 201)
            g.auth.require(request)
            data = h._create_data(g, await h._raw(request))
            if steps == 1:
                return RawJSON(first[0], 201)
            now = g.now()
            link_id, code = links.mint(g.ctx)
            if steps == 2:
                return RawJSON(first[0], 201)
            shown = _Shown(link_id, code, now, now + data["ttl"] * 1000)
            return RawJSON(links.created(shown, data["answer"]), 201)

        return create

    return lambda app: _swap(app, CREATE, make)


class _Shown:
    """What `links.created` reads of a link, with no link kept (the bench body has no
    returnUrl)."""

    __slots__ = ("id", "claim_code", "created_at", "expires_at", "return_url")

    def __init__(self, link_id: str, code: str, created: int, expires: int) -> None:
        self.id, self.claim_code = link_id, code
        self.created_at, self.expires_at, self.return_url = created, expires, None


def _journal_off(app: Any) -> None:
    app.journal.enabled = False


PARTS: dict[str, Callable[[Any], None]] = {
    "passage-body-only": _create(0),
    "passage-key-body": _create(1),
    "passage-ids": _create(2),
    "passage-no-link": _create(3),
    "journal-off": _journal_off,
}


def apply(app: Any, name: str) -> None:
    """Serve `app` (a MockServer) with the variant `name` of PARTS."""
    PARTS[name](app)
