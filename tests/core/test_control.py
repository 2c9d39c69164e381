"""core/control.py on its own: what every control-plane route shares. Reading an admin body
(bounded, a JSON object or nothing), the tenant it names, its answers (`JSON`, `Pieces`), and the
off-loop helpers. (Pieces bounded in size, join_pieces and off_loop's dropped frames are in
test_off_loop.py.)"""
from __future__ import annotations

import asyncio
import json
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from mockserver.core.control import (BODY_LIMIT, JSON, PIECE, ControlError, Pieces, body_json,
                                     encode_pieces, finite_number, off_loop, read_parts,
                                     tenant_of)
from mockserver.core.http import TooLarge
from mockserver.core.tenancy import Tenants


def request(*chunks: bytes, headers: list[tuple[bytes, bytes]] | None = None,
            disconnect: bool = False) -> tuple[Request, list[int]]:
    """A request whose body arrives in `chunks` (then a disconnect, when asked), and the count of
    `receive` calls made."""
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1 or disconnect}
                for i, c in enumerate(chunks or (b"",))]
    if disconnect:
        messages.append({"type": "http.disconnect"})
    calls = [0]

    async def receive() -> dict:
        calls[0] += 1
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/__admin/x", "query_string": b"",
             "headers": headers or [], "state": {}}
    return Request(scope, receive), calls


def read(*chunks: bytes, **kw) -> dict:
    return asyncio.run(body_json(request(*chunks, **kw)[0]))


def refusal(*chunks: bytes, **kw) -> tuple[int, str]:
    with pytest.raises(ControlError) as refused:
        read(*chunks, **kw)
    return refused.value.status, refused.value.message


# -- body_json ----------------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [(), (b"",), (b"  \r\n\t",), (b" ", b"")])
def test_no_body_is_an_empty_object(chunks):
    assert read(*chunks) == {}


def test_a_json_object_is_read_whole_or_in_parts():
    assert read(b'{"advance": 60, "n": 5.0}') == {"advance": 60, "n": 5}
    assert read(b'{"tenant"', b': "t_1"}') == {"tenant": "t_1"}


@pytest.mark.parametrize("raw", [b"{", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}',
                                 b"\xff\xfe", b"[" * 5000, b'{"a":' * 300 + b"1" + b"}" * 300,
                                 b"{'a': 1}", b'{"a": 1}{}'])
def test_malformed_json_nan_and_deep_nesting_are_a_400(raw):
    assert refusal(raw) == (400, "the body must be JSON")


@pytest.mark.parametrize("raw", [b"[]", b"null", b"1", b'"a"', b"true"])
def test_json_that_is_not_an_object_is_a_400(raw):
    assert refusal(raw) == (400, "the body must be a JSON object")


def test_a_body_over_1_mib_is_a_413_announced_or_sent():
    assert BODY_LIMIT == 1024 * 1024
    big = [(b"content-length", str(BODY_LIMIT + 1).encode())]
    req, calls = request(b"{}", headers=big)
    with pytest.raises(ControlError) as refused:
        asyncio.run(body_json(req))
    assert (refused.value.status, calls[0]) == (413, 0)  # refused unread
    assert refusal(b"{" + b" " * BODY_LIMIT, b"}") == (413, "the body is larger than 1 MiB")
    assert read(b"{" + b" " * (BODY_LIMIT - 2) + b"}") == {}  # exactly the limit


# -- tenant_of ----------------------------------------------------------------------------------
class Factory:
    name = "acme"
    default_credentials = {"key": "k"}

    def new_credentials(self) -> dict[str, str]:
        return {"key": "k2"}

    def credential_keys(self, credentials) -> list[str]:
        return [credentials["key"]]

    def new_store(self) -> dict:
        return {}


def test_tenant_of_is_the_bodys_tenant_else_the_default():
    tenants = Tenants([Factory()])
    t = tenants.create()
    assert tenant_of(tenants, {}) is tenants.default
    assert tenant_of(tenants, {"tenant": None}) is tenants.default
    assert tenant_of(tenants, {"tenant": t.id}) is t
    assert tenant_of(tenants, {"tenant": "default"}) is tenants.default


@pytest.mark.parametrize("tid", ["t_nobody", "", 7, ["default"], {"id": "default"}, True,
                                 "\ud800"])
def test_tenant_of_an_unknown_or_non_string_tenant_is_a_404(tid):
    with pytest.raises(ControlError) as refused:
        tenant_of(Tenants([Factory()]), {"tenant": tid})
    assert refused.value.status == 404 and refused.value.message == f"no tenant {tid}"


# -- finite_number ------------------------------------------------------------------------------
@pytest.mark.parametrize("value, ok", [
    (0, True), (-1, True), (1.5, True), (10 ** 400, True), (-(10 ** 400), True), (1e308, True),
    (math.nan, False), (math.inf, False), (-math.inf, False), (True, False), (False, False),
    ("1", False), (None, False), ([1], False),
])
def test_finite_number_is_any_int_or_finite_float_but_not_a_bool(value, ok):
    assert finite_number(value) is ok


# -- answers ------------------------------------------------------------------------------------
def test_json_answers_render_what_dump_writes():
    answer = JSON({"s": "\ud800é", "n": math.nan}, status_code=201)
    assert answer.body == '{"s":"\\ud800é","n":null}'.encode() and answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"


def test_control_error_carries_status_and_message():
    error = ControlError(409, "taken")
    assert (error.status, error.message, str(error)) == (409, "taken", "taken")


async def _send(app) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http"}, None, send)
    return sent


def test_pieces_are_sent_one_by_one_with_their_total_length_and_freed_as_sent():
    parts = [b'{"a":', b"[1,2]", b"}"]
    answer = Pieces(parts, 201)
    sent = asyncio.run(_send(answer))
    assert sent[0] == {"type": "http.response.start", "status": 201,
                       "headers": [(b"content-type", b"application/json"),
                                   (b"content-length", b"11")]}
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (b'{"a":', True), (b"[1,2]", True), (b"}", False)]
    assert parts == [b"", b"", b""]  # nothing held once sent


def test_no_pieces_is_an_empty_answer():
    sent = asyncio.run(_send(Pieces([])))
    assert sent[0]["status"] == 200 and (b"content-length", b"0") in sent[0]["headers"]
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [(b"", False)]


finite_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(finite_json)
def test_pieces_joined_are_json_dumps_compact_utf8(value):
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert b"".join(encode_pieces(value)) == expected


def test_a_small_answer_is_one_piece_and_a_large_one_several():
    assert encode_pieces({"a": 1}) == [b'{"a":1}']
    assert encode_pieces([]) == [b"[]"]
    large = ["x" * 1000] * (3 * PIECE // 1000)
    assert len(encode_pieces(large)) >= 3


# -- off the loop -------------------------------------------------------------------------------
def test_off_loop_runs_in_a_worker_thread_with_the_arguments_given():
    def work(a: int, b: int) -> tuple[int, int]:
        return a + b, threading.get_ident()

    async def run() -> tuple[int, tuple[int, int]]:
        return threading.get_ident(), await off_loop(work, 1, 2)

    loop_thread, (total, worker_thread) = asyncio.run(run())
    assert total == 3 and worker_thread != loop_thread
    assert asyncio.run(off_loop(divmod, 7, 2)) == (3, 1)


def test_off_loop_raises_the_workers_own_exception_type():
    with pytest.raises(KeyError):
        asyncio.run(off_loop({}.__getitem__, "missing"))


# -- read_parts ---------------------------------------------------------------------------------
def test_read_parts_keeps_the_parts_as_they_arrived():
    req, calls = request(b"ab", b"", b"cd", b"e")
    assert asyncio.run(read_parts(req, 5)) == [b"ab", b"cd", b"e"]  # empty parts dropped
    assert calls[0] == 4
    assert asyncio.run(read_parts(request()[0], 5)) == []


def test_read_parts_refuses_an_announced_size_over_the_limit_unread():
    req, calls = request(b"abc", headers=[(b"content-length", b"6")])
    with pytest.raises(TooLarge):
        asyncio.run(read_parts(req, 5))
    assert calls[0] == 0


def test_read_parts_stops_at_the_part_that_passes_the_limit():
    req, calls = request(b"abc", b"def", b"never read", headers=[(b"content-length", b"x")])
    with pytest.raises(TooLarge):
        asyncio.run(read_parts(req, 5))
    assert calls[0] == 2


def test_read_parts_raises_client_disconnect_when_the_client_leaves():
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_parts(request(b"ab", disconnect=True)[0], 100))
