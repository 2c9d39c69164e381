"""Followers' aliases and tags (POST/GET /api/v3/alias, POST/DELETE /api/v3/tag): Spring's
@RequestParam binding, the documented rules, Basic auth and Spring MVC routing."""
from __future__ import annotations

import base64

import pytest

from .conftest import APP_KEY, APP_SECRET, BASE, FREE_KEY, SANDBOX, add_subscriber, documented, \
    push, push_body, site, stats

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TIMESTAMP = "2024-01-15T10:30:00.000+0000"
WRITES = [("POST", "alias"), ("POST", "tag"), ("DELETE", "tag")]
ROUTES = WRITES + [("GET", "alias")]
FOLLOWER = "someregid"   # active, tags ["tagname", "tag1"], no alias
NO_FOLLOWER = documented("no-follower.response")


def missing(name: str, path: str) -> dict:
    return {"timestamp": TIMESTAMP, "status": 400, "error": "Bad Request",
            "message": f"Required String parameter '{name}' is not present", "path": path}


def wrong(description: str) -> dict:
    return {"httpStatus": "UNPROCESSABLE_ENTITY", "error": "Incomplete by wrong param(s)!",
            "errorDescription": description}


def bad_auth(key: str) -> dict:
    return {"status": "incomplete by bad auth",
            "error_message": f"There is no web site with appKey: {key}"}


def call(client, method: str, path: str, query: str = "", form: bytes | None = None, **kw):
    url = f"{BASE}/{path}" + (f"?{query}" if query else "")
    if form is not None:
        kw["content"] = form
        kw["headers"] = {**FORM, **kw.get("headers", {})}
    kw.setdefault("auth", SANDBOX)
    return client.request(method, url, **kw)


def alias_of(client, reg_id: str) -> dict:
    r = client.get(f"{BASE}/alias", params={"regId": reg_id}, auth=SANDBOX)
    assert r.status_code == 200, r.text
    return r.json()


def tags_of(app, reg_id: str = FOLLOWER) -> list[str]:
    return site(app).followers[reg_id].tags


def assert_empty_ok(r) -> None:
    assert r.status_code == 200, r.text
    assert r.content == b""
    # a void Spring handler's answer: exactly these headers, in this order
    assert r.headers.raw == [(b"content-length", b"0"),
                             (b"vary", b"Origin, Access-Control-Request-Method, "
                                       b"Access-Control-Request-Headers")]


# -- where parameters come from ------------------------------------------------------------------
@pytest.mark.parametrize("source", ["query", "form", "both"])
def test_alias_params_from_query_and_form(client, source):
    query, form = {"query": ("regId=someregid&name=fromsrc", None),
                   "form": ("", b"regId=someregid&name=fromsrc"),
                   "both": ("regId=someregid", b"name=fromsrc")}[source]
    assert_empty_ok(call(client, "POST", "alias", query, form))
    assert alias_of(client, FOLLOWER) == {"regIdExists": "true", "aliasExists": "true",
                                          "isActiveFollower": "true", "alias": "fromsrc"}


@pytest.mark.parametrize("source", ["query", "form"])
def test_tag_add_and_delete_params_from_query_and_form(client, app, source):
    def send(method):
        if source == "query":
            return call(client, method, "tag", "regId=someregid&name=fresh")
        return call(client, method, "tag", form=b"regId=someregid&name=fresh")

    assert_empty_ok(send("POST"))
    assert tags_of(app) == ["tagname", "tag1", "fresh"]
    assert_empty_ok(send("DELETE"))
    assert tags_of(app) == ["tagname", "tag1"]


def test_get_alias_reads_the_query_string(client):
    assert alias_of(client, "okf8kj589ktGF5g3gF")["alias"] == "alias1"


@pytest.mark.parametrize("method, path", WRITES)
def test_a_json_body_binds_nothing(client, app, method, path):
    before = list(tags_of(app))
    r = client.request(method, f"{BASE}/{path}", json={"regId": FOLLOWER, "name": "json"},
                       auth=SANDBOX)
    assert r.status_code == 400
    assert r.json() == missing("regId", f"/api/v3/{path}")
    assert tags_of(app) == before and site(app).followers[FOLLOWER].alias is None


def test_a_form_body_with_charset_binds(client, app):
    r = call(client, "POST", "tag", form=b"regId=someregid&name=cs",
             headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    assert_empty_ok(r)
    assert tags_of(app)[-1] == "cs"


def test_a_form_body_is_not_read_by_get(client):
    r = call(client, "GET", "alias", form=b"regId=someregid")
    assert r.status_code == 400
    assert r.json() == missing("regId", "/api/v3/alias")


def test_repeated_parameters_are_joined_with_commas(client):
    assert add_subscriber(client, regId="a,b").status_code == 201
    assert_empty_ok(call(client, "POST", "alias", "regId=a&regId=b&name=x&name=y"))
    assert alias_of(client, "a,b")["alias"] == "x,y"
    # query values come first, then the form's
    assert_empty_ok(call(client, "POST", "alias", "regId=a&name=q", b"regId=b&name=f"))
    assert alias_of(client, "a,b")["alias"] == "q,f"
    r = call(client, "POST", "alias", "regId=a&regId=c&name=x")
    assert r.status_code == 422
    assert r.json() == NO_FOLLOWER


def test_plus_and_escapes_decode_as_tomcat_does(client):
    assert_empty_ok(call(client, "POST", "alias", "regId=someregid&name=a+b%2Bc%20d%C3%A9"))
    assert alias_of(client, FOLLOWER)["alias"] == "a b+c dé"


@pytest.mark.parametrize("query, name", [
    ("regId=%zzsomeregid&name=x", "regId"),        # bad escape pair: ignored
    ("regId=someregid%2&name=x", "regId"),          # truncated escape: ignored
    ("regId=someregid&name=%E0%A4", "name"),       # broken UTF-8: ignored
    ("reg%Id=someregid&name=x", "regId"),           # a bad escape in the name too
])
def test_a_badly_escaped_pair_is_ignored(client, query, name):
    r = call(client, "POST", "alias", query)
    assert r.status_code == 400
    assert r.json() == missing(name, "/api/v3/alias")
    assert alias_of(client, FOLLOWER)["aliasExists"] == "false"


# -- missing parameters ----------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("query", ["", "name=x", "regId=", "regId=&name=x", "regid=someregid"])
def test_missing_regid(client, method, path, query):
    r = call(client, method, path, query)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json() == missing("regId", f"/api/v3/{path}")


@pytest.mark.parametrize("method, path", WRITES)
@pytest.mark.parametrize("query", ["regId=someregid", "regId=someregid&name=",
                                   "regId=someregid&Name=x"])
def test_missing_name(client, method, path, query):
    r = call(client, method, path, query)
    assert r.status_code == 400
    assert r.json() == missing("name", f"/api/v3/{path}")


def test_missing_regid_is_reported_before_missing_name_and_unknown_follower(client):
    r = call(client, "POST", "tag", "")
    assert r.json()["message"] == "Required String parameter 'regId' is not present"
    r = call(client, "POST", "tag", "regId=nobody")
    assert r.status_code == 400
    assert r.json() == missing("name", "/api/v3/tag")


def test_missing_parameter_timestamp_follows_the_mock_clock(client, clock):
    clock.advance(61.25)
    r = call(client, "POST", "alias", "")
    assert r.json()["timestamp"] == "2024-01-15T10:31:01.250+0000"


# -- the documented 422s -------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", WRITES)
def test_unknown_follower(client, method, path):
    r = call(client, method, path, form=b"regId=SOMEREGID&name=x")  # regIds are case-sensitive
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/json"
    assert r.json() == NO_FOLLOWER


def test_unknown_follower_in_get_alias(client):
    assert alias_of(client, "SOMEREGID") == documented("alias-no-regid.response")
    assert alias_of(client, "r" * 256) == documented("alias-no-regid.response")


@pytest.mark.parametrize("method, path", WRITES)
def test_name_of_256_characters_is_refused(client, app, method, path):
    before = site(app).followers[FOLLOWER].to_json()
    r = call(client, method, path, form=f"regId={FOLLOWER}&name={'n' * 256}".encode())
    assert r.status_code == 422
    assert r.json() == wrong("Max alias length is 255!")  # the doc's text for tags as well
    assert site(app).followers[FOLLOWER].to_json() == before


@pytest.mark.parametrize("method, path", WRITES)
def test_name_length_is_checked_before_the_follower(client, method, path):
    r = call(client, method, path, f"regId=nobody&name={'n' * 256}")
    assert r.json() == wrong("Max alias length is 255!")


def test_name_length_counts_utf16_units(client, app):
    emoji = "\U0001F600"
    r = client.post(f"{BASE}/tag", params={"regId": FOLLOWER, "name": emoji * 128}, auth=SANDBOX)
    assert r.status_code == 422
    assert r.json() == wrong("Max alias length is 255!")
    r = client.post(f"{BASE}/tag", params={"regId": FOLLOWER, "name": emoji * 127 + "x"},
                    auth=SANDBOX)
    assert_empty_ok(r)
    assert tags_of(app)[-1] == emoji * 127 + "x"


def test_alias_of_255_characters(client):
    name = "a" * 255
    assert_empty_ok(call(client, "POST", "alias", f"regId={FOLLOWER}&name={name}"))
    assert alias_of(client, FOLLOWER)["alias"] == name


def test_tag_of_255_characters(client, app):
    name = "t" * 255
    assert_empty_ok(call(client, "POST", "tag", f"regId={FOLLOWER}&name={name}"))
    assert tags_of(app) == ["tagname", "tag1", name]
    assert_empty_ok(call(client, "DELETE", "tag", f"regId={FOLLOWER}&name={name}"))
    assert tags_of(app) == ["tagname", "tag1"]


def test_delete_a_tag_the_follower_lacks(client, app):
    r = call(client, "DELETE", "tag", f"regId={FOLLOWER}&name=news")  # another follower's tag
    assert r.status_code == 422
    assert r.json() == documented("tag-not-on-follower.response")
    assert_empty_ok(call(client, "DELETE", "tag", f"regId={FOLLOWER}&name=tag1"))
    r = call(client, "DELETE", "tag", f"regId={FOLLOWER}&name=tag1")  # twice
    assert r.status_code == 422
    assert r.json() == wrong("The follower doesn't have this tag!")
    assert tags_of(app) == ["tagname"]


# -- tags and aliases as stored ------------------------------------------------------------------
def test_tags_deduplicate_case_insensitively_keeping_the_first_spelling(client, app):
    assert_empty_ok(call(client, "POST", "tag", f"regId={FOLLOWER}&name=News"))
    assert_empty_ok(call(client, "POST", "tag", f"regId={FOLLOWER}&name=NEWS"))
    assert_empty_ok(call(client, "POST", "tag", f"regId={FOLLOWER}&name=TAG1"))
    assert tags_of(app) == ["tagname", "tag1", "News"]
    assert_empty_ok(call(client, "DELETE", "tag", f"regId={FOLLOWER}&name=news"))
    assert tags_of(app) == ["tagname", "tag1"]
    r = call(client, "DELETE", "tag", f"regId={FOLLOWER}&name=News")
    assert r.json() == wrong("The follower doesn't have this tag!")


def test_an_added_tag_is_an_audience(client, app):
    name = "brand-new-tag"
    body = {**push_body(), "audience": {"tags": [name]}}
    assert stats(client, push(client, body).json()["id"]).json()["send"] == 0
    assert_empty_ok(call(client, "POST", "tag", f"regId={FOLLOWER}&name={name}"))
    assert stats(client, push(client, body).json()["id"]).json()["send"] == 1
    assert_empty_ok(call(client, "DELETE", "tag", f"regId={FOLLOWER}&name={name.upper()}"))
    assert stats(client, push(client, body).json()["id"]).json()["send"] == 0


def test_alias_replaces_the_previous_one(client, app):
    assert_empty_ok(call(client, "POST", "alias", f"regId={FOLLOWER}&name=first-alias"))
    assert alias_of(client, FOLLOWER)["alias"] == "first-alias"
    assert_empty_ok(call(client, "POST", "alias", f"regId={FOLLOWER}&name=second-alias"))
    assert alias_of(client, FOLLOWER) == {"regIdExists": "true", "aliasExists": "true",
                                          "isActiveFollower": "true", "alias": "second-alias"}

    def reached(alias):
        r = push(client, {**push_body(), "audience": {"aliases": [alias]}})
        return stats(client, r.json()["id"]).json()["send"]

    assert reached("first-alias") == 0
    assert reached("second-alias") == 1


def test_aliases_are_case_sensitive(client):
    assert_empty_ok(call(client, "POST", "alias", f"regId={FOLLOWER}&name=MixedCase"))
    r = push(client, {**push_body(), "audience": {"aliases": ["mixedcase"]}})
    assert stats(client, r.json()["id"]).json()["send"] == 0


def test_inactive_follower_keeps_its_alias_and_takes_tags(client, app):
    inactive = "okf8kj589ktGF5g3gF#gf3#46g^^6gfGfgfgfg%g5g"
    r = client.post(f"{BASE}/tag", params={"regId": inactive, "name": "x"}, auth=SANDBOX)
    assert_empty_ok(r)
    assert tags_of(app, inactive) == ["tag2", "x"]
    assert alias_of(client, inactive) == documented("alias-inactive.response")


# -- auth ----------------------------------------------------------------------------------------
def basic_header(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


@pytest.mark.parametrize("method, path", ROUTES)
def test_no_credentials(client, method, path):
    r = call(client, method, path, "regId=someregid&name=x", auth=None)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/json"
    assert r.json() == bad_auth("null")


@pytest.mark.parametrize("method, path", ROUTES)
def test_auth_is_checked_before_parameters(client, method, path):
    r = call(client, method, path, "", auth=None)
    assert r.status_code == 403
    assert r.json() == bad_auth("null")


@pytest.mark.parametrize("method, path", ROUTES)
def test_unknown_key_is_named(client, method, path):
    r = call(client, method, path, "regId=someregid&name=x", auth=("no-such-key", APP_SECRET))
    assert r.status_code == 403
    assert r.json() == bad_auth("no-such-key")


@pytest.mark.parametrize("key", [APP_KEY, FREE_KEY])
def test_right_key_wrong_secret_names_the_key(client, app, key):
    r = call(client, "POST", "tag", "regId=someregid&name=x", auth=(key, "wrong-secret"))
    assert r.status_code == 403
    assert r.json() == bad_auth(key)
    assert tags_of(app) == ["tagname", "tag1"]


@pytest.mark.parametrize("headers", [
    {"Authorization": "Basic !!!not-base64!!!"},
    {"Authorization": "Basic " + base64.b64encode(b"no-colon-here").decode()},
    {"Authorization": f"Bearer {APP_KEY}"},
    {"Authorization": ""},
])
def test_unreadable_credentials_are_null(client, headers):
    r = call(client, "GET", "alias", "regId=someregid", auth=None, headers=headers)
    assert r.status_code == 403
    assert r.json() == bad_auth("null")


def test_basic_scheme_is_case_insensitive_and_empty_secret_is_wrong(client):
    raw = base64.b64encode(f"{APP_KEY}:{APP_SECRET}".encode()).decode()
    r = call(client, "GET", "alias", "regId=someregid", auth=None,
             headers={"Authorization": f"basic {raw}"})
    assert r.status_code == 200
    r = call(client, "GET", "alias", "regId=someregid", auth=None,
             headers=basic_header(f"{APP_KEY}:"))
    assert r.json() == bad_auth(APP_KEY)
    r = call(client, "GET", "alias", "regId=someregid", auth=None,
             headers=basic_header(f":{APP_SECRET}"))
    assert r.json() == bad_auth("")


def test_credentials_in_the_query_string_are_not_credentials(client):
    r = call(client, "GET", "alias", f"regId=someregid&appKey={APP_KEY}&appSecret={APP_SECRET}",
             auth=None)
    assert r.status_code == 403
    assert r.json() == bad_auth("null")


# -- routing -------------------------------------------------------------------------------------
def test_host_header_routes_without_prefix_identically(client):
    host = "http://uapi.gravitec.net"
    assert_empty_ok(client.post(f"{host}/api/v3/tag?regId=someregid&name=viahost", auth=SANDBOX))
    r = client.get(f"{host}/api/v3/alias?regId=someregid", auth=SANDBOX)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == client.get(f"{BASE}/alias?regId=someregid", auth=SANDBOX).content
    r = client.post(f"{host}/api/v3/alias?regId=someregid", auth=SANDBOX)
    assert r.status_code == 400
    assert r.json() == missing("name", "/api/v3/alias")  # the vendor's own path either way
    r = client.get(f"{host}/api/v3/alias?regId=someregid")
    assert r.json() == bad_auth("null")
    # the prefixed path is not a Gravitec path on its own host
    r = client.get(f"{host}/gravitec/api/v3/alias?regId=someregid", auth=SANDBOX)
    assert r.status_code == 404
    assert r.json()["path"] == "/gravitec/api/v3/alias"


def test_host_header_is_case_insensitive_and_may_carry_a_port(client):
    r = client.get(f"{BASE}/alias?regId=someregid", auth=SANDBOX)
    for host in ("UAPI.Gravitec.NET", "uapi.gravitec.net:443"):
        got = client.get("http://mock.test/api/v3/alias?regId=someregid", auth=SANDBOX,
                         headers={"Host": host})
        assert got.status_code == 200, host
        assert got.content == r.content


@pytest.mark.parametrize("method, path", ROUTES)
def test_trailing_slash_matches(client, method, path):
    r = call(client, method, f"{path}/", "regId=someregid&name=tag1")
    if method == "GET":
        assert r.status_code == 200
        assert r.json() == documented("alias-no-alias.response")
    else:
        assert_empty_ok(r)


def test_trailing_slash_in_error_paths(client):
    r = call(client, "POST", "alias/", "regId=someregid")
    assert r.json() == missing("name", "/api/v3/alias/")


@pytest.mark.parametrize("path", ["/api/v3/Alias", "/API/v3/alias", "/api/V3/tag",
                                  "/api/v3/ALIAS/"])
def test_paths_are_case_sensitive(client, path):
    r = client.get(f"/gravitec{path}?regId=someregid", auth=SANDBOX)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"timestamp": TIMESTAMP, "status": 404, "error": "Not Found",
                        "message": "No message available", "path": path}


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/api/v3/tag", "POST, DELETE, OPTIONS"),
    ("GET", "/api/v3/tag", "POST, DELETE, OPTIONS"),
    ("PATCH", "/api/v3/tag/", "POST, DELETE, OPTIONS"),
    ("DELETE", "/api/v3/alias", "GET, HEAD, POST, OPTIONS"),
    ("GET", "/api/v3/push", "POST, OPTIONS"),
    ("POST", "/api/v3/messages/1", "GET, HEAD, OPTIONS"),
])
def test_wrong_method_is_405_with_allow(client, method, path, allow):
    r = client.request(method, f"/gravitec{path}?regId=someregid&name=x", auth=SANDBOX)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"timestamp": TIMESTAMP, "status": 405, "error": "Method Not Allowed",
                        "message": f"Request method '{method}' not supported", "path": path}


@pytest.mark.parametrize("method, path, allow", [
    ("OPTIONS", "/api/v3/tag", "POST,DELETE,OPTIONS"),
    ("OPTIONS", "/api/v3/push/", "POST,OPTIONS"),
    ("OPTIONS", "/api/v3/messages/1", "GET,HEAD,OPTIONS"),
])
def test_options_lists_the_methods(client, method, path, allow):
    """Spring MVC answers OPTIONS itself: 200, no body, `Allow`."""
    r = client.request(method, f"/gravitec{path}")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["allow"] == allow


def test_repeated_slashes_are_one(client):
    """Spring's UrlPathHelper sanitizes `//` to `/` before matching."""
    r = client.get("/gravitec//api//v3/alias//?regId=someregid", auth=SANDBOX)
    assert r.status_code == 200 and r.json()["regIdExists"] == "true"


@pytest.mark.parametrize("path", ["/nope", "/api/v3", "/api/v2/push", "/api/v3/alias/x",
                                  "/api/v3/messages/1/x", "/"])
def test_unknown_path_is_404(client, path):
    for auth in (SANDBOX, None):
        r = client.get(f"/gravitec{path}", auth=auth)
        assert r.status_code == 404
        assert r.json() == {"timestamp": TIMESTAMP, "status": 404, "error": "Not Found",
                            "message": "No message available", "path": path}


def test_json_answers_are_exactly_application_json(client):
    responses = [
        call(client, "GET", "alias", "regId=someregid"),            # 200
        call(client, "POST", "alias", "regId=someregid"),           # 400
        call(client, "POST", "tag", "regId=nobody&name=x"),         # 422
        call(client, "POST", "tag", "regId=x&name=x", auth=None),   # 403
        client.get("/gravitec/nope"),                               # 404
        client.put(f"{BASE}/tag"),                                  # 405
        push(client),                                               # 200
    ]
    for r in responses:
        assert r.headers["content-type"] == "application/json", r.request.url
        assert r.content.startswith(b"{")
