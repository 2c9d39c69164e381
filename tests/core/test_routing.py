"""README.md's vendor base URLs: each vendor by path prefix and by its real Host, identically;
/__admin never a vendor."""
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


# -- VendorApp's answer path --------------------------------------------------------------------
def _vendor_app(endpoint):
    from mockserver.core.http import VendorError
    from mockserver.core.routing import Router, VendorApp, route

    async def missing(request):
        raise VendorError(404, {"missing": True})

    router = Router([route("POST", "/x", endpoint)], missing)
    return VendorApp(router, lambda: VendorError(500, {"error": True}),
                     headers={"X-Powered-By": "Express"})


def _serve(app, chunks=(b"",)):
    """Call `app` with POST /x and a body sent in `chunks`: (status, headers, body, state)."""
    import asyncio

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "vendor_path": "/x",
             "query_string": b"", "headers": [], "state": {}}
    asyncio.run(app(scope, receive, send))
    return (sent[0]["status"], sent[0]["headers"], b"".join(m.get("body", b"") for m in sent[1:]),
            scope["state"])


def test_own_headers_come_before_the_framework_ones_and_an_own_name_wins():
    from mockserver.core.http import RawJSON

    async def own(request):
        return RawJSON(b"{}", 201, {"X-Session-ID": "abc"})

    status, headers, body, state = _serve(_vendor_app(own))
    assert (status, body) == (201, b"{}")
    assert headers == [(b"content-type", b"application/json"), (b"content-length", b"2"),
                       (b"x-session-id", b"abc"), (b"x-powered-by", b"Express")]
    assert state["mockserver.answer"] == [201, b"{}"]

    async def overriding(request):  # the same name as a framework header: the answer's own
        return RawJSON(b"{}", 200, {"X-Powered-By": "Mine"})

    _, headers, _, _ = _serve(_vendor_app(overriding))
    assert [v for k, v in headers if k == b"x-powered-by"] == [b"Mine"]


def test_the_encoded_header_names_stay_bounded():
    from mockserver.core import routing
    from mockserver.core.http import RawJSON

    names = iter(range(10 * routing.NAMES_MEMO))

    async def many(request):
        return RawJSON(b"{}", 200, {f"X-N{next(names)}": "v"})

    app = _vendor_app(many)
    for n in range(3 * routing.NAMES_MEMO):
        _, headers, _, _ = _serve(app)
        assert (f"x-n{n}".encode(), b"v") in headers
        assert len(app._names) <= routing.NAMES_MEMO


@pytest.mark.parametrize("chunks", [(b'{"a":1}',), (b'{"a"', b"", b":1}"), (b"", b'{"a":1}')])
def test_read_limited_reads_a_body_sent_whole_or_in_parts(chunks):
    from mockserver.core.http import RawJSON, read_limited

    async def echo(request):
        return RawJSON(await read_limited(request, 16))

    _, _, body, state = _serve(_vendor_app(echo), chunks)
    assert body == state["mockserver.request_body"] == b'{"a":1}'


@pytest.mark.parametrize("chunks", [(b"x" * 17,), (b"x" * 10, b"x" * 10, b"x")])
def test_read_limited_refuses_a_body_over_the_limit_whole_or_in_parts(chunks):
    from mockserver.core.http import RawJSON, TooLarge, read_limited

    async def limited(request):
        try:
            await read_limited(request, 16)
        except TooLarge:
            return RawJSON(b"too large", 413)
        return RawJSON(b"read")

    status, _, body, state = _serve(_vendor_app(limited), chunks)
    assert (status, body) == (413, b"too large")
    assert state["mockserver.request_body"].startswith(b"x" * 17)
