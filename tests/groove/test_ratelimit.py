"""groove.md "Rate Limiting" over HTTP: 100 requests per minute per OAuth token, a sliding window
over the current and previous minute, the three X-RateLimit-* headers on every request, an
EMPTY 429 once the limit is hit, and calls made while limited still count. The mock clock is
frozen at 2024-01-15T10:30:00Z, the start of a minute.
"""
from __future__ import annotations

import httpx
import pytest

from .conftest import GRAPHQL, bearer, gql, tokens_for

T0 = 1705314600
QUERY = "{ flows { id } }"


def headers(r: httpx.Response) -> tuple[int, int, int]:
    return (int(r.headers["x-ratelimit-limit"]), int(r.headers["x-ratelimit-remaining"]),
            int(r.headers["x-ratelimit-reset"]))


def ok(client, token: str) -> httpx.Response:
    r = gql(client, token, QUERY)
    assert r.status_code == 200, r.text
    assert "errors" not in r.json()
    return r


def limited(client, token: str) -> httpx.Response:
    r = gql(client, token, QUERY)
    assert r.status_code == 429
    assert r.content == b""
    return r


@pytest.fixture
def token(client) -> str:
    return tokens_for(client)["access_token"]


def test_100_calls_a_minute_then_an_empty_429(client, token):
    for i in range(1, 101):
        r = ok(client, token)
        assert headers(r) == (100, 100 - i, T0 if i < 100 else T0 + 61)
    r = limited(client, token)
    # 101 calls weigh below 100 once 1/101 of the next minute has passed: its second 1
    assert headers(r) == (100, 0, T0 + 61)
    assert r.headers.get("content-length") in (None, "0")


def test_the_limit_is_per_token(client, token):
    for _ in range(100):
        ok(client, token)
    limited(client, token)
    other = tokens_for(client)["access_token"]          # same tenant, same client
    assert headers(ok(client, other)) == (100, 99, T0)
    limited(client, token)
    # another tenant's token too
    tenant = client.post("/__admin/tenants").json()
    creds = tenant["credentials"]["groove"]
    third = tokens_for(client, creds["clientId"], creds["clientSecret"])["access_token"]
    assert headers(ok(client, third)) == (100, 99, T0)


def test_a_refreshed_token_is_a_new_window(client):
    tokens = tokens_for(client)
    for _ in range(100):
        ok(client, tokens["access_token"])
    limited(client, tokens["access_token"])
    r = client.post("/groove/oauth/token", json={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "groove-sandbox-client", "client_secret": "groove-sandbox-secret"})
    assert r.status_code == 200, r.text
    assert headers(ok(client, r.json()["access_token"])) == (100, 99, T0)


def test_calls_made_while_limited_still_count(client, token, clock):
    for _ in range(100):
        ok(client, token)
    for _ in range(50):
        limited(client, token)
    # 150 calls in minute m: below 100 once a third of minute m + 1 has passed
    assert headers(limited(client, token)) == (100, 0, T0 + 60 + 21)
    clock.advance(60 + 20)        # 151 * 40/60 = 100.67: still refused, and counted
    r = limited(client, token)
    assert headers(r) == (100, 0, T0 + 60 + 21)
    clock.advance(1)              # 151 * 39/60 + 1 = 99.15 before the call: allowed
    assert headers(ok(client, token)) == (100, 0, T0 + 60 + 22)


def test_the_previous_minute_decays_across_the_window(client, token, clock):
    clock.advance(59)                                  # second 59 of minute m
    for _ in range(100):
        ok(client, token)
    limited(client, token)                             # 101 counted in minute m
    clock.advance(31)                                  # second 30 of minute m + 1
    # 101 * 30/60 + 1 = 51.5: 49 more calls (51.5 ... 99.5 before each) at this instant
    assert headers(ok(client, token)) == (100, 49, T0 + 90)
    for _ in range(48):
        ok(client, token)
    # 50.5 + 49 = 99.5 before this call: allowed, and then none left
    r = ok(client, token)
    assert headers(r) == (100, 0, T0 + 91)              # 50.5 + 50 dips below 100 at 30.3 s
    limited(client, token)
    clock.advance(30)                                  # minute m + 2 starts: only m + 1 weighs
    assert headers(ok(client, token)) == (100, 48, T0 + 120)   # 51 + 1


def test_a_call_at_the_reset_second_is_allowed(client, token, clock):
    """X-RateLimit-Reset: "the time ... at which API calls are guaranteed to be available"."""
    clock.advance(45)
    for _ in range(100):
        ok(client, token)
    for step in range(20):
        r = gql(client, token, QUERY)
        if r.status_code == 200:
            clock.advance(0.25)
            continue
        assert r.status_code == 429
        reset = int(r.headers["x-ratelimit-reset"])
        assert reset > clock.time()
        clock.advance(reset - clock.time())
        ok(client, token)
    assert clock.time() > T0 + 60


def test_every_answer_to_a_valid_token_carries_the_headers(client, token):
    for kw in ({"json": {"query": QUERY}}, {"json": {"query": "{ bogus }"}},
               {"json": {}}, {"content": b"{not json", "headers": {"Content-Type":
                                                                   "application/json"}},
               {"content": b"x", "headers": {"Content-Type": "text/plain"}},
               {"json": [{"query": QUERY}]},
               {"content": b'{"query": "' + b" " * (1024 * 1024) + b'"}',
                "headers": {"Content-Type": "application/json"}}):
        extra = kw.pop("headers", {})
        r = client.post(GRAPHQL, headers={**bearer(token), **extra}, **kw)
        assert r.status_code in (200, 400, 413)
        assert headers(r)[0] == 100
    # seven calls so far, each counted whatever its answer
    assert headers(ok(client, token)) == (100, 92, T0)


def test_a_token_that_is_not_valid_is_not_counted_and_gets_no_headers(client, token):
    r = client.post(GRAPHQL, json={"query": QUERY}, headers=bearer(token + "x"))
    assert r.status_code == 401 and "x-ratelimit-limit" not in r.headers
    r = client.post(GRAPHQL, json={"query": QUERY})
    assert r.status_code == 401 and "x-ratelimit-limit" not in r.headers
    assert headers(ok(client, token)) == (100, 99, T0)


def test_the_tenant_limit_set_by_the_control_plane(client, token, clock):
    r = client.post("/__admin/groove/rate-limit", json={"limit": 5})
    assert r.status_code == 200 and r.json() == {"tenant": "default", "limit": 5}
    for i in range(1, 6):
        assert headers(ok(client, token)) == (5, 5 - i, T0 if i < 5 else T0 + 61)
    assert headers(limited(client, token)) == (5, 0, T0 + 71)       # 6 * (1 - e/60) < 5: e > 10
    clock.advance(71)                                                # second 11 of minute m + 1
    assert headers(ok(client, token))[:2] == (5, 0)                  # 6 * 49/60 + 1 = 5.9
    limited(client, token)
    # raised again: the same window, read against the new limit
    assert client.post("/__admin/groove/rate-limit", json={"limit": 100}).status_code == 200
    assert headers(ok(client, token))[:2] == (100, 93)              # 6 * 49/60 + 3 = 7.9


def test_a_bad_limit_changes_nothing(client, token, app):
    store = app.tenants.default.stores["groove"]
    for body in ({"limit": 0}, {"limit": -5}, {"limit": 2.5}, {"limit": "5"}, {"limit": True},
                 {"limit": None}, {}, {"limit": 1_000_001}, {"limit": [5]}):
        r = client.post("/__admin/groove/rate-limit", json=body)
        assert r.status_code == 400, body
        assert "limit" in r.json()["error"]
        assert store.rate_limit == 100
    assert headers(ok(client, token)) == (100, 99, T0)
