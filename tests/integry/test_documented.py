"""The documented sample calls, sent as the doc's curls (its own Hash header), get the documented
responses; the documented functions stored in fixtures/integry are the doc's JSON verbatim."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ..gravy.test_documented import missing_input
from .conftest import APP_KEY, DOC_HASH, USER_ID
from .support import Curl, curls, doc_path, responses

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "integry"
HOST = "https://api.integry.io"
DOC_HEADERS = {"Content-Type": "application/json", "App-Key": APP_KEY, "Hash": DOC_HASH,
               "User-ID": USER_ID}
# The doc's sample calls, as its curls send them (the test below checks they are the page's).
PREDICT_BODY = ('{\n      "prompt": "Send a message on Slack on random that contact just signed '
                'up! Include the contact\'s details.",\n      "_variables": {\n         '
                '"first_name":"John",\n         "last_name":"Doe"\n      }\n }')
CALL_BODY = ('{\n    "channel": "random",\n    "text": "{first_name} {last_name} just signed '
             'up!",\n    "_variables": {\n        "first_name": "John",\n        "last_name": '
             '"Doe"\n     }\n}')
AUTH_EXAMPLE = Curl("POST", f"{HOST}/functions/slack-post-message/call/", DOC_HEADERS,
                    '{"channel":"random",\n     "text":"Hello, there!",\n    }')
APPS_LIST = Curl("POST", f"{HOST}/apps/list/", DOC_HEADERS, "{}")
APPS_GET = Curl("POST", f"{HOST}/apps/slack/get/", DOC_HEADERS, None)
FUNCTIONS_LIST = Curl("POST", f"{HOST}/functions/list/?app=hubspot&type=ACTION", DOC_HEADERS,
                      "{}")
PREDICT = Curl("POST", f"{HOST}/functions/predict/?predict_arguments=true", DOC_HEADERS,
               PREDICT_BODY)
FUNCTIONS_GET = Curl("POST", f"{HOST}/functions/slack-post-message/get/", DOC_HEADERS,
                     '{ "prompt": "prompt-goes-here", "_variables": {} }')
CALL = Curl("POST", f"{HOST}/functions/slack-post-message/call/", DOC_HEADERS, CALL_BODY)
SAMPLES = [AUTH_EXAMPLE, APPS_LIST, APPS_GET, FUNCTIONS_LIST, PREDICT, FUNCTIONS_GET, CALL]
ICON = "https://storage.googleapis.com/app-services-prod--bucket/public/{}.png"
DOCUMENTED_APPS = [
    {"id": 410, "name": "pipedrive", "title": "Pipedrive",
     "icon_url": ICON.format("c07f082e-33d2-499f-b67a-d98722ab367b"), "docs_url": "",
     "connected_accounts": [{"id": 247714, "display_name": "663----------8b1",
                             "modified_at": "2024-11-10T23:28:58Z"}]},
    {"id": 24514, "name": "4me", "title": "4me",
     "icon_url": ICON.format("0d80bd3a-8207-426d-80e8-8aa75f5db662"), "docs_url": "",
     "connected_accounts": []},
    {"id": 118, "name": "accelo", "title": "Accelo",
     "icon_url": ICON.format("e36d9d8c-8188-40e9-9fbf-9f4b5433e4ee"), "docs_url": "",
     "connected_accounts": []},
]
SLACK = {"id": 491, "name": "slack", "title": "Slack",
         "icon_url": ICON.format("c53aa5ce-1ced-48cb-98cc-8859eb8bf85d"), "docs_url": "",
         "connected_accounts": []}
MOCK_KEYS = {"login_url", "allow_multiple_connected_accounts"}  # the Python SDK's app model


@pytest.fixture(scope="module")
def doc() -> str:
    path = doc_path()
    if path is None:
        missing_input("shared/vendor-docs/integry.txt is not beside this checkout")
    return path.read_text()


@pytest.fixture(scope="module")
def documented(doc) -> dict[str, Any]:
    """The doc's sample responses by operation."""
    found = responses(doc)
    assert len(found) == 6
    return dict(zip(["apps.list", "apps.get", "functions.list", "predict", "functions.get",
                     "call"], found))


def send(client, curl: Curl):
    return client.request(curl.method, curl.url, headers=curl.headers,
                          content=None if curl.body is None else curl.body.encode())


def test_the_replayed_calls_are_the_docs_curls(doc):
    found = curls(doc)
    assert [(c.method, c.url, c.headers) for c in found] == \
        [(c.method, c.url, c.headers) for c in SAMPLES]
    assert [c.body for c in found] == [c.body for c in SAMPLES]


# -- apps -------------------------------------------------------------------------------------
def test_apps_list_starts_with_the_documented_apps(client):
    r = send(client, APPS_LIST)
    assert r.status_code == 200
    apps = r.json()["apps"]
    assert len(apps) == 50
    assert [{k: a[k] for k in DOCUMENTED_APPS[0]} for a in apps[:3]] == DOCUMENTED_APPS
    for a in apps:
        assert set(a) == set(DOCUMENTED_APPS[0]) | MOCK_KEYS
    assert isinstance(r.json()["_cursor"], str) and r.json()["_cursor"]


def test_apps_list_is_the_documented_sample(client, documented):
    body = send(client, APPS_LIST).json()
    sample = documented["apps.list"]
    assert [{k: a[k] for k in sample["apps"][0]} for a in body["apps"][:3]] == sample["apps"]
    assert set(body) == set(sample)


def test_apps_get_slack_is_the_documented_body(client):
    r = send(client, APPS_GET)
    assert r.status_code == 200
    assert r.json() == {**SLACK, "login_url": "https://app.integry.io/auth/slack/login/",
                        "allow_multiple_connected_accounts": True}


def test_apps_get_slack_is_the_documented_sample(client, documented):
    body = send(client, APPS_GET).json()
    assert {k: v for k, v in body.items() if k not in MOCK_KEYS} == documented["apps.get"]
    assert set(body) - set(documented["apps.get"]) == MOCK_KEYS


# -- functions --------------------------------------------------------------------------------
def test_functions_list_hubspot_actions_is_the_documented_sample(client, documented):
    r = send(client, FUNCTIONS_LIST)
    assert r.status_code == 200
    assert r.json() == documented["functions.list"]
    assert r.json()["_cursor"] is None


def test_functions_list_hubspot_actions_are_the_documented_three(client):
    body = send(client, FUNCTIONS_LIST).json()
    assert [f["name"] for f in body["functions"]] == [
        "hubspot-create-company", "hubspot-create-contact", "hubspot-create-deal"]
    assert body["_cursor"] is None
    assert all(set(f) == {"name", "description", "parameters"} for f in body["functions"])


def test_predict_picks_slack_post_message_with_arguments(client):
    r = send(client, PREDICT)
    assert r.status_code == 200
    (fn,) = r.json()["functions"]
    assert fn["name"] == "slack-post-message"
    assert fn["description"] == "Post a message in a channel"
    assert fn["parameters"]["required"] == ["channel", "text"]
    assert fn["arguments"]["channel"] == "random"
    assert "{first_name}" in fn["arguments"]["text"]
    assert "{last_name}" in fn["arguments"]["text"]
    assert set(fn) == {"name", "description", "parameters", "arguments"}


def test_predict_is_the_documented_sample(client, documented):
    r = send(client, PREDICT)
    assert r.status_code == 200
    assert r.json() == documented["predict"]


def test_the_documented_prediction_is_keyed_to_its_prompt_and_variable_names(client):
    """Other values of the same variables get the same tags; another prompt, or other
    variables, get the generic prediction."""
    doc_text = ("A new contact just signed up! Here are the details:\nFirst Name: {first_name}"
                "\nLast Name: {last_name}")
    body = json.loads(PREDICT_BODY)
    body["_variables"] = {"last_name": "Roe", "first_name": "Jane"}
    r = client.post("/integry/functions/predict/?predict_arguments=true", json=body,
                    headers=DOC_HEADERS)
    assert r.json()["functions"][0]["arguments"]["text"] == doc_text
    for other in ({**body, "_variables": {"first_name": "Jane"}},
                  {**body, "prompt": body["prompt"] + " Thanks."}):
        r = client.post("/integry/functions/predict/?predict_arguments=true", json=other,
                        headers=DOC_HEADERS)
        (fn,) = r.json()["functions"]
        assert fn["name"] == "slack-post-message" and fn["arguments"]["text"] != doc_text
    # functions/get of the predicted function with the same input gives the same arguments
    r = client.post("/integry/functions/slack-post-message/get/", json=json.loads(PREDICT_BODY),
                    headers=DOC_HEADERS)
    assert r.json()["arguments"] == {"channel": "random", "text": doc_text}
    r = client.post("/integry/functions/slack-post-message/get/", headers=DOC_HEADERS,
                    json={"prompt": "Post hello on general", "_variables": {}})
    assert r.json()["arguments"]["channel"] == "general"   # any other prompt: predicted


def test_functions_get_is_the_documented_schema(client, documented):
    """The doc's sample sends the placeholder prompt "prompt-goes-here" and shows no
    `arguments`: so it is answered."""
    r = send(client, FUNCTIONS_GET)
    assert r.status_code == 200
    assert r.json() == documented["functions.get"]


def test_functions_get_without_a_prompt_is_exactly_the_schema(client, documented):
    r = send(client, Curl("POST", FUNCTIONS_GET.url, DOC_HEADERS, "{}"))
    assert r.json() == documented["functions.get"]


# -- the call ---------------------------------------------------------------------------------
def test_the_documented_call_posts_the_message(client):
    r = send(client, CALL)
    assert r.status_code == 200
    body = r.json()
    assert body["network_code"] == "200"
    out = body["output"]
    assert out["ok"] is True and out["channel"] == "C6F3LQ03A"
    assert out["message"]["text"] == "John Doe just signed up!"
    assert out["message"]["blocks"][0]["elements"][0]["elements"][0] == {
        "type": "text", "text": "John Doe just signed up!"}
    assert out["ts"] == out["message"]["ts"]
    assert "_cursor" not in body  # not a paginated function
    assert r.headers["X-Credits"].isdigit() and int(r.headers["X-Credits"]) >= 0
    assert r.headers["X-Session-ID"]


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (values themselves left out)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_the_documented_call_has_the_documented_output(client, documented):
    body = send(client, CALL).json()
    sample = copy.deepcopy(documented["call"])  # the module's copy stays whole
    assert _shape(body) == _shape(sample)
    # everything but the message's timestamps is the doc's
    for data in (body, sample):
        data["output"].pop("ts")
        data["output"]["message"].pop("ts")
    assert body == sample


def test_the_apps_lists_documented_cursor_pages_on(client, documented):
    """The doc's `_cursor` is the one the first page gives, and reading it back gives the
    second page, from the body (Python SDK) or the query (Node SDK)."""
    cursor = documented["apps.list"]["_cursor"]
    first = send(client, APPS_LIST).json()
    assert first["_cursor"] == cursor
    by_body = client.post("/integry/apps/list/", json={"_cursor": cursor},
                          headers=DOC_HEADERS).json()
    by_query = client.post("/integry/apps/list", params={"_cursor": cursor},
                           headers=DOC_HEADERS).json()
    assert by_body == by_query
    assert [a["name"] for a in by_body["apps"]][:1] != [a["name"] for a in first["apps"]][:1]
    names = [a["name"] for a in first["apps"] + by_body["apps"]]
    assert len(names) == len(set(names)) == 100
    # the functions list pages with the same cursor at the same offset
    functions = client.post("/integry/functions/list/", json={}, headers=DOC_HEADERS).json()
    assert functions["_cursor"] == cursor


# -- every documented request and its documented answer, one test each ------------------------
SDK_APP_KEYS = ("login_url", "allow_multiple_connected_accounts")


def _as_documented(name: str, body: Any, sample: Any) -> Any:
    """What the doc shows of an answer: the apps sample is the head of a 50-app page, and the
    Python SDK's app model needs two keys the doc leaves out (docs/fidelity.md)."""
    if name == "apps.list":
        body = {**body, "apps": [{k: v for k, v in a.items() if k not in SDK_APP_KEYS}
                                 for a in body["apps"][:len(sample["apps"])]]}
    if name == "apps.get":
        body = {k: v for k, v in body.items() if k not in SDK_APP_KEYS}
    return body


@pytest.mark.parametrize("name, curl", [
    ("apps.list", APPS_LIST), ("apps.get", APPS_GET), ("functions.list", FUNCTIONS_LIST),
    ("predict", PREDICT), ("functions.get", FUNCTIONS_GET), ("call", CALL)])
def test_every_documented_request_gets_its_documented_answer(client, documented, name, curl):
    sample = documented[name]
    if name == "call":  # the message's `ts` is the clock's: set it to the sample's instant
        ts = sample["output"]["ts"]
        r = client.post("/__admin/clock", json={"set": datetime.fromtimestamp(
            float(ts), timezone.utc).isoformat().replace("+00:00", "Z")})
        assert r.status_code == 200
    r = send(client, curl)
    assert r.status_code == 200
    assert _as_documented(name, r.json(), sample) == sample


def test_the_auth_examples_body_is_not_json(client):
    """The doc's "Making an authenticated request" body has a trailing comma: a DRF parse
    error, which executes nothing."""
    r = send(client, AUTH_EXAMPLE)
    assert r.status_code == 400
    assert r.json()["detail"].startswith("JSON parse error - ")
    assert set(r.json()) == {"detail"}


# -- the fixtures -----------------------------------------------------------------------------
def test_the_stored_documented_functions_are_the_docs(documented):
    stored = {f["name"]: f for f in json.loads((FIXTURES / "functions.json").read_text())[
        "documented"]}
    doc_functions = [*documented["functions.list"]["functions"],
                     documented["functions.get"]]
    predicted = {k: v for k, v in documented["predict"]["functions"][0].items()
                 if k != "arguments"}
    assert predicted == documented["functions.get"]
    assert sorted(stored) == sorted(f["name"] for f in doc_functions)
    for fn in doc_functions:
        assert {k: stored[fn["name"]][k] for k in fn} == fn, fn["name"]
        assert set(stored[fn["name"]]) - set(fn) == {"app", "type"}


def test_the_stored_documented_apps_are_the_docs(documented):
    stored = {a["name"]: a for a in json.loads((FIXTURES / "apps.json").read_text())[
        "documented"]}
    for app in [*documented["apps.list"]["apps"], documented["apps.get"]]:
        assert stored[app["name"]] == {k: v for k, v in app.items()
                                       if k != "connected_accounts"}
