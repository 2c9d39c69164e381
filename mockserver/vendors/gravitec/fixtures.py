"""Gravitec fixture data: the doc's regIds, aliases and tags verbatim, then deterministic fake
followers seeded from (seed, site), so the same --seed gives byte-identical sites.

A recording (`serve --record-dir`, `learn`) keeps the campaign stats the real API answered as
documented messages: a file of documented/ named in sites.json's `documented.messages`."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

from ...verify.recording import NotLearned, answer_json, read_fixture, route, scrub, write_json
from .store import NAME, Documented, Follower, GravitecTemplate, SiteTemplate


if TYPE_CHECKING:
    from ...core.probe import Exchange
    from ...core.vendor import Context


def load(ctx: "Context") -> GravitecTemplate:
    root, seed = ctx.fixtures_dir / "gravitec", ctx.seed  # fixtures/<vendor name>
    data = json.loads((root / "sites.json").read_text())
    sites = data["sites"]
    generator = json.loads((root / "generator.json").read_text())
    out = []
    for site in sites:
        followers = [Follower(f["regId"], bool(f.get("active", True)), list(f.get("tags", [])),
                              f.get("alias")) for f in site["followers"]]
        followers += _faked(json.dumps(generator, sort_keys=True), site["role"], seed,
                            frozenset(f.regId for f in followers))
        out.append(SiteTemplate(site["role"], site["plan"], site.get("appKey"),
                                site.get("appSecret"), site.get("segments", {}), followers))
    return GravitecTemplate(out, documented(root, data.get("documented", {})))


def documented(root: Path, spec: dict) -> Documented:
    """The doc's exchanges named in sites.json, read from the documented examples."""
    def example(name: str):
        return json.loads((root / "documented" / f"{name}.json").read_text())

    out = Documented()
    push = spec.get("push")
    if push is not None:
        answer = example(push["response"])
        out.push = example(push["request"])
        out.push_ttl, out.push_display_time = answer["ttl"], answer["display_time"]
    for refusal in spec.get("badAuth", []):
        out.refusals[(refusal["appKey"], refusal["appSecret"])] = example(refusal["response"])
    for campaign_id, name in spec.get("messages", {}).items():
        out.messages[campaign_id] = example(name)
    return out


# The generated followers of a site, made once per process for each (generator, site, seed):
# read-only prototypes every template shares (each template's SiteBase copies them). Making
# them was about 10 ms of every app's start-up, once per test of a suite.
@lru_cache(maxsize=8)
def _faked(generator: str, role: str, seed: int, taken: frozenset[str]) -> tuple[Follower, ...]:
    return tuple(fake_followers(json.loads(generator), role, seed, set(taken)))


def fake_followers(generator: dict, role: str, seed: int, taken: set[str]) -> list[Follower]:
    r = random.Random(f"gravitec:{seed}:{role}")
    vocabulary = generator["tags"]
    out = []
    for n in range(generator["followers"].get(role, 0)):
        reg_id = format(r.getrandbits(256), "064x")  # one draw: every app a test builds does this
        if reg_id in taken:
            continue
        taken.add(reg_id)
        tags = r.sample(vocabulary, r.randint(0, generator["maxTags"]))
        alias = f"user_{r.randint(1, 10**6):06d}" if r.random() < generator["aliasShare"] \
            else None
        out.append(Follower(reg_id, r.random() >= generator["inactiveShare"], tags, alias))
    return out


# -- learning from a recording -----------------------------------------------------------------
def learn(root: Path, exchange: "Exchange") -> bool:
    """Campaign reads (GET /api/v3/messages/{id}, or ?campaignID=): the stats the API answered,
    served for that id on the main site (the mock's campaigns are those its pushes made, so a
    recorded id is a documented message)."""
    if exchange.method.upper() != "GET" or not 200 <= exchange.answer.status < 300:
        return False
    found = route(r"/api/v3/messages(?:/([^/]*))?", exchange.path)
    if found is None:
        return False
    campaign = unquote(found.group(1) or "") or \
        (parse_qs(exchange.query).get("campaignID") or [""])[0]
    if not campaign:
        return False
    stats = scrub(answer_json(exchange))
    sites_path = root / NAME / "sites.json"
    sites = read_fixture(sites_path)
    documented = sites.setdefault("documented", {})
    messages = documented.setdefault("messages", {}) if isinstance(documented, dict) else None
    if not isinstance(messages, dict):
        raise NotLearned("not learned: sites.json's documented.messages is no object")
    # A file name from the id itself where it is plain (Gravitec's ids are digits), else a hash.
    stem = campaign if re.fullmatch(r"[A-Za-z0-9_-]{1,80}", campaign) else \
        hashlib.sha256(campaign.encode()).hexdigest()[:32]
    name = messages.get(campaign) if isinstance(messages.get(campaign), str) \
        and messages[campaign].startswith("recorded-") else f"recorded-message-{stem}"
    path = root / NAME / "documented" / f"{name}.json"
    try:
        unchanged = json.loads(path.read_text(encoding="utf-8")) == stats
    except (OSError, ValueError):
        unchanged = False
    if unchanged and messages.get(campaign) == name:
        return False
    write_json(path, stats)      # the stats first: sites.json never names a missing file
    if messages.get(campaign) != name:
        messages[campaign] = name
        write_json(sites_path, sites)
    return True
