"""State snapshots: one tenant's whole state (every vendor) as a JSON document, and back.

    {"version": 1, "tenant": "<id it was exported from>", "vendors": {"<vendor>": {...}, ...}}

Each vendor writes and reads its own part (`Vendor.export_state` / `import_state`, the vendor's
`state.py`). An import is all-or-nothing: the document is parsed strictly, checked against the
JSON Schema, then every vendor builds a new store from its part; only when all of them succeeded
are the tenant's stores swapped. A tenant's credentials are never part of a snapshot, so a
snapshot exported from one tenant imports into another and keeps that tenant's credentials.

A snapshot larger than APART bytes is parsed and checked in a child process (`read`): no step
of that work can then hold the server's interpreter, which answers other requests meanwhile.
"""
from __future__ import annotations

import gc
import json
import math
import os
import pickle
import subprocess
import sys
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from jsonschema import Draft202012Validator

from .http import dump, load

if TYPE_CHECKING:
    from .tenancy import Tenant
    from .vendor import Vendor

VERSION = 1
BODY_LIMIT = 64 * 1024 * 1024   # a snapshot: default fixtures export to well under 1 MiB
MAX_DETAILS = 50                # problems listed in one refusal
MAX_INT_DIGITS = 30             # an integer literal longer than this is no state the mock keeps
# The longest string of a snapshot, in characters. Every string the mock keeps came in one
# request body, and no route reads more than 1 MiB; a longer one would be one step too long for
# the interpreter to share (decoding it, encoding it in an export).
MAX_STRING = 1024 * 1024
APART = 1024 * 1024             # a larger snapshot is parsed and checked in a child process


class StateError(ValueError):
    """A snapshot refused: `message` says why in one line, `details` lists each problem."""

    def __init__(self, message: str, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)[:MAX_DETAILS]


# -- parsing ----------------------------------------------------------------------------------
def _no_constant(name: str) -> float:
    raise StateError("the snapshot is not valid JSON", [f"{name} is not a JSON number"])


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise StateError("the snapshot is not valid JSON",
                         [f"the number {literal[:40]} is out of range"])
    return value


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise StateError("the snapshot is not valid JSON",
                         [f"the integer {literal[:40]}... has more than {MAX_INT_DIGITS} digits"])
    return int(literal)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # JSON allows it, but which value would count is a guess
        dup = duplicates(k for k, _ in pairs)[0]
        raise StateError("the snapshot is not valid JSON", [f"duplicate key {dup!r} in an object"])
    return out


def parse(raw: bytes | str) -> Any:
    """The document, read as Python reads JSON (5.0 stays a float, so an export's numbers come
    back as they were written) but strictly: no NaN/Infinity, no number out of range, no
    duplicate keys, no nesting past MAX_DEPTH."""
    try:
        return load(raw, parse_constant=_no_constant, parse_float=_float, parse_int=_int,
                    object_pairs_hook=_pairs)
    except StateError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError("the snapshot is not valid JSON", [str(exc)[:200]]) from None


# -- the schema -------------------------------------------------------------------------------
def schema(vendors: Iterable["Vendor"]) -> dict[str, Any]:
    """The JSON Schema of a whole snapshot: each vendor's part from its own `state_schema()`."""
    vendors = list(vendors)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mockserver state snapshot",
        "type": "object",
        "required": ["version", "vendors"],
        "additionalProperties": False,
        "properties": {
            "version": {"const": VERSION},
            "tenant": {"type": "string", "maxLength": 200,
                       "description": "the tenant it was exported from (informational)"},
            "vendors": {
                "type": "object",
                "required": [v.name for v in vendors],
                "additionalProperties": False,
                "properties": {v.name: v.state_schema() for v in vendors},
            },
        },
    }


def _where(path: Iterable[Any]) -> str:
    return "/" + "/".join(str(p) for p in path)


def check(doc: Any, validator: Draft202012Validator) -> None:
    """StateError listing every schema violation, by JSON pointer."""
    if isinstance(doc, dict) and doc.get("version", VERSION) != VERSION:
        raise StateError(f"unsupported snapshot version {doc.get('version')!r}; "
                         f"this server reads version {VERSION}",
                         [f"/version: expected {VERSION}"])
    # The first few are enough to act on, and a huge wrong document has a huge list.
    errors = sorted(islice(validator.iter_errors(doc), MAX_DETAILS),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise StateError("the snapshot does not fit the schema",
                         [f"{_where(e.absolute_path)}: {e.message[:300]}" for e in errors])
    long = list(islice(_long_strings(doc, ()), MAX_DETAILS))
    if long:
        raise StateError(f"the snapshot holds a string longer than {MAX_STRING:,} characters",
                         [f"{_where(path)}: {n:,} characters" for path, n in long])


def _long_strings(node: Any, path: tuple) -> Iterable[tuple[tuple, int]]:
    """(path, length) of each string (key or value) longer than MAX_STRING."""
    if isinstance(node, str):
        if len(node) > MAX_STRING:
            yield path, len(node)
    elif isinstance(node, dict):
        for k, v in node.items():
            if len(k) > MAX_STRING:
                yield path, len(k)
            yield from _long_strings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _long_strings(v, path + (i,))


# -- export and import ------------------------------------------------------------------------
def export(tenant: "Tenant", vendors: Mapping[str, "Vendor"]) -> dict[str, Any]:
    return {"version": VERSION, "tenant": tenant.id,
            "vendors": {name: vendor.export_state(tenant.stores[name], tenant)
                        for name, vendor in vendors.items()}}


class Checked:
    """A snapshot already checked against the importer's schema (in the child process)."""

    __slots__ = ("doc",)

    def __init__(self, doc: Any) -> None:
        self.doc = doc


class Importer:
    """Checks and applies snapshots for one app; the validator is built on first use (checking
    the schema costs more than building the whole app, and most apps never import)."""

    def __init__(self, vendors: Mapping[str, "Vendor"]) -> None:
        self.vendors = vendors

    @cached_property
    def schema(self) -> dict[str, Any]:
        return schema(self.vendors.values())

    @cached_property
    def validator(self) -> Draft202012Validator:
        Draft202012Validator.check_schema(self.schema)
        return Draft202012Validator(self.schema)

    def read(self, parts: list[bytes]) -> Any:
        """The snapshot sent in `parts` (a body as it arrived), parsed: checked too when it was
        large enough to be read in a child process (a `Checked`). For a worker thread."""
        if sum(map(len, parts)) <= APART:
            return parse(b"".join(parts))
        return Checked(_apart(parts, self.schema))

    def prepare(self, doc: Any, tenant: "Tenant") -> dict[str, Any]:
        """A new store per vendor for `tenant`, built from `doc`; nothing is changed yet."""
        if isinstance(doc, Checked):
            doc = doc.doc
        else:
            check(doc, self.validator)
        stores: dict[str, Any] = {}
        problems: list[str] = []
        for name, vendor in self.vendors.items():
            try:
                stores[name] = vendor.import_state(doc["vendors"][name], tenant)
            except StateError as exc:
                problems += [f"/vendors/{name}{d}" if d.startswith("/") else f"{name}: {d}"
                             for d in exc.details or [exc.message]]
        if problems:
            raise StateError("the snapshot is inconsistent", problems)
        return stores

    def commit(self, tenant: "Tenant", stores: dict[str, Any]) -> None:
        """Swap prepared stores in (on the event loop: nothing else runs in between)."""
        tenant.stores.update(stores)
        for name, store in stores.items():
            self.vendors[name].adopt_state(store)

    def load(self, doc: Any, tenant: "Tenant") -> None:
        """Import `doc` into `tenant`, all vendors or none."""
        self.commit(tenant, self.prepare(doc, tenant))

    def prepare_parts(self, parts: list[bytes], tenant: "Tenant") -> dict[str, Any]:
        """`read` then `prepare`, for a worker thread. The collector is paused meanwhile: a full
        collection walks every object the snapshot just made, in one step the event loop
        would wait for (up to 100 ms for 10,000 campaigns), and none of them is garbage yet."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self.prepare(self.read(parts), tenant)
        finally:
            if collecting:
                gc.enable()


# -- a large snapshot, read in a child process ---------------------------------------------------
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # where `mockserver` is importable


def _apart(parts: list[bytes], schema: dict[str, Any]) -> Any:
    """Parse and check a snapshot in a child process, which sends it back pickled. Unpickling
    reads a frame (64 KiB) at a time from the pipe, releasing the interpreter at each read, so
    no step here holds it long; parsing and checking (seconds for a big snapshot) cost the
    server's process nothing."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (_PACKAGE_ROOT, env.get("PYTHONPATH"))))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mockserver.core.state import _child; _child()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        try:
            head = dump(schema)
            proc.stdin.write(len(head).to_bytes(8, "big") + head)
            for part in parts:
                proc.stdin.write(part)
            proc.stdin.close()
            answer = pickle.load(proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError):
            answer = None
        if not isinstance(answer, tuple) or not answer:
            raise StateError("the snapshot could not be read",
                             [f"its parser ended with code {proc.wait()}"])
        if answer[0] != "ok":
            raise StateError(answer[1], answer[2])
        return answer[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _child() -> None:
    """The child process of `_apart`: stdin holds the schema's length (8 bytes), the schema and
    the snapshot; stdout gets ("ok", document) or ("refused", message, details), pickled."""
    data = sys.stdin.buffer.read()
    n = int.from_bytes(data[:8], "big")
    try:
        validator = Draft202012Validator(json.loads(data[8:8 + n]))
        doc = parse(data[8 + n:])
        del data
        check(doc, validator)
        answer: tuple = ("ok", doc)
    except StateError as exc:
        answer = ("refused", exc.message, exc.details)
    pickle.dump(answer, sys.stdout.buffer, protocol=5)
    sys.stdout.buffer.flush()


# -- schema building blocks for the vendors' parts --------------------------------------------
ANY: dict[str, Any] = {}                                  # any JSON a client could have sent
TEXT: dict[str, Any] = {"type": "string"}
MAYBE_TEXT: dict[str, Any] = {"type": ["string", "null"]}
BOOL: dict[str, Any] = {"type": "boolean"}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**53}
# Mock-clock instants in epoch seconds; the clock itself stays before 9000-01-01.
INSTANT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 253402300799}


def closed(props: dict[str, Any], optional: Iterable[str] = ()) -> dict[str, Any]:
    """A closed object: every property listed, all required but `optional` (a snapshot
    names everything it holds; core/apidoc.py's `obj` is an open, documented object)."""
    skip = set(optional)
    return {"type": "object", "additionalProperties": False,
            "required": [k for k in props if k not in skip], "properties": props}


def arr(items: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **kw}


def mapping(values: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": values}


def duplicates(values: Iterable[Any]) -> list[Any]:
    """The values that occur more than once, in order of their second occurrence."""
    seen: set[Any] = set()
    out: dict[Any, None] = {}
    for v in values:
        if v in seen:
            out[v] = None
        seen.add(v)
    return list(out)
