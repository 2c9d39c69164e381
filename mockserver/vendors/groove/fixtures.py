"""Groove fixture data: the flows and people of fixtures.json, then deterministic fake ones
seeded from --seed (same seed, byte-identical data).

A recording (`serve --record-dir`, `learn`) keeps the flows and people the real API's GraphQL
answers showed in fixtures.json's `recorded` object, only the fields each answer showed: laid
over the rest once it is built, a recorded flow or person takes the place of the one of the same
id (the fields no answer showed keep that one's values) or joins them with defaults."""
from __future__ import annotations

import json
import random
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from faker import Faker
from graphql import GraphQLError, OperationType, get_operation_ast, parse, validate
from graphql.language import (FieldNode, FragmentDefinitionNode, FragmentSpreadNode,
                              InlineFragmentNode, SelectionSetNode)
from graphql.type import GraphQLNonNull, get_named_type
from graphql.utilities import value_from_ast_untyped

from ...verify.recording import (NotLearned, answer_json, read_fixture, route, scrub,
                                 stand_in_email, stand_in_name, upsert, write_json)
from . import schema as graphql_schema
from .store import NAME, Flow, GrooveTemplate, LabelInstance, Person, PersonFlow, Step

if TYPE_CHECKING:
    from ...core.probe import Exchange
    from ...core.vendor import Context

_fake = Faker("en_US")  # built once: a Faker costs more than all of Groove's fixtures


def load(ctx: "Context") -> GrooveTemplate:
    root = ctx.fixtures_dir / NAME  # fixtures/<vendor name>
    data = json.loads((root / "fixtures.json").read_text())
    recorded = data.pop("recorded", {})
    # The generated part depends on the rest of the file, the generator and the seed alone.
    flows, people, memberships = _generated(json.dumps(data, sort_keys=True),
                                            (root / "generator.json").read_text(), ctx.seed)
    flows, people = _lay_over(flows, people, recorded)
    return GrooveTemplate({"user": dict(data["user"]), "scopes": data["scopes"],
                           "defaultScopes": data["defaultScopes"], "flows": list(flows),
                           "people": list(people), "memberships": list(memberships)})


# The fixture files and the seed make the same frozen flows and people every time; faker makes
# them slowly (about 25 ms, most of an app's start-up, once per test of a suite). Only a few
# (fixtures, seed) pairs ever occur in a process.
@lru_cache(maxsize=8)
def _generated(fixtures: str, generator: str, seed: int) \
        -> tuple[tuple[Flow, ...], tuple[Person, ...], tuple[PersonFlow, ...]]:
    data = json.loads(fixtures)
    gen = json.loads(generator)
    r = random.Random(f"groove:{seed}")
    fake = _fake
    fake.seed_instance(f"groove:{seed}")
    step_ids = iter(range(5001, 10**9))
    label_ids = iter(range(9001, 10**9))

    def flow(spec: dict[str, Any]) -> Flow:
        steps = tuple(Step(str(next(step_ids)), f"{gen['stepNames'][i % len(gen['stepNames'])]}"
                           f" #{i + 1}", str(1 + i * 2)) for i in range(spec["steps"]))
        labels = tuple(LabelInstance(str(next(label_ids))) for _ in range(spec["labelInstances"]))
        fields = {k: spec.get(k) for k in FLOW_FIELDS}
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
    return tuple(flows), tuple(people), memberships


FLOW_FIELDS = ("id", "name", "description", "userId", "finalized", "isMasterFlow",
               "autoImportAssignOwner", "autoImportId", "removePersonAfterBounce",
               "removePersonAfterReply", "sfdcCampaignId")
PERSON_FIELDS = ("id", "name", "emailAddress")


def _lay_over(flows: tuple[Flow, ...], people: tuple[Person, ...], recorded: dict[str, Any]) \
        -> tuple[list[Flow], list[Person]]:
    by_id = {f.id: f for f in flows}
    for rec in recorded.get("flows", []):
        fields = {k: rec[k] for k in FLOW_FIELDS if k in rec}
        if "steps" in rec:
            fields["steps"] = tuple(Step(s["id"], s["name"], s["dayNumber"]) for s in rec["steps"])
        if "labelInstances" in rec:
            fields["labelInstances"] = tuple(LabelInstance(s["id"]) for s in rec["labelInstances"])
        old = by_id.get(rec["id"])
        # A flow only a recording knows: what no answer showed is null (the schema allows it),
        # its name its id, no steps and no labels.
        by_id[rec["id"]] = replace(old, **fields) if old is not None else Flow(**{
            **dict.fromkeys(FLOW_FIELDS), "name": f"Flow {rec['id']}", **fields})
    found = {p.id: p for p in people}
    ids = [*found, *(str(rec.get("id")) for rec in recorded.get("people", []))]
    next_id = max((int(k) for k in ids if k.isdigit()), default=0) + 1
    for rec in recorded.get("people", []):
        old = found.get(rec["id"]) if "id" in rec else next(
            (p for p in found.values() if p.salesforceId == rec["salesforceId"]), None)
        fields = {k: rec[k] for k in (*PERSON_FIELDS, "salesforceId") if k in rec}
        if old is None:
            pid = rec.get("id") or str(next_id)
            next_id += "id" not in rec
            old = Person(pid, f"Person {pid}", stand_in_email(f"person {pid}"))
        person = replace(old, **fields)
        found[person.id] = person
    return list(by_id.values()), list(found.values())


# -- learning from a recording -----------------------------------------------------------------
GRAPHQL = r"/api/public/v1/graphql"


def learn(root: Path, exchange: "Exchange") -> bool:
    """Flows (`flows`, `flow(id:)`) and people (`findPersonBySalesforceId`) of a GraphQL query's
    answer without errors, with the fields it selected; a person's name and email address are
    replaced by stand-ins. Mutations, OAuth calls and answers with errors are not learned."""
    if exchange.method.upper() != "POST" or not 200 <= exchange.answer.status < 300 \
            or not route(GRAPHQL, exchange.path):
        return False
    request = _request(exchange)
    if request is None:
        return False
    document, operation, variables = request
    body = answer_json(exchange)
    data = body.get("data")
    if body.get("errors") or not isinstance(data, dict):
        return False
    seen = _Seen(document, variables)
    for key, nodes in seen.fields(operation.selection_set).items():
        name, value = nodes[0].name.value, data.get(key)
        if name == "flows" and isinstance(value, list):
            for flow in value:
                seen.flow(nodes, flow, None)
        elif name == "flow":
            seen.flow(nodes, value, seen.argument(nodes[0], "id"))
        elif name == "findPersonBySalesforceId":
            seen.person(nodes, value, seen.argument(nodes[0], "salesforceId"))
    if not seen.flows and not seen.people:
        return False
    path = root / NAME / "fixtures.json"
    doc = read_fixture(path)
    recorded = doc.setdefault("recorded", {})
    if not isinstance(recorded, dict) or not all(
            isinstance(recorded.setdefault(k, []), list) for k in ("flows", "people")):
        raise NotLearned("not learned: fixtures.json's 'recorded' is no object of lists")
    changed = False
    for rec in seen.flows.values():
        changed |= _merge(recorded["flows"], rec, lambda old, r=rec: old.get("id") == r["id"])
    for rec in seen.people:
        changed |= _merge(recorded["people"], rec, lambda old, r=rec: (
            old.get("id") == r["id"] if "id" in r and "id" in old
            else old.get("salesforceId") == r["salesforceId"]))
    if changed:
        write_json(path, doc)
    return changed


def _merge(items: list[Any], rec: dict[str, Any], same: Any) -> bool:
    """The fields an answer showed over those an earlier one showed of the same item."""
    old = next((o for o in items if isinstance(o, dict) and same(o)), None)
    return upsert(items, {**old, **rec} if old is not None else rec,
                  lambda o: o is old)


def _request(exchange: "Exchange") -> tuple[Any, Any, dict[str, Any]] | None:
    """(document, operation, variables) of a query the schema validates; None otherwise (a
    mutation, a document the API refused)."""
    ctype = exchange.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if ctype == "application/graphql":
            query, variables, operation_name = exchange.body.decode(), {}, None
        else:  # JSON, or the form graphql-ruby's controller also reads
            payload = dict(parse_qsl(exchange.body.decode(), keep_blank_values=True)) \
                if ctype == "application/x-www-form-urlencoded" else json.loads(exchange.body)
            query = payload["query"]
            variables = payload.get("variables") or {}
            if isinstance(variables, str):   # graphql-ruby's controller takes JSON text too
                variables = json.loads(variables) if variables.strip() else {}
            operation_name = payload.get("operationName") or None
        if not isinstance(query, str) or not isinstance(variables, dict):
            return None
        document = parse(query)
    except (ValueError, KeyError, TypeError, AttributeError, GraphQLError):
        return None
    if validate(graphql_schema.build(), document):
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY:
        return None
    return document, operation, variables


class _Seen:
    """The flows and people one answer shows, by walking the query's selections beside it."""

    def __init__(self, document: Any, variables: dict[str, Any]) -> None:
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.variables = variables
        self.schema = graphql_schema.build()
        self.flows: dict[str, dict[str, Any]] = {}
        self.people: list[dict[str, Any]] = []

    def argument(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def _included(self, node: Any) -> bool:
        for d in node.directives or ():
            if d.name.value in ("skip", "include"):
                flag = bool(self.argument(d, "if"))
                if flag == (d.name.value == "skip"):
                    return False
        return True

    def fields(self, *sets: SelectionSetNode | None) -> dict[str, list[FieldNode]]:
        """Response key -> the field nodes under it, fragments spread (every type here is an
        object type, so a fragment the document validated applies wherever it is spread)."""
        out: dict[str, list[FieldNode]] = {}
        spread: set[str] = set()

        def walk(selection_set: SelectionSetNode | None) -> None:
            for sel in selection_set.selections if selection_set else ():
                if not self._included(sel):
                    continue
                if isinstance(sel, FieldNode):
                    out.setdefault((sel.alias or sel.name).value, []).append(sel)
                elif isinstance(sel, InlineFragmentNode):
                    walk(sel.selection_set)
                elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in spread:
                    spread.add(sel.name.value)
                    fragment = self.fragments.get(sel.name.value)
                    walk(fragment.selection_set if fragment else None)

        for s in sets:
            walk(s)
        return out

    def _sub(self, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
        return self.fields(*(n.selection_set for n in nodes))

    def _scalars(self, type_name: str, sub: dict[str, list[FieldNode]], value: dict[str, Any],
                 rec: dict[str, Any]) -> None:
        fields = self.schema.get_type(type_name).fields  # type: ignore[union-attr]
        for key, nodes in sub.items():
            name = nodes[0].name.value
            field = fields.get(name)
            if key not in value or field is None or get_named_type(field.type).name not in SCALARS:
                continue
            v = value[key]
            ok = (v is None and not isinstance(field.type, GraphQLNonNull)) or \
                isinstance(v, SCALARS[get_named_type(field.type).name])
            if not ok or (name in rec and rec[name] != v):
                raise NotLearned(f"not learned: {type_name}.{name} is {json.dumps(v)[:40]} "
                                 f"in the answer, which the schema does not allow there")
            rec[name] = v

    def flow(self, nodes: list[FieldNode], value: Any, id_hint: Any) -> None:
        if not isinstance(value, dict):
            return
        sub = self._sub(nodes)
        rec: dict[str, Any] = {}
        self._scalars("Flow", sub, value, rec)
        for key, fnodes in sub.items():
            name = fnodes[0].name.value
            if name in ("steps", "labelInstances") and isinstance(value.get(key), dict):
                items = self._page(fnodes, value[key], STEP_FIELDS if name == "steps"
                                   else ("id",))
                if items is not None:
                    rec[name] = items
        flow_id = rec.get("id", None if id_hint is None else str(id_hint))
        if flow_id is None:
            return
        rec["id"] = flow_id
        rec = scrub(rec)
        self.flows[flow_id] = {**self.flows.get(flow_id, {}), **rec}

    def _page(self, nodes: list[FieldNode], value: dict[str, Any],
              wanted: tuple[str, ...]) -> list[dict[str, Any]] | None:
        """The whole list a Relay page shows, or None when it may be a part: its page info says
        nothing comes before it and nothing after, and each item shows `wanted`."""
        args = {a: self.argument(nodes[0], a) for a in ("first", "last", "after", "before")}
        sub = self._sub(nodes)
        items: list[dict[str, Any]] | None = None
        info: dict[str, Any] = {}
        for key, fnodes in sub.items():
            name, v = fnodes[0].name.value, value.get(key)
            if name == "pageInfo" and isinstance(v, dict):
                for k, n in self._sub(fnodes).items():
                    info[n[0].name.value] = v.get(k)
            elif name == "nodes" and isinstance(v, list):
                items = self._items(self._sub(fnodes), v, wanted)
            elif name == "edges" and isinstance(v, list):
                node_keys = {k: n for k, n in self._sub(fnodes).items()
                             if n[0].name.value == "node"}
                for k, n in node_keys.items():
                    found = self._items(self._sub(n), [e.get(k) if isinstance(e, dict) else None
                                                       for e in v], wanted)
                    items = items if found is None else found
        no_previous = info.get("hasPreviousPage") is False or (
            "hasPreviousPage" not in info and args["after"] is None and args["last"] is None)
        no_next = info.get("hasNextPage") is False or (
            "hasNextPage" not in info and args["before"] is None and args["first"] is None
            and args["last"] is not None)
        return items if no_previous and no_next else None

    @staticmethod
    def _items(sub: dict[str, list[FieldNode]], values: list[Any],
               wanted: tuple[str, ...]) -> list[dict[str, Any]] | None:
        keys = {n[0].name.value: k for k, n in sub.items()}
        out = []
        for v in values:
            if not isinstance(v, dict) or not all(w in keys and isinstance(v.get(keys[w]), str)
                                                  for w in wanted):
                return None
            out.append({w: v[keys[w]] for w in wanted})
        return out

    def person(self, nodes: list[FieldNode], value: Any, salesforce_id: Any) -> None:
        if not isinstance(value, dict) or not isinstance(salesforce_id, str):
            return
        rec: dict[str, Any] = {}
        self._scalars("Person", self._sub(nodes), value, rec)
        # Personal data never reaches the files: the same person always gets the same stand-in.
        if "name" in rec:
            rec["name"] = stand_in_name(rec["name"])
        if "emailAddress" in rec:
            rec["emailAddress"] = stand_in_email(rec["emailAddress"])
        self.people.append({**scrub(rec), "salesforceId": salesforce_id})


SCALARS: dict[str, type | tuple[type, ...]] = {"ID": str, "String": str, "Boolean": bool,
                                               "Int": int, "ISO8601DateTime": str}
STEP_FIELDS = ("id", "name", "dayNumber")
