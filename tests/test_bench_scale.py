"""bench/scale.py at a tiny size, so the script cannot rot: its table's rows and verdicts, the
hook for rows measured elsewhere, and one short real run of every part (a few real servers, 2,000
requests, 10 tenants). Figures are printed, never asserted: speed is measured by `make bench`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_script

REPO = Path(__file__).resolve().parents[1]
SCALE = REPO / "bench" / "scale.py"


@pytest.fixture(scope="module")
def scale():
    yield from load_script(SCALE, "bench_scale")


def _results(**over):
    base = {
        "startup": {"starts": 3, "median_s": 0.6, "min_s": 0.5, "max_s": 0.7,
                    "banner_median_s": 0.59, "cpu_median_s": 0.55},
        "rss_start": {"rss_mb": 63.0, "rss_before_calls_mb": 60.0, "failures": []},
        "reset": {"runs": 5, "http_median_ms": 2.0, "http_p90_ms": 3.0,
                  "inprocess_median_ms": 0.5, "inprocess_p90_ms": 0.7},
        "load": {"total": 1000, "requests": 1000, "errors": 0, "non200": 0, "rps": 900.0,
                 "start_mb": 63.0, "warm_mb": 80.0, "end_mb": 85.0, "peak_mb": 86.0,
                 "drift": 5 / 80, "mix": ["a", "b"]},
        "tenants": {"tenants": 10, "rss_mb": 70.0, "start_mb": 60.0, "timed": 4, "floor_ms": 0.9,
                    "create_s": 0.1, "touch_s": 1.0, "reset_all_ms": 3.0,
                    "after_reset_mb": 65.0, "failed": 0, "failures": [],
                    "op_ms": {"create": {"p50": 0.5, "p90": 0.8, "max": 1.0},
                              "gravy": {"p50": 0.9, "p90": 1.5, "max": 3.0}}},
    }
    for key, changes in over.items():
        base[key] = {**base[key], **changes}
    return base


def test_rows_and_verdicts(scale):
    table = scale.rows(_results())
    assert [r.name for r in table] == [
        "start-up to first 200", "RSS after start-up", "POST /__admin/reset",
        "reset in-process, stores rebuilt", "RSS drift over 1,000 requests", "RSS peak under load",
        "RSS with 10 tenants", "a tenant created, at 10 tenants",
        "first gravy call, at 10 tenants"]
    assert all(r.passed for r in table)
    slow = {"gravy": {"p50": 1.0, "p90": 2.5, "max": 4.0}}
    bad = [r.name for r in scale.rows(_results(tenants={"op_ms": slow})) if r.passed is False]
    assert bad == ["first gravy call, at 10 tenants"]
    failing = {
        "startup": {"median_s": 1.2},
        "rss_start": {"failures": ["GET /x: 500"]},
        "reset": {"http_median_ms": 12.0},
        "load": {"end_mb": 90.0, "drift": 10.0 / 80},
        "tenants": {"failed": 1, "failures": ["POST /y: 401"]},
    }
    for key, change in failing.items():
        bad = [r.name for r in scale.rows(_results(**{key: change})) if r.passed is False]
        assert len(bad) == 1, (key, bad)
    # a load with a failed request fails its row whatever the memory did
    bad = [r for r in scale.rows(_results(load={"non200": 1})) if r.passed is False]
    assert [r.name for r in bad] == ["RSS drift over 1,000 requests"]
    bad = [r for r in scale.rows(_results(load={"peak_mb": 120.0})) if r.passed is False]
    assert [r.name for r in bad] == ["RSS peak under load"]


def test_rows_measured_elsewhere_join_the_table(scale, tmp_path):
    assert scale.extra_rows(False, tmp_path / "missing.py") == []
    hook = tmp_path / "scale_gravy.py"
    hook.write_text("def scale_rows(long):\n"
                    "    return [{'name': 'gravy page', 'figure': '12 ms', 'target': '< 50 ms',\n"
                    "             'passed': not long}]\n")
    (row,) = scale.extra_rows(True, hook)
    assert (row.name, row.figure, row.passed, row.detail) == ("gravy page", "12 ms", False, "")
    table = scale.rows({"extra": [row]})
    assert table == [row] and scale.verdict(row) == "FAIL"


@pytest.mark.slow  # the script end to end: make test-slow
def test_short_run_of_every_part(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, str(SCALE), "--requests", "2000", "--connections", "8", "--tenants", "10",
         "--starts", "1", "--reset-runs", "3", "--only", "startup,rss,reset,load,tenants",
         "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    load = figures["load"]
    assert (load["requests"], load["errors"], load["non200"]) == (2000, 0, 0), load
    assert load["start_mb"] > 0 and load["peak_mb"] >= load["end_mb"] > 0
    assert figures["rss_start"]["failures"] == []
    assert figures["tenants"]["tenants"] == 10 and figures["tenants"]["failed"] == 0, \
        figures["tenants"]["failures"]
    assert figures["reset"]["runs"] == 3
    assert set(figures["tenants"]["op_ms"]) == {"create", "gravy", "gravitec", "groove",
                                                "integry", "passage"}
    names = [r["name"] for r in figures["rows"]]
    assert names[0] == "start-up to first 200" and names[-1] == "first passage call, at 10 tenants"
    summary = proc.stdout.split("== scale summary", 1)[1]
    for name in names:
        assert name in summary
