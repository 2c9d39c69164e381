"""Gravy fixtures: sandbox credentials, a bearer token, a way to open new connections."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mockserver.core.paths import data_dir

SANDBOX = {"client_id": "gravy-sandbox-client", "client_secret": "gravy-sandbox-secret"}
PUBLISHABLE = "pk-test-sandbox"
DOCUMENTED = data_dir("fixtures") / "gravy" / "documented"
DOC_CONNECTION = "conn_789xyz123abc"        # holds seven documented resources
BILLING_CONNECTION = "conn_abc123xyz789"    # holds the documented billing statement
# Each resource and the documented connection holding its documented example.
RESOURCES = {
    "account-info": DOC_CONNECTION, "balances": DOC_CONNECTION,
    "billing-statements": BILLING_CONNECTION, "history": DOC_CONNECTION,
    "loyalty": DOC_CONNECTION, "payment-methods": DOC_CONNECTION,
    "reading-history": DOC_CONNECTION, "trips": DOC_CONNECTION,
}


def documented(name: str) -> Any:
    """A documented example, verbatim (fixtures/gravy/documented/<name>.json)."""
    return json.loads((DOCUMENTED / f"{name}.json").read_text())


def example(name: str) -> Any:
    """The documented item of a resource (`balances`), else the documented example `name`."""
    path = DOCUMENTED / f"{name}.list.json"
    if path.exists():
        return json.loads(path.read_text())["data"][0]
    return documented(name)


def token_for(client, client_id: str = SANDBOX["client_id"],
              client_secret: str = SANDBOX["client_secret"]) -> str:
    r = client.post("/gravy/oauth/token", json={"grant_type": "client_credentials",
                                                "client_id": client_id,
                                                "client_secret": client_secret})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture
def token(client) -> str:
    return token_for(client)


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def intent_body(**overrides: Any) -> dict[str, Any]:
    """The documented POST /intent-token example with overrides (None removes a key)."""
    body = copy.deepcopy(example("intent-token.request"))
    for k, v in overrides.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    return body


def open_connection(client, auth: dict[str, str], **overrides: Any) -> dict[str, Any]:
    r = client.post("/gravy/intent-token", json=intent_body(**overrides), headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def set_status(client, connection_id: str, status: str, **extra: Any):
    return client.post(f"/__admin/gravy/connections/{connection_id}/status",
                       json={"status": status, **extra})
