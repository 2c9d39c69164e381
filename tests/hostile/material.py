"""The hostile values every module draws from: text, dates, numbers, bodies, credentials."""
from __future__ import annotations

import base64
import os
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mockserver.core.clock import EARLIEST, LATEST, iso_ms

from ..conftest import DOC_TIME

SCALE = int(os.environ.get("HOSTILE_SCALE", "1"))
FUZZ = settings(deadline=None, derandomize=SCALE == 1, database=None,
                suppress_health_check=list(HealthCheck))


def examples(n: int) -> settings:
    return settings(FUZZ, max_examples=n * SCALE)


# -- hostile material -----------------------------------------------------------------------
def enc(value: str) -> str:
    """Percent-encoded as a client would, lone surrogates as the invalid UTF-8 they become."""
    return quote(value, safe="", errors="surrogatepass")


def header_bytes(value: str) -> bytes:
    """What a client puts on the wire: UTF-8, lone surrogates as the invalid bytes they make."""
    return value.encode("utf-8", "surrogatepass")


def b64(value: bytes) -> bytes:
    return base64.b64encode(value)


LONG = "a" * 10_000
NASTY_TEXT = [
    "", " ", "é", "\u00e9\u0301", "日本", "\U0001d54f", "\x00", "\x01\x1f\x7f", "\r\n", "\t",
    "\ud800", "\udfff", "\ufeff", "\u202e", "\uffff", LONG, "%", "%zz", "%ff", "%00", "../..",
    "null", "true", "[]", "{}", "NaN", "Infinity", "-Infinity", "-0", "0", "1e308", "-1e308",
    "1e309", "9" * 400, "0x10", "0b1", "0o7", "' OR 1=1 --", "<script>", "${jndi:x}", "a" * 300,
    # URLs a client may register (webhookUrl, returnUrl) that fail locally, without DNS
    "http://[::1", "http://127.0.0.1:1/", "http://a b/", "http://%zz/", "http://\x00/", "ftp://x",
    "//x", "http:",
]
DATE_EDGES = [
    "0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:00", "0001-01-01T00:00+23:59",
    "0001-01-01T00:00-23:00", "0001", "0001-W01-1", "0001-001", "9999-12-31", "9999-12-31T23:59Z",
    "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.9999999999Z", "9999-12-31T23:59:59-23:00",
    "9999-12-31T12:00+23:59", "9999", "9999-12", "9999-W52-5", "9999-W53", "9999-365",
    "9999-366", "+009999-12-31", "-000001-01-01", "+275760-09-13", "10000-01-01", "0000-01-01",
    "2024-02-30", "2024-13-01", "2024-01-01T24:00", "2024-01-01T23:59:60", "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z", "2024-01-15T10:30:00.000Z",
]
NUMBER_EDGES = ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e308", "-1e308", "1e309", "-0",
                "0", "-1", "1.5", "1e-400", "9007199254740993", "9" * 30, "9" * 5000, "0x",
                "0xffffffffffffffffffffffff", "0b1", "0o7", "1_000", " 1 ", "+1", "--1"]
RAW_SEGMENTS = ["%zz", "%", "%ff%fe", "%00", "%ed%a0%80", "%C0%AF", "%2F", "%2e%2e", "..",
                "%25", "a%20b", "%0d%0a", quote(LONG), "x" * 3000]
DEPTHS = [100, 256, 257, 500, 900, 990, 1000, 1010, 5000, 100_000]  # core.http.MAX_DEPTH: 256


def _deep_bodies() -> list[bytes]:
    out = []
    for n in DEPTHS:
        out += [b"[" * n, b"[" * n + b"]" * n, b'{"a":' * n, b'{"a":' * n + b"1" + b"}" * n]
    # Inside an object, as a value of a field a DTO reads.
    out += [b'{"grant_type":' + b"[" * 100_000, b'{"resources":' + b"[" * 990 + b"]" * 990 + b"}",
            b'{"tenant":' + b"[" * 1000 + b"]" * 1000 + b"}"]
    return out


DEEP_BODIES = _deep_bodies()
RAW_BODIES = DEEP_BODIES + [
    b"", b"   ", b"null", b"1", b'"x"', b"[]", b"[1,2]", b"true", b"\xff\xfe{}", b"\xef\xbb\xbf{}",
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}', b'{"a": -1e400}',
    b'{"a": 1' + b"0" * 5000 + b"}", b'{"a": "\\ud800"}', b'{"\\ud800": 1}', b'{"a": "\xff"}',
    b'{"a": 1,}', b"{'a': 1}", b'{"a": 1}{"b": 2}', b"{" + b'"k": 1,' * 20_000 + b'"z": 0}',
    b'{"k": "' + b"a" * 300_000 + b'"}', b"a=%zz&b=%&c=%ff&=&&d", b"\x00" * 64,
    b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
]
CONTENT_TYPES = [b"application/json", b"application/json; charset=utf-8",
                 b"application/x-www-form-urlencoded", b"text/plain", b"application/vnd.x+json",
                 b"multipart/form-data; boundary=x", b"application/json; charset=latin-1",
                 b"", b"\xff\xfe", b"APPLICATION/JSON"]
FIRST = iso_ms(datetime.fromtimestamp(EARLIEST, tz=timezone.utc))
LAST = iso_ms(datetime.fromtimestamp(LATEST - 1, tz=timezone.utc))
CLOCK_STARTS = [DOC_TIME, FIRST, "1970-01-01T00:00:01Z", LAST]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "get"]
CREDENTIAL_FIELDS = ["client_id", "client_secret", "clientId", "clientSecret", "grant_type",
                     "publishableKey", "token", "intentToken", "key_id", "tenant", "password"]
ADMIN_KEYS = ["advance", "set", "real", "tenant", "status", "failedResources", "id", "vendor",
              "method", "path", "body", "headers", "latency", "drop", "times"]  # + faults
ADMIN_QUERY = ["limit", "vendor", "method", "path", "status", "tenant", "kind", "summary",
               "token"]
GENERIC_QUERY = ["page", "limit", "sortBy", "sortOrder", "search", "from", "to", "startDate",
                 "endDate", "since", "until", "q", "id", "status", "createdAt", "updatedAt"]

text = st.one_of(
    st.sampled_from(NASTY_TEXT), st.text(max_size=12),
    st.text(st.characters(max_codepoint=0x1f), max_size=4),  # control characters
    # Lone surrogates: JSON.parse makes them of "\\ud800"; st.text never draws them.
    st.lists(st.integers(0xD800, 0xDFFF).map(chr) | st.characters(max_codepoint=0x7f),
             min_size=1, max_size=4).map("".join))
query_value = st.one_of(st.sampled_from(DATE_EDGES), st.sampled_from(NUMBER_EDGES),
                        text.map(enc),
                        st.sampled_from(["%zz", "%", "%ff", "%ed%a0%80", "a[b]=c", "&&", "="]))
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(),
    st.sampled_from([10 ** 400, -10 ** 400, 2 ** 53 + 1, 2 ** 64, -0.0, 1e308, -1e308]),
    st.floats(), text, st.sampled_from(DATE_EDGES))
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(text, c, max_size=3), max_leaves=6)


hostile_auth = st.one_of(
    st.tuples(st.just(b"authorization"), st.one_of(
        st.builds(lambda u, p: b"Basic " + b64(header_bytes(u) + b":" + header_bytes(p)),
                  text, text),
        st.builds(lambda t: b"Basic " + header_bytes(t), text),
        st.builds(lambda t: b"Bearer " + header_bytes(t), text),
        st.builds(lambda t: b"Publishable " + header_bytes(t), text),
        st.sampled_from([b"Basic", b"Bearer", b"Bearer  ", b"Basic \xff\xfe", b"Basic =",
                         b"Basic " + b64(b"\xff\xfe:\x00"), b"Basic " + b64(b"no-colon"),
                         b"Bearer a.b.c", b"Bearer eyJhbGciOiJub25lIn0.e30.",
                         b"Bearer " + b"x" * 20_000, b"Digest x", b"\x00",
                         b"basic " + b64(b":")]))),
    st.tuples(st.just(b"x-intent-token"), st.one_of(
        text.map(header_bytes),
        st.sampled_from([b"a.b.c", b"eyJhbGciOiJIUzI1NiJ9.e30.x", b"\xff\x00", b"." * 5000]))),
)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


# One property's hostile value, the others valid: validation gets past the rest to it.
hostile_value = st.one_of(json_value, st.sampled_from(NASTY_TEXT), st.sampled_from(DATE_EDGES),
                          st.sampled_from([nested(50), nested(255), nested(256), nested(300),
                                           {"a": nested(255)}, [[]] * 1000, "x" * 100_000]))
# What the clock is sent: any JSON, and numbers and dates at their edges.
clock_value = st.one_of(
    json_value, st.floats(), st.sampled_from([10 ** 400, -10 ** 400, 1e308, -1e308, True, False]),
    st.sampled_from(DATE_EDGES), st.integers())
# What each body property holds in turn in test_types.
WRONG_TYPES = [None, True, 0, -1, 1.5, 10 ** 400, float("nan"), float("inf"), "", "\ud800",
               "\x00", "x" * 100_000, [], ["a", 1, None], {}, {"a": {"b": []}}, nested(255),
               nested(300), "http://[::1", "9999-366"]
