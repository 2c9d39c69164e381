"""One app per test module, restored between examples, that checks every answer it gets."""
from __future__ import annotations

import base64
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx
from starlette.routing import Mount
from starlette.routing import Route as StarletteRoute

from mockserver import Clock, create_app

from ..conftest import CONTRACTS, DOC_TIME, MockClient, restore_pristine, vendor_of
from .material import GENERIC_QUERY, enc

_NO_BODY = type("NoRoute", (), {"request": None})()
PARAM = re.compile(r"\{[^}]+\}")  # a path template's parameter


@dataclass
class Req:
    method: str
    url: str                      # path + query, already percent-encoded as sent
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    host_vendor: str | None = None  # routed by a real vendor Host header, without a prefix


class Harness:
    """One app for a test, restored to its fixtures between examples (cheap: ~2 ms)."""

    def __init__(self) -> None:
        self.app = create_app(seed=0, clock=Clock(DOC_TIME))
        # Webhooks a fuzzed connection might fire must not hold a test for seconds.
        self.app.webhooks.timeout = self.app.webhooks.wait_budget = 0.2
        self.client = MockClient(self.app)
        self.vendor_routes = [(name, r.methods, r.path) for name, vapp in self.app.apps.items()
                              for r in vapp.router.routes]
        # Routes that read a body (a request contract names it) have more to get wrong.
        self.body_routes = [(name, methods, path) for name, methods, path in self.vendor_routes
                            if any((CONTRACTS.route(name, m, path) or _NO_BODY).request
                                   for m in methods)] or self.vendor_routes
        self.admin_routes = list(_admin_routes(self.app.admin))
        # Calls that change something or name a record: where refusing must change nothing.
        self.admin_writes = [(m, p) for m, p in self.admin_routes
                             if "{" in p or set(m) - {"GET", "HEAD"}]
        self.hints = {name: _hints(name) for name in self.app.vendors}
        self.restore()

    def restore(self) -> None:
        app = self.app
        restore_pristine(app)
        self.valid = {name: self._valid_headers(name) for name in app.vendors}
        snapshot = self.snapshot()
        if getattr(self, "pristine", None) != snapshot:  # else what it was made from is kept
            state = snapshot["tenants"]
            self.candidates = sorted(_strings(state))
            self.first_records = _records(state)
            self.by_key = _by_key(state)
            # Identifier-like strings (statuses, slugs, resource names): what DTO fields hold.
            self.words = sorted(s for s in self.candidates if re.fullmatch(r"[A-Za-z_-]+", s))
        self.records = self.first_records
        self.new_records: list[list[str]] = []  # records requests made, in this example
        self.pristine = self._last = snapshot

    def _valid_headers(self, vendor: str) -> list[dict[str, str]]:
        """The vendor's hint, else guesses from its default credentials (see `_guesses`)."""
        hint = getattr(self.hints[vendor], "valid_headers", None)
        return list(hint(self.client)) if hint else self._guesses(vendor)

    def _guesses(self, vendor: str) -> list[dict[str, str]]:
        """The default credentials in the usual schemes: valid for some vendors, for the others
        near misses (a right secret in a wrong place)."""
        creds = list(self.app.vendors[vendor].default_credentials.values())
        found = [{"Authorization": "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()}
                 for u, p in zip(creds, creds[1:])]
        return found + [{"Authorization": f"{scheme} {v}"} for v in creds
                        for scheme in ("Bearer", "Publishable")]

    def query_names(self, vendor: str, path: str) -> list[str]:
        hints = self.hints[vendor]
        if hasattr(hints, "query_names"):
            return list(hints.query_names(path))
        return list(getattr(hints, "QUERY_NAMES", ())) + GENERIC_QUERY

    def snapshot(self, only: str | None = None, last: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
        """The clock and every store of every tenant. `only`: after a request to that vendor,
        whose service holds that vendor's stores alone, the other vendors' parts are taken
        from `last`, the snapshot before it (Gravy's part is most of a snapshot's cost, and
        the harness takes one after every request)."""
        clock = self.app.clock.describe()
        if clock["mode"] == "real":
            del clock["now"]  # real time moves on by itself; the offset is the state
        parts = last["tenants"] if only and last else {}
        if set(parts) != {t.id for t in self.app.tenants}:
            only = None
        return {"clock": clock,
                "tenants": {t.id: {name: vendor.snapshot(t.stores[name])
                                   if only in (None, name) else parts[t.id][name]
                                   for name, vendor in self.app.vendors.items()}
                            for t in self.app.tenants}}

    def _routed_to(self, req: Req) -> str | None:
        """The vendor a request reaches for certain: by its real Host, or by its prefix when it
        names no Host of its own; None when in doubt (an admin call, an odd spelling)."""
        if req.host_vendor:
            return req.host_vendor
        if any(k.lower() == b"host" for k, _ in req.headers):
            return None
        path = req.url.split("?", 1)[0]
        if not path.startswith("/") or any(c in path for c in ("/.", "%", "\\")):
            return None  # a dot segment or an escape may lead elsewhere once normalised
        first = path.split("/", 2)[1]
        return first if first in self.app.vendors else None

    def fresh(self) -> None:
        """Back to the fixtures when an earlier example changed anything."""
        if self.state() != self.pristine:
            self.restore()

    def state(self) -> dict[str, Any]:
        """The snapshot after the last request: only requests change the state, so each request
        costs one snapshot. Code that changes the state directly calls `settle()`."""
        if self._last is None:
            self._last = self.snapshot()
        return self._last

    def settle(self) -> None:
        self._last = None

    def send(self, req: Req) -> httpx.Response:
        before = self.state()
        self._last = None
        response = self.client.request(req.method, req.url, headers=req.headers,
                                       content=req.body, check=False)
        where = f"{req.method} {req.url[:200]!r} body={req.body[:200]!r} " \
                f"headers={[(k, v[:80]) for k, v in req.headers]!r}"
        assert response.status_code < 500, \
            f"{where} -> {response.status_code} {response.text[:300]}"
        self._check_shape(req, response, where)
        self._last = after = self.snapshot(self._routed_to(req), before)
        if response.status_code >= 400:
            assert after == before, f"{where} was rejected but changed state"
        elif after != before:  # later requests of a sequence reach what this one made
            self.records = _records(after["tenants"])
            self.new_records = [r for r in self.records if r not in self.first_records]
        return response

    def _check_shape(self, req: Req, response: httpx.Response, where: str) -> None:
        if req.method.upper() == "HEAD" or response.status_code in (204, 304):
            return
        if 300 <= response.status_code < 400 and "location" in response.headers:
            return  # a redirect (an OAuth authorize answer) carries no body to check
        url = response.request.url  # as sent: the client may have normalised "/../"
        routed = (req.host_vendor, url.path) if req.host_vendor else vendor_of(url, self.app)
        ctype = response.headers.get("content-type", "")
        if routed is not None and CONTRACTS.expects_no_body(
                routed[0], response.request.method, routed[1], response.status_code):
            assert not response.content, f"{where} -> a body where none is sent"
            return
        if routed is None and "text/html" in ctype:
            return  # the sandbox page
        assert ctype.startswith("application/json"), f"{where} -> non-JSON {ctype!r}"
        body = strict_json(response.content)
        if req.host_vendor:  # the client finds its vendor by prefix only
            CONTRACTS.check_response(req.host_vendor, response.request.method, url.path,
                                     response.status_code, body)
        elif routed is not None:
            self.client._check(response)  # the response contract, and an accepted body's
        elif response.status_code >= 400:
            assert isinstance(body, dict) and isinstance(body.get("error"), str), \
                f"{where} -> {body!r}"
            if url.path.startswith("/__admin"):
                # A refused state import also lists each problem: {"error", "details"}.
                shapes = (["error"], ["error", "details"]) if url.path == "/__admin/state" \
                    else (["error"],)
                assert list(body) in shapes, f"{where} -> {body!r}"

    def journal_renders(self) -> None:
        for url in ("/__admin/requests?limit=100000", "/__admin/requests?summary=1",
                    "/__admin/", "/__admin"):
            r = self.client.get(url)
            assert r.status_code == 200, f"{url} -> {r.status_code} {r.text[:300]}"
            if "json" in r.headers["content-type"]:
                strict_json(r.content)

    def close(self) -> None:
        self.client.close()


def strict_json(raw: bytes) -> Any:
    """JSON.parse: UTF-8 only, no NaN/Infinity."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")
    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def _admin_routes(admin) -> Iterator[tuple[tuple[str, ...], str]]:
    app = getattr(admin, "app", admin)  # through the token guard, when there is one
    for r in app.routes:
        if isinstance(r, Mount):
            for sub in r.routes:
                yield tuple(sorted(sub.methods or ())), r.path + sub.path
        elif isinstance(r, StarletteRoute):
            yield tuple(sorted(r.methods or ())), r.path


def _hints(vendor: str) -> Any:
    name = f"tests.{vendor}.hostile"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (name, f"tests.{vendor}"):
            raise  # a hint module that is there but broken must say so
        return None


def _strings(obj: Any) -> set[str]:
    """Every short string in the state (ids, slugs, statuses, resource names): the values that
    reach past a 404 into deeper validation."""
    out: set[str] = set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
        elif isinstance(o, str) and 0 < len(o) <= 64 and not o.startswith(("http:", "https:")):
            out.add(o)
    return out


def _by_key(obj: Any) -> dict[str, list[str]]:
    """Each key of the state and the short strings held under it."""
    out: dict[str, set[str]] = {}
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                if isinstance(v, str) and 0 < len(v) <= 64 and not v.startswith("http"):
                    out.setdefault(k, set()).add(v)
                else:
                    stack.append(v)
        elif isinstance(o, list):
            stack.extend(o)
    return {k: sorted(v) for k, v in out.items()}


def _records(obj: Any) -> list[list[str]]:
    """The strings of each record of a state snapshot (a dict with an "id"), so a path is
    filled with values that belong together: a connection's id and one of its resource types."""
    out: list[list[str]] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            if isinstance(o.get("id"), str):
                out.append([o["id"]] + sorted(_strings(o) - {o["id"]}))
            stack.extend(o.values())
        elif isinstance(o, list):
            stack.extend(o)
    return sorted(out)


# -- what the sweeps and the explicit examples send -----------------------------------------
def query_targets(h: Harness) -> list[tuple[str, str, list[str], list[tuple[bytes, bytes]]]]:
    """(vendor, path, query names, auth): one GET path per distinct query DTO, one with data
    behind it where the state has any (so filters run, not only validation)."""
    found: dict[tuple[str, ...], tuple] = {}
    for vendor, methods, template in h.vendor_routes:
        if "GET" not in methods:
            continue
        auth = [(k.lower().encode(), v.encode()) for k, v in h.valid[vendor][0].items()]
        for record in sorted(h.records, key=len, reverse=True)[:3]:
            for path in fills(template, record):
                names = tuple(h.query_names(vendor, path))
                if names in found and found[names][4]:
                    continue
                ok = h.send(Req("GET", f"/{vendor}{path}", auth)).status_code == 200
                if names not in found or ok:
                    found[names] = (vendor, path, list(names), auth, ok)
    return [t[:4] for t in found.values()]


def small(name: str) -> str:
    return "" if name in ("limit", "page") else "&limit=1"  # one item a page: cheap to check


def fills(template: str, record: list[str]) -> Iterator[str]:
    """The template with its first parameter the record's id and the others each of its
    identifier-like strings (a resource type, a status: not its timestamps)."""
    names = PARAM.findall(template)
    if not names:
        yield template
        return
    path = template.replace(names[0], enc(record[0]), 1)
    if len(names) == 1:
        yield path
        return
    for value in record[1:]:
        if re.fullmatch(r"[A-Za-z_-]+", value):
            yield PARAM.sub(enc(value), path)


def gravy(h: Harness, method: str, url: str, auth: str = "valid", **kw: Any) -> httpx.Response:
    """A Gravy call, with its main valid credential unless `auth` is not "valid"."""
    headers = dict(h.valid["gravy"][0]) if auth == "valid" else {}
    headers.update(kw.pop("headers", {}))
    return h.send(Req(method, "/gravy" + url, list((k.lower().encode(), v if isinstance(v, bytes)
                                                    else v.encode()) for k, v in headers.items()),
                      kw.pop("body", b"")))
