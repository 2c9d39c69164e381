"""Passage's part of the platform: state snapshots (every link state, byte-identical round trip,
all-or-nothing refusal), a data dir across a restart, and learning the providers catalogue from
a recording."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from mockserver import Clock, create_app
from mockserver.core.probe import Answer, Exchange
from mockserver.core.paths import data_dir
from mockserver.vendors.passage import fixtures as passage_fixtures

from ..conftest import DOC_TIME, MockClient
from .conftest import (A_QUICKSTART, PREFIX, SKILL_MULTI, advance, bearer, body, claim, create,
                       deliveries)

LINKS = f"{PREFIX}/v1/links"


def _every_state(client, auth) -> dict[str, dict]:
    """A link in each stored state: pending, active (auto-completion pending), complete, failed."""
    made = {name: create(client, auth, base, webhookUrl=None)
            for name, base in (("pending", A_QUICKSTART), ("active", SKILL_MULTI),
                               ("complete", A_QUICKSTART), ("failed", SKILL_MULTI))}
    for name in ("active", "complete", "failed"):
        assert claim(client, made[name]["claimCode"]).status_code == 200
    assert client.post(f"/__admin/passage/links/{made['complete']['linkId']}/complete",
                       json={}).status_code == 200
    assert client.post(f"/__admin/passage/links/{made['failed']['linkId']}/fail",
                       json={"code": "CONNECTION_FAILED"}).status_code == 200
    return made


def test_every_link_state_round_trips_byte_identical(client, auth):
    made = _every_state(client, auth)
    exported = client.get("/__admin/state").content
    assert json.loads(exported)["vendors"]["passage"]["links"][1]["autoAt"] is not None
    r = client.put("/__admin/state", content=exported,
                   headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert client.get("/__admin/state").content == exported
    # what was restored behaves: the active link completes on time, the failed one re-claims
    advance(client, 5)
    got = client.get(f"{LINKS}/{made['active']['linkId']}", headers=auth).json()
    assert got["status"] == "complete" and set(got["result"]) == {"operations"}
    assert claim(client, made["failed"]["claimCode"]).status_code == 200
    assert claim(client, made["complete"]["claimCode"]).status_code == 409


def test_a_snapshot_imports_into_another_tenant_once_its_claim_codes_are_free(client, auth):
    """POST /link/claim names no tenant, so a claim code leads to one link on the server: a
    snapshot holding codes another tenant holds is refused, naming them, and changes nothing."""
    made = _every_state(client, auth)
    snapshot = client.get("/__admin/state").json()
    other = client.post("/__admin/tenants").json()
    before = client.get("/__admin/state", params={"tenant": other["id"]}).content
    r = client.put("/__admin/state", params={"tenant": other["id"]}, json=snapshot)
    assert r.status_code == 400
    details = r.json()["details"]
    assert len(details) == 4 and all("tenant default holds this claim code" in d
                                     for d in details), details
    assert client.get("/__admin/state", params={"tenant": other["id"]}).content == before
    # the same snapshot into the tenant it came from replaces its own codes: accepted
    assert client.put("/__admin/state", json=snapshot).status_code == 200
    assert client.post("/__admin/reset", json={"tenant": "default"}).status_code == 200
    r = client.put("/__admin/state", params={"tenant": other["id"]}, json=snapshot)
    assert r.status_code == 200, r.text
    theirs = bearer(other["credentials"]["passage"]["apiKey"])
    got = client.get(f"{LINKS}/{made['complete']['linkId']}", headers=theirs).json()
    assert got["status"] == "complete" and got["result"]["billing"]
    assert claim(client, made["failed"]["claimCode"]).json()["linkId"] == \
        made["failed"]["linkId"]


def test_ids_the_seed_draws_again_after_an_import_are_drawn_anew(client, auth):
    """A snapshot from a server with the same seed holds the ids this one is about to mint: a
    new link gets other ones, and the imported link keeps its own."""
    first = create(client, auth)
    snapshot = client.get("/__admin/state").json()
    again = MockClient(create_app(seed=0, clock=Clock(DOC_TIME)))  # its stream starts over
    try:
        assert again.put("/__admin/state", json=snapshot).status_code == 200
        second = create(again, auth)
        assert second["linkId"] != first["linkId"]
        assert second["claimCode"] != first["claimCode"]
        assert again.get(f"{LINKS}/{first['linkId']}", headers=auth).json()["status"] == \
            "pending"
        assert claim(again, first["claimCode"]).json()["linkId"] == first["linkId"]
        assert claim(again, second["claimCode"]).json()["linkId"] == second["linkId"]
    finally:
        again.close()


def test_an_inconsistent_snapshot_is_refused_whole(client, auth):
    create(client, auth)
    snapshot = client.get("/__admin/state").json()
    before = client.get("/__admin/state").content
    links = snapshot["vendors"]["passage"]["links"]
    links.append(dict(links[0], integrationId="nope"))   # and a duplicate id and claim code
    r = client.put("/__admin/state", json=snapshot)
    assert r.status_code == 400
    details = " ".join(r.json()["details"])
    assert "no integration 'nope'" in details and "duplicate id" in details
    assert "duplicate claimCode" in details
    assert client.get("/__admin/state").content == before


def start(tmp_path: Path) -> "tuple[object, MockClient]":
    """A server on the data dir under `tmp_path` (kept across the test's restarts)."""
    app = create_app(seed=0, clock=Clock(DOC_TIME), data_dir=tmp_path / "data")
    return app, MockClient(app)


def test_links_and_the_setting_survive_a_restart_with_a_data_dir(tmp_path):
    app, client = start(tmp_path)
    auth = bearer("psg_sandbox_key")
    made = client.post(LINKS, json=body(A_QUICKSTART, webhookUrl=None), headers=auth).json()
    assert client.post("/__admin/passage/settings",
                       json={"autoCompleteSeconds": None}).status_code == 200
    assert claim(client, made["claimCode"]).status_code == 200
    client.close()
    app.data.close()
    app, client = start(tmp_path)
    try:
        got = client.get(f"{LINKS}/{made['linkId']}", headers=auth).json()
        assert got["status"] == "active"
        assert client.get("/__admin/passage/settings").json() == {"autoCompleteSeconds": None}
    finally:
        client.close()
        app.data.close()


def written(app, client) -> None:
    """Until the data dir has written every mark (its rounds run on the app's loop, which turns
    while a call is served)."""
    data = app.data
    for _ in range(400):
        client.get("/__admin/health")
        if not (data._dirty or data._server_dirty or data._todo or data._pending):
            return
        time.sleep(0.01)
    raise AssertionError("the data dir kept marks unwritten for 4 s")


def test_a_completion_the_clock_made_is_kept_and_its_webhook_not_sent_again(tmp_path, receiver):
    """An auto-completion written by a clock move (no call of the tenant's) reaches the data
    dir: after a restart the link reads complete and no second link.complete goes out."""
    app, client = start(tmp_path)
    auth = bearer("psg_sandbox_key")
    made = client.post(LINKS, json=body(A_QUICKSTART, webhookUrl=receiver.url),
                       headers=auth).json()
    assert claim(client, made["claimCode"]).status_code == 200
    written(app, client)  # the claim is on disk: the completion must be written on its own
    advance(client, 6)
    deliveries(client, receiver, 1)
    written(app, client)
    client.close()
    app.data.close()
    app, client = start(tmp_path)
    try:
        got = client.get(f"{LINKS}/{made['linkId']}", headers=auth).json()
        assert got["status"] == "complete"
        for _ in range(50):  # a second delivery would start on this read (0.1 s, unfixed)
            client.get("/__admin/health")
            time.sleep(0.01)
        assert len(receiver.requests) == 1
    finally:
        client.close()
        app.data.close()


def _providers_exchange(providers: list[dict]) -> Exchange:
    return Exchange("passage", "GET", "/v1/providers", "", {}, b"",
                    Answer(200, {"content-type": "application/json"},
                           json.dumps({"providers": providers}).encode()))


def test_a_recording_learns_the_providers_catalogue(tmp_path):
    root = tmp_path / "fixtures"
    shutil.copytree(data_dir("fixtures"), root)
    served = json.loads((root / "passage" / "providers.json").read_text())["providers"]
    renamed = [dict(served[0], name="T-Mobile US")]
    assert passage_fixtures.learn(root, _providers_exchange(renamed)) is True
    assert passage_fixtures.learn(root, _providers_exchange(renamed)) is False  # no change
    app = create_app(seed=0, clock=Clock(DOC_TIME), fixtures=root)
    client = MockClient(app)
    try:
        got = client.get(f"{PREFIX}/v1/providers", headers=bearer("psg_sandbox_key")).json()
        assert got["providers"][0]["name"] == "T-Mobile US"
        assert [p["id"] for p in got["providers"]] == [p["id"] for p in served]
    finally:
        client.close()
    # a write is not learned
    write = Exchange("passage", "POST", "/v1/links", "", {}, b"{}",
                     Answer(201, {"content-type": "application/json"}, b"{}"))
    assert passage_fixtures.learn(Path(root), write) is False
