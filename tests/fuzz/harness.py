"""What the fuzz tests share: one app per test, its vendor's state, the counts `make fuzz` prints.

Each case runs against the fixtures (restored when an earlier case changed them, ~1-2 ms), so a
failing case replays and shrinks alone. The state compared around a rejected case is the
vendor's part of every tenant: `export_state` (what GET /__admin/state exports) and `snapshot()`
(which also holds the live tokens and sessions an export leaves out), serialised, so nothing
the store hands out by reference can change under the comparison.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Any, Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mockserver import Clock, create_app

from ..conftest import DOC_TIME, MockClient, restore_pristine

# Parts of an export that are meters, moved by every call a vendor counts, refused or not, as
# the journal is: Groove's rate-limit window counts every GraphQL request of a valid token
# (snapshot() leaves it out for the same reason).
METERS = {"groove": ("window",)}
# The shape of the known strings that fit a parameter of this name (path, query and top-level
# body fields, every vendor): so a good share of cases names an existing record.
KNOWN_SHAPES = {name: re.compile(shape) for name, shape in {
    "connectionId": r"conn_\w+", "code": r"\w{4,12}", "campaignID": r"\d+",
    "regId": r"[0-9a-f]{64}", "name": r"[a-z_]+", "personId": r"\d+",
    "salesforceId": r"00\w{13,16}",
}.items()}
DEFAULT_CASES = 150   # per vendor in `make test`; `make fuzz` sets MOCKSERVER_FUZZ_CASES=10000
CASES = int(os.environ.get("MOCKSERVER_FUZZ_CASES") or DEFAULT_CASES)
# A file to append each vendor's counts to every 1,000 cases: a long run's progress.
PROGRESS = os.environ.get("MOCKSERVER_FUZZ_PROGRESS")


def fuzz_settings() -> settings:
    """The short default budget is derandomized (CI replays the same cases); a `make fuzz`
    budget draws new ones each run (hypothesis prints the failing case to replay it)."""
    return settings(max_examples=CASES, deadline=None, database=None,
                    derandomize=CASES == DEFAULT_CASES, print_blob=True,
                    suppress_health_check=list(HealthCheck))


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Fuzz:
    """One vendor's fuzz run: an app at the documented time, the credentials `valid` returns
    (re-made after every restore, as a restore forgets issued tokens), and the counts."""

    def __init__(self, vendor: str, valid: Callable[[MockClient], list[dict[str, str]]],
                 names: Callable[[MockClient], dict[str, list[str]]] = lambda client: {}) -> None:
        self.vendor = vendor
        self.app = create_app(seed=0, clock=Clock(DOC_TIME))
        # A fuzzed webhookUrl must not hold a case for the default delivery timeout.
        self.app.webhooks.timeout = self.app.webhooks.wait_budget = 0.2
        self.client = MockClient(self.app)
        self._make_valid = valid
        self.counts: Counter[str] = Counter()
        self.restore()
        # Known identifiers (connection ids, campaign ids, flow ids, function names): what path
        # parameters and GraphQL arguments are swapped for, so cases reach records, not 404s.
        # `names`: parameter name -> the catalogue's values for it (no part of the state).
        catalogue = names(self.client)
        self.known = sorted(_strings(json.loads(self.pristine)).union(*catalogue.values()))
        self.shaped = {name: [k for k in self.known if shape.fullmatch(k)]
                       for name, shape in KNOWN_SHAPES.items()}
        self.shaped.update({name: sorted(values) for name, values in catalogue.items()})
        self.begin()

    def restore(self) -> None:
        app = self.app
        restore_pristine(app)
        self.valid = self._make_valid(self.client)
        self.pristine = self.state()
        self._after: str | None = None

    def state(self) -> str:
        vendor = self.app.vendors[self.vendor]
        out = {}
        for t in self.app.tenants:
            export = vendor.export_state(t.stores[self.vendor], t)
            if isinstance(export, dict):
                export = {k: v for k, v in export.items() if k not in METERS.get(self.vendor, ())}
            out[t.id] = [export, vendor.snapshot(t.stores[self.vendor])]
        return json.dumps(out, sort_keys=True, default=repr)

    def known_value(self, name: str, data) -> Any:
        """For a parameter `name`: a known string of the shape `KNOWN_SHAPES` gives it (an id
        of a record; half the time), any known string, or None (keep what was generated)."""
        how = data.draw(st.sampled_from(["generated", "shaped", "shaped", "any"]),
                        label=f"{name} from")
        pool = [] if how == "generated" else \
            self.shaped.get(name, self.known) if how == "shaped" else self.known
        return data.draw(st.sampled_from(pool), label=name) if pool else None

    def begin(self) -> str:
        """The state before a case: the fixtures, restored if the last case changed them."""
        # Nothing but a case changes the state, so the state after the last one is the state
        # now: one export per case (Gravy's takes a few ms).
        state = self._after if self._after is not None else self.state()
        if state != self.pristine:
            self.restore()
            state = self.pristine
        self._after = None
        return state

    def end(self, before: str, status: int, rejected: bool, where: str) -> None:
        """The invariants every case keeps, and its counts."""
        self.counts["cases"] += 1
        self.counts[status_class(status)] += 1
        assert status < 500, f"{where} -> {status}"
        self._after = after = self.state()
        if rejected:
            assert after == before, f"{where} was rejected ({status}) but changed state"
            self.counts["rejected, state unchanged"] += 1
        elif after != before:
            self.counts["accepted, state changed"] += 1
        if PROGRESS and self.counts["cases"] % 1000 == 0:
            with open(PROGRESS, "a") as f:
                f.write(json.dumps({"vendor": self.vendor, **self.counts}) + "\n")

    def report(self, record_property) -> None:
        """The counts, for the summary `make fuzz` prints (tests/fuzz/conftest.py)."""
        record_property("fuzz_counts", json.dumps({"vendor": self.vendor, **self.counts}))

    def close(self) -> None:
        self.client.close()


def _strings(node: Any) -> set[str]:
    """Short identifier-like strings of a state document: ids, slugs, names."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            out |= _strings(key) | _strings(value)
    elif isinstance(node, list):
        for value in node[:50]:
            out |= _strings(value)
    elif isinstance(node, str) and 0 < len(node) <= 64 and re.fullmatch(r"[\w.@:-]+", node):
        out.add(node)
    elif isinstance(node, int) and not isinstance(node, bool):
        out.add(str(node))   # numeric ids (Gravitec campaigns), sent as text anyway
    return out
