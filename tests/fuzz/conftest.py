"""The per-vendor counts `make fuzz` prints: each fuzz test records them as a user property,
which pytest-xdist carries back from its workers."""
from __future__ import annotations

import json
import os

_counts: list[dict] = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        _counts.extend(json.loads(v) for k, v in report.user_properties if k == "fuzz_counts")


def pytest_terminal_summary(terminalreporter):
    if not _counts or not os.environ.get("MOCKSERVER_FUZZ_CASES"):
        return  # `make test` stays quiet
    terminalreporter.section("fuzz counts per vendor")
    for counts in sorted(_counts, key=lambda c: c["vendor"]):
        vendor = counts.pop("vendor")
        terminalreporter.write_line(f"{vendor}: " + ", ".join(f"{k} {v}" for k, v in
                                                                sorted(counts.items())))
