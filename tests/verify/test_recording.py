"""`serve --record-dir`: recorded exchanges become fixtures the mock loads.

The "real API" is a mockserver whose data differs from the bundled fixtures (its own fixtures
folder, a snapshot with a connection of its own, a push it sent), holding planted personal data
and credentials. It keeps what Gravy's generator draws from (seed, counts, the integrations and
their resources), so its generated connections are the extras the recorded mock keeps: its whole
connection list comes back. Its answers to each vendor's learnable reads, recorded into a fresh
folder, make a mock (`create_app(fixtures=DIR)`) that answers the same requests the same way,
with the planted data replaced by stand-ins; nothing planted reaches a file. Contract breaks,
writes, non-2xx answers and corrupt files are refused in one line or ignored, as
mockserver/verify/recording.py says.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mockserver import create_app
from mockserver.core.paths import data_dir
from mockserver.core.probe import Answer, Exchange
from mockserver.core.state import export
from mockserver.verify.recording import (Recording, scrub, stand_in_address, stand_in_email,
                                         stand_in_name, stand_in_phone)

from ..conftest import MockClient
from .upstream import serve

EMAIL = "zelda.quartermain@realmail.test"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6ZWxkYSJ9.c2lnbmF0dXJlc2ln"
SECRET_KEY = "sk_live_51PlantedSecretValue"
# Every planted value and what a recording must write in its place.
STAND_INS = {
    EMAIL: stand_in_email(EMAIL),
    "help@realmail.test": stand_in_email("help@realmail.test"),
    "Zelda Quartermain": stand_in_name("Zelda Quartermain"),
    "Ada Lovelace": stand_in_name("Ada Lovelace"),
    "ada@example.com": stand_in_email("ada@example.com"),
    "+1 (415) 555-2671": stand_in_phone("+1 (415) 555-2671"),
    "415-555-2671": stand_in_phone("415-555-2671"),
    "12 Quarry Lane": stand_in_address("12 Quarry Lane"),
    "Springfield": stand_in_address("Springfield"),
    SECRET_KEY: "redacted",
    JWT: "redacted",
    "token=plantedtoken123": "token=redacted",
}
# What the upstream holds and no recorded file may (case-insensitive); the bundled fixtures'
# own sample people (Ada Lovelace) are in the folder the recording started from.
NEVER = ("zelda", "quartermain", "realmail", "555-2671", "sk_live_", "eyJhbGci",
         "plantedtoken123", "quarry", "springfield")

GRAVY_CREDENTIALS = {"grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
                     "client_secret": "gravy-sandbox-secret"}
GROOVE_CLIENT = {"client_id": "groove-sandbox-client", "client_secret": "groove-sandbox-secret",
                 "redirect_uri": "http://localhost:3000/oauth/callback"}
INTEGRY_KEY, INTEGRY_SECRET, INTEGRY_USER = ("002d4f23-778a-11e7-bf2a-42010a8002c7",
                                             "integry-sandbox-secret", "123456")
GRAVITEC_AUTH = ("1e26f7bb3f81e1ab789d3e20b9cf6325", "9bb59fcbff38b85647c421c65cca06ce")
PLANTED_CONNECTION = "conn_planted000001"
ZELDA_SF, ADA_SF = "0035e00000Plnt01AAA", "0035e00000Ada001AAA"


# -- the upstream: a mockserver with data of its own ---------------------------------------------
def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _upstream_fixtures(root: Path) -> None:
    shutil.copytree(data_dir("fixtures"), root)

    def integrations(doc):  # as many, with the same resources: the same generated connections
        spotify = next(i for i in doc["integrations"] if i["slug"] == "spotify")
        spotify["description"] = "Listening history. Support: help@realmail.test"
        spotify["logoUrl"] = "https://assets.example.invalid/spotify.png?token=plantedtoken123"

    def groove(doc):
        doc["people"].append({"id": "51", "name": "Zelda Quartermain", "emailAddress": EMAIL,
                              "salesforceId": ZELDA_SF})
        doc["flows"][1]["name"] = f"Inbound Follow-up for {EMAIL}"
        doc["flows"].append({**doc["flows"][1], "id": "1004", "name": "Planted flow",
                             "description": f"Ask +1 (415) 555-2671 or {EMAIL}",
                             "steps": 2, "labelInstances": 1})

    def apps(doc):
        doc["documented"].append({"id": 31337, "name": "zz-planted", "title": "ZZ Planted",
                                  "icon_url": "https://icons.example.invalid/zz.png"
                                              "?token=plantedtoken123", "docs_url": ""})
        next(a for a in doc["documented"] if a["name"] == "slack")["title"] = "Slack (upstream)"

    def functions(doc):
        doc["documented"].append({
            "name": "zz-planted-list-things", "app": "zz-planted", "type": "QUERY",
            "description": "List things. Support: help@realmail.test",
            "parameters": {"type": "object", "properties": {
                "email": {"type": "string", "description": "Whose things."}},
                "required": []}})
        doc["documented"][0]["description"] = "Create a company, as upstream says."

    _edit(root / "gravy" / "integrations.json", integrations)
    _edit(root / "groove" / "fixtures.json", groove)
    _edit(root / "integry" / "apps.json", apps)
    _edit(root / "integry" / "functions.json", functions)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    root = tmp_path_factory.mktemp("upstream") / "fixtures"
    _upstream_fixtures(root)
    source = create_app(fixtures=root)
    state = export(source.tenants.default, source.vendors)
    first = state["vendors"]["gravy"]["connections"][0]
    state["vendors"]["gravy"]["connections"].append({
        **copy.deepcopy(first), "id": PLANTED_CONNECTION, "userId": EMAIL,
        "connectionMetadata": {"customerName": "Zelda Quartermain", "phone": "+1 (415) 555-2671",
                               "apiToken": SECRET_KEY,
                               "note": f"call 415-555-2671, ask for {EMAIL}",
                               "address": {"street": "12 Quarry Lane", "city": "Springfield"}},
        "errorDetails": {"session": JWT}})
    with serve(create_app(fixtures=root, state=state)) as url:
        yield url


@pytest.fixture(scope="module")
def bundled():
    """The server a recording runs in: the bundled fixtures, which the folder starts from."""
    return create_app()


def redacted(value: Any) -> Any:
    """The upstream's answer as a recording must serve it back: planted values replaced."""
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    if isinstance(value, str):
        for raw, stand_in in STAND_INS.items():
            value = value.replace(raw, stand_in)
    return value


def untimed(body: Any) -> Any:
    """Without the answer's own time (Gravy's envelope `timestamp`)."""
    return {k: v for k, v in body.items() if k != "timestamp"} if isinstance(body, dict) else body


# -- calling either side ---------------------------------------------------------------------
class Side:
    """One vendor's calls to one side (the upstream over HTTP, or the recorded mock in process),
    each kept as the Exchange `serve --record` would hand over."""

    def __init__(self, client: Any, vendor: str) -> None:
        self.client, self.vendor = client, vendor
        self.exchanges: list[Exchange] = []

    def call(self, method: str, path: str, query: str = "", body: Any = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> httpx.Response:
        content = raw if raw is not None else json.dumps(body).encode() if body is not None \
            else b""
        headers = {**({"content-type": "application/json"} if body is not None else {}),
                   **(headers or {})}
        url = f"/{self.vendor}{path}" + (f"?{query}" if query else "")
        r = self.client.request(method, url, content=content, headers=headers)
        self.exchanges.append(Exchange(
            self.vendor, method, path, query, {k.lower(): v for k, v in headers.items()},
            content, Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()},
                            r.content)))
        return r


def record(root: Path, server: Any, exchanges: list[Exchange]) -> list[str]:
    recording = Recording(root, server)
    return [line for e in exchanges for line in recording.add(e)]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def assert_nothing_planted(root: Path) -> None:
    for name, data in files(root).items():
        text = data.decode("utf-8", "replace").lower()
        assert not [s for s in NEVER if s in text], name
        assert not name.endswith(".tmp") and "/." not in f"/{name}", name  # no temp file left


def replayed(root: Path, upstream: str, vendor: str) -> Side:
    return Side(MockClient(create_app(fixtures=root), base_url=upstream), vendor)


# -- each vendor's round trip ------------------------------------------------------------------
def gravy_reads(side: Side) -> None:
    token = side.call("POST", "/oauth/token", body=GRAVY_CREDENTIALS).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    side.exchanges.clear()
    for path, query in (("/integrations", ""), ("/integrations/spotify", ""),
                        ("/automation/integrations", ""), ("/connections", "limit=100&page=1"),
                        ("/connections", "limit=100&page=2"),
                        (f"/connections/{PLANTED_CONNECTION}", ""),
                        ("/connections/conn_789xyz123abc", "")):
        assert side.call("GET", path, query, headers=auth).status_code == 200


def groove_reads(side: Side) -> None:
    r = side.client.request("GET", "/groove/oauth/authorize", params={
        "client_id": GROOVE_CLIENT["client_id"], "redirect_uri": GROOVE_CLIENT["redirect_uri"],
        "scope": "first-scope", "state": "s"})
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    token = side.call("POST", "/oauth/token", body={
        "grant_type": "authorization_code", "code": code, **GROOVE_CLIENT}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    side.exchanges.clear()
    page = "pageInfo { hasNextPage hasPreviousPage }"
    flows = ("{ flows { id name description userId finalized isMasterFlow autoImportAssignOwner "
             "autoImportId removePersonAfterBounce removePersonAfterReply sfdcCampaignId "
             f"steps(first: 100) {{ nodes {{ id name dayNumber }} {page} }} "
             f"labelInstances(first: 100) {{ edges {{ cursor node {{ id }} }} {page} }} }} }}")
    person = ("query($sf: String!) { findPersonBySalesforceId(salesforceId: $sf) "
              "{ id name emailAddress } }")
    fragment = ('query One { planted: flow(id: "1004") { ...F } other: flow(id: "1002") '
                '{ title: name } } fragment F on Flow { name description }')
    for body in ({"query": flows}, {"query": person, "variables": {"sf": ZELDA_SF}},
                 {"query": person, "variables": {"sf": ADA_SF}},
                 {"query": fragment, "operationName": "One"}):
        r = side.call("POST", "/api/public/v1/graphql", body=body, headers=auth)
        assert r.status_code == 200 and "errors" not in r.json(), r.text


def integry_headers() -> dict[str, str]:
    digest = hmac.new(INTEGRY_SECRET.encode(), INTEGRY_USER.encode(), hashlib.sha256).hexdigest()
    return {"App-Key": INTEGRY_KEY, "User-ID": INTEGRY_USER, "Hash": digest}


def integry_reads(side: Side) -> None:
    for path, query in (("/apps/list", ""), ("/functions/list", "include=meta")):
        cursor = None
        while True:
            r = side.call("POST", path, query, body={"_cursor": cursor} if cursor else {},
                          headers=integry_headers())
            assert r.status_code == 200, r.text
            cursor = r.json()["_cursor"]
            if cursor is None:
                break
    for path, query in (("/apps/zz-planted/get", ""), ("/apps/slack/get", ""),
                        ("/functions/zz-planted-list-things/get", ""),
                        ("/functions/list", ""), ("/functions/list", "app=zz-planted")):
        assert side.call("POST", path, query, body={}, headers=integry_headers()) \
            .status_code == 200


def gravitec_auth() -> str:
    return "Basic " + base64.b64encode(":".join(GRAVITEC_AUTH).encode()).decode()


def gravitec_reads(side: Side, campaign: str) -> None:
    auth = gravitec_auth()
    for path, query in ((f"/api/v3/messages/{campaign}", ""),
                        ("/api/v3/messages", f"campaignID={campaign}")):
        assert side.call("GET", path, query, headers={"Authorization": auth}).status_code == 200


READS = {"gravy": gravy_reads, "groove": groove_reads, "integry": integry_reads}


@pytest.mark.parametrize("vendor", sorted(READS))
def test_recorded_answers_come_back_from_the_recorded_fixtures(upstream, bundled, tmp_path,
                                                               vendor):
    real = Side(httpx.Client(base_url=upstream), vendor)
    READS[vendor](real)
    assert record(tmp_path, bundled, real.exchanges) == []
    mock = replayed(tmp_path, upstream, vendor)
    READS[vendor](mock)
    assert len(mock.exchanges) == len(real.exchanges)
    for was, now in zip(real.exchanges, mock.exchanges):
        assert now.answer.status == was.answer.status, (was.path, now.answer.body[:300])
        assert untimed(json.loads(now.answer.body)) == redacted(untimed(json.loads(
            was.answer.body))), (was.path, was.query)
    assert_nothing_planted(tmp_path)


def test_recorded_campaign_stats_come_back_as_documented_messages(upstream, bundled, tmp_path):
    real = Side(httpx.Client(base_url=upstream), "gravitec")
    auth = {"Authorization": gravitec_auth()}
    push = json.loads((data_dir("fixtures") / "gravitec" / "documented" /
                       "push.request.json").read_text())
    sent = real.call("POST", "/api/v3/push", body=push, headers=auth)
    campaign = str(sent.json()["id"])
    gravitec_reads(real, campaign)
    before = files(data_dir("fixtures") / "gravitec")
    assert record(tmp_path, bundled, real.exchanges) == []   # the push itself: not learned
    mock = replayed(tmp_path, upstream, "gravitec")
    gravitec_reads(mock, campaign)
    assert [json.loads(e.answer.body) for e in mock.exchanges] == \
        [json.loads(e.answer.body) for e in real.exchanges[1:]]
    recorded = files(tmp_path / "gravitec")
    changed = {k for k in recorded if before.get(k) != recorded[k]}
    assert changed == {"sites.json", f"documented/recorded-message-{campaign}.json"}


# -- what is not learned -----------------------------------------------------------------------
def _exchange(vendor: str, method: str, path: str, status: int, body: Any,
              request: Any = None, query: str = "") -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange(vendor, method, path, query, {"content-type": "application/json",
                                                  "authorization": "Bearer secret-token"},
                    json.dumps(request).encode() if request is not None else b"",
                    Answer(status, {"content-type": "application/json"}, raw))


@pytest.fixture
def started(tmp_path, bundled) -> Recording:
    """A recording whose folder was made (by an exchange it ignores)."""
    recording = Recording(tmp_path, bundled)
    assert recording.add(_exchange("gravy", "GET", "/connections/none", 404,
                                   {"statusCode": 404})) == []
    return recording


def test_the_first_use_copies_the_fixtures_the_server_runs_on(started, tmp_path):
    assert files(tmp_path) == files(data_dir("fixtures"))


NOT_LEARNED = {
    "a 404": _exchange("gravy", "GET", "/integrations/nope", 404,
                       {"statusCode": 404, "message": "Integration nope not found"}),
    "a 500": _exchange("integry", "POST", "/apps/list", 500, {"detail": "oops"}),
    "an intent token": _exchange("gravy", "POST", "/intent-token", 201, {"intentToken": "x"},
                                 {"integrationId": "spotify"}),
    "a push": _exchange("gravitec", "POST", "/api/v3/push", 200, {"id": 7},
                        {"payload": {"message": "hi"}}),
    "a function call": _exchange("integry", "POST", "/functions/slack-post-message/call", 200,
                                 {"network_code": 200, "output": {}}, {"channel": "random"}),
    "a mutation": _exchange(
        "groove", "POST", "/api/public/v1/graphql", 200,
        {"data": {"addPersonToFlow": {"personFlow": {"flow": {"id": "1001", "name": "New"}}}}},
        {"query": 'mutation { addPersonToFlow(input: {flowId: "1001", personId: "1"}) '
                  '{ personFlow { flow { id name } } } }'}),
    "a query with errors": _exchange(
        "groove", "POST", "/api/public/v1/graphql", 200,
        {"data": {"flow": {"id": "1001", "name": "Renamed"}},
         "errors": [{"message": "partly", "extensions": {"code": "x"}}]},
        {"query": '{ flow(id: "1001") { id name } }'}),
    "a resource page": _exchange("gravy", "GET", "/connections/conn_789xyz123abc/trips", 200,
                                 {"data": [], "meta": {}, "timestamp": "", "version": "v1"}),
}


@pytest.mark.parametrize("name", sorted(NOT_LEARNED))
def test_writes_and_refusals_are_not_learned(started, tmp_path, name):
    before = files(tmp_path)
    assert started.add(NOT_LEARNED[name]) == []
    assert files(tmp_path) == before


def test_an_answer_that_breaks_its_contract_is_refused_in_one_line(started, tmp_path):
    before = files(tmp_path)
    problems = started.add(_exchange("gravy", "GET", "/connections/conn_x", 200,
                                     {"id": 5, "status": "connected"}))
    assert len(problems) == 1 and "\n" not in problems[0]
    assert "contracts/gravy/connection.json" in problems[0] and "at /" in problems[0]
    assert files(tmp_path) == before


def test_a_corrupt_fixture_file_is_one_line(started, tmp_path, bundled):
    (tmp_path / "gravy" / "integrations.json").write_text('{"integrations": [')
    answer = MockClient(bundled).get("/gravy/integrations/spotify")
    problems = started.add(_exchange("gravy", "GET", "/integrations/spotify", 200,
                                     answer.content))
    assert len(problems) == 1 and "gravy/integrations.json is no JSON" in problems[0]
    assert "Traceback" not in problems[0]


def test_bad_input_of_any_kind_is_a_line_not_an_exception(started):
    assert started.add(_exchange("nobody", "GET", "/x", 200, {})) == \
        ["nobody GET /x: not learned: no vendor 'nobody'"]
    assert started.add(object()) == ["an exchange that is no Exchange: not learned"]
    odd = _exchange("groove", "POST", "/api/public/v1/graphql", 200,
                    {"data": {"flow": {"id": "1001", "finalized": "yes"}}},
                    {"query": '{ flow(id: "1001") { id finalized } }'})
    [line] = started.add(odd)
    assert "Flow.finalized" in line


# -- merging -----------------------------------------------------------------------------------
def _integration(bundled, slug: str, **change: Any) -> Exchange:
    body = {**MockClient(bundled).get(f"/gravy/integrations/{slug}").json(), **change}
    return _exchange("gravy", "GET", f"/integrations/{slug}", 200, body)


def test_an_item_recorded_again_replaces_the_earlier_one_and_the_others_stay(started, tmp_path,
                                                                          bundled):
    assert started.add(_integration(bundled, "spotify", description="first")) == []
    assert started.add(_integration(bundled, "airbnb", description="kept")) == []
    assert started.add(_integration(bundled, "spotify", description="second")) == []
    recorded = json.loads((tmp_path / "gravy" / "integrations.json").read_text())["recorded"]
    assert [(i["slug"], i["description"]) for i in recorded] == [("spotify", "second"),
                                                                 ("airbnb", "kept")]
    served = MockClient(create_app(fixtures=tmp_path)).get("/gravy/integrations").json()
    bundled_list = MockClient(bundled).get("/gravy/integrations").json()
    assert [i["slug"] for i in served] == [i["slug"] for i in bundled_list]
    assert {i["slug"]: i["description"] for i in served if i["slug"] in ("spotify", "airbnb")} \
        == {"spotify": "second", "airbnb": "kept"}


def test_a_groove_answer_teaches_the_fields_it_shows_and_the_rest_keep_theirs(started, tmp_path):
    renamed = _exchange("groove", "POST", "/api/public/v1/graphql", 200,
                        {"data": {"f": {"title": "Renamed upstream"}}},
                        {"query": 'query($id: ID!) { f: flow(id: $id) { title: name } }',
                         "variables": {"id": 1001}})
    partial = _exchange("groove", "POST", "/api/public/v1/graphql", 200,   # 2 of 60 steps
                        {"data": {"flow": {"steps": {"nodes": [
                            {"id": "1", "name": "a", "dayNumber": "1"},
                            {"id": "2", "name": "b", "dayNumber": "2"}]}}}},
                        {"query": '{ flow(id: "1001") { steps(first: 2) { nodes '
                                  '{ id name dayNumber } } } }'})
    assert started.add(renamed) == [] and started.add(partial) == []
    app = create_app(fixtures=tmp_path)
    template, pristine = app.vendors["groove"].template, create_app().vendors["groove"].template
    flow, before = template.flows["1001"], pristine.flows["1001"]
    assert flow.name == "Renamed upstream"
    assert (flow.description, flow.steps, flow.labelInstances) == \
        (before.description, before.steps, before.labelInstances)


def test_the_generated_extras_stay_unless_a_recorded_id_takes_theirs(started, tmp_path,
                                                                   bundled):
    catalogue = {a["name"]: a for a in bundled.vendors["integry"].template.apps}
    victim = catalogue["activecampaign"]          # a generated app
    app = {**MockClient(bundled).post("/integry/apps/slack/get",
                                      headers=integry_headers()).json(), "id": victim["id"]}
    assert started.add(_exchange("integry", "POST", "/apps/slack/get", 200, app)) == []
    person = _exchange("groove", "POST", "/api/public/v1/graphql", 200,
                       {"data": {"p": {"id": "3", "name": "Grace Upstream",
                                       "emailAddress": "grace@upstream.test"}}},
                       {"query": '{ p: findPersonBySalesforceId(salesforceId: "0035eNEW") '
                                 '{ id name emailAddress } }'})
    assert started.add(person) == []
    client = MockClient(bundled)
    token = client.post("/gravy/oauth/token", json=GRAVY_CREDENTIALS).json()["access_token"]
    connection = client.get("/gravy/connections/conn_789xyz123abc",
                            headers={"Authorization": f"Bearer {token}"}).json()
    assert started.add(_exchange("gravy", "GET", "/connections/conn_new", 200,
                                 {**connection, "id": "conn_new"})) == []

    app_now = create_app(fixtures=tmp_path)
    apps = {a["name"]: a for a in app_now.vendors["integry"].template.apps}
    assert apps["slack"]["id"] == victim["id"]
    assert apps["activecampaign"]["id"] not in (victim["id"], catalogue["slack"]["id"])
    assert {n: a for n, a in apps.items() if n not in ("slack", "activecampaign")} == \
        {n: a for n, a in catalogue.items() if n not in ("slack", "activecampaign")}
    people = app_now.vendors["groove"].template.people
    before = bundled.vendors["groove"].template.people
    assert people["3"].name == stand_in_name("Grace Upstream")
    assert people["3"].emailAddress == stand_in_email("grace@upstream.test")
    assert {k: p for k, p in people.items() if k != "3"} == \
        {k: p for k, p in before.items() if k != "3"}
    ids = [c.id for c in app_now.vendors["gravy"].template.connections]
    assert ids == [c.id for c in bundled.vendors["gravy"].template.connections] + ["conn_new"]


def test_an_unknown_function_app_is_one_line(started, tmp_path):
    fn = {"name": "nowhere-do-it", "description": "d",
          "parameters": {"type": "object", "properties": {}, "required": []}}
    [line] = started.add(_exchange("integry", "POST", "/functions/list", 200,
                                   {"functions": [fn], "_cursor": None}))
    assert "nowhere-do-it" in line and "include=meta" in line
    assert "recorded" not in json.loads((tmp_path / "integry" / "functions.json").read_text())


# -- redaction ---------------------------------------------------------------------------------
def test_stand_ins_are_deterministic_and_stay_stand_ins():
    assert stand_in_name("Zelda Quartermain") == stand_in_name("Zelda Quartermain") != \
        stand_in_name("Ada Lovelace")
    email = stand_in_email(EMAIL)
    assert re.fullmatch(r"person-[0-9a-f]{10}@example\.com", email)
    assert stand_in_email(email) == email and stand_in_email(EMAIL.upper()) == email
    assert stand_in_phone(stand_in_phone("415-555-2671")) == stand_in_phone("415-555-2671")


def test_scrub_replaces_credentials_and_personal_data_but_not_schemas():
    value = {"accessToken": "abc", "token_type": "Bearer", "email": EMAIL, "limit": 5,
             "properties": {"email": {"type": "string"}, "token": {"type": "string"}},
             "text": f"Bearer abcdefghij1234 for {EMAIL}, {JWT}", "createdAt": "2024-01-15",
             "url": "https://x.example/?a=1&api_key=zzz&b=2", "customerName": "Zelda"}
    assert scrub(value) == {
        "accessToken": "redacted", "token_type": "Bearer", "email": stand_in_email(EMAIL),
        "limit": 5, "properties": {"email": {"type": "string"}, "token": {"type": "string"}},
        "text": f"Bearer redacted for {stand_in_email(EMAIL)}, redacted",
        "createdAt": "2024-01-15", "url": "https://x.example/?a=1&api_key=redacted&b=2",
        "customerName": stand_in_name("Zelda")}
    assert scrub({"ownerName": "Zelda"}) == {"ownerName": stand_in_name("Zelda")}
    assert scrub({"integrationName": "Airbnb"}) == {"integrationName": "Airbnb"}
    assert scrub({"integrationName": "Airbnb"}, loose=True) != {"integrationName": "Airbnb"}


@pytest.mark.parametrize("vendor", sorted(READS))
def test_serve_record_with_a_record_dir_round_trips(upstream, tmp_path, vendor):
    """End to end: a client's reads go through `serve --record VENDOR=URL --record-dir DIR`;
    a mock started on DIR then answers the same reads as the client got them (redacted)."""
    from .test_record import Through

    through = Through(create_app(record={vendor: f"{upstream}/{vendor}"}, record_dir=tmp_path))
    try:
        real = Side(through, vendor)
        READS[vendor](real)
        recorded = through.recorded()
    finally:
        through.close()
    assert len(recorded) >= len(real.exchanges)         # the reads, journaled as recorded
    assert {e["kind"] for e in recorded} == {"recorded"}
    mock = replayed(tmp_path, upstream, vendor)
    READS[vendor](mock)
    for was, now in zip(real.exchanges, mock.exchanges):
        assert now.answer.status == was.answer.status, (was.path, now.answer.body[:300])
        assert untimed(json.loads(now.answer.body)) == redacted(untimed(json.loads(
            was.answer.body))), (was.path, was.query)
    assert_nothing_planted(tmp_path)
