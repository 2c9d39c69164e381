"""GET /integrations, GET /integrations/{slug} and the /automation/integrations alias."""
from __future__ import annotations

import pytest

from .conftest import open_connection, set_status

INTEGRATION_KEYS = {"slug", "name", "type", "logoUrl", "url", "preAutomationSteps",
                    "description", "active", "version", "beta", "resources"}
STEP_KEYS = {"id", "title", "description", "component", "integrationId", "required"}

# The documented example resource, verbatim from the vendor docs.
DOC_READING_HISTORY = {
    "name": "readingHistory",
    "operations": {
        "read": {
            "description": "Read reading history",
            "arguments": {"type": "object", "properties": {"limit": {"type": "number"}}},
            "response": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "authors": {"type": "array", "items": {"type": "string"}},
                        "isbn13": {"type": "string"},
                        "isbn10": {"type": "string"},
                        "asin": {"type": "string"},
                        "progress": {"type": "number"},
                        "read": {"type": "boolean"},
                        "description": {"type": "string"},
                        "thumbnailUrl": {"type": "string"},
                    },
                },
            },
        },
    },
}


@pytest.fixture
def integrations(client) -> list[dict]:
    r = client.get("/gravy/integrations")
    assert r.status_code == 200
    return r.json()


def test_list_is_a_bare_array_without_auth(client):
    r = client.get("/gravy/integrations")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, list) and body


def test_list_ignores_any_authorization_header(client, integrations):
    for header in ("Bearer not-a-token", "Publishable pk-nope", "garbage"):
        r = client.get("/gravy/integrations", headers={"Authorization": header})
        assert r.status_code == 200
        assert r.json() == integrations


def test_every_integration_has_exactly_the_documented_keys(integrations):
    for integ in integrations:
        assert set(integ) == INTEGRATION_KEYS, integ["slug"]
        assert isinstance(integ["slug"], str) and integ["slug"]
        assert isinstance(integ["name"], str) and integ["name"]
        assert isinstance(integ["active"], bool) and isinstance(integ["beta"], bool)
        assert isinstance(integ["preAutomationSteps"], list)
        for step in integ["preAutomationSteps"]:
            assert set(step) == STEP_KEYS
        assert integ["resources"]
        for res in integ["resources"]:
            assert list(res) == ["name", "resourceType", "operations"]
            assert res["resourceType"] == {"name": res["name"]}
            assert set(res["operations"]) <= {"read", "write"} and res["operations"]


def test_slugs_are_unique(integrations):
    slugs = [i["slug"] for i in integrations]
    assert len(slugs) == len(set(slugs))


def test_known_integrations_are_listed(integrations):
    slugs = {i["slug"] for i in integrations}
    assert {"audible", "airbnb", "spotify", "expedia"} <= slugs


def test_audible_reading_history_is_the_documented_resource(integrations):
    audible = next(i for i in integrations if i["slug"] == "audible")
    reading = next(r for r in audible["resources"] if r["name"] == "readingHistory")
    assert reading == {**DOC_READING_HISTORY, "resourceType": {"name": "readingHistory"}}


def test_get_one(client, integrations):
    audible = next(i for i in integrations if i["slug"] == "audible")
    r = client.get("/gravy/integrations/audible")
    assert r.status_code == 200
    assert r.json() == audible
    assert r.json()["name"] == "Audible"


def test_get_each_one_equals_its_list_entry(client, integrations):
    for integ in integrations:
        r = client.get(f"/gravy/integrations/{integ['slug']}")
        assert r.status_code == 200
        assert r.json() == integ


def test_automation_alias_is_identical(client, integrations):
    r = client.get("/gravy/automation/integrations")
    assert r.status_code == 200
    assert r.content == client.get("/gravy/integrations").content
    assert r.json() == integrations
    for slug in ("audible", "spotify"):
        a = client.get(f"/gravy/automation/integrations/{slug}")
        assert a.status_code == 200
        assert a.content == client.get(f"/gravy/integrations/{slug}").content


def test_trailing_slash(client, integrations):
    assert client.get("/gravy/integrations/").json() == integrations
    assert client.get("/gravy/integrations/audible/").json()["slug"] == "audible"


@pytest.mark.parametrize("path", ["/gravy/integrations/myspace",
                                  "/gravy/automation/integrations/myspace"])
def test_unknown_slug_is_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json() == {"statusCode": 404, "message": "Integration myspace not found",
                        "error": "Not Found"}


def test_unknown_integration_has_one_wording_everywhere(client, auth):
    by_slug = client.get("/gravy/integrations/myspace").json()
    r = client.post("/gravy/intent-token", json={"integrationId": "myspace"}, headers=auth)
    assert r.status_code == 404
    assert r.json() == by_slug


def test_branding_is_not_part_of_the_integration(client, integrations):
    """Branding is only returned by POST /intent-token, never on the documented integration."""
    assert all("branding" not in i for i in integrations)
    assert "branding" not in client.get("/gravy/integrations/airbnb").json()


def test_every_offered_resource_can_be_connected_and_read(client, integrations, auth):
    """Each resource an integration offers, requested in an intent, is readable at its URL."""
    for integ in integrations:
        names = [r["name"] for r in integ["resources"]]
        created = open_connection(client, auth, integrationId=integ["slug"],
                                  resources={n: {"read": {}} for n in names})
        cid = created["connectionId"]
        moved = set_status(client, cid, "data_available")
        assert moved.status_code == 200, moved.text
        conn = client.get(f"/gravy/connections/{cid}", headers=auth).json()
        assert [r["type"] for r in conn["resources"]] == names
        for res in conn["resources"]:
            assert res["status"] == "completed"
            path = res["url"].removeprefix("http://mock.test")
            r = client.get(path, headers=auth)
            assert r.status_code == 200, (integ["slug"], res["type"], r.text)
            assert r.json()["meta"]["total"] > 0


@pytest.mark.parametrize("path", ["/gravy/integrations", "/gravy/automation/integrations"])
def test_resource_type_beside_name_for_the_sdk_example_app(client, path):
    """BasicExample.tsx reads `resource.resourceType.name` and `resource.operations.read|write`."""
    body = client.get(path).json()
    integrations = body.get("integrations", body) if isinstance(body, dict) else body
    for integ in integrations:
        for res in integ["resources"]:
            assert isinstance(res["resourceType"]["name"], str) and res["resourceType"]["name"]
            assert res["resourceType"]["name"] == res["name"]
            assert res["operations"].get("read") or res["operations"].get("write")
        one = client.get(f"{path}/{integ['slug']}").json()
        assert one["resources"] == integ["resources"]
