"""The vendor seam: a throwaway vendor of a few lines gets routing by prefix and Host, tenants,
reset, journal redaction and its own admin route, with nothing outside its class touched."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mockserver import Clock, create_app
from mockserver.app import default_vendors
from mockserver.core.control import body_json, tenant_of
from mockserver.core.http import VendorError, json_response
from mockserver.core.routing import Router, VendorApp, bound
from mockserver.core.tenancy import attribute
from mockserver.core.vendor import Service, Vendor

from ..conftest import DOC_TIME, MockClient


# A fifth vendor, written as any vendor package is (core/vendor.py), each module a namespace
# here: fixtures, store, auth, handlers (the service and one handler), routes, errors, state,
# admin.
class EchoAuth:
    def __init__(self, ctx, tenants, template) -> None:
        self.tenants = tenants

    def tenant(self, request: Request):
        return self.tenants.authenticate("echo", "key", request.headers.get("x-echo-key", ""),
                                         "secret", request.headers.get("x-echo-secret", ""))

    def tenant_of(self, request: Request, body):
        return self.tenant(request)


class EchoStore(dict):
    def __init__(self, template: dict, ctx) -> None:
        super().__init__(greeting=template["greeting"], said=[])

    def summary(self) -> dict:
        return {"said": len(self["said"])}


@dataclass(eq=False)
class EchoService(Service[dict]):
    auth_type = EchoAuth


async def say(g: EchoService, request: Request):
    tenant = g.auth.tenant(request)
    if tenant is None:
        raise VendorError(401, {"echo": "who are you?"})
    attribute(request.scope, tenant)
    store = tenant.stores["echo"]
    store["said"].append((await request.json())["word"])
    return json_response({"greeting": store["greeting"], "said": store["said"]})


async def route_missing(g: EchoService, request: Request):
    raise VendorError(404, {"echo": f"no {request.method} here"})


def build(g: EchoService, vendor: "Echo") -> VendorApp:
    g.router = Router(bound(g, ("POST", "/say", say)), partial(route_missing, g))
    return VendorApp(g.router, errors.internal_error, content_type=vendor.content_type)


def admin_routes(g: EchoService) -> list[Route]:
    async def greeting(request: Request):
        body = await body_json(request)
        tenant_of(g.tenants, body).stores["echo"]["greeting"] = body["greeting"]
        return JSONResponse({"ok": True})

    return [Route("/greeting", greeting, methods=["POST"])]


errors = SimpleNamespace(fault=lambda g, request, status: VendorError(status, {"echo": status}),
                         internal_error=lambda: VendorError(500, {"echo": "oops"}))


class Echo(Vendor[dict, EchoStore, EchoService]):
    name = "echo"
    hosts = ("api.echo.test",)
    default_credentials = {"key": "echo-key", "secret": "echo-secret"}
    tenant_keys = ("key",)
    secret_headers = frozenset({"X-Echo-Secret"})
    secret_fields = frozenset({"secret"})
    content_type = "application/vnd.echo+json"

    fixtures = SimpleNamespace(load=lambda ctx: {"greeting": "hello"})
    routes = SimpleNamespace(build=build)
    errors = errors
    state = SimpleNamespace(schema=lambda template: {"type": "null"},
                            export=lambda g, store, tenant: None,
                            restore=lambda g, data, tenant: EchoStore(g.template, g.ctx),
                            adopt=lambda g, store: None,
                            snapshot=lambda g, store: dict(store))
    admin = SimpleNamespace(routes=admin_routes, OPENAPI={}, SUMMARY={"type": "object"})
    store_type = EchoStore
    service_type = EchoService

    def new_credentials(self) -> dict[str, str]:
        return {"key": f"echo-{secrets.token_hex(4)}", "secret": secrets.token_hex(8)}


def make():
    app = create_app(clock=Clock(DOC_TIME), vendors=[*default_vendors(), Echo()])
    return app, MockClient(app)


def test_a_new_vendor_routes_by_prefix_and_host_with_its_own_content_type_and_404():
    app, c = make()
    creds = {"X-Echo-Key": "echo-key", "X-Echo-Secret": "echo-secret"}
    r = c.post("/echo/say", json={"word": "a"}, headers=creds, check=False)
    assert r.status_code == 200 and r.json() == {"greeting": "hello", "said": ["a"]}
    assert r.headers["content-type"] == "application/vnd.echo+json"
    r = c.post("http://api.echo.test/say", json={"word": "b"}, headers=creds, check=False)
    assert r.json()["said"] == ["a", "b"]
    r = c.get("/echo/nowhere", check=False)
    assert (r.status_code, r.json()) == (404, {"echo": "no GET here"})
    # The vendors beside it are untouched.
    assert c.get("/gravy/integrations").status_code == 200
    c.close()


def test_a_new_vendor_gets_tenants_reset_and_credentials():
    app, c = make()
    assert c.get("/__admin/credentials").json()["echo"] == Echo.default_credentials
    tenant = c.post("/__admin/tenants").json()
    mine = {"X-Echo-Key": tenant["credentials"]["echo"]["key"],
            "X-Echo-Secret": tenant["credentials"]["echo"]["secret"]}
    default = {"X-Echo-Key": "echo-key", "X-Echo-Secret": "echo-secret"}
    c.post("/echo/say", json={"word": "mine"}, headers=mine, check=False)
    assert c.post("/echo/say", json={"word": "x"}, headers=default,
                  check=False).json()["said"] == ["x"]
    # another tenant's key with this tenant's secret is nobody
    wrong = {"X-Echo-Key": mine["X-Echo-Key"], "X-Echo-Secret": "echo-secret"}
    assert c.post("/echo/say", json={"word": "y"}, headers=wrong, check=False).status_code == 401
    c.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert c.post("/echo/say", json={"word": "z"}, headers=mine,
                  check=False).json()["said"] == ["z"]
    assert c.post("/echo/say", json={"word": "w"}, headers=default,
                  check=False).json()["said"] == ["x", "w"]
    c.close()


def test_a_new_vendor_is_journaled_with_its_secrets_redacted_and_its_tenant_named():
    app, c = make()
    tenant = c.post("/__admin/tenants").json()
    creds = tenant["credentials"]["echo"]
    c.post("/echo/say", json={"word": "hi", "secret": "do-not-log"},
           headers={"X-Echo-Key": creds["key"], "X-Echo-Secret": creds["secret"]}, check=False)
    call = app.journal.last
    assert (call.vendor, call.tenant, call.status) == ("echo", tenant["id"], 200)
    assert call.request_headers["x-echo-secret"] == "[redacted]"
    assert "do-not-log" not in call.request_body and '"word": "hi"' in call.request_body
    # Another vendor's secret names are its own: Gravy's journal keeps an x-echo-secret header.
    c.get("/gravy/integrations", headers={"X-Echo-Secret": "visible"})
    assert app.journal.last.request_headers["x-echo-secret"] == "visible"
    c.close()


def test_a_new_vendor_mounts_its_own_admin_route():
    app, c = make()
    assert c.post("/__admin/echo/greeting", json={"greeting": "hej"}).json() == {"ok": True}
    r = c.post("/echo/say", json={"word": "a"},
               headers={"X-Echo-Key": "echo-key", "X-Echo-Secret": "echo-secret"}, check=False)
    assert r.json()["greeting"] == "hej"
    assert c.post("/__admin/echo/greeting", json={"greeting": "x", "tenant": "t_nope"}
                  ).status_code == 404
    assert c.get("/__admin/echo/nothing").status_code == 404
    c.post("/__admin/reset")
    r = c.post("/echo/say", json={"word": "a"},
               headers={"X-Echo-Key": "echo-key", "X-Echo-Secret": "echo-secret"}, check=False)
    assert r.json()["greeting"] == "hello"
    c.close()


def test_each_app_has_its_own_vendor_instances():
    a, b = create_app(), create_app()
    assert a.vendors["gravy"] is not b.vendors["gravy"]
    assert a.vendors["gravy"].template is not None
