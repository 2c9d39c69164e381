"""Gravitec fixture data: the doc's regIds, aliases and tags verbatim, then deterministic fake
followers seeded from (seed, site), so the same --seed gives byte-identical sites."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

from .store import Documented, Follower, GravitecTemplate, SiteTemplate


if TYPE_CHECKING:
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
        followers += fake_followers(generator, site["role"], seed,
                                    {f.regId for f in followers})
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
