"""`mockserver verify gravitec` against local upstreams: an unmodified mockserver is no drift
(with and without --allow-writes, whose tag is removed again), each drifted upstream is reported
once at its path, and credentials the upstream refuses stop the run (exit 2)."""
from __future__ import annotations

import pytest

from mockserver import create_app
from mockserver.verify.run import run

from .upstream import json_change, no_sleep, serve

GRAVITEC = {"appKey": "1e26f7bb3f81e1ab789d3e20b9cf6325",
            "appSecret": "9bb59fcbff38b85647c421c65cca06ce",
            # the doc's stats example and a fixture subscriber: the upstream's, as the mock's
            "campaignId": "1603861504654835713", "regId": "someregid"}
WRITES = ["push", "campaign read, the pushed campaign", "tag add"]


def verify(mock, url: str, inputs: dict[str, str] = GRAVITEC, **options):
    return run(mock.vendors["gravitec"], mock, dict(inputs), {"api": f"{url}/gravitec"},
               rate=5, sleep=no_sleep, **options)


@pytest.fixture(scope="module")
def served():
    app = create_app()
    with serve(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def upstream(served):
    return served[1]


def drift_of(mock, url, switch, change):
    with switch.serving(change):
        return verify(mock, url)


def tags(app, reg_id: str = "someregid") -> list[str]:
    return list(app.tenants.default.stores["gravitec"].sites["main"].followers[reg_id].tags)


def test_an_unmodified_mockserver_shows_no_drift(mock, upstream):
    report = verify(mock, upstream)
    assert report.error is None
    assert report.drifts == [] and report.exit_code == 0
    skipped = [o.probe.name for o in report.outcomes if o.skipped is not None]
    assert skipped == WRITES
    ran = [o for o in report.outcomes if o.skipped is None]
    assert {o.real.status for o in ran} == {200, 400, 403, 404, 405, 413, 422}


def test_without_a_campaign_id_its_read_is_skipped(mock, upstream):
    inputs = {k: v for k, v in GRAVITEC.items() if k != "campaignId"}
    report = verify(mock, upstream, inputs)
    assert report.exit_code == 0
    skipped = [o.probe.name for o in report.outcomes if o.skipped is not None]
    assert skipped == ["campaign read", *WRITES]


def test_the_writes_run_only_when_allowed_and_the_tag_is_removed(mock, served):
    app, url = served
    before = tags(app), tags(mock)
    report = verify(mock, url, allow_writes=True)
    assert report.exit_code == 0 and report.drifts == []
    assert all(o.skipped is None for o in report.outcomes)
    by_name = {o.probe.name: o for o in report.outcomes}
    assert by_name["tag add"].real.status == 200
    assert by_name["campaign read, the pushed campaign"].real.json()["send"] == 0  # reached nobody
    assert (tags(app), tags(mock)) == before          # the label's tag removed on both sides


def test_a_changed_status_is_one_finding(mock, drifted, switch):
    def refused_as_400(method, path, status, headers, body):
        if method == "POST" and path.rstrip("/") == "/api/v3/push" and status == 422:
            status = 400
        return status, headers, body

    report = drift_of(mock, drifted, switch, refused_as_400)
    assert [(f.path, f.kind, f.probes) for f in report.findings] == [
        ("status", "status", ["push without payload"])]
    assert report.findings[0].message == "400 from the real API, 422 from the mock"
    assert report.exit_code == 1


def test_a_field_becoming_nullable_is_one_finding(mock, drifted, switch):
    def campaign(method, path, status):
        return method == "GET" and path.startswith("/api/v3/messages/") and status == 200

    report = drift_of(mock, drifted, switch,
                      json_change(campaign, lambda body: {**body, "clicked": None}))
    assert [(f.path, f.kind, f.probes) for f in report.findings] == [
        ("$.clicked", "nullable", ["campaign read"])]
    assert report.exit_code == 1


def test_refused_credentials_stop_the_run(mock, upstream):
    report = verify(mock, upstream, {**GRAVITEC, "appSecret": "not-the-secret"})
    assert report.exit_code == 2
    assert "refused the credentials on every probe" in report.error
