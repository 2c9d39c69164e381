"""SPEC §2: each vendor by path prefix and by its real Host, identically; /__admin never a vendor."""
import pytest

from ..gravy.conftest import token_for

GRAVY_HOSTS = ["api.getpassage.ai", "api.runpassage.ai", "prod-gravy-connect-api.onrender.com"]


@pytest.mark.parametrize("host", GRAVY_HOSTS)
def test_host_routing_equals_prefix_routing(client, host):
    token = token_for(client)
    auth = {"Authorization": f"Bearer {token}"}
    by_prefix = client.get("/gravy/connections/conn_789xyz123abc/trips?limit=5", headers=auth)
    by_host = client.get(f"http://{host}/connections/conn_789xyz123abc/trips?limit=5",
                         headers=auth)
    assert by_host.status_code == by_prefix.status_code == 200
    assert by_host.content == by_prefix.content


def test_host_routing_ignores_port_and_case(client):
    r = client.get("http://API.GETPASSAGE.AI:443/integrations")
    assert r.status_code == 200 and isinstance(r.json(), list)


def test_token_from_one_route_works_on_the_other(client):
    r = client.post("http://api.getpassage.ai/oauth/token",
                    json={"grant_type": "client_credentials", "client_id": "gravy-sandbox-client",
                          "client_secret": "gravy-sandbox-secret"})
    token = r.json()["access_token"]
    assert client.get("/gravy/connections", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200


def test_unknown_vendor_route_gets_the_framework_404(client):
    r = client.post("/gravy/v1/connections?x=1")
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Cannot POST /v1/connections?x=1",
                        "error": "Not Found"}
    # A known path with the wrong method is a 404 too in Express, never a 405.
    r = client.delete("/gravy/connections")
    assert r.json() == {"statusCode": 404, "message": "Cannot DELETE /connections",
                        "error": "Not Found"}


def test_admin_is_never_routed_to_a_vendor(client):
    r = client.get("http://api.getpassage.ai/__admin/health")
    assert r.json() == {"status": "ok"}
    assert client.get("/gravy/__admin/health").status_code == 404


def test_no_vendor_at_a_path(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and "No vendor" in r.json()["message"]
    assert client.get("/").status_code == 404


def test_router_rules_merge_slashes_and_allowed_methods():
    """A vendor's Router states its own rules: merged slashes (Spring, nginx) and the methods a
    path allows (for a framework that answers 405)."""
    from mockserver.core.routing import Router, route

    async def a(request):
        return "a"

    async def missing(request):
        return "missing"

    strict = Router([route("GET", "/x/{id}", a), route(("POST", "DELETE"), "/y", a)], missing)
    merged = Router(strict.routes, missing, merge_slashes=True)
    assert strict.resolve("GET", "//x//1")[0] is missing
    assert merged.resolve("GET", "//x//1") == (a, {"id": "1"})
    assert merged.allowed("/y/") == ("POST", "DELETE")
    assert merged.allowed("//x/1") == ("GET", "HEAD")
    assert merged.allowed("/z") == ()
