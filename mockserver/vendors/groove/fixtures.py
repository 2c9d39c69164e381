"""Groove fixture data: the flows and people of fixtures.json, then deterministic fake ones
seeded from --seed (same seed, byte-identical data)."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from faker import Faker

from .store import Flow, GrooveTemplate, LabelInstance, Person, PersonFlow, Step

_fake = Faker("en_US")  # built once: a Faker costs more than all of Groove's fixtures


def load(fixtures_dir: Path, seed: int) -> GrooveTemplate:
    root = fixtures_dir / "groove"  # fixtures/<vendor name>
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
    memberships = [PersonFlow(m["flowId"], m["personId"], m["createdAt"])
                   for m in data["memberships"]]
    return GrooveTemplate({"user": data["user"], "scopes": data["scopes"],
                           "defaultScopes": data["defaultScopes"], "flows": flows,
                           "people": people, "memberships": memberships})
