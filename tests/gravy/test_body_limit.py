"""Bodies past body-parser's 100kb limit are 413 before they are held; other types are not read."""
from __future__ import annotations

import json

from .conftest import intent_body

TOO_LARGE = {"statusCode": 413, "message": "request entity too large", "error": "Payload Too Large"}


def big_intent(size: int) -> bytes:
    return json.dumps({**intent_body(), "userId": "u" * size}).encode()


def test_a_json_body_over_100kb_is_413_and_opens_nothing(client, auth, app):
    before = len(app.tenants.default.stores["gravy"].connections)
    r = client.post("/gravy/intent-token", content=big_intent(110_000),
                    headers={**auth, "Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (413, TOO_LARGE)
    assert len(app.tenants.default.stores["gravy"].connections) == before


def test_a_body_just_under_the_limit_is_read(client, auth):
    body = big_intent(100 * 1024 - len(big_intent(0)))
    assert len(body) == 100 * 1024
    r = client.post("/gravy/intent-token", content=body,
                    headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 201


def test_a_form_body_over_the_limit_is_413(client):
    r = client.post("/gravy/oauth/token", content=b"grant_type=client_credentials&x=" + b"a" * 200_000,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()) == (413, TOO_LARGE)


def test_a_streamed_body_without_content_length_is_cut_at_the_limit(client, auth):
    async def chunks():
        for _ in range(50):
            yield b"[" * 10_000  # 500 KB in all, no Content-Length: counted as it arrives

    r = client.post("/gravy/intent-token", content=chunks(),
                    headers={**auth, "Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (413, TOO_LARGE)


def test_an_unparsed_type_is_not_read_whatever_its_size(client, auth):
    r = client.post("/gravy/intent-token", content=b"x" * 200_000,
                    headers={**auth, "Content-Type": "text/plain"})
    assert r.status_code == 400  # the DTO saw no body: integrationId missing
    assert "integrationId should not be empty" in r.json()["message"]


def test_admin_bodies_over_1_mib_are_refused(client, app):
    before = app.clock.time()
    r = client.post("/__admin/clock", content=b'{"advance": 60, "pad": "' + b"x" * (1 << 20) + b'"}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json() == {"error": "the body is larger than 1 MiB"}
    assert app.clock.time() == before
