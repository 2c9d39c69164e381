"""`verify`'s three outputs: a table a person reads, a JSON report, JUnit XML for CI.

Every text that leaves here passes `Scrub`: a credential echoed in a vendor's error text
("unknown client abc...") is never printed nor written.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable
from xml.etree import ElementTree as ET

from .run import Outcome, Report

REDACTED = "[redacted]"
MIN_SECRET = 4  # shorter values would mask ordinary words


class Scrub:
    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len,
                               reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def _status(outcome: Outcome, side: str) -> str:
    answer = getattr(outcome, side)
    return "-" if answer is None else str(answer.status)


def table(report: Report, scrub: Scrub) -> str:
    rows = [("probe", "real", "mock", "verdict")]
    for o in report.outcomes:
        verdict = o.verdict if o.skipped is None else f"skipped: {o.skipped}"
        if o.drifts:
            verdict = f"drift ({len(o.drifts)})"
        rows.append((o.probe.name, _status(o, "real"), _status(o, "mock"), verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    drifts, findings = report.drifts, report.findings
    if findings:
        lines += ["", f"{len(findings)} drift{'s' if len(findings) != 1 else ''}:"]
        lines += [f"  {f.line()}" for f in findings]
    base = ", ".join(sorted(set(report.bases.values())))
    tail = (f"{report.vendor} against {base}: {len(report.outcomes)} probes, "
            f"{report.requests} requests, {report.seconds:.1f} s: ")
    if report.error is not None:
        tail += f"could not be made: {report.error}"
    elif drifts:
        tail += f"{len({d.probe for d in drifts})} probes drifted"
    else:
        tail += "no drift"
    lines += ["", tail]
    return scrub("\n".join(lines))


def as_json(report: Report, scrub: Scrub) -> str:
    doc = {
        "vendor": report.vendor,
        "baseUrls": report.bases,
        "result": {0: "no drift", 1: "drift", 2: "could not be made"}[report.exit_code],
        "exitCode": report.exit_code,
        "error": report.error,
        "seconds": round(report.seconds, 3),
        "requests": report.requests,
        "drifts": [{"path": f.path, "kind": f.kind, "message": f.message, "probes": f.probes}
                   for f in report.findings],
        "probes": [{
            "name": o.probe.name,
            "safe": o.probe.safe,
            "write": o.probe.write,
            "real": None if o.real is None else o.real.status,
            "mock": None if o.mock is None else o.mock.status,
            "verdict": o.verdict,
            "skipped": o.skipped,
            "drifts": [{"path": d.path, "kind": d.kind, "message": d.message}
                       for d in o.drifts],
        } for o in report.outcomes],
    }
    return scrub(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"


def junit(report: Report, scrub: Scrub) -> str:
    suite = ET.Element("testsuite", {
        "name": f"mockserver verify {report.vendor}",
        "tests": str(len(report.outcomes) + (report.error is not None)),
        "failures": str(sum(1 for o in report.outcomes if o.drifts)),
        "errors": str(int(report.error is not None)),
        "skipped": str(sum(1 for o in report.outcomes if o.skipped is not None)),
        "time": f"{report.seconds:.3f}",
    })
    for o in report.outcomes:
        case = ET.SubElement(suite, "testcase", {"classname": f"verify.{report.vendor}",
                                                 "name": o.probe.name})
        if o.skipped is not None:
            ET.SubElement(case, "skipped", {"message": o.skipped})
        elif o.drifts:
            failure = ET.SubElement(case, "failure", {
                "message": f"{len(o.drifts)} drift(s) from the real API", "type": "drift"})
            failure.text = "\n".join(d.line() for d in o.drifts)
    if report.error is not None:
        case = ET.SubElement(suite, "testcase", {"classname": f"verify.{report.vendor}",
                                                 "name": "the run"})
        ET.SubElement(case, "error", {"message": report.error, "type": "unreachable"})
    ET.indent(suite)
    return scrub(ET.tostring(suite, encoding="unicode", xml_declaration=True)) + "\n"


def write(report: Report, directory: str | Path, scrub: Scrub) -> list[Path]:
    """verify-<vendor>.json and verify-<vendor>.xml in `directory` (made when missing)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    out = [root / f"verify-{report.vendor}.json", root / f"verify-{report.vendor}.xml"]
    out[0].write_text(as_json(report, scrub), encoding="utf-8")
    out[1].write_text(junit(report, scrub), encoding="utf-8")
    return out
