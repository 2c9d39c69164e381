"""Groove fixture data: the flows and people of fixtures.json, then deterministic fake ones
seeded from --seed (same seed, byte-identical data)."""
from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faker import Faker

from .store import Flow, GrooveTemplate, LabelInstance, Person, PersonFlow, Step

if TYPE_CHECKING:
    from ...core.vendor import Context

_fake = Faker("en_US")  # built once: a Faker costs more than all of Groove's fixtures


def load(ctx: "Context") -> GrooveTemplate:
    data, flows, people, memberships = _generated(ctx.fixtures_dir / "groove", ctx.seed)
    return GrooveTemplate({"user": dict(data["user"]), "scopes": data["scopes"],
                           "defaultScopes": data["defaultScopes"], "flows": list(flows),
                           "people": list(people), "memberships": list(memberships)})


# The fixture files and the seed make the same frozen flows and people every time; faker makes
# them slowly (about 25 ms, most of an app's start-up, once per test of a suite). Only a few
# (directory, seed) pairs ever occur in a process.
@lru_cache(maxsize=8)
def _generated(root: Path, seed: int) -> tuple[dict[str, Any], tuple[Flow, ...],
                                               tuple[Person, ...], tuple[PersonFlow, ...]]:
    data = json.loads((root / "fixtures.json").read_text())
    gen = json.loads((root / "generator.json").read_text())
    r = random.Random(f"groove:{seed}")
    fake = _fake
    fake.seed_instance(f"groove:{seed}")
    step_ids = iter(range(5001, 10**9))
    label_ids = iter(range(9001, 10**9))

    def flow(spec: dict[str, Any]) -> Flow:
        steps = tuple(Step(str(next(step_ids)), f"{gen['stepNames'][i % len(gen['stepNames'])]}"
                           f" #{i + 1}", str(1 + i * 2)) for i in range(spec["steps"]))
        labels = tuple(LabelInstance(str(next(label_ids))) for _ in range(spec["labelInstances"]))
        fields = {k: spec.get(k) for k in ("id", "name", "description", "userId", "finalized",
                                           "isMasterFlow", "autoImportAssignOwner",
                                           "autoImportId", "removePersonAfterBounce",
                                           "removePersonAfterReply", "sfdcCampaignId")}
        return Flow(**fields, steps=steps, labelInstances=labels)

    flows = [flow(f) for f in data["flows"]]
    next_flow = max(int(f.id) for f in flows) + 1
    for n in range(gen["flows"]):
        flows.append(flow({
            "id": str(next_flow + n), "name": f"{fake.catch_phrase()}",
            "description": fake.sentence(), "userId": r.choice(["1", "1", "2"]),
            "finalized": r.random() < 0.8, "isMasterFlow": False,
            "autoImportAssignOwner": r.random() < 0.3, "autoImportId": None,
            "removePersonAfterBounce": True, "removePersonAfterReply": r.random() < 0.7,
            "sfdcCampaignId": None, "steps": r.randint(1, gen["maxSteps"]),
            "labelInstances": r.randint(0, gen["maxLabels"])}))
    people = [Person(p["id"], p["name"], p["emailAddress"], p.get("salesforceId"))
              for p in data["people"]]
    next_person = max(int(p.id) for p in people) + 1
    for n in range(gen["people"]):
        first, last = fake.first_name(), fake.last_name()
        prefix = r.choice(["003", "00Q"])  # Contact or Lead
        sfid = prefix + "5e" + "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                "qrstuvwxyz0123456789") for _ in range(13))
        people.append(Person(str(next_person + n), f"{first} {last}",
                             f"{first}.{last}@{fake.domain_name()}".lower(), sfid))
    memberships = tuple(PersonFlow(m["flowId"], m["personId"], m["createdAt"])
                        for m in data["memberships"])
    return data, tuple(flows), tuple(people), memberships
