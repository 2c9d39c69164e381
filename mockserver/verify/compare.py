"""Compare a real answer with the mock's: status, content type, the headers clients rely on, the
JSON's shape (keys, types, nullability) and, where a probe asks, error texts, pagination values
and page sizes. Data is never compared: a real account holds other data than the sandbox.

Each difference is one `Drift` at one path; a renamed key is one drift, not a missing key and an
extra one.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..core.probe import Answer, Probe

# Headers a client reads: compared by presence, and those whose value is the API's, by value.
RELIED_PREFIXES = ("x-ratelimit-",)
RELIED = ("www-authenticate", "x-credits", "cache-control", "retry-after")
BY_VALUE = ("www-authenticate", "cache-control")
MAX_DEPTH = 64  # deeper JSON is compared no further (a hostile upstream cannot recurse us out)


@dataclass(frozen=True, slots=True)
class Drift:
    probe: str
    path: str       # "status", "header X-Credits", "$.data[].name", "schema Flow.name"
    kind: str       # status, content-type, header, keys, type, nullable, text, value, page, ...
    message: str

    def line(self) -> str:
        return f"{self.probe}: {self.path}: {self.message}"


@dataclass
class Shape:
    """Every JSON type seen at one path, merged over a list's items."""

    types: set[str] = field(default_factory=set)
    keys: dict[str, "Shape"] | None = None
    items: "Shape | None" = None

    def add(self, value: Any, depth: int = 0, opaque: frozenset[str] = frozenset()) -> "Shape":
        kind = json_type(value)
        self.types.add(kind)
        if depth >= MAX_DEPTH:
            return self
        if kind == "object":
            keys = self.keys if self.keys is not None else {}
            self.keys = keys
            for k, v in value.items():
                # an opaque key's value: its type, not its insides (MAX_DEPTH stops there)
                keys.setdefault(k, Shape()).add(v, MAX_DEPTH if k in opaque else depth + 1,
                                                opaque)
        elif kind == "array":
            for v in value:
                self.items = (self.items or Shape()).add(v, depth + 1, opaque)
        return self


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"  # 5 and 5.0 are one JSON number
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def compare(probe: Probe, real: Answer, mock: Answer,
            allows: Callable[[Any], bool] | None = None) -> list[Drift]:
    """The differences; `allows(body)` says whether the mock's contract admits a body (a
    difference the contract admits is the data's, as an optional key or a nullable field)."""
    out: list[Drift] = []

    def drift(path: str, kind: str, message: str) -> None:
        out.append(Drift(probe.name, path, kind, message))

    if real.status != mock.status:
        drift("status", "status", f"{real.status} from the real API, {mock.status} from the mock")
    if _media(real.content_type) != _media(mock.content_type) \
            or _charset(real.content_type) != _charset(mock.content_type):
        drift("content-type", "content-type",
              f"{real.content_type or 'none'} from the real API, {mock.content_type or 'none'} "
              "from the mock")
    for name, message in _headers(real, mock):
        drift(f"header {_title(name)}", "header", message)
    if real.status != mock.status:
        return out  # another status has another body: its shape says nothing more
    if not probe.shape:
        return out
    if real.is_json and mock.is_json:
        (ok, r), m = real.parsed(), mock.json()
        if not ok and real.body.strip():
            drift("$", "body", "the real answer is no JSON, though its type says so")
            return out
        for path, kind, message, edit in _shapes(Shape().add(r, opaque=probe.opaque),
                                                 Shape().add(m, opaque=probe.opaque), ()):
            if edit is not None and allows is not None:
                variant = _edited(m, r, path, edit)
                if variant is not None and allows(variant):
                    continue
            drift(render(path), kind, message)
        if probe.exact and real.status >= 400:
            for path, a, b in _texts(r, m, (), probe.volatile):
                drift(path, "text", f"{a!r} from the real API, {b!r} from the mock")
        values = len(out)
        for path in probe.same:
            a, b = pick(r, path), pick(m, path)
            if a != b:
                drift(path, "value", f"{_show(a)} from the real API, {_show(b)} from the mock")
        # a page size that a pagination value already explains is not said twice
        if probe.page is not None and len(out) == values:
            message = _page(r, m, *probe.page)
            if message:
                drift(probe.page[0], "page", message)
    elif probe.exact and real.status >= 400 and real.body != mock.body:
        drift("body", "text", f"{_text(real.body)!r} from the real API, "
                              f"{_text(mock.body)!r} from the mock")
    return out


def _media(ctype: str) -> str:
    return ctype.split(";", 1)[0].strip().lower()


def _charset(ctype: str) -> str:
    for part in ctype.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip().lower() == "charset":
            return v.strip().strip('"').lower()
    return ""


SPELLED = {"x-ratelimit-": "X-RateLimit-", "www-": "WWW-"}  # as the vendors send them


def _title(name: str) -> str:
    for low, spelled in SPELLED.items():
        if name.startswith(low):
            return spelled + _title(name[len(low):])
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def _relied(name: str) -> bool:
    return name in RELIED or name.startswith(RELIED_PREFIXES)


def _headers(real: Answer, mock: Answer) -> Iterator[tuple[str, str]]:
    names = sorted({n for n in (*real.headers, *mock.headers) if _relied(n)})
    for name in names:
        a, b = real.headers.get(name), mock.headers.get(name)
        if a is None:
            yield name, "missing from the real answer, sent by the mock"
        elif b is None:
            yield name, "sent by the real API, missing from the mock's answer"
        elif name in BY_VALUE and a != b:
            yield name, f"{a!r} from the real API, {b!r} from the mock"


Path = tuple  # of keys (str) and None for "every item of a list"


def _shapes(real: Shape, mock: Shape, path: Path) -> Iterator[tuple[Path, str, str, Any]]:
    """(path, kind, message, edit): `edit` makes the mock's answer look like the real one at
    that path (None: no edit can), so a caller may ask the contract whether the mock could
    send the real variant too: then it is the data, not a drift."""
    r, m = real.types - {"null"}, mock.types - {"null"}
    if r and m and r != m:
        yield path, "type", f"{_types(r)} in the real answer, {_types(m)} in the mock's", None
        return
    if "null" in real.types and "null" not in mock.types and m:
        yield (path, "nullable", f"null in the real answer, never in the mock's ({_types(m)})",
               ("null",))
    if real.keys is not None and mock.keys is not None:
        only_real = [k for k in real.keys if k not in mock.keys]
        only_mock = [k for k in mock.keys if k not in real.keys]
        if len(only_real) == 1 and len(only_mock) == 1:
            yield (path + (only_mock[0],), "keys",
                   f"renamed: {only_real[0]!r} in the real answer, {only_mock[0]!r} in the "
                   "mock's", None)
        else:
            for k in only_real:
                yield path + (k,), "keys", "in the real answer, not in the mock's", ("add",)
            for k in only_mock:
                yield path + (k,), "keys", "in the mock's answer, not in the real one", ("drop",)
        for k, sub in real.keys.items():
            if k in mock.keys:
                yield from _shapes(sub, mock.keys[k], path + (k,))
    if real.items is not None and mock.items is not None:
        yield from _shapes(real.items, mock.items, path + (None,))


def render(path: Path) -> str:
    out = "$"
    for part in path:
        if part is None:
            out += "[]"
        elif isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


def _edited(mock: Any, real: Any, path: Path, edit: tuple) -> Any:
    """A copy of the mock's body with `edit` applied at every place `path` reaches: "null" sets
    the value to null, "drop" removes the key, "add" adds it with the real answer's value."""
    doc = copy.deepcopy(mock)
    if not path or path[-1] is None:
        return None
    key = path[-1]
    sample = _first(real, path) if edit[0] == "add" else None

    def walk(node: Any, i: int) -> None:
        if i == len(path) - 1:
            if isinstance(node, dict):
                if edit[0] == "drop":
                    node.pop(key, None)
                elif edit[0] == "add" or key in node:
                    node[key] = sample
            return
        part = path[i]
        if part is None:
            if isinstance(node, list):
                for item in node:
                    walk(item, i + 1)
        elif isinstance(node, dict) and part in node:
            walk(node[part], i + 1)

    walk(doc, 0)
    return doc


def _first(doc: Any, path: Path) -> Any:
    """The first value found at `path` (None when none is)."""
    if not path:
        return doc
    part, rest = path[0], path[1:]
    if part is None:
        for item in doc if isinstance(doc, list) else ():
            value = _first(item, rest)
            if value is not None:
                return value
        return None
    return _first(doc.get(part), rest) if isinstance(doc, dict) and part in doc else None


def _types(types: set[str]) -> str:
    return " or ".join(sorted(types))


def _texts(real: Any, mock: Any, path: Path, volatile: frozenset[str],
           depth: int = 0) -> Iterator[tuple[str, Any, Any]]:
    """Strings at the same place in both error bodies that differ (list items by position)."""
    if depth >= MAX_DEPTH:
        return
    if isinstance(real, dict) and isinstance(mock, dict):
        for k, v in real.items():
            if k in mock and k not in volatile:
                yield from _texts(v, mock[k], path + (k,), volatile, depth + 1)
    elif isinstance(real, list) and isinstance(mock, list):
        if len(real) != len(mock) and all(isinstance(x, str) for x in real + mock):
            yield render(path), real, mock  # a list of messages, one more or fewer
            return
        for i, (a, b) in enumerate(zip(real, mock)):
            yield from _texts(a, b, path + (i,), volatile, depth + 1)
    elif isinstance(real, str) and isinstance(mock, str) and real != mock:
        yield render(path), real, mock


def pick(doc: Any, path: str) -> Any:
    """The value at "$.a.b" (keys only; None when absent)."""
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _page(real: Any, mock: Any, items: str, more: str) -> str | None:
    """A page's size, measurable on a side that says another page follows: then the other side
    must hold as many items (or, with fewer items in all, no more page)."""
    a, b = pick(real, items), pick(mock, items)
    if not isinstance(a, list) or not isinstance(b, list):
        return None
    real_more, mock_more = bool(pick(real, more)), bool(pick(mock, more))
    if real_more and mock_more and len(a) != len(b):
        pass
    elif real_more and len(b) > len(a):
        pass
    elif mock_more and len(a) > len(b):
        pass
    else:
        return None
    return f"pages of {len(a)} items from the real API, {len(b)} from the mock"


def _show(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def _text(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"
