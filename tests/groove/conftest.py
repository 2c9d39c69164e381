"""Groove fixtures: the sandbox OAuth client, the code flow done in one call, GraphQL calls."""
from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CLIENT_ID = "groove-sandbox-client"
CLIENT_SECRET = "groove-sandbox-secret"
REDIRECT_URI = "http://localhost:3000/oauth/callback"
GRAPHQL = "/groove/api/public/v1/graphql"
LONG_FLOW = "1001"      # 60 steps, 30 label instances: more than any default page


def authorize(client, **params: Any) -> httpx.Response:
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "first-scope",
             "state": "s1", **params}
    return client.get("/groove/oauth/authorize",
                      params={k: v for k, v in query.items() if v is not None})


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def code_for(client, **params: Any) -> str:
    return redirect_params(authorize(client, **params))["code"]


def tokens_for(client, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> dict:
    code = redirect_params(authorize(client, client_id=client_id))["code"]
    r = client.post("/groove/oauth/token", json={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "client_id": client_id, "client_secret": client_secret})
    assert r.status_code == 200, r.text
    return r.json()


def new_tenant(client) -> tuple[str, str]:
    """A new tenant's id and an access token of its own Groove client."""
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    creds = r.json()["credentials"]["groove"]
    return r.json()["id"], tokens_for(client, creds["clientId"], creds["clientSecret"])[
        "access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gql(client, token: str, query: str, variables: dict | None = None,
        **kw: Any) -> httpx.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return client.post(GRAPHQL, json=body, headers=bearer(token), **kw)


def thread_spy(monkeypatch, module: Any, *names: str) -> dict[str, list[int]]:
    """Wrap each named function of `module` to record the thread of every call."""
    seen: dict[str, list[int]] = {name: [] for name in names}
    for name in names:
        real = getattr(module, name)

        def spy(*args: Any, _name: str = name, _real: Any = real, **kw: Any) -> Any:
            seen[_name].append(threading.get_ident())
            return _real(*args, **kw)
        monkeypatch.setattr(module, name, spy)
    return seen
