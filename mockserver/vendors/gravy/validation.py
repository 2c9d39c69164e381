"""class-validator, as NestJS's ValidationPipe runs it (whitelist + forbidNonWhitelisted + transform).

Messages and their order follow class-validator: unknown properties first, then each DTO property
in declaration order, each property's constraints in the order its decorators register them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

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


def EachString() -> Rule:
    return Rule("isString", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                "each value in $property must be a string")


_ISO = re.compile(
    r"[+-]?\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?"
    r"([T ]([01]\d|2[0-3])(:[0-5]\d)?(:[0-5]\d([.,]\d+)?)?([zZ]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)?")


def parse_when(value: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO-8601 query value as UTC; a bare date as an upper bound covers its whole day."""
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        return None
    text = value.replace(",", ".")
    try:
        if len(text) == 4:
            dt = datetime(int(text), 1, 1)
        elif len(text) == 7:
            dt = datetime(int(text[:4]), int(text[5:7]), 1)
        else:
            if text[-1] in "zZ":
                text = text[:-1] + "+00:00"
            dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    if end_of_day and len(value) == 10:
        dt += timedelta(days=1, microseconds=-1000)
    return dt


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
    return int(f) if math.isfinite(f) and f.is_integer() and abs(f) < 2**53 else f


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


@dataclass
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
