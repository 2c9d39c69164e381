"""docs/fidelity.md says which probes `verify` sends and why each is safe: its table per vendor
is the probes' own names and `safe` texts, so a probe added or changed without its line fails."""
from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.app import default_vendors

DOC = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
TITLES = {"gravy": "Gravy", "gravitec": "Gravitec", "groove": "Groove", "integry": "Integry",
          "passage": "Passage Connect"}


def table(vendor) -> list[str]:
    """The rows docs/fidelity.md holds for `vendor`'s probes."""
    return [f"| {p.name} | {'(write) ' if p.write else ''}{p.safe} |"
            for p in vendor.verify.probes()]


@pytest.mark.parametrize("vendor", default_vendors(), ids=lambda v: v.name)
def test_the_doc_lists_every_probe_and_why_it_is_safe(vendor):
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Keep the mock true", 1)[1]
    part = section.split(f"### {TITLES[vendor.name]} probes", 1)[1].split("\n#", 1)[0]
    rows = [line for line in part.splitlines() if line.startswith("| ")][2:]
    assert rows == table(vendor)
