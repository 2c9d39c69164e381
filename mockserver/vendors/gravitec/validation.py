"""Reading Gravitec requests as its Spring Boot server does.

Two stages, as there: Jackson binds the JSON body to typed fields first (a value it cannot
coerce is a 400 "JSON parse error"), then the documented rules run (a broken one is the
documented 422 with an `errorDescription` naming it). Query and form parameters follow Tomcat
and Spring: repeated values are joined with commas, a badly encoded pair is dropped.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, TypeVar
from urllib.parse import unquote_to_bytes, urlsplit

from .errors import wrong_param
from .store import OPERATORS, Site, java_length

T = TypeVar("T")

INT_MIN, INT_MAX = -2**31, 2**31 - 1
LONG_MAX = 2**63 - 1
TTL_DEFAULT, TTL_MAX = 28800, 2419200
DISPLAY_DEFAULT, DISPLAY_MAX = 60, 2419200
TEXT_MAX, URL_MAX, BUTTON_TITLE_MAX, BUTTONS_MAX = 1000, 1000, 48, 2
TOKENS_MAX, SEGMENT_MIN, SEGMENT_MAX, TAG_MAX, PUSH_TAG_MAX = 100, 1, 256, 255, 100
IMAGE_ENDINGS = (".jpg", ".jpeg", ".png")
AUDIENCE_KEYS = ("tokens", "aliases", "tags", "tags_segment")


class SpringError(Exception):
    """A 400/413/415 that Spring itself writes (its body needs the path and the clock)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- parameters (Tomcat + Spring) ---------------------------------------------------------------
def parse_params(raw: bytes, into: dict[str, list[str]]) -> None:
    """application/x-www-form-urlencoded pairs, as Tomcat decodes them (UTF-8, "+" is a space).
    A pair whose escapes or UTF-8 are broken is ignored, as Tomcat logs and skips it."""
    if b"%" not in raw and b"+" not in raw:  # plain text, the usual query: decoded once
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass  # some pair's UTF-8 is broken: pair by pair below
        else:
            for pair in text.split("&"):
                key, _, val = pair.partition("=")
                if key:
                    into.setdefault(key, []).append(val)
            return
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        try:
            key = _decode(name)
            val = _decode(value)
        except ValueError:
            continue
        if key:
            into.setdefault(key, []).append(val)


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _decode(raw: bytes) -> str:
    raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        if _BAD_ESCAPE.search(raw):  # unquote_to_bytes keeps a bad escape; Tomcat refuses it
            raise ValueError("bad escape")
        raw = unquote_to_bytes(raw)
    return raw.decode("utf-8")  # UnicodeDecodeError is a ValueError


def param(params: dict[str, list[str]], name: str) -> str | None:
    """A required String @RequestParam: several values joined with commas; absent or empty
    (the doc's `?regId=` is a 400) is None."""
    values = params.get(name)
    if not values:
        return None
    value = ",".join(values)
    return value or None


# -- Jackson's coercions -----------------------------------------------------------------------
def _token(value: Any) -> str:
    return "START_OBJECT" if isinstance(value, dict) else "START_ARRAY" \
        if isinstance(value, list) else "VALUE_STRING" if isinstance(value, str) else \
        "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else "VALUE_NUMBER"


def _bad(java_type: str, value: Any) -> SpringError:
    if isinstance(value, str):
        shown = value if len(value) <= 100 else value[:100] + "..."
        return SpringError(400, f"JSON parse error: Cannot deserialize value of type "
                                f"`{java_type}` from String \"{shown}\": not a valid "
                                f"{java_type.rsplit('.', 1)[-1]} value")
    return SpringError(400, f"JSON parse error: Cannot deserialize instance of `{java_type}` "
                            f"out of {_token(value)} token")


def j_int(value: Any) -> int | None:
    """An Integer field: numbers (fractions truncated), numeric strings, "" as null."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise _bad("java.lang.Integer", value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            number = int(text, 10) if text.lstrip("+-").isdigit() and text.isascii() else None
        except ValueError:
            number = None
        if number is None:
            raise _bad("java.lang.Integer", value)
    elif isinstance(value, float):
        if not math.isfinite(value) or not INT_MIN <= value <= INT_MAX:
            raise SpringError(400, f"JSON parse error: Numeric value ({value!r}) out of range "
                                   "of int")
        number = int(value)  # Jackson's ACCEPT_FLOAT_AS_INT truncates
    else:
        number = value
    if not INT_MIN <= number <= INT_MAX:
        raise SpringError(400, f"JSON parse error: Numeric value ({number}) out of range of int")
    return number


def j_str(value: Any) -> str | None:
    """A String field: scalars become their text; objects and arrays are refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise _bad("java.lang.String", value)


def j_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "":
            return None
        if text in ("true", "false"):
            return text == "true"
        raise SpringError(400, f"JSON parse error: Cannot deserialize value of type "
                               f"`java.lang.Boolean` from String \"{value[:100]}\": only "
                               "\"true\" or \"false\" recognized")
    raise _bad("java.lang.Boolean", value)


def j_list(value: Any, element: Callable[[Any], T]) -> list[T] | None:
    if value is None:
        return None
    if not isinstance(value, list):  # ACCEPT_SINGLE_VALUE_AS_ARRAY is off
        raise SpringError(400, "JSON parse error: Cannot deserialize instance of "
                               f"`java.util.ArrayList<java.lang.Object>` out of {_token(value)} "
                               "token")
    return [element(v) for v in value]


def j_obj(value: Any, java_type: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise SpringError(400, f"JSON parse error: Cannot construct instance of `{java_type}`: "
                           f"no delegate-creator to deserialize from {_token(value)}")


# -- POST /api/v3/push -------------------------------------------------------------------------
@dataclass
class Push:
    send_at_ms: int
    ttl: int
    display_time: int
    push_tag: str | None
    is_transactional: bool
    payload: dict[str, Any]
    audience: tuple[str, Any] | None
    at_once: bool = False    # send_date meant "now" (not a time), so send_at_ms is the clock's


def read_push(body: Any, site: Site, now: float) -> Push:
    """The push body, bound then checked; raises SpringError (400) or the documented 422."""
    if not isinstance(body, dict):
        raise _bad("net.gravitec.api.v3.PushRequest", body)
    # Stage 1: Jackson binds every field (unknown ones are ignored, as Spring Boot sets it).
    send_date = body.get("send_date")
    ttl = j_int(body.get("ttl"))
    push_tag = j_str(body.get("push_tag"))
    display_time = j_int(body.get("display_time"))
    is_transactional = j_bool(body.get("is_transactional"))
    segments = j_list(body.get("segments"), j_str)
    payload = j_obj(body.get("payload"), "net.gravitec.api.v3.Payload")
    audience = j_obj(body.get("audience"), "net.gravitec.api.v3.Audience")
    fields: dict[str, Any] = {}
    buttons: list[dict[str, str | None] | None] | None = None
    if payload is not None:
        for name in ("message", "title", "icon", "image", "redirect_url"):
            fields[name] = j_str(payload.get(name))
        buttons = j_list(payload.get("buttons"), _button)
    target: dict[str, Any] = {}
    if audience is not None:
        for name in ("tokens", "aliases", "tags"):
            target[name] = j_list(audience.get(name), j_str)
        target["tags_segment"] = j_list(audience.get("tags_segment"), _condition)

    # Stage 2: the documented rules, payload first.
    if payload is None:
        raise wrong_param("Payload is required!")
    message = fields["message"]
    if message is None or not message.strip():
        raise wrong_param("Message is required!")
    if java_length(message) > TEXT_MAX:
        raise wrong_param(f"Max message length is {TEXT_MAX}!")
    title = fields["title"] or "Title"
    if java_length(title) > TEXT_MAX:
        raise wrong_param(f"Max title length is {TEXT_MAX}!")
    icon = _image_url(fields["icon"], "Icon")
    image = _image_url(fields["image"], "Image")
    redirect = fields["redirect_url"]
    if redirect is None or not redirect.strip():
        raise wrong_param("Redirect url is required!")
    _url(redirect, "Redirect url")
    if buttons is not None:
        if len(buttons) > BUTTONS_MAX:
            raise wrong_param(f"Max buttons count is {BUTTONS_MAX}!")
        for button in buttons:
            b_title = button and button["title"]
            if not b_title or not b_title.strip():
                raise wrong_param("Button title is required!")
            if java_length(b_title) > BUTTON_TITLE_MAX:
                raise wrong_param(f"Max button title length is {BUTTON_TITLE_MAX}!")
            b_url = button and button["url"]
            if not b_url or not b_url.strip():
                raise wrong_param("Button url is required!")
            _url(b_url, "Button url")

    ttl = TTL_DEFAULT if ttl is None else ttl
    if not 0 <= ttl <= TTL_MAX:
        raise wrong_param(f"TTL must be between 0 and {TTL_MAX}!")
    display_time = DISPLAY_DEFAULT if display_time is None else display_time
    if not 0 <= display_time <= DISPLAY_MAX:
        raise wrong_param(f"Display time must be between 0 and {DISPLAY_MAX}!")
    if push_tag == "":
        push_tag = None  # the doc's own template sends "" for every field it leaves unset
    if push_tag is not None and not 1 <= java_length(push_tag) <= PUSH_TAG_MAX:
        raise wrong_param(f"Push tag length must be between 1 and {PUSH_TAG_MAX}!")
    send_at = _send_date(send_date, now)

    chosen = _audience(segments, audience, target, site)
    out_payload: dict[str, Any] = {"message": message, "title": title,
                                   "redirect_url": redirect}
    if icon is not None:
        out_payload["icon"] = icon
    if image is not None:
        out_payload["image"] = image
    if buttons:
        out_payload["buttons"] = [{"title": b["title"], "url": b["url"]} for b in buttons if b]
    return Push(send_at, ttl, display_time, push_tag, bool(is_transactional), out_payload,
                chosen, _means_now(send_date))


def _button(value: Any) -> dict[str, str | None] | None:
    obj = j_obj(value, "net.gravitec.api.v3.Button")
    if obj is None:
        return None
    return {"title": j_str(obj.get("title")), "url": j_str(obj.get("url"))}


def _condition(value: Any) -> dict[str, str | None] | None:
    obj = j_obj(value, "net.gravitec.api.v3.TagCondition")
    if obj is None:
        return None
    return {"association": j_str(obj.get("association")), "name": j_str(obj.get("name"))}


def valid_url(url: str) -> bool:
    """An absolute http(s) URL with a host and nothing blank in it (RFC 3986 allows no
    spaces, tabs or control characters)."""
    if any(c <= " " or c == "\x7f" for c in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def _url(url: str, what: str) -> None:
    if java_length(url) > URL_MAX:
        raise wrong_param(f"Max {what.lower()} length is {URL_MAX}!")
    if not valid_url(url):
        raise wrong_param(f"{what} must be a correct url without spaces or tabs at the start "
                          "and at the end!")


def _image_url(url: str | None, what: str) -> str | None:
    if url is None or url == "":
        return None  # no icon: the site's default icon (the doc's "Not specifying")
    if java_length(url) > URL_MAX:
        raise wrong_param(f"Max {what.lower()} url length is {URL_MAX}!")
    if not valid_url(url) or not url.lower().endswith(IMAGE_ENDINGS):
        raise wrong_param(f"{what} url must be a correct url ending with .jpg, .jpeg or .png!")
    return url


def _means_now(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "now"))


def _send_date(value: Any, now: float) -> int:
    """Milliseconds since the epoch; "", "now", null or absent mean now; a later time
    schedules the campaign."""
    now_ms = int(now * 1000)
    if _means_now(value):
        return now_ms
    ms: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii() \
            and len(value.strip()) <= 19:
        ms = int(value.strip())
    if ms is None or not 0 <= ms <= LONG_MAX:
        raise wrong_param("Send date must be \"now\" or a time in milliseconds since the "
                          "epoch!")
    if ms < now_ms:
        raise wrong_param("Send date must be in the future!")
    return ms


def _audience(segments: list[str | None] | None, audience: dict[str, Any] | None,
              target: dict[str, Any], site: Site) -> tuple[str, Any] | None:
    named = [s for s in segments or [] if s is not None]
    if named and audience is not None:
        raise wrong_param("You can not include both the segments and the audience section!")
    if named:
        if len(named) > 1:
            raise wrong_param("You can only send to one segment!")
        if named[0] not in site.segments:
            raise wrong_param("There is no segment with this name!")
        return ("segment", named[0])
    if audience is None:
        return None  # everyone
    given = [k for k in AUDIENCE_KEYS if target.get(k) is not None]
    if len(given) != 1:
        raise wrong_param("Audience must contain only one of tokens, aliases, tags or "
                          "tags_segment!")
    kind = given[0]
    values = target[kind]
    if kind == "tokens":
        if len(values) > TOKENS_MAX:
            raise wrong_param(f"Max tokens count is {TOKENS_MAX}!")
        return ("tokens", [v for v in values if v is not None])
    if kind in ("aliases", "tags"):
        return (kind, [v for v in values if v is not None])
    if not SEGMENT_MIN <= len(values) <= SEGMENT_MAX:
        raise wrong_param(f"Tags segment must contain from {SEGMENT_MIN} to {SEGMENT_MAX} "
                          "elements!")
    seen: set[str] = set()
    conditions: list[dict[str, str]] = []
    for cond in values:
        op = cond and cond["association"]
        if op not in OPERATORS:
            raise wrong_param("Logical operator must be one of AND, AND_NOT, OR, OR_NOT!")
        name = cond["name"] or ""
        if not 1 <= java_length(name) <= TAG_MAX:
            raise wrong_param(f"Tag name length must be between 1 and {TAG_MAX}!")
        if name.lower() in seen:
            raise wrong_param("Tag names must be unique case-insensitively!")
        seen.add(name.lower())
        if not site.tag_exists(name):
            raise wrong_param(f"There is no tag with this name: {name}!")
        conditions.append({"association": op, "name": name})
    return ("tags_segment", conditions)
