"""The vendor seam: a throwaway vendor of a few lines gets routing by prefix and Host, tenants,
reset, journal redaction and its own admin route, with nothing outside its class touched."""
from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mockserver import Clock, create_app
from mockserver.app import default_vendors
from mockserver.core.control import body_json, tenant_of
from mockserver.core.http import VendorError, json_response
from mockserver.core.routing import Router, VendorApp, route
from mockserver.core.tenancy import attribute
from mockserver.core.vendor import Vendor

from ..conftest import DOC_TIME, MockClient


class Echo(Vendor):
    name = "echo"
    hosts = ("api.echo.test",)
    default_credentials = {"key": "echo-key", "secret": "echo-secret"}
    tenant_keys = ("key",)
    secret_headers = frozenset({"X-Echo-Secret"})
    secret_fields = frozenset({"secret"})
    content_type = "application/vnd.echo+json"

    @staticmethod
    async def not_found(request: Request):
        raise VendorError(404, {"echo": f"no {request.method} here"})

    def new_credentials(self) -> dict[str, str]:
        return {"key": f"echo-{secrets.token_hex(4)}", "secret": secrets.token_hex(8)}

    def load_template(self) -> dict:
        return {"greeting": "hello"}

    def new_store(self) -> dict:
        return {"greeting": self.template["greeting"], "said": []}

    def build_app(self, tenants):
        self.tenants = tenants

        async def say(request: Request):
            tenant = tenants.authenticate("echo", "key", request.headers.get("x-echo-key", ""),
                                          "secret", request.headers.get("x-echo-secret", ""))
            if tenant is None:
                raise VendorError(401, {"echo": "who are you?"})
            attribute(request.scope, tenant)
            store = tenant.stores["echo"]
            store["said"].append((await request.json())["word"])
            return json_response({"greeting": store["greeting"], "said": store["said"]})

        return VendorApp(Router([route("POST", "/say", say)], self.not_found),
                         lambda: VendorError(500, {"echo": "oops"}),
                         content_type=self.content_type)

    def admin_routes(self):
        async def greeting(request: Request):
            body = await body_json(request)
            tenant_of(self.tenants, body).stores["echo"]["greeting"] = body["greeting"]
            return JSONResponse({"ok": True})

        return [Route("/greeting", greeting, methods=["POST"])]


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
