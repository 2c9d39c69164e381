"""The eight connection resources: their URL spellings, query DTOs, filters, and indexed lists."""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, repeat
from typing import Any, Callable, Iterable, Mapping, Sequence

from ...core.http import dump
from ...core.memo import Memo
from .validation import (MISSING, Dto, IsBoolean, IsDateString, IsEnum, IsInt, IsNumber,
                         IsString, Max, Min, Prop, Rule, js_bool, js_number, page_props,
                         parse_when)

SORT_FIELDS = ("createdAt", "updatedAt", "title", "type")


@dataclass(frozen=True)
class Filter:
    """One query parameter: how it validates and what it selects."""

    param: str
    op: str            # search | contains | iequals | enum | bool | min | max | from | to | anyContains
    fields: tuple[str, ...] = ()
    values: tuple[str, ...] = ()   # enum values
    bounds: tuple[float, float] | None = None  # Min/Max on a numeric filter

    def prop(self) -> Prop:
        if self.op == "enum":
            return Prop(self.param, (IsEnum(self.values),), optional=True)
        if self.op == "bool":
            return Prop(self.param, (IsBoolean(),), optional=True, transform=js_bool)
        if self.op in ("min", "max"):
            rules = (IsNumber(),) if self.bounds is None else \
                (Max(self.bounds[1]), Min(self.bounds[0]), IsNumber())
            return Prop(self.param, rules, optional=True, transform=js_number)
        if self.op in ("from", "to"):
            return Prop(self.param, (IsDateString(),), optional=True)
        return Prop(self.param, (IsString(),), optional=True)


@dataclass(frozen=True, eq=False)  # eight singletons: identity is equality
class Kind:
    slug: str                   # the canonical URL segment, e.g. "account-info"
    name: str                   # the camelCase resource name in intent tokens and webhooks
    aliases: tuple[str, ...]    # further spellings, normalised (see `normalise`)
    order: tuple[str, ...]      # the DTO's property order, as the vendor's docs list them
    filters: tuple[Filter, ...]
    dto: Dto = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        props = page_props(SORT_FIELDS)
        props.update({f.param: f.prop() for f in self.filters})
        object.__setattr__(self, "dto", Dto(tuple(props[name] for name in self.order)))


def normalise(segment: str) -> str:
    return segment.replace("-", "").replace("_", "").lower()


_PAGE = ("page", "limit", "sortBy", "sortOrder")

BALANCE_TYPES = ("gift_card", "points", "rewards", "cash", "credit", "store_credit",
                 "loyalty_points", "miles", "other")
STATEMENT_STATUSES = ("open", "paid", "past_due", "adjusted")
TRIP_TYPES = ("hotel", "flight", "rental_car", "train", "cruise", "package", "ride",
              "ground_transport", "wishlist", "other")
BOOKING_STATUSES = ("confirmed", "pending", "cancelled", "completed", "in_progress", "wishlist",
                    "failed", "expired", "unknown")

KINDS: tuple[Kind, ...] = (
    Kind("account-info", "accountInfo", ("accountinfo",),
         ("search", "name", "email", "phone") + _PAGE,
         (Filter("search", "search", ("name", "email", "phone", "vendorId")),
          Filter("name", "contains", ("name",)),
          Filter("email", "contains", ("email",)),
          Filter("phone", "contains", ("phone",)))),
    Kind("balances", "balances",
         ("balances", "balance", "accountbalance", "accountbalances"),
         ("search", "type", "currency", "isActive", "expiresFrom", "expiresTo", "amountMin",
          "amountMax") + _PAGE,
         (Filter("search", "search", ("description", "accountIdentifier", "vendorId")),
          Filter("type", "enum", ("type",), BALANCE_TYPES),
          Filter("currency", "iequals", ("currency",)),
          Filter("isActive", "bool", ("isActive",)),
          Filter("expiresFrom", "from", ("expiresAt",)),
          Filter("expiresTo", "to", ("expiresAt",)),
          Filter("amountMin", "min", ("amount",)),
          Filter("amountMax", "max", ("amount",)))),
    Kind("billing-statements", "billingStatements",
         ("billingstatements", "billingstatement"),
         _PAGE + ("search", "status", "periodStart", "periodEnd", "amountDueMin", "amountDueMax"),
         (Filter("search", "search", ("id", "vendorId")),
          Filter("status", "enum", ("status",), STATEMENT_STATUSES),
          Filter("periodStart", "from", ("periodStart",)),
          Filter("periodEnd", "to", ("periodEnd",)),
          Filter("amountDueMin", "min", ("amountDue",)),
          Filter("amountDueMax", "max", ("amountDue",)))),
    Kind("history", "history", ("history", "histories"),
         ("search", "type", "startDate", "endDate") + _PAGE,
         (Filter("search", "search", ("vendorId", "structuredData.transactionId",
                                      "enrichedData.merchantName", "enrichedData.category")),
          Filter("type", "iequals", ("enrichedData.category",)),
          Filter("startDate", "from", ("createdAt",)),
          Filter("endDate", "to", ("createdAt",)))),
    Kind("loyalty", "loyalty", ("loyalty", "loyalties"),
         ("search", "loyaltyTier") + _PAGE,
         (Filter("search", "search", ("loyaltyTier", "vendorId", "metadata.program")),
          Filter("loyaltyTier", "iequals", ("loyaltyTier",)))),
    Kind("payment-methods", "paymentMethods", ("paymentmethods", "paymentmethod"),
         _PAGE, ()),
    Kind("reading-history", "readingHistory", ("readinghistory", "readinghistories"),
         _PAGE + ("search", "author", "read", "minProgress", "maxProgress", "startDate",
                  "endDate"),
         (Filter("search", "search", ("title",)),
          Filter("author", "anyContains", ("authors",)),
          Filter("read", "bool", ("read",)),
          Filter("minProgress", "min", ("progress",), bounds=(0, 100)),
          Filter("maxProgress", "max", ("progress",), bounds=(0, 100)),
          Filter("startDate", "from", ("createdAt",)),
          Filter("endDate", "to", ("createdAt",)))),
    Kind("trips", "trips", ("trips", "trip"),
         ("search", "type", "bookingStatus", "provider", "locationCity", "locationCountryCode",
          "checkInFrom", "checkInTo", "checkOutFrom", "checkOutTo", "amountMin", "amountMax",
          "currency") + _PAGE,
         (Filter("search", "search", ("name", "provider", "locationDisplayName", "locationCity",
                                      "confirmationNumber")),
          Filter("type", "enum", ("type",), TRIP_TYPES),
          Filter("bookingStatus", "enum", ("bookingStatus",), BOOKING_STATUSES),
          Filter("provider", "iequals", ("provider",)),
          Filter("locationCity", "iequals", ("locationCity",)),
          Filter("locationCountryCode", "iequals", ("locationCountryCode",)),
          Filter("checkInFrom", "from", ("checkInDate",)),
          Filter("checkInTo", "to", ("checkInDate",)),
          Filter("checkOutFrom", "from", ("checkOutDate",)),
          Filter("checkOutTo", "to", ("checkOutDate",)),
          Filter("amountMin", "min", ("amount",)),
          Filter("amountMax", "max", ("amount",)),
          Filter("currency", "iequals", ("currency",)))),
)

_ALIASES: dict[str, Kind] = {}
for _k in KINDS:
    for _a in (normalise(_k.slug), normalise(_k.name)) + _k.aliases:
        _ALIASES[_a] = _k
# The spellings clients and the fixtures use, exactly: one lookup for the common case (every
# resource read and every snapshot resolves one), no normalising.
_EXACT: dict[str, Kind] = {**_ALIASES, **{k.slug: k for k in KINDS}, **{k.name: k for k in KINDS}}


def kind_for(segment: str) -> Kind | None:
    """Any spelling of a resource (kebab, camel, snake, singular) to its kind."""
    kind = _EXACT.get(segment)
    if kind is None:
        kind = _ALIASES.get(normalise(segment))
    return kind


def _number(v: Any) -> Any:
    """`@Type(() => Number)` on a string: the web SDK's example app sends its number inputs'
    text (`"limit": "5"`)."""
    return js_number(v) if isinstance(v, str) else v


# Operation arguments are free-form (each integration declares its own under GET /integrations
# `operations.*.arguments`); the ones every operation shares are typed: (rules, conversion).
_OPERATION_ARGS: dict[str, dict[str, tuple[tuple[Rule, ...], Callable[[Any], Any]]]] = {
    "read": {"limit": ((Min(1), IsInt()), _number), "required": ((IsBoolean(),), lambda v: v)},
    "write": {"required": ((IsBoolean(),), lambda v: v)},
}


def read_limit(ops: dict[str, Any] | None) -> int | None:
    """The `read.limit` of a validated resource request, converted, or None."""
    limit = ((ops or {}).get("read") or {}).get("limit")
    return None if limit is None else int(_number(limit))


def requested_errors(value: dict[str, Any], path: str) -> list[tuple[str, dict[str, str]]]:
    """The `resources` of POST /intent-token, as nested class-validator DTOs would check it.

    Keys are resource names in any spelling the routes accept (`kind_for`); each value is an
    object with optional `read`/`write` objects. Messages carry the parent path, as NestJS
    prefixes nested ones; unknown keys come first at each level.
    """
    errors: list[tuple[str, dict[str, str]]] = []
    known = [name for name in value if kind_for(name) is not None]
    for name in value:
        if kind_for(name) is None:
            errors.append((f"{path}.{name}", {
                "whitelistValidation": f"{path}.property {name} should not exist"}))
    for name in known:
        ops, where = value[name], f"{path}.{name}"
        if ops is None:  # @IsOptional() lets null through
            continue
        if not isinstance(ops, dict):
            errors.append((where, {"isObject": f"{where} must be an object"}))
            continue
        for key in ops:
            if key not in _OPERATION_ARGS:
                errors.append((f"{where}.{key}", {
                    "whitelistValidation": f"{where}.property {key} should not exist"}))
        for op, typed in _OPERATION_ARGS.items():
            args, at = ops.get(op), f"{where}.{op}"
            if args is None:
                continue
            if not isinstance(args, dict):
                errors.append((at, {"isObject": f"{at} must be an object"}))
                continue
            for arg, (rules, convert) in typed.items():
                v = args.get(arg, MISSING)
                if v is MISSING or v is None:
                    continue
                v = convert(v)
                failed = {r.name: f"{at}." + r.message(arg) for r in rules if not r.test(v)}
                if failed:
                    errors.append((f"{at}.{arg}", failed))
    return errors


def get_path(item: dict, path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _epoch(value: Any) -> float | None:
    if isinstance(value, str) and len(value) in (20, 24) and value[-1] == "Z" \
            and value[10] == "T":
        # The fixtures' own shape (2024-01-15T10:30:00Z, .000Z): read at C speed, which keeps
        # sorting and date-filtering a 100,000-item set within a request's budget.
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    dt = parse_when(value) if isinstance(value, str) else None
    return dt.timestamp() if dt is not None else None


def _sort_key(item: dict, field: str) -> Any:
    if field in ("createdAt", "updatedAt"):
        return _epoch(item.get(field))
    value = item.get(field)
    if value is None and field == "title":
        value = item.get("name")  # resources without a title sort by their display name
    return value.lower() if isinstance(value, str) else value


_NONE: frozenset[int] = frozenset()
PAGES_MEMO = 512   # rendered pages kept per resource set: a suite or a poller repeats few


class ResourceSet:
    """One connection's items of one kind, immutable once built.

    Items are JSON-encoded once; each (sortBy, sortOrder) order, each filter column and its
    index (values to item numbers, or a sorted list for ranges) is built once on first use. So
    a page request touches only the items it returns plus the index entries it matches, never
    every item: a 100,000-item set serves any filtered, sorted page in milliseconds.
    """

    __slots__ = ("items", "encoded", "_orders", "_ranks", "_cols", "_index", "_pages")

    def __init__(self, items: Iterable[dict]) -> None:
        self.items: list[dict] = list(items)
        self.encoded: list[bytes] = [dump(i) for i in self.items]
        self._orders: dict[tuple[str, str], tuple[int, ...]] = {}  # saves a sort per request
        self._ranks: dict[tuple[str, str], list[int]] = {}  # item -> its place in an order
        self._cols: dict[tuple[str, str], list[Any]] = {}  # saves re-reading a field per filter
        self._index: dict[tuple[str, str], Any] = {}  # saves a scan per equality/range filter
        self._pages: Memo[tuple, list] = Memo(PAGES_MEMO)  # saves filtering, encoding a page

    def __len__(self) -> int:
        return len(self.items)

    def cached_page(self, key: tuple) -> list | None:
        """[head, timestamp, whole body] of a page by its validated query, if kept: the set
        never changes, so the head is rendered once; the whole body is kept for the last
        timestamp (a frozen clock, or calls within one millisecond, send the very same bytes
        object, so neither the response nor the journal copies it again)."""
        return self._pages.get(key)

    def keep_page(self, key: tuple, head: bytes) -> list:
        """Keep a page's rendered head (`cached_page`)."""
        return self._pages.keep(key, [head, None, b""])

    def order(self, sort_by: str, sort_order: str) -> tuple[int, ...]:
        key = (sort_by, sort_order)
        idx = self._orders.get(key)
        if idx is None:
            if sort_by in ("createdAt", "updatedAt"):
                keys = self.column("from", sort_by)  # the same epochs a date filter reads
            else:
                keys = [_sort_key(i, sort_by) for i in self.items]
            present = [n for n, k in enumerate(keys) if k is not None]
            missing = [n for n, k in enumerate(keys) if k is None]
            present.sort(key=keys.__getitem__, reverse=(sort_order == "desc"))
            idx = self._orders[key] = tuple(present + missing)
        return idx

    def rank(self, sort_by: str, sort_order: str) -> list[int]:
        """Each item's place in that order (to sort a few matches without a scan)."""
        key = (sort_by, sort_order)
        rank = self._ranks.get(key)
        if rank is None:
            rank = [0] * len(self.items)
            for place, n in enumerate(self.order(sort_by, sort_order)):
                rank[n] = place
            self._ranks[key] = rank
        return rank

    def column(self, op: str, path: str) -> list[Any]:
        """A field of every item, pre-shaped for a filter op (lower-cased text, epochs, ...)."""
        key = (op, path)
        col = self._cols.get(key)
        if col is None:
            if op in ("from", "to"):
                col = self._cols.get(("to" if op == "from" else "from", path))
                if col is None:
                    col = [_epoch(get_path(i, path)) for i in self.items]
            elif op in ("contains", "iequals", "search"):
                col = [(str(v).lower() if v is not None else None)
                       for v in (get_path(i, path) for i in self.items)]
            elif op == "anyContains":
                col = [[str(x).lower() for x in (get_path(i, path) or [])] for i in self.items]
            else:
                col = [get_path(i, path) for i in self.items]
            self._cols[key] = col
        return col

    def _buckets(self, op: str, path: str) -> dict[Any, frozenset[int]]:
        """Equality index: a column's value -> the items holding it."""
        key = ("eq", op, path)
        index = self._index.get(key)
        if index is None:
            groups: dict[Any, list[int]] = {}
            for n, v in enumerate(self.column(op, path)):
                try:
                    groups.setdefault(v, []).append(n)
                except TypeError:  # an unhashable value (a list) equals no query value
                    pass
            index = self._index[key] = {v: frozenset(ns) for v, ns in groups.items()}
        return index

    def _sorted(self, op: str, path: str) -> tuple[list[Any], list[int]]:
        """Range index: a column's comparable values in ascending order, and their items."""
        kind = "epoch" if op in ("from", "to") else "number"
        key = ("range", kind, path)
        index = self._index.get(key)
        if index is None:
            pairs = sorted((v, n) for n, v in enumerate(self.column(op, path))
                           if isinstance(v, (int, float)) and v == v)  # v == v: not NaN
            index = self._index[key] = ([v for v, _ in pairs], [n for _, n in pairs])
        return index

    def _containing(self, op: str, path: str, needle: str) -> Iterable[int]:
        """The items whose text holds `needle` (not empty), tested at C speed."""
        key = ("text", op, path)
        texts = self._index.get(key)
        if texts is None:  # a missing field is "", which holds no needle
            texts = self._index[key] = [c or "" for c in self.column(op, path)]
        return compress(range(len(texts)), map(str.__contains__, texts, repeat(needle)))

    def matching(self, f: Filter, value: Any) -> frozenset[int] | set[int]:
        """The items one filter selects (in no order)."""
        op = f.op
        if op in ("search", "contains"):
            needle = value.lower()
            if not needle:  # in every text, but not in a missing field
                return {n for p in f.fields for n, c in enumerate(self.column(op, p))
                        if c is not None}
            found: set[int] = set()
            for p in f.fields:
                found.update(self._containing(op, p, needle))
            return found
        path = f.fields[0]
        if op == "anyContains":
            needle = value.lower()
            return {n for n, c in enumerate(self.column(op, path)) if any(needle in a for a in c)}
        if op == "iequals":
            return self._buckets(op, path).get(value.lower(), _NONE)
        if op in ("enum", "bool"):
            try:
                return self._buckets(op, path).get(value, _NONE)
            except TypeError:
                return _NONE
        if op in ("min", "max"):
            bound = value
        else:
            bound = parse_when(value, end_of_day=(op == "to")).timestamp()
        values, items = self._sorted(op, path)
        if op in ("min", "from"):
            return frozenset(items[bisect_left(values, bound):])
        return frozenset(items[:bisect_right(values, bound)])

    def select(self, kind: Kind, query: Mapping[str, Any]) -> Sequence[int]:
        """Indices of the matching items, in the requested order."""
        sort_by, sort_order = query.get("sortBy", "createdAt"), query.get("sortOrder", "desc")
        idx = self.order(sort_by, sort_order)
        sets = [self.matching(f, query[f.param]) for f in kind.filters if f.param in query]
        if not sets:
            return idx
        sets.sort(key=len)
        matched = sets[0]
        for other in sets[1:]:
            matched = matched & other
        if len(matched) * 8 < len(idx):  # a few: sort them by their place, no scan
            return sorted(matched, key=self.rank(sort_by, sort_order).__getitem__)
        return [n for n in idx if n in matched]
