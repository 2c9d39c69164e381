"""Predict and function calls: the documented 400s, connected accounts (the user's, the
workspace's, a chosen one), the simulated Slack/HubSpot/passthrough backends, `_variables`,
`_cursor` pages and the calls log (only executed calls are logged)."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from jsonschema import Draft7Validator


from .conftest import USER_ID, call, headers
from .support import connect, snapshot, store

CALL_INVALID = ("Could not call the function due to invalid input. Please see `error_details` "
                "for further information.")
CALL_NOT_CONNECTED = ("Could not call the function because the user has not connected an "
                      "account. Please see `error_details` for further information.")
REQUIRED = "This parameter is required and must not be null or empty"
PROMPT = {"prompt": "Must be a non-empty string"}
POST_MESSAGE = "/functions/slack-post-message/call/"


def not_connected(title: str, name: str) -> dict[str, Any]:
    return {"error": CALL_NOT_CONNECTED, "error_details": [
        f"User has not connected their {title} account. To connect an account, please call "
        f"following SDK method: `connectApp('{name}')`"]}


def invalid(details: dict[str, str]) -> dict[str, Any]:
    return {"error": CALL_INVALID, "error_details": details}


def logged(app, user: str = USER_ID) -> list[dict[str, Any]]:
    return list(store(app).calls.get(user, []))


# -- predict ------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [{"prompt": ""}, {"prompt": "   "}, {}, {"prompt": None},
                                  {"prompt": 5}, {"prompt": ["send"]}, {"prompt": {"a": 1}},
                                  {"prompt": True}, {"_variables": {"a": "b"}}])
def test_predict_needs_a_prompt(client, body):
    r = call(client, "/functions/predict/", body)
    assert r.status_code == 400
    assert r.json() == PROMPT


def test_predict_without_a_body(client):
    r = call(client, "/functions/predict/")
    assert r.status_code == 400
    assert r.json() == PROMPT


def test_predict_without_arguments(client):
    r = call(client, "/functions/predict/", {"prompt": "Post a message on Slack"})
    assert r.status_code == 200
    (fn,) = r.json()["functions"]
    assert fn["name"] == "slack-post-message"
    assert "arguments" not in fn
    r = call(client, "/functions/predict/", {"prompt": "Post a message on Slack"},
             params={"predict_arguments": "false"})
    assert "arguments" not in r.json()["functions"][0]


def test_predict_hubspot(client):
    r = call(client, "/functions/predict/", {"prompt": "create a contact in HubSpot"})
    assert r.json()["functions"][0]["name"] == "hubspot-create-contact"


def test_predict_nothing_matches(client):
    r = call(client, "/functions/predict/", {"prompt": "qqqq zzzz"})
    assert r.status_code == 200
    assert r.json() == {"functions": []}


def test_predict_is_deterministic(client):
    body = {"prompt": "Send a Slack message to sales about {deal}", "_variables": {"deal": "x"}}
    first = call(client, "/functions/predict/", body, params={"predict_arguments": "true"})
    again = call(client, "/functions/predict/", body, params={"predict_arguments": "true"})
    assert first.json() == again.json()
    assert first.json()["functions"][0]["arguments"]["channel"] == "sales"


@pytest.mark.parametrize("variables", [[], "x", 5])
def test_variables_must_be_an_object(client, variables):
    r = call(client, "/functions/predict/", {"prompt": "slack", "_variables": variables})
    assert r.status_code == 400
    assert r.json() == {"_variables": ["Must be an object."]}


def test_get_with_a_non_string_prompt(client):
    r = call(client, "/functions/slack-post-message/get/", {"prompt": 5})
    assert r.status_code == 400
    assert r.json() == PROMPT


def test_get_with_variables_maps_them(client):
    r = call(client, "/functions/slack-post-message/get/",
             {"prompt": "post to general", "_variables": {"first_name": "Ann"}})
    args = r.json()["arguments"]
    assert args["channel"] == "general"
    assert "{first_name}" in args["text"]


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("body, details", [
    ({}, {"channel": REQUIRED, "text": REQUIRED}),
    ({"text": "hi"}, {"channel": REQUIRED}),
    ({"channel": "random", "text": ""}, {"text": REQUIRED}),
    ({"channel": "  ", "text": "hi"}, {"channel": REQUIRED}),
    ({"channel": None, "text": None}, {"channel": REQUIRED, "text": REQUIRED}),
    ({"channel": "random", "text": "hi", "_variables": None, "_cursor": None}, None),
])
def test_required_parameters(client, app, body, details):
    r = call(client, POST_MESSAGE, body)
    if details is None:
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 400
    assert r.json() == invalid(details)
    assert logged(app) == []


@pytest.mark.parametrize("path, body, details", [
    (POST_MESSAGE, {"channel": 5, "text": "hi"}, {"channel": "Must be of type string"}),
    (POST_MESSAGE, {"channel": "random", "text": ["hi"]}, {"text": "Must be of type string"}),
    (POST_MESSAGE, {"channel": "random", "text": "hi", "as_user": "yes"},
     {"as_user": "Must be of type boolean"}),
    (POST_MESSAGE, {"channel": "random", "text": "hi", "blocks": "[]"},
     {"blocks": "Must be of type array"}),
    (POST_MESSAGE, {"channel": "random", "text": "hi", "blocks": [1]},
     {"blocks": "Must be of type string"}),
    (POST_MESSAGE, {"channel": {}, "text": True}, {"channel": "Must be of type string",
                                                   "text": "Must be of type string"}),
    ("/functions/pipedrive-passthrough-request/call/", {"method": "FETCH", "url": "https://x"},
     {"method": "Must be one of: GET, POST, PUT, PATCH, DELETE"}),
    ("/functions/pipedrive-passthrough-request/call/", {"method": "GET", "url": 1},
     {"url": "Must be of type string"}),
    ("/functions/pipedrive-list-records/call/", {"limit": "10"},
     {"limit": "Must be of type number"}),
    ("/functions/pipedrive-create-record/call/", {"name": "n", "fields": []},
     {"fields": "Must be of type object"}),
])
def test_wrong_types(client, app, path, body, details):
    r = call(client, path, body)
    assert r.status_code == 400
    assert r.json() == invalid(details)
    assert logged(app) == []


def test_validation_comes_before_the_account_check(client):
    r = call(client, "/functions/hubspot-list-properties/call/", {}, user_id="nobody")
    assert r.json() == invalid({"object_type": REQUIRED})


# -- connected accounts -------------------------------------------------------------------------
def test_a_user_without_an_account(client, app):
    r = call(client, "/functions/hubspot-create-contact/call/",
             {"properties": {"email": "a@example.com"}}, user_id="nobody")
    assert r.status_code == 400
    assert r.json() == not_connected("HubSpot", "hubspot")
    r = call(client, "/functions/pipedrive-list-records/call/", {}, user_id="nobody")
    assert r.json() == not_connected("Pipedrive", "pipedrive")
    assert store(app).calls == {} and store(app).hubspot == {}


def test_the_workspace_account_serves_every_user(client, app):
    assert call(client, POST_MESSAGE, {"channel": "random", "text": "a"},
                user_id="nobody").status_code == 200
    assert logged(app, "nobody")[0]["account"] == 250001


@pytest.mark.parametrize("flag", ["true", "True", "1", None])
def test_workspace_accounts_allowed(client, flag):
    params = {} if flag is None else {"allow_workspace_connected_accounts": flag}
    r = call(client, POST_MESSAGE, {"channel": "random", "text": "a"}, params=params)
    assert r.status_code == 200


def test_workspace_accounts_flag_must_be_a_boolean(client, app):
    r = call(client, POST_MESSAGE, {"channel": "random", "text": "a"},
             params={"allow_workspace_connected_accounts": "maybe"})
    assert r.status_code == 400
    assert r.json() == {"allow_workspace_connected_accounts": ["Must be a valid boolean."]}
    assert store(app).slack == {}


@pytest.mark.parametrize("flag", ["false", "False", "0"])
def test_workspace_accounts_not_allowed(client, app, flag):
    r = call(client, POST_MESSAGE, {"channel": "random", "text": "a"},
             params={"allow_workspace_connected_accounts": flag})
    assert r.status_code == 400
    assert r.json() == not_connected("Slack", "slack")
    assert store(app).slack == {}
    # the user's own account still serves
    mine = connect(client, USER_ID, "slack")
    r = call(client, POST_MESSAGE, {"channel": "random", "text": "a"},
             params={"allow_workspace_connected_accounts": flag})
    assert r.status_code == 200
    assert logged(app)[-1]["account"] == mine["id"]


def test_connected_account_id_picks_the_account(client, app):
    first = connect(client, USER_ID, "hubspot", displayName="Sales")
    second = connect(client, USER_ID, "hubspot", displayName="Support")
    body = {"properties": {"email": "a@example.com"}}
    path = "/functions/hubspot-create-contact/call/"
    assert call(client, path, body).status_code == 200
    assert call(client, path, body, params={"connected_account_id": str(second["id"])}
                ).status_code == 200
    assert call(client, path, body, params={"connected_account_id": str(first["id"])}
                ).status_code == 200
    assert [e["account"] for e in logged(app)] == [first["id"], second["id"], first["id"]]
    # the workspace's account may be chosen too
    assert call(client, POST_MESSAGE, {"channel": "random", "text": "a"},
                params={"connected_account_id": "250001"}).status_code == 200
    assert logged(app)[-1]["account"] == 250001


@pytest.mark.parametrize("account_id", ["999999", "247714"])   # 247714 is pipedrive's
def test_an_unknown_connected_account_id(client, app, account_id):
    connect(client, USER_ID, "hubspot")
    r = call(client, "/functions/hubspot-create-contact/call/", {},
             params={"connected_account_id": account_id})
    assert r.status_code == 400
    assert r.json() == {"error": CALL_NOT_CONNECTED, "error_details": [
        f"Connected account {account_id} of HubSpot was not found for this user."]}
    assert store(app).hubspot == {}


@pytest.mark.parametrize("account_id", ["abc", "-1", "1.5"])
def test_a_connected_account_id_not_a_number(client, account_id):
    r = call(client, POST_MESSAGE, {"channel": "random", "text": "a"},
             params={"connected_account_id": account_id})
    assert r.status_code == 400
    assert r.json() == invalid({"connected_account_id": "Must be a number"})


def test_another_users_account_is_not_mine(client):
    theirs = connect(client, "someone", "hubspot")
    r = call(client, "/functions/hubspot-create-contact/call/", {},
             params={"connected_account_id": str(theirs["id"])})
    assert r.status_code == 400
    assert r.json()["error"] == CALL_NOT_CONNECTED


# -- the backends -------------------------------------------------------------------------------
def test_hubspot_contacts_page_by_cursor(client, app):
    connect(client, USER_ID, "hubspot")
    created = []
    for i in range(25):
        r = call(client, "/functions/hubspot-create-contact/call/",
                 {"properties": {"email": f"c{i}@example.com", "firstname": f"C{i}"}})
        assert r.status_code == 200
        assert r.json()["network_code"] == "201"
        assert "_cursor" not in r.json()
        created.append(r.json()["output"])
    assert len({c["id"] for c in created}) == 25
    seen: list[dict[str, Any]] = []
    sizes = []
    cursor = None
    for _ in range(10):
        body: dict[str, Any] = {"_variables": None}
        if cursor is not None:
            body["_cursor"] = cursor
        r = call(client, "/functions/hubspot-list-contacts/call/", body)
        assert r.status_code == 200
        assert r.json()["network_code"] == "200"
        sizes.append(len(r.json()["output"]["results"]))
        seen += r.json()["output"]["results"]
        # the last page has no `_cursor` (the Python SDK's model refuses a null there)
        cursor = r.json().get("_cursor")
        if cursor is None:
            assert "_cursor" not in r.json()
            break
        assert isinstance(cursor, str) and cursor
    assert sizes == [10, 10, 5]
    assert seen == created
    assert [c["properties"]["email"] for c in seen] == [f"c{i}@example.com" for i in range(25)]
    # the cursor as a query parameter (the Node SDK) gives the same second page
    first = call(client, "/functions/hubspot-list-contacts/call/", {}).json()
    second = call(client, "/functions/hubspot-list-contacts/call", {},
                  params={"_cursor": first["_cursor"]}).json()
    assert second["output"]["results"] == created[10:20]
    # other kinds are kept apart
    r = call(client, "/functions/hubspot-list-deals/call/", {})
    assert r.json() == {"network_code": "200", "output": {"results": []}}


def test_an_invalid_call_cursor(client, app):
    r = call(client, "/functions/slack-list-conversations/call/", {"_cursor": "nope!"})
    assert r.status_code == 400
    assert r.json() == invalid({"_cursor": "Invalid cursor"})
    assert logged(app) == []


def test_hubspot_contact_created_with_the_documented_properties(client, clock):
    connect(client, USER_ID, "hubspot")
    r = call(client, "/functions/hubspot-create-contact/call/",
             {"properties": {"email": "ada@example.com"}})
    out = r.json()["output"]
    assert out["properties"]["email"] == "ada@example.com"
    assert out["createdAt"] == out["updatedAt"] == "2024-01-15T10:30:00.000Z"
    assert out["archived"] is False and out["properties"]["hs_object_id"] == out["id"]


@pytest.mark.parametrize("method, code", [("GET", "200"), ("POST", "201"), ("PUT", "200"),
                                          ("PATCH", "200"), ("DELETE", "204")])
def test_passthrough(client, method, code):
    body: dict[str, Any] = {"method": method, "url": "https://api.pipedrive.com/v1/persons/7"}
    if method in ("POST", "PUT", "PATCH"):
        body["body"] = {"name": "Ada"}
    r = call(client, "/functions/pipedrive-passthrough-request/call/", body)
    assert r.status_code == 200
    assert r.json()["network_code"] == code
    assert "_cursor" not in r.json()
    if code == "204":
        assert r.json()["output"] is None
        return
    expected = {"ok": True, "app": "pipedrive", "method": method,
                "url": "https://api.pipedrive.com/v1/persons/7", "path": "/v1/persons/7"}
    if "body" in body:
        expected["echo"] = {"name": "Ada"}
    assert r.json()["output"] == expected


def test_passthrough_of_a_relative_url(client):
    r = call(client, "/functions/slack-passthrough-request/call/",
             {"method": "GET", "url": "/api/chat.postMessage"})
    assert r.status_code == 200
    assert r.json()["network_code"] == "400"


def test_variables_are_substituted_in_nested_strings(client):
    r = call(client, "/functions/pipedrive-passthrough-request/call/", {
        "method": "POST", "url": "https://api.pipedrive.com/v1/{kind}",
        "body": {"person": {"name": "{first} {last}", "tags": ["{first}", "x{n}", 1, None],
                            "vip": "{vip}", "none": "{missing}"}},
        "_variables": {"first": "Ada", "last": "Lovelace", "n": 3, "vip": True,
                       "kind": "persons"}})
    out = r.json()["output"]
    assert out["url"] == "https://api.pipedrive.com/v1/persons"
    assert out["echo"] == {"person": {"name": "Ada Lovelace", "tags": ["Ada", "x3", 1, None],
                                      "vip": "true", "none": "{missing}"}}


def test_slack_messages_are_kept(client, app):
    for text in ("one", "two"):
        call(client, POST_MESSAGE, {"channel": "#general", "text": text})
    r = call(client, POST_MESSAGE, {"channel": "new-room", "text": "three"})
    assert r.json()["output"]["channel"].startswith("C")
    assert [m["text"] for m in store(app).slack["C6F3LQ01G"]] == ["one", "two"]
    assert r.json()["output"]["channel"] in store(app).slack


def test_slack_list_conversations(client):
    r = call(client, "/functions/slack-list-conversations/call/", {})
    assert r.json()["network_code"] == "200"
    assert [c["name"] for c in r.json()["output"]["channels"]] == [
        "general", "random", "sales", "support"]
    assert "_cursor" not in r.json()  # one page: no cursor key at all


def test_a_repeated_call_is_served_afresh(client, app, clock):
    """A valid call body seen before (its parsing and validation are remembered) still runs
    for its own function, cursor and time, and the memory of such bodies is bounded."""
    from mockserver.vendors.integry.handlers import CALL_MEMO
    body = {"channel": "random", "text": "{a} {b}", "_variables": {"a": "x", "b": 2}}
    first = call(client, POST_MESSAGE, body)
    clock.advance(seconds=1)
    again = call(client, POST_MESSAGE, body)
    assert first.json()["output"]["message"]["text"] == "x 2"
    assert again.json()["output"]["message"]["text"] == "x 2"
    assert again.json()["output"]["ts"] != first.json()["output"]["ts"]
    assert [m["text"] for m in store(app).slack["C6F3LQ03A"]] == ["x 2", "x 2"]
    r = call(client, POST_MESSAGE, body, params={"_cursor": "nope"})
    assert r.status_code == 400
    assert r.json() == invalid({"_cursor": "Invalid cursor"})
    r = call(client, "/functions/slack-list-conversations/call/", body)
    assert [c["name"] for c in r.json()["output"]["channels"]][:1] == ["general"]
    for i in range(CALL_MEMO + 5):
        assert call(client, POST_MESSAGE, {"channel": "random", "text": str(i)}) \
            .status_code == 200
    assert len(app.vendors["integry"].service.known_calls) <= CALL_MEMO


def test_call_headers(client):
    r = call(client, POST_MESSAGE, {"channel": "random", "text": "hi"})
    assert int(r.headers["x-credits"]) >= 0
    other = call(client, POST_MESSAGE, {"channel": "random", "text": "hi"})
    assert r.headers["x-session-id"] != other.headers["x-session-id"]


# -- the calls log ------------------------------------------------------------------------------
def test_only_executed_calls_are_logged(client, app, clock):
    connect(client, USER_ID, "hubspot")
    ok = [
        (POST_MESSAGE, {"channel": "random", "text": "hi"}, "200"),
        ("/functions/hubspot-create-deal/call/", {"properties": {"dealname": "D"}}, "201"),
        ("/functions/hubspot-list-properties/call/", {"object_type": "contacts"}, "200"),
        ("/functions/hubspot-list-properties/call/", {"object_type": "tickets"}, "400"),
        ("/functions/pipedrive-passthrough-request/call/",
         {"method": "DELETE", "url": "https://api.pipedrive.com/v1/persons/1"}, "204"),
    ]
    refused = [
        (POST_MESSAGE, {"channel": "random"}, {}),
        ("/functions/gmail-list-records/call/", {}, {}),            # not connected
        ("/functions/nope/call/", {}, {}),                          # unknown function
        (POST_MESSAGE, {"channel": "random", "text": "x"},
         {"headers": {"Hash": "0" * 64}}),                          # not signed
        (POST_MESSAGE, {"channel": "random", "text": "x"},
         {"params": {"allow_workspace_connected_accounts": "false"}}),
    ]
    for path, body, code in ok:
        r = call(client, path, body)
        assert r.status_code == 200 and r.json()["network_code"] == code, r.text
        clock.advance(1)
    for path, body, kw in refused:
        assert call(client, path, body, **kw).status_code in (400, 403, 404)
    entries = logged(app)
    assert [(e["function"], e["network_code"]) for e in entries] == [
        (path.split("/")[2], code) for path, _, code in ok]
    assert [e["at"] for e in entries] == [clock.time() - 5 + i for i in range(5)]
    assert set(store(app).calls) == {USER_ID}


def test_the_log_is_per_user_and_per_tenant(client, app):
    call(client, POST_MESSAGE, {"channel": "random", "text": "a"}, user_id="u1")
    call(client, POST_MESSAGE, {"channel": "random", "text": "b"}, user_id="u2")
    assert [len(logged(app, u)) for u in ("u1", "u2", USER_ID)] == [1, 1, 0]


# -- hypothesis: a body the schema refuses changes nothing ----------------------------------------
FUNCTIONS = ["slack-post-message", "slack-list-conversations", "hubspot-list-properties",
             "hubspot-create-contact", "pipedrive-passthrough-request", "pipedrive-list-records",
             "pipedrive-create-record"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=6)


@st.composite
def bodies(draw, fn: dict[str, Any]) -> dict[str, Any]:
    names = list(fn["parameters"]["properties"]) + ["extra"]
    keys = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    return {k: draw(json_values) for k in keys}


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(FUNCTIONS), user=st.sampled_from([USER_ID,
                                                                               "nobody"]))
def test_a_body_the_schema_refuses_changes_nothing(client, app, data, name, user):
    fn = app.vendors["integry"].template.functions_by_name[name]
    body = data.draw(bodies(fn))
    assume(not Draft7Validator(fn["parameters"]).is_valid(body))
    before = snapshot(app)
    r = call(client, f"/functions/{name}/call/", body, user_id=user)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == CALL_INVALID
    details = r.json()["error_details"]
    assert details and set(details) <= set(fn["parameters"]["properties"])
    assert snapshot(app) == before


def test_a_form_encoded_call(client):
    r = client.post("/integry" + POST_MESSAGE, data={"channel": "random", "text": "form"},
                    headers=headers())
    assert r.status_code == 200
    assert r.json()["output"]["message"]["text"] == "form"


# -- the Slack post's answer, rendered once per (channel, clock time, text) ----------------------
def _post(client, channel: str, text: str) -> dict[str, Any]:
    r = call(client, POST_MESSAGE, {"channel": channel, "text": text})
    assert r.status_code == 200, r.text
    return r.json()["output"]


def test_a_repeated_post_answers_as_the_first_and_is_kept_again(client, app):
    first = _post(client, "random", "hi")
    assert _post(client, "random", "hi") == first
    assert [m["text"] for m in store(app).slack[first["channel"]]] == ["hi", "hi"]


def test_each_text_channel_and_instant_is_its_own_answer(client, app):
    a = _post(client, "random", "one")
    b = _post(client, "random", "two")
    c = _post(client, "general", "one")
    app.clock.advance(1.5)
    d = _post(client, "random", "one")
    assert (a["message"]["text"], b["message"]["text"], c["message"]["text"]) == \
        ("one", "two", "one")
    assert a["channel"] != c["channel"]
    assert (a["ts"], d["ts"]) == ("1705314600.000000", "1705314601.500000")
    assert {m["ts"] for m in store(app).slack[a["channel"]]} == {a["ts"], d["ts"]}


def test_a_long_text_is_answered_but_not_kept_in_the_render_memo(client):
    from mockserver.vendors.integry import backends
    text = "x" * (backends.RENDERED_TEXT_MAX + 1)
    assert _post(client, "random", text)["message"]["text"] == text
    rendered = client.app.vendors["integry"].service.rendered
    assert all(len(key[2]) <= backends.RENDERED_TEXT_MAX for key in rendered)
