"""GET /connections/{connectionId}/{resource}: the eight resources, their spellings, their errors.

Example-based: the documented page of each resource, every URL spelling, the NestJS error
bodies (guard, then ValidationPipe, then handler), the filters on documented values, and the
determinism of the generated data. The Hypothesis properties are in test_resources_properties.py.
"""
from __future__ import annotations

import json

import pytest

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient
from .conftest import BILLING_CONNECTION, DOC_CONNECTION, RESOURCES, documented, example, \
    open_connection, token_for

SLUGS = list(RESOURCES)
DOC_META = {"page": 1, "limit": 20, "total": 150, "totalPages": 8, "hasNext": True,
            "hasPrev": False, "itemCount": 20}
UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized"}
SORT_BY_ENUM = "sortBy must be one of the following values: createdAt, updatedAt, title, type"

# Every spelling a client may use for a resource (resources.py `kind_for`): kebab, camelCase,
# snake_case, the separator-less form, singular/plural and the `accountBalance` family.
SPELLINGS = {
    "account-info": ["account-info", "accountInfo", "account_info", "accountinfo", "AccountInfo"],
    "balances": ["balances", "balance", "accountBalance", "account-balance", "account_balance",
                 "accountBalances", "account-balances", "account_balances"],
    "billing-statements": ["billing-statements", "billingStatements", "billing_statements",
                           "billingstatements", "billing-statement", "billingStatement",
                           "billing_statement"],
    "history": ["history", "histories"],
    "loyalty": ["loyalty", "loyalties"],
    "payment-methods": ["payment-methods", "paymentMethods", "payment_methods", "paymentmethods",
                        "payment-method", "paymentMethod", "payment_method"],
    "reading-history": ["reading-history", "readingHistory", "reading_history", "readinghistory",
                        "reading-histories", "readingHistories", "reading_histories"],
    "trips": ["trips", "trip"],
}
ALIAS_CASES = [(slug, s) for slug, spellings in SPELLINGS.items() for s in spellings]


def url(slug: str, connection: str | None = None) -> str:
    return f"/gravy/connections/{connection or RESOURCES[slug]}/{slug}"


def get(client, auth, path: str, params=None, **kw):
    return client.get(path, params=params, headers=auth, **kw)


def validation_body(*errors: tuple[str, dict[str, str]]) -> dict:
    """ValidationPipe's 400 as Gravy renders it: messages, errorCode, details."""
    return {"statusCode": 400,
            "message": [m for _, constraints in errors for m in constraints.values()],
            "error": "Bad Request", "errorCode": "VALIDATION_001",
            "details": [{"property": p, "constraints": {**c, "message": ", ".join(c.values())}}
                        for p, c in errors]}


def assert_validation(r, *errors: tuple[str, dict[str, str]]) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body == validation_body(*errors)
    # dict equality ignores order; class-validator's order is part of the contract here
    assert list(body) == ["statusCode", "message", "error", "errorCode", "details"]
    for got, (_, want) in zip(body["details"], errors):
        assert list(got["constraints"].items()) == list(want.items()) + [
            ("message", ", ".join(want.values()))]


# -- 1. the documented page of every resource -----------------------------------------------
@pytest.mark.parametrize("slug", SLUGS)
def test_documented_page(client, auth, slug):
    r = get(client, auth, url(slug), {"page": 1, "limit": 20})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["data"][0] == example(slug)
    assert body["meta"] == DOC_META
    assert body["timestamp"] == "2024-01-15T10:30:00.000Z"
    assert body["version"] == "v1"
    assert len(body["data"]) == 20
    assert len({i["id"] for i in body["data"]}) == 20


@pytest.mark.parametrize("slug", SLUGS)
def test_full_documented_response(client, auth, slug):
    """The documented response shows one item of the 20: ours is it plus 19 more, in doc order."""
    doc = documented(f"{slug}.list")
    body = get(client, auth, url(slug), {"page": 1, "limit": 20}).json()
    assert {**body, "data": body["data"][:1]} == doc
    assert list(body) == list(doc)
    assert list(body["meta"]) == list(doc["meta"])
    assert list(body["data"][0]) == list(doc["data"][0])  # field order as documented


@pytest.mark.parametrize("slug", SLUGS)
def test_defaults_are_page_1_limit_20_newest_first(client, auth, slug):
    plain = get(client, auth, url(slug))
    assert plain.content == get(client, auth, url(slug), {"page": 1, "limit": 20}).content
    assert plain.content == get(client, auth, url(slug),
                                {"sortBy": "createdAt", "sortOrder": "desc"}).content


@pytest.mark.parametrize("slug", SLUGS)
def test_documented_items_carry_their_connection(client, auth, slug):
    data = get(client, auth, url(slug), {"limit": 100}).json()["data"]
    if slug == "reading-history":  # the documented reading item has no connectionId
        assert all("connectionId" not in i for i in data)
    else:
        assert {i["connectionId"] for i in data} == {RESOURCES[slug]}


# -- 2. URL spellings -------------------------------------------------------------------------
@pytest.mark.parametrize(("slug", "spelling"), ALIAS_CASES)
def test_alias_returns_the_canonical_body(client, auth, slug, spelling):
    cid = RESOURCES[slug]
    want = get(client, auth, url(slug), {"limit": 7, "page": 2}, check=False).content
    for path in (f"/gravy/connections/{cid}/{spelling}",
                 f"/gravy/connections/{cid}/resources/{spelling}",
                 f"/gravy/CONNECTIONS/{cid}/{spelling.upper()}",
                 f"/gravy/Connections/{cid}/RESOURCES/{spelling.upper()}/",
                 f"/gravy/connections/{cid}/{spelling}/"):
        r = get(client, auth, path, {"limit": 7, "page": 2}, check=False)
        assert r.status_code == 200, path
        assert r.content == want, path


@pytest.mark.parametrize(("slug", "spelling"), ALIAS_CASES)
def test_alias_response_has_a_contract(client, auth, slug, spelling):
    """Every spelling the mock serves must be one the contracts know (the client checks it)."""
    for path in (f"/gravy/connections/{RESOURCES[slug]}/{spelling}",
                 f"/gravy/connections/{RESOURCES[slug]}/resources/{spelling}/"):
        r = get(client, auth, path, {"limit": 1})  # raises ContractError if uncovered
        assert r.status_code == 200


def test_trailing_slash_and_case_keep_the_query(client, auth):
    r = get(client, auth, f"/gravy/CONNECTIONS/{DOC_CONNECTION}/BALANCES/", {"limit": 3})
    assert r.status_code == 200
    assert r.json()["meta"]["limit"] == 3
    assert r.json()["data"][0] == example("balances")


def test_connection_id_is_case_sensitive(client, auth):
    r = get(client, auth, f"/gravy/connections/{DOC_CONNECTION.upper()}/balances")
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Connection not found", "error": "Not Found"}


@pytest.mark.parametrize(("path", "message"), [
    ("/connections/conn_789xyz123abc/nope", "Cannot GET /connections/conn_789xyz123abc/nope"),
    ("/connections/conn_789xyz123abc/nope?page=1&limit=20",
     "Cannot GET /connections/conn_789xyz123abc/nope?page=1&limit=20"),
    ("/connections/conn_789xyz123abc/NoPe/", "Cannot GET /connections/conn_789xyz123abc/NoPe/"),
    ("/connections/conn_789xyz123abc/resources/nope",
     "Cannot GET /connections/conn_789xyz123abc/resources/nope"),
    ("/connections/conn_789xyz123abc/resources",
     "Cannot GET /connections/conn_789xyz123abc/resources"),
    ("/connections/conn_unknown/nope", "Cannot GET /connections/conn_unknown/nope"),
    ("/connections/conn_789xyz123abc/balances/extra",
     "Cannot GET /connections/conn_789xyz123abc/balances/extra"),
])
def test_unknown_resource_is_express_404(client, auth, path, message):
    want = {"statusCode": 404, "message": message, "error": "Not Found"}
    r = client.get("/gravy" + path, headers=auth)
    assert (r.status_code, r.json()) == (404, want)
    # no route matched: no guard runs, so no token still gives the route 404
    r = client.get("/gravy" + path)
    assert (r.status_code, r.json()) == (404, want)


def test_unknown_resource_message_keeps_the_raw_url(client, auth):
    """Express's originalUrl is the URL as sent: percent-escapes are not decoded."""
    r = client.get(f"/gravy/connections/{DOC_CONNECTION}/no%20pe?q=a%20b", headers=auth)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "error": "Not Found",
                        "message": f"Cannot GET /connections/{DOC_CONNECTION}/no%20pe?q=a%20b"}


# -- 3. errors: guard (401), pipe (400), handler (404) ------------------------------------------
@pytest.mark.parametrize("slug", SLUGS)
def test_unknown_connection(client, auth, slug):
    r = get(client, auth, url(slug, "conn_doesnotexist"))
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Connection not found", "error": "Not Found"}


@pytest.mark.parametrize(("slug", "connection", "name"), [
    ("billing-statements", DOC_CONNECTION, "billingStatements"),
    ("balances", BILLING_CONNECTION, "balances"),
    ("reading-history", BILLING_CONNECTION, "readingHistory"),
    ("trips", BILLING_CONNECTION, "trips"),
])
def test_resource_not_on_the_connection(client, auth, slug, connection, name):
    r = get(client, auth, url(slug, connection))
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "error": "Not Found",
                        "message": f"No {name} data available for connection {connection}"}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic Z3Jhdnktc2FuZGJveC1jbGllbnQ6Z3Jhdnktc2FuZGJveC1zZWNyZXQ="},
    {"Authorization": "Publishable pk-test-sandbox"},
    {"x-intent-token": "not-a-token"},
])
@pytest.mark.parametrize("slug", ["balances", "billing-statements"])
def test_missing_or_invalid_token(client, headers, slug):
    r = client.get(url(slug), headers=headers)
    assert r.status_code == 401
    assert r.json() == UNAUTHORIZED


def test_token_in_another_scheme_position_is_rejected(client, token):
    r = client.get(url("balances"), headers={"Authorization": token})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_bearer_scheme_is_case_insensitive(client, token):
    r = client.get(url("balances"), headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200


def test_token_expires_after_an_hour_on_the_mock_clock(client, auth):
    assert get(client, auth, url("trips")).status_code == 200
    assert client.post("/__admin/clock", json={"advance": 3599}).status_code == 200
    assert get(client, auth, url("trips")).status_code == 200
    assert client.post("/__admin/clock", json={"advance": 2}).status_code == 200
    r = get(client, auth, url("trips"))
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    # a fresh token works again, and the envelope carries the moved clock
    fresh = {"Authorization": f"Bearer {token_for(client)}"}
    r = get(client, fresh, url("trips"))
    assert r.status_code == 200
    assert r.json()["timestamp"] == "2024-01-15T11:30:01.000Z"


def test_expired_token_after_3601_seconds(client, auth):
    assert client.post("/__admin/clock", json={"advance": 3601}).status_code == 200
    for slug in SLUGS:
        r = get(client, auth, url(slug))
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_intent_token_reads_only_its_own_connection(client, auth):
    created = open_connection(client, auth)
    intent = {"x-intent-token": created["intentToken"]}
    r = client.get(url("reading-history"), headers=intent)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    r = client.get(f"/gravy/connections/{created['connectionId']}/reading-history",
                   headers=intent)
    assert r.status_code == 404  # its own connection: past the guard, no data yet


def test_guard_runs_before_the_pipe(client):
    r = client.get(url("balances"), params={"limit": 101, "foo": "x"})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    r = client.get(url("balances", "conn_doesnotexist"), params={"limit": 101})
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


LIMIT_MAX = ("limit", {"max": "limit must not be greater than 100"})


def test_pipe_runs_before_the_handler(client, auth):
    assert_validation(get(client, auth, url("balances", "conn_doesnotexist"), {"limit": 101}),
                      LIMIT_MAX)
    assert_validation(get(client, auth, url("billing-statements", DOC_CONNECTION),
                          {"limit": 101}), LIMIT_MAX)


@pytest.mark.parametrize("slug", SLUGS)
def test_limit_above_100(client, auth, slug):
    assert_validation(get(client, auth, url(slug), {"limit": 101}), LIMIT_MAX)


@pytest.mark.parametrize(("params", "errors"), [
    ({"limit": 0}, [("limit", {"min": "limit must not be less than 1"})]),
    ({"limit": -5}, [("limit", {"min": "limit must not be less than 1"})]),
    ({"limit": ""}, [("limit", {"min": "limit must not be less than 1"})]),
    ({"limit": "2.5"}, [("limit", {"isInt": "limit must be an integer number"})]),
    ({"limit": "abc"}, [("limit", {"max": "limit must not be greater than 100",
                                   "min": "limit must not be less than 1",
                                   "isInt": "limit must be an integer number"})]),
    ({"limit": ["5", "6"]}, [("limit", {"max": "limit must not be greater than 100",
                                        "min": "limit must not be less than 1",
                                        "isInt": "limit must be an integer number"})]),
    ({"page": 0}, [("page", {"min": "page must not be less than 1"})]),
    ({"page": "abc"}, [("page", {"min": "page must not be less than 1",
                                 "isInt": "page must be an integer number"})]),
    ({"page": "1.5"}, [("page", {"isInt": "page must be an integer number"})]),
    ({"sortBy": "name"}, [("sortBy", {"isEnum": SORT_BY_ENUM})]),
    ({"sortBy": "CREATEDAT"}, [("sortBy", {"isEnum": SORT_BY_ENUM})]),
    ({"sortOrder": "up"}, [("sortOrder", {"isEnum": "sortOrder must be one of the following "
                                                    "values: asc, desc"})]),
    ({"sortOrder": "DESC"}, [("sortOrder", {"isEnum": "sortOrder must be one of the following "
                                                      "values: asc, desc"})]),
    ({"foo": "bar"}, [("foo", {"whitelistValidation": "property foo should not exist"})]),
    ({"Limit": "5"}, [("Limit", {"whitelistValidation": "property Limit should not exist"})]),
])
@pytest.mark.parametrize("slug", ["trips", "billing-statements", "payment-methods"])
def test_page_query_validation(client, auth, slug, params, errors):
    assert_validation(get(client, auth, url(slug), params), *errors)


def test_unknown_property_comes_first(client, auth):
    r = get(client, auth, url("balances") + "?limit=101&page=0&foo=1&sortOrder=up&bar=2")
    assert_validation(r,
                      ("foo", {"whitelistValidation": "property foo should not exist"}),
                      ("bar", {"whitelistValidation": "property bar should not exist"}),
                      ("page", {"min": "page must not be less than 1"}),
                      LIMIT_MAX,
                      ("sortOrder", {"isEnum": "sortOrder must be one of the following values: "
                                               "asc, desc"}))


def test_errors_follow_the_dto_declaration_order(client, auth):
    # balances declares its filters before page/limit (as its doc table lists them) ...
    r = get(client, auth, url("balances") + "?limit=0&amountMin=x&type=bogus")
    assert_validation(
        r,
        ("type", {"isEnum": "type must be one of the following values: gift_card, points, "
                            "rewards, cash, credit, store_credit, loyalty_points, miles, other"}),
        ("amountMin", {"isNumber": "amountMin must be a number conforming to the specified "
                                   "constraints"}),
        ("limit", {"min": "limit must not be less than 1"}))
    # ... billing statements declare page/limit first
    r = get(client, auth, url("billing-statements") + "?status=closed&limit=0")
    assert_validation(
        r,
        ("limit", {"min": "limit must not be less than 1"}),
        ("status", {"isEnum": "status must be one of the following values: open, paid, "
                              "past_due, adjusted"}))


ENUM_ERRORS = [
    ("balances", "type", "type must be one of the following values: gift_card, points, rewards, "
                         "cash, credit, store_credit, loyalty_points, miles, other"),
    ("billing-statements", "status", "status must be one of the following values: open, paid, "
                                     "past_due, adjusted"),
    ("trips", "type", "type must be one of the following values: hotel, flight, rental_car, "
                      "train, cruise, package, ride, ground_transport, wishlist, other"),
    ("trips", "bookingStatus", "bookingStatus must be one of the following values: confirmed, "
                               "pending, cancelled, completed, in_progress, wishlist, failed, "
                               "expired, unknown"),
]


@pytest.mark.parametrize("bad", ["bogus", "REWARDS", "Hotel", "OPEN", ""])
@pytest.mark.parametrize(("slug", "param", "message"), ENUM_ERRORS)
def test_enum_filter_with_a_bad_value(client, auth, slug, param, message, bad):
    assert_validation(get(client, auth, url(slug), {param: bad}), (param, {"isEnum": message}))


BOOL_FILTERS = [("balances", "isActive"), ("reading-history", "read")]


@pytest.mark.parametrize("bad", ["yes", "no", "", "2"])
@pytest.mark.parametrize(("slug", "param"), BOOL_FILTERS)
def test_boolean_filter_with_a_bad_value(client, auth, slug, param, bad):
    assert_validation(get(client, auth, url(slug), {param: bad}),
                      (param, {"isBoolean": f"{param} must be a boolean value"}))


NUMBER_FILTERS = [("balances", "amountMin"), ("balances", "amountMax"),
                  ("billing-statements", "amountDueMin"), ("billing-statements", "amountDueMax"),
                  ("trips", "amountMin"), ("trips", "amountMax")]


@pytest.mark.parametrize("bad", ["abc", "12abc", "NaN", "Infinity", "1,5"])
@pytest.mark.parametrize(("slug", "param"), NUMBER_FILTERS)
def test_number_filter_with_a_bad_value(client, auth, slug, param, bad):
    assert_validation(get(client, auth, url(slug), {param: bad}), (param, {
        "isNumber": f"{param} must be a number conforming to the specified constraints"}))


DATE_FILTERS = [("balances", "expiresFrom"), ("balances", "expiresTo"),
                ("billing-statements", "periodStart"), ("billing-statements", "periodEnd"),
                ("history", "startDate"), ("history", "endDate"),
                ("reading-history", "startDate"), ("reading-history", "endDate"),
                ("trips", "checkInFrom"), ("trips", "checkInTo"),
                ("trips", "checkOutFrom"), ("trips", "checkOutTo")]


@pytest.mark.parametrize("bad", ["not-a-date", "2024-13-01", "15/01/2024", "yesterday", ""])
@pytest.mark.parametrize(("slug", "param"), DATE_FILTERS)
def test_date_filter_with_a_bad_value(client, auth, slug, param, bad):
    assert_validation(get(client, auth, url(slug), {param: bad}),
                      (param, {"isDateString": f"{param} must be a valid ISO 8601 date string"}))


@pytest.mark.parametrize("value", ["2025-12-31T23:59:59+0000", "2026-01-01T00:59:59+01",
                                   "2025-12-31 23:59:59Z", "2025-12-31T23:59:59z", "2025-12-31T23",
                                   "2025-12-31T23:59:59,5Z", "2025-12-31T23:59:59.1234567Z",
                                   "2025-12", "2025"])
def test_date_filter_accepts_iso_8601_variants(client, auth, value):
    assert get(client, auth, url("balances"), {"expiresTo": value}).status_code == 200


@pytest.mark.parametrize("value", ["20240115", "2024-015", "2024-W03", "2024-W03-1",
                                   "+2025-12-31", "2024-01-15T24:00"])
def test_date_filter_accepts_what_class_validator_accepts(client, auth, value):
    """@IsDateString() is validator.js isISO8601 (not strict): basic, ordinal and week dates,
    an expanded year and 24:00 all pass it, so the pipe must not reject them."""
    r = get(client, auth, url("balances"), {"expiresFrom": value})
    assert not (r.status_code == 400 and "expiresFrom" in
                [d["property"] for d in r.json().get("details", [])]), r.text


@pytest.mark.parametrize("param", ["minProgress", "maxProgress"])
@pytest.mark.parametrize(("value", "constraints"), [
    ("101", {"max": "{p} must not be greater than 100"}),
    ("100.5", {"max": "{p} must not be greater than 100"}),
    ("-1", {"min": "{p} must not be less than 0"}),
    ("abc", {"max": "{p} must not be greater than 100", "min": "{p} must not be less than 0",
             "isNumber": "{p} must be a number conforming to the specified constraints"}),
])
def test_progress_bounds(client, auth, param, value, constraints):
    want = {k: v.replace("{p}", param) for k, v in constraints.items()}
    assert_validation(get(client, auth, url("reading-history"), {param: value}), (param, want))


@pytest.mark.parametrize(("slug", "param"), [("account-info", "search"), ("trips", "provider"),
                                             ("reading-history", "author"),
                                             ("loyalty", "loyaltyTier")])
def test_repeated_string_filter_is_an_array(client, auth, slug, param):
    r = get(client, auth, url(slug) + f"?{param}=a&{param}=b")
    assert_validation(r, (param, {"isString": f"{param} must be a string"}))


@pytest.mark.parametrize(("slug", "param"), [
    ("account-info", "type"), ("account-info", "status"), ("payment-methods", "search"),
    ("payment-methods", "type"), ("loyalty", "name"), ("history", "author"),
    ("billing-statements", "type"), ("reading-history", "title"), ("trips", "status")])
def test_a_filter_of_another_resource_is_unknown(client, auth, slug, param):
    assert_validation(get(client, auth, url(slug), {param: "x"}),
                      (param, {"whitelistValidation": f"property {param} should not exist"}))


@pytest.mark.parametrize("page", [str(2**53), "9007199254740993", "1e20",
                                  "99999999999999999999"])
def test_huge_page_is_not_a_server_error(client, auth, page):
    """A page class-validator accepts (a finite integer >= 1) must not 500."""
    r = get(client, auth, url("trips"), {"page": page})
    assert r.status_code < 500, r.text
    assert r.status_code == 200
    assert r.json()["data"] == []
    assert r.json()["meta"]["hasNext"] is False and r.json()["meta"]["hasPrev"] is True


@pytest.mark.parametrize(("params", "meta"), [
    ({"page": 8}, {"page": 8, "limit": 20, "total": 150, "totalPages": 8, "hasNext": False,
                   "hasPrev": True, "itemCount": 10}),
    ({"page": 9}, {"page": 9, "limit": 20, "total": 150, "totalPages": 8, "hasNext": False,
                   "hasPrev": True, "itemCount": 0}),
    ({"limit": 100}, {"page": 1, "limit": 100, "total": 150, "totalPages": 2, "hasNext": True,
                      "hasPrev": False, "itemCount": 100}),
    ({"limit": 100, "page": 2}, {"page": 2, "limit": 100, "total": 150, "totalPages": 2,
                                 "hasNext": False, "hasPrev": True, "itemCount": 50}),
    ({"limit": 1, "page": 150}, {"page": 150, "limit": 1, "total": 150, "totalPages": 150,
                                 "hasNext": False, "hasPrev": True, "itemCount": 1}),
    ({"limit": "1e1", "page": "0x2"}, {"page": 2, "limit": 10, "total": 150, "totalPages": 15,
                                       "hasNext": True, "hasPrev": True, "itemCount": 10}),
    ({"limit": " 7 ", "page": "3.0"}, {"page": 3, "limit": 7, "total": 150, "totalPages": 22,
                                       "hasNext": True, "hasPrev": True, "itemCount": 7}),
])
def test_page_meta(client, auth, params, meta):
    body = get(client, auth, url("history"), params).json()
    assert body["meta"] == meta
    assert len(body["data"]) == meta["itemCount"]


# -- filters on the documented items ----------------------------------------------------------
def all_items(client, auth, slug: str, **params) -> list[dict]:
    out: list[dict] = []
    page = 1
    while True:
        body = get(client, auth, url(slug), {**params, "limit": 100, "page": page}).json()
        out += body["data"]
        if not body["meta"]["hasNext"]:
            return out
        page += 1


@pytest.mark.parametrize(("slug", "params", "included"), [
    ("account-info", {"search": "JOHN.DOE@"}, True),
    ("account-info", {"search": "555-123"}, True),
    ("account-info", {"search": "user_98765"}, True),
    ("account-info", {"name": "john d"}, True),
    ("account-info", {"email": "EXAMPLE.COM"}, True),
    ("account-info", {"phone": "+1-555-123-4567"}, True),
    ("account-info", {"name": "jane"}, False),
    ("balances", {"search": "purchases"}, True),
    ("balances", {"search": "acc_98765"}, True),
    ("balances", {"type": "rewards"}, True),
    ("balances", {"type": "points"}, False),
    ("balances", {"currency": "POINTS"}, True),
    ("balances", {"currency": "point"}, False),
    ("balances", {"isActive": "true"}, True),
    ("balances", {"isActive": "false"}, False),
    ("balances", {"amountMin": 25000, "amountMax": 25000}, True),
    ("balances", {"amountMin": "25000.01"}, False),
    ("balances", {"amountMax": "24999.99"}, False),
    ("balances", {"expiresTo": "2025-12-31"}, True),          # a date covers its whole day
    ("balances", {"expiresTo": "2025-12-31T23:59:58Z"}, False),
    ("balances", {"expiresTo": "2025-12-31T23:59:59Z"}, True),
    ("balances", {"expiresFrom": "2025-12-31"}, True),
    ("balances", {"expiresFrom": "2026-01-01"}, False),
    ("balances", {"expiresFrom": "2025-12-31T23:59:59Z", "expiresTo": "2025-12-31T23:59:59Z"},
     True),
    ("balances", {"expiresFrom": "2026-01-01T00:59:59+01:00"}, True),  # = 23:59:59Z
    ("billing-statements", {"search": "BS_1234567890ABCDEF"}, True),
    ("billing-statements", {"search": "stmt_vendor_12345"}, True),
    ("billing-statements", {"status": "open"}, True),
    ("billing-statements", {"status": "paid"}, False),
    ("billing-statements", {"periodStart": "2024-01-01"}, True),
    ("billing-statements", {"periodStart": "2024-01-02"}, False),
    ("billing-statements", {"periodEnd": "2024-01-31"}, True),
    ("billing-statements", {"periodEnd": "2024-01-30"}, False),
    ("billing-statements", {"periodStart": "2024-01-01", "periodEnd": "2024-01-31"}, True),
    ("billing-statements", {"amountDueMin": "125.5", "amountDueMax": "125.50"}, True),
    ("billing-statements", {"amountDueMin": "125.51"}, False),
    ("history", {"search": "coffee shop"}, True),
    ("history", {"search": "TX_123"}, True),
    ("history", {"search": "food &"}, True),
    ("history", {"type": "food & dining"}, True),
    ("history", {"type": "food"}, False),
    ("history", {"startDate": "2024-01-15", "endDate": "2024-01-15"}, True),
    ("history", {"startDate": "2024-01-15T10:35:00Z", "endDate": "2024-01-15T10:35:00Z"}, True),
    ("history", {"startDate": "2024-01-15T10:35:00.001Z"}, False),
    ("history", {"endDate": "2024-01-15T10:34:59.999Z"}, False),
    ("loyalty", {"search": "gold"}, True),
    ("loyalty", {"search": "REWARDS"}, True),
    ("loyalty", {"loyaltyTier": "GOLD"}, True),
    ("loyalty", {"loyaltyTier": "Gol"}, False),
    ("reading-history", {"search": "great gatsby"}, True),
    ("reading-history", {"search": "Fitzgerald"}, False),  # search covers the title only
    ("reading-history", {"author": "f. scott"}, True),
    ("reading-history", {"read": "false"}, True),
    ("reading-history", {"read": "true"}, False),
    ("reading-history", {"minProgress": 75, "maxProgress": 75}, True),
    ("reading-history", {"minProgress": 76}, False),
    ("reading-history", {"maxProgress": 74}, False),
    ("reading-history", {"startDate": "2024-01-01T00:00:00.000Z",
                         "endDate": "2024-12-31T23:59:59.999Z"}, True),
    ("reading-history", {"endDate": "2024-01-12"}, True),
    ("reading-history", {"endDate": "2024-01-11"}, False),
    ("trips", {"search": "grand plaza"}, True),
    ("trips", {"search": "CONF123456"}, True),
    ("trips", {"search": "downtown san"}, True),
    ("trips", {"type": "hotel", "bookingStatus": "confirmed"}, True),
    ("trips", {"bookingStatus": "pending"}, False),
    ("trips", {"provider": "EXPEDIA"}, True),
    ("trips", {"provider": "exped"}, False),
    ("trips", {"locationCity": "san francisco", "locationCountryCode": "us"}, True),
    ("trips", {"currency": "usd"}, True),
    ("trips", {"checkInFrom": "2024-02-15", "checkInTo": "2024-02-15"}, True),
    ("trips", {"checkInTo": "2024-02-14"}, False),
    ("trips", {"checkOutFrom": "2024-02-17T11:00:00Z", "checkOutTo": "2024-02-17T11:00:00Z"},
     True),
    ("trips", {"checkOutFrom": "2024-02-17T11:00:01Z"}, False),
    ("trips", {"amountMin": 450, "amountMax": 450}, True),
    ("trips", {"amountMax": 449.99}, False),
])
def test_filter_on_the_documented_item(client, auth, slug, params, included):
    items = all_items(client, auth, slug, **params)
    doc_id = example(slug)["id"]
    assert (doc_id in [i["id"] for i in items]) is included
    if included:
        assert items[0] == example(slug)  # still first: filters keep the order


def _isbn_ok(isbn10: str, isbn13: str) -> bool:
    ten = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(isbn10)) % 11 == 0
    thirteen = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(isbn13)) % 10 == 0
    return ten and thirteen and isbn13[:12] == "978" + isbn10[:9]


def assert_documented_looking_books(items: list[dict]) -> None:
    """Shaped like the documented reading item: its keys in its order, real-looking values."""
    doc = example("reading-history")
    for item in items:
        assert list(item) == list(doc)
        assert item["authors"] == ["J.K. Rowling"]
        assert _isbn_ok(item["isbn10"], item["isbn13"]), item
        assert item["asin"].startswith("B0") and len(item["asin"]) == 10
        assert 0 <= item["progress"] <= 100 and item["read"] is (item["progress"] == 100)
        assert item["description"] and item["id"].startswith("read_")


def test_doc_example_search_harry_potter(client, auth):
    """The doc's example `search=Harry Potter` finds the seven books, case-insensitively."""
    body = get(client, auth, url("reading-history"), {"search": "Harry Potter"}).json()
    assert body["meta"]["total"] == 7
    assert all(i["title"].startswith("Harry Potter and the ") for i in body["data"])
    assert_documented_looking_books(body["data"])
    lower = get(client, auth, url("reading-history"), {"search": "harry potter"}).json()
    assert lower["data"] == body["data"]


def test_doc_example_author_jk_rowling(client, auth):
    """The doc's example `author=J.K. Rowling` finds her books (and only hers)."""
    body = get(client, auth, url("reading-history"), {"author": "J.K. Rowling"}).json()
    assert body["meta"]["total"] == 7
    assert_documented_looking_books(body["data"])
    titles = {i["title"] for i in body["data"]}
    assert titles == {i["title"] for i in get(client, auth, url("reading-history"),
                                                 {"search": "Harry Potter"}).json()["data"]}


def test_every_generated_isbn_is_valid(client, auth):
    # Not the documented item: its isbn10 0743273565 fails the ISBN-10 check (served verbatim).
    generated = all_items(client, auth, "reading-history")[1:]
    assert len(generated) == 149 and example("reading-history") not in generated
    for item in generated:
        assert _isbn_ok(item["isbn10"], item["isbn13"]), item


def test_filters_combine_with_and(client, auth):
    by_type = {i["id"] for i in all_items(client, auth, "trips", type="hotel")}
    by_city = {i["id"] for i in all_items(client, auth, "trips", locationCity="Paris")}
    both = [i["id"] for i in all_items(client, auth, "trips", type="hotel", locationCity="Paris")]
    assert set(both) == by_type & by_city
    assert len(both) == len(set(both))


def test_filtered_meta_counts_the_matches(client, auth):
    everything = all_items(client, auth, "balances")
    active = [i for i in everything if i["isActive"] is True]
    body = get(client, auth, url("balances"), {"isActive": "true", "limit": 5, "page": 2}).json()
    assert 0 < len(active) < 150
    assert body["meta"]["total"] == len(active)
    assert body["meta"]["totalPages"] == -(-len(active) // 5)
    assert body["data"] == active[5:10]


@pytest.mark.parametrize(("slug", "param", "needle"), [
    ("account-info", "search", "\u00df"), ("trips", "search", "\u00df"),
    ("account-info", "name", "\u00df"), ("reading-history", "search", "\ufb01"),
])
def test_case_insensitive_match_is_lower_case_not_case_folding(client, auth, slug, param, needle):
    """'Case-insensitive' as JS toLowerCase/ILIKE: 'ß' does not match 'ss', 'ﬁ' not 'fi'."""
    everything = all_items(client, auth, slug)
    fields = {"account-info": ("name", "email", "phone", "vendorId"),
              "trips": ("name", "provider", "locationDisplayName", "locationCity",
                        "confirmationNumber"),
              "reading-history": ("title",)}[slug] if param == "search" else (param,)
    want = [i["id"] for i in everything
            if any(needle.lower() in str(i.get(f, "")).lower() for f in fields)]
    got = [i["id"] for i in all_items(client, auth, slug, **{param: needle})]
    assert got == want


def test_empty_search_matches_everything(client, auth):
    assert len(all_items(client, auth, "reading-history", search="")) == 150


# -- sort, example-based ----------------------------------------------------------------------
def test_sort_by_created_at_ascending_puts_the_documented_item_last(client, auth):
    body = get(client, auth, url("trips"), {"sortBy": "createdAt", "sortOrder": "asc",
                                            "page": 8}).json()
    assert body["data"][-1] == example("trips")


def test_sort_order_alone_applies_to_created_at(client, auth):
    asc = all_items(client, auth, "loyalty", sortOrder="asc")
    desc = all_items(client, auth, "loyalty")
    assert asc == desc[::-1]


# -- 5. determinism ---------------------------------------------------------------------------
def _fresh(seed: int) -> tuple[MockClient, dict[str, str]]:
    c = MockClient(create_app(seed=seed, clock=Clock(DOC_TIME)))
    return c, {"Authorization": f"Bearer {token_for(c)}"}


def _pages(c: MockClient, h: dict[str, str], slugs: list[str]) -> dict[str, list[bytes]]:
    return {slug: [c.get(url(slug), params={"limit": 100, "page": p}, headers=h,
                         check=False).content for p in (1, 2)] for slug in slugs}


def test_same_seed_gives_byte_identical_pages_in_any_read_order():
    a, ha = _fresh(0)
    b, hb = _fresh(0)
    try:
        pages_a = _pages(a, ha, SLUGS)
        pages_b = _pages(b, hb, SLUGS[::-1])  # sets built in the other order
        for slug in SLUGS:
            assert pages_a[slug] == pages_b[slug], slug
            for sort_by in ("createdAt", "updatedAt", "title", "type"):
                q = {"sortBy": sort_by, "sortOrder": "asc", "limit": 33, "page": 3}
                assert a.get(url(slug), params=q, headers=ha, check=False).content == \
                    b.get(url(slug), params=q, headers=hb, check=False).content
    finally:
        a.close()
        b.close()


def test_other_seed_changes_generated_items_but_not_the_documented_one():
    a, ha = _fresh(0)
    b, hb = _fresh(1)
    try:
        for slug in SLUGS:
            items_a = [json.loads(p)["data"] for p in _pages(a, ha, [slug])[slug]]
            items_b = [json.loads(p)["data"] for p in _pages(b, hb, [slug])[slug]]
            flat_a, flat_b = items_a[0] + items_a[1], items_b[0] + items_b[1]
            assert len(flat_a) == len(flat_b) == 150
            assert flat_a[0] == flat_b[0] == example(slug)
            ids_a, ids_b = {i["id"] for i in flat_a[1:]}, {i["id"] for i in flat_b[1:]}
            assert not ids_a & ids_b, slug  # every generated item differs
            assert flat_a[1:] != flat_b[1:]
    finally:
        a.close()
        b.close()


def test_documented_page_is_the_same_for_every_seed():
    for seed in (0, 1, 42):
        c, h = _fresh(seed)
        try:
            for slug in SLUGS:
                body = c.get(url(slug), params={"page": 1, "limit": 20}, headers=h).json()
                assert body["data"][0] == example(slug)
                assert body["meta"] == DOC_META
        finally:
            c.close()


# -- the indexes answer as a scan would ---------------------------------------------------------
def _scan(rs, kind, query):
    """The selection by the definition: every item tested, in the requested order."""
    from datetime import datetime

    from mockserver.vendors.gravy.resources import _epoch, get_path
    from mockserver.vendors.gravy.validation import parse_when

    def keep(item):
        for f in kind.filters:
            if f.param not in query:
                continue
            value, got = query[f.param], [get_path(item, p) for p in f.fields]
            low = [str(g).lower() if g is not None else None for g in got]
            if f.op == "search":
                ok = any(g is not None and value.lower() in g for g in low)
            elif f.op == "iequals":
                ok = low[0] == value.lower()
            elif f.op in ("enum", "bool"):
                ok = got[0] == value
            elif f.op in ("min", "max"):
                ok = got[0] is not None and (got[0] >= value if f.op == "min" else got[0] <= value)
            else:
                at, bound = _epoch(got[0]), parse_when(value, end_of_day=f.op == "to")
                assert isinstance(bound, datetime)
                ok = at is not None and (at >= bound.timestamp() if f.op == "from"
                                         else at <= bound.timestamp())
            if not ok:
                return False
        return True

    order = rs.order(query.get("sortBy", "createdAt"), query.get("sortOrder", "desc"))
    return [n for n in order if keep(rs.items[n])]


@pytest.mark.parametrize("query", [
    {}, {"type": "points"}, {"currency": "usd"}, {"isActive": False}, {"isActive": True},
    {"amountMin": 500}, {"amountMax": 20.5}, {"amountMin": 10, "amountMax": 10},
    {"expiresFrom": "2025-06-01"}, {"expiresTo": "2025-01-01"}, {"search": "GIFT"},
    {"type": "miles", "isActive": True, "sortBy": "title", "sortOrder": "asc"},
    {"currency": "EUR", "amountMin": 100, "sortBy": "updatedAt"},
    {"type": "other", "sortBy": "type", "sortOrder": "asc"}, {"currency": "none-such"},
    {"search": ""}, {"search": "no-such-text"}, {"search": "e", "sortBy": "title"},
])
def test_indexed_selection_equals_a_scan(query, balances_3000):
    from mockserver.vendors.gravy.resources import ResourceSet, kind_for
    kind = kind_for("balances")
    rs = ResourceSet(balances_3000)   # its own indexes, over items no test changes
    assert list(rs.select(kind, query)) == _scan(rs, kind, query)


@pytest.fixture(scope="module")
def balances_3000() -> list:
    """3,000 generated balances, made once for every query above (faker takes a second)."""
    from datetime import datetime, timezone

    from mockserver.vendors.gravy import generator
    from mockserver.vendors.gravy.resources import kind_for
    return generator.generate(kind_for("balances"), "conn_x", 3000, 7,
                              datetime(2024, 1, 1, tzinfo=timezone.utc))


def test_date_fast_path_reads_as_the_validator_does():
    from mockserver.vendors.gravy.resources import _epoch
    from mockserver.vendors.gravy.validation import parse_when
    for value in ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123Z", "2024-02-30T10:30:00Z",
                  "2024-01-15T24:00:00Z", "2024-W03-1T10:30:00Z"):
        dt = parse_when(value)
        assert _epoch(value) == (dt.timestamp() if dt is not None else None), value
