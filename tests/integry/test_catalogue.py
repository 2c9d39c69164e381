"""The apps and functions catalogues: pages of 50 behind `_cursor` (in the JSON body, as the
Python SDK sends it, or in the query, as the Node SDK does), the documented filters, the SDK's
model requirements, DRF's errors and routing."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from .conftest import APP_KEY, BASE, USER_ID, call, headers, sign
from .support import walk

POPULAR = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "integry" /
                      "apps.json").read_text())["popular"]
SDK_TYPES = {"string", "number", "boolean", "null", "object", "array"}
INVALID_CURSOR = {"detail": "Invalid cursor"}
HYPOTHESIS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


def template(app):
    return app.vendors["integry"].template


def names(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["name"] for page in pages for item in page]


def all_apps(client, **kw) -> list[dict[str, Any]]:
    return [a for page in walk(client, "/apps/list/", "apps", **kw) for a in page]


def all_functions(client, **kw) -> list[dict[str, Any]]:
    return [f for page in walk(client, "/functions/list/", "functions", **kw) for f in page]


# -- apps ---------------------------------------------------------------------------------------
def test_the_app_catalogue(client):
    apps = all_apps(client)
    assert len(apps) >= 120
    assert len({a["name"] for a in apps}) == len(apps)
    assert len({a["id"] for a in apps}) == len(apps)
    for a in apps:
        assert isinstance(a["login_url"], str) and a["login_url"]
        assert isinstance(a["allow_multiple_connected_accounts"], bool)
        assert isinstance(a["id"], int) and a["id"] > 0
        assert isinstance(a["icon_url"], str) and isinstance(a["docs_url"], str)
        assert isinstance(a["connected_accounts"], list)
    # the user's connected apps first, then the rest by name
    assert apps[0]["name"] == "pipedrive"
    rest = [a["name"] for a in apps[1:]]
    assert rest == sorted(rest)


def test_apps_come_in_pages_of_50(client, app):
    pages = walk(client, "/apps/list/", "apps")
    total = len(template(app).apps)
    assert [len(p) for p in pages] == [50] * (total // 50) + ([total % 50] if total % 50 else [])


@pytest.mark.parametrize("cursor_in", ["body", "query"])
def test_the_cursor_in_the_body_or_the_query(client, app, cursor_in):
    apps = all_apps(client, cursor_in=cursor_in)
    assert sorted(a["name"] for a in apps) == sorted(a["name"] for a in template(app).apps)


def test_a_null_or_empty_cursor_is_the_first_page(client):
    first = call(client, "/apps/list/", {}).json()
    assert call(client, "/apps/list/", {"_cursor": None}).json() == first
    assert call(client, "/apps/list/", {"_cursor": ""}).json() == first
    assert call(client, "/apps/list/", params={"_cursor": ""}).json() == first
    # no body at all, as the SDK's bodiless calls
    assert call(client, "/apps/list/").json() == first


@pytest.mark.parametrize("path", ["/apps/list/", "/functions/list/"])
@pytest.mark.parametrize("cursor", ["zzz", "!!!", "bzotMQ", "eDoxMA", "-1", "bzo", "o:10"])
def test_an_invalid_cursor(client, path, cursor):
    r = call(client, path, {"_cursor": cursor})
    assert r.status_code == 404
    assert r.json() == INVALID_CURSOR
    r = call(client, path, {}, params={"_cursor": cursor})
    assert r.status_code == 404
    assert r.json() == INVALID_CURSOR


@pytest.mark.parametrize("cursor", [[], {}, True, 1.5])
def test_a_cursor_of_another_type(client, cursor):
    r = call(client, "/apps/list/", {"_cursor": cursor})
    assert r.status_code == 404
    assert r.json() == INVALID_CURSOR


def test_a_cursor_past_the_end_is_an_empty_last_page(client):
    r = call(client, "/apps/list/", {"_cursor": "bzo5OTk"})  # o:999
    assert r.status_code == 200
    assert r.json() == {"apps": [], "_cursor": None}


@pytest.mark.parametrize("value", ["true", "True", "1"])
def test_connected_only(client, value):
    r = call(client, "/apps/list/", {}, params={"connected_only": value})
    assert r.status_code == 200
    assert r.json() == {"apps": [{**call(client, "/apps/pipedrive/get/").json()}],
                        "_cursor": None}
    assert call(client, "/apps/list/", {}, user_id="nobody",
                params={"connected_only": value}).json() == {"apps": [], "_cursor": None}


@pytest.mark.parametrize("value", ["false", "False", "0", ""])
def test_connected_only_off(client, value):
    r = call(client, "/apps/list/", {}, params={"connected_only": value})
    assert r.json() == call(client, "/apps/list/", {}).json()


@pytest.mark.parametrize("path", ["/apps/list/", "/functions/list/"])
@pytest.mark.parametrize("value", ["maybe", "2", "yes please", "tru"])
def test_an_invalid_boolean(client, path, value):
    r = call(client, path, {}, params={"connected_only": value})
    assert r.status_code == 400
    assert r.json() == {"connected_only": ["Must be a valid boolean."]}


def test_get_an_app(client):
    r = call(client, "/apps/pipedrive/get/")
    assert r.status_code == 200
    assert r.json()["connected_accounts"] == [
        {"id": 247714, "display_name": "663----------8b1", "modified_at": "2024-11-10T23:28:58Z"}]
    # Integry shows a workspace's shared account in no one's connected_accounts
    assert call(client, "/apps/slack/get/").json()["connected_accounts"] == []


@pytest.mark.parametrize("name", ["nope", "Slack", "slack-post-message", "%20"])
def test_an_unknown_app(client, name):
    r = call(client, f"/apps/{name}/get/")
    assert r.status_code == 404
    assert r.json() == {"detail": "App not found"}


# -- functions ----------------------------------------------------------------------------------
def test_every_popular_app_has_query_and_action_functions(client, app):
    functions = all_functions(client, params={"include": "meta"})
    kinds: dict[str, set[str]] = {}
    for f in functions:
        kinds.setdefault(f["meta"]["app"]["name"], set()).add(f["meta"]["type"])
    assert len(POPULAR) >= 10
    for name in POPULAR:
        assert {"QUERY", "ACTION", "PASSTHROUGH"} <= kinds[name], name


def test_every_app_has_a_passthrough(client, app):
    apps = {a["name"] for a in template(app).apps}
    passthrough = all_functions(client, params={"type": "PASSTHROUGH"})
    assert sorted(f["name"] for f in passthrough) == sorted(f"{a}-passthrough-request"
                                                            for a in apps)
    for f in passthrough:
        assert f["parameters"]["required"] == ["method", "url"]
        assert set(f["parameters"]["properties"]) >= {"method", "url", "body"}


def _types(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind is not None:
            found += kind if isinstance(kind, list) else [kind]
        for sub in (schema.get("properties") or {}).values():
            found += _types(sub)
        if "items" in schema:
            found += _types(schema["items"])
    return found


def test_schemas_use_only_the_sdks_types(client):
    functions = all_functions(client)
    assert len(functions) > 150
    seen: Counter[str] = Counter()
    for f in functions:
        assert f["parameters"]["type"] == "object"
        assert isinstance(f["parameters"]["required"], list)
        seen.update(_types(f["parameters"]))
    assert set(seen) <= SDK_TYPES
    assert {"string", "number", "boolean", "object", "array"} <= set(seen)


@pytest.mark.parametrize("spelling", ["hubspot", "Hubspot", "HUBSPOT"])
def test_filter_by_app_ignores_case(client, spelling):
    r = call(client, "/functions/list/", {}, params={"app": spelling})
    assert [f["name"] for f in r.json()["functions"]] == [
        "hubspot-create-company", "hubspot-create-contact", "hubspot-create-deal",
        "hubspot-list-companies", "hubspot-list-contacts", "hubspot-list-deals",
        "hubspot-list-properties", "hubspot-passthrough-request"]
    assert r.json()["_cursor"] is None


def test_filter_by_an_unknown_app_is_empty(client):
    r = call(client, "/functions/list/", {}, params={"app": "nope"})
    assert r.json() == {"functions": [], "_cursor": None}


@pytest.mark.parametrize("kind", ["QUERY", "ACTION", "PASSTHROUGH"])
def test_filter_by_type(client, kind):
    functions = all_functions(client, params={"type": kind, "include": "meta"})
    assert functions
    assert {f["meta"]["type"] for f in functions} == {kind}


def test_an_invalid_type(client):
    r = call(client, "/functions/list/", {}, params={"type": "TRIGGER"})
    assert r.status_code == 400
    assert r.json() == {"type": ['"TRIGGER" is not a valid choice.']}


def test_search(client):
    r = call(client, "/functions/list/", {}, params={"search": "Slack"})
    assert [f["name"] for f in r.json()["functions"]] == [
        "slack-list-conversations", "slack-passthrough-request", "slack-post-message"]
    r = call(client, "/functions/list/", {}, params={"search": "signed", "app": "hubspot"})
    assert r.json() == {"functions": [], "_cursor": None}
    r = call(client, "/functions/list/", {}, params={"search": "properties of an object"})
    assert [f["name"] for f in r.json()["functions"]] == ["hubspot-list-properties"]


def test_connected_only_functions(client):
    r = call(client, "/functions/list/", {}, params={"connected_only": "True"})
    assert [f["name"] for f in r.json()["functions"]] == [
        "pipedrive-create-record", "pipedrive-list-records", "pipedrive-passthrough-request"]
    r = call(client, "/functions/list/", {}, user_id="nobody", params={"connected_only": "1"})
    assert r.json() == {"functions": [], "_cursor": None}


def test_include_meta(client):
    plain = call(client, "/functions/slack-post-message/get/", {}).json()
    r = call(client, "/functions/slack-post-message/get/", {}, params={"include": "meta"})
    assert r.status_code == 200
    body = r.json()
    meta = body.pop("meta")
    assert body == plain
    slack = call(client, "/apps/slack/get/").json()
    assert meta["type"] == "ACTION"
    assert meta["app"] == {k: slack[k] for k in ("id", "name", "title", "icon_url")}
    fields = {f["name"]: f for f in meta["fields"]}
    assert list(fields) == list(plain["parameters"]["properties"])
    assert fields["channel"]["required"] is True and fields["channel"]["type"] == "string"
    assert fields["as_user"]["required"] is False and fields["as_user"]["type"] == "boolean"
    listed = call(client, "/functions/list/", {}, params={"include": "meta", "app": "slack"})
    assert all("meta" in f for f in listed.json()["functions"])
    predicted = call(client, "/functions/predict/", {"prompt": "post a slack message"},
                     params={"include": "meta"})
    assert predicted.json()["functions"][0]["meta"]["type"] == "ACTION"


def test_an_invalid_include(client):
    r = call(client, "/functions/list/", {}, params={"include": "everything"})
    assert r.status_code == 400
    assert r.json() == {"include": ['"everything" is not a valid choice.']}


@pytest.mark.parametrize("path", ["/functions/nope/get/", "/functions/nope/call/",
                                  "/functions/Slack-post-message/get/",
                                  "/functions/slack/get/"])
def test_an_unknown_function(client, path):
    r = call(client, path, {})
    assert r.status_code == 404
    assert r.json() == {"detail": "Function not found"}


# -- hypothesis: every item exactly once ---------------------------------------------------------
filters = st.fixed_dictionaries({}, optional={
    "app": st.sampled_from(["hubspot", "Slack", "pipedrive", "4me", "GMAIL", "nope"]),
    "type": st.sampled_from(["QUERY", "ACTION", "PASSTHROUGH"]),
    "search": st.sampled_from(["list", "create", "Request", "api", "zzz", "slack"]),
    "connected_only": st.sampled_from(["true", "False", "1", "0"]),
})


def expected_functions(app, params: dict[str, str], user: str) -> list[str]:
    connected = {a for a, accounts in app.tenants.default.stores["integry"].users.get(
        user, {}).items() if accounts}
    only = params.get("connected_only") in ("true", "1")
    search = params.get("search", "").lower()
    return [f["name"] for f in template(app).functions
            if f["app"] == params.get("app", f["app"]).lower()
            and f["type"] == params.get("type", f["type"])
            and (not only or f["app"] in connected)
            and (search in f["name"] or search in f["description"].lower())]


@settings(HYPOTHESIS)
@given(params=filters, cursor_in=st.sampled_from(["body", "query"]),
       user=st.sampled_from([USER_ID, "nobody"]))
def test_walking_functions_returns_each_once(client, app, params, cursor_in, user):
    pages = walk(client, "/functions/list/", "functions", params=params, cursor_in=cursor_in,
                 user_id=user)
    assert all(len(p) == 50 for p in pages[:-1]) and len(pages[-1]) <= 50
    assert names(pages) == expected_functions(app, params, user)


@settings(HYPOTHESIS)
@given(connected_only=st.sampled_from([None, "true", "False"]),
       cursor_in=st.sampled_from(["body", "query"]),
       user=st.sampled_from([USER_ID, "nobody", "someone-else"]))
def test_walking_apps_returns_each_once(client, app, connected_only, cursor_in, user):
    params = {} if connected_only is None else {"connected_only": connected_only}
    got = names(walk(client, "/apps/list/", "apps", params=params, cursor_in=cursor_in,
                     user_id=user))
    assert len(got) == len(set(got))
    if connected_only == "true":
        assert got == (["pipedrive"] if user == USER_ID else [])
    else:
        assert sorted(got) == sorted(a["name"] for a in template(app).apps)


# -- routing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/apps/list", "/apps/list/", "/apps/slack/get",
                                  "/apps/slack/get/", "/functions/list", "/functions/list/",
                                  "/functions/slack-post-message/get",
                                  "/functions/slack-post-message/get/",
                                  "//functions//list/", "/apps//slack/get"])
def test_with_and_without_the_trailing_slash(client, path):
    r = client.post(BASE + path, json={}, headers=headers())
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/apps/list/", "/apps/slack/get", "/functions/list",
                                  "/functions/predict/", "/functions/slack-post-message/get/",
                                  "/functions/slack-post-message/call"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_another_method_is_405(client, path, method):
    if method == "GET" and "/get" in path:
        return  # a function's details answer GET too (below)
    r = client.request(method, BASE + path, headers=headers())
    assert r.status_code == 405
    assert r.json() == {"detail": f'Method "{method}" not allowed.'}


def test_a_function_s_details_answer_get_as_the_browser_sdk_asks(client):
    """@integry/sdk's getFunction() sends GET /functions/<name>/get/ with the query-string
    signature and no body: the same function as a POST without prompt or variables."""
    query = f"?app_key={APP_KEY}&hash={sign()}&user_id={USER_ID}"
    for path in ("/functions/slack-post-message/get/", "/functions/slack-post-message/get"):
        got = client.get(BASE + path + query)
        assert got.status_code == 200, got.text
        assert got.json() == call(client, "/functions/slack-post-message/get/", {}).json()
        assert "arguments" not in got.json()
    meta = client.get(BASE + "/functions/slack-post-message/get/" + query + "&include=meta")
    assert meta.status_code == 200 and meta.json()["meta"]["app"]["name"] == "slack"
    missing = client.get(BASE + "/functions/no-such-function/get/" + query)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Function not found"})
    unsigned = client.get(BASE + "/functions/slack-post-message/get/")
    assert unsigned.status_code == 403
    # the list, predict and call stay POST only
    assert client.get(BASE + "/functions/slack-post-message/call/" + query).status_code == 405


@pytest.mark.parametrize("path", ["/", "/nope", "/apps", "/apps/", "/apps/slack",
                                  "/apps/slack/get/extra", "/functions", "/functions/x/run",
                                  "/Apps/list/", "/apps/list.json"])
def test_an_unknown_path(client, path):
    r = client.post(BASE + path, json={}, headers=headers())
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found."}


def test_the_real_host_without_the_prefix(client):
    r = client.post("https://api.integry.io/apps/list/", json={}, headers=headers())
    assert r.status_code == 200
    assert r.json() == call(client, "/apps/list/", {}).json()
    r = client.post("https://api.integry.io/functions/list", params={
        "app": "slack", "app_key": APP_KEY, "user_id": USER_ID, "hash": sign()})
    assert [f["name"] for f in r.json()["functions"]][0] == "slack-list-conversations"
    r = client.post("https://api.integry.io/integry/apps/list/", json={}, headers=headers())
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found."}
