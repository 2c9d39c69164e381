"""What `mockserver verify` sends: a vendor's probes, each one request built for either side.

A probe is built twice, once with the real account's inputs (credentials from the user) and once
with the mock's sandbox inputs, so the same call reaches both with each side's own credentials.
A probe may keep values from its answer (`keep`, a token say) for later probes on that side.
Each vendor's `verify.py` lists its probes (docs/fidelity.md, "Keep the mock true", says which
and why each is safe on a production account).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

JSON_TYPES = ("application/json", "+json")


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request, relative to a vendor base URL (`base` names which, for a vendor with
    more than one host)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    base: str = "api"

    @classmethod
    def json(cls, method: str, path: str, payload: Any, headers: Mapping[str, str] | None = None,
             **kw: Any) -> "Call":
        return cls(method, path, {"content-type": "application/json", **(headers or {})},
                   body=json.dumps(payload).encode(), **kw)


@dataclass(frozen=True, slots=True)
class Answer:
    """One side's answer to a probe's call."""

    status: int
    headers: Mapping[str, str]   # lower-case names; repeated ones joined by ", "
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_json(self) -> bool:
        media = self.content_type.split(";", 1)[0].strip().lower()
        return media.endswith(JSON_TYPES)

    def json(self) -> Any:
        """The body parsed, or None when it is no JSON."""
        return self.parsed()[1]

    def parsed(self) -> tuple[bool, Any]:
        """(True, the body parsed) or (False, None) when it is no JSON (or nested past what
        the parser takes)."""
        try:
            return True, json.loads(self.body)
        except (ValueError, RecursionError):
            return False, None


class Side:
    """What a probe builds its call from: one side's inputs (credentials, ids the user named)
    and what earlier probes kept on that side."""

    def __init__(self, name: str, inputs: Mapping[str, str]) -> None:
        self.name = name          # "real" or "mock"
        self.inputs = dict(inputs)
        self.kept: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        """A kept value, else an input; None when neither has it."""
        return self.kept.get(key, self.inputs.get(key))


@dataclass(frozen=True, slots=True)
class Input:
    """One value `verify` takes for the real account: a credential (`secret`: never printed) or
    an id the user names. The mock side's values come from the vendor's `sandbox(server)`."""

    help: str
    secret: bool = True
    required: bool = True


@dataclass(frozen=True, slots=True)
class Probe:
    """One call sent to both sides and compared (mockserver/verify/compare.py).

    `build` gives the call for a side, or None when that side lacks what it needs (the probe
    is then skipped, with `needs` as the reason). `safe` says why it changes nothing on a real
    account; a `write` probe runs only with `--allow-writes` and `undo` builds the call that
    removes what it made. `exact` compares error texts word for word (where the mock's text is
    the vendor's own); `same` lists paths compared by value (pagination fields); `page` is
    (items path, next-page path): a page's size is compared when a side says more follow.
    `shape=False` compares status and headers only (`check` does the rest, on the real answer:
    Groove's schema diff)."""

    name: str
    build: Callable[[Side], Call | None]
    safe: str
    write: bool = False
    authed: bool = True       # sent with the side's valid credentials
    exact: bool = False
    volatile: frozenset[str] = frozenset()  # keys whose text is never compared (times, ids)
    # keys whose value is data, not the API's shape (a JSON Schema, another API's answer):
    # only its JSON type is compared, not the keys inside it
    opaque: frozenset[str] = frozenset()
    same: tuple[str, ...] = ()
    page: tuple[str, str] | None = None
    shape: bool = True
    keep: Callable[[Side, Answer], None] | None = None
    undo: Callable[[Side, Answer], Call | None] | None = None
    check: Callable[[Answer], list[tuple[str, str, str]]] | None = None  # (path, kind, message)
    needs: str = ""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One call `serve --record` forwarded to the real API, with the real answer: what a
    recording learns fixtures from (a vendor's `fixtures.learn`)."""

    vendor: str
    method: str
    path: str                    # the vendor path, after any prefix
    query: str                   # the raw query string
    headers: Mapping[str, str]   # the request's, lower-case names
    body: bytes                  # the request's
    answer: Answer
