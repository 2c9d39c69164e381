"""What keeps heavy control-plane work off the event loop, piece by piece: answers encoded a token
at a time and sent in pieces, the journal read from a copy, large snapshots read in a child
process, strings of a snapshot bounded, and the journal dropping a deleted tenant's late calls."""
from __future__ import annotations

import asyncio
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver import Clock, create_app
from mockserver.core.control import PIECE, encode_pieces, join_pieces, off_loop
from mockserver.core.http import dump
from mockserver.core.journal import Call, Journal
from mockserver.core.state import APART, MAX_STRING, Checked, Importer, StateError

from ..conftest import DOC_TIME, MockClient

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_pieces_join_to_dumps_bytes(value):
    """NaN and Infinity written as null, a lone surrogate as its escape: byte for byte."""
    assert b"".join(encode_pieces(value)) == dump(value)


def test_a_large_answer_comes_in_pieces_of_bounded_size():
    doc = {"items": [{"id": i, "text": "x" * 1000} for i in range(2000)], "n": math.nan}
    pieces = encode_pieces(doc)
    assert len(pieces) > 1 and max(map(len, pieces)) < 2 * PIECE
    assert b"".join(pieces) == dump(doc)
    joined = join_pieces(b"[", (dump(i) for i in doc["items"]), b"]")
    assert len(joined) > 1 and b"".join(joined) == dump(doc["items"])
    assert join_pieces(b"[", iter(()), b"]") == [b"[]"]


def test_off_loop_raises_the_workers_exception_without_its_frames():
    def fails(body):
        raise ValueError(f"bad {len(body)}")

    async def run():
        with pytest.raises(ValueError, match="bad 3") as caught:
            await off_loop(fails, [1, 2, 3])
        # only the frames from here: none of the worker's, which held what it was given
        frames = []
        tb = caught.value.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert "fails" not in frames
        assert await off_loop(sum, [1, 2, 3]) == 6

    asyncio.run(run())


def test_a_journal_view_is_a_copy_that_reads_like_the_journal():
    j = Journal(maxlen=5)
    for n in range(7):
        j.record_request("gravy", float(n), "GET", f"/p/{n}", b"", [(b"host", b"x")], 200,
                         "default", 1.0, b"", b"{}", None, None)
    view = j.view()
    j.record(Call(id=99, at=0.0, vendor="gravy", method="POST", path="/later"))
    assert [c.path for c in view.calls] == [f"/p/{n}" for n in range(2, 7)]
    assert view.select(2, path="/p/*")[0] == 5
    assert j.last.path == "/later" and len(j) == 5


def test_the_journal_drops_calls_of_a_tenant_that_is_gone():
    live = {"default": object(), "t_a": object()}
    j = Journal()
    j.only_tenants(live)
    j.record_request("gravy", 0.0, "GET", "/a", b"", [], 200, "t_a", 1.0, b"", b"", None, None)
    del live["t_a"]  # deleted while its next call ran
    j.record_request("gravy", 0.0, "GET", "/b", b"", [], 200, "t_a", 1.0, b"", b"", None, None)
    j.record_request("gravy", 0.0, "GET", "/c", b"", [], 401, None, 1.0, b"", b"", None, None)
    j.record(Call(id=50, at=0.0, vendor="gravy", method="POST", path="/hook", tenant="t_a",
                  kind="webhook"))
    j.record(Call(id=51, at=0.0, vendor="gravy", method="POST", path="/kept", tenant="default",
                  kind="webhook"))
    assert [c.path for c in j.calls] == ["/c", "/kept"]


# -- snapshots ----------------------------------------------------------------------------------
STATE = "/__admin/state"


def _client() -> MockClient:
    return MockClient(create_app(seed=0, clock=Clock(DOC_TIME)))


def test_a_snapshot_with_a_string_over_1_mib_is_refused_and_changes_nothing():
    client = _client()
    try:
        before = client.get(STATE).content
        doc = json.loads(before)
        doc["vendors"]["gravy"]["connections"][0]["connectionMetadata"] = {
            "notes": "n" * (MAX_STRING + 1)}
        r = client.put(STATE, content=json.dumps(doc))
        assert r.status_code == 400, r.text
        assert "longer than 1,048,576 characters" in r.json()["error"]
        assert r.json()["details"] == [
            "/vendors/gravy/connections/0/connectionMetadata/notes: 1,048,577 characters"]
        assert client.get(STATE).content == before
        doc["vendors"]["gravy"]["connections"][0]["connectionMetadata"] = {"notes": "n" * 1000}
        assert client.put(STATE, content=json.dumps(doc)).status_code == 200
    finally:
        client.close()


def test_a_large_snapshot_is_read_in_a_child_process_and_roundtrips():
    """Over APART bytes: parsed and checked apart, the import then exactly as a small one's."""
    client = _client()
    try:
        doc = json.loads(client.get(STATE).content)
        site = doc["vendors"]["gravitec"]["sites"]["main"]
        site["campaigns"] = [{
            "id": str(10**17 + i), "createdAt": 1705314600.0, "sendAt": 1705314600000,
            "ttl": 86400, "displayTime": 60, "pushTag": None, "isTransactional": False,
            "audience": None, "send": 3, "payload": {"message": "m" * 2000, "n": 1.5,
                                                     "s": "\ud800 é 💥"}}
            for i in range(600)]
        site["lastId"] = 10**17 + 600
        raw = json.dumps(doc).encode()
        assert len(raw) > APART
        importer = Importer(client.app.vendors)
        read = importer.read([raw[i:i + 65536] for i in range(0, len(raw), 65536)])
        assert isinstance(read, Checked) and read.doc == json.loads(raw)
        assert client.put(STATE, content=raw).status_code == 200
        exported = client.get(STATE).content
        assert client.put(STATE, content=exported).status_code == 200
        assert client.get(STATE).content == exported
        assert json.loads(exported)["vendors"]["gravitec"]["sites"]["main"]["campaigns"][0][
            "payload"]["s"] == "\ud800 é 💥"
    finally:
        client.close()


def test_a_large_snapshot_refused_in_the_child_says_why():
    importer = Importer(create_app(seed=0, clock=Clock(DOC_TIME)).vendors)
    bad = b'{"version": 1, "vendors": {}, "pad": "' + b"x" * APART + b'"}'
    with pytest.raises(StateError) as refused:
        importer.read([bad])
    assert refused.value.message == "the snapshot does not fit the schema"
    assert any("pad" in d for d in refused.value.details)
    with pytest.raises(StateError) as refused:
        importer.read([b'{"version": 1, "x": NaN, "pad": "' + b"x" * APART + b'"}'])
    assert refused.value.message == "the snapshot is not valid JSON"
