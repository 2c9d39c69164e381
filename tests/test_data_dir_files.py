"""`--data-dir`'s promises about the files in it. A truncated, corrupt or foreign file (in
tenants/, or server.json, or format.json) refuses the start with one line naming the file and
what is wrong, and changes nothing; `--data-dir-recover` moves it, byte for byte, to
DIR/recovered/, says so in a line, and starts with every other tenant exactly as it was. A
second server on a dir refuses to start while the first serves on. A dir of another data format
is refused, naming the release that wrote it. No bad input ends in a traceback.

Most cases run in this process (the CLI's `main`, which prints the refusal, or `create_app`);
a few run a real `python -m mockserver serve`."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest

from mockserver import create_app
from mockserver import cli as cli_module
from mockserver.cli import main
from mockserver.core.datadir import QUARANTINE, SEAL, DataDirError
from mockserver.core.http import dump

from .test_data_dir import Session, exports, work
from .test_data_dir_durability import Served, one_line, refused, states

OTHER_ID = "t_" + "0" * 16     # a tenant id no file of the kept dir has
LAST_ID = "t_" + "f" * 16      # another, after every id in name order
RECOVERED = "mockserver --data-dir-recover: "


def seal(content: bytes) -> bytes:
    """`content` as the data dir writes a file: followed by its digest."""
    return content + SEAL + hashlib.sha256(content).hexdigest().encode() + b"\n"


def shown(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def content(path: Path) -> dict:
    return json.loads(path.read_bytes().rpartition(SEAL)[0])


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A data dir a day of work left (every vendor written, the clock frozen, a fault), two
    tenants besides the default; each test works on its own copy (`copy`)."""
    root = tmp_path_factory.mktemp("kept") / "data"
    s = Session(root)
    try:
        tid = work(s)
        second = s.call("POST", "/__admin/tenants").json()["id"]
        assert s.call("POST", "/__admin/groove/people", json={
            "name": "Bo", "emailAddress": "bo@example.com", "tenant": second}).status_code == 201
        s.settle()
        before = exports(s.app)
    finally:
        s.close()
    return SimpleNamespace(root=root, tid=tid, second=second, before=before)


def copy(kept, tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(kept.root, d)
    return d


def cli(monkeypatch, *args: str) -> tuple[int, str]:
    """`mockserver serve --port 0 ARGS` in this process, for a start that must be refused (one
    that is not would serve): its exit code and what it wrote to stderr."""
    for name in [n for n in os.environ if n.startswith("MOCKSERVER_")]:
        monkeypatch.delenv(name)
    def listen(*_):  # a start not refused ends the test here, instead of serving on
        raise AssertionError("the start was not refused")

    monkeypatch.setattr(cli_module, "_bind", listen)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    code = main(["serve", "--port", "0", *args])
    return code, err.getvalue()


# == a bad file: refused, then recovered ====================================================
def _cut(n: int) -> Callable[[bytes], bytes]:
    """The first `n` bytes (n >= 0), or all but the last -n."""
    return lambda raw: raw[:n] if n >= 0 else raw[:len(raw) + n]


def unpacked(raw: bytes) -> dict:
    """A file's document; a tenant's (a head line, a line per part) as one: the head's keys,
    "vendors" each part by name."""
    head, *parts = raw.rpartition(SEAL)[0].split(b"\n")
    doc = json.loads(head)
    if "claims" in doc:
        doc["vendors"] = {n: json.loads(p) for n, p in zip(doc["vendors"], parts)}
    return doc


def packed(doc: dict) -> bytes:
    """`unpacked`'s inverse, sealed."""
    if "claims" not in doc:
        return seal(dump(doc))
    parts = doc["vendors"]
    return seal(b"\n".join([dump({**doc, "vendors": list(parts)}),
                            *(dump(p) for p in parts.values())]))


def _reshaped(change: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    """The file's document changed by `change`, sealed again: a file as a mockserver would
    have written it, but holding no document of ours."""
    def make(raw: bytes) -> bytes:
        doc = unpacked(raw)
        change(doc)
        return packed(doc)
    return make


def _flip(raw: bytes) -> bytes:
    """One byte of the content changed, the seal kept."""
    i = raw.index(b'"credentials"') + 1
    return raw[:i] + b"C" + raw[i + 1:]


def _set(path: tuple, value) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value
    return change


DEEP = b"[" * 100_000 + b"]" * 100_000   # past any parser's recursion
NESTED = json.loads("[" * 240 + "]" * 240)  # under the parser's bound: the restore meets it


@dataclass
class Bad:
    """A bad file: where (`file`, a name under the dir, {tid} the worked tenant's id), made
    from the good one (`make`: its bytes to the bad bytes) or from nothing (`made`), what the
    refusal says of it (`why`), and the tenant whose file it was (`drops`), gone after the
    recovery while every other tenant stays as it was."""
    file: str
    why: str
    make: Callable[[bytes], bytes] | None = None
    made: bytes | None = None
    drops: str | None = None
    from_file: str | None = None   # `make` reads this file instead (a copy under another name)


CASES = {
    # truncated, corrupt
    "tenant cut in its content": Bad("tenants/{tid}.json", "not a file mockserver wrote (no "
                                     "digest at its end; truncated?)", _cut(300), drops="{tid}"),
    "tenant cut in its digest": Bad("tenants/{tid}.json", "its content does not match its "
                                    "digest (truncated or corrupt)", _cut(-20), drops="{tid}"),
    "tenant empty": Bad("tenants/{tid}.json", "not a file mockserver wrote", _cut(0),
                        drops="{tid}"),
    "tenant corrupt, seal kept": Bad("tenants/{tid}.json", "its content does not match its "
                                     "digest (truncated or corrupt)", _flip, drops="{tid}"),
    "default corrupt": Bad("tenants/default.json", "its content does not match its digest",
                           _flip, drops="default"),
    # foreign: not sealed
    "foreign JSON": Bad(f"tenants/{OTHER_ID}.json", "not a file mockserver wrote",
                        made=b'{"tenant": "%s", "format": 1}\n' % OTHER_ID.encode()),
    "foreign text": Bad("tenants/notes.json", "not a file mockserver wrote",
                        made=b"remember: the seed is 0\n"),
    "non-UTF-8 bytes": Bad(f"tenants/{OTHER_ID}.json", "not a file mockserver wrote",
                           made=b"\xff\xfe{\x00\x80 \xc3(\n"),
    # foreign: sealed, yet no tenant of ours
    "sealed, not a tenant": Bad(f"tenants/{OTHER_ID}.json", "not a tenant this release wrote",
                                made=seal(b'{"hello": "world"}')),
    "sealed, not JSON": Bad(f"tenants/{OTHER_ID}.json", "not valid JSON",
                            made=seal(b"hello, world")),
    "sealed, non-UTF-8": Bad(f"tenants/{OTHER_ID}.json", "not valid JSON",
                             made=seal(b'{"format": 1, "tenant": "\xff\xfe"}')),
    "sealed, nested past the parser": Bad(f"tenants/{OTHER_ID}.json", "not valid JSON (nested "
                                          "too deeply)", made=seal(DEEP)),
    "a tenant copied under another name": Bad(f"tenants/{OTHER_ID}.json", "not a tenant this "
                                              "release wrote", lambda raw: raw,
                                              from_file="tenants/{tid}.json"),
    "a tenant named by no tenant id": Bad(
        "tenants/a.b.json", "not a tenant this release wrote (its name is no tenant id)",
        _reshaped(_set(("tenant",), "a.b")), from_file="tenants/{tid}.json"),
    "a tenant named by non-UTF-8 bytes": Bad(
        "tenants/" + os.fsdecode(b"\xff\xfe.json"),
        "not a tenant this release wrote (its name is no tenant id)",
        _reshaped(_set(("tenant",), os.fsdecode(b"\xff\xfe"))), from_file="tenants/{tid}.json"),
    "a part line missing": Bad(
        "tenants/{tid}.json", "not a tenant this release wrote (3 parts for 4 vendors)",
        lambda raw: seal(raw.rpartition(SEAL)[0].rpartition(b"\n")[0]), drops="{tid}"),
    "a claim of another shape": Bad(
        "tenants/{tid}.json", "not a tenant this release wrote",
        _reshaped(_set(("claims", "gravitec"), "many")), drops="{tid}"),
    "another tenant's credentials": Bad(  # (loaded after it: files load in name order)
        f"tenants/{LAST_ID}.json", "not a tenant this release wrote (its gravy credentials "
        "are tenant {tid}'s)", _reshaped(_set(("tenant",), LAST_ID)),
        from_file="tenants/{tid}.json"),
    "the default's vendors not served": Bad(
        "tenants/default.json", "not a tenant this release wrote (not a list of the vendors "
        "served", _reshaped(_set(("vendors", "stripe"), {})), drops="default"),
    "a directory": Bad(f"tenants/{OTHER_ID}.json", "a directory, not a file mockserver wrote"),
    # server.json
    "server.json cut": Bad("server.json", "not a file mockserver wrote", _cut(40)),
    "server.json corrupt": Bad("server.json", "its content does not match its digest",
                               lambda raw: raw.replace(b'"clock"', b'"clocK"')),
    "server.json sealed, a list": Bad("server.json", "not a server state this release wrote",
                                      made=seal(b"[1, 2]")),
    "server.json's faults of another shape": Bad(
        "server.json", "not a server state this release wrote",
        _reshaped(_set(("faults", "faults"), 1))),
    "server.json's clock nested deep": Bad("server.json", "not a server state this release "
                                           "wrote", _reshaped(_set(("clock",), NESTED))),
    # format.json
    "format.json cut": Bad("format.json", "not a file mockserver wrote", _cut(30)),
    "format.json foreign": Bad("format.json", "not a file mockserver wrote",
                               made=b'{"format": 1}\n'),
    "format.json sealed, no format": Bad("format.json", "not a mockserver data dir's format "
                                         "file", made=seal(b'{"version": 1}')),
    "format.json sealed, format true": Bad("format.json", "not a mockserver data dir's format "
                                           "file", _reshaped(_set(("format",), True))),
}


def spoil(d: Path, kept, bad: Bad) -> tuple[Path, bytes | None]:
    """Make the bad file; its path, and its bytes (None for a directory)."""
    path = d / bad.file.format(tid=kept.tid)
    if bad.make is None and bad.made is None:
        path.mkdir()
        (path / "x").write_bytes(b"x")
        return path, None
    source = d / (bad.from_file or bad.file).format(tid=kept.tid)
    raw = bad.made if bad.made is not None else bad.make(source.read_bytes())
    path.write_bytes(raw)
    return path, raw


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_bad_file_is_refused_in_one_line_and_recovered_aside_with_the_rest_intact(
        kept, tmp_path, monkeypatch, caplog, case):
    bad = CASES[case]
    why = bad.why.format(tid=kept.tid)
    d = copy(kept, tmp_path)
    path, raw = spoil(d, kept, bad)

    code, err = cli(monkeypatch, "--data-dir", str(d))
    assert code == 1
    line = one_line(err)
    # a name of no UTF-8 shown with \\x escapes: a log line takes no lone surrogates
    assert line.startswith(f"mockserver: --data-dir {shown(path)}: {why}"), line
    assert "--data-dir-recover" in line                 # ... and the way on
    # refused, the dir is as it was: nothing moved, the lock released
    assert raw is None and path.is_dir() or path.read_bytes() == raw
    assert not (d / QUARANTINE).exists()

    with caplog.at_level(logging.WARNING, logger="mockserver"):
        app = create_app(data_dir=d, data_dir_recover=True)
    try:
        aside = list((d / QUARANTINE).iterdir())
        assert len(aside) == 1 and aside[0].name.endswith(path.name)
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith(RECOVERED)]
        assert len(said) == 1, said                        # one line: what, and where to
        assert said[0].startswith(f"{RECOVERED}{shown(path)}: {why}")
        assert said[0].endswith(f": moved to {shown(aside[0])}")
        assert app.data.recovered == [said[0][len(RECOVERED):]]
        # nothing dropped silently: the file is in recovered/, unchanged
        assert raw is None and (aside[0] / "x").read_bytes() == b"x" \
            or aside[0].read_bytes() == raw
        drops = bad.drops.format(tid=kept.tid) if bad.drops else None
        renewed = drops == "default" or not bad.file.startswith("tenants/")
        assert os.path.lexists(path) == renewed   # a file the start writes anew, or gone
        if bad.file == "server.json":  # the clock and faults as a first start has them ...
            assert not app.clock.frozen and app.faults.items == []
            # ... then the kept instant: the exports below read the clock (what has expired)
            app.clock.restore(content(kept.root / "server.json")["clock"])
        else:
            assert app.clock.frozen and len(app.faults.items) == 1
        after = exports(app)
        now = dict(after)
        if drops == "default":  # always there: as a first start builds it, not half the file
            fresh = create_app()
            assert now.pop("default") == exports(fresh)["default"]
            assert app.tenants.default.credentials == fresh.tenants.default.credentials
        else:  # no tenant left behind half-restored
            assert drops not in now
        assert now == {t: b for t, b in kept.before.items() if t != drops}
    finally:
        app.data.close()
    if not renewed:
        return
    # the file written anew holds: the next start needs no --data-dir-recover, finds the same
    again = create_app(data_dir=d)
    try:
        assert exports(again) == after
    finally:
        again.data.close()


def test_a_missing_format_file_is_refused_and_recover_writes_it_anew(kept, tmp_path, monkeypatch,
                                                                      caplog):
    d = copy(kept, tmp_path)
    (d / "format.json").unlink()
    code, err = cli(monkeypatch, "--data-dir", str(d))
    assert code == 1
    assert one_line(err) == (f"mockserver: --data-dir {d / 'format.json'}: missing, though "
                             "the dir holds state; start with --data-dir-recover to write it "
                             "anew for this start's --seed and fixtures")
    assert not (d / "format.json").exists()
    with caplog.at_level(logging.WARNING, logger="mockserver"):
        app = create_app(data_dir=d, data_dir_recover=True)
    try:
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith(RECOVERED)]
        assert len(said) == 1 and "format.json: missing" in said[0] and "written anew" in said[0]
        assert exports(app) == kept.before
        assert content(d / "format.json")["format"] == 1
    finally:
        app.data.close()
    create_app(data_dir=d).data.close()


# == the same, against a real process ======================================================
def test_a_truncated_tenant_file_refuses_a_real_start_and_recover_starts_without_it(
        kept, tmp_path):
    d = copy(kept, tmp_path)
    path = d / "tenants" / f"{kept.tid}.json"
    cut = path.read_bytes()[:200]
    path.write_bytes(cut)

    r = refused(d)
    assert r.returncode == 1
    line = one_line(r.stderr)                                 # one line, no traceback
    assert line.startswith(f"mockserver: --data-dir {path}: not a file mockserver wrote "
                           "(no digest at its end; truncated?)"), line
    assert r.stdout == "" and path.read_bytes() == cut

    with Served(d, "--data-dir-recover") as server:
        now = states(server.http)
        said = [ln for ln in server.stderr().splitlines() if ln.startswith(RECOVERED)]
    aside = list((d / QUARANTINE).iterdir())
    assert len(aside) == 1 and aside[0].read_bytes() == cut    # kept, byte for byte
    assert said == [f"{RECOVERED}{path}: not a file mockserver wrote (no digest at its end; "
                    f"truncated?): moved to {aside[0]}"]
    assert sorted(now) == sorted(t for t in kept.before if t != kept.tid)
    assert {t: json.loads(b) for t, b in now.items()} == {
        t: json.loads(kept.before[t]) for t in now}


# == one server per dir ====================================================================
def test_a_second_server_on_the_dir_is_refused_while_the_first_serves_on(kept, tmp_path):
    d = copy(kept, tmp_path)
    with Served(d) as first:
        r = refused(d)
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert line == (f"mockserver: --data-dir {d}: in use by another mockserver "
                        f"(pid {first.proc.pid}); one server per data dir")
        # the first never noticed: it serves, and keeps what it is given
        assert first.http.get("/__admin/health").json() == {"status": "ok", "dataDir": str(d)}
        assert first.http.post("/__admin/groove/people", json={
            "name": "Cy", "emailAddress": "cy@example.com", "tenant": kept.second,
        }).status_code == 201
        kept_by_first = states(first.http)
    assert first.proc.returncode == -signal.SIGTERM  # as uvicorn ends on it
    with Served(d) as second:   # once the first is gone, a new one starts, with its state
        assert states(second.http) == kept_by_first


def test_the_lock_refuses_a_second_app_in_the_same_process_and_frees_on_close(kept, tmp_path):
    d = copy(kept, tmp_path)
    first = create_app(data_dir=d)
    try:
        with pytest.raises(DataDirError, match="in use by another mockserver"):
            create_app(data_dir=d)
        assert exports(first) == kept.before   # the refused one changed nothing of the first's
    finally:
        first.data.close()
    create_app(data_dir=d).data.close()


# == another format ========================================================================
@pytest.mark.parametrize("fmt, by, says", [
    (2, "mockserver 9.4.0", "written by mockserver 9.4.0 in data format 2"),
    (0, None, "written by another release in data format 0"),
])
def test_a_dir_of_another_format_is_refused_naming_who_wrote_it(kept, tmp_path, monkeypatch,
                                                                fmt, by, says):
    d = copy(kept, tmp_path)
    doc = content(d / "format.json")
    doc["format"] = fmt
    doc.pop("writtenBy")
    if by is not None:
        doc["writtenBy"] = by
    (d / "format.json").write_bytes(seal(dump(doc)))
    files = {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}

    code, err = cli(monkeypatch, "--data-dir", str(d))
    assert code == 1
    line = one_line(err)
    assert line.startswith(f"mockserver: --data-dir {d / 'format.json'}: {says}; "), line
    assert line.endswith("reads format 1")
    # --data-dir-recover moves files that are bad, not a whole dir of another release
    with pytest.raises(DataDirError, match=says):
        create_app(data_dir=d, data_dir_recover=True)
    assert {p: p.read_bytes() for p in d.rglob("*") if p.is_file()} == files


def test_a_dir_from_before_starts_were_counted_loads(kept, tmp_path):
    d = copy(kept, tmp_path)
    doc = content(d / "server.json")
    del doc["starts"]
    (d / "server.json").write_bytes(seal(dump(doc)))
    app = create_app(data_dir=d)
    try:
        assert exports(app) == kept.before
        assert app.clock.frozen and app.clock.iso() == "2031-02-03T04:05:06.000Z"
        assert [f.vendor for f in app.faults.items] == ["gravy"]
        assert app.data.recovered == []
    finally:
        app.data.close()
    assert content(d / "server.json")["starts"] == 1  # counted from now on
