"""`mockserver verify integry` against local upstreams: an unmodified mockserver is no drift
(with and without --allow-writes), another catalogue's data is no drift, each drifted upstream
is reported once at its path, and credentials the upstream refuses stop the run (exit 2)."""
from __future__ import annotations

import pytest

from mockserver import create_app
from mockserver.verify.run import run

from .upstream import json_change, no_sleep, serve

INTEGRY = {"appKey": "002d4f23-778a-11e7-bf2a-42010a8002c7",
           "appSecret": "integry-sandbox-secret", "userId": "123456"}
WRITES = ["function call"]


def verify(mock, url: str, inputs: dict[str, str] = INTEGRY, **options):
    return run(mock.vendors["integry"], mock, dict(inputs), {"api": f"{url}/integry"},
               rate=5, sleep=no_sleep, **options)


@pytest.fixture(scope="module")
def upstream():
    with serve(create_app()) as url:
        yield url


def drift_of(mock, url, switch, change):
    with switch.serving(change):
        return verify(mock, url)


def apps_list(method: str, path: str, status: int) -> bool:
    return method == "POST" and path.rstrip("/") == "/apps/list" and status == 200


def test_an_unmodified_mockserver_shows_no_drift(mock, upstream):
    report = verify(mock, upstream)
    assert report.error is None
    assert report.drifts == [] and report.exit_code == 0
    skipped = [o.probe.name for o in report.outcomes if o.skipped is not None]
    assert skipped == WRITES
    ran = [o for o in report.outcomes if o.skipped is None]
    assert {o.real.status for o in ran} == {200, 400, 403, 404, 405, 413}


def test_the_write_runs_only_when_allowed(mock, upstream):
    report = verify(mock, upstream, allow_writes=True)
    assert report.exit_code == 0 and report.drifts == []
    assert all(o.skipped is None for o in report.outcomes)
    call = next(o for o in report.outcomes if o.probe.name == "function call")
    assert call.real.status == call.mock.status == 200
    assert b"mockserver-verify-" in call.real.body   # the message names the run's label


def test_another_catalogue_is_no_drift(mock, drifted, switch):
    """A real account's catalogue holds other functions: their parameters (a JSON Schema each)
    and predicted arguments are data, not drift."""
    def other(value):
        if isinstance(value, dict):
            return {("other_" + k if k in ("channel", "text", "properties") else k): other(v)
                    for k, v in value.items()}
        return [other(v) for v in value] if isinstance(value, list) else value

    def functions(method, path, status):
        return status == 200 and path.startswith("/functions/")

    report = drift_of(mock, drifted, switch, json_change(functions, other))
    assert report.findings == [] and report.exit_code == 0


def test_a_changed_page_size_is_one_finding(mock, drifted, switch):
    def pages_of_20(body):
        return {**body, "apps": body["apps"][:20]}    # still says another page follows

    report = drift_of(mock, drifted, switch, json_change(apps_list, pages_of_20))
    assert [(f.path, f.kind) for f in report.findings] == [("$.apps", "page")]
    assert "pages of 20 items from the real API, 50 from the mock" in report.findings[0].message
    assert report.exit_code == 1


def test_a_changed_type_is_one_finding(mock, drifted, switch):
    def string_ids(body):
        return {**body, "apps": [{**a, "id": str(a["id"])} for a in body["apps"]]}

    report = drift_of(mock, drifted, switch, json_change(apps_list, string_ids))
    assert [(f.path, f.kind) for f in report.findings] == [("$.apps[].id", "type")]
    assert report.findings[0].message == ("string in the real answer, number in the mock's")
    assert report.exit_code == 1


def test_refused_credentials_stop_the_run(mock, upstream):
    report = verify(mock, upstream, {**INTEGRY, "appSecret": "not-the-secret"})
    assert report.exit_code == 2
    assert "refused the credentials on every probe" in report.error
