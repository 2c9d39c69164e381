"""class-validator, as NestJS's ValidationPipe runs it (whitelist + forbidNonWhitelisted + transform).

Messages and their order follow class-validator: unknown properties first, then each DTO property
in declaration order, each property's constraints in the order its decorators register them.
"""
from __future__ import annotations

import calendar
import ipaddress
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ...core.http import as_js

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Rule:
    name: str
    test: Callable[[Any], bool]
    template: str  # "$property must be ..."

    def message(self, prop: str) -> str:
        return self.template.replace("$property", prop)


def IsString() -> Rule:
    return Rule("isString", lambda v: isinstance(v, str), "$property must be a string")


def IsNotEmpty() -> Rule:
    return Rule("isNotEmpty", lambda v: v is not MISSING and v is not None and v != "",
                "$property should not be empty")


def IsBoolean() -> Rule:
    return Rule("isBoolean", lambda v: isinstance(v, bool), "$property must be a boolean value")


def IsNumber() -> Rule:
    return Rule("isNumber", is_number,
                "$property must be a number conforming to the specified constraints")


def IsInt() -> Rule:
    return Rule("isInt", lambda v: is_number(v) and float(v).is_integer(),
                "$property must be an integer number")


def Min(n: float) -> Rule:
    return Rule("min", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= n,
                f"$property must not be less than {n}")


def Max(n: float) -> Rule:
    return Rule("max", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v <= n,
                f"$property must not be greater than {n}")


def IsEnum(values: tuple[str, ...]) -> Rule:
    allowed = frozenset(values)
    return Rule("isEnum", lambda v: isinstance(v, str) and v in allowed,
                "$property must be one of the following values: " + ", ".join(values))


def IsObject() -> Rule:
    return Rule("isObject", lambda v: isinstance(v, dict), "$property must be an object")


def IsArray() -> Rule:
    return Rule("isArray", lambda v: isinstance(v, list), "$property must be an array")


_IPV4 = re.compile(r"((25[0-5]|(2[0-4]|1\d|[1-9]|)\d)\.){3}(25[0-5]|(2[0-4]|1\d|[1-9]|)\d)")
_TLD = re.compile(
    r"([a-z\u00a1-\u00a8\u00aa-\ud7ff\uf900-\ufdcf\ufdf0-\uffef]{2,}|xn[a-z0-9-]{2,})", re.IGNORECASE)
_LABEL = re.compile(r"[a-z_\u00a1-\uffff0-9-]+", re.IGNORECASE)


def _is_fqdn(host: str, require_tld: bool) -> bool:
    """validator.js isFQDN with isURL's options (no underscores, no trailing dot)."""
    parts = host.split(".")
    tld = parts[-1]
    if require_tld and (len(parts) < 2 or not _TLD.fullmatch(tld)):
        return False
    if tld.isdigit():
        return False
    return all(len(p) <= 63 and _LABEL.fullmatch(p) and not re.search("[\uff01-\uff5e]", p)
               and not p.startswith("-") and not p.endswith("-") and "_" not in p for p in parts)


def is_url(v: Any) -> bool:
    """validator.js isURL with the defaults `@IsUrl()` passes (http, https, ftp; a host name with
    a TLD or an IP address; no protocol needed), except that a host after an explicit protocol
    may lack a TLD, so `http://localhost:3000/hooks` and docker-compose names pass (see
    docs/fidelity.md)."""
    if not isinstance(v, str) or not v or re.search(r"[\s<>]", v) or v.startswith("mailto:") \
            or len(v) > 2084:
        return False
    url = v.split("#", 1)[0].split("?", 1)[0]
    protocol, sep, rest = url.partition("://")
    if sep:
        if protocol.lower() not in ("http", "https", "ftp"):
            return False
        url = rest
    elif url.startswith("//"):
        return False  # protocol-relative URLs are refused by default
    hostport = url.split("/", 1)[0]
    if not hostport:
        return False
    if "@" in hostport:
        auth, _, hostport = hostport.partition("@")  # a second "@" then fails the host
        user, _, password = auth.partition(":")
        if not auth or auth.count(":") > 1 or (user == password == ""):
            return False
    wrapped = re.fullmatch(r"\[([^\]]+)\](?::([0-9]+))?", hostport)
    if wrapped:
        host, ipv6, port = "", wrapped.group(1), wrapped.group(2)
    else:
        host, colon, port = hostport.partition(":")
        ipv6, port = None, port if colon else None
    if port:
        if not port.isascii() or not port.isdigit() or not 0 < int(port) <= 65535:
            return False
    if _IPV4.fullmatch(host) or _is_fqdn(host, require_tld=not sep):
        return True
    if ipv6:
        try:
            ipaddress.IPv6Address(ipv6)
            return True
        except ValueError:
            return False
    return False


def IsUrl() -> Rule:
    return Rule("isUrl", is_url, "$property must be a URL address")


def EachString() -> Rule:
    return Rule("isString", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                "each value in $property must be a string")


# validator.js isISO8601 (what @IsDateString() runs), verbatim: it only checks the shape.
_ISO = re.compile(
    r"([\+-]?\d{4}(?!\d{2}\b))((-?)((0[1-9]|1[0-2])(\3([12]\d|0[1-9]|3[01]))?"
    r"|W(0[1-9]|[1-4]\d|5[0-3])(-?[1-7])?|(00[1-9]|0[1-9]\d|[12]\d{2}|3([0-5]\d|6[0-6])))"
    r"([T\s]((([01]\d|2[0-3])((:?)[0-5]\d)?|24:?00)([\.,]\d+(?!:))?)?(\17[0-5]\d([\.,]\d+)?)?"
    r"([zZ]|([\+-])([01]\d|2[0-3]):?([0-5]\d)?)?)?)?")
_DATE = re.compile(r"([+-]?)(\d{4})(?:-?(?:(\d{2})(?:-?(\d{2}))?|W(\d{2})(?:-?(\d))?|(\d{3})))?")
_TIME = re.compile(r"(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(?:[.,](\d+))?"
                   r"([zZ]|([+-])(\d{2}):?(\d{2})?)?")


def parse_when(value: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO-8601 query value (any form validator.js accepts) as a UTC instant.

    A bare date is UTC midnight, as `new Date("2024-01-15")`; as an upper bound it covers its
    whole day (or month, year, week). None when the shape is wrong or the date does not exist.
    """
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        return None
    sep = re.search(r"[T\s]", value)
    date_part, time_part = (value[:sep.start()], value[sep.end():]) if sep else (value, "")
    d = _DATE.fullmatch(date_part)
    if d is None or d.group(1) == "-":
        return None  # years before 0001 do not exist for datetime
    _, year, month, day, week, weekday, ordinal = d.groups()
    y = int(year)
    try:
        if week:
            start = datetime.fromisocalendar(y, int(week), int(weekday or 1))
            span = timedelta(days=1 if weekday else 7)
        elif ordinal:
            start = datetime(y, 1, 1) + timedelta(days=int(ordinal) - 1)
            if start.year != y:
                return None
            span = timedelta(days=1)
        elif month and day:
            start, span = datetime(y, int(month), int(day)), timedelta(days=1)
        elif month:
            start = datetime(y, int(month), 1)
            span = timedelta(days=calendar.monthrange(y, int(month))[1])
        else:
            start, span = datetime(y, 1, 1), timedelta(days=365 + calendar.isleap(y))
    except (ValueError, OverflowError):  # no such date; day 366 of 9999 is past datetime.max
        return None
    tz = timezone.utc
    # Spans are added last-millisecond first, so 9999-12-31 as an upper bound stays in range;
    # an instant outside years 1-9999 in UTC (0001-01-01T00:00+23:00) is not one Python holds.
    try:
        if not time_part:
            dt = start.replace(tzinfo=tz)
            return dt + (span - timedelta(milliseconds=1)) if end_of_day else dt
        t = _TIME.fullmatch(time_part)
        if t is None:
            return None
        hh, mm, ss, frac, zone, zsign, zh, zm = t.groups()
        if zone and zone not in "zZ":
            offset = timedelta(hours=int(zh), minutes=int(zm or 0))
            tz = timezone(offset if zsign == "+" else -offset)
        micro = int((frac or "0")[:6].ljust(6, "0")) if ss else 0
        dt = start.replace(tzinfo=tz) + timedelta(hours=int(hh), minutes=int(mm or 0),
                                                  seconds=int(ss or 0), microseconds=micro)
        return dt.astimezone(timezone.utc)
    except OverflowError:
        return None


def IsDateString() -> Rule:
    return Rule("isDateString", lambda v: parse_when(v) is not None,
                "$property must be a valid ISO 8601 date string")


# -- class-transformer conversions for query strings -----------------------------------------
_DEC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def js_number(v: Any) -> Any:
    """JavaScript's Number(string), which `@Type(() => Number)` applies to query values."""
    if v is MISSING:
        return v
    if isinstance(v, list):
        return [js_number(x) for x in v]
    t = v.strip()
    if t == "":
        return 0
    try:
        if _DEC.fullmatch(t):
            f = float(t)
        elif t[:2].lower() in ("0x", "0o", "0b"):
            f = float(int(t, 0))
        elif t in ("Infinity", "+Infinity"):
            f = math.inf
        elif t == "-Infinity":
            f = -math.inf
        else:
            return math.nan
    except ValueError:
        return math.nan
    return as_js(f)


def js_bool(v: Any) -> Any:
    """`true`/`false` (and 1/0) become booleans; anything else stays and fails IsBoolean."""
    if isinstance(v, str):
        low = v.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
    return v


# -- DTOs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prop:
    name: str
    rules: tuple[Rule, ...]
    optional: bool = False
    transform: Callable[[Any], Any] | None = None
    nested: "Dto | None" = None  # @ValidateNested() @Type(() => Dto) over an array
    # Deeper checks once the property's own rules pass: (value, path) -> errors below it.
    check: Callable[[Any, str], list[tuple[str, dict[str, str]]]] | None = None


@dataclass(eq=False)   # hashed by identity: a key of the validated-query memo (Gravy.queries)
class Dto:
    props: tuple[Prop, ...]
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.names = frozenset(p.name for p in self.props)

    def validate(self, data: dict[str, Any], prefix: str = "") \
            -> tuple[dict[str, Any], list[tuple[str, dict[str, str]]]]:
        """(transformed values, errors as (property, {constraint: message}))."""
        errors: list[tuple[str, dict[str, str]]] = []
        for key in data:
            if key not in self.names:
                errors.append((prefix + key, {
                    "whitelistValidation": f"{prefix}property {key} should not exist"}))
        values: dict[str, Any] = {}
        for prop in self.props:
            v = data.get(prop.name, MISSING)
            if prop.optional and (v is MISSING or v is None):
                continue
            if prop.transform is not None:
                v = prop.transform(v)
            constraints = {r.name: prefix + r.message(prop.name) for r in prop.rules
                           if not r.test(v)}
            if prop.nested is not None and v is not MISSING:
                if isinstance(v, list):
                    for i, item in enumerate(v):
                        sub = f"{prefix}{prop.name}.{i}."
                        if isinstance(item, dict):
                            errors_sub = prop.nested.validate(item, sub)[1]
                        else:
                            errors_sub = [(sub.rstrip("."), {"nestedValidation":
                                f"{prefix}each value in nested property {prop.name} "
                                "must be either object or array"})]
                        if constraints:
                            errors.append((prefix + prop.name, constraints))
                            constraints = {}
                        errors.extend(errors_sub)
                elif not isinstance(v, dict):
                    constraints["nestedValidation"] = (
                        f"{prefix}nested property {prop.name} must be either object or array")
            if constraints:
                errors.append((prefix + prop.name, constraints))
                continue
            below = prop.check(v, prefix + prop.name) if prop.check and v is not MISSING else []
            if below:
                errors.extend(below)
            elif v is not MISSING:
                values[prop.name] = v
        return values, errors


# -- the shared query DTO parts -------------------------------------------------------------
def page_props(sort_fields: tuple[str, ...]) -> dict[str, Prop]:
    return {
        "page": Prop("page", (Min(1), IsInt()), optional=True, transform=js_number),
        "limit": Prop("limit", (Max(100), Min(1), IsInt()), optional=True, transform=js_number),
        "sortBy": Prop("sortBy", (IsEnum(sort_fields),), optional=True),
        "sortOrder": Prop("sortOrder", (IsEnum(("asc", "desc")),), optional=True),
    }


def query_dict(multi_items: list[tuple[str, str]]) -> dict[str, Any]:
    """Express's query parser: a repeated key becomes an array."""
    out: dict[str, Any] = {}
    for k, v in multi_items:
        if k in out:
            prev = out[k]
            out[k] = prev + [v] if isinstance(prev, list) else [prev, v]
        else:
            out[k] = v
    return out
