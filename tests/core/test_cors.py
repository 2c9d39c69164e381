"""CORS: each vendor answers a browser app as its framework's CORS middleware does.

The preflights are the real browser clients' own: Chrome lists the non-safelisted headers a
`fetch` sets, lower-cased and sorted, in Access-Control-Request-Headers.
"""
from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mockserver import create_app
from mockserver.cli import parse_args, parse_origins
from tests.conftest import MockClient

APP = "https://app.example.com"
EVIL = "https://evil.example"
SPRING_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

# vendor -> (path, method, requested headers) as its browser client sends them
GRAVITEC_AUTH = "Basic " + base64.b64encode(
    b"1e26f7bb3f81e1ab789d3e20b9cf6325:9bb59fcbff38b85647c421c65cca06ce").decode()

BROWSER = {
    # passage-web-react: createIntentToken, checkResourceData, validate
    "gravy": [("/gravy/intent-token", "POST", "authorization,content-type"),
              ("/gravy/connections/conn_1/trips", "GET", "content-type,x-intent-token"),
              ("/gravy/intent-token/validate", "POST", "content-type")],
    "gravitec": [("/gravitec/api/v3/push", "POST", "authorization,content-type"),
                 ("/gravitec/api/v3/tag", "DELETE", "authorization")],
    "groove": [("/groove/api/public/v1/graphql", "POST", "authorization,content-type"),
               ("/groove/oauth/token", "POST", "content-type")],
    # the signed-call headers (App-Key, User-ID, Hash), or the Node SDK's query form
    "integry": [("/integry/functions/list/", "POST", "app-key,content-type,hash,user-id"),
                ("/integry/apps/list", "POST", "content-type"),
                # @integry/sdk's callFunction() with a function version
                ("/integry/functions/slack-post-message/call/", "POST", "content-type,version")],
}
CASES = [(v, *c) for v, cs in BROWSER.items() for c in cs]


def preflight(client, path, method, headers, origin=APP, **kw):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return client.request("OPTIONS", path, headers=h, **kw)


@pytest.fixture
def narrowed(clock):
    c = MockClient(create_app(seed=0, clock=clock, cors_origins=[APP]))
    yield c
    c.close()


def browser_allows(r, origin, method, headers) -> bool:
    """What a browser checks on a preflight answer (no credentials)."""
    if not 200 <= r.status_code < 300:
        return False
    acao = r.headers.get("access-control-allow-origin")
    if acao not in ("*", origin):
        return False
    methods = [m.strip() for m in r.headers.get("access-control-allow-methods", "").split(",")]
    safelisted = method in ("GET", "HEAD", "POST")
    allowed_h = {h.strip().lower() for h in r.headers.get("access-control-allow-headers", "")
                 .split(",")}
    asked = {h for h in headers.split(",") if h}
    return (safelisted or method in methods or "*" in methods) and \
        (asked <= allowed_h or "*" in allowed_h)


@pytest.mark.parametrize("vendor,path,method,headers", CASES)
def test_every_browser_client_passes_its_preflight_by_default(client, vendor, path, method,
                                                              headers):
    r = preflight(client, path, method, headers)
    assert browser_allows(r, APP, method, headers), (r.status_code, dict(r.headers))
    assert r.content == b""


@pytest.mark.parametrize("vendor,path,method,headers", CASES)
def test_a_listed_origin_passes_its_preflight(narrowed, vendor, path, method, headers):
    r = preflight(narrowed, path, method, headers)
    assert browser_allows(r, APP, method, headers)
    assert r.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize("vendor,path,method,headers", CASES)
def test_an_unlisted_origin_is_refused_as_its_framework_refuses(narrowed, vendor, path, method,
                                                                headers):
    r = preflight(narrowed, path, method, headers, origin=EVIL, check=vendor != "gravitec")
    assert not browser_allows(r, EVIL, method, headers)
    assert "access-control-allow-origin" not in r.headers
    status = {"gravy": 204, "gravitec": 403, "groove": 200, "integry": 200}[vendor]
    assert r.status_code == status
    if vendor == "gravitec":
        assert r.content == b"Invalid CORS request"
    else:
        assert r.content == b""


def test_gravy_preflight_is_the_cors_packages_answer(client, narrowed):
    r = preflight(client, "/gravy/intent-token", "POST", "authorization,content-type")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert r.headers["access-control-allow-headers"] == "authorization,content-type"
    assert r.headers["vary"] == "Access-Control-Request-Headers"
    assert r.headers["content-length"] == "0"
    assert r.headers["x-powered-by"] == "Express"
    assert "access-control-max-age" not in r.headers
    assert "access-control-allow-credentials" not in r.headers
    # the middleware answers every OPTIONS, before routing
    assert client.request("OPTIONS", "/gravy/nowhere").status_code == 204
    r = preflight(narrowed, "/gravy/intent-token", "POST", "content-type")
    assert r.headers["vary"] == "Origin, Access-Control-Request-Headers"


def test_gravitec_preflight_is_spring_crossorigin(client):
    r = preflight(client, "/gravitec/api/v3/tag", "DELETE", "authorization")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-methods"] == "DELETE"
    assert r.headers["access-control-allow-headers"] == "authorization"
    assert r.headers["access-control-max-age"] == "1800"
    assert r.headers["vary"] == SPRING_VARY
    # a method the path does not map: Spring's OPTIONS handler has no CORS config
    r = preflight(client, "/gravitec/api/v3/tag", "PUT", "", check=False)
    assert (r.status_code, r.content) == (403, b"Invalid CORS request")
    # no handler at all: Spring Boot's 404
    assert preflight(client, "/gravitec/api/v3/nothing", "POST", "").status_code == 404
    # without Origin it is Spring MVC's plain OPTIONS answer
    r = client.request("OPTIONS", "/gravitec/api/v3/tag")
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_groove_preflight_is_rack_cors(client, narrowed):
    r = preflight(client, "/groove/api/public/v1/graphql", "POST", "authorization,content-type")
    assert r.status_code == 200
    assert r.headers["access-control-allow-methods"] == \
        "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
    assert r.headers["access-control-max-age"] == "7200"
    assert r.headers["access-control-allow-headers"] == "authorization,content-type"
    assert "content-type" not in r.headers
    r = preflight(narrowed, "/groove/api/public/v1/graphql", "POST", "", origin=EVIL)
    assert (r.status_code, r.content) == (200, b"")
    assert not [h for h in r.headers if h.startswith("access-control")]


def test_integry_preflight_is_django_cors_headers(client):
    r = preflight(client, "/integry/functions/list/", "POST", "app-key,content-type,hash,user-id")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["access-control-allow-methods"] == "DELETE, GET, OPTIONS, PATCH, POST, PUT"
    assert r.headers["access-control-allow-headers"].startswith(
        "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with")
    assert r.headers["access-control-max-age"] == "86400"
    assert r.headers["vary"] == "origin"
    assert "allow" not in r.headers   # the DRF view is never reached
    # the middleware answers a preflight with or without Origin
    r = client.request("OPTIONS", "/integry/apps/list",
                       headers={"Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


# -- actual requests ---------------------------------------------------------------------------
ACTUAL = {
    "gravy": ("GET", "/gravy/integrations", {}),
    "gravitec": ("POST", "/gravitec/api/v3/tag?regId=someregid&name=t",
                 {"Authorization": GRAVITEC_AUTH}),
    "groove": ("POST", "/groove/api/public/v1/graphql", {}),
    "integry": ("POST", "/integry/apps/list", {}),
}
VARY = {"gravy": None, "gravitec": SPRING_VARY, "groove": "Origin", "integry": "origin"}


@pytest.mark.parametrize("vendor", ACTUAL)
def test_an_actual_request_with_origin_gets_allow_origin(client, narrowed, vendor):
    method, path, headers = ACTUAL[vendor]
    r = client.request(method, path, headers={**headers, "Origin": APP})
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers.get("vary") == VARY[vendor]
    r = narrowed.request(method, path, headers={**headers, "Origin": APP})
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["vary"] == (VARY[vendor] or "Origin")
    assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize("vendor", ACTUAL)
def test_an_unlisted_origins_actual_request(narrowed, vendor):
    method, path, headers = ACTUAL[vendor]
    before = len(narrowed.app.journal.calls)
    r = narrowed.request(method, path, headers={**headers, "Origin": EVIL},
                         check=vendor != "gravitec")
    assert "access-control-allow-origin" not in r.headers
    if vendor == "gravitec":   # refused before the handler runs
        assert (r.status_code, r.content) == (403, b"Invalid CORS request")
    else:                      # answered; the browser hides the answer from the page
        assert r.status_code < 500
    assert len(narrowed.app.journal.calls) == before + 1   # journaled like any vendor request


@pytest.mark.parametrize("vendor", ACTUAL)
def test_without_origin_only_the_frameworks_unconditional_headers(client, narrowed, vendor):
    method, path, headers = ACTUAL[vendor]
    r = client.request(method, path, headers=headers)
    cors = {k for k in r.headers if k.startswith("access-control")}
    # the cors package's "*" goes on every response, Origin or not; the others send nothing
    assert cors == ({"access-control-allow-origin"} if vendor == "gravy" else set())
    r = narrowed.request(method, path, headers=headers)
    assert not [k for k in r.headers if k.startswith("access-control")]


def test_spring_same_origin_is_not_cors(narrowed):
    r = narrowed.post("/gravitec/api/v3/tag?regId=someregid&name=t",
                      headers={"Origin": "http://mock.test", "Authorization": GRAVITEC_AUTH})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_admin_has_no_cors(client):
    r = client.get("/__admin/health", headers={"Origin": APP})
    assert "access-control-allow-origin" not in r.headers


# -- hostile input -----------------------------------------------------------------------------
HOSTILE = ["", "null", "x" * 100_000, "https://ex\u00e4mple.com", "http://a\x01b", "http://[::1",
           "https://app.example.com\r\nSet-Cookie: a=b", "\x00", "HTTPS://APP.EXAMPLE.COM"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(origin=st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(max_codepoint=255))),
       asked=st.one_of(st.none(), st.sampled_from(["\x00", "a\r\nb", "é" * 300, ""])),
       vendor=st.sampled_from(sorted(BROWSER)), narrow=st.booleans())
def test_hostile_origins_never_500(client, narrowed, origin, asked, vendor, narrow):
    c = narrowed if narrow else client
    path, method, _ = BROWSER[vendor][0]
    raw = [(b"origin", origin.encode("latin-1")), (b"access-control-request-method", b"POST")]
    if asked is not None:
        raw.append((b"access-control-request-headers", asked.encode("latin-1")))
    for verb in ("OPTIONS", method):
        r = c.request(verb, path, headers=raw, check=False)
        assert r.status_code < 500
        for k, v in r.headers.items():
            assert "\r" not in v and "\n" not in v and "\x00" not in v


# -- the command line --------------------------------------------------------------------------
def test_cors_origins_flag_and_environment():
    assert parse_args(["serve"], env={}).cors_origins is None
    assert parse_args(["serve", "--cors-origins", "*"], env={}).cors_origins is None
    args = parse_args(["serve", "--cors-origins", f"{APP}, http://localhost:3000"], env={})
    assert args.cors_origins == [APP, "http://localhost:3000"]
    env = {"MOCKSERVER_CORS_ORIGINS": "http://localhost:5173"}
    assert parse_args(["serve"], env=env).cors_origins == ["http://localhost:5173"]
    assert parse_args(["serve", "--cors-origins", APP], env=env).cors_origins == [APP]
    assert parse_args(["serve"], env={"MOCKSERVER_CORS_ORIGINS": ""}).cors_origins is None


@pytest.mark.parametrize("value", [f"{APP}/", "app.example.com", f"{APP},*", "https://a b",
                                   f"{APP}/path", "https://ex\u00e4mple.com"])
def test_cors_origins_that_no_browser_could_send_exit_2(value, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["serve", "--cors-origins", value], env={})
    assert exc.value.code == 2
    assert "--cors-origins" in capsys.readouterr().err
    with pytest.raises(ValueError):
        parse_origins(value)
