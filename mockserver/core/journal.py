"""The request journal: a bounded ring of what the vendors were asked and answered.

Reads like respx / unittest.mock: `journal.called`, `journal.call_count`, `journal.last`,
`journal.filter(vendor="acme", status=401)`.
"""
from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from itertools import count
from typing import Any, Iterator, Sequence
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode

from .clock import iso_ms
from .http import load

REDACTED = "[redacted]"
DEFAULT_JOURNAL_BYTES = 32 * 1024 * 1024  # --journal-bytes: what the bodies of 10,000 calls may hold
# What an entry costs beyond its bodies and header bytes: the Call object, its strings, the
# header tuples and the bytes objects' own headers (measured with tracemalloc, rounded up).
ENTRY_OVERHEAD = 640
HEADER_OVERHEAD = 100  # per request header: a tuple and two bytes objects


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


@dataclass(slots=True)
class Call:
    """One journal entry: a vendor request, or a webhook the mock delivered (`kind="webhook"`).

    Recording is on every request's path, so an entry keeps the raw parts (header list, body
    bytes, epoch time) and formats or redacts them only when read. The server builds it with
    positional arguments (app.py): a new field goes last.
    """

    id: int
    at: float
    vendor: str
    method: str
    path: str
    query: str = ""
    status: int | None = None
    tenant: str | None = None
    kind: str = "request"
    duration_ms: float = 0.0
    raw_headers: Sequence[tuple[bytes, bytes]] = field(default_factory=list)
    raw_body: bytes = b""
    response_body: bytes = b""
    url: str | None = None
    error: str | None = None
    fault: str | None = None      # the id of the fault that shaped this call
    secrets: Secrets = BASE_SECRETS
    size: int = field(default=0, compare=False, repr=False)  # set by Journal.record

    def approx_size(self) -> int:
        """What this entry holds in memory, roughly: bodies, header bytes and a fixed overhead
        (the journal's byte bound counts this)."""
        return (ENTRY_OVERHEAD + len(self.raw_body) + len(self.response_body)
                + _request_size(self.path, self.query, self.raw_headers))


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
        }

    def to_dict(self) -> dict[str, Any]:
        out = self.summary()
        out["request"] = {"headers": self.request_headers, "body": self.request_body}
        out["response"] = {"body": self.secrets.answer(self.response_body)}
        return out


def _request_size(path: str, query: str, headers: Sequence[tuple[bytes, bytes]]) -> int:
    return (len(query) + len(path) + HEADER_OVERHEAD * len(headers)
            + sum([len(k) + len(v) for k, v in headers]))


# The request parts a journal entry keeps: (method, path, query, headers, their size).
RequestParts = tuple[str, str, str, tuple[tuple[bytes, bytes], ...], int]
PARTS_MEMO = 1024        # entries of the memo below, each at most PARTS_MAX_SIZE: ~8 MB at worst
PARTS_MAX_SIZE = 8192


_FILTERS = ("vendor", "method", "path", "status", "tenant", "kind")


class Journal:
    """Bounded twice: at most `maxlen` entries and `max_bytes` of approximate size
    (`Call.approx_size`), the oldest entries evicted first. The newest entry is always kept, even
    one larger than `max_bytes` alone (its bodies are already capped per entry by the server):
    the last call is what a test asks about."""

    def __init__(self, maxlen: int = 10_000, enabled: bool = True,
                 max_bytes: int = DEFAULT_JOURNAL_BYTES) -> None:
        self._calls: deque[Call] = deque()
        self._maxlen = max(0, maxlen)
        self.max_bytes = max_bytes
        self._bytes = 0  # sum of the entries' sizes
        self._ids = count(1)
        self.enabled = enabled
        self._secrets: dict[str, Secrets] = {}
        # (method, path, query string, headers) -> the shared immutable parts an entry keeps:
        # repeated requests (a suite, a load) then add one small object per entry instead of
        # the server's fresh header list, tuples and strings, which is what made recording
        # cost more than serving (cold memory on every call; see bench/README.md).
        self._parts: dict[tuple, RequestParts] = {}

    def request_parts(self, method: str, path: str, query_string: bytes,
                      headers: list[tuple[bytes, bytes]]) -> RequestParts:
        """The parts of a request an entry keeps, shared with earlier identical requests."""
        key = (method, path, query_string, tuple(headers))
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= PARTS_MEMO:
                self._parts.clear()
            query = query_string.decode("latin-1")
            parts = (method, path, query, key[3], _request_size(path, query, key[3]))
            if parts[4] <= PARTS_MAX_SIZE:  # a large request is kept once, never memoised
                self._parts[key] = parts
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
        return self._bytes

    def next_id(self) -> int:
        return next(self._ids)

    def record_request(self, vendor: str, at: float, parts: RequestParts, status: int | None,
                       tenant: str | None, duration_ms: float, request_body: bytes,
                       response_body: bytes, error: str | None, fault: str | None) -> None:
        """Keep one served request: the server's hot path (`parts` from `request_parts`, the
        bodies already capped)."""
        if not self._maxlen:
            return
        method, path, query, headers, size = parts
        # Positional (Call's field order): this runs on every call, keywords cost more.
        self.record(Call(next(self._ids), at, vendor, method, path, query, status, tenant,
                         "request", duration_ms, headers, request_body, response_body, None,
                         error, fault, self._secrets.get(vendor, BASE_SECRETS)),
                    ENTRY_OVERHEAD + size + len(request_body) + len(response_body))

    def record(self, call: Call, size: int | None = None) -> None:
        """Keep `call`; `size` is its `approx_size()` when the caller knows it already."""
        if not self.enabled or not self._maxlen:
            return
        call.size = size = call.approx_size() if size is None else size
        calls = self._calls
        calls.append(call)
        self._bytes += size
        if len(calls) > self._maxlen:  # the usual case once full: one out, one in
            self._bytes -= calls.popleft().size
        if self._bytes > self.max_bytes and len(calls) > 1:
            self._bytes -= calls.popleft().size  # the other usual case: one out, one in
            if self._bytes > self.max_bytes:
                self._evict()

    def _evict(self) -> None:
        calls = self._calls
        while len(calls) > 1 and (len(calls) > self._maxlen or self._bytes > self.max_bytes):
            self._bytes -= calls.popleft().size

    def clear(self, tenant: str | None = None) -> None:
        """Everything, or only one tenant's entries (other CI jobs keep theirs)."""
        if tenant is None:
            self._calls.clear()
            self._parts.clear()
            self._bytes = 0
            return
        kept = [c for c in self._calls if c.tenant != tenant]
        self._calls.clear()
        self._calls.extend(kept)
        self._bytes = sum(c.size for c in kept)

    # -- the unittest.mock-like surface ---------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Oldest first, like respx.calls."""
        return list(self._calls)

    @property
    def called(self) -> bool:
        return bool(self._calls)

    @property
    def call_count(self) -> int:
        return len(self._calls)

    @property
    def last(self) -> Call:
        if not self._calls:
            raise IndexError("the journal is empty")
        return self._calls[-1]

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    def filter(self, **criteria: Any) -> list[Call]:
        """Newest first. `path` is a glob (`/connections/*`); `status` a code or a class
        (`4xx`); the rest compare exactly."""
        unknown = set(criteria) - set(_FILTERS)
        if unknown:
            raise TypeError(f"unknown journal filter(s): {', '.join(sorted(unknown))}")
        wanted = {k: v for k, v in criteria.items() if v is not None}
        out = []
        for call in reversed(self._calls):
            if all(_matches(call, k, v) for k, v in wanted.items()):
                out.append(call)
        return out


def _matches(call: Call, key: str, value: Any) -> bool:
    return matches(key, getattr(call, key), value)


def matches(key: str, have: Any, value: Any) -> bool:
    """One filter criterion against an entry's field: `path` a glob, `status` a code or a class
    (`4xx`), `method` in any case, anything else equal. The pytest journal helper uses it too."""
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
