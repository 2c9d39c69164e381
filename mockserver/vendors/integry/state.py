"""Integry's part of a state snapshot: each user's connected accounts (users in their
least-recently-connected order, the one dropped first past --max-sessions), the workspace's,
the account and object counters, the simulated backends (Slack messages per channel, HubSpot
objects per kind) and each user's call log. The apps and functions catalogues are fixtures no
call changes; they come from the importing server."""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

from ...core.state import COUNT, INSTANT, TEXT, StateError, arr, closed, duplicates, mapping
from .backends import HUBSPOT_PROPERTIES, SLACK_KEPT
from .store import CALL_LOG, Account, IntegryStore, IntegryTemplate

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from .handlers import Integry

_ACCOUNT = closed({"id": COUNT, "display_name": TEXT, "modified_at": TEXT})
_ACCOUNTS = mapping(arr(_ACCOUNT))          # app name -> accounts
_SCHEMA: dict[str, Any] = closed({
    "users": arr(closed({"userId": TEXT, "apps": _ACCOUNTS})),
    "workspace": _ACCOUNTS,
    "nextAccount": {**COUNT, "minimum": 1}, "nextObject": {**COUNT, "minimum": 1},
    "slack": arr(closed({"channel": TEXT, "messages": arr(closed({"ts": TEXT, "text": TEXT}))})),
    "hubspot": {"type": "object", "additionalProperties": False,
                "properties": {k: arr({"type": "object", "required": ["id"],
                                       "properties": {"id": TEXT}})
                               for k in sorted(HUBSPOT_PROPERTIES)}},
    "calls": arr(closed({"userId": TEXT, "calls": arr(closed({
        "function": TEXT, "at": INSTANT, "account": COUNT, "network_code": TEXT}))})),
})


def _accounts(apps: dict[str, list[Account]]) -> dict[str, list[dict[str, Any]]]:
    return {a: [x.to_json() for x in accs] for a, accs in sorted(apps.items())}


def schema(template: IntegryTemplate) -> dict[str, Any]:
    return _SCHEMA


def export(g: "Integry", store: IntegryStore, tenant: "Tenant") -> dict[str, Any]:
    return {
        "users": [{"userId": u, "apps": _accounts(apps)} for u, apps in store.users.items()],
        "workspace": _accounts(store.workspace),
        "nextAccount": store.next_account, "nextObject": store.next_object,
        "slack": [{"channel": c, "messages": list(m)} for c, m in store.slack.items()],
        "hubspot": {k: list(v.values()) for k, v in sorted(store.hubspot.items())},
        "calls": [{"userId": u, "calls": list(c)} for u, c in store.calls.items()],
    }


def restore(g: "Integry", data: dict[str, Any], tenant: "Tenant") -> IntegryStore:
    template, limit = g.template, g.ctx.session_limit
    problems: list[str] = []
    users = data["users"]
    problems += [f"/users: duplicate userId {d!r}" for d in duplicates(u["userId"] for u in users)]
    owners = [(f"/users/{i}/apps", u["apps"]) for i, u in enumerate(users)]
    owners.append(("/workspace", data["workspace"]))
    account_ids: list[int] = []
    for where, apps in owners:
        for app, accounts in apps.items():
            if app not in template.apps_by_name:
                problems.append(f"{where}: no app {app!r}")
            account_ids += [a["id"] for a in accounts]
    problems += [f"accounts: duplicate id {d}" for d in duplicates(account_ids)]
    if account_ids and data["nextAccount"] <= max(account_ids):
        problems.append(f"/nextAccount: {data['nextAccount']} would reuse account id "
                        f"{max(account_ids)}")
    problems += [f"/slack: duplicate channel {d!r}"
                 for d in duplicates(c["channel"] for c in data["slack"])]
    object_ids: list[int] = []
    for kind, objects in data["hubspot"].items():
        problems += [f"/hubspot/{kind}: duplicate id {d!r}"
                     for d in duplicates(o["id"] for o in objects)]
        object_ids += [int(o["id"]) for o in objects if o["id"].isdigit()]
    if object_ids and data["nextObject"] <= max(object_ids):
        problems.append(f"/nextObject: {data['nextObject']} would reuse object id "
                        f"{max(object_ids)}")
    problems += [f"/calls: duplicate userId {d!r}"
                 for d in duplicates(c["userId"] for c in data["calls"])]
    if problems:
        raise StateError("integry", problems)

    # Each table kept within the bound the running server keeps (the oldest go first).
    limit = max(1, limit)
    store = IntegryStore(template, g.ctx)
    store.users = OrderedDict((u["userId"], {a: [Account(**x) for x in accs]
                                             for a, accs in u["apps"].items()})
                              for u in users[-limit:])
    store.workspace = {a: [Account(**x) for x in accs] for a, accs in data["workspace"].items()}
    store.next_account = data["nextAccount"]
    store.next_object = data["nextObject"]
    store.slack = {c["channel"]: deque(c["messages"], maxlen=SLACK_KEPT)
                   for c in data["slack"][-limit:]}
    store.hubspot = {k: OrderedDict((o["id"], o) for o in objects[-limit:])
                     for k, objects in data["hubspot"].items()}
    store.calls = {c["userId"]: deque(c["calls"], maxlen=CALL_LOG) for c in data["calls"][-limit:]}
    return store


def adopt(g: "Integry", store: IntegryStore) -> None:
    """Nothing Integry shares across tenants moves with a restored store."""


def claims(g: "Integry", store: IntegryStore) -> None:
    """Integry shares nothing across tenants."""


def claim(g: "Integry", claims: Any) -> None:
    """Integry shares nothing across tenants."""


def snapshot(g: "Integry", store: IntegryStore) -> dict[str, Any]:
    return store.snapshot()
