"""Integry state per tenant: each user's connected accounts, the workspace's shared ones, the
simulated app backends (Slack messages, HubSpot objects) and each user's call log. The apps and
functions catalogues are the template's, shared and immutable."""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from ...core.overlay import Overlay

if TYPE_CHECKING:
    from ...core.tenancy import Tenant
    from ...core.vendor import Context

NAME = "integry"  # the vendor's name: its prefix, its key in each tenant's stores, its journal name
CALL_LOG = 100    # calls kept per user


@dataclass(frozen=True)
class Account:
    id: int
    display_name: str
    modified_at: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.display_name,
                "modified_at": self.modified_at}


@dataclass
class IntegryTemplate:
    apps: list[dict[str, Any]]                  # catalogue order: by name
    apps_by_name: dict[str, dict[str, Any]]
    functions: list[dict[str, Any]]             # each with "app" and "type"
    functions_by_name: dict[str, dict[str, Any]]
    users: dict[str, dict[str, list[Account]]]
    workspace: dict[str, list[Account]]
    next_account: int
    documented: frozenset[tuple[str, str]] = frozenset()   # (user id, hash) of the doc's curls
    # The doc's own answers, keyed to the documented input (fixtures/integry/predictions.json
    # and apps.json): (prompt, variable names) -> (function, arguments) of a predict;
    # (function, prompt, variable names) -> arguments (None: none) of a get; and the cursor
    # the doc shows for one list offset.
    predictions: dict[tuple[str, frozenset[str]], tuple[str, dict[str, Any]]] = \
        field(default_factory=dict)
    documented_gets: dict[tuple[str, str, frozenset[str]], dict[str, Any] | None] = \
        field(default_factory=dict)
    cursor_at: dict[int, str] = field(default_factory=dict)     # list offset -> documented cursor
    cursor_offsets: dict[str, int] = field(default_factory=dict)  # and back


@dataclass
class IntegryStore:
    template: IntegryTemplate
    ctx: InitVar["Context"]
    limit: int = field(init=False)               # --max-sessions: users, objects, messages kept
    # Overlays of the template's (a tenant keeps only the users and apps it changed), or after
    # an import the imported dicts themselves. A user's apps dict and an app's account list
    # are the template's until the tenant writes them: `_own_apps` and `_own_workspace` first
    # take the tenant's copy (once), which is then written in place.
    users: Overlay[str, dict[str, list[Account]]] | OrderedDict[str, dict[str, list[Account]]] \
        = field(init=False)
    workspace: Overlay[str, list[Account]] | dict[str, list[Account]] = field(init=False)
    next_account: int = field(init=False)
    # simulated backends, per app
    slack: dict[str, deque] = field(default_factory=dict)           # channel -> messages
    hubspot: dict[str, OrderedDict] = field(default_factory=dict)   # kind -> id -> object
    next_object: int = 1
    calls: dict[str, deque] = field(default_factory=dict)           # user -> call log

    def __post_init__(self, ctx: "Context") -> None:
        self.limit = max(1, ctx.session_limit)
        t = self.template
        self.users = Overlay(t.users)
        self.workspace = Overlay(t.workspace)
        self.next_account = t.next_account

    def accounts(self, user: str, app: str) -> list[Account]:
        return self.users.get(user, {}).get(app, [])

    def connect(self, user: str, app: str, display_name: str, now_iso: str) -> Account:
        account = Account(self.next_account, display_name, now_iso)
        self.next_account += 1
        apps = self._own_apps(user) if user in self.users else self.users.setdefault(user, {})
        self.users.move_to_end(user)
        apps.setdefault(app, []).append(account)
        while len(self.users) > self.limit:
            self.users.popitem(last=False)
        return account

    def disconnect(self, user: str, app: str, account_id: int | None) -> int:
        accounts = self.users.get(user, {}).get(app, [])
        kept = [a for a in accounts if account_id is not None and a.id != account_id]
        removed = len(accounts) - len(kept)
        if user in self.users:
            apps = self._own_apps(user)
            if kept:
                apps[app] = kept
            else:
                apps.pop(app, None)
        return removed

    def connect_workspace(self, app: str, display_name: str, now_iso: str) -> Account:
        """An account of the workspace: every user's calls of `app` may use it."""
        account = Account(self.next_account, display_name, now_iso)
        self.next_account += 1
        self._own_workspace(app).append(account)
        return account

    def disconnect_workspace(self, app: str, account_id: int | None) -> int:
        accounts = self.workspace.get(app, [])
        kept = [a for a in accounts if account_id is not None and a.id != account_id]
        if kept:
            self.workspace[app] = kept   # a new list: the template's stays as it was
        else:
            self.workspace.pop(app, None)
        return len(accounts) - len(kept)

    def _own_apps(self, user: str) -> dict[str, list[Account]]:
        """The user's apps, the tenant's own (copied from the template's the first time)."""
        apps = self.users[user]
        if isinstance(self.users, Overlay) and user not in self.users.own:
            apps = self.users[user] = {a: list(accs) for a, accs in apps.items()}
        return apps

    def _own_workspace(self, app: str) -> list[Account]:
        """The workspace's accounts of `app`, the tenant's own list."""
        accounts = self.workspace.get(app)
        if accounts is None or (isinstance(self.workspace, Overlay)
                                and app not in self.workspace.own):
            accounts = self.workspace[app] = list(accounts or ())
        return accounts

    def log(self, user: str, entry: dict[str, Any]) -> None:
        log = self.calls.get(user)
        if log is None:
            if len(self.calls) >= self.limit:
                self.calls.pop(next(iter(self.calls)))
            log = self.calls[user] = deque(maxlen=CALL_LOG)
        log.append(entry)

    def summary(self) -> dict[str, Any]:
        """The sandbox page's counts: connected accounts (users' and the workspace's), the
        users holding at least one, and the workspace's accounts by app (named, since every
        user's calls may use them)."""
        per_user = [sum(len(a) for a in apps.values()) for apps in self.users.values()]
        workspace = {app: len(a) for app, a in sorted(self.workspace.items()) if a}
        total = sum(workspace.values())
        return {"connectedAccounts": sum(per_user) + total,
                "users": sum(1 for n in per_user if n),
                "workspace": {"total": total, "byApp": workspace}}

    def snapshot(self) -> dict[str, Any]:
        return {
            "users": {u: {a: [x.to_json() for x in accs] for a, accs in sorted(apps.items())}
                      for u, apps in sorted(self.users.items())},
            "workspace": {a: [x.to_json() for x in accs]
                          for a, accs in sorted(self.workspace.items())},
            "nextAccount": self.next_account, "nextObject": self.next_object,
            "slack": {c: list(m) for c, m in sorted(self.slack.items())},
            "hubspot": {k: list(v.values()) for k, v in sorted(self.hubspot.items())},
            "calls": {u: list(c) for u, c in sorted(self.calls.items())},
        }


def store_of(tenant: "Tenant") -> IntegryStore:
    return tenant.stores[NAME]
