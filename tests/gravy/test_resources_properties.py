"""Hypothesis properties of GET /connections/{connectionId}/{resource}.

Paging returns every item once with consistent meta; each filter selects exactly what a
reference predicate written here selects from the full list; every sort order holds; garbage
query strings give 200 or the ValidationPipe 400, never a 5xx.

The reference predicates follow the vendor docs (gravy-connect.txt) and the semantics that
resources.py states (which fields `search` covers, substring vs. equality), written
independently of resources.py: case-insensitive means JavaScript's toLowerCase (ILIKE), min/max
are inclusive, a date range is inclusive and a date-only upper bound covers its whole day.
"""
from __future__ import annotations

import math
import string
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from hypothesis import example, given, settings, strategies as st

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient
from .conftest import RESOURCES, example as documented_item, token_for

SLUGS = list(RESOURCES)
SORT_FIELDS = ["createdAt", "updatedAt", "title", "type"]

# The enums, as the vendor docs list them.
BALANCE_TYPES = ["gift_card", "points", "rewards", "cash", "credit", "store_credit",
                 "loyalty_points", "miles", "other"]
STATEMENT_STATUSES = ["open", "paid", "past_due", "adjusted"]
TRIP_TYPES = ["hotel", "flight", "rental_car", "train", "cruise", "package", "ride",
              "ground_transport", "wishlist", "other"]
BOOKING_STATUSES = ["confirmed", "pending", "cancelled", "completed", "in_progress", "wishlist",
                    "failed", "expired", "unknown"]

# param -> (op, fields[, enum values | (lo, hi) bounds]) per resource (docs' query tables).
SPEC: dict[str, dict[str, tuple]] = {
    "account-info": {
        "search": ("search", ("name", "email", "phone", "vendorId")),
        "name": ("contains", ("name",)),
        "email": ("contains", ("email",)),
        "phone": ("contains", ("phone",)),
    },
    "balances": {
        "search": ("search", ("description", "accountIdentifier", "vendorId")),
        "type": ("enum", ("type",), BALANCE_TYPES),
        "currency": ("iequals", ("currency",)),
        "isActive": ("bool", ("isActive",)),
        "expiresFrom": ("from", ("expiresAt",)),
        "expiresTo": ("to", ("expiresAt",)),
        "amountMin": ("min", ("amount",)),
        "amountMax": ("max", ("amount",)),
    },
    "billing-statements": {
        "search": ("search", ("id", "vendorId")),   # "Search by external ID or vendor ID"
        "status": ("enum", ("status",), STATEMENT_STATUSES),
        "periodStart": ("from", ("periodStart",)),
        "periodEnd": ("to", ("periodEnd",)),
        "amountDueMin": ("min", ("amountDue",)),
        "amountDueMax": ("max", ("amountDue",)),
    },
    "history": {
        "search": ("search", ("vendorId", "structuredData.transactionId",
                              "enrichedData.merchantName", "enrichedData.category")),
        "type": ("iequals", ("enrichedData.category",)),
        "startDate": ("from", ("createdAt",)),
        "endDate": ("to", ("createdAt",)),
    },
    "loyalty": {
        "search": ("search", ("loyaltyTier", "vendorId", "metadata.program")),
        "loyaltyTier": ("iequals", ("loyaltyTier",)),
    },
    "payment-methods": {},
    "reading-history": {
        "search": ("search", ("title",)),           # "Search by title (case-insensitive)"
        "author": ("anyContains", ("authors",)),    # "Filter by author (case-insensitive)"
        "read": ("bool", ("read",)),
        "minProgress": ("min", ("progress",), (0, 100)),
        "maxProgress": ("max", ("progress",), (0, 100)),
        "startDate": ("from", ("createdAt",)),
        "endDate": ("to", ("createdAt",)),
    },
    "trips": {
        "search": ("search", ("name", "provider", "locationDisplayName", "locationCity",
                              "confirmationNumber")),
        "type": ("enum", ("type",), TRIP_TYPES),
        "bookingStatus": ("enum", ("bookingStatus",), BOOKING_STATUSES),
        "provider": ("iequals", ("provider",)),
        "locationCity": ("iequals", ("locationCity",)),
        "locationCountryCode": ("iequals", ("locationCountryCode",)),
        "checkInFrom": ("from", ("checkInDate",)),
        "checkInTo": ("to", ("checkInDate",)),
        "checkOutFrom": ("from", ("checkOutDate",)),
        "checkOutTo": ("to", ("checkOutDate",)),
        "amountMin": ("min", ("amount",)),
        "amountMax": ("max", ("amount",)),
        "currency": ("iequals", ("currency",)),
    },
}
FILTERABLE = [s for s in SLUGS if SPEC[s]]
PAGE_KEYS = ("page", "limit", "sortBy", "sortOrder")

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)


# -- the app, built once for the module --------------------------------------------------------
class Env:
    def __init__(self) -> None:
        self.client = MockClient(create_app(seed=0, clock=Clock(DOC_TIME)))
        self.auth = {"Authorization": f"Bearer {token_for(self.client)}"}
        self._full: dict[str, list[dict]] = {}

    def get(self, slug: str, params: Any = None, check: bool = False):
        return self.client.get(f"/gravy/connections/{RESOURCES[slug]}/{slug}", params=params,
                               headers=self.auth, check=check)

    def walk(self, slug: str, params: dict[str, Any]) -> list[dict]:
        """Every page of a query, concatenated (meta checked on the way)."""
        out: list[dict] = []
        page = 1
        limit = int(params.get("limit", 20))
        while True:
            r = self.get(slug, {**params, "page": page}, check=(page == 1))
            assert r.status_code == 200, r.text
            body = r.json()
            meta = body["meta"]
            assert meta["page"] == page and meta["limit"] == limit
            assert meta["itemCount"] == len(body["data"])
            out += body["data"]
            if not meta["hasNext"]:
                assert meta["total"] == len(out)
                return out
            page += 1

    def full(self, slug: str) -> list[dict]:
        """The whole list in the default order (createdAt desc): the base order."""
        if slug not in self._full:
            self._full[slug] = self.walk(slug, {"limit": 100})
        return self._full[slug]

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.close()


# -- the reference semantics ------------------------------------------------------------------
def get_path(item: dict, path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def instant(text: str) -> datetime:
    """An ISO-8601 instant as the data and these tests write them."""
    if len(text) == 10:
        return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), tzinfo=timezone.utc)
    dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def low(v: Any) -> str:
    return str(v).lower()  # JS String.prototype.toLowerCase, not Unicode case folding


def matches(spec: tuple, value: str, item: dict) -> bool:
    op, fields = spec[0], spec[1]
    vals = [get_path(item, f) for f in fields]
    v = vals[0]
    if op in ("search", "contains"):
        return any(x is not None and low(value) in low(x) for x in vals)
    if op == "iequals":
        return v is not None and low(v) == low(value)
    if op == "anyContains":
        return any(low(value) in low(a) for a in (v or []))
    if op == "enum":
        return v == value
    if op == "bool":
        return v is (value == "true")
    if op == "min":
        return v is not None and v >= float(value)
    if op == "max":
        return v is not None and v <= float(value)
    if v is None:
        return False
    when = instant(v)
    if op == "from":
        return when >= instant(value)
    if len(value) == 10:  # a bare date as an upper bound: the whole day is in
        return when < instant(value) + timedelta(days=1)
    return when <= instant(value)


def sort_key(item: dict, field: str) -> Any:
    if field in ("createdAt", "updatedAt"):
        v = item.get(field)
        return instant(v) if v is not None else None
    v = item.get(field)
    if v is None and field == "title":
        v = item.get("name")  # resources.py: items without a title sort by their display name
    return low(v) if v is not None else None


def assert_sorted(items: list[dict], base: list[dict], sort_by: str, order: str) -> None:
    """Keys monotonic; items lacking the key last, in base order."""
    keys = [sort_key(i, sort_by) for i in items]
    present = [k for k in keys if k is not None]
    n = len(present)
    assert all(k is None for k in keys[n:]), "an item lacking the field sorts before one with it"
    pairs = list(zip(present, present[1:]))
    if order == "asc":
        assert all(a <= b for a, b in pairs), (sort_by, order)
    else:
        assert all(a >= b for a, b in pairs), (sort_by, order)
    base_pos = {i["id"]: n for n, i in enumerate(base)}
    missing = [base_pos[i["id"]] for i in items[n:]]
    assert missing == sorted(missing), "items lacking the field are not in base order"


# -- strategies -------------------------------------------------------------------------------
CASES = [str, str.upper, str.lower, str.swapcase, str.title]
ASCII_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.@+&'", max_size=4)


@st.composite
def piece_of(draw, items: list[dict], fields: tuple[str, ...], whole: bool = False) -> str:
    item = draw(st.sampled_from(items))
    v = get_path(item, draw(st.sampled_from(fields)))
    if isinstance(v, list):
        v = draw(st.sampled_from(v)) if v else ""
    text = str(v)
    if not whole and text:
        a = draw(st.integers(0, len(text) - 1))
        b = draw(st.integers(a + 1, len(text)))
        text = text[a:b]
    return draw(st.sampled_from(CASES))(text)


def fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@st.composite
def number_near(draw, items: list[dict], field: str, bounds: tuple | None) -> str:
    values = [get_path(i, field) for i in items]
    if bounds is not None:
        return str(draw(st.one_of(st.sampled_from(values), st.integers(*bounds))))
    lo, hi = min(values), max(values)
    x = draw(st.one_of(
        st.sampled_from(values),
        st.floats(lo - 10, hi + 10, allow_nan=False).map(lambda f: round(f, 2)),
        st.integers(int(lo) - 10, int(hi) + 10)))
    return fmt_number(x)


@st.composite
def date_near(draw, items: list[dict], field: str) -> str:
    raw = get_path(draw(st.sampled_from(items)), field)
    form = draw(st.sampled_from(["verbatim", "date", "shifted", "shifted-ms", "offset",
                                 "random-date"]))
    if form == "verbatim":
        return raw
    if form == "date":
        return raw[:10]
    if form == "random-date":
        d = draw(st.dates(min_value=datetime(2022, 1, 1).date(),
                          max_value=datetime(2027, 12, 31).date()))
        return d.isoformat()
    when = instant(raw) + timedelta(seconds=draw(st.integers(-3 * 86400, 3 * 86400)))
    if form == "shifted":
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == "shifted-ms":
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{draw(st.integers(0, 999)):03d}Z"
    hours = draw(st.integers(-11, 12))
    local = when.astimezone(timezone(timedelta(hours=hours)))
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{'+' if hours >= 0 else '-'}" \
        f"{abs(hours):02d}:00"


def value_for(spec: tuple, items: list[dict]) -> st.SearchStrategy[str]:
    op, fields = spec[0], spec[1]
    if op in ("search", "contains", "anyContains"):
        return st.one_of(piece_of(items, fields), ASCII_TEXT)
    if op == "iequals":
        return st.one_of(piece_of(items, fields, whole=True), piece_of(items, fields),
                         ASCII_TEXT)
    if op == "enum":
        return st.sampled_from(spec[2])
    if op == "bool":
        return st.sampled_from(["true", "false"])
    if op in ("min", "max"):
        return number_near(items, fields[0], spec[2] if len(spec) > 2 else None)
    return date_near(items, fields[0])


# -- 1. paging ---------------------------------------------------------------------------------
@settings(FAST, max_examples=30)
@given(slug=st.sampled_from(SLUGS), limit=st.integers(1, 100),
       sort_by=st.sampled_from([None] + SORT_FIELDS), sort_order=st.sampled_from([None, "asc",
                                                                                  "desc"]))
@example(slug="trips", limit=1, sort_by="title", sort_order="asc")
@example(slug="reading-history", limit=100, sort_by=None, sort_order=None)
@example(slug="billing-statements", limit=7, sort_by="type", sort_order="desc")
def test_walking_the_pages_returns_every_item_once(env, slug, limit, sort_by, sort_order):
    q: dict[str, Any] = {"limit": limit}
    if sort_by:
        q["sortBy"] = sort_by
    if sort_order:
        q["sortOrder"] = sort_order
    full = {i["id"]: i for i in env.full(slug)}
    total = len(full)
    pages = math.ceil(total / limit)
    seen: list[dict] = []
    for page in range(1, pages + 2):  # one past the end
        r = env.get(slug, {**q, "page": page}, check=page in (1, pages + 1))
        assert r.status_code == 200
        body = r.json()
        count = max(0, min(limit, total - (page - 1) * limit))
        assert body["meta"] == {"page": page, "limit": limit, "total": total,
                                "totalPages": pages, "hasNext": page < pages,
                                "hasPrev": page > 1, "itemCount": count}
        assert len(body["data"]) == count
        assert body["timestamp"] == DOC_TIME and body["version"] == "v1"
        seen += body["data"]
    ids = [i["id"] for i in seen]
    assert len(ids) == len(set(ids)) == total == 150
    assert set(ids) == set(full)
    assert all(full[i["id"]] == i for i in seen)  # the same item whatever the page


# -- 2. filters ------------------------------------------------------------------------------
@settings(FAST, max_examples=120)
@given(data=st.data())
def test_filters_select_what_the_reference_selects(env, data):
    slug = data.draw(st.sampled_from(FILTERABLE), label="slug")
    spec = SPEC[slug]
    items = env.full(slug)
    params = data.draw(st.lists(st.sampled_from(sorted(spec)), min_size=1, max_size=3,
                                unique=True), label="params")
    query = {p: data.draw(value_for(spec[p], items), label=p) for p in params}
    limit = data.draw(st.sampled_from([100, 100, 37, 10]), label="limit")
    got = [i["id"] for i in env.walk(slug, {**query, "limit": limit})]
    want = [i["id"] for i in items if all(matches(spec[p], query[p], i) for p in params)]
    assert got == want


@settings(FAST, max_examples=60)
@given(data=st.data())
def test_single_filter_matches_the_reference(env, data):
    """Each filter alone, every filter of every resource, values from the data."""
    slug, param = data.draw(st.sampled_from([(s, p) for s in FILTERABLE for p in SPEC[s]]),
                            label="filter")
    items = env.full(slug)
    value = data.draw(value_for(SPEC[slug][param], items), label="value")
    got = [i["id"] for i in env.walk(slug, {param: value, "limit": 100})]
    assert got == [i["id"] for i in items if matches(SPEC[slug][param], value, i)]


@pytest.mark.parametrize(("slug", "param"), [(s, p) for s in FILTERABLE for p in SPEC[s]])
def test_every_filter_selects_some_but_not_all(env, slug, param):
    """A value taken from a generated item selects a proper, non-empty subset (filters bite)."""
    items = env.full(slug)
    op, fields = SPEC[slug][param][0], SPEC[slug][param][1]
    sample = items[len(items) // 2]
    raw = get_path(sample, fields[0])
    value = {"search": lambda: str(raw), "contains": lambda: str(raw),
             "iequals": lambda: str(raw).upper(), "anyContains": lambda: raw[0],
             "enum": lambda: raw, "bool": lambda: "true" if raw else "false",
             "min": lambda: fmt_number(raw), "max": lambda: fmt_number(raw),
             "from": lambda: raw, "to": lambda: raw}[op]()
    got = [i["id"] for i in env.walk(slug, {param: value, "limit": 100})]
    want = [i["id"] for i in items if matches(SPEC[slug][param], value, i)]
    assert got == want
    assert sample["id"] in got
    if op in ("search", "contains", "anyContains", "enum", "bool"):
        assert len(got) < len(items)


# -- 3. sort ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", SORT_FIELDS)
@pytest.mark.parametrize("slug", SLUGS)
def test_every_sort_order_holds(env, slug, sort_by, sort_order):
    base = env.full(slug)
    items = env.walk(slug, {"sortBy": sort_by, "sortOrder": sort_order, "limit": 100})
    assert sorted(i["id"] for i in items) == sorted(i["id"] for i in base)
    assert_sorted(items, base, sort_by, sort_order)


def test_base_order_is_created_at_descending(env):
    for slug in SLUGS:
        base = env.full(slug)
        assert base[0] == documented_item(slug)
        stamps = [instant(i["createdAt"]) for i in base]
        assert stamps == sorted(stamps, reverse=True)


@settings(FAST, max_examples=40)
@given(data=st.data())
def test_sort_holds_on_filtered_pages(env, data):
    slug = data.draw(st.sampled_from(FILTERABLE), label="slug")
    spec = SPEC[slug]
    items = env.full(slug)
    param = data.draw(st.sampled_from(sorted(spec)), label="param")
    value = data.draw(value_for(spec[param], items), label="value")
    sort_by = data.draw(st.sampled_from(SORT_FIELDS), label="sortBy")
    order = data.draw(st.sampled_from(["asc", "desc"]), label="sortOrder")
    limit = data.draw(st.integers(5, 100), label="limit")
    got = env.walk(slug, {param: value, "sortBy": sort_by, "sortOrder": order, "limit": limit})
    want = [i for i in items if matches(spec[param], value, i)]
    assert sorted(i["id"] for i in got) == sorted(i["id"] for i in want)
    assert_sorted(got, items, sort_by, order)


# -- 4. garbage query strings ------------------------------------------------------------------
ALL_KEYS = sorted({p for s in SPEC.values() for p in s} | set(PAGE_KEYS))
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)
KEY = st.one_of(st.sampled_from(ALL_KEYS), st.sampled_from(ALL_KEYS), TEXT)
VALUE = st.one_of(
    TEXT,
    st.integers().map(str),
    st.integers(-2, 200).map(str),
    st.floats().map(repr),
    st.sampled_from(["", " ", "true", "false", "asc", "desc", "createdAt", "title", "1e20",
                     str(2**53), "-0", "0x1f", "1e400", "Infinity", "NaN", " 12 ", "2024-01-15",
                     "2024-01-15T10:30:00Z", "2024-02-30", "[]", "{}", "null", "undefined"]),
    st.sampled_from(BALANCE_TYPES + TRIP_TYPES + BOOKING_STATUSES + STATEMENT_STATUSES),
)


@settings(FAST, max_examples=150)
@given(slug=st.sampled_from(SLUGS), pairs=st.lists(st.tuples(KEY, VALUE), max_size=6))
@example(slug="trips", pairs=[("page", "1e20")])
@example(slug="balances", pairs=[("page", str(2**53)), ("limit", "100")])
@example(slug="history", pairs=[("limit", "5"), ("limit", "5"), ("sortBy", "title")])
def test_garbage_queries_give_200_or_the_validation_400(env, slug, pairs):
    r = env.get(slug, pairs, check=True)  # and the body satisfies its contract
    assert r.status_code in (200, 400), (r.status_code, r.text)
    body = r.json()
    allowed = set(PAGE_KEYS) | set(SPEC[slug])
    sent = list(dict.fromkeys(k for k, _ in pairs))
    unknown = [k for k in sent if k not in allowed]
    if r.status_code == 200:
        assert not unknown
        assert list(body) == ["data", "meta", "timestamp", "version"]
        meta = body["meta"]
        assert meta["itemCount"] == len(body["data"]) <= meta["limit"] <= 100
        assert meta["totalPages"] == math.ceil(meta["total"] / meta["limit"])
        assert meta["hasNext"] == (meta["page"] < meta["totalPages"])
        assert meta["hasPrev"] == (meta["page"] > 1)
        return
    assert list(body) == ["statusCode", "message", "error", "errorCode", "details"]
    assert body["statusCode"] == 400 and body["error"] == "Bad Request"
    assert body["errorCode"] == "VALIDATION_001"
    assert body["details"], "a 400 without details"
    # `message` in constraints joins the others (what the web SDK shows)
    assert body["message"] == [m for d in body["details"]
                               for k, m in d["constraints"].items() if k != "message"]
    for d in body["details"]:
        texts = [m for k, m in d["constraints"].items() if k != "message"]
        assert d["constraints"]["message"] == ", ".join(texts)
    props = [d["property"] for d in body["details"]]
    assert len(props) == len(set(props))
    assert set(props) <= set(sent)
    # unknown properties first, in query order, each with whitelistValidation alone
    assert props[:len(unknown)] == unknown
    for d in body["details"][:len(unknown)]:
        assert d["constraints"] == {
            "whitelistValidation": f"property {d['property']} should not exist",
            "message": f"property {d['property']} should not exist"}
    assert all(p in allowed for p in props[len(unknown):])
