"""Push campaigns: who they reach, their stats on the mock clock, scheduled sends and the free
plan's daily limit. Expected audiences are counted from the site's own followers."""
from __future__ import annotations

import pytest

from .conftest import FREE, SANDBOX, add_subscriber, push, push_body, site, stats

NOW_MS = 1705314600000           # the frozen test clock, 2024-01-15T10:30:00.000Z
TO_MIDNIGHT = 13 * 3600 + 1800   # from 10:30 UTC to the next UTC day
FREE_LIMIT = {"httpStatus": "UNPROCESSABLE_ENTITY", "error": "Incomplete by wrong param(s)!",
              "errorDescription": "For Free plan only 10 push campaigns per day are available "
                                  "through API!"}
INACTIVE = "okf8kj589ktGF5g3gF#gf3#46g^^6gfGfgfgfg%g5g"   # a fixture follower, inactive
ACTIVE = ["someregid", "okf8kj589ktGF5g3gF", "dec301908b9ba...8df85e57a58e40f96f"]


def active(app, role: str = "main") -> dict:
    return {r: f for r, f in site(app, role).followers.items() if f.active}


def with_tag(app, *names: str) -> set[str]:
    low = {n.lower() for n in names}
    return {r for r, f in active(app).items() if low & {t.lower() for t in f.tags}}


def send_to(client, audience=None, auth=SANDBOX, **fields) -> str:
    body = push_body()
    if audience is not None:
        body["audience"] = audience
    body.update(fields)
    r = push(client, body, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def reached(client, audience=None, auth=SANDBOX, **fields) -> int:
    r = stats(client, send_to(client, audience, auth, **fields), auth=auth)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "SENT"
    return r.json()["send"]


def ordered(body: dict) -> bool:
    return body["send"] >= body["received"] >= body["clicked"] >= body["closed"] >= 0


# -- stats over time -----------------------------------------------------------------------------
@pytest.mark.parametrize("audience", [
    {"tokens": ACTIVE[:1]}, {"tokens": ACTIVE[:2]}, {"tokens": ACTIVE}, None,
], ids=["1", "2", "3", "all"])
def test_stats_grow_with_the_clock_and_stay_ordered(client, clock, audience):
    campaign = send_to(client, audience)
    seen = []
    elapsed = 0.0
    for t in (0, 1, 15, 30, 59, 60, 61, 120, 300, 599, 600, 601, 3600, 86400 * 3):
        clock.advance(t - elapsed)
        elapsed = t
        body = stats(client, campaign).json()
        assert body["status"] == "SENT"
        assert ordered(body), (t, body)
        if seen:
            assert all(body[k] >= seen[-1][k] for k in ("received", "clicked", "closed")), t
            assert body["send"] == seen[-1]["send"]
        seen.append(body)
    assert seen[0]["received"] == seen[0]["clicked"] == seen[0]["closed"] == 0
    assert seen[-1]["received"] > 0
    if seen[-1]["send"] > 1:  # a single follower's share of clicks rounds to none
        assert seen[-1]["clicked"] > 0
    assert seen[-1] == seen[-3]  # settled after ten minutes
    assert len({s["received"] for s in seen}) > 1


def test_stats_do_not_move_without_the_clock(client):
    campaign = send_to(client)
    first = stats(client, campaign).json()
    for _ in range(3):
        assert stats(client, campaign).json() == first


def test_stats_follow_the_admin_clock(client):
    campaign = send_to(client, {"tokens": ACTIVE[:2]})
    assert client.post("/__admin/clock", json={"advance": 600}).status_code == 200
    assert stats(client, campaign).json() == {"status": "SENT", "send": 2, "received": 2,
                                              "clicked": 1, "closed": 1}


# -- audiences -----------------------------------------------------------------------------------
def test_no_audience_reaches_every_active_follower(client, app):
    n = len(active(app))
    assert 0 < n < len(site(app).followers)  # the fixtures hold inactive followers too
    assert reached(client) == n
    assert reached(client, segments=[]) == n


def test_tokens_reach_only_active_known_followers(client, app):
    assert reached(client, {"tokens": ACTIVE}) == 3
    assert reached(client, {"tokens": [INACTIVE]}) == 0
    assert reached(client, {"tokens": ["unknown-token", "SOMEREGID"]}) == 0
    assert reached(client, {"tokens": ACTIVE + [INACTIVE, "unknown-token"]}) == 3
    assert reached(client, {"tokens": ACTIVE[:1] * 5}) == 1   # a repeated token counts once
    assert reached(client, {"tokens": []}) == 0
    fake = [r for r in active(app) if len(r) == 64][:100]
    assert len(fake) == 100
    assert reached(client, {"tokens": fake}) == 100


def test_aliases(client, app):
    # "alias1" is shared by an active and an inactive fixture follower
    assert reached(client, {"aliases": ["alias1"]}) == 1
    for reg_id in ("shared-1", "shared-2"):
        assert add_subscriber(client, regId=reg_id, alias="shared-alias").status_code == 201
    assert add_subscriber(client, regId="shared-3", alias="shared-alias",
                          active=False).status_code == 201
    assert reached(client, {"aliases": ["shared-alias"]}) == 2
    assert reached(client, {"aliases": ["shared-alias", "alias1", "own_id_device_1"]}) == 4
    assert reached(client, {"aliases": ["no-such-alias"]}) == 0
    fixture_aliases = sorted({f.alias for f in active(app).values() if f.alias})[:20]
    want = {r for r, f in active(app).items() if f.alias in fixture_aliases}
    assert reached(client, {"aliases": fixture_aliases}) == len(want)


@pytest.mark.parametrize("tags", [["tag1"], ["TAG1"], ["cars"], ["Cars", "NEWS"],
                                  ["tag1", "tag2", "tag3"], ["no-such-tag"], ["premium"]])
def test_tags_are_case_insensitive(client, app, tags):
    want = with_tag(app, *tags)
    if tags != ["no-such-tag"]:
        assert want
    assert reached(client, {"tags": tags}) == len(want)


def test_segment_is_its_tags_at_send_time(client, app):
    assert reached(client, segments=["Sandbox testers"]) == len(with_tag(app, "tag1"))
    want = {r for r, f in active(app).items()
            if "cars" in {t.lower() for t in f.tags} and "news" not in {t.lower() for t in f.tags}}
    assert want
    assert reached(client, segments=["Car fans without news"]) == len(want)
    before = len(with_tag(app, "tag1"))
    assert add_subscriber(client, regId="new-tester", tags=["Tag1"]).status_code == 201
    assert reached(client, segments=["Sandbox testers"]) == before + 1


def test_tags_segment_and_or(client, app):
    tags = {r: {t.lower() for t in f.tags} for r, f in active(app).items()}
    want = [r for r, t in tags.items() if ("tag1" in t and "tag2" not in t) or "cars" in t]
    segment = [{"association": "AND", "name": "tag1"}, {"association": "AND_NOT", "name": "tag2"},
               {"association": "OR", "name": "CARS"}]
    assert reached(client, {"tags_segment": segment}) == len(want)
    want = [r for r, t in tags.items() if "tag3" not in t]
    assert reached(client, {"tags_segment": [{"association": "OR_NOT", "name": "tag3"}]}) \
        == len(want)


def test_a_follower_added_later_is_reached_by_later_pushes_only(client, app):
    first = send_to(client)
    n = len(active(app))
    assert add_subscriber(client, regId="late-comer").status_code == 201
    assert stats(client, first).json()["send"] == n
    assert reached(client) == n + 1


def test_campaign_ids_are_unique_and_increasing(client, clock):
    ids = [send_to(client) for _ in range(5)]
    clock.advance(0.001)
    ids.append(send_to(client))
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    assert len(set(ids)) == len(ids)


# -- scheduled pushes ----------------------------------------------------------------------------
SCHEDULED = {"status": "SCHEDULED", "send": 0, "received": 0, "clicked": 0, "closed": 0}


@pytest.mark.parametrize("as_string", [False, True])
def test_scheduled_push_goes_out_when_the_clock_passes_it(client, app, clock, as_string):
    at = NOW_MS + 60000
    body = {**push_body(), "send_date": str(at) if as_string else at,
            "audience": {"tags": ["sched-tag"]}}
    r = push(client, body)
    assert r.status_code == 200, r.text
    assert r.json()["send_date"] == str(at)
    campaign = r.json()["id"]
    assert stats(client, campaign).json() == SCHEDULED
    clock.advance(30)
    assert add_subscriber(client, regId="before-send", tags=["Sched-Tag"]).status_code == 201
    assert add_subscriber(client, regId="before-send-off", tags=["sched-tag"],
                          active=False).status_code == 201
    clock.advance(29.999)
    assert stats(client, campaign).json() == SCHEDULED
    clock.advance(0.001)  # exactly send_date
    body = stats(client, campaign).json()
    assert body["status"] == "SENT" and body["send"] == 1
    assert body["received"] == 0  # its stats start at send_date, not at creation
    clock.advance(60)
    assert add_subscriber(client, regId="after-send", tags=["sched-tag"]).status_code == 201
    assert stats(client, campaign).json()["send"] == 1


def test_a_follower_added_after_send_time_is_not_counted_even_unobserved(client, clock):
    """Nothing reads the campaign between its send time and the follower's arrival."""
    campaign = send_to(client, {"tags": ["sched-tag"]}, send_date=NOW_MS + 60000)
    assert add_subscriber(client, regId="early", tags=["sched-tag"]).status_code == 201
    clock.advance(61)
    assert add_subscriber(client, regId="late", tags=["sched-tag"]).status_code == 201
    assert stats(client, campaign).json()["send"] == 1


def test_a_tag_added_after_send_time_is_not_counted(client, clock):
    campaign = send_to(client, {"tags": ["sched-tag"]}, send_date=NOW_MS + 60000)
    clock.advance(61)
    r = client.post("/gravitec/api/v3/tag", params={"regId": "someregid", "name": "sched-tag"},
                    auth=SANDBOX)
    assert r.status_code == 200
    assert stats(client, campaign).json()["send"] == 0


def test_scheduled_segment_reads_the_segment_at_send_time(client, app, clock):
    campaign = send_to(client, segments=["Sandbox testers"], send_date=str(NOW_MS + 5000))
    before = len(with_tag(app, "tag1"))
    assert add_subscriber(client, regId="joined", tags=["tag1"]).status_code == 201
    clock.advance(5)
    assert stats(client, campaign).json()["send"] == before + 1


def test_scheduled_pushes_go_out_in_one_settling(client, clock):
    later = send_to(client, {"tokens": ACTIVE}, send_date=NOW_MS + 120000)
    sooner = send_to(client, {"tokens": ACTIVE[:1]}, send_date=NOW_MS + 60000)
    clock.advance(90)
    assert stats(client, later).json() == SCHEDULED
    assert stats(client, sooner).json()["send"] == 1
    clock.advance(3600)
    assert stats(client, later).json()["send"] == 3
    assert stats(client, sooner).json()["status"] == "SENT"


@pytest.mark.parametrize("send_date", ["now", "", "NOW", None])
def test_now_and_empty_send_date_are_immediate(client, send_date):
    r = push(client, {**push_body(), "send_date": send_date, "audience": {"tokens": ACTIVE}})
    assert r.status_code == 200, r.text
    assert r.json()["send_date"] == str(NOW_MS)
    body = stats(client, r.json()["id"]).json()
    assert body["status"] == "SENT" and body["send"] == 3


def test_send_date_of_now_exactly_is_immediate(client):
    r = push(client, {**push_body(), "send_date": NOW_MS, "audience": {"tokens": ACTIVE}})
    assert r.status_code == 200
    assert stats(client, r.json()["id"]).json()["status"] == "SENT"


# -- the free plan -------------------------------------------------------------------------------
def test_free_plan_allows_ten_api_pushes_a_day(client, app, clock):
    free = site(app, "free")
    n = len(active(app, "free"))
    assert n > 0
    ids = [send_to(client, auth=FREE) for _ in range(10)]
    assert len(free.campaigns) == 10
    before = list(free.campaigns)
    r = push(client, auth=FREE)
    assert r.status_code == 422
    assert r.json() == FREE_LIMIT
    assert list(free.campaigns) == before  # nothing created
    # even a scheduled push, or one later that day
    r = push(client, {**push_body(), "send_date": NOW_MS + 60000}, auth=FREE)
    assert r.json() == FREE_LIMIT
    clock.advance(TO_MIDNIGHT - 0.001)     # 23:59:59.999
    assert push(client, auth=FREE).json() == FREE_LIMIT
    assert list(free.campaigns) == before
    for campaign in ids:  # the ten went out
        assert stats(client, campaign, auth=FREE).json()["send"] == n
    clock.advance(0.001)                    # 00:00:00.000, the next UTC day
    new = send_to(client, auth=FREE)
    assert new not in ids and len(free.campaigns) == 11
    for _ in range(9):
        send_to(client, auth=FREE)
    assert push(client, auth=FREE).json() == FREE_LIMIT


def test_free_plan_counts_only_accepted_pushes(client, app):
    bad = push(client, {"payload": {"title": "no message"}}, auth=FREE)
    assert bad.status_code == 422 and bad.json() != FREE_LIMIT
    for _ in range(10):
        send_to(client, auth=FREE)
    assert push(client, auth=FREE).json() == FREE_LIMIT


def test_free_plan_limit_is_the_free_sites_own(client, app):
    for _ in range(10):
        send_to(client, auth=FREE)
    assert push(client, auth=FREE).json() == FREE_LIMIT
    assert reached(client) == len(active(app))   # the paid site is not limited by it


def test_paid_site_accepts_more_than_ten(client, app):
    ids = [send_to(client) for _ in range(25)]
    assert len(set(ids)) == 25
    assert list(site(app).campaigns) == ids
    assert len(site(app, "free").campaigns) == 0


def test_free_site_campaigns_are_not_the_paid_sites(client):
    campaign = send_to(client, auth=FREE)
    r = stats(client, campaign)
    assert r.status_code == 422
    assert r.json()["errorDescription"] == "There is no message with this id!"
    paid = send_to(client)
    assert stats(client, paid, auth=FREE).status_code == 422
