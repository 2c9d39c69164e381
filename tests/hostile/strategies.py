"""Whole hostile requests, drawn from the app's own routes, contracts and state."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from ..conftest import CONTRACTS
from .harness import PARAM, Harness, Req
from .material import (ADMIN_KEYS, ADMIN_QUERY, CLOCK_STARTS, CONTENT_TYPES, CREDENTIAL_FIELDS,
                       DATE_EDGES, METHODS, RAW_BODIES, RAW_SEGMENTS, enc, hostile_auth,
                       hostile_value, json_value, query_value, text)


def segment(h: Harness) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(h.candidates).map(enc),
                     text.map(lambda s: enc(s) or "x"),
                     st.sampled_from(RAW_SEGMENTS))


@st.composite
def fill(draw, h: Harness, template: str) -> str:
    """Mostly values of one record (past the 404, into validation), else hostile ids."""
    names = PARAM.findall(template)
    if names and draw(st.integers(0, 2)):
        record = draw(st.sampled_from(h.new_records) if h.new_records and draw(st.booleans())
                      else st.sampled_from(h.records))
        path = template.replace(names[0], enc(record[0]), 1)
        return PARAM.sub(lambda _: enc(draw(st.sampled_from(record))), path)
    return PARAM.sub(lambda _: draw(segment(h)), template)


@st.composite
def query_string(draw, names: list[str]) -> str:
    size = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 5]))
    name = st.sampled_from(names) if not draw(st.integers(0, 4)) else \
        st.sampled_from(names) | text.map(enc)
    pairs = draw(st.lists(st.tuples(name, query_value), min_size=size, max_size=size))
    if pairs and draw(st.booleans()):
        pairs.append(draw(st.sampled_from(pairs)))  # a repeated parameter
    return "&".join(f"{k}={v}" for k, v in pairs)


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
