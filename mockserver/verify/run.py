"""`mockserver verify VENDOR`: each probe of the vendor's suite sent to the real API and to the
mock (in process, same seed), the answers compared (compare.py), the real ones also checked
against contracts/.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..core.contracts import ContractError, load as load_contracts
from ..core.probe import Answer, Probe, Side
from .compare import Drift, compare
from .upstream import GATEWAY, Mock, Real, Sleep, Unreachable, html

REFUSED = (401, 403)


@dataclass
class Outcome:
    probe: Probe
    real: Answer | None = None
    mock: Answer | None = None
    drifts: list[Drift] = field(default_factory=list)
    skipped: str | None = None

    @property
    def verdict(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "drift" if self.drifts else "same"


@dataclass
class Finding:
    path: str
    kind: str
    message: str
    probes: list[str]

    def line(self) -> str:
        return f"{self.path}: {self.message} ({', '.join(self.probes)})"


@dataclass
class Report:
    vendor: str
    bases: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None   # why the run could not be made (exit 2)
    seconds: float = 0.0
    requests: int = 0          # sent to the real API

    @property
    def drifts(self) -> list[Drift]:
        return [d for o in self.outcomes for d in o.drifts]

    @property
    def findings(self) -> list["Finding"]:
        """The drifts, each said once: the same difference seen by several probes (a header
        missing from every answer) is one finding naming them all."""
        by: dict[tuple[str, str, str], Finding] = {}
        for d in self.drifts:
            key = (d.path, d.kind, d.message)
            if key not in by:
                by[key] = Finding(d.path, d.kind, d.message, [])
            by[key].probes.append(d.probe)
        return list(by.values())

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return 2
        return 1 if self.drifts else 0


def sides(vendor: Any, app: Any, inputs: Mapping[str, str], label: str) -> tuple[Side, Side]:
    """The real side from the user's inputs; the mock side from the sandbox's (the vendor's
    `sandbox(server)`: its credentials, a token minted for them, an id of its fixtures)."""
    real = Side("real", {**inputs, "label": label})
    mock = Side("mock", {**vendor.verify.sandbox(app), "label": label})
    return real, mock


async def verify(vendor: Any, app: Any, inputs: Mapping[str, str], bases: Mapping[str, str],
                 allow_writes: bool = False, rate: float | None = None,
                 timeout: float | None = None, sleep: Sleep | None = None,
                 tls: Any = True) -> Report:
    """Run `vendor`'s probes against `bases` (the real API) and `app` (the mock)."""
    started = time.monotonic()
    report = Report(vendor.name, dict(bases))
    options: dict[str, Any] = {"verify": tls}
    if rate is not None:
        options["rate"] = rate
    if timeout is not None:
        options["timeout"] = timeout
    if sleep is not None:
        options["sleep"] = sleep
    real_end = Real(bases, **options)
    mock_end = Mock(app, vendor.verify.BASE_URLS)
    label = f"mockserver-verify-{int(real_end.wall.time())}"  # names what a write probe makes
    real, mock = sides(vendor, app, inputs, label)
    try:
        for probe in vendor.verify.probes():
            report.outcomes.append(await _one(vendor.name, probe, real, mock, real_end,
                                              mock_end, allow_writes))
        _credentials_refused(report)
    except Unreachable as exc:
        report.error = str(exc)
    finally:
        report.requests = real_end.requests
        await real_end.aclose()
        await mock_end.aclose()
        report.seconds = time.monotonic() - started
    return report


async def _one(vendor: str, probe: Probe, real: Side, mock: Side, real_end: Real,
               mock_end: Mock, allow_writes: bool) -> Outcome:
    if probe.write and not allow_writes:
        return Outcome(probe, skipped="changes the account: runs with --allow-writes")
    calls = probe.build(real), probe.build(mock)
    if calls[0] is None or calls[1] is None:
        return Outcome(probe, skipped=f"needs {probe.needs or 'an earlier probe'}")
    out = Outcome(probe)
    out.mock = await mock_end.send(calls[1])
    out.real = await real_end.send(calls[0])
    where = f"{calls[0].method} {real_end.bases[calls[0].base].rstrip('/')}{calls[0].path}"
    if out.real.status in GATEWAY and out.mock.status not in GATEWAY:
        raise Unreachable(f"{where} answered {out.real.status} (a gateway or an outage, not "
                          "the API): try again later")
    # An HTML page where the mock serves a read is no API (a proxy's, a login's); an HTML
    # refusal (a frontend's 404 or 413) is only a drift of its content type.
    if html(out.real) and not html(out.mock) and out.mock.status < 300:
        raise Unreachable(f"{where} answered an HTML page, not the API's JSON: is --base-url "
                          "the API's?")
    out.drifts = compare(probe, out.real, out.mock,
                         allows(vendor, calls[1].method, calls[1].path, out.mock.status))
    if not out.drifts:  # what the mock's shape already flagged is not said twice
        out.drifts = _contract(vendor, probe, calls[0].method, calls[0].path, out.real)
    if probe.check is not None and out.real.status == out.mock.status == 200:
        out.drifts += [Drift(probe.name, path, kind, message)
                       for path, kind, message in probe.check(out.real)]
    for side, answer, end in ((real, out.real, real_end), (mock, out.mock, mock_end)):
        if probe.keep is not None and answer.status < 400:
            probe.keep(side, answer)
        if probe.undo is not None and answer.status < 400:
            undo = probe.undo(side, answer)
            if undo is not None:
                await end.send(undo)
    return out


def allows(vendor: str, method: str, path: str, status: int) -> Callable[[Any], bool] | None:
    """Whether the mock's contract for this answer admits a body: a difference it admits (an
    optional key, a nullable field) is the account's data, not drift."""
    contracts = load_contracts()
    name = contracts.response_schema(vendor, method, path.split("?", 1)[0], status)
    if name is None:
        return None
    validator = contracts.validator(vendor, name)
    return validator.is_valid


def _contract(vendor: str, probe: Probe, method: str, path: str, real: Answer) -> list[Drift]:
    """The real answer against contracts/ (what the mock's tests hold the mock to)."""
    if not real.is_json or not real.body:
        return []
    body = real.json()
    contracts = load_contracts()
    if contracts.response_schema(vendor, method, path.split("?", 1)[0], real.status) is None:
        return []
    try:
        contracts.check_response(vendor, method, path.split("?", 1)[0], real.status, body)
    except ContractError as exc:
        lines = str(exc).splitlines()
        return [Drift(probe.name, "contract", "contract", f"{lines[0]} {line.strip()}")
                for line in lines[1:]]
    return []


def _credentials_refused(report: Report) -> None:
    """Exit 2 when the real API refused the credentials on every probe that sends them."""
    authed = [o for o in report.outcomes if o.skipped is None and o.probe.authed]
    if authed and all(o.real.status in REFUSED and o.mock.status not in REFUSED
                      for o in authed):
        statuses = sorted({o.real.status for o in authed})
        raise Unreachable(f"the API refused the credentials on every probe that sends them "
                          f"({', '.join(map(str, statuses))}): check them")


def run(vendor: Any, app: Any, inputs: Mapping[str, str], bases: Mapping[str, str],
        **options: Any) -> Report:
    return asyncio.run(verify(vendor, app, inputs, bases, **options))
