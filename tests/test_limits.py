"""Limits (issue 10): bodies over 1 MiB are 413 in each vendor's own error shape, announced or
chunked; the journal and every per-tenant log stay within their bounds; no secret reaches the
journal or the access log; credential checks are constant-time; `--admin-token` guards every
admin route."""
from __future__ import annotations

import ast
import base64
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from mockserver import create_app
from mockserver.testing import InProcessClient

from .conftest import MockClient
from .gravy.conftest import intent_body
from .integry.conftest import sign
from .test_cli import _serve_info_and_call

MIB = 1024 * 1024
PACKAGE = Path(__file__).resolve().parents[1] / "mockserver"


def stored(http, tenant: str | None = None) -> dict[str, Any]:
    """A tenant's exported state without Groove's rate-limit window: a meter every call moves,
    like the journal, not data."""
    state = http.get("/__admin/state", params={"tenant": tenant} if tenant else {}).json()
    state["vendors"]["groove"].pop("window", None)
    return state


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# == what each vendor needs to reach its body-reading code ===================================
def gravy_token(http: httpx.Client, creds: dict[str, str]) -> str:
    r = http.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                               "client_id": creds["clientId"],
                                               "client_secret": creds["clientSecret"]})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def groove_code(http: httpx.Client, creds: dict[str, str]) -> str:
    r = http.get("/groove/oauth/authorize", params={
        "client_id": creds["clientId"], "redirect_uri": creds["redirectUri"],
        "response_type": "code", "scope": "first-scope", "state": "s"})
    assert r.status_code == 302, r.text
    return dict(httpx.URL(r.headers["location"]).params)["code"]


def groove_tokens(http: httpx.Client, creds: dict[str, str]) -> dict[str, Any]:
    r = http.post("/groove/oauth/token", json={
        "grant_type": "authorization_code", "code": groove_code(http, creds),
        "redirect_uri": creds["redirectUri"], "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]})
    assert r.status_code == 200, r.text
    return r.json()


def integry_headers(creds: dict[str, str], user: str = "123456") -> dict[str, str]:
    return {"App-Key": creds["appKey"], "User-ID": user, "Hash": sign(user, creds["appSecret"])}


# One body-reading call per vendor: (path, headers for the default tenant's credentials).
def _gravy(http, creds):
    return "/gravy/intent-token", {"Authorization": f"Bearer {gravy_token(http, creds)}"}


def _gravy_oauth(http, creds):
    return "/gravy/oauth/token", {}


def _gravitec(http, creds):
    return "/gravitec/api/v3/push", basic(creds["appKey"], creds["appSecret"])


def _groove(http, creds):
    return "/groove/api/public/v1/graphql", {
        "Authorization": f"Bearer {groove_tokens(http, creds)['access_token']}"}


def _groove_oauth(http, creds):
    return "/groove/oauth/token", {}


def _integry(http, creds):
    return "/integry/functions/slack-post-message/call", integry_headers(creds)


def _too_large(vendor: str, path: str, body: dict[str, Any]) -> None:
    """The vendor's own 413 for a body over its limit."""
    if vendor == "gravy":  # body-parser's PayloadTooLargeError as NestJS renders it
        assert body == {"statusCode": 413, "message": "request entity too large",
                        "error": "Payload Too Large"}
    elif vendor == "gravitec":  # Spring Boot's error attributes
        assert set(body) == {"timestamp", "status", "error", "message", "path"}
        assert (body["status"], body["error"], body["message"], body["path"]) == \
            (413, "Payload Too Large", "Maximum upload size exceeded", path)
    elif vendor == "groove":  # Rails' error page as JSON
        assert body == {"status": 413, "error": "Payload Too Large"}
    else:  # DRF: {"detail": ...}
        assert body == {"detail": "Request body is larger than 1 MiB."}


BODY_CALLS = {"gravy-intent-token": ("gravy", _gravy), "gravy-oauth-token": ("gravy", _gravy_oauth),
              "gravitec-push": ("gravitec", _gravitec), "groove-graphql": ("groove", _groove),
              "groove-oauth-token": ("groove", _groove_oauth),
              "integry-call": ("integry", _integry)}


def _big_json() -> bytes:
    return b'{"pad": "' + b"x" * (MIB + 16) + b'"}'


@pytest.mark.parametrize("call", BODY_CALLS)
def test_a_body_over_1_mib_with_content_length_is_413_in_the_vendors_shape(client, call):
    vendor, prepare = BODY_CALLS[call]
    creds = client.get("/__admin/credentials").json()[vendor]
    path, headers = prepare(client, creds)
    before = stored(client)
    r = client.post(path, content=_big_json(),
                    headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/json")
    _too_large(vendor, path.removeprefix("/" + vendor), r.json())
    assert stored(client) == before


def _chunks() -> Iterator[bytes]:
    """A JSON body over 1 MiB streamed in chunks, with no Content-Length."""
    yield b'{"pad": "'
    for _ in range(17):
        yield b"x" * (64 * 1024)
    yield b'"}'


@pytest.mark.parametrize("call", BODY_CALLS)
def test_a_chunked_body_over_1_mib_without_length_is_413_over_the_wire(live, call):
    vendor, prepare = BODY_CALLS[call]
    creds = live.http.get("/__admin/credentials").json()[vendor]
    path, headers = prepare(live.http, creds)
    request = live.http.build_request("POST", path, content=_chunks(),
                                      headers={**headers, "Content-Type": "application/json"})
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    before = stored(live.http)
    r = live.http.send(request)
    assert r.status_code == 413, r.text
    _too_large(vendor, path.removeprefix("/" + vendor), r.json())
    assert stored(live.http) == before


# == bounds ===================================================================================
def test_the_journal_keeps_at_most_its_size_the_newest_first():
    c = MockClient(create_app(seed=0, journal_size=20))
    try:
        for i in range(45):
            c.get(f"/gravy/integrations?n={i}", check=False)
        body = c.get("/__admin/requests", params={"limit": "1000"}).json()
        assert body["total"] == 20 and len(body["requests"]) == 20
        assert [e["query"] for e in body["requests"]] == [f"n={i}" for i in range(44, 24, -1)]
    finally:
        c.close()


@pytest.mark.parametrize("call", BODY_CALLS)
def test_the_journal_keeps_the_body_each_vendor_read(client, call):
    """The body reaches the journal from what the vendor read (no wrapper around receive):
    whole for a small one, the part read before the vendor's 413 for one over its limit."""
    vendor, make = BODY_CALLS[call]
    path, headers = make(client, client.get("/__admin/credentials").json()[vendor])
    small = b'{"probe": "' + call.encode() + b'"}'
    client.post(path, content=small, check=False,
                headers={**headers, "Content-Type": "application/json"})
    last = client.app.journal.last
    assert (last.vendor, last.raw_body) == (vendor, small)
    async def chunked():  # streamed, no Content-Length: read until the limit is passed
        for chunk in _chunks():
            yield chunk

    r = client.post(path, content=chunked(), check=False,
                    headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 413
    kept = client.app.journal.last.raw_body
    assert kept.startswith(b'{"pad": "xxx') and 0 < len(kept) <= 32 * 1024


def test_a_journal_entry_holds_a_bounded_part_of_a_large_body(client):
    big = b'{"prompt": "' + b"y" * (512 * 1024) + b'"}'
    client.post("/integry/functions/predict", content=big, check=False,
                headers={**integry_headers(client.get("/__admin/credentials").json()["integry"]),
                         "Content-Type": "application/json"})
    entry = client.get("/__admin/requests", params={"limit": "1"}).json()["requests"][0]
    assert entry["path"] == "/functions/predict"
    assert 0 < len(entry["request"]["body"]) <= 64 * 1024
    assert len(entry["response"]["body"]) <= 64 * 1024


LIMIT = 3   # --max-sessions for the bounds below
MORE = 7    # operations past it


@pytest.fixture
def small() -> Iterator[MockClient]:
    c = MockClient(create_app(seed=0, max_sessions=LIMIT))
    yield c
    c.close()


def _state(c, vendor: str) -> dict[str, Any]:
    return c.get("/__admin/state").json()["vendors"][vendor]


def test_integry_keeps_the_last_100_calls_of_a_user(client):
    headers = integry_headers(client.get("/__admin/credentials").json()["integry"])
    for i in range(105):
        r = client.post("/integry/functions/slack-post-message/call", headers=headers,
                        json={"channel": "random", "text": f"m{i}"})
        assert r.status_code == 200, r.text
    calls = {u["userId"]: u["calls"] for u in _state(client, "integry")["calls"]}
    assert len(calls["123456"]) == 100


def test_integry_keeps_call_logs_of_at_most_max_sessions_users(small):
    creds = small.get("/__admin/credentials").json()["integry"]
    for i in range(MORE):
        r = small.post("/integry/functions/slack-post-message/call",
                       headers=integry_headers(creds, f"user{i}"),
                       json={"channel": "random", "text": "hi"})
        assert r.status_code == 200, r.text
    users = [u["userId"] for u in _state(small, "integry")["calls"]]
    assert sorted(users) == [f"user{i}" for i in range(MORE - LIMIT, MORE)]


def test_passage_keeps_at_most_max_sessions_links_and_forgets_the_oldest_claim_codes(small):
    auth = {"Authorization": "Bearer " + small.get("/__admin/credentials").json()["passage"]
            ["apiKey"]}
    made = []
    for _ in range(MORE):
        r = small.post("/passage/v1/links", headers=auth, json={
            "integrationId": "tmobile", "resource": "mobileBillingStatement", "action": "read"})
        assert r.status_code == 201, r.text
        made.append(r.json())
    kept = [m["linkId"] for m in made[-LIMIT:]]
    assert [ln["id"] for ln in _state(small, "passage")["links"]] == kept
    assert [ln["id"] for ln in small.get("/passage/v1/links", headers=auth).json()["links"]] \
        == kept[::-1]
    assert small.get(f"/passage/v1/links/{made[0]['linkId']}", headers=auth,
                     check=False).status_code == 404
    assert small.post("/passage/link/claim", json={"code": made[0]["claimCode"]},
                      check=False).status_code == 404
    assert small.post("/passage/link/claim", json={"code": made[-1]["claimCode"]}).status_code \
        == 200


def test_gravitec_keeps_at_most_max_sessions_campaigns(small):
    creds = small.get("/__admin/credentials").json()["gravitec"]
    body = {"payload": {"message": "hi", "title": "t", "redirect_url": "https://example.com"}}
    ids = []
    for _ in range(MORE):
        r = small.post("/gravitec/api/v3/push", json=body,
                       headers=basic(creds["appKey"], creds["appSecret"]))
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    kept = [c["id"] for c in _state(small, "gravitec")["sites"]["main"]["campaigns"]]
    assert kept == ids[-LIMIT:]


def test_gravy_keeps_at_most_max_sessions_tokens_intents_and_minted_connections(small):
    creds = small.get("/__admin/credentials").json()["gravy"]
    tokens = [gravy_token(small, creds) for _ in range(MORE)]
    opened = []
    for _ in range(MORE):
        r = small.post("/gravy/intent-token", json=intent_body(),
                       headers={"Authorization": f"Bearer {tokens[-1]}"})
        assert r.status_code == 201, r.text
        opened.append(r.json()["connectionId"])
    state = _state(small, "gravy")
    assert len(state["tokens"]) <= LIMIT and len(state["intents"]) <= LIMIT
    assert state["minted"] == opened[-LIMIT:]
    ids = {c["id"] for c in state["connections"]}
    assert set(opened[-LIMIT:]) <= ids and not ids & set(opened[:-LIMIT])
    # the oldest token went: it no longer opens anything
    r = small.get("/gravy/connections", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert r.status_code == 401


def test_groove_keeps_at_most_max_sessions_codes_and_tokens(small):
    creds = small.get("/__admin/credentials").json()["groove"]
    for _ in range(MORE):
        token = groove_tokens(small, creds)["access_token"]
        groove_code(small, creds)
        r = small.post("/groove/api/public/v1/graphql", json={"query": "{ flows { id } }"},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
    state = _state(small, "groove")
    assert len(state["codes"]) == len(state["tokens"]) == len(state["refresh"]) == LIMIT
    assert 0 < len(state["window"]) <= LIMIT  # the rate limiter's per-token counts


def test_groove_people_added_stop_at_max_sessions(small):
    statuses = [small.post("/__admin/groove/people",
                           json={"name": f"P{i}", "emailAddress": f"p{i}@x.io"}).status_code
                for i in range(MORE)]
    assert statuses == [201] * LIMIT + [409] * (MORE - LIMIT)


# == secrets ==================================================================================
def secret_calls(http: httpx.Client, admin_token: str | None = None) -> list[str]:
    """Calls that carry every vendor's secrets in every place a client may put them (headers,
    JSON and form bodies, query parameters), and answers that hold issued ones. The secrets."""
    if admin_token:
        http.headers["X-Admin-Token"] = admin_token
    creds = http.get("/__admin/credentials").json()
    http.get("/__admin/health", params={"token": admin_token or "none"})
    gravy, gravitec, groove, integry = (creds[v] for v in
                                         ("gravy", "gravitec", "groove", "integry"))
    secrets = [gravy["clientSecret"], gravitec["appSecret"], groove["clientSecret"]]
    if admin_token:
        secrets.append(admin_token)
    # Gravy: client secret in JSON, in a form, in Basic; a refused one; the bearer token
    token = gravy_token(http, gravy)
    secrets.append(token)
    http.post("/gravy/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": gravy["clientId"],
                                          "client_secret": gravy["clientSecret"]})
    http.post("/gravy/oauth/token", data={"grant_type": "client_credentials"},
              headers=basic(gravy["clientId"], gravy["clientSecret"]))
    http.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                          "client_id": gravy["clientId"],
                                          "client_secret": "refused-gravy-secret-1"})
    secrets.append("refused-gravy-secret-1")
    http.get("/gravy/connections", headers={"Authorization": f"Bearer {token}"})
    # Gravitec: Basic APP_KEY:APP_SECRET
    http.get("/gravitec/api/v3/alias", params={"regId": "someregid"},
             headers=basic(gravitec["appKey"], gravitec["appSecret"]))
    # Groove: code, client secret, access and refresh tokens, in bodies, Basic and the query
    issued = groove_tokens(http, groove)
    secrets += [issued["access_token"], issued["refresh_token"]]
    r = http.post("/groove/oauth/token", data={"grant_type": "refresh_token",
                                               "refresh_token": issued["refresh_token"]},
                  headers=basic(groove["clientId"], groove["clientSecret"]))
    secrets += [r.json()["access_token"], r.json()["refresh_token"]]
    code = groove_code(http, groove)
    secrets.append(code)
    http.post("/groove/oauth/token", params={
        "grant_type": "authorization_code", "code": code, "redirect_uri": groove["redirectUri"],
        "client_id": groove["clientId"], "client_secret": groove["clientSecret"]})
    http.post("/groove/api/public/v1/graphql", json={"query": "{ flows { id } }"},
              headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    # Integry: the Hash header, and the Node SDK's hash query parameter
    secrets.append(sign("123456", integry["appSecret"]))
    http.post("/integry/apps/list", headers=integry_headers(integry))
    http.post("/integry/apps/list", params={"app_key": integry["appKey"], "user_id": "u-q",
                                            "hash": sign("u-q", integry["appSecret"])})
    secrets.append(sign("u-q", integry["appSecret"]))
    return secrets


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text or s in text.replace("\\/", "/")]


def test_no_secret_reaches_the_journal():
    http = InProcessClient(create_app(seed=0))
    try:
        secrets = secret_calls(http)
        listed = http.get("/__admin/requests", params={"limit": "1000"}).json()
        assert listed["total"] >= 14
        each = [http.get(f"/__admin/requests/{e['id']}").json() for e in listed["requests"]]
        text = json.dumps([listed, each], ensure_ascii=False)
        assert "[redacted]" in text
        assert _leaks(text, secrets) == []
    finally:
        http.close()


@pytest.mark.parametrize("form", ["json", "text"])
def test_no_secret_reaches_the_access_log(tmp_path, form):
    found: list[str] = []
    out, err = _serve_info_and_call(
        tmp_path, lambda http: found.extend(secret_calls(http, "adm-s3cret-token")),
        MOCKSERVER_LOG_FORMAT=form, MOCKSERVER_ADMIN_TOKEN="adm-s3cret-token")
    lines = [line for line in (out + err).splitlines() if "/integry/apps/list" in line]
    assert len(lines) == 2  # the log has the calls, query and all
    assert any("hash=" in line for line in lines)
    assert len(found) > 10 and _leaks(out + err, found) == []


# == constant-time credential checks ==========================================================
SECRETISH = re.compile(r"secret|password|passw|hash|token|signature|digest|verifier|hmac", re.I)
# Comparisons that match the pattern but compare no secret, each with the reason.
NOT_SECRET = {
    # the short code was found by dict lookup under that very key: this tells it from a JWT key
    ("vendors/gravy/handlers.py", "session.short_token == code"),
}


def _named(node: ast.AST) -> list[str]:
    """The names a comparison side reads: variables, attributes, string keys."""
    out: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, ast.Attribute):
            out.append(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.append(n.value)
    return out


def _plain_comparisons() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
                continue
            sides = [node.left, *node.comparators]
            # A literal on one side is a keyword check (grant_type == "refresh_token"), not a
            # comparison of two secrets.
            if any(isinstance(s, ast.Constant) for s in sides):
                continue
            if any(SECRETISH.search(name) for s in sides for name in _named(s)):
                source = ast.unparse(node)
                if (rel, source) not in NOT_SECRET:
                    found.append((rel, node.lineno, source))
    return found


def test_no_secret_is_compared_with_eq():
    """Every secret (client secret, app secret, hash, token, admin token) is compared with
    hmac.compare_digest (`same_secret`) or found by a dict lookup, never with == or !=."""
    assert _plain_comparisons() == []


def test_the_audit_catches_a_plain_comparison(tmp_path, monkeypatch):
    (tmp_path / "auth.py").write_text("def ok(given, client_secret):\n"
                                      "    return given == client_secret\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert _plain_comparisons() == [("auth.py", 2, "given == client_secret")]


def test_every_credential_check_calls_compare_digest():
    """The modules that check a secret reach hmac.compare_digest (directly or via
    same_secret), and same_secret is compare_digest."""
    uses = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
            if re.search(r"\b(same_secret|compare_digest)\(", p.read_text())}
    assert {"core/tenancy.py", "admin/__init__.py", "vendors/gravy/auth.py",
            "vendors/gravitec/auth.py", "vendors/integry/auth.py"} <= uses
    # Groove's client secret goes through Tenants.authenticate, which calls same_secret.
    assert "self.tenants.authenticate(" in (PACKAGE / "vendors/groove/auth.py").read_text()
    tenancy = ast.parse((PACKAGE / "core/tenancy.py").read_text())
    same = next(n for n in tenancy.body if isinstance(n, ast.FunctionDef)
                and n.name == "same_secret")
    assert "hmac.compare_digest" in ast.unparse(same)


# == --admin-token ============================================================================
GUARDED = "adm-t0ken"


def _admin_operations() -> list[tuple[str, str]]:
    app = create_app(seed=0)
    c = InProcessClient(app)
    try:
        paths = c.get("/__admin/openapi.json").json()["paths"]
    finally:
        c.close()
    ops = []
    for path, item in sorted(paths.items()):
        for method in sorted(item):
            if method in ("get", "post", "put", "delete", "patch"):
                ops.append((method.upper(), path))
    return ops


ADMIN_OPERATIONS = _admin_operations()


@pytest.fixture(scope="module")
def guarded() -> Iterator[InProcessClient]:
    c = InProcessClient(create_app(seed=0, admin_token=GUARDED))
    yield c
    c.close()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if "id" in m.group(0) else "x", path)


def test_the_admin_document_lists_every_route():
    assert len(ADMIN_OPERATIONS) >= 25
    assert ("PUT", "/__admin/state") in ADMIN_OPERATIONS
    assert ("POST", "/__admin/integry/connected-accounts") in ADMIN_OPERATIONS


@pytest.mark.parametrize("method,path", ADMIN_OPERATIONS,
                         ids=[f"{m}-{p}" for m, p in ADMIN_OPERATIONS])
def test_admin_token_is_required_on_every_admin_route(guarded, method, path):
    url = _concrete(path)
    before = guarded.get("/__admin/state", headers={"X-Admin-Token": GUARDED}).json()
    for headers in ({}, {"X-Admin-Token": "wrong"}, {"X-Admin-Token": ""},
                    {"X-Admin-Token": GUARDED + "x"}):
        r = guarded.request(method, url, headers=headers, json={})
        assert r.status_code == 401, (headers, r.text)
        assert r.json() == {"error": "X-Admin-Token required"}
    r = guarded.request(method, url, params={"token": "wrong"}, json={})
    assert r.status_code == 401
    assert guarded.get("/__admin/state", headers={"X-Admin-Token": GUARDED}).json() == before
    # with it, the route answers (whatever its answer to this made-up call)
    r = guarded.request(method, url, headers={"X-Admin-Token": GUARDED}, json={})
    assert r.status_code != 401, r.text


def test_the_guarded_page_asks_for_the_token(guarded):
    r = guarded.get("/__admin/", headers={"Accept": "text/html"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'name="token"' in r.text and "askToken" in r.text and "admin token" in r.text
    r = guarded.get("/__admin/", params={"token": GUARDED}, headers={"Accept": "text/html"})
    assert r.status_code == 200
