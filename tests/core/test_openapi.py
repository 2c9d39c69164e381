"""The served specs: each REST vendor's OpenAPI 3.1 document (built from contracts/), Groove's SDL,
and the control plane's own OpenAPI document."""
from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from graphql import build_schema
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Mount, Route

from mockserver.core.openapi import COMPONENTS, SDL_TYPE, vendor_document
from mockserver.core.paths import data_dir
from mockserver.vendors.gravy.handlers import CONNECTIONS_DTO
from mockserver.vendors.gravy.resources import KINDS

from ..conftest import CONTRACTS
from ..gravitec.conftest import SANDBOX as GRAVITEC, push_body
from ..gravy.conftest import DOC_CONNECTION, SANDBOX as GRAVY
from ..integry.conftest import headers as integry_headers

REST = ("gravy", "gravitec", "integry")
ROOT = data_dir("contracts")


def index(vendor: str) -> dict[str, Any]:
    return json.loads((ROOT / vendor / "index.json").read_text())


def served(client, vendor: str) -> dict[str, Any]:
    r = client.get(f"/{vendor}/openapi.json", check=False)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    return r.json()


def filled(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", template)


def contract_file(vendor: str, name: str) -> dict[str, Any]:
    doc = json.loads((ROOT / vendor / name).read_text())
    return {k: v for k, v in doc.items() if k not in ("$id", "$schema")}


def unrewritten(node: Any, own: str) -> Any:
    """A component with its refs written back as the contract file writes them."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref":
                assert v.startswith(COMPONENTS), v
                name, _, pointer = v[len(COMPONENTS):].partition("/")
                out[k] = ("#/" + pointer) if name == own and pointer else \
                    name + ("#/" + pointer if pointer else "")
            else:
                out[k] = unrewritten(v, own)
        return out
    if isinstance(node, list):
        return [unrewritten(v, own) for v in node]
    return node


# -- vendor documents ----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", REST)
def test_served_document_is_valid_openapi_31(client, vendor):
    doc = served(client, vendor)
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc == json.loads(json.dumps(vendor_document(ROOT, vendor)))
    assert doc["servers"][0]["url"] == f"/{vendor}"   # the mock first, then the real host
    host = doc["servers"][1]["url"].removeprefix("https://")
    assert host in client.app.vendors[vendor].hosts


def test_the_validator_rejects_a_broken_reference():
    """The validity test above can fail: a dangling $ref is refused."""
    doc = vendor_document(ROOT, "gravitec")
    broken = copy.deepcopy(doc)
    broken["paths"]["/api/v3/push"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]["$ref"] = COMPONENTS + "nope.json"
    with pytest.raises(Exception):
        validate(broken)


@pytest.mark.parametrize("vendor", REST)
def test_every_contract_route_is_documented_and_its_paths_route_back_to_it(vendor):
    doc = vendor_document(ROOT, vendor)
    seen = set()
    for route in index(vendor)["routes"]:
        if route["pattern"] == ".*":   # the catch-all: the vendor's 404 for anything else
            assert "paths" not in route
            continue
        assert route["paths"], route["pattern"]
        for path in route["paths"]:
            op = doc["paths"][path][route["method"].lower()]
            seen.add((path, route["method"].lower()))
            # The template, filled in, is served by this very route (order included).
            found = CONTRACTS.route(vendor, route["method"], filled(path))
            assert found is not None and found.pattern.pattern == route["pattern"], path
            names = re.findall(r"\{([^}]+)\}", path)
            assert sorted(p["name"] for p in op.get("parameters", ()) if p["in"] == "path") \
                == sorted(names), path
    assert seen == {(p, m) for p, item in doc["paths"].items() for m in item}


@pytest.mark.parametrize("vendor", REST)
def test_documented_schemas_are_the_contracts(vendor):
    doc = vendor_document(ROOT, vendor)
    components = doc["components"]["schemas"]
    for f in ROOT.joinpath(vendor).glob("*.json"):
        if f.name != "index.json":
            assert unrewritten(components[f.name], f.name) == contract_file(vendor, f.name)
    for route in index(vendor)["routes"]:
        for path in route.get("paths", ()):
            op = doc["paths"][path][route["method"].lower()]
            assert set(op["responses"]) == set(route["responses"])
            for status, name in route["responses"].items():
                answer = op["responses"][status]
                if name is None:
                    assert "content" not in answer
                else:
                    assert answer["content"] == {
                        "application/json": {"schema": {"$ref": COMPONENTS + name}}}
            if route.get("request"):
                content = op["requestBody"]["content"]
                assert content and all(c["schema"] == {"$ref": COMPONENTS + route["request"]}
                                       for c in content.values())


def test_gravy_query_parameters_are_the_dtos():
    doc = vendor_document(ROOT, "gravy")
    for kind in KINDS:
        op = doc["paths"][f"/connections/{{connectionId}}/{kind.slug}"]["get"]
        assert [p["name"] for p in op["parameters"] if p["in"] == "query"] == list(kind.order)
    op = doc["paths"]["/connections"]["get"]
    assert [p["name"] for p in op["parameters"]] == [p.name for p in CONNECTIONS_DTO.props]


def test_request_bodies_name_what_each_route_parses():
    gravitec = vendor_document(ROOT, "gravitec")["paths"]
    assert set(gravitec["/api/v3/push"]["post"]["requestBody"]["content"]) == \
        {"application/json"}
    for path, method in (("/api/v3/alias", "post"), ("/api/v3/tag", "post"),
                         ("/api/v3/tag", "delete")):
        assert set(gravitec[path][method]["requestBody"]["content"]) == \
            {"application/x-www-form-urlencoded"}
    gravy = vendor_document(ROOT, "gravy")["paths"]
    assert set(gravy["/oauth/token"]["post"]["requestBody"]["content"]) == \
        {"application/json", "application/x-www-form-urlencoded"}


class Served:
    """Real answers checked against the served document's schema for their path and status."""

    def __init__(self, client, vendor: str) -> None:
        self.client = client
        self.vendor = vendor
        self.doc = served(client, vendor)
        self.registry = Registry().with_resource(
            "urn:doc", Resource.from_contents(self.doc, default_specification=DRAFT202012))
        self.checked = 0

    def operation(self, method: str, path: str) -> dict[str, Any]:
        for template, item in self.doc["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path) and method.lower() in item:
                return item[method.lower()]
        raise AssertionError(f"{method} {path} is not in the served document")

    def check(self, method: str, path: str, status: int, **kw: Any) -> Any:
        r = self.client.request(method, f"/{self.vendor}{path}", **kw)
        assert r.status_code == status, r.text
        responses = self.operation(method, path.split("?")[0])["responses"]
        answer = responses.get(str(status)) or responses[f"{str(status)[0]}XX"]
        if "content" not in answer:
            assert r.content == b""
            return None
        assert r.headers["content-type"].startswith(next(iter(answer["content"])))
        schema = answer["content"]["application/json"]["schema"]
        validator = Draft202012Validator({"$ref": "urn:doc" + schema["$ref"]},
                                         registry=self.registry)
        validator.validate(r.json())
        self.checked += 1
        return r.json()


def test_gravy_answers_fit_the_served_document(client):
    s = Served(client, "gravy")
    token = s.check("POST", "/oauth/token", 200,
                    json={"grant_type": "client_credentials", **GRAVY})["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    s.check("GET", "/connections?limit=2", 200, headers=auth)
    s.check("GET", f"/connections/{DOC_CONNECTION}", 200, headers=auth)
    s.check("GET", f"/connections/{DOC_CONNECTION}/trips?sortOrder=asc", 200, headers=auth)
    s.check("GET", "/integrations", 200)
    s.check("GET", "/connections/nope", 404, headers=auth)
    s.check("GET", "/connections", 401)
    s.check("GET", "/connections?limit=500", 400, headers=auth)
    assert s.checked == 8


def test_gravitec_answers_fit_the_served_document(client):
    s = Served(client, "gravitec")
    campaign = s.check("POST", "/api/v3/push", 200, json=push_body(), auth=GRAVITEC)
    s.check("GET", f"/api/v3/messages/{campaign['id']}", 200, auth=GRAVITEC)
    s.check("GET", "/api/v3/alias?regId=nobody", 200, auth=GRAVITEC)
    s.check("POST", "/api/v3/alias", 400, auth=GRAVITEC)
    s.check("POST", "/api/v3/alias?regId=nobody&name=a", 422, auth=GRAVITEC)
    s.check("GET", "/api/v3/alias?regId=x", 403, auth=("wrong", "wrong"))
    s.check("OPTIONS", "/api/v3/push", 200)
    assert s.checked == 6


def test_integry_answers_fit_the_served_document(client):
    s = Served(client, "integry")
    signed = integry_headers()
    s.check("POST", "/apps/list", 200, headers=signed)
    s.check("POST", "/apps/slack/get", 200, headers=signed)
    s.check("POST", "/functions/list?include=meta", 200, headers=signed)
    s.check("POST", "/functions/predict", 200, headers=signed,
            json={"prompt": "post a message on slack"})
    s.check("POST", "/functions/nope/get", 404, headers=signed)
    s.check("POST", "/apps/list", 403)
    assert s.checked == 6


# -- Groove's SDL, and where specs are (not) served ------------------------------------------
def test_groove_sdl_is_served_as_the_file(client):
    r = client.get("/groove/schema.graphql", check=False)
    assert r.status_code == 200
    assert r.headers["content-type"] == SDL_TYPE
    assert r.content == (ROOT / "groove" / "schema.graphql").read_bytes()
    schema = build_schema(r.text)
    assert schema.query_type is not None
    head = client.request("HEAD", "/groove/schema.graphql", check=False)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(r.content))


def test_specs_are_mock_features_not_vendor_calls(app, client):
    for path in ("/gravy/openapi.json", "/gravitec/openapi.json", "/integry/openapi.json",
                 "/groove/schema.graphql"):
        assert client.get(path, check=False).status_code == 200
        r = client.post(path, check=False)
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    assert app.journal.filter() == []
    # Only by prefix: on a real vendor host these URLs are the vendor's own 404.
    r = client.get("/openapi.json", headers={"Host": "api.getpassage.ai"}, check=False)
    assert r.status_code == 404 and r.json()["message"] == "Cannot GET /openapi.json"
    r = client.get("/gravy/openapi.json", headers={"Host": "api.getpassage.ai"}, check=False)
    assert r.status_code == 404 and "openapi" not in r.json()
    # Groove is GraphQL: it has an SDL, no OpenAPI document (Rails answers the URL).
    assert client.get("/groove/openapi.json", check=False).status_code == 404
    assert client.get("/gravy/schema.graphql", check=False).status_code == 404
    assert len(app.journal.filter()) == 4


def test_documents_are_built_once(app):
    first = app.specs.get("/gravy/openapi.json")
    assert app.specs.get("/gravy/openapi.json")[0] is first[0]
    assert app.specs.paths() == ["/gravitec/openapi.json", "/gravy/openapi.json",
                                 "/groove/schema.graphql", "/integry/openapi.json",
                                 "/passage/openapi.json"]


# -- the control plane ---------------------------------------------------------------------------
def admin_routes(app) -> set[tuple[str, str]]:
    """(path with parameters as {}, method) of every route of the admin Starlette app."""
    admin = getattr(app.admin, "app", app.admin)   # under --admin-token, the guarded app
    out: set[tuple[str, str]] = set()

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif isinstance(route, Route):
                for method in route.methods or ():
                    if method != "HEAD":   # Starlette adds HEAD to every GET
                        out.add((re.sub(r"\{[^}]+\}", "{}", prefix + route.path), method))
    walk(admin.routes, "")
    return out


def test_admin_document_is_valid_and_covers_every_admin_route(app, client):
    r = client.get("/__admin/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    validate(doc)
    documented = {(re.sub(r"\{[^}]+\}", "{}", path), method.upper())
                  for path, item in doc["paths"].items() for method in item
                  if method != "parameters"}
    routes = admin_routes(app)
    assert routes - documented == set()
    assert documented == routes


def test_admin_document_answers_match_real_answers(client, monkeypatch):
    doc = client.get("/__admin/openapi.json").json()
    registry = Registry().with_resource(
        "urn:admin", Resource.from_contents(doc, default_specification=DRAFT202012))

    def fits(method: str, path: str, template: str, status: int, **kw: Any) -> None:
        r = client.request(method, path, **kw)
        assert r.status_code == status, r.text
        schema = doc["paths"][template][method.lower()]["responses"][str(status)][
            "content"]["application/json"]["schema"]
        Draft202012Validator({"$ref": "urn:admin#/paths/" + template.replace("/", "~1")
                              + f"/{method.lower()}/responses/{status}/content/"
                              "application~1json/schema"} if "$ref" not in schema else
                             {"$ref": "urn:admin" + schema["$ref"]},
                             registry=registry).validate(r.json())

    fits("GET", "/__admin/clock", "/__admin/clock", 200)
    fits("GET", "/__admin/credentials", "/__admin/credentials", 200)
    client.get("/gravy/integrations")
    fits("GET", "/__admin/requests", "/__admin/requests", 200)
    fits("POST", "/__admin/tenants", "/__admin/tenants", 201)
    fits("POST", "/__admin/clock", "/__admin/clock", 400, json={"advance": "soon"})
    fits("POST", "/__admin/groove/people", "/__admin/groove/people", 201,
         json={"name": "Ada", "emailAddress": "ada@example.com"})
    # Refusals answer with a status the document lists for the call.
    fits("PUT", "/__admin/state?tenant=nope", "/__admin/state", 404, json={})
    monkeypatch.setattr("mockserver.admin.STATE_LIMIT", 10)  # a small limit, a small body
    fits("PUT", "/__admin/state", "/__admin/state", 413, content=b" " * 11)
    fits("POST", "/__admin/faults", "/__admin/faults", 404, json={"tenant": "nope", "status": 503})
    monkeypatch.setattr(client.app.tenants, "limit", len(client.app.tenants))
    fits("POST", "/__admin/tenants", "/__admin/tenants", 409)


def test_admin_document_is_behind_the_admin_token():
    from mockserver import create_app
    from ..conftest import MockClient
    c = MockClient(create_app(admin_token="t0ken"))
    try:
        assert c.get("/__admin/openapi.json").status_code == 401
        r = c.get("/__admin/openapi.json", headers={"X-Admin-Token": "t0ken"})
        assert r.status_code == 200 and r.json()["openapi"] == "3.1.0"
        assert admin_routes(c.app)   # the walk reaches through the token guard
    finally:
        c.close()
