"""Tenants: each tenant's credentials open its own sites; reset, delete and the journal."""
from __future__ import annotations

from typing import Any

from .conftest import APP_KEY, APP_SECRET, BASE, FREE, SANDBOX, add_subscriber, documented, \
    push, push_body, site, stats

NO_MESSAGE = documented("no-message.response")


def new_tenant(client) -> dict[str, Any]:
    r = client.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    return r.json()


def creds(tenant: dict[str, Any]) -> tuple[str, str]:
    c = tenant["credentials"]["gravitec"]
    return c["appKey"], c["appSecret"]


def bad_auth(key: str) -> dict[str, str]:
    return {"status": "incomplete by bad auth",
            "error_message": f"There is no web site with appKey: {key}"}


def tag(client, auth, reg_id: str, name: str, method: str = "POST"):
    return client.request(method, f"{BASE}/tag", params={"regId": reg_id, "name": name},
                          auth=auth)


def reached(client, auth, audience=None) -> int:
    body = push_body()
    if audience is not None:
        body["audience"] = audience
    r = push(client, body, auth=auth)
    assert r.status_code == 200, r.text
    return stats(client, r.json()["id"], auth=auth).json()["send"]


def alias_of(client, auth, reg_id: str) -> dict:
    r = client.get(f"{BASE}/alias", params={"regId": reg_id}, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()


# -- credentials -----------------------------------------------------------------------------
def test_new_tenant_has_its_own_credentials(client):
    tenant = new_tenant(client)
    key, secret = creds(tenant)
    assert set(tenant["credentials"]["gravitec"]) == {"appKey", "appSecret"}
    assert len(key) == len(secret) == 32 and int(key, 16) >= 0 and int(secret, 16) >= 0
    assert (key, secret) != SANDBOX and key != APP_KEY and secret != APP_SECRET
    assert creds(new_tenant(client)) != (key, secret)
    assert client.get("/__admin/credentials").json()["gravitec"] == {"appKey": APP_KEY,
                                                                     "appSecret": APP_SECRET}


def test_new_tenant_starts_from_the_fixtures(client, app):
    tenant = new_tenant(client)
    theirs = creds(tenant)
    for reg_id in ("someregid", "okf8kj589ktGF5g3gF", "nobody"):
        assert alias_of(client, theirs, reg_id) == alias_of(client, SANDBOX, reg_id)
    assert reached(client, theirs) == reached(client, SANDBOX) > 0
    assert site(app, tenant=tenant["id"]).snapshot()["followers"] == \
        site(app).snapshot()["followers"]


def test_credentials_are_not_interchangeable(client):
    key, secret = creds(new_tenant(client))
    for auth, named in (((key, APP_SECRET), key), ((APP_KEY, secret), APP_KEY),
                        ((key, FREE[1]), key)):
        r = client.get(f"{BASE}/alias?regId=someregid", auth=auth)
        assert r.status_code == 403
        assert r.json() == bad_auth(named)


# -- isolation -------------------------------------------------------------------------------
def test_tags_and_aliases_do_not_cross_tenants(client):
    theirs = creds(new_tenant(client))
    assert tag(client, theirs, "someregid", "theirs-only").status_code == 200
    assert tag(client, SANDBOX, "someregid", "mine-only").status_code == 200
    assert reached(client, theirs, {"tags": ["theirs-only"]}) == 1
    assert reached(client, SANDBOX, {"tags": ["theirs-only"]}) == 0
    assert reached(client, SANDBOX, {"tags": ["mine-only"]}) == 1
    assert reached(client, theirs, {"tags": ["mine-only"]}) == 0
    r = tag(client, SANDBOX, "someregid", "theirs-only", "DELETE")
    assert r.status_code == 422
    assert r.json() == documented("tag-not-on-follower.response")

    r = client.post(f"{BASE}/alias", params={"regId": "someregid", "name": "their-alias"},
                    auth=theirs)
    assert r.status_code == 200
    assert alias_of(client, theirs, "someregid")["alias"] == "their-alias"
    assert alias_of(client, SANDBOX, "someregid") == documented("alias-no-alias.response")


def test_followers_added_by_admin_do_not_cross_tenants(client):
    tenant = new_tenant(client)
    theirs = creds(tenant)
    assert add_subscriber(client, regId="theirs", tenant=tenant["id"]).status_code == 201
    assert add_subscriber(client, regId="mine").status_code == 201
    assert alias_of(client, theirs, "mine") == documented("alias-no-regid.response")
    assert alias_of(client, SANDBOX, "theirs") == documented("alias-no-regid.response")
    r = tag(client, SANDBOX, "theirs", "x")
    assert r.status_code == 422
    assert r.json() == documented("no-follower.response")
    assert reached(client, theirs) == reached(client, SANDBOX)  # one added on each side


def test_campaign_ids_do_not_cross_tenants(client):
    theirs = creds(new_tenant(client))
    # pushed at the same instant on both sides
    mine = push(client).json()["id"]
    yours = push(client, auth=theirs).json()["id"]
    free = push(client, auth=FREE).json()["id"]
    assert len({mine, yours, free}) == 3  # a campaign id names one campaign on the server
    for campaign, auth in ((mine, theirs), (yours, SANDBOX), (yours, FREE), (free, theirs)):
        r = stats(client, campaign, auth=auth)
        assert r.status_code == 422
        assert r.json() == NO_MESSAGE
    assert stats(client, mine).status_code == 200
    assert stats(client, yours, auth=theirs).status_code == 200


def test_a_tenant_has_no_free_site(client, app):
    tenant = new_tenant(client)
    for _ in range(10):
        assert push(client, auth=FREE).status_code == 200
    # the free-plan limit is the default tenant's free site's; a tenant's own site is paid
    for _ in range(12):
        assert push(client, auth=creds(tenant)).status_code == 200
    assert len(site(app, "free", tenant["id"]).campaigns) == 0


# -- reset -----------------------------------------------------------------------------------
def test_reset_restores_the_fixtures(client, app):
    tenant = new_tenant(client)
    theirs = creds(tenant)
    before = {t: {role: s.snapshot() for role, s in t_sites.items()}
              for t, t_sites in (("default", app.tenants.get("default").stores["gravitec"].sites),
                                 (tenant["id"],
                                  app.tenants.get(tenant["id"]).stores["gravitec"].sites))}
    campaigns = []
    for auth in (SANDBOX, theirs):
        assert tag(client, auth, "someregid", "added").status_code == 200
        assert tag(client, auth, "someregid", "tag1", "DELETE").status_code == 200
        r = client.post(f"{BASE}/alias", params={"regId": "someregid", "name": "a"}, auth=auth)
        assert r.status_code == 200
        campaigns.append((push(client, auth=auth).json()["id"], auth))
    assert add_subscriber(client, regId="added-follower").status_code == 201
    campaigns.append((push(client, auth=FREE).json()["id"], FREE))

    r = client.post("/__admin/reset", json={})
    assert r.status_code == 200
    assert set(r.json()["reset"]) == {"default", tenant["id"]}
    for auth in (SANDBOX, theirs):
        assert alias_of(client, auth, "someregid") == documented("alias-no-alias.response")
        assert reached(client, auth, {"tags": ["added"]}) == 0
        assert reached(client, auth, {"tags": ["tagname"]}) == 1
        r = tag(client, auth, "someregid", "tag1", "DELETE")
        assert r.status_code == 200  # the fixture tag is back
    assert alias_of(client, SANDBOX, "added-follower") == documented("alias-no-regid.response")
    for campaign, auth in campaigns:
        r = stats(client, campaign, auth=auth)
        assert r.status_code == 422
        assert r.json() == NO_MESSAGE
    # after the reset, new pushes get new ids, never an old campaign's
    fresh = push(client).json()["id"]
    assert fresh not in {c for c, _ in campaigns}
    assert client.post("/__admin/reset", json={}).status_code == 200
    after = {t: {role: s.snapshot() for role, s in
                 app.tenants.get(t).stores["gravitec"].sites.items()} for t in before}
    assert after == before


def test_reset_clears_the_free_plan_day(client):
    for _ in range(10):
        assert push(client, auth=FREE).status_code == 200
    assert push(client, auth=FREE).status_code == 422
    client.post("/__admin/reset", json={"tenant": "default"})
    assert push(client, auth=FREE).status_code == 200


def test_reset_one_tenant_only(client):
    tenant = new_tenant(client)
    theirs = creds(tenant)
    assert tag(client, theirs, "someregid", "theirs").status_code == 200
    assert tag(client, SANDBOX, "someregid", "mine").status_code == 200
    mine = push(client).json()["id"]
    r = client.post("/__admin/reset", json={"tenant": tenant["id"]})
    assert r.json() == {"reset": [tenant["id"]]}
    assert reached(client, theirs, {"tags": ["theirs"]}) == 0
    assert reached(client, SANDBOX, {"tags": ["mine"]}) == 1
    assert stats(client, mine).status_code == 200
    assert alias_of(client, theirs, "someregid")["regIdExists"] == "true"  # creds still work


# -- delete ----------------------------------------------------------------------------------
def test_deleting_a_tenant_revokes_its_credentials(client):
    tenant = new_tenant(client)
    theirs = creds(tenant)
    campaign = push(client, auth=theirs).json()["id"]
    assert client.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204
    for r in (push(client, auth=theirs), stats(client, campaign, auth=theirs),
              tag(client, theirs, "someregid", "x"),
              client.get(f"{BASE}/alias?regId=someregid", auth=theirs)):
        assert r.status_code == 403
        assert r.json() == bad_auth(theirs[0])
    r = add_subscriber(client, regId="x", tenant=tenant["id"])
    assert r.status_code == 404
    assert r.json() == {"error": f"no tenant {tenant['id']}"}
    assert alias_of(client, SANDBOX, "someregid")["regIdExists"] == "true"
    assert push(client, auth=FREE).status_code == 200


# -- the journal -----------------------------------------------------------------------------
def test_journal_attributes_calls_to_the_tenant_and_redacts_credentials(client):
    tenant = new_tenant(client)
    key, secret = creds(tenant)
    client.delete("/__admin/requests")
    assert tag(client, (key, secret), "someregid", "journaled").status_code == 200
    assert push(client, auth=(key, secret)).status_code == 200
    assert push(client).status_code == 200
    assert push(client, auth=FREE).status_code == 200

    r = client.get("/__admin/requests", params={"vendor": "gravitec", "tenant": tenant["id"]})
    assert r.status_code == 200
    journal = r.json()
    assert journal["total"] == 2
    got = [(e["method"], e["path"], e["status"], e["tenant"], e["vendor"])
           for e in journal["requests"]]
    assert got == [("POST", "/api/v3/push", 200, tenant["id"], "gravitec"),
                   ("POST", "/api/v3/tag", 200, tenant["id"], "gravitec")]
    assert journal["requests"][1]["query"] == "regId=someregid&name=journaled"
    for entry in journal["requests"]:
        assert entry["request"]["headers"]["authorization"] == "[redacted]"
    everything = client.get("/__admin/requests", params={"vendor": "gravitec"})
    assert everything.json()["total"] == 4
    assert [e["tenant"] for e in everything.json()["requests"][:2]] == ["default", "default"]
    text = everything.text
    for secret_text in (secret, APP_SECRET, FREE[1]):
        assert secret_text not in text
    assert "Basic " not in text
