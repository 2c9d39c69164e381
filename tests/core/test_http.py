"""core/http.py on its own: JSON read as JSON.parse reads it and written as JSON.stringify writes
it, the depth bound, header and credential helpers read straight from ASGI, the body readers'
bounds, and the vendor answer types. (VendorApp's use of RawJSON and read_limited is in
test_routing.py.)"""
from __future__ import annotations

import asyncio
import base64
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from mockserver.core.http import (MAX_DEPTH, REQUEST_BODY, RawJSON, TooDeep, TooLarge,
                                  VendorError, as_js, authorization, base_url, basic_credentials,
                                  declares_body, dump, finite, form_or_json, header, json_response,
                                  load, origin, original_url, read_limited, read_rest, reason)


def scope_with(*headers: tuple[bytes, bytes], **extra) -> dict:
    return {"type": "http", "method": "POST", "path": "/", "query_string": b"",
            "headers": list(headers), "state": {}, **extra}


def receiving(*messages: dict, then: dict | None = None):
    """An ASGI `receive` giving `messages`, then `then` for ever (None: waits for ever), and
    the count of calls made."""
    queue = list(messages)
    calls = [0]

    async def receive() -> dict:
        calls[0] += 1
        if queue:
            return queue.pop(0)
        if then is None:
            await asyncio.Event().wait()
        return then

    return receive, calls


def body(chunk: bytes, more: bool = False) -> dict:
    return {"type": "http.request", "body": chunk, "more_body": more}


DISCONNECT = {"type": "http.disconnect"}


async def capture(app) -> tuple[dict, bytes]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope_with(), receiving()[0], send)
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


# -- JSON read as JSON.parse reads it -----------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("5.0", 5), ("-0", 0), ("1e2", 100), ("1e20", 10 ** 20), ("123456789012345", 123456789012345),
    ("9007199254740993", 9007199254740992),  # past 2**53: the double's digits
    ("1e400", math.inf), ("-1e400", -math.inf), ("9" * 400, math.inf), ("-" + "9" * 400, -math.inf),
    ("1e-400", 0), ("1.5", 1.5), ("1e21", 1e21),
])
def test_load_reads_every_number_as_a_double(text, value):
    got = load(text)
    assert got == value and type(got) is type(value)


def test_as_js_writes_integer_doubles_as_javascript_prints_them():
    assert as_js(float(2 ** 60)) == 1152921504606847000  # JS: 1152921504606847000
    assert as_js(5.0) == 5 and type(as_js(5.0)) is int
    assert as_js(1e21) == 1e21 and type(as_js(1e21)) is float  # JS switches to 1e+21 here
    assert as_js(0.5) == 0.5 and math.isnan(as_js(math.nan)) and as_js(math.inf) == math.inf


def test_nesting_up_to_max_depth_is_read_and_one_more_is_refused():
    assert MAX_DEPTH == 256
    assert load("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert load(b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH) is not None
    with pytest.raises(TooDeep):
        load("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(TooDeep):
        load(b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("depth", [1000, 5000, 100_000])
def test_nesting_past_what_python_parses_is_a_value_error_not_a_recursion_error(depth):
    with pytest.raises(TooDeep) as caught:
        load("[" * depth + "]" * depth)
    assert isinstance(caught.value, ValueError)


def test_brackets_inside_strings_or_side_by_side_are_not_depth():
    assert load(json.dumps({"a": "[" * 5000})) == {"a": "[" * 5000}
    wide = "[" + ",".join(["[[]]"] * 1000) + "]"
    assert load(wide) == [[[]]] * 1000


def test_malformed_bodies_are_value_errors():
    for text in ("", "{", "[1,]", "{'a': 1}", '{"a": 1}{}', b"\xff\xfe"):
        with pytest.raises(ValueError):
            load(text)


finite_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 53), 2 ** 53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(finite_json)
def test_what_dump_writes_load_reads_back(value):
    """As JSON.parse would: the same doubles, an integral one as the int JS prints."""
    assert load(dump(value)) == as_read(value)


def as_read(value):
    """`value` with its floats as JSON.parse gives them back."""
    if isinstance(value, float):
        return as_js(value)
    if isinstance(value, list):
        return [as_read(v) for v in value]
    if isinstance(value, dict):
        return {k: as_read(v) for k, v in value.items()}
    return value


# -- JSON written as JSON.stringify writes it ---------------------------------------------------
def test_dump_is_compact_utf8_with_non_finite_numbers_as_null():
    assert dump({"a": [1, 2.5], "b": "é日"}) == '{"a":[1,2.5],"b":"é日"}'.encode()
    assert dump({"n": math.nan, "i": [math.inf, -math.inf], "t": (1,)}) == \
        b'{"n":null,"i":[null,null],"t":[1]}'


def test_dump_writes_a_lone_surrogate_as_its_escape():
    assert dump("\ud800") == b'"\\ud800"'
    assert dump({"\udfff": "a\ud800b"}) == b'{"\\udfff":"a\\ud800b"}'
    assert json.loads(dump("\ud800")) == "\ud800"


def test_finite_replaces_only_non_finite_floats():
    data = {"a": [math.nan, 1.5, (math.inf, 2)], "b": {"c": -math.inf}, "d": "NaN", "e": 10 ** 400}
    assert finite(data) == {"a": [None, 1.5, [None, 2]], "b": {"c": None}, "d": "NaN",
                            "e": 10 ** 400}


@pytest.mark.parametrize("status, phrase", [
    (200, "OK"), (404, "Not Found"), (413, "Payload Too Large"), (414, "URI Too Long"),
    (416, "Range Not Satisfiable"), (429, "Too Many Requests"), (299, "Error"), (999, "Error"),
])
def test_reason_phrases_as_the_vendors_frameworks_write_them(status, phrase):
    assert reason(status) == phrase


# -- form_or_json -------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, ctype, fields", [
    (b"a=1&b=&c=%C3%A9", "application/x-www-form-urlencoded", {"a": "1", "b": "", "c": "é"}),
    (b"a=%zz&b=%ff", "application/x-www-form-urlencoded; charset=utf-8",
     {"a": "%zz", "b": "\ufffd"}),
    (b'{"a": "x", "n": 1, "o": {}, "l": [], "z": null}', "application/json", {"a": "x"}),
    (b'{"a": "x"}', "text/plain", {"a": "x"}),  # what is not a form is read as JSON
    (b'["a"]', "application/json", {}), (b'"a"', "application/json", {}),
    (b"{", "application/json", {}), (b"\xff\xfe{}", "application/json", {}),
    (b"[" * 5000, "application/json", {}), (b'{"a":' * 300 + b'"x"' + b"}" * 300, "", {}),
    (b"", "application/json", {}), (None, "application/json", {}),
])
def test_form_or_json_reads_string_fields_and_nothing_else(raw, ctype, fields):
    assert form_or_json(raw, ctype) == fields


# -- headers and credentials --------------------------------------------------------------------
def test_header_is_the_first_value_of_a_lower_case_name():
    scope = scope_with((b"x-a", b"1"), (b"x-a", b"2"), (b"x-b", b"\xe9"))
    assert header(scope, b"x-a") == "1" and header(scope, b"x-b") == "é"  # latin-1
    assert header(scope, b"x-c") is None and header(scope, b"X-A") is None


@pytest.mark.parametrize("value, scheme, credentials", [
    (b"Bearer abc", "bearer", "abc"), (b"BEARER abc", "bearer", "abc"),
    (b"  Bearer   abc  ", "bearer", "abc"), (b"Bearer", "bearer", None),
    (b"Bearer  ", "bearer", None), (b"Basic abc", "bearer", None),
    (b"Bearer a b", "bearer", "a b"), (b"Bearer \xff", "bearer", "ÿ"),  # latin-1, as sent
])
def test_authorization_reads_one_scheme_case_insensitively(value, scheme, credentials):
    assert authorization(scope_with((b"authorization", value)), scheme) == credentials


def test_authorization_reads_only_the_first_authorization_header():
    scope = scope_with((b"authorization", b"Basic x"), (b"authorization", b"Bearer y"))
    assert authorization(scope, "bearer") is None and authorization(scope, "basic") == "x"
    assert authorization(scope_with(), "bearer") is None


def basic(raw: bytes) -> dict:
    return scope_with((b"authorization", b"Basic " + base64.b64encode(raw)))


@pytest.mark.parametrize("raw, pair", [
    (b"user:pass", ("user", "pass")), (b"user:pa:ss", ("user", "pa:ss")), (b":", ("", "")),
    ("é:日".encode(), ("é", "日")), (b"no-colon", None), (b"\xff\xfe:x", None), (b"", None),
])
def test_basic_credentials_are_base64_of_utf8_user_colon_password(raw, pair):
    assert basic_credentials(basic(raw)) == pair


@pytest.mark.parametrize("value", [b"Basic !!!", b"Basic dXNlcjpwYXN", b"Basic =",
                                   b"Basic dXNl cjpwYXNz", b"Bearer dXNlcjpwYXNz"])
def test_basic_credentials_that_are_not_base64_are_none(value):
    assert basic_credentials(scope_with((b"authorization", value))) is None


def test_origin_base_url_and_original_url():
    scope = scope_with((b"host", b"mock.test:8080"), scheme="https", root_path="/acme",
                       raw_path=b"/acme/a%2Fb/c", query_string=b"x=%zz&y", vendor_path="/a/b/c")
    request = Request(scope)
    assert origin(request) == "https://mock.test:8080"
    assert base_url(request) == "https://mock.test:8080/acme"
    assert original_url(request) == "/a%2Fb/c?x=%zz&y"  # still encoded, as sent
    bare = Request(scope_with(vendor_path="/a/b"))  # no Host, no raw path
    assert origin(bare) == "http://localhost" and original_url(bare) == "/a/b"


# -- reading bodies -----------------------------------------------------------------------------
@pytest.mark.parametrize("headers, announced", [
    ([], False), ([(b"content-length", b"0")], False), ([(b"content-length", b" 0 ")], False),
    ([(b"content-length", b"")], False), ([(b"content-length", b"5")], True),
    ([(b"transfer-encoding", b"chunked")], True),
    ([(b"content-length", b"5"), (b"expect", b"100-continue")], False),
    ([(b"expect", b"100-Continue"), (b"transfer-encoding", b"chunked")], False),
    ([(b"content-length", b"5"), (b"expect", b"something-else")], True),
])
def test_declares_body_unless_the_client_waits_for_100_continue(headers, announced):
    assert declares_body(headers) is announced


@pytest.mark.parametrize("messages, then, expected", [
    ([body(b"abc")], None, b"abc"),
    ([body(b"ab", True), body(b"", True), body(b"c")], None, b"abc"),
    ([body(b"ab", True)], DISCONNECT, b"ab"),  # the client went
    ([body(b"ab", True), body(b"cdefgh", True), body(b"never read")], None, b"abcdefgh"),  # > 4
    ([body(b"ab", True)], None, b"ab"),  # the client stalls: what came by the wait's end
    ([], None, b""),
])
def test_read_rest_reads_until_end_disconnect_limit_or_wait(messages, then, expected):
    receive, _ = receiving(*messages, then=then)
    assert asyncio.run(read_rest(receive, 4, 0.05)) == expected


def test_read_limited_refuses_an_announced_size_over_the_limit_unread():
    receive, calls = receiving(body(b"x" * 10))
    request = Request(scope_with((b"content-length", b"10")), receive)
    with pytest.raises(TooLarge):
        asyncio.run(read_limited(request, 9))
    assert calls[0] == 0


def test_read_limited_keeps_the_body_for_later_reads_and_the_journal():
    receive, calls = receiving(body(b'{"a"', True), body(b":1}"))
    request = Request(scope_with(), receive)

    async def run() -> tuple[bytes, bytes]:
        return await read_limited(request, 100), await request.body()

    assert asyncio.run(run()) == (b'{"a":1}', b'{"a":1}')
    assert request.scope["state"][REQUEST_BODY] == b'{"a":1}' and calls[0] == 2


def test_read_limited_raises_client_disconnect_when_the_client_leaves_mid_body():
    receive, _ = receiving(body(b"ab", True), DISCONNECT)
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_limited(Request(scope_with(), receive), 100))


def test_read_limited_stops_reading_a_streamed_body_once_past_the_limit():
    receive, calls = receiving(body(b"x" * 6, True), body(b"x" * 6, True), body(b"x" * 6))
    request = Request(scope_with((b"content-length", b"nonsense")), receive)
    with pytest.raises(TooLarge):
        asyncio.run(read_limited(request, 10))
    assert calls[0] == 2 and request.scope["state"][REQUEST_BODY] == b"x" * 12


# -- answers ------------------------------------------------------------------------------------
def test_raw_json_sends_its_bytes_with_its_own_headers_after_the_content_ones():
    answer = RawJSON(b'{"a":1}', 201, {"X-Request-Id": "r1"})
    answer.content_type = b"application/json; charset=utf-8"
    start, sent = asyncio.run(capture(answer))
    assert (start["status"], sent) == (201, b'{"a":1}')
    assert start["headers"] == [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", b"7"), (b"x-request-id", b"r1")]


def test_json_response_is_dump_in_a_raw_json():
    answer = json_response({"n": math.nan, "s": "é"}, 202, {"X-A": "b"})
    assert (answer.body, answer.status_code, answer.headers) == \
        ('{"n":null,"s":"é"}'.encode(), 202, {"X-A": "b"})


def test_vendor_error_answers_its_status_body_and_headers():
    headers = {"WWW-Authenticate": "Bearer"}
    error = VendorError(401, {"message": "no"}, headers)
    headers["X-Later"] = "changed"  # the error keeps its own copy
    assert error.args == (401, {"message": "no"})
    assert error.headers == {"WWW-Authenticate": "Bearer"}
    start, sent = asyncio.run(capture(error.response()))
    assert start["status"] == 401 and sent == b'{"message":"no"}'
    assert (b"www-authenticate", b"Bearer") in start["headers"]


def test_vendor_error_without_a_body_answers_an_empty_one():
    start, sent = asyncio.run(capture(VendorError(429, None, {"Retry-After": "1"}).response()))
    assert start["status"] == 429 and sent == b""
    assert (b"content-length", b"0") in start["headers"]
    assert VendorError(404, {}).headers == {}
