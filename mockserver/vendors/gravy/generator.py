"""Gravy's generated resource data, filled deterministically with faker around each kind's
documented example.

Every generated set is seeded from (seed, connection, resource), so the same --seed gives
byte-identical data whatever order sets are first read in.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

from faker import Faker

from ...core.clock import parse_iso
from .resources import BALANCE_TYPES, BOOKING_STATUSES, STATEMENT_STATUSES, TRIP_TYPES, Kind

_MS_KINDS = frozenset({"billing-statements", "reading-history"})  # their examples carry millis
_fake = Faker("en_US")


def stamp(dt: datetime, millis: bool) -> str:
    dt = dt.astimezone(timezone.utc)
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _money(r: random.Random, lo: float, hi: float) -> float:
    return round(r.uniform(lo, hi), 2)


def generate(kind: Kind, connection_id: str, count: int, seed: int, newest: datetime,
             example: dict | None = None, books: Sequence[dict] = ()) -> list[dict]:
    """`count` items, newest first by createdAt; `example` (verbatim) is the newest when given.

    Reading history takes its books from `books` (books.json) first, at seeded positions.
    """
    r = random.Random(f"gravy:{seed}:{connection_id}:{kind.slug}")
    _fake.seed_instance(r.getrandbits(63))
    millis = kind.slug in _MS_KINDS
    items: list[dict] = []
    if example is not None:
        items.append(example)
        newest = parse_iso(example["createdAt"])
    fill = count - len(items)
    offsets = sorted(r.sample(range(3600, 400 * 86400), fill))
    make = _MAKERS[kind.slug]
    if kind.slug == "reading-history":
        # Skip the documented example's own book, then deal the rest to seeded positions.
        deck = [b for b in books if example is None or b["title"] != example.get("title")]
        deck = r.sample(deck, min(len(deck), fill))
        slots = dict(zip(sorted(r.sample(range(fill), len(deck))), deck))
        make = _reading_from(slots, len(items) + 1)
    for n, off in enumerate(offsets, start=len(items) + 1):
        created = newest - timedelta(seconds=off)
        # Never updated after the data was read (the newest instant of the set).
        updated = min(created + timedelta(seconds=r.randrange(0, 20 * 86400)), newest)
        item = make(r, connection_id, created, n)
        item["createdAt"] = stamp(created, millis)
        item["updatedAt"] = stamp(updated, millis)
        items.append(item)
    return items


def _account_info(r, cid, created, n):
    return {"id": f"acc_info_{_hex(r, 12)}", "connectionId": cid,
            "vendorId": f"vendor_user_{_digits(r, 5)}", "name": _fake.name(),
            "email": _fake.email(), "phone": f"+1-555-{_digits(r, 3)}-{_digits(r, 4)}",
            "metadata": {"accountType": r.choice(["basic", "premium", "family"]),
                         "region": r.choice(["us-east", "us-west", "eu-west"])}}


_BAL_CURRENCY = {"points": "points", "loyalty_points": "points", "rewards": "points",
                 "miles": "miles"}


def _balance(r, cid, created, n):
    btype = r.choice(BALANCE_TYPES)
    currency = _BAL_CURRENCY.get(btype) or r.choice(["USD", "USD", "EUR", "GBP"])
    amount: float = r.randrange(100, 100_000) if currency in ("points", "miles") \
        else _money(r, 1, 2_000)
    return {"id": f"bal_{_hex(r, 12)}", "connectionId": cid,
            "vendorId": f"vendor_balance_{_digits(r, 5)}", "type": btype, "amount": amount,
            "currency": currency,
            "expiresAt": stamp(created + timedelta(days=r.randrange(30, 900)), False),
            "description": f"{btype.replace('_', ' ').capitalize()} from {_fake.company()}",
            "isActive": r.random() < 0.8, "accountIdentifier": f"acc_{_digits(r, 10)}"}


def _statement(r, cid, created, n):
    start = (created.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
             - timedelta(days=1)).replace(day=1)
    end = created.replace(day=1, hour=0, minute=0, second=0, microsecond=0) \
        - timedelta(milliseconds=1)
    return {"id": f"bs_{_hex(r, 16)}", "connectionId": cid,
            "vendorId": f"stmt_vendor_{_digits(r, 5)}",
            "periodStart": stamp(start, True), "periodEnd": stamp(end, True),
            "statementDate": stamp(end + timedelta(milliseconds=1), True),
            "dueDate": stamp(end + timedelta(days=15, milliseconds=1), True),
            "amountDue": _money(r, 20, 400), "currency": "USD",
            "status": r.choice(STATEMENT_STATUSES)}


_CATEGORIES = ["Food & Dining", "Shopping", "Travel", "Entertainment", "Groceries", "Transport"]


def _history(r, cid, created, n):
    amount = _money(r, 2, 300)
    when = stamp(created - timedelta(minutes=5), False)
    tx = f"tx_{_digits(r, 6)}"
    return {"id": f"hist_{_hex(r, 12)}", "connectionId": cid,
            "vendorId": f"vendor_history_{_digits(r, 5)}", "order": n,
            "rawData": {"transaction_id": tx, "timestamp": when, "raw_amount": f"${amount:.2f}"},
            "structuredData": {"transactionId": tx, "date": when, "amount": amount,
                               "currency": "USD"},
            "enrichedData": {"merchantName": _fake.company(), "category": r.choice(_CATEGORIES),
                             "location": {"city": _fake.city(), "state": _fake.state_abbr()}}}


def _loyalty(r, cid, created, n):
    return {"id": f"loyalty_{_hex(r, 12)}", "connectionId": cid,
            "vendorId": f"vendor_user_{_digits(r, 5)}",
            "loyaltyTier": r.choice(["Bronze", "Silver", "Gold", "Platinum", "Diamond"]),
            "metadata": {"program": r.choice(["rewards", "miles", "elite"]),
                         "points": r.randrange(0, 100_000)}}


def _payment_method(r, cid, created, n):
    brand = r.choice(["Visa", "Mastercard", "Amex", "Discover"])
    return {"id": f"pm_{_hex(r, 12)}", "connectionId": cid,
            "vendorId": f"vendor_pm_{_digits(r, 5)}",
            "type": r.choice(["credit_card", "credit_card", "debit_card"]), "brand": brand,
            "last4": _digits(r, 4),
            "expirationDate": f"{r.randrange(1, 13):02d}/{r.randrange(2025, 2032)}",
            "nickname": f"{_fake.first_name()}'s {brand}", "isDefault": False,
            "billingAddress": {"street": _fake.street_address(), "city": _fake.city(),
                               "state": _fake.state_abbr(), "zipCode": _fake.zipcode(),
                               "country": "US"}}


def _isbn10_check(first9: str) -> str:
    total = sum((10 - i) * int(d) for i, d in enumerate(first9))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _isbn13_of(isbn10: str) -> str:
    """The 978- ISBN-13 of an ISBN-10, as the documented example pairs them."""
    body = "978" + isbn10[:9]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _reading_from(slots: dict[int, dict], first: int) -> Callable[..., dict]:
    """The reading-history maker: item `n` is the book dealt to its slot, else an invented one."""
    def make(r, cid, created, n):
        book = slots.get(n - first)
        if book is None:
            isbn10 = _digits(r, 9)
            isbn10 += _isbn10_check(isbn10)
            book = {"title": _fake.catch_phrase().title(),
                    "authors": [_fake.name() for _ in range(r.choice([1, 1, 1, 2]))],
                    "isbn10": isbn10, "description": _fake.sentence(nb_words=10)}
        progress = r.choice([0, 5, 12, 25, 33, 50, 64, 75, 90, 100, 100])
        # The documented item's key order.
        return {"id": f"read_{_hex(r, 12)}", "vendorId": f"vendor_book_{_digits(r, 5)}",
                "title": book["title"], "authors": list(book["authors"]),
                "isbn13": _isbn13_of(book["isbn10"]), "isbn10": book["isbn10"],
                "asin": "B0" + "".join(r.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
                                       for _ in range(8)),
                "progress": progress, "read": progress == 100,
                "description": book["description"]}
    return make


_CITIES = [("San Francisco", "California", "United States", "US"),
           ("New York", "New York", "United States", "US"),
           ("London", "England", "United Kingdom", "GB"),
           ("Paris", "Ile-de-France", "France", "FR"),
           ("Tokyo", "Tokyo", "Japan", "JP"),
           ("Austin", "Texas", "United States", "US")]


def _trip(r, cid, created, n):
    ttype = r.choice(TRIP_TYPES)
    city, state, country, code = r.choice(_CITIES)
    base = r.randrange(40, 2_000)
    taxes = round(base * 0.18)
    name = f"{_fake.last_name()} {r.choice(['Hotel', 'Suites', 'Inn', 'Resort', 'Lodge'])}"
    check_in = created + timedelta(days=r.randrange(1, 90), hours=15 - created.hour)
    return {"id": f"trip_{_hex(r, 12)}", "connectionId": cid,
            "vendorId": f"vendor_trip_{_digits(r, 5)}", "type": ttype,
            "bookingStatus": r.choice(BOOKING_STATUSES), "name": name,
            "propertySlug": name.lower().replace(" ", "-"),
            "provider": r.choice(["expedia", "airbnb", "booking", "marriott", "united", "hertz"]),
            "amount": base + taxes, "amountFormatted": f"${base + taxes:,.2f}", "currency": "USD",
            "baseAmount": base, "taxesAndFees": taxes,
            "checkInDate": stamp(check_in, False),
            "checkOutDate": stamp(check_in + timedelta(days=r.randrange(1, 8), hours=-4), False),
            "locationDisplayName": f"Downtown {city}", "locationCity": city,
            "locationState": state, "locationCountry": country, "locationCountryCode": code,
            "confirmationNumber": f"CONF{_digits(r, 6)}", "typeSpecificData": {}}


_MAKERS: dict[str, Callable[..., dict]] = {
    "account-info": _account_info, "balances": _balance, "billing-statements": _statement,
    "history": _history, "loyalty": _loyalty, "payment-methods": _payment_method,
    "reading-history": _reading_from({}, 0), "trips": _trip,
}
