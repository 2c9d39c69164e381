"""The documented examples: stored verbatim, valid against the contracts, served back."""
import json
import os
import re
from collections.abc import Mapping

import pytest

from mockserver.core.contracts import load

from ..conftest import vendor_doc
from .conftest import DOCUMENTED, RESOURCES as RESOURCE_HOLDERS, documented

VENDOR_DOC = vendor_doc("gravy-connect.txt")
RESOURCES = ["account-info", "balances", "billing-statements", "history", "loyalty",
             "payment-methods", "reading-history", "trips"]
NAMES = [f"{r}.list" for r in RESOURCES] + [
    "intent-token.request", "intent-token.response", "connections.list", "connection",
    "integrations.list", "integration", "oauth-token.request", "oauth-token.response"]
SCHEMAS = {f"{r}.list": f"{r}.list.response.json" for r in RESOURCES} | {
    "intent-token.request": "intent-token.request.json",
    "intent-token.response": "intent-token.response.json",
    "connections.list": "connections.list.response.json", "connection": "connection.json",
    "integrations.list": "integrations.list.response.json", "integration": "integration.json",
    "oauth-token.request": "oauth-token.request.json",
    "oauth-token.response": "oauth-token.response.json"}


def doc_examples(text: str) -> list:
    """The JSON examples of the Redoc page, in page order ("{- " opens one; "- " marks items)."""
    # The page cuts the intent-token request example off after its last key.
    text = text.replace('- "returnUrl": "string",\n}', '- "returnUrl": "string"\n}')
    marked = re.sub(r"([\[{])- ", lambda m: "\x00" + m.group(1), text)
    clean = re.sub(r"(?m)(^|[\[{,]\s*)- ", r"\1", marked)
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(chunk)[0] for chunk in clean.split("\x00")[1:]]


def under_ci(env: Mapping[str, str]) -> bool:
    """CI=true, as CI services set it (1, yes and on count too; false, 0 and empty do not)."""
    return env.get("CI", "").strip().lower() in ("true", "1", "yes", "on")


def missing_input(reason: str, env: Mapping[str, str] | None = None) -> None:
    """Skip locally, where the input may well be absent; fail under CI, where a skip would
    silently drop the check."""
    if under_ci(os.environ if env is None else env):
        pytest.fail(f"{reason} (and CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.mark.parametrize("value, ci", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                       ("false", False), ("0", False), ("", False), (None, False)])
def test_missing_input_fails_under_ci_and_skips_locally(value, ci):
    env = {} if value is None else {"CI": value}
    assert under_ci(env) is ci
    with pytest.raises(pytest.fail.Exception if ci else pytest.skip.Exception, match="no docs"):
        missing_input("no docs", env)


def test_fixtures_are_the_documented_examples_verbatim():
    if VENDOR_DOC is None:
        missing_input("the vendor docs (shared/vendor-docs/gravy-connect.txt) are not above "
                      "this checkout")
    examples = doc_examples(VENDOR_DOC.read_text())
    assert len(examples) == len(NAMES)
    for name, ex in zip(NAMES, examples):
        assert documented(name) == ex, name


def test_every_documented_example_is_stored():
    assert sorted(p.stem for p in DOCUMENTED.glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_documented_example_satisfies_its_contract(name):
    load().check("gravy", SCHEMAS[name], documented(name))


def test_documented_token_request_gets_the_documented_response(client):
    r = client.post("/gravy/oauth/token", json=documented("oauth-token.request"))
    assert r.status_code == 200
    assert r.json() == documented("oauth-token.response")


def test_documented_intent_request_is_accepted_with_the_documented_shape(client, auth):
    r = client.post("/gravy/intent-token", json=documented("intent-token.request"), headers=auth)
    assert r.status_code == 201
    want = documented("intent-token.response")
    got = r.json()
    assert list(got) == list(want)
    assert list(got["branding"]) == list(want["branding"])
    assert got["debug"] is want["debug"]


def test_documented_intent_request_gets_the_documented_branding(client, auth):
    """The doc pairs its `audible` request with Airbnb's branding: that request gets it; the
    same integration asked for in any other words gets its own."""
    r = client.post("/gravy/intent-token", json=documented("intent-token.request"), headers=auth)
    assert r.json()["branding"] == documented("intent-token.response")["branding"]
    other = {**documented("intent-token.request"), "returnUrl": "https://example.com/back"}
    r = client.post("/gravy/intent-token", json=other, headers=auth)
    assert r.json()["branding"]["integrationName"] == "Audible"


def test_documented_meta_of_the_connections_list(client, auth):
    body = client.get("/gravy/connections?page=1&limit=20", headers=auth).json()
    assert body["meta"] == documented("connections.list")["meta"]
    assert list(body["data"][0]) == list(documented("connection"))


def test_documented_integration_resource_is_served(client):
    doc_resource = documented("integration")["resources"][0]
    audible = client.get("/gravy/integrations/audible").json()
    # the documented resource, plus the resourceType the web SDK reads
    served = [{k: v for k, v in r.items() if k != "resourceType"} for r in audible["resources"]]
    assert doc_resource in served
    assert list(audible) == list(documented("integration"))


# -- every documented request and its documented answer, one test each -------------------------
# The page's samples: each resource list (the first of 20 items shown), the OAuth token, the
# intent token (its token, connection id and short code minted), and the connection and
# integration samples, which are the schema's placeholders ("string"): those are answered with
# real values in the sample's keys and order (docs/fidelity.md).
MINTED = {"intent-token.response": ("intentToken", "connectionId", "shortToken")}
PLACEHOLDER_SAMPLES = ("connections.list", "connection", "integrations.list", "integration")
CONNECTION = "conn_789xyz123abc"


def _fits(got, sample, where: str = "") -> None:
    """`got` has the sample's keys in its order, recursively (plus the `resourceType` the web
    SDK reads beside a resource's `name`); a placeholder string stands for any string (or
    null, a value not there yet); other values are the sample's type."""
    if isinstance(sample, dict):
        assert isinstance(got, dict), where
        assert [k for k in got if k in sample] == list(sample), where
        assert set(got) - set(sample) <= {"resourceType"}, where
        for k, v in sample.items():
            if k == "operations":  # each resource's own JSON Schemas (the sample shows one)
                assert isinstance(got[k], dict), where
            else:
                _fits(got[k], v, f"{where}/{k}")
    elif isinstance(sample, list):
        assert isinstance(got, list), where
        for item in got if sample else []:
            _fits(item, sample[0], f"{where}[]")
    elif isinstance(sample, str):
        assert got is None or isinstance(got, str), where
    else:
        assert type(got) is type(sample), where


def _pairs() -> list[tuple[str, str, str, dict | None]]:
    """(answer's name, method, URL, JSON body) of each documented request."""
    lists = [(f"{r}.list", "GET", f"/gravy/connections/{RESOURCE_HOLDERS[r]}/{r}?page=1&limit=20",
              None) for r in RESOURCES]
    return lists + [
        ("oauth-token.response", "POST", "/gravy/oauth/token", "oauth-token.request"),
        ("intent-token.response", "POST", "/gravy/intent-token", "intent-token.request"),
        ("connections.list", "GET", "/gravy/connections?page=1&limit=20", None),
        ("connection", "GET", f"/gravy/connections/{CONNECTION}", None),
        ("integrations.list", "GET", "/gravy/integrations", None),
        ("integration", "GET", "/gravy/integrations/audible", None),
    ]


@pytest.mark.parametrize("name, method, url, body", _pairs(), ids=[p[0] for p in _pairs()])
def test_every_documented_request_gets_its_documented_answer(client, auth, name, method, url,
                                                             body):
    r = client.request(method, url, headers=auth,
                       json=None if body is None else documented(body))
    assert r.status_code in (200, 201), r.text
    got, sample = r.json(), documented(name)
    if name.endswith(".list") and name not in PLACEHOLDER_SAMPLES:
        assert {**got, "data": got["data"][:1]} == sample   # 20 items; the doc shows the first
        assert len(got["data"]) == sample["meta"]["itemCount"]
    elif name in PLACEHOLDER_SAMPLES:
        _fits(got, sample)
        if name == "connections.list":
            assert {k: got[k] for k in ("meta", "timestamp", "version")} == \
                {k: sample[k] for k in ("meta", "timestamp", "version")}
        if name == "integration":  # its one real value: the documented resource, verbatim
            resources = [{k: v for k, v in res.items() if k != "resourceType"}
                         for res in got["resources"]]
            assert sample["resources"][0] in resources
    else:
        for key in MINTED.get(name, ()):
            assert isinstance(got.pop(key), str) and sample.pop(key)
        assert got == sample
