"""What the generic hostile-input test (tests/hostile/) cannot guess about Gravy."""
from __future__ import annotations

from urllib.parse import unquote

from mockserver.vendors.gravy import handlers
from mockserver.vendors.gravy.resources import KINDS, kind_for
from mockserver.vendors.gravy.validation import Dto

from .conftest import PUBLISHABLE, open_connection, token_for

# Every query parameter a Gravy DTO declares, so each date filter meets the date edges. Found by
# type rather than by name, so DTOs added to handlers.py are covered too.
QUERY_NAMES = sorted({p.name for dto in [v for v in vars(handlers).values()
                                         if isinstance(v, Dto)] + [k.dto for k in KINDS]
                      for p in dto.props})


def valid_headers(client) -> list[dict[str, str]]:
    """A valid credential of the default tenant in each scheme Gravy accepts."""
    publishable = {"Authorization": f"Publishable {PUBLISHABLE}"}
    intent = open_connection(client, publishable)["intentToken"]
    return [{"Authorization": f"Bearer {token_for(client)}"}, publishable,
            {"x-intent-token": intent}]


def query_names(path: str) -> list[str]:
    """The parameters of the DTO that validates this path's query (all of them when unsure)."""
    last = path.rstrip("/").rsplit("/", 1)[-1].lower()
    dto = getattr(handlers, "CONNECTIONS_DTO", None)
    if last == "connections" and dto is not None:
        return [p.name for p in dto.props]
    if last == "intent-token":
        return ["shortCode"]
    kind = kind_for(unquote(last))
    return [p.name for p in kind.dto.props] if kind else QUERY_NAMES
