"""Fault injection: make matching vendor calls fail, slow down or drop, for N calls or until
deleted (`/__admin/faults`).

A fault matches on vendor, method, path (a regex searched in the path after the vendor prefix)
and tenant; the first matching fault in the order they were added applies, one per call. Its
effects: added latency, then either a dropped connection, a status (the vendor's own error body
for it unless a body is given), or, latency alone, the real answer. The registry is bounded and
every field is checked before anything is stored.
"""
from __future__ import annotations

import asyncio
import math
import random
import re
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Awaitable, Callable, Iterable, Mapping

try:  # the regex parser, to refuse patterns that backtrack catastrophically
    import re._parser as _sre  # type: ignore[import-not-found]  # Python 3.11+
    import re._constants as _src  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _src  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

from .control import finite_number
from .http import dump
from .settings import DEFAULTS

MAX_FAULTS: int = DEFAULTS["max_faults"]  # active faults kept (create_app(max_faults=...))
MAX_PATTERN = 512          # characters of a path regex
# A path regex's backtracking bound (`_ways`) on a path this long: `.*x.*y.*z` passes, a fourth
# `.*` or an eleventh alternation in a row does not (each try of a path could take seconds).
TYPICAL_PATH = 100
MAX_WAYS = 2_000_000
MAX_LATENCY_MS = 60_000    # a fault never holds a call longer than a minute
MAX_SIGMA = 5.0            # lognormal spread; past this nearly every draw is the cap anyway
MAX_TIMES = 1_000_000_000
MAX_HEADERS = 32
MAX_HEADER_VALUE = 4096
BODY_LIMIT = 1024 * 1024   # request body read to find the tenant (vendors refuse larger ones)

FIELDS = ("vendor", "method", "path", "tenant", "status", "body", "headers", "latency", "drop",
          "times")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")       # RFC 9110 token
_METHOD = re.compile(r"[A-Za-z]{1,16}")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")                  # no CR, LF or other controls
# Framing is the server's: a fault may not lie about the body's length or the connection.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
# A header value no HTTP server will write: see `drop`.
_POISON = (b"x-mockserver-fault", b"dropped\r\n")


class FaultError(ValueError):
    """A fault refused: its message says which field and why."""


class DroppedConnection(ConnectionResetError):
    """What an in-process client sees of a dropped-connection fault (a real server closes the
    socket instead)."""


@dataclass(eq=False)
class Fault:
    id: str
    vendor: str | None = None
    method: str | None = None
    path: str | None = None
    tenant: str | None = None
    status: int | None = None
    body: Any = None                  # None: the vendor's own error body for `status`
    headers: dict[str, str] = field(default_factory=dict)
    latency: dict[str, Any] | None = None
    drop: bool = False
    times: int | None = None
    remaining: int | None = None
    hits: int = 0
    rx: re.Pattern | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "vendor": self.vendor, "method": self.method, "path": self.path,
                "tenant": self.tenant, "status": self.status, "body": self.body,
                "headers": dict(self.headers), "latency": self.latency, "drop": self.drop,
                "times": self.times, "remaining": self.remaining, "hits": self.hits}

    def applies(self, vendor: str, method: str, path: str) -> bool:
        """Everything but the tenant (known only from the call's credentials)."""
        return ((self.vendor is None or self.vendor == vendor)
                and (self.method is None or self.method == method)
                and (self.rx is None or self.rx.search(path) is not None))


class Faults:
    """The active faults, oldest first. `items` is empty when none is set: the app checks only
    that on every vendor call."""

    def __init__(self, vendors: Iterable[str], seed: int = DEFAULTS["seed"],
                 limit: int = MAX_FAULTS) -> None:
        self.vendors = tuple(vendors)
        self.limit = max(0, int(limit))
        self.items: list[Fault] = []
        self._ids = count(1)
        # Latency draws follow the seed, like every other random choice of the mock.
        self.rng = random.Random(f"faults:{seed}")

    def __len__(self) -> int:
        return len(self.items)

    def add(self, spec: Mapping[str, Any],
            check: Callable[[Fault], None] | None = None) -> Fault:
        """Validate `spec` in full (then `check`, the caller's own test), then store it;
        FaultError (or what `check` raised) and nothing stored otherwise."""
        fault = parse(spec, self.vendors)
        if check is not None:
            check(fault)
        if len(self.items) >= self.limit:
            raise FaultError(f"at most {self.limit} faults may be active; delete some first")
        fault.id = f"f_{next(self._ids)}"
        self.items.append(fault)
        return fault

    def get(self, fault_id: str) -> Fault | None:
        return next((f for f in self.items if f.id == fault_id), None)

    def remove(self, fault_id: str) -> bool:
        fault = self.get(fault_id)
        if fault is None:
            return False
        self.items.remove(fault)
        return True

    def clear(self, tenant: str | None = None) -> None:
        """All faults, or only those scoped to `tenant` (its reset or deletion)."""
        if tenant is None:
            self.items.clear()
        else:
            self.items[:] = [f for f in self.items if f.tenant != tenant]

    def saved(self) -> dict[str, Any]:
        """What a data dir keeps (core/datadir.py): each fault as given, with its id and count,
        and the next id."""
        return {"faults": [f.to_dict() for f in self.items], "next": self._next_id()}

    def restore(self, saved: Mapping[str, Any]) -> None:
        """The faults as `saved` lists them, each checked as `add` checks it (FaultError)."""
        items = []
        for d in saved["faults"]:
            spec = {k: v for k, v in d.items() if k not in ("id", "remaining", "hits")
                    and v is not None}
            fault = parse(spec, self.vendors)
            fault.id, fault.hits, fault.remaining = str(d["id"]), int(d["hits"]), d["remaining"]
            items.append(fault)
        self.items[:] = items
        self._ids = count(int(saved["next"]))

    def _next_id(self) -> int:
        """The number the next fault's id takes, without taking it."""
        n = next(self._ids)
        self._ids = count(n)
        return n

    def candidates(self, vendor: str, method: str, path: str) -> list[Fault]:
        return [f for f in self.items if f.applies(vendor, method, path)]

    def take(self, candidates: list[Fault], tenant: str | None) -> Fault | None:
        """The first candidate for this tenant, counted as hit (and gone when spent). Runs
        without an await, so concurrent calls never share one remaining count."""
        for fault in candidates:
            if fault.tenant is not None and fault.tenant != tenant:
                continue
            if fault not in self.items:  # deleted or spent meanwhile
                continue
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.items.remove(fault)
            return fault
        return None

    def delay_ms(self, fault: Fault) -> float:
        return sample(fault.latency, self.rng) if fault.latency else 0.0


# -- latency ---------------------------------------------------------------------------------
def sample(latency: Mapping[str, Any], rng: random.Random) -> float:
    """One delay in ms from a validated latency spec, capped at MAX_LATENCY_MS."""
    if "fixed" in latency:
        ms = float(latency["fixed"])
    elif "uniform" in latency:
        low, high = latency["uniform"]
        ms = rng.uniform(float(low), float(high))
    else:
        spec = latency["lognormal"]
        # median = exp(mu) for a lognormal, so mu = ln(median)
        ms = rng.lognormvariate(math.log(float(spec["median"])), float(spec["sigma"]))
    return min(max(ms, 0.0), float(MAX_LATENCY_MS))


# -- validation ------------------------------------------------------------------------------
def _ms(value: Any, name: str, *, positive: bool = False) -> float:
    if not finite_number(value):
        raise FaultError(f"{name} must be a finite number of milliseconds")
    if value < 0 or (positive and value <= 0) or value > MAX_LATENCY_MS:
        raise FaultError(f"{name} must be {'above' if positive else 'at least'} 0 and at most "
                         f"{MAX_LATENCY_MS} ms")
    return value


def _latency(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) != 1:
        raise FaultError('latency must be one of {"fixed": ms}, {"uniform": [min_ms, max_ms]}, '
                         '{"lognormal": {"median": ms, "sigma": s}}')
    (kind, spec), = value.items()
    if kind == "fixed":
        return {"fixed": _ms(spec, "latency.fixed")}
    if kind == "uniform":
        if not isinstance(spec, list) or len(spec) != 2:
            raise FaultError("latency.uniform must be [min_ms, max_ms]")
        low, high = (_ms(v, "latency.uniform") for v in spec)
        if low > high:
            raise FaultError("latency.uniform must be [min_ms, max_ms] with min <= max")
        return {"uniform": [low, high]}
    if kind == "lognormal":
        if not isinstance(spec, dict) or set(spec) != {"median", "sigma"}:
            raise FaultError('latency.lognormal must be {"median": ms, "sigma": s}')
        sigma = spec["sigma"]
        if not finite_number(sigma) or not 0 <= sigma <= MAX_SIGMA:
            raise FaultError(f"latency.lognormal.sigma must be a number from 0 to {MAX_SIGMA}")
        return {"lognormal": {"median": _ms(spec["median"], "latency.lognormal.median",
                                            positive=True), "sigma": sigma}}
    raise FaultError(f"unknown latency {kind!r}: use fixed, uniform or lognormal")


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise FaultError("headers must be an object of header names to string values")
    if len(value) > MAX_HEADERS:
        raise FaultError(f"at most {MAX_HEADERS} headers")
    out: dict[str, str] = {}
    for name, v in value.items():
        if not _TOKEN.fullmatch(name):
            raise FaultError(f"header name {name[:64]!r} is not an HTTP token")
        if name.lower() in _FRAMING:
            raise FaultError(f"header {name} is the server's to set")
        if name.lower() in {k.lower() for k in out}:
            raise FaultError(f"header {name} is given twice")
        if not isinstance(v, str) or len(v) > MAX_HEADER_VALUE or not _VALUE.fullmatch(v):
            raise FaultError(f"header {name} must be a string of at most {MAX_HEADER_VALUE} "
                             "printable Latin-1 characters")
        out[name] = v
    return out


def _pattern(value: Any) -> re.Pattern:
    if not isinstance(value, str) or not value:
        raise FaultError("path must be a non-empty regular expression")
    if len(value) > MAX_PATTERN:
        raise FaultError(f"path must be at most {MAX_PATTERN} characters")
    try:
        rx = re.compile(value)
        parsed = _sre.parse(value)
    except (re.error, RecursionError, OverflowError) as exc:
        raise FaultError(f"path is not a valid regular expression: {exc}") from None
    if _risky(parsed):
        raise FaultError("path must not nest a repetition inside another, repeat an "
                         "alternation, or use a backreference (it could backtrack "
                         "without end)")
    if _ways(parsed) > MAX_WAYS:
        raise FaultError("path has too many repetitions and alternations in a row (it could "
                         "backtrack for minutes); anchor it or use fewer .* and |")
    return rx


_REPEATS = {_src.MAX_REPEAT, _src.MIN_REPEAT, getattr(_src, "POSSESSIVE_REPEAT", None)}


def _risky(parsed: Any, in_loop: bool = False) -> bool:
    """True for the shapes that make a backtracking engine take exponential time: a loop
    holding another loop or an alternation ((a+)+, (a|aa)*), and backreferences."""
    for op, av in parsed:
        if op in _REPEATS:
            _, high, sub = av
            if in_loop and high > 1:
                return True
            if _risky(sub, in_loop or high > 1):
                return True
        elif op is _src.BRANCH:
            if in_loop:
                return True
            if any(_risky(p, in_loop) for p in av[1]):
                return True
        elif op is _src.SUBPATTERN:
            if _risky(av[-1], in_loop):
                return True
        elif op in (_src.ASSERT, _src.ASSERT_NOT):
            if _risky(av[1], in_loop):
                return True
        elif op is getattr(_src, "ATOMIC_GROUP", None):
            if _risky(av, in_loop):
                return True
        elif op in (_src.GROUPREF, _src.GROUPREF_EXISTS):
            return True
    return False


def _ways(parsed: Any) -> int:
    """How many ways a backtracking engine may try `parsed` on a path of TYPICAL_PATH
    characters, loops holding no loop or alternation (`_risky`): a loop multiplies by where it
    can stop, an alternation by its branches squared (retrying a branch costs sre some hundred
    times a loop's step back). Loops in a row (`.*.*.*.*`) are polynomial and alternations in a
    row (`(a|aa)(a|aa)...`) exponential though none is nested."""
    ways = 1
    for op, av in parsed:
        if op in _REPEATS:
            _, high, sub = av
            ways *= min(high, TYPICAL_PATH) + 1 if high > 1 else _ways(sub) + 1
        elif op is _src.BRANCH:
            ways *= sum(_ways(p) for p in av[1]) ** 2
        elif op is _src.SUBPATTERN:
            ways *= _ways(av[-1])
        elif op in (_src.ASSERT, _src.ASSERT_NOT):
            ways *= _ways(av[1])
        elif op is getattr(_src, "ATOMIC_GROUP", None):
            ways *= _ways(av)
    return ways


def _string(value: Any, name: str, limit: int = 64) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise FaultError(f"{name} must be a non-empty string of at most {limit} characters")
    return value


def parse(spec: Mapping[str, Any], vendors: Iterable[str]) -> Fault:
    """A Fault from a POSTed body, or FaultError. `body` and `times` null mean absent."""
    if not isinstance(spec, Mapping):
        raise FaultError("a fault must be a JSON object")
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise FaultError(f"unknown field(s): {', '.join(map(str, unknown))[:200]}; "
                         f"a fault has {', '.join(FIELDS)}")
    fault = Fault(id="")
    vendor = spec.get("vendor")
    if vendor is not None:
        names = tuple(vendors)
        if vendor not in names:
            raise FaultError(f"vendor must be one of {', '.join(names)}")
        fault.vendor = vendor
    method = spec.get("method")
    if method is not None:
        if not isinstance(method, str) or not _METHOD.fullmatch(method):
            raise FaultError("method must be an HTTP method name, e.g. GET")
        fault.method = method.upper()
    if spec.get("path") is not None:
        fault.rx = _pattern(spec["path"])
        fault.path = spec["path"]
    if spec.get("tenant") is not None:
        fault.tenant = _string(spec["tenant"], "tenant")
    status = spec.get("status")
    if status is not None:
        # 1xx cannot be a final answer: HTTP servers (h11, httptools) refuse to send one.
        if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
            raise FaultError("status must be an integer from 200 to 599")
        fault.status = status
    fault.body = spec.get("body")
    if spec.get("headers") is not None:
        fault.headers = _headers(spec["headers"])
    if spec.get("latency") is not None:
        fault.latency = _latency(spec["latency"])
    drop = spec.get("drop", False)
    if drop is None:
        drop = False
    if not isinstance(drop, bool):
        raise FaultError("drop must be true or false")
    fault.drop = drop
    times = spec.get("times")
    if times is not None:
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= MAX_TIMES:
            raise FaultError(f"times must be an integer from 1 to {MAX_TIMES}, or null for "
                             "until deleted")
        fault.times = fault.remaining = times
    if (fault.body is not None or fault.headers) and fault.status is None:
        raise FaultError("body and headers need a status")
    if fault.drop and fault.status is not None:
        raise FaultError("a dropped connection sends no status: give drop or status, not both")
    if fault.status is None and not fault.drop and fault.latency is None:
        raise FaultError("a fault needs a status, a latency or drop: true")
    return fault


# -- applying a fault ------------------------------------------------------------------------
Receive = Callable[[], Awaitable[dict]]


class Replay:
    """A receive that hands out the messages read ahead, then the server's own."""

    def __init__(self, receive: Receive, messages: list[dict]) -> None:
        self._receive = receive
        self._messages = messages

    @property
    def pending(self) -> int:
        """Messages read ahead and not yet handed out."""
        return len(self._messages)

    def read_ahead(self) -> bytes:
        """The body bytes read ahead (all of a small body, the start of a large one)."""
        return b"".join(m.get("body", b"") for m in self._messages if m["type"] == "http.request")

    async def __call__(self) -> dict:
        if self._messages:
            return self._messages.pop(0)
        return await self._receive()


async def buffered(receive: Receive, limit: int = BODY_LIMIT) -> tuple[Replay, bytes | None]:
    """Read the request body ahead (to find the tenant in it) and a receive that replays it.
    The body is None when it is larger than `limit` (then only what was read is replayed
    before the rest streams on)."""
    messages: list[dict] = []
    chunks: list[bytes] = []
    size = 0
    complete = False
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            complete = True
            break
        if size > limit:
            break
    return Replay(receive, messages), (b"".join(chunks) if complete else None)


def encode_body(fault: Fault, content_type: str) -> tuple[bytes, str]:
    """A given body's bytes and content type: JSON, or a string sent as it is when the fault's
    own Content-Type is not JSON (an HTML page from a proxy)."""
    given = next((v for k, v in fault.headers.items() if k.lower() == "content-type"), None)
    if isinstance(fault.body, str) and given is not None and "json" not in given.lower():
        return fault.body.encode("utf-8", "backslashreplace"), given
    return dump(fault.body), given or content_type


def raw_headers(*layers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Header dicts merged, later ones winning whatever the letter case."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for k, v in layer.items():
            merged[k.lower()] = (k, v)
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in merged.values()]


async def drop(send: Callable[[dict], Awaitable[None]]) -> None:
    """Close the connection without a byte of response.

    ASGI has no "abort" message. Servers mark a response started before they encode its
    headers, and refuse a header value holding CR/LF (uvicorn with h11 or httptools): so a
    start carrying such a header writes nothing, raises here, and the app returning with the
    response unfinished makes the server close the socket. A server (or in-process transport)
    that takes the start without looking gets the exception ASGI defines for a broken response
    after it started: it must close the connection, and an in-process client sees the error.
    """
    try:
        await send({"type": "http.response.start", "status": 500, "headers": [_POISON]})
    except Exception:  # noqa: BLE001 - the server refused it: nothing went out
        return
    raise DroppedConnection("mockserver fault: connection dropped")


async def pause(ms: float) -> None:
    """Latency is wall time (a client's timeout runs on it), not the mock clock."""
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)
