"""Bad input never yields a 500 and never changes state: it gets the vendor's error (SPEC §5.4).

Generic over vendors. Every route of every vendor app (`app.apps[name].router.routes`) and every
/__admin route (the core's and each vendor's mounted ones) is sent hostile paths, query strings,
bodies, credentials and headers, unauthenticated and with a valid credential of the default tenant.
Every answer must be below 500 and strict JSON; a vendor's 4xx must match its error contract
(contracts/<vendor>/, through the contract-checking MockClient); an admin 4xx is `{"error": str}`;
and a rejected request must leave the clock and every tenant's `Vendor.snapshot()` as they were.
The journal and the sandbox page must still render afterwards.

Four parts: hypothesis fuzzes (vendor routes, admin routes, mixed sequences, the clock);
deterministic sweeps (every date and number query parameter at its edges, every body property
with every wrong type, every route with the clock at either end of its range); explicit examples
of each class of bug found, so a regression names itself; and transport-level requests (raw ASGI
bytes, a live uvicorn).

A new vendor inherits all of this by implementing `snapshot()` on its store. What cannot be
guessed goes in the optional tests/<vendor>/hostile.py: `valid_headers(client)` (valid credentials
of the default tenant, the main one first), and `query_names(path)` or `QUERY_NAMES` (the query
parameters its DTOs declare, so every date filter meets the date edges).

`HOSTILE_SCALE=10` runs ten times the examples with a random seed (a longer local fuzz).
"""
from __future__ import annotations

import asyncio
import base64
import importlib
import itertools
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount
from starlette.routing import Route as StarletteRoute

from mockserver import Clock, create_app
from mockserver.core.clock import EARLIEST, LATEST, iso_ms

from .conftest import CONTRACTS, DOC_TIME, MockClient, restore_pristine, vendor_of

SCALE = int(os.environ.get("HOSTILE_SCALE", "1"))
FUZZ = settings(deadline=None, derandomize=SCALE == 1, database=None,
                suppress_health_check=list(HealthCheck))


def examples(n: int) -> settings:
    return settings(FUZZ, max_examples=n * SCALE)


# -- hostile material -----------------------------------------------------------------------
def enc(value: str) -> str:
    """Percent-encoded as a client would, lone surrogates as the invalid UTF-8 they become."""
    return quote(value, safe="", errors="surrogatepass")


def header_bytes(value: str) -> bytes:
    """What a client puts on the wire: UTF-8, lone surrogates as the invalid bytes they make."""
    return value.encode("utf-8", "surrogatepass")


def b64(value: bytes) -> bytes:
    return base64.b64encode(value)


LONG = "a" * 10_000
NASTY_TEXT = [
    "", " ", "é", "\u00e9\u0301", "日本", "\U0001d54f", "\x00", "\x01\x1f\x7f", "\r\n", "\t",
    "\ud800", "\udfff", "\ufeff", "\u202e", "\uffff", LONG, "%", "%zz", "%ff", "%00", "../..",
    "null", "true", "[]", "{}", "NaN", "Infinity", "-Infinity", "-0", "0", "1e308", "-1e308",
    "1e309", "9" * 400, "0x10", "0b1", "0o7", "' OR 1=1 --", "<script>", "${jndi:x}", "a" * 300,
    # URLs a client may register (webhookUrl, returnUrl) that fail locally, without DNS
    "http://[::1", "http://127.0.0.1:1/", "http://a b/", "http://%zz/", "http://\x00/", "ftp://x",
    "//x", "http:",
]
DATE_EDGES = [
    "0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:00", "0001-01-01T00:00+23:59",
    "0001-01-01T00:00-23:00", "0001", "0001-W01-1", "0001-001", "9999-12-31", "9999-12-31T23:59Z",
    "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.9999999999Z", "9999-12-31T23:59:59-23:00",
    "9999-12-31T12:00+23:59", "9999", "9999-12", "9999-W52-5", "9999-W53", "9999-365",
    "9999-366", "+009999-12-31", "-000001-01-01", "+275760-09-13", "10000-01-01", "0000-01-01",
    "2024-02-30", "2024-13-01", "2024-01-01T24:00", "2024-01-01T23:59:60", "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z", "2024-01-15T10:30:00.000Z",
]
NUMBER_EDGES = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e308", "-1e308", "1e309", "-0",
                "0", "-1", "1.5", "1e-400", "9007199254740993", "9" * 30, "9" * 5000, "0x",
                "0xffffffffffffffffffffffff", "0b1", "0o7", "1_000", " 1 ", "+1", "--1"]
RAW_SEGMENTS = ["%zz", "%", "%ff%fe", "%00", "%ed%a0%80", "%C0%AF", "%2F", "%2e%2e", "..",
                "%25", "a%20b", "%0d%0a", quote(LONG), "x" * 3000]
DEPTHS = [100, 256, 257, 500, 900, 990, 1000, 1010, 5000, 100_000]  # core.http.MAX_DEPTH: 256


def _deep_bodies() -> list[bytes]:
    out = []
    for n in DEPTHS:
        out += [b"[" * n, b"[" * n + b"]" * n, b'{"a":' * n, b'{"a":' * n + b"1" + b"}" * n]
    # Inside an object, as a value of a field a DTO reads.
    out += [b'{"grant_type":' + b"[" * 100_000, b'{"resources":' + b"[" * 990 + b"]" * 990 + b"}",
            b'{"tenant":' + b"[" * 1000 + b"]" * 1000 + b"}"]
    return out


DEEP_BODIES = _deep_bodies()
RAW_BODIES = DEEP_BODIES + [
    b"", b"   ", b"null", b"1", b'"x"', b"[]", b"[1,2]", b"true", b"\xff\xfe{}", b"\xef\xbb\xbf{}",
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}', b'{"a": -1e400}',
    b'{"a": 1' + b"0" * 5000 + b"}", b'{"a": "\\ud800"}', b'{"\\ud800": 1}', b'{"a": "\xff"}',
    b'{"a": 1,}', b"{'a': 1}", b'{"a": 1}{"b": 2}', b"{" + b'"k": 1,' * 20_000 + b'"z": 0}',
    b'{"k": "' + b"a" * 300_000 + b'"}', b"a=%zz&b=%&c=%ff&=&&d", b"\x00" * 64,
    b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
]
CONTENT_TYPES = [b"application/json", b"application/json; charset=utf-8",
                 b"application/x-www-form-urlencoded", b"text/plain", b"application/vnd.x+json",
                 b"multipart/form-data; boundary=x", b"application/json; charset=latin-1",
                 b"", b"\xff\xfe", b"APPLICATION/JSON"]
FIRST = iso_ms(datetime.fromtimestamp(EARLIEST, tz=timezone.utc))
LAST = iso_ms(datetime.fromtimestamp(LATEST - 1, tz=timezone.utc))
CLOCK_STARTS = [DOC_TIME, FIRST, "1970-01-01T00:00:01Z", LAST]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "get"]
CREDENTIAL_FIELDS = ["client_id", "client_secret", "clientId", "clientSecret", "grant_type",
                     "publishableKey", "token", "intentToken", "key_id", "tenant", "password"]
ADMIN_KEYS = ["advance", "set", "real", "tenant", "status", "failedResources", "id", "vendor",
              "method", "path", "body", "headers", "latency", "drop", "times"]  # + faults
ADMIN_QUERY = ["limit", "vendor", "method", "path", "status", "tenant", "kind", "summary",
               "token"]
GENERIC_QUERY = ["page", "limit", "sortBy", "sortOrder", "search", "from", "to", "startDate",
                 "endDate", "since", "until", "q", "id", "status", "createdAt", "updatedAt"]

text = st.one_of(
    st.sampled_from(NASTY_TEXT), st.text(max_size=12),
    st.text(st.characters(max_codepoint=0x1f), max_size=4),  # control characters
    # Lone surrogates: JSON.parse makes them of "\\ud800"; st.text never draws them.
    st.lists(st.integers(0xD800, 0xDFFF).map(chr) | st.characters(max_codepoint=0x7f),
             min_size=1, max_size=4).map("".join))
query_value = st.one_of(st.sampled_from(DATE_EDGES), st.sampled_from(NUMBER_EDGES),
                        text.map(enc),
                        st.sampled_from(["%zz", "%", "%ff", "%ed%a0%80", "a[b]=c", "&&", "="]))
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(),
    st.sampled_from([10 ** 400, -10 ** 400, 2 ** 53 + 1, 2 ** 64, -0.0, 1e308, -1e308]),
    st.floats(), text, st.sampled_from(DATE_EDGES))
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(text, c, max_size=3), max_leaves=6)


hostile_auth = st.one_of(
    st.tuples(st.just(b"authorization"), st.one_of(
        st.builds(lambda u, p: b"Basic " + b64(header_bytes(u) + b":" + header_bytes(p)),
                  text, text),
        st.builds(lambda t: b"Basic " + header_bytes(t), text),
        st.builds(lambda t: b"Bearer " + header_bytes(t), text),
        st.builds(lambda t: b"Publishable " + header_bytes(t), text),
        st.sampled_from([b"Basic", b"Bearer", b"Bearer  ", b"Basic \xff\xfe", b"Basic =",
                         b"Basic " + b64(b"\xff\xfe:\x00"), b"Basic " + b64(b"no-colon"),
                         b"Bearer a.b.c", b"Bearer eyJhbGciOiJub25lIn0.e30.",
                         b"Bearer " + b"x" * 20_000, b"Digest x", b"\x00",
                         b"basic " + b64(b":")]))),
    st.tuples(st.just(b"x-intent-token"), st.one_of(
        text.map(header_bytes),
        st.sampled_from([b"a.b.c", b"eyJhbGciOiJIUzI1NiJ9.e30.x", b"\xff\x00", b"." * 5000]))),
)


_NO_BODY = type("NoRoute", (), {"request": None})()


# -- the harness ----------------------------------------------------------------------------
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
        state = self.snapshot()["tenants"]
        self.candidates = sorted(_strings(state))
        self.records = self.first_records = _records(state)
        self.by_key = _by_key(state)
        self.new_records: list[list[str]] = []  # records requests made, in this example
        self._last: dict[str, Any] | None = None
        # Identifier-like strings (statuses, slugs, resource names): what DTO fields hold.
        self.words = sorted(s for s in self.candidates if re.fullmatch(r"[A-Za-z_-]+", s))
        self.pristine = self._last = self.snapshot()

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

    def snapshot(self) -> dict[str, Any]:
        clock = self.app.clock.describe()
        if clock["mode"] == "real":
            del clock["now"]  # real time moves on by itself; the offset is the state
        return {"clock": clock,
                "tenants": {t.id: {name: vendor.snapshot(t.stores[name])
                                   for name, vendor in self.app.vendors.items()}
                            for t in self.app.tenants}}

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
        self._last = after = self.snapshot()
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


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


# -- strategies -----------------------------------------------------------------------------
_PARAM = re.compile(r"\{[^}]+\}")


def segment(h: Harness) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(h.candidates).map(enc),
                     text.map(lambda s: enc(s) or "x"),
                     st.sampled_from(RAW_SEGMENTS))


@st.composite
def fill(draw, h: Harness, template: str) -> str:
    """Mostly values of one record (past the 404, into validation), else hostile ids."""
    names = _PARAM.findall(template)
    if names and draw(st.integers(0, 2)):
        record = draw(st.sampled_from(h.new_records) if h.new_records and draw(st.booleans())
                      else st.sampled_from(h.records))
        path = template.replace(names[0], enc(record[0]), 1)
        return _PARAM.sub(lambda _: enc(draw(st.sampled_from(record))), path)
    return _PARAM.sub(lambda _: draw(segment(h)), template)


@st.composite
def query_string(draw, names: list[str]) -> str:
    size = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 5]))
    name = st.sampled_from(names) if not draw(st.integers(0, 4)) else \
        st.sampled_from(names) | text.map(enc)
    pairs = draw(st.lists(st.tuples(name, query_value), min_size=size, max_size=size))
    if pairs and draw(st.booleans()):
        pairs.append(draw(st.sampled_from(pairs)))  # a repeated parameter
    return "&".join(f"{k}={v}" for k, v in pairs)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


# One property's hostile value, the others valid: validation gets past the rest to it.
hostile_value = st.one_of(json_value, st.sampled_from(NASTY_TEXT), st.sampled_from(DATE_EDGES),
                          st.sampled_from([nested(50), nested(255), nested(256), nested(300),
                                           {"a": nested(255)}, [[]] * 1000, "x" * 100_000]))


def state_value(h: Harness, name: str | None) -> st.SearchStrategy[str]:
    """A string from the state: mostly one held under this very name (an integrationId for
    "integrationId", a status for "status"), so lookups succeed and deeper code runs."""
    known = h.by_key.get(name or "")
    words = st.sampled_from(h.words) | st.sampled_from(h.candidates)
    return st.sampled_from(known) | st.sampled_from(known) | words if known else words


def _schema_value(schema: dict, h: Harness, name: str | None = None) -> st.SearchStrategy[Any]:
    """A valid value of the schema's type, strings from the state."""
    kind = schema.get("type")
    if kind == "string":
        return state_value(h, name)
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        return st.integers(1, 100)
    if kind == "array":
        return st.lists(_schema_value(schema.get("items", {}), h), max_size=2)
    if kind == "object":
        props = schema.get("properties", {})
        return st.fixed_dictionaries({k: _schema_value(v, h, k) for k, v in props.items()
                                      if k in schema.get("required", ())})
    return json_value


@st.composite
def json_body(draw, h: Harness, vendor: str | None, method: str, vpath: str,
              keys: list[str]) -> bytes:
    """A near-valid object (from the request contract) with hostile values and keys."""
    route = CONTRACTS.route(vendor, method, vpath) if vendor else None
    schema = CONTRACTS.validator(vendor, route.request).schema if route and route.request \
        else None
    props: dict[str, Any] = (schema or {}).get("properties", {})
    obj: dict[str, Any] = {}
    required = set((schema or {}).get("required", ()))
    for name, sub in props.items():  # mostly complete, so most bodies pass validation
        if draw(st.integers(0, 9 if name in required else 1)):
            obj[name] = draw(_schema_value(sub, h, name))
    if props and draw(st.booleans()):
        obj[draw(st.sampled_from(sorted(props)))] = draw(hostile_value)
    names = list(props) + keys
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        name = draw(st.sampled_from(names) | text)
        obj[name] = draw(hostile_value | state_value(h, name))
    ascii_only = draw(st.booleans())
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def form_body(draw, keys: list[str]) -> bytes:
    pairs = draw(st.lists(st.tuples(st.sampled_from(keys) | text,
                                    text | st.sampled_from(DATE_EDGES)), max_size=4))
    raw = urlencode([(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                     for k, v in pairs]).encode()
    if draw(st.booleans()):
        raw += b"&" + draw(st.sampled_from([b"%zz", b"%", b"a=%ff%fe", b"=&=", b"a=%00",
                                            b"client_secret=%C3%A9", b"grant_type=%ed%a0%80"]))
    return raw


@st.composite
def body(draw, h: Harness, vendor: str | None, method: str, vpath: str, keys: list[str]):
    kind = draw(st.sampled_from(["none", "json", "json", "form", "raw"]))
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    if kind == "none":
        return b"", (draw(st.sampled_from([None, b"application/json"])))
    if kind == "json":
        right = draw(st.integers(0, 3))  # mostly the content type the body really is
        return draw(json_body(h, vendor, method, vpath, keys)), \
            (b"application/json" if right else ctype)
    if kind == "form":
        right = draw(st.integers(0, 3))
        return draw(form_body(keys)), (b"application/x-www-form-urlencoded" if right else ctype)
    return draw(st.sampled_from(RAW_BODIES)), ctype


@st.composite
def vendor_request(draw, h: Harness) -> Req:
    vendor, methods, template = draw(st.sampled_from(h.vendor_routes)
                                     | st.sampled_from(h.body_routes))
    method = draw(st.sampled_from(methods)) if draw(st.integers(0, 5)) else \
        draw(st.sampled_from(METHODS))
    vpath = draw(fill(h, template))
    if draw(st.integers(0, 6)) == 0:
        vpath = vpath.upper() if draw(st.booleans()) else vpath + "/"
    qs = draw(query_string(h.query_names(vendor, vpath)))
    headers: list[tuple[bytes, bytes]] = []
    auth = draw(st.sampled_from(["none", "valid", "valid", "valid", "hostile", "guess"]))
    if auth in ("valid", "guess"):
        pool = h.valid[vendor] if auth == "valid" else h._guesses(vendor)
        # The first is the vendor's main credential: most calls take it.
        pick = st.sampled_from(pool[:1]) | st.sampled_from(pool[:1]) | st.sampled_from(pool)
        headers += [(k.lower().encode(), v.encode()) for k, v in draw(pick).items()]
    elif auth == "hostile":
        headers += draw(st.lists(hostile_auth, min_size=1, max_size=2))
    keys = CREDENTIAL_FIELDS + h.query_names(vendor, vpath)
    payload, ctype = draw(body(h, vendor, method, vpath, keys))
    if ctype is not None:
        headers.append((b"content-type", ctype))
    prefix = f"/{vendor}"
    host = draw(st.integers(0, 9))
    vendor_hosts = h.app.vendors[vendor].hosts
    if host == 0 and vendor_hosts:  # the real host, any case, any port: no prefix
        name = draw(st.sampled_from(vendor_hosts))
        headers.append((b"host", draw(st.sampled_from([name.upper(), name + ":443",
                                                       name.title() + ":8080"])).encode()))
        prefix = ""
    elif host == 1:
        headers.append((b"host", draw(st.sampled_from([b"\xff", b"[", b"", b"a b", b"x:y:z",
                                                       b"MOCK.TEST:99999", b"x" * 5000]))))
    url = prefix + vpath + ("?" + qs if qs else "")
    return Req(method, url, headers, payload, vendor if not prefix else None)


@st.composite
def admin_request(draw, h: Harness) -> Req:
    methods, template = draw(st.sampled_from(h.admin_routes) | st.sampled_from(h.admin_writes))
    method = draw(st.sampled_from(methods)) if draw(st.integers(0, 5)) else \
        draw(st.sampled_from(METHODS))
    path = draw(fill(h, template))
    qs = draw(query_string(ADMIN_QUERY))
    keys = ADMIN_KEYS + CREDENTIAL_FIELDS
    kind = draw(st.integers(0, 3))
    if kind < 2:  # a near-valid object: the keys admin calls read, values from the state
        def value(key: str) -> st.SearchStrategy[Any]:
            return st.one_of(state_value(h, key), state_value(h, key), hostile_value,
                             st.sampled_from(DATE_EDGES + CLOCK_STARTS),
                             st.sampled_from([60, 3600, 86400 * 366, -86400, 1e308, 10 ** 400]),
                             st.lists(state_value(h, "type"), max_size=3))
        names = st.sampled_from(ADMIN_KEYS) if draw(st.integers(0, 3)) else st.sampled_from(keys)
        obj = {k: draw(value(k)) for k in draw(st.lists(names, max_size=3))}
        payload = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
        ctype: bytes | None = b"application/json"
    else:
        payload, ctype = draw(body(h, None, method, path, keys))
    headers = [(b"content-type", ctype)] if ctype is not None else []
    if draw(st.integers(0, 9)) == 0:
        headers.append((b"host", draw(st.sampled_from([b"\xff", b"[", b"A.B:1", b"x" * 5000]))))
    return Req(method, path + ("?" + qs if qs else ""), headers, payload)


# -- the fuzz -------------------------------------------------------------------------------
def test_vendor_routes_answer_hostile_input_with_their_own_errors(harness):
    """Every vendor route; the journal and the sandbox page render every body afterwards."""
    @examples(700)
    @given(st.data())
    def run(data):
        harness.fresh()
        harness.send(data.draw(vendor_request(harness)))

    run()
    harness.journal_renders()


def test_admin_routes_refuse_hostile_input_and_change_nothing(harness):
    @examples(500)
    @given(st.data())
    def run(data):
        harness.fresh()
        harness.send(data.draw(admin_request(harness)))

    run()
    harness.journal_renders()


def test_hostile_sequences_across_admin_and_vendors(harness):
    """State reached through the control plane (a clock at its edges, moved connections) meets
    hostile and valid vendor requests."""
    @examples(120)
    @given(st.data())
    def run(data):
        harness.fresh()
        for _ in range(data.draw(st.integers(1, 5))):
            harness.send(data.draw(st.one_of(admin_request(harness), vendor_request(harness))))

    run()
    harness.journal_renders()


clock_value = st.one_of(
    json_value, st.floats(), st.sampled_from([10 ** 400, -10 ** 400, 1e308, -1e308, True, False]),
    st.sampled_from(DATE_EDGES), st.integers())


def test_clock_refuses_anything_but_a_sane_instant(harness):
    @examples(200)
    @given(st.sampled_from(CLOCK_STARTS + ["real"]),
           st.dictionaries(st.sampled_from(["advance", "set", "real", "tenant"]), clock_value,
                           max_size=2) | st.sampled_from(RAW_BODIES))
    def run(start, payload):
        harness.fresh()
        clock = harness.app.clock
        if start == "real":
            clock.real()
        else:
            clock.set(start)
        harness.settle()
        raw = payload if isinstance(payload, bytes) else \
            json.dumps(payload).encode("utf-8", "surrogatepass")
        before = harness.snapshot()
        r = harness.send(Req("POST", "/__admin/clock", [(b"content-type", b"application/json")],
                             raw))
        if r.status_code == 200:
            assert EARLIEST <= clock.time() < LATEST
        else:
            assert r.status_code == 400 and harness.snapshot() == before

    run()


# -- sweeps: every parameter, every property, every route at the clock's edges ------------
@pytest.fixture
def h(harness) -> Harness:
    harness.restore()
    harness.app.journal.clear()  # each test renders its own requests, not every earlier one
    return harness


_DATE_NAME = re.compile(r"(?i).*(date|from|to|start|end|since|until|before|after|at)")


def _query_targets(h: Harness) -> list[tuple[str, str, list[str], list[tuple[bytes, bytes]]]]:
    """(vendor, path, query names, auth): one GET path per distinct query DTO, one with data
    behind it where the state has any (so filters run, not only validation)."""
    found: dict[tuple[str, ...], tuple] = {}
    for vendor, methods, template in h.vendor_routes:
        if "GET" not in methods:
            continue
        auth = [(k.lower().encode(), v.encode()) for k, v in h.valid[vendor][0].items()]
        for record in sorted(h.records, key=len, reverse=True)[:3]:
            for path in _fills(template, record):
                names = tuple(h.query_names(vendor, path))
                if names in found and found[names][4]:
                    continue
                ok = h.send(Req("GET", f"/{vendor}{path}", auth)).status_code == 200
                if names not in found or ok:
                    found[names] = (vendor, path, list(names), auth, ok)
    return [t[:4] for t in found.values()]


def _small(name: str) -> str:
    return "" if name in ("limit", "page") else "&limit=1"  # one item a page: cheap to check


def test_every_date_parameter_at_and_past_the_range_edges(h):
    """Each date-looking query parameter, on a path with data, with every edge date: past
    validation into the filter itself, where an unrepresentable bound would raise."""
    filtered = 0
    for vendor, path, names, auth in _query_targets(h):
        for name in filter(_DATE_NAME.fullmatch, names):
            for edge in DATE_EDGES:
                r = h.send(Req("GET", f"/{vendor}{path}?{name}={enc(edge)}{_small(name)}", auth))
                filtered += r.status_code == 200
    assert filtered > 100  # the filters really ran


def test_every_query_parameter_meets_the_number_edges(h):
    """Each query parameter with NaN, ±1e308, -0, huge and hex integers; and repeated."""
    for vendor, path, names, auth in _query_targets(h):
        for name in names:
            for value in ("NaN", "Infinity", "1e308", "-1e308", "1e309", "-0", "9" * 30,
                          "9" * 5000, "0x10", "1.5"):
                h.send(Req("GET", f"/{vendor}{path}?{name}={enc(value)}{_small(name)}", auth))
            h.send(Req("GET", f"/{vendor}{path}?{name}=1&{name}=NaN&{name}=", auth))


WRONG_TYPES = [None, True, 0, -1, 1.5, 10 ** 400, float("nan"), float("inf"), "", "\ud800",
               "\x00", "x" * 100_000, [], ["a", 1, None], {}, {"a": {"b": []}}, nested(255),
               nested(300), "http://[::1", "9999-366"]


def _base(schema: dict, h: Harness, name: str | None = None) -> Any:
    """A valid instance of a request schema, its strings the state's first under that key."""
    kind = schema.get("type")
    if kind == "string":
        return (h.by_key.get(name or "") or ["x"])[0]
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return 1
    if kind == "array":
        return []
    return {k: _base(v, h, k) for k, v in schema.get("properties", {}).items()
            if k in schema.get("required", ())}


def test_every_body_property_with_every_wrong_type(h):
    """Each property of each request contract in turn holds each hostile value while the rest
    of the body is valid, so the value meets whatever the handler does with it."""
    for vendor, methods, template in h.body_routes:
        for method in methods:
            route = CONTRACTS.route(vendor, method, template)
            if route is None or route.request is None:
                continue
            schema = CONTRACTS.validator(vendor, route.request).schema
            auth = [(k.lower().encode(), v.encode()) for k, v in h.valid[vendor][0].items()]
            headers = auth + [(b"content-type", b"application/json")]
            for prop, value in itertools.product(schema.get("properties", {}), WRONG_TYPES):
                body = {**_base(schema, h), prop: value}
                h.send(Req(method, f"/{vendor}{next(_fills(template, h.records[0]))}", headers,
                           json.dumps(body).encode("utf-8", "surrogatepass")))
    h.journal_renders()


def _fills(template: str, record: list[str]) -> Iterator[str]:
    """The template with its first parameter the record's id and the others each of its
    identifier-like strings (a resource type, a status: not its timestamps)."""
    names = _PARAM.findall(template)
    if not names:
        yield template
        return
    path = template.replace(names[0], enc(record[0]), 1)
    if len(names) == 1:
        yield path
        return
    for value in record[1:]:
        if re.fullmatch(r"[A-Za-z_-]+", value):
            yield _PARAM.sub(enc(value), path)


@pytest.mark.parametrize("at", [FIRST, LAST])
def test_every_vendor_call_works_with_the_clock_at_its_edges(h, at):
    """Expiries, generated data and webhooks computed from "now" stay representable: every route
    is called with valid credentials for records of the state, before and after each record is
    moved (through the vendor's admin calls) to every status the state names, with the clock at
    either end of its range."""
    h.app.clock.set(at)
    h.valid = {name: h._valid_headers(name) for name in h.app.vendors}  # live at this instant
    h.settle()
    records = sorted(h.records, key=len, reverse=True)[:3]  # the richest: most resources

    def read(record: list[str]) -> None:
        for vendor, methods, template in h.vendor_routes:
            auth = [(k.lower().encode(), v.encode()) for k, v in h.valid[vendor][0].items()]
            for path in _fills(template, record):
                h.send(Req(methods[0], f"/{vendor}{path}", auth))

    moves = [template for methods, template in h.admin_routes
             if "{" in template and "POST" in methods]
    for record in records:
        read(record)
        for template, word in itertools.product(moves, h.words):
            r = h.send(Req("POST", next(_fills(template, record[:1])),
                           [(b"content-type", b"application/json")],
                           json.dumps({"status": word}).encode()))
            if r.status_code < 300:
                read(record)


# -- explicit examples: each class the fuzz found, named so a regression names itself --------
def _gravy(h: Harness, method: str, url: str, auth: str = "valid", **kw: Any) -> httpx.Response:
    headers = dict(h.valid["gravy"][0]) if auth == "valid" else {}
    headers.update(kw.pop("headers", {}))
    return h.send(Req(method, "/gravy" + url, list((k.lower().encode(), v if isinstance(v, bytes)
                                                    else v.encode()) for k, v in headers.items()),
                      kw.pop("body", b"")))


@pytest.mark.parametrize("query", [
    "expiresTo=9999-12-31", "expiresFrom=0001-01-01T00:00%2B23:00",
    "expiresTo=9999-12-31T23:59:59-23:00", "expiresFrom=0001-01-01T00:00-23:59",
    "expiresTo=%2B009999-12-31", "expiresTo=9999-W52-5", "expiresTo=10000-01-01",
    "expiresFrom=9999-366",  # an ordinal day past datetime.max: OverflowError, not ValueError
])
def test_dates_at_and_past_the_range_edges(h, query):
    r = _gravy(h, "GET", f"/connections/conn_789xyz123abc/balances?{query}")
    assert r.status_code in (200, 400)
    if r.status_code == 400:
        name = query.split("=")[0]
        assert r.json()["message"] == [f"{name} must be a valid ISO 8601 date string"]


def test_representable_edge_dates_filter_and_unrepresentable_ones_fail_is_date_string(h):
    r = _gravy(h, "GET", "/connections/conn_789xyz123abc/balances?expiresTo=9999-12-31")
    assert r.status_code == 200 and r.json()["meta"]["total"] > 0
    r = _gravy(h, "GET", "/connections/conn_789xyz123abc/balances"
                         "?expiresFrom=0001-01-01T00:00%2B23:00")
    assert r.status_code == 400


@pytest.mark.parametrize("raw", [b"[" * 1000, b"[" * 100_000, b"[" * 5000 + b"]" * 5000,
                                 b'{"grant_type":' + b"[" * 100_000,
                                 b'{"grant_type":' + b"[" * 5000 + b"]" * 5000 + b"}"])
def test_deep_nesting_on_vendor_and_admin_json_endpoints(h, raw):
    ctype = [(b"content-type", b"application/json")]
    r = h.send(Req("POST", "/gravy/oauth/token", ctype, raw))
    assert r.status_code == 400
    for path in ("/__admin/clock", "/__admin/reset", "/__admin/gravy/connections/x/status"):
        r = h.send(Req("POST", path, ctype, raw))
        assert r.status_code == 400 and r.json() == {"error": "the body must be JSON"}
    h.journal_renders()


def test_balanced_nesting_python_could_parse_but_not_hold(h):
    """Deep enough to strain every later step (storing, signing, echoing): refused up front."""
    resources = b"[" * 900 + b"]" * 900
    raw = json.dumps({"integrationId": "audible", "userId": "u", "prompts": [], "sessionArgs": {},
                      "debug": False, "captureScreenshot": False, "resources": {"x": 1},
                      "returnUrl": "x"}).encode().replace(b'{"x": 1}', b'{"x": ' + resources + b"}")
    r = _gravy(h, "POST", "/intent-token", auth="none", body=raw,
               headers={"Authorization": "Publishable pk-test-sandbox",
                        "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"] == "Request body is nested too deeply"


@pytest.mark.parametrize("secret", ["é", "\x00", "\x01\x7f", "\ud800", "a" * 100_000])
def test_non_ascii_and_control_client_secrets(h, secret):
    ok = {"grant_type": "client_credentials", "client_id": "gravy-sandbox-client"}
    as_json = json.dumps({**ok, "client_secret": secret}).encode()
    as_form = urlencode({**ok, "client_secret": secret.encode("utf-8", "surrogatepass")}).encode()
    basic = b"Basic " + b64(b"gravy-sandbox-client:" + secret.encode("utf-8", "surrogatepass"))
    for raw, ctype, extra in [(as_json, "application/json", {}),
                              (as_form, "application/x-www-form-urlencoded", {}),
                              (b"grant_type=client_credentials",
                               "application/x-www-form-urlencoded", {"Authorization": basic})]:
        r = _gravy(h, "POST", "/oauth/token", auth="none", body=raw,
                   headers={"Content-Type": ctype, **extra})
        assert r.status_code == 401 and r.json()["message"] == "Invalid client credentials"
    h.journal_renders()


def test_invalid_utf8_credentials_in_every_scheme(h):
    for header in [(b"authorization", b"Basic " + b64(b"gravy-sandbox-client:\xff\xfe")),
                   (b"authorization", b"Bearer \xff\xfe\x00"),
                   (b"authorization", b"Publishable \xc3\xa9"),
                   (b"x-intent-token", b"\xff.\xfe.\x00")]:
        r = h.send(Req("GET", "/gravy/connections/conn_789xyz123abc", [header]))
        assert r.status_code == 401


def test_lone_surrogates_never_reach_the_journal_or_the_state_as_a_500(h):
    """A JSON `\\ud800` is a string JSON.parse accepts; storing and echoing it must not fail."""
    pk = [(b"authorization", b"Publishable pk-test-sandbox"),
          (b"content-type", b"application/json")]
    body = json.dumps({"integrationId": "audible", "userId": "\ud800", "prompts": [],
                       "sessionArgs": {"\udfff": "\ud800"}, "debug": False,
                       "captureScreenshot": False, "resources": {}, "returnUrl": "\ud800"})
    r = h.send(Req("POST", "/gravy/intent-token", pk, body.encode()))
    assert r.status_code == 201
    cid = r.json()["connectionId"]
    r = _gravy(h, "GET", f"/connections/{cid}")
    assert r.status_code == 200 and r.json()["userId"] == "\ud800"
    assert _gravy(h, "GET", "/connections").status_code == 200
    r = h.send(Req("POST", "/gravy/oauth/token", [(b"content-type", b"application/json")],
                   b'{"\\ud800": 1}'))
    assert r.status_code == 400
    r = h.send(Req("POST", "/__admin/reset", [(b"content-type", b"application/json")],
                   b'{"tenant": "\\ud800"}'))
    assert r.status_code == 404
    h.journal_renders()


def test_numbers_past_a_double_read_back_as_json_stringify_writes_them(h):
    """1e400 (or an integer of 5,000 digits) is JSON.parse's Infinity: stored, it is echoed as
    null, in responses and inside the intent token's claims alike."""
    body = json.dumps({"integrationId": "audible", "userId": "u", "prompts": [], "sessionArgs": {},
                       "debug": False, "captureScreenshot": False, "returnUrl": "x",
                       "resources": {"readingHistory": {"read": {"amount": "A", "x": "B"}}}})
    # read.limit is typed; other operation arguments are free-form, so they keep what was sent.
    body = body.replace('"A"', "1e400").replace('"B"', "-1" + "0" * 5000)
    r = _gravy(h, "POST", "/intent-token", auth="none", body=body.encode(),
               headers={"Authorization": "Publishable pk-test-sandbox",
                        "Content-Type": "application/json"})
    assert r.status_code == 201
    claims = r.json()["intentToken"].split(".")[1]
    claims = strict_json(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert claims["resources"] == {"readingHistory": {"read": {"amount": None, "x": None}}}
    r = _gravy(h, "GET", f"/intent-token?shortCode={r.json()['shortToken']}")
    assert r.json()["resources"] == claims["resources"]


@pytest.mark.parametrize("hook", ["http://[::1", "http://a b/", "http://\x00/", "http://%zz/",
                                  "http://\ud800/", "ftp://x", "//x", "http:", "x" * 70_000])
def test_webhook_urls_a_client_registered_never_fail_the_admin_call(h, hook):
    """@IsUrl refuses these at the door; a URL that still reaches the store (a state import, a
    looser validator later) fails into the journal, never into the admin call that moved it."""
    body = json.dumps({"integrationId": "audible", "resources": {}, "webhookUrl": hook})
    r = _gravy(h, "POST", "/intent-token", body=body.encode(),
               headers={"Content-Type": "application/json"})
    if r.status_code == 400:
        assert r.json()["message"] == ["webhookUrl must be a URL address"]
        body = json.dumps({"integrationId": "audible", "resources": {},
                           "webhookUrl": "http://127.0.0.1:9/hook"})
        r = _gravy(h, "POST", "/intent-token", body=body.encode(),
                   headers={"Content-Type": "application/json"})
        conn = h.app.tenants.default.stores["gravy"].connections[r.json()["connectionId"]]
        conn.webhookUrl = hook
    assert r.status_code == 201
    r = h.send(Req("POST", f"/__admin/gravy/connections/{r.json()['connectionId']}/status",
                   [(b"content-type", b"application/json")], b'{"status": "connecting"}'))
    assert r.status_code == 200
    assert r.json()["webhooks"][0]["delivered"] is False
    h.journal_renders()


@pytest.mark.parametrize("raw", [
    b'{"advance": NaN}', b'{"advance": Infinity}', b'{"advance": -Infinity}', b'{"advance": 1e308}',
    b'{"advance": -1e308}', b'{"advance": 1e400}', b'{"advance": 1' + b"0" * 400 + b"}",
    b'{"advance": "60"}', b'{"advance": true}', b'{"advance": [60]}', b'{"advance": null}',
    b'{"set": 0}', b'{"set": ["2024-01-01"]}', b'{"set": "0001-01-01T00:00:00+23:00"}',
    b'{"set": "0001-01-01T00:00:00-23:00"}', b'{"set": "9999-12-31T23:59:59Z"}',
    b'{"set": "1969-12-31T23:59:59Z"}', b'{"set": "not a date"}', b'{"set": "\\ud800"}',
    b'{"real": "yes"}', b"{}", b"[]", b'"advance"',
])
def test_clock_input_that_is_not_a_sane_instant(h, raw):
    before = h.snapshot()
    r = h.send(Req("POST", "/__admin/clock", [(b"content-type", b"application/json")], raw))
    assert r.status_code == 400 and h.snapshot() == before


def test_clock_near_its_end_refuses_to_pass_it(h):
    last_hour = iso_ms(datetime.fromtimestamp(LATEST - 3600, tz=timezone.utc))
    r = h.send(Req("POST", "/__admin/clock", [], json.dumps({"set": last_hour}).encode()))
    assert r.status_code == 200
    before = h.snapshot()
    for advance in (3600, 86400 * 366, 1e308):
        r = h.send(Req("POST", "/__admin/clock", [], json.dumps({"advance": advance}).encode()))
        assert r.status_code == 400
    assert h.snapshot() == before


# -- transport: what client libraries normalise away, and a real server ----------------------
def test_hostile_transport_level_requests(h):
    """Long URLs, %00, odd methods, Host headers, Content-Type lies, empty JSON bodies."""
    auth = [(k.lower().encode(), v.encode()) for k, v in h.valid["gravy"][0].items()]
    cases = [
        Req("GET", "/gravy/connections/" + "a" * 60_000, auth),  # httpx's limit is 64 KiB
        Req("GET", "/gravy/connections?" + "page=1&" * 9_000, auth),
        Req("GET", "/gravy/connections/%00", auth), Req("GET", "/gravy/%00/..%2F..%2F", auth),
        Req("GET", "/%00"), Req("GET", "/" + "x" * 60_000), Req("GET", "/__admin/%00"),
        Req("HEAD", "/gravy/connections", auth), Req("HEAD", "/__admin/"),
        Req("OPTIONS", "/gravy/connections", auth), Req("OPTIONS", "/__admin/clock"),
        Req("TRACE", "/gravy/oauth/token"), Req("PROPFIND", "/__admin/requests"),
        Req("GET", "/integrations", [(b"host", b"API.GETPASSAGE.AI:443")], host_vendor="gravy"),
        Req("GET", "/integrations", [(b"host", b"api.getpassage.ai.")], host_vendor="gravy"),
        Req("GET", "/gravy/integrations", [(b"host", b"\xff\xfe")]),
        Req("GET", "/__admin/nope", [(b"host", b"[")]),
        Req("GET", "/__admin/requests", [(b"host", b"[::1")]),
        Req("POST", "/gravy/oauth/token", [(b"content-type", b"text/plain")],
            b'{"grant_type": "client_credentials"}'),
        Req("POST", "/gravy/oauth/token", [(b"content-type", b"application/x-www-form-urlencoded")],
            b"grant_type=%zz&client_id=%&client_secret=%ff"),
        Req("POST", "/gravy/oauth/token", [(b"content-type", b"application/json")], b""),
        Req("POST", "/gravy/intent-token/validate",
            auth + [(b"content-type", b"application/json")], b""),
        Req("POST", "/__admin/clock", [(b"content-type", b"text/plain")], b'{"advance": 60}'),
        Req("POST", "/__admin/reset", [(b"content-type", b"application/x-www-form-urlencoded")],
            b"tenant=%zz"),
    ]
    for req in cases:
        h.send(req)
    h.journal_renders()


async def _raw(app, method: str, path: str, raw_path: bytes, query: bytes,
               headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One request straight through ASGI, with bytes no HTTP client library would send (a
    server passes the query string and raw path through as they came)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
               "method": method, "scheme": "http", "path": path, "raw_path": raw_path,
               "query_string": query, "root_path": "", "headers": headers,
               "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 1)}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path, raw_path, query", [
    ("/gravy/connections", b"/gravy/connections", b"page=\xff\x00&limit=\xc3"),
    ("/gravy/connections/\ufffd", b"/gravy/connections/\xff", b""),
    ("/gravy/nope/\x00", b"/gravy/nope/\x00", b"a=\xff"),
    ("/gravy/intent-token", b"/gravy/intent-token", b"shortCode=\xff\xfe"),
    ("/__admin/requests", b"/__admin/requests", b"limit=\xff&path=\xff&status=\x00"),
    ("/__admin/health", b"/__admin/health", b"token=\xff"),
    ("/\x00", b"/\x00", b"\xff"),
])
@pytest.mark.parametrize("admin_token", [None, "s3cret"])
def test_raw_bytes_a_client_library_would_not_send(path, raw_path, query, admin_token):
    app = create_app(seed=0, clock=Clock(DOC_TIME), admin_token=admin_token)
    token = app.vendors["gravy"].service.auth.issue(app.tenants.default, "gravy-sandbox-client",
                                                    "read write")
    headers = [(b"host", b"\xff:\xfe"), (b"authorization", b"Bearer " + token.encode()),
               (b"content-type", b"\x00")]  # no X-Admin-Token: the guard reads ?token=
    status, body = asyncio.run(_raw(app, "GET", path, raw_path, query, headers))
    assert status < 500, body
    strict_json(body)
    client = MockClient(app)
    try:
        r = client.get("/__admin/requests", headers={"X-Admin-Token": admin_token or ""})
        assert r.status_code == 200
        strict_json(r.content)
    finally:
        client.close()


def test_admin_token_guard_survives_hostile_tokens():
    c = MockClient(create_app(admin_token="s3cret"))
    try:
        for headers, url in [({"X-Admin-Token": b"\xff\xfe"}, "/__admin/health"),
                             ({}, "/__admin/health?token=%ff%fe"),
                             ({}, "/__admin/health?token=%zz&token=s3cret"),
                             ({"X-Admin-Token": "é".encode()}, "/__admin/")]:
            r = c.get(url, headers=headers)
            assert r.status_code == 401 and r.json() == {"error": "X-Admin-Token required"}
        r = c.request("GET", "/__admin/health", headers=[(b"x-admin-token", b"s3cret")],
                      check=False)
        assert r.status_code == 200
    finally:
        c.close()


def _wire(url: str, request: bytes) -> tuple[int, bytes, bytes]:
    """One raw HTTP/1.1 exchange with a live server: (status, head, body)."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize("request_line, extra", [
    (b"HEAD /gravy/connections", b""), (b"HEAD /__admin/", b""), (b"OPTIONS *", b""),
    (b"OPTIONS /gravy/oauth/token", b""), (b"FOO /gravy/integrations", b""),
    (b"GET /gravy/connections/%00?q=%ff%00", b""), (b"GET /gravy/connections/\xff", b""),
    (b"GET /gravy/" + b"a" * 100_000, b""), (b"GET /gravy/integrations?" + b"a=1&" * 30_000, b""),
    (b"GET http://elsewhere/gravy/integrations", b""),
    (b"GET /integrations", b"Host: API.RUNPASSAGE.AI:443\r\n"),
    (b"GET /gravy/integrations", b"Host: \xff[::\r\n"),
    (b"POST /gravy/oauth/token", b"Content-Type: application/json\r\nTransfer-Encoding: chunked"
                                 b"\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n"),
    (b"POST /__admin/clock", b"Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                             b'{"advance": NaN}\n'),
])
def test_a_real_server_answers_hostile_requests_below_500(live, request_line, extra):
    """What only a real socket can send; uvicorn itself may refuse some (a plain 400)."""
    if b"\r\n\r\n" not in extra:
        extra += b"\r\n"
    host = b"" if extra.startswith(b"Host:") else b"Host: mock\r\n"
    status, head, body = _wire(live.url, request_line + b" HTTP/1.1\r\n" + host
                               + b"Connection: close\r\n" + extra)
    assert status < 500, head + body[:300]
    if b"application/json" in head and not request_line.startswith(b"HEAD"):
        strict_json(body)
    if request_line.startswith(b"HEAD"):
        assert body == b""
    assert live.http.get("/__admin/requests?limit=100000").status_code == 200
