"""The calls the vendors received, read like unittest.mock over `GET /__admin/requests`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx

from ..core.journal import FILTERS
from .admin import checked

_SHOWN = 20  # calls listed in a failed assertion's message
_ALL = 2**31  # a listing's limit that keeps every entry


@dataclass(frozen=True)
class RecordedCall:
    """One journal entry as `GET /__admin/requests` serves it (secrets already redacted).

    An entry an assertion fetched for its message only comes without headers and bodies
    (`?summary=1`): they are empty here."""

    id: int
    vendor: str
    method: str
    path: str
    query: str
    status: int | None
    tenant: str | None
    fault: str | None
    time: str
    request_headers: dict[str, str]
    request_body: str
    response_body: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> "RecordedCall":
        request = entry.get("request") or {}
        return cls(id=entry["id"], vendor=entry["vendor"], method=entry["method"],
                   path=entry["path"], query=entry.get("query") or "", status=entry.get("status"),
                   tenant=entry.get("tenant"), fault=entry.get("fault"), time=entry["time"],
                   request_headers=request.get("headers", {}),
                   request_body=request.get("body", ""),
                   response_body=(entry.get("response") or {}).get("body", ""), raw=entry)

    @property
    def json(self) -> Any:
        """The response body parsed, or None when it was empty."""
        return json.loads(self.response_body) if self.response_body else None

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        fault = f" (fault {self.fault})" if self.fault else ""
        return f"{self.vendor} {self.method} {self.path}{query} -> {self.status}{fault}"


def _expected(criteria: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in criteria.items()) or "any call"


class JournalView:
    """The calls the vendors received, for one tenant (or every tenant when `tenant` is None).

    Reads like `unittest.mock`: `called`, `call_count`, `last`, `calls` (oldest first),
    `assert_called_with(vendor=..., method=..., path=..., status=...)`. The criteria are the
    journal's filters (`core.journal.FILTERS`), applied by the server: they compare exactly,
    except `path`, a glob (`/connections/*`), `status`, a code or a class (`"4xx"`), and `method`,
    in any case. The view reads requests; `kind="webhook"` reads the webhooks the mock
    delivered instead. A call whose credentials were refused names no tenant, so it shows only
    in the unfiltered journal (`JournalView(http, None)`).
    """

    def __init__(self, http: httpx.Client, tenant: str | None) -> None:
        self._http = http
        self.tenant = tenant

    def _params(self, criteria: dict[str, Any]) -> dict[str, str] | None:
        """The listing's query for these criteria; None when they exclude this view's tenant."""
        unknown = set(criteria) - set(FILTERS)
        if unknown:
            raise TypeError(f"unknown criteria {', '.join(sorted(unknown))}; "
                            f"use {', '.join(FILTERS)}")
        params = {"kind": "request"}
        params.update((k, str(v)) for k, v in criteria.items() if v is not None)
        if self.tenant is not None and params.setdefault("tenant", self.tenant) != self.tenant:
            return None
        return params

    def _select(self, criteria: dict[str, Any], limit: int,
                brief: bool = False) -> tuple[int, list[RecordedCall]]:
        """(how many calls match, the newest `limit` of them, oldest first); `brief` leaves out
        their headers and bodies."""
        params = self._params(criteria)
        if params is None:
            return 0, []
        params["limit"] = str(limit)
        if brief:
            params["summary"] = "1"
        body = checked(self._http.get("/__admin/requests", params=params)).json()
        return body["total"], [RecordedCall.from_entry(e) for e in reversed(body["requests"])]

    # -- reading ------------------------------------------------------------------------------
    @property
    def calls(self) -> list[RecordedCall]:
        """Every request, oldest first (like `Mock.call_args_list`)."""
        return self._select({}, _ALL)[1]

    @property
    def webhooks(self) -> list[RecordedCall]:
        """Webhooks the mock delivered for this tenant, oldest first."""
        return self._select({"kind": "webhook"}, _ALL)[1]

    # The count and the last call need not fetch every entry's headers and bodies.
    @property
    def called(self) -> bool:
        return self.call_count > 0

    @property
    def call_count(self) -> int:
        return self._select({}, 0)[0]

    @property
    def last(self) -> RecordedCall:
        newest = self._select({}, 1)[1]
        if not newest:
            raise AssertionError("no call was made")
        return newest[0]

    def filter(self, **criteria: Any) -> list[RecordedCall]:
        """The calls matching every criterion, oldest first."""
        return self._select(criteria, _ALL)[1]

    def __iter__(self) -> Iterator[RecordedCall]:
        return iter(self.calls)

    def __len__(self) -> int:
        return self.call_count

    def reset(self) -> None:
        """Forget this tenant's calls (`DELETE /__admin/requests?tenant=`)."""
        params = {"tenant": self.tenant} if self.tenant is not None else {}
        checked(self._http.delete("/__admin/requests", params=params))

    # -- asserting: each asks the server for counts and the few entries it needs, without
    # headers or bodies (__tracebackhide__: pytest shows the failure at the test's own line)
    def _checked_criteria(self, criteria: dict[str, Any]) -> dict[str, Any]:
        self._params(criteria)  # refuses an unknown name before anything is fetched
        return {k: v for k, v in criteria.items() if v is not None}

    def _newest(self, criteria: dict[str, Any]) -> tuple[int, list[RecordedCall]]:
        """The count of the calls of the kind the criteria read, and the newest _SHOWN."""
        return self._select({"kind": criteria.get("kind")}, _SHOWN, brief=True)

    @staticmethod
    def _listing(total: int, shown: list[RecordedCall]) -> str:
        if not total:
            return "Calls: none."
        lines = [f"Calls ({total}, oldest first):"]
        if total > len(shown):
            lines.append(f"  ... {total - len(shown)} earlier")
        lines += [f"  {c}" for c in shown]
        return "\n".join(lines)

    def assert_called(self) -> None:
        __tracebackhide__ = True
        if not self.call_count:
            raise AssertionError("Expected a call to the mock. Not called.")

    def assert_called_once(self) -> None:
        __tracebackhide__ = True
        total, shown = self._newest({})
        if total != 1:
            raise AssertionError(f"Expected one call to the mock. Called {total} times.\n"
                                 + self._listing(total, shown))

    def assert_not_called(self) -> None:
        __tracebackhide__ = True
        total, shown = self._newest({})
        if total:
            raise AssertionError(f"Expected no call to the mock. Called {total} times.\n"
                                 + self._listing(total, shown))

    def assert_called_with(self, **criteria: Any) -> None:
        """The last call matches (like `Mock.assert_called_with`): the newest call matching
        the criteria is the newest call."""
        __tracebackhide__ = True
        wanted = self._checked_criteria(criteria)
        matching = self._select(wanted, 1, brief=True)[1]
        last = self._select({"kind": wanted.get("kind")}, 1, brief=True)[1]
        if not last:
            raise AssertionError(f"expected call not found.\nExpected: {_expected(wanted)}\n"
                                 "  Actual: not called.")
        if not matching or matching[0].id != last[0].id:
            total, shown = self._newest(wanted)
            raise AssertionError(f"expected call not found.\nExpected: {_expected(wanted)}\n"
                                 f"  Actual: {last[0]}\n" + self._listing(total, shown))

    def assert_called_once_with(self, **criteria: Any) -> None:
        __tracebackhide__ = True
        wanted = self._checked_criteria(criteria)
        total, shown = self._newest(wanted)
        if total != 1:
            raise AssertionError(f"Expected one call matching {_expected(wanted)}. Called "
                                 f"{total} times.\n" + self._listing(total, shown))
        self.assert_called_with(**criteria)

    def assert_any_call(self, **criteria: Any) -> None:
        __tracebackhide__ = True
        wanted = self._checked_criteria(criteria)
        if not self._select(wanted, 0)[0]:
            raise AssertionError(f"{_expected(wanted)} call not found.\n"
                                 + self._listing(*self._newest(wanted)))
