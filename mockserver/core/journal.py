"""The request journal: a bounded ring of what the vendors were asked and answered.

Reads like respx / unittest.mock: `journal.called`, `journal.call_count`, `journal.last`,
`journal.filter(vendor="acme", status=401)`.
"""
from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass, field, fields
from fnmatch import fnmatchcase
from itertools import count
from operator import itemgetter
from typing import Any, Iterator, Mapping, NamedTuple, Sequence
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode

from .clock import iso_ms
from .http import load
from .memo import Memo
from .settings import DEFAULTS

REDACTED = "[redacted]"
DEFAULT_JOURNAL_BYTES: int = DEFAULTS["journal_bytes"]  # --journal-bytes
# What an entry costs beyond its bodies and header bytes: its slots in the columns and its row
# (or a recorded Call), its strings, the header tuples and the bytes objects' own headers
# (measured with tracemalloc for a Call, rounded up; an entry kept in the columns costs about
# 200 bytes, so the bound errs low).
ENTRY_OVERHEAD = 640
HEADER_OVERHEAD = 100  # per request header: a tuple and two bytes objects
DIFFERENCE_OVERHEAD = 200  # per difference of a recorded call: its tuple and three strings
RECORDED = "recorded"  # the kind of a call `serve --record` forwarded to the real API
PENDING_MAX = 64  # served requests noted before they are kept in one pass (Journal._flush)


@dataclass(frozen=True, slots=True)
class Secrets:
    """What the journal masks in one vendor's requests: header names and body field names.

    The core masks only what is secret everywhere; each vendor adds its own names.
    """

    headers: frozenset[str] = frozenset({"authorization", "proxy-authorization", "cookie",
                                         "x-admin-token"})
    fields: frozenset[str] = frozenset({"password"})

    def plus(self, headers: frozenset[str], fields: frozenset[str]) -> "Secrets":
        return Secrets(self.headers | {h.lower() for h in headers},
                       self.fields | {f.lower() for f in fields})

    def _obj(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: (REDACTED if k.lower() in self.fields else self._obj(v))
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._obj(v) for v in obj]
        return obj

    def body(self, body: bytes, content_type: str) -> str:
        """Body as text with secret fields masked, for JSON and form bodies alike."""
        if not body:
            return ""
        text = body.decode("utf-8", "replace")
        if "json" in content_type or text.lstrip()[:1] in ("{", "["):
            try:
                return json.dumps(self._obj(load(text)), ensure_ascii=False)
            except ValueError:  # not JSON, or nested too deeply: mask what looks like a secret
                return self._masked(text)
        if "x-www-form-urlencoded" in content_type:
            pairs = parse_qsl(text, keep_blank_values=True)
            return urlencode([(k, REDACTED if k.lower() in self.fields else v) for k, v in pairs])
        return text

    def query(self, query: str) -> str:
        """A query string with secret parameters masked (some APIs take them there too)."""
        low = query.lower()
        # "%": a name may be escaped (`h%61sh=`), which the vendor's framework decodes.
        if not query or ("%" not in low and not any(f in low for f in self.fields)):
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k.lower() in self.fields for k, _ in pairs):
            return query  # verbatim, as it came
        return urlencode([(k, REDACTED if k.lower() in self.fields else v) for k, v in pairs])

    def answer(self, body: bytes) -> str:
        """A response body with secret fields masked (issued tokens, codes); verbatim when it
        names none of them."""
        text = body.decode("utf-8", "replace")
        low = text.lower()
        if not any(f'"{f}"' in low for f in self.fields):
            return text
        return self.body(body, "application/json")

    def _masked(self, text: str) -> str:
        """Secret fields of text that does not parse as JSON (a body that was refused)."""
        names = "|".join(re.escape(f) for f in sorted(self.fields))
        return re.sub(r'("(?:%s)"\s*:\s*)"(?:[^"\\]|\\.)*"?' % names,
                      lambda m: m.group(1) + f'"{REDACTED}"', text, flags=re.IGNORECASE)

    def header_map(self, raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in raw:
            name = k.decode("latin-1").lower()
            out[name] = REDACTED if name in self.headers else v.decode("latin-1")
        return out


BASE_SECRETS = Secrets()


class SocketEnd(NamedTuple):
    """How a WebSocket connection ended, for its journal entry (`Call.websocket`)."""

    close_code: int | None  # the first close either side sent; None if none was
    received: int           # messages from the client
    sent: int               # messages to the client


@dataclass(slots=True)
class Call:
    """One journal entry: a vendor request, or a webhook the mock delivered (`kind="webhook"`).

    Recording is on every request's path, so an entry keeps the raw parts (header list, body
    bytes, epoch time) and formats or redacts them only when read.

    The fields before `id` are the journal's field list (`REQUEST_FIELDS`): what a served
    request records, in `Journal.record_request`'s argument order, and what the journal keeps of
    it. A new one goes among them, in `summary()` (the JSON) and in the server's call
    (`MockServer._record`); the journal's storage follows by itself. The fields from `id` on
    are the journal's own: it numbers and sizes each entry, and a served request's kind, url
    and secrets follow from what it is. A recorded call (`kind="recorded"`) also keeps the
    mock's answer and the differences, and is recorded as a `Call` (`Journal.record`); so is a
    WebSocket handshake (`kind="request"`, method GET), with how its connection ended
    (`websocket`).
    """

    vendor: str
    at: float                     # epoch seconds, the mock clock's
    method: str
    path: str
    query: str = ""               # (record_request takes the raw query string, bytes)
    raw_headers: Sequence[tuple[bytes, bytes]] = field(default_factory=list)
    status: int | None = None
    tenant: str | None = None
    duration_ms: float = 0.0
    raw_body: bytes = b""
    response_body: bytes = b""
    error: str | None = None
    fault: str | None = None      # the id of the fault that shaped this call
    id: int = 0
    kind: str = "request"
    url: str | None = None        # where a webhook went; where a recorded call was forwarded
    secrets: Secrets = BASE_SECRETS
    size: int = field(default=0, compare=False, repr=False)  # set by Journal.record
    # A recorded call (`kind="recorded"`, `serve --record`): its status and response body are
    # the real API's; these are what the mock answered the same call, and each difference
    # between the two as (path, kind, message).
    mock_status: int | None = None
    mock_body: bytes = b""
    differences: tuple[tuple[str, str, str], ...] = ()
    # A WebSocket handshake (a GET, status 101 when accepted), recorded when the connection
    # ends: the close code (None before acceptance, or when it ended without a close) and the
    # messages the mock received and sent.
    websocket: SocketEnd | None = None

    def approx_size(self) -> int:
        """What this entry holds in memory, roughly: bodies, header bytes and a fixed overhead
        (the journal's byte bound counts this)."""
        return (ENTRY_OVERHEAD + len(self.raw_body) + len(self.response_body)
                + _request_size(self.path, self.query, self.raw_headers)
                + len(self.mock_body)
                + sum([DIFFERENCE_OVERHEAD + len(p) + len(k) + len(m)
                       for p, k, m in self.differences]))

    @property
    def time(self) -> str:
        return iso_ms(datetime.fromtimestamp(self.at, tz=timezone.utc))

    @property
    def request_headers(self) -> dict[str, str]:
        return self.secrets.header_map(self.raw_headers)

    @property
    def request_body(self) -> str:
        ctype = next((v.decode("latin-1") for k, v in self.raw_headers
                      if k.lower() == b"content-type"), "")
        return self.secrets.body(self.raw_body, ctype)

    @property
    def json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None

    def summary(self) -> dict[str, Any]:
        """The entry without headers or bodies: small whatever was sent, for list views."""
        return {
            "id": self.id, "time": self.time, "kind": self.kind, "vendor": self.vendor,
            "tenant": self.tenant, "method": self.method, "path": self.path,
            "query": self.secrets.query(self.query),
            "url": self.url, "status": self.status, "durationMs": round(self.duration_ms, 3),
            "error": self.error, "fault": self.fault,
            **({"mockStatus": self.mock_status, "differenceCount": len(self.differences)}
               if self.kind == RECORDED else {}),
            **({"websocket": {"closeCode": self.websocket.close_code,
                              "received": self.websocket.received,
                              "sent": self.websocket.sent}}
               if self.websocket is not None else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        out = self.summary()
        out["request"] = {"headers": self.request_headers, "body": self.request_body}
        out["response"] = {"body": self.secrets.answer(self.response_body)}
        if self.kind == RECORDED:
            out["mockResponse"] = {"body": self.secrets.answer(self.mock_body)}
            out["differences"] = [{"path": p, "kind": k, "message": m}
                                  for p, k, m in self.differences]
        return out


def _request_size(path: str, query: str, headers: Sequence[tuple[bytes, bytes]]) -> int:
    return (len(query) + len(path) + HEADER_OVERHEAD * len(headers)
            + sum([len(k) + len(v) for k, v in headers]))


# The request parts a journal entry keeps: (method, path, query, headers, their size).
RequestParts = tuple[str, str, str, tuple[tuple[bytes, bytes], ...], int]
PARTS_MEMO = 1024        # entries of the memo below, each at most PARTS_MAX_SIZE: ~8 MB at worst
PARTS_MAX_SIZE = 8192


# The journal's field list: Call's fields before `id`, in order (see Call).
_NAMES = tuple(f.name for f in fields(Call))
REQUEST_FIELDS = _NAMES[:_NAMES.index("id")]
# In Journal._call's order; the recorded call's fields after them keep their defaults there.
_OWN_FIELDS = ("id", "kind", "url", "secrets", "size", "mock_status", "mock_body", "differences",
               "websocket")
if _NAMES[len(REQUEST_FIELDS):] != _OWN_FIELDS:
    raise TypeError(f"Call's last fields are {', '.join(_OWN_FIELDS)}, in this order")
# Of those, the request itself, kept as one tuple shared by identical requests (RequestParts).
_PARTS = ("method", "path", "query", "raw_headers")
_P = REQUEST_FIELDS.index("method")
if REQUEST_FIELDS[_P:_P + len(_PARTS)] != _PARTS:
    raise TypeError(f"Call's {', '.join(_PARTS)} go together, in this order")
# The rest of an entry: one tuple per entry, its fields in REQUEST_FIELDS' order.
_ROW = REQUEST_FIELDS[:_P] + REQUEST_FIELDS[_P + len(_PARTS):]
_row_of = itemgetter(*(REQUEST_FIELDS.index(name) for name in _ROW))
_IN_ROW = {name: k for k, name in enumerate(_ROW)}
_IN_PARTS = {name: k for k, name in enumerate(_PARTS)}
# What every served request has alike: kind "request", no url (Call's defaults).
_FIXED = {f.name: f.default for f in fields(Call) if f.name in ("kind", "url")}
_TENANT, _RAW_BODY, _RESPONSE_BODY = (REQUEST_FIELDS.index(n)
                                      for n in ("tenant", "raw_body", "response_body"))
_VENDOR = _IN_ROW["vendor"]

# The journal's filters, one list for every surface: `Journal.select`/`filter`,
# GET /__admin/requests?<name>= and the pytest helper's criteria (mockserver.testing, which
# passes them on to that endpoint). Each surface filters on the server, by `matches`.
FILTERS = ("vendor", "method", "path", "status", "tenant", "kind", "fault")
if not set(FILTERS) <= set(_ROW) | set(_PARTS) | set(_FIXED):
    raise TypeError("every journal filter names a field of Call")


class Journal:
    """Bounded twice: at most `maxlen` entries and `max_bytes` of approximate size
    (`Call.approx_size`), the oldest entries evicted first. The newest entry is always kept, even
    one larger than `max_bytes` alone (its bodies are already capped per entry by the server):
    the last call is what a test asks about.

    A served request is recorded in two steps. `record_request`, on every call's path, only
    notes the entry's fields (a tuple of references: request parts and bodies shared with the
    answer and with earlier identical requests). Every PENDING_MAX calls, and before anything
    reads or changes the journal, the noted entries are kept in one pass (`_flush`): the same
    work in a tight loop costs a fraction of what it costs between two requests, whose network
    and server work has pushed the journal's code and data out of the CPU caches (see
    bench/README.md). The entries live in a ring of four columns: the ids and sizes (arrays),
    the request parts (shared by identical requests) and a row of the entry's other fields
    (`_ROW`, one tuple of atomic values, which the garbage collector stops tracking at its first
    pass); a `Call` is built when an entry is read. One recorded as a `Call` (webhooks) is kept
    as it is, in the row's column."""

    def __init__(self, maxlen: int = DEFAULTS["journal_size"], enabled: bool = True,
                 max_bytes: int = DEFAULT_JOURNAL_BYTES) -> None:
        self._maxlen = max(0, maxlen)
        self.max_bytes = max_bytes
        self._ids = count(1)
        self.enabled = enabled
        self._secrets: dict[str, Secrets] = {}
        # (method, path, query string, headers) -> the shared immutable parts an entry keeps:
        # repeated requests (a suite, a load) then keep the same objects instead of the
        # server's fresh header list, tuples and strings.
        self._parts: Memo[tuple, RequestParts] = Memo(PARTS_MEMO)
        self._pending: list[tuple] = []  # record_request's entries, not kept yet
        # The tenants that exist, when the server says (`only_tenants`): a call still in
        # flight when its tenant is deleted is dropped with the tenant's other entries.
        self._live: Mapping[str, Any] | None = None
        self._empty()

    def only_tenants(self, live: Mapping[str, Any]) -> None:
        """Keep entries only of tenants that are keys of `live` (a live view of the server's
        tenants) or of none: the entry of a call that ends after its tenant was deleted is
        dropped, as `clear(tenant)` dropped the tenant's earlier ones."""
        self._live = live

    def _empty(self) -> None:
        self._start = 0   # the ring index of the oldest entry
        self._count = 0   # entries held
        self._bytes = 0   # the sum of their sizes
        # The columns grow up to maxlen, then wrap. `_row` holds an entry's _ROW fields, or a
        # recorded Call (whose `_request` is None).
        self._id, self._size = array("q"), array("q")
        self._request: list[RequestParts | None] = []
        self._row: list[tuple | Call | None] = []

    def request_parts(self, method: str, path: str, query_string: bytes,
                      headers: list[tuple[bytes, bytes]]) -> RequestParts:
        """The parts of a request an entry keeps, shared with earlier identical requests."""
        key = (method, path, query_string, tuple(headers))
        parts = self._parts.get(key)
        if parts is None:
            query = query_string.decode("latin-1")
            parts = (method, path, query, key[3], _request_size(path, query, key[3]))
            if parts[4] <= PARTS_MAX_SIZE:  # a large request is kept once, never memoised
                self._parts.keep(key, parts)
        return parts

    def declare_secrets(self, vendor: str, headers: frozenset[str], fields: frozenset[str]) -> None:
        self._secrets[vendor] = BASE_SECRETS.plus(headers, fields)

    def secrets_of(self, vendor: str) -> Secrets:
        return self._secrets.get(vendor, BASE_SECRETS)

    @property
    def maxlen(self) -> int:
        return self._maxlen

    @property
    def size_bytes(self) -> int:
        """The approximate size of what the journal holds (bounded by `max_bytes`)."""
        self._flush()
        return self._bytes

    def next_id(self) -> int:
        self._flush()  # the noted requests came first: their ids are lower
        return next(self._ids)

    # -- recording --------------------------------------------------------------------------
    def record_request(self, *entry: Any) -> None:
        """Keep one served request, given the values of REQUEST_FIELDS in that order (the query
        string as bytes, the headers as the server's list of pairs). Positional and noted as
        given: the cheapest call, on the server's hot path (the bodies already capped; the
        headers never changed after). Noted now, kept with the next PENDING_MAX (see the
        class)."""
        if self.enabled:
            pending = self._pending
            pending.append(entry)
            if len(pending) >= PENDING_MAX:
                self._flush()

    def _flush(self) -> None:
        """Keep the noted requests, in the order they were recorded."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if not self._maxlen:
            return
        request_parts = self.request_parts
        live = self._live
        # The field positions as locals: globals, sums and star calls cost more in this loop.
        m, pa, qu, he = range(_P, _P + len(_PARTS))  # method, path, query, headers
        t, rb, ab, row_of = _TENANT, _RAW_BODY, _RESPONSE_BODY, _row_of
        for entry in pending:
            tenant = entry[t]
            if live is not None and tenant is not None and tenant not in live:
                continue  # its tenant was deleted while it ran
            parts = request_parts(entry[m], entry[pa], entry[qu], entry[he])
            size = ENTRY_OVERHEAD + parts[4] + len(entry[rb]) + len(entry[ab])
            i = self._start
            if self._count == self._maxlen:
                # The usual case once full: the oldest entry's slot takes the new one.
                self._bytes += size - self._size[i]
                self._start = i + 1 if i + 1 < self._maxlen else 0
            else:
                i = self._slot()
                self._bytes += size
            self._id[i] = next(self._ids)
            self._size[i] = size
            self._request[i] = parts
            self._row[i] = row_of(entry)
            if self._bytes > self.max_bytes:
                self._evict()

    def record(self, call: Call, size: int | None = None) -> None:
        """Keep `call` as it is; `size` is its `approx_size()` when the caller knows it already."""
        if not self.enabled or not self._maxlen:
            return
        if self._live is not None and call.tenant is not None and call.tenant not in self._live:
            return  # its tenant was deleted while it ran (a webhook delivered meanwhile)
        self._flush()
        call.size = size = call.approx_size() if size is None else size
        i = self._slot()
        self._bytes += size
        self._id[i], self._size[i] = call.id, size
        self._request[i], self._row[i] = None, call
        if self._bytes > self.max_bytes:
            self._evict()

    def _slot(self) -> int:
        """The ring index for a new entry, counted in (the oldest goes when the ring is full)."""
        cap = len(self._id)
        if self._count < cap:  # a slot left free by byte evictions
            i = (self._start + self._count) % cap
        elif cap < self._maxlen:  # still growing
            if self._start:
                self._straighten()
            i = cap
            for column in self._columns():
                column.append(0 if isinstance(column, array) else None)
        else:  # full: the oldest entry's slot
            i = self._start
            self._bytes -= self._size[i]
            self._start = (i + 1) % cap
            self._count -= 1
        self._count += 1
        return i

    def _columns(self) -> tuple[Any, ...]:
        return self._id, self._size, self._request, self._row

    def _straighten(self) -> None:
        """Rotate the columns so that the oldest entry is at index 0 (before growing)."""
        s = self._start
        for column in self._columns():
            column[:] = column[s:] + column[:s]
        self._start = 0

    def _evict(self) -> None:
        """Drop the oldest entries until the byte bound holds, the newest always kept."""
        cap = len(self._id)
        while self._count > 1 and self._bytes > self.max_bytes:
            i = self._start
            self._bytes -= self._size[i]
            # free what it held (bodies); the slot is reused by a later entry
            self._request[i] = self._row[i] = None
            self._start = (i + 1) % cap
            self._count -= 1

    def view(self) -> "Journal":
        """A read-only copy of the entries as they are now, to read off the event loop while
        calls go on being recorded: the columns are copied (at C speed, no entry built), what
        the entries hold (request parts, bodies, recorded Calls) is immutable and shared."""
        self._flush()
        view = object.__new__(Journal)
        view.__dict__.update(self.__dict__)
        view._pending = []
        view._secrets = dict(self._secrets)
        view._id, view._size, view._request, view._row = (c[:] for c in self._columns())
        view.enabled = False  # nothing is recorded into a copy
        return view

    def clear(self, tenant: str | None = None) -> None:
        """Everything, or only one tenant's entries (other CI jobs keep theirs)."""
        self._flush()
        if tenant is None:
            self._empty()
            self._parts.clear()
            return
        rows = [tuple(column[i] for column in self._columns()) for i in self._indices()
                if self._field(i, "tenant") != tenant]
        self._empty()
        for row in rows:
            for column, value in zip(self._columns(), row):
                column.append(value)
        self._count = len(rows)
        self._bytes = sum(self._size)

    # -- reading ----------------------------------------------------------------------------
    def _indices(self) -> list[int]:
        """Ring indices of the entries, oldest first."""
        self._flush()
        cap, s = len(self._id), self._start
        return [(s + k) % cap for k in range(self._count)]

    def _call(self, i: int) -> Call:
        row = self._row[i]
        if row.__class__ is Call:
            return row
        # (one tuple, passed with one star: a dataclass is built fastest so, short of naming
        # every argument)
        return Call(*(row[:_P] + self._request[i][:len(_PARTS)] + row[_P:]
                      + (self._id[i], _FIXED["kind"], _FIXED["url"],
                         self._secrets.get(row[_VENDOR], BASE_SECRETS), self._size[i])))

    def _field(self, i: int, key: str) -> Any:
        """One field of entry i, without building its Call."""
        row = self._row[i]
        if row.__class__ is Call:
            return getattr(row, key)
        if key in _IN_ROW:
            return row[_IN_ROW[key]]
        if key in _IN_PARTS:
            return self._request[i][_IN_PARTS[key]]
        return _FIXED[key]

    # -- the unittest.mock-like surface ---------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Oldest first, like respx.calls."""
        return [self._call(i) for i in self._indices()]

    @property
    def called(self) -> bool:
        return len(self) > 0

    @property
    def call_count(self) -> int:
        return len(self)

    @property
    def last(self) -> Call:
        if not len(self):
            raise IndexError("the journal is empty")
        return self._call((self._start + self._count - 1) % len(self._id))

    def get(self, call_id: int) -> Call | None:
        """The entry with this id, if still kept."""
        for i in reversed(self._indices()):
            if self._id[i] == call_id:
                return self._call(i)
        return None

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls)

    def __len__(self) -> int:
        self._flush()
        return self._count

    def filter(self, **criteria: Any) -> list[Call]:
        """Newest first. `path` is a glob (`/connections/*`); `status` a code or a class
        (`4xx`); the rest compare exactly."""
        return self.select(None, **criteria)[1]

    def select(self, limit: int | None, **criteria: Any) -> tuple[int, list[Call]]:
        """(how many entries match, the newest `limit` of them, newest first): `filter` that
        builds only the entries it returns (the sandbox page polls the newest 100)."""
        unknown = set(criteria) - set(FILTERS)
        if unknown:
            raise TypeError(f"unknown journal filter(s): {', '.join(sorted(unknown))}")
        wanted = [(k, v) for k, v in criteria.items() if v is not None]
        total, out = 0, []
        for i in reversed(self._indices()):
            if all(matches(k, self._field(i, k), v) for k, v in wanted):
                total += 1
                if limit is None or len(out) < limit:
                    out.append(self._call(i))
        return total, out


def matches(key: str, have: Any, value: Any) -> bool:
    """One filter criterion against an entry's field: `path` a glob, `status` a code or a class
    (`4xx`), `method` in any case, anything else equal."""
    if key == "path":
        return fnmatchcase(have or "", str(value))
    if key == "status":
        want = str(value)
        if len(want) == 3 and want[0] in "12345" and want[1:].lower() == "xx":  # a class: 4xx
            return have is not None and str(have)[:1] == want[0]
        return have is not None and str(have) == want
    if key == "method":
        return (have or "").upper() == str(value).upper()
    return have == value
