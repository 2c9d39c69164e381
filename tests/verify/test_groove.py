"""`mockserver verify groove` against local upstreams: an unmodified mockserver (no drift, every
probe sent, reads change nothing, the write adds one membership), drifted ones (a GraphQL field
removed, an argument added, a rate-limit header missing, an error text or code changed: each
reported once, at its path, and nothing else), and the reports CI reads."""
from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import httpx
import pytest

from mockserver import create_app
from mockserver.verify.report import Scrub, write
from mockserver.verify.run import Report, run
from mockserver.vendors.groove import verify as groove_verify

from .upstream import Drifted, Switch, json_change, no_sleep, serve

CLIENT_ID, CLIENT_SECRET = "groove-sandbox-client", "groove-sandbox-secret"
REDIRECT_URI = "http://localhost:3000/oauth/callback"
GRAPHQL = "/api/public/v1/graphql"
WRITE = "add person to flow"
ADA = "0035e00000Ada001AAA"   # fixtures/groove: a person with a Salesforce id, in no flow
DRAFT = "1003"                # fixtures/groove: a flow of no steps


def access_token(url: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    """The real side's token, as a user gets one: the OAuth code flow (README.md's example)."""
    with httpx.Client(base_url=f"{url}/groove") as client:
        r = client.get("/oauth/authorize", params={"client_id": client_id,
                                                   "redirect_uri": REDIRECT_URI,
                                                   "scope": "first-scope", "state": "s"})
        assert r.status_code == 302, r.text
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        r = client.post("/oauth/token", json={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": client_id, "client_secret": secret})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture(scope="module")
def upstream():
    app, switch = create_app(), Switch()
    with serve(Drifted(app, switch)) as url:
        yield url, app, switch


@pytest.fixture
def drift(upstream):
    _, _, switch = upstream
    yield switch
    switch.change = None


def inputs(url: str, **more: str) -> dict[str, str]:
    return {"accessToken": access_token(url), "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET, "salesforceId": ADA, "flowId": DRAFT, **more}


def verify(url: str, given: dict[str, str] | None = None, **options: Any) -> Report:
    """One run, a fresh in-process mock (its write must not meet the last run's), a new token
    for the real side (each run sends about 20 calls of the 100 a token may make a minute)."""
    mock = create_app(journal_size=0)
    return run(mock.vendors["groove"], mock, inputs(url) if given is None else given,
               {"api": f"{url}/groove", "auth": f"{url}/groove"}, rate=5, sleep=no_sleep,
               **options)


def groove_state(app, tenant=None) -> Any:
    vendor = app.vendors["groove"]
    tenant = tenant or app.tenants.default
    return vendor.snapshot(tenant.stores["groove"])


def test_an_unmodified_mockserver_shows_no_drift(upstream):
    url, app, _ = upstream
    before = groove_state(app)
    report = verify(url)
    assert report.error is None, report.error
    assert report.findings == [] and report.exit_code == 0
    skipped = {o.probe.name: o.skipped for o in report.outcomes if o.skipped is not None}
    assert list(skipped) == [WRITE] and "--allow-writes" in skipped[WRITE]
    ran = [o for o in report.outcomes if o.skipped is None]
    assert {o.real.status for o in ran} == {200, 400, 401, 404, 413}
    assert groove_state(app)["memberships"] == before["memberships"]
    assert groove_state(app)["people"] == before["people"]


def test_the_schema_from_introspection_matches_the_contract(upstream):
    """The mock's own introspection diffs clean against contracts/groove/schema.graphql (the
    check is run, on a real 200 answer holding the whole schema)."""
    url, _, _ = upstream
    report = verify(url)
    probe = next(o for o in report.outcomes if o.probe.name == "introspection")
    assert probe.real.status == 200 and probe.drifts == []
    assert probe.probe.check(probe.real) == []
    types = {t["name"] for t in probe.real.json()["data"]["__schema"]["types"]}
    assert {"Flow", "Person", "PersonFlow", "StepConnection", "AddPersonToFlowInput"} <= types


def test_other_data_is_no_drift():
    """A real account holds other flows and people (another seed): no drift either, since
    pagination values are compared only where the request alone decides them."""
    with serve(create_app(seed=7)) as url:
        report = verify(url)
    assert report.error is None and report.findings == []


def test_without_the_optional_inputs_their_probes_are_skipped(upstream):
    url, _, _ = upstream
    report = verify(url, {"accessToken": access_token(url)})
    skipped = {o.probe.name for o in report.outcomes if o.skipped is not None}
    assert skipped == {"person by Salesforce id", "token, wrong client secret",
                       "token, wrong code", "token, wrong refresh token", WRITE}
    assert report.findings == [] and report.exit_code == 0


def test_the_write_adds_one_person_to_the_named_flow(upstream):
    """With --allow-writes the one write runs on both sides; Groove has no call that removes a
    person from a flow, so the real account keeps exactly that membership and nothing else."""
    url, app, _ = upstream
    tenant = app.tenants.create()   # its own copy of the fixtures: the next run meets no member
    try:
        creds = tenant.credentials["groove"]
        given = inputs(url) | {"accessToken": access_token(url, creds["clientId"],
                                                           creds["clientSecret"]),
                               "clientId": creds["clientId"],
                               "clientSecret": creds["clientSecret"]}
        before = groove_state(app, tenant)
        report = verify(url, given, allow_writes=True)
        assert report.findings == [] and report.exit_code == 0
        write = next(o for o in report.outcomes if o.probe.name == WRITE)
        assert write.skipped is None and write.real.status == write.mock.status == 200
        after = groove_state(app, tenant)
        added = [m for m in after["memberships"] if m not in before["memberships"]]
        assert [m[:2] for m in added] == [[DRAFT, "1"]]
        assert len(after["memberships"]) == len(before["memberships"]) + 1
        assert after["people"] == before["people"]
    finally:
        app.tenants.delete(tenant.id)


# -- drifted upstreams -------------------------------------------------------------------------
def _introspection(edit: Callable[[dict[str, dict]], None]):
    """Edit the introspection answer's types (by name) and nothing else."""
    def change(doc):
        schema = (doc.get("data") or {}).get("__schema")
        if isinstance(schema, dict):
            edit({t["name"]: t for t in schema["types"]})
        return doc
    return json_change(lambda m, p, s: p == GRAPHQL and s == 200, change)


def _remove_field(types):
    types["Flow"]["fields"] = [f for f in types["Flow"]["fields"] if f["name"] != "name"]


def _add_argument(types):
    flows = next(f for f in types["Query"]["fields"] if f["name"] == "flows")
    flows["args"].append({"name": "first", "description": None, "defaultValue": None,
                          "type": {"kind": "SCALAR", "name": "Int", "ofType": None}})


def _directives(*names: str):
    """Drop directives from the introspection answer."""
    def change(doc):
        schema = (doc.get("data") or {}).get("__schema")
        if isinstance(schema, dict):
            schema["directives"] = [d for d in schema["directives"] if d["name"] not in names]
        return doc
    return json_change(lambda m, p, s: p == GRAPHQL and s == 200, change)


def _introspection_off(doc):
    if "__schema" in (doc.get("data") or {}):
        return {"errors": [{"message": "Introspection is disabled",
                            "extensions": {"code": "introspectionDisabled"}}]}
    return doc


def _flows(edit: Callable[[dict], None]):
    """Edit each flow of the flows list's answer."""
    def change(doc):
        for flow in (doc.get("data") or {}).get("flows") or []:
            edit(flow)
        return doc
    return json_change(lambda m, p, s: p == GRAPHQL and s == 200, change)


def _flows_refused(doc):
    if "flows" in (doc.get("data") or {}):
        return {"data": None, "errors": [{"message": "Internal error",
                                          "extensions": {"code": "INTERNAL"}}]}
    return doc


def _drop_remaining(method, path, status, headers, body):
    if path == GRAPHQL:
        headers.pop("x-ratelimit-remaining", None)
    return status, headers, body


def _missing_param_text(doc):
    if doc.get("error_description", "").startswith("Missing required parameter"):
        doc["error_description"] = "grant_type is required."
    return doc


def _undefined_field_code(doc):
    for error in doc.get("errors") or []:
        if error["extensions"]["code"] == "undefinedField":
            error["extensions"]["code"] = "fieldNotDefined"
    return doc


DRIFTS = {
    "a GraphQL field removed": (
        _introspection(_remove_field), "schema Flow.name", ["introspection"],
        "Field Flow.name was removed. (breaking: FIELD_REMOVED)"),
    "an argument added": (
        _introspection(_add_argument), "schema Query.flows(first:)", ["introspection"],
        "An optional argument Query.flows(first:) was added. (dangerous: OPTIONAL_ARG_ADDED)"),
    "a directive a query may carry removed": (
        _directives("skip"), "schema @skip", ["introspection"],
        "Directive @skip was removed. (breaking: DIRECTIVE_REMOVED)"),
    "introspection turned off": (
        json_change(lambda m, p, s: p == GRAPHQL and s == 200, _introspection_off), "schema",
        ["introspection"], "the introspection answer holds no data.__schema (is introspection "
                           "off?)"),
    "a field missing from a read": (
        _flows(lambda f: f.pop("finalized")), "$.data.flows[].finalized", ["flows list"],
        "selected, missing from the real answer"),
    "a non-null field null": (
        _flows(lambda f: f.update(name=None)), "$.data.flows[].name", ["flows list"],
        "null in the real answer, though the schema says String!"),
    "a field renamed": (
        _flows(lambda f: f.update(title=f.pop("name"))), "$.data.flows[].name", ["flows list"],
        "renamed: 'title' in the real answer, 'name' in the mock's"),
    "a read answered with errors": (
        json_change(lambda m, p, s: p == GRAPHQL and s == 200, _flows_refused), "$.errors",
        ["flows list"], "the real API answered errors: 'Internal error'"),
    "an error text changed": (
        json_change(lambda m, p, s: p == "/oauth/token" and s == 400, _missing_param_text),
        "$.error_description", ["token, no grant_type"],
        "'grant_type is required.' from the real API, 'Missing required parameter: "
        "grant_type.' from the mock"),
    "a GraphQL error code changed": (
        json_change(lambda m, p, s: p == GRAPHQL and s == 200, _undefined_field_code),
        "$.errors[].extensions.code", ["query, unknown field"],
        "['fieldNotDefined'] from the real API, ['undefinedField'] from the mock"),
}


@pytest.mark.parametrize("name", DRIFTS)
def test_each_drift_is_reported_once_at_its_path(upstream, drift, name):
    url, _, _ = upstream
    drift.change, path, probes, message = DRIFTS[name]
    report = verify(url)
    assert report.error is None, report.error
    assert [(f.path, f.probes, f.message) for f in report.findings] == [(path, probes, message)]
    assert report.exit_code == 1


def test_sdl_only_directives_missing_are_no_drift(upstream, drift):
    """graphql-ruby releases differ in which built-in directives they list; @specifiedBy,
    @oneOf and @deprecated are only ever written in SDL, never in a request."""
    url, _, _ = upstream
    drift.change = _directives("specifiedBy", "oneOf", "deprecated")
    report = verify(url)
    assert report.error is None and report.findings == []


def test_a_missing_rate_limit_header_is_one_finding_naming_the_probes(upstream, drift):
    url, _, _ = upstream
    drift.change = _drop_remaining
    report = verify(url)
    [finding] = report.findings
    assert finding.path == "header X-RateLimit-Remaining"
    assert finding.message == "missing from the real answer, sent by the mock"
    # every GraphQL answer to a valid token carries the header: those probes, and no other
    limited = [o.probe.name for o in report.outcomes
               if o.mock is not None and "x-ratelimit-remaining" in o.mock.headers]
    assert finding.probes == limited
    assert {"introspection", "flows list", "query missing",
            "query, body over the limit"} <= set(limited)
    assert not {"query, no token", "token, wrong code", "unknown route"} & set(limited)


# -- what CI reads -------------------------------------------------------------------------------
def test_the_json_and_junit_reports_list_the_groove_probes(upstream, tmp_path):
    url, _, _ = upstream
    given = {"accessToken": access_token(url), "salesforceId": ADA}
    report = verify(url, given)
    json_path, xml_path = write(report, tmp_path, Scrub([given["accessToken"]]))
    names = [p.name for p in groove_verify.probes()]
    doc = json.loads(json_path.read_text())
    assert doc["vendor"] == "groove" and doc["exitCode"] == 0
    assert [p["name"] for p in doc["probes"]] == names
    suite = ET.parse(xml_path).getroot()
    assert [c.get("name") for c in suite.iter("testcase")] == names
    assert {c.get("name") for c in suite.iter("testcase") if c.find("skipped") is not None} \
        == {"token, wrong client secret", "token, wrong code", "token, wrong refresh token",
            WRITE}
