"""bench/datadir.py at a tiny size, so the script cannot rot: the two stores it compares read
back what they wrote, and one short real run of every part (a few real servers, a tenth of a
second of load each, five tenants). Figures are printed, never asserted: speed is measured by
running the script (bench/README.md, "--data-dir")."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_script

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "datadir.py"


@pytest.fixture(scope="module")
def bench():
    yield from load_script(SCRIPT, "bench_datadir")


DOCS = {"default": b'{"format":1,"tenant":"default"}', "t_1": b'{"a":[1,2,3]}',
        "t_2": "{\"b\":\"\u00e9\"}".encode()}


def test_both_stores_read_back_what_they_wrote(bench, tmp_path):
    for store in bench._stores(tmp_path):
        try:
            store.write(list(DOCS.items()))
            store.write([("t_1", b'{"a":[4]}')])  # a newer state replaces the older
            assert store.read() == {**DOCS, "t_1": b'{"a":[4]}'}, store.name
            assert store.size() > 0
        finally:
            store.close()


def test_the_file_store_checks_each_seal(bench, tmp_path):
    store = bench.FileStore(tmp_path / "files")
    store.write(list(DOCS.items()))
    path = tmp_path / "files" / "tenants" / "t_1.json"
    path.write_bytes(path.read_bytes().replace(b"[1,2,3]", b"[1,2,4]"))
    with pytest.raises(RuntimeError, match="bad seal"):
        store.read()


def test_unknown_part_or_endpoint_is_refused():
    for args, why in ((["--only", "load,nope"], "--only"),
                      (["--endpoints", "gravy-balances,nope"], "unknown endpoints: nope")):
        proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                              text=True, timeout=60, cwd=REPO)
        assert proc.returncode == 2 and why in proc.stderr, proc.stderr


@pytest.mark.slow  # the script end to end: make test-slow
def test_short_run_of_every_part(tmp_path):
    # Three runs at once (load | coalesce | start and store): the parts are independent, and
    # each is mostly waiting for its servers to start.
    tiny = ["--driver", "python", "--seconds", "0.1", "--rounds", "1", "--warmup", "0",
            "--endpoints", "gravitec-push", "--rate", "100",
            "--coalesce-seconds", "0.3", "--coalesce-endpoints", "integry-call",
            "--tenants", "5", "--starts", "1", "--batches", "3", "--dirty", "1,2"]
    runs = {}
    for parts in ("load", "coalesce", "start,store"):
        out = tmp_path / f"{parts}.json"
        runs[parts] = (out, subprocess.Popen(
            [sys.executable, str(SCRIPT), *tiny, "--only", parts, "--json", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO))
    res = {}
    try:
        for parts, (out, proc) in runs.items():
            text, _ = proc.communicate(timeout=240)
            assert proc.returncode == 0, (parts, text[-3000:])
            res.update(json.loads(out.read_text()))
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    # load: the three servers answered every request
    assert [r["endpoint"] for r in res["load"]["runs"]] == ["gravitec-push"]
    for row in res["load"]["runs"]:
        for kind in ("mock", "kept", "bare"):
            (r,) = row["rounds"][kind]
            assert r["requests"] > 0 and r["errors"] == 0 and r["non200"] == 0, (row, kind)
    assert any(f.startswith("tenants/default.json ") for f in res["load"]["kept_files"])
    # coalesce: the tenant's file was written (its calls change it), with and without answered
    (row,) = res["coalesce"]["runs"]
    assert row["kept"]["file_writes"] >= 1 and row["kept"]["non200"] == 0
    assert row["plain"]["requests"] > 0 and "file_writes" not in row["plain"]
    # start: five tenants and the default one made, and loaded back by create_app
    assert res["built"]["files"] == 6 and sum(res["built"]["vendors"].values()) >= 5
    assert res["start"]["tenants_loaded"] == 6
    assert len(res["start"]["banner_runs"]["with"]) == 1
    # store: each store, each batch size; every load read back the documents it was given
    assert sorted((w["store"], w["dirty"]) for w in res["store"]["write"]) == sorted(
        (s, d) for s in ("files", "sqlite WAL, synchronous=FULL",
                         "sqlite WAL, synchronous=NORMAL") for d in (1, 2))
    assert {row["tenants"] for row in res["store"]["load"]} == {6}
