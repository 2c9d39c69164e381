"""Groove's GraphQL API: the documented SDL (contracts/groove/schema.graphql) executed with
graphql-core over the tenant's store, answering in graphql-ruby's shape.

Parsed and validated documents are cached per query string (bounded), so a suite that repeats its
queries parses each once; the encoded answers of read-only documents are cached too, per store
and data version (see `Executor.recall`). Every error carries `extensions.code`: validation
errors the code graphql-ruby gives that rule, resolver errors their own.
"""
from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

from graphql import (GraphQLError, GraphQLSchema, OperationType, build_schema, execute, parse,
                     specified_rules, validate)
from graphql.language import DocumentNode, FieldNode, OperationDefinitionNode

from ...core.http import dump
from ...core.paths import data_dir

if TYPE_CHECKING:
    from .store import Flow, GrooveStore

DEFAULT_PAGE_SIZE = 25      # a connection read without first/last
MAX_PAGE_SIZE = 100         # first/last above it are capped, as graphql-ruby's max_page_size
MAX_TOKENS = 10_000         # longer documents are refused before parsing (the introspection
                            # query is about 300 tokens)
CACHE_SIZE = 512
CACHE_MAX_QUERY = 16 * 1024  # longer documents are parsed, not memoised
RESULT_CACHE_SIZE = 256      # encoded answers kept, all tenants together
RESULT_MAX_REQUEST = 16 * 1024  # larger request bodies are answered, not memoised
RESULT_MAX_BYTES = 16 * 1024  # and so are larger answers: at most about 8 MB in all

# graphql-ruby's `extensions.code` for the validation rule graphql-core reports under
RULE_CODES = {
    "FieldsOnCorrectTypeRule": "undefinedField",
    "KnownArgumentNamesRule": "argumentNotAccepted",
    "ProvidedRequiredArgumentsRule": "missingRequiredArguments",
    "ScalarLeafsRule": "selectionMismatch",
    "KnownTypeNamesRule": "undefinedType",
    "ValuesOfCorrectTypeRule": "argumentLiteralsIncompatible",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "NoUndefinedVariablesRule": "variableNotDefined",
    "NoUnusedVariablesRule": "variableNotUsed",
    "VariablesAreInputTypesRule": "variableRequiresValidType",
    "UniqueVariableNamesRule": "variableNotUnique",
    "UniqueArgumentNamesRule": "argumentNotUnique",
    "UniqueOperationNamesRule": "operationNotUnique",
    "LoneAnonymousOperationRule": "anonymousOperationNotAlone",
    "KnownDirectivesRule": "undefinedDirective",
    "UniqueDirectivesPerLocationRule": "directiveNotUnique",
    "KnownFragmentNamesRule": "undefinedFragment",
    "NoUnusedFragmentsRule": "useAndDefineFragment",
    "NoFragmentCyclesRule": "infiniteLoop",
    "FragmentsOnCompositeTypesRule": "fragmentOnNonCompositeType",
    "PossibleFragmentSpreadsRule": "cannotSpreadFragment",
    "UniqueFragmentNamesRule": "fragmentNotUnique",
    "OverlappingFieldsCanBeMergedRule": "fieldConflict",
    "ExecutableDefinitionsRule": "definitionNotExecutable",
    "KnownOperationTypesRule": "missingMutationConfiguration",
}


@dataclass
class Context:
    store: "GrooveStore"
    now: float


def iso8601(now: float) -> str:
    """graphql-ruby's ISO8601DateTime: whole seconds, a Z for UTC."""
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


# -- Relay connections ----------------------------------------------------------------------------
def cursor(position: int) -> str:
    """graphql-ruby's array cursor: urlsafe base64 of the 1-based position, unpadded."""
    return base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")


def _offset(value: str, name: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        if not raw.isdigit() or len(raw) > 9:
            raise ValueError(raw)
        return int(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise error(f"Invalid cursor for `{name}`: {value[:100]!r}", "invalidCursor") from None


def _size(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise error(f"Argument `{name}` must be greater than or equal to 0", "invalidArgument")
    return min(value, MAX_PAGE_SIZE)


def connection(items: Sequence[Any], after: str | None = None, before: str | None = None,
               first: int | None = None, last: int | None = None) -> dict[str, Any]:
    """The Relay window over `items`: `after`/`before` bound it, then `first` takes from its
    start and `last` from its end. The page info is graphql-ruby's ArrayConnection's (the Relay
    spec's): hasNextPage whether the bounded list holds more than `first` (without `first`,
    whether `before` leaves items behind it), hasPreviousPage whether it holds more than `last`
    (without `last`, whether `after` skipped any)."""
    total = len(items)
    after_at = _offset(after, "after") if after is not None else None
    before_at = _offset(before, "before") if before is not None else None
    low = min(after_at, total) if after_at is not None else 0
    high = min(before_at - 1, total) if before_at is not None else total
    high = max(high, low)
    first, last = _size(first, "first"), _size(last, "last")
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    start, end = low, high
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    edges = [{"cursor": cursor(i + 1), "node": items[i]} for i in range(start, end)]
    return {
        "edges": edges, "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": high - low > first if first is not None
            else before_at is not None and before_at <= total,
            "hasPreviousPage": high - low > last if last is not None
            else after_at is not None and after_at > 0,
        },
    }


# -- resolvers --------------------------------------------------------------------------------
def _flows(_: Any, info: Any) -> list["Flow"]:
    flows = info.context.store.flows
    return [flows[k] for k in sorted(flows, key=lambda k: (len(k), k))]


def _flow(_: Any, info: Any, id: str) -> "Flow | None":  # noqa: A002 - the schema's name
    return info.context.store.flows.get(id)


def _person_by_salesforce(_: Any, info: Any, salesforceId: str) -> Any:  # noqa: N803
    store = info.context.store
    pid = store.by_salesforce.get(salesforceId)
    return store.people.get(pid) if pid is not None else None


def _add_person_to_flow(_: Any, info: Any, input: dict[str, str]) -> dict[str, Any]:  # noqa: A002
    ctx: Context = info.context
    store = ctx.store
    flow_id, person_id = input["flowId"], input["personId"]
    if flow_id not in store.flows:
        raise error(f"Flow {flow_id} not found", "NOT_FOUND")
    if person_id not in store.people:
        raise error(f"Person {person_id} not found", "NOT_FOUND")
    if (flow_id, person_id) in store.memberships:
        raise error(f"Person {person_id} is already in Flow {flow_id}", "ALREADY_EXISTS")
    membership = store.add_to_flow(flow_id, person_id, iso8601(ctx.now))
    return {"personFlow": membership}


def _steps(flow: "Flow", info: Any, **args: Any) -> dict[str, Any]:
    return connection(flow.steps, **args)


def _labels(flow: "Flow", info: Any, **args: Any) -> dict[str, Any]:
    return connection(flow.labelInstances, **args)


def _membership_flow(m: Any, info: Any) -> "Flow":
    return info.context.store.flows[m.flowId]


def _membership_person(m: Any, info: Any) -> Any:
    return info.context.store.people[m.personId]


@lru_cache(maxsize=1)  # immutable once built; every app of a test run shares it
def build() -> GraphQLSchema:
    schema = build_schema((data_dir("contracts") / "groove" / "schema.graphql").read_text())
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None and mutation is not None
    query.fields["flows"].resolve = _flows
    query.fields["flow"].resolve = _flow
    query.fields["findPersonBySalesforceId"].resolve = _person_by_salesforce
    mutation.fields["addPersonToFlow"].resolve = _add_person_to_flow
    flow = schema.get_type("Flow")
    flow.fields["steps"].resolve = _steps            # type: ignore[union-attr]
    flow.fields["labelInstances"].resolve = _labels  # type: ignore[union-attr]
    person_flow = schema.get_type("PersonFlow")
    person_flow.fields["flow"].resolve = _membership_flow      # type: ignore[union-attr]
    person_flow.fields["person"].resolve = _membership_person  # type: ignore[union-attr]
    return schema


# -- running a request ------------------------------------------------------------------------
class Prepared:
    """A query string, parsed and validated: its document, or its errors already encoded."""

    __slots__ = ("document", "errors", "read_only")

    def __init__(self, document: DocumentNode | None, errors: bytes) -> None:
        self.document = document
        self.errors = errors
        # Only queries (no mutation, no subscription) may have their answers cached.
        self.read_only = document is not None and all(
            d.operation is OperationType.QUERY for d in document.definitions
            if isinstance(d, OperationDefinitionNode))


class Executor:
    def __init__(self) -> None:
        self.schema = build()
        # query string -> Prepared: saves parsing and validating the documents a suite or a
        # client repeats (see bench/README.md)
        self._documents: OrderedDict[str, Prepared] = OrderedDict()
        # (store serial, store version, request) -> the encoded answer: saves decoding the
        # body, executing the query and encoding its answer when a client repeats a request
        # (about 90% of a flow query's cost). The request is the raw body and its content type,
        # which are all a GraphQL answer reads besides the store's data (no query resolver
        # reads the clock, the token or its scope); the version names the data, moved on every
        # write (GrooveStore.changed); a reset or an import makes a store with a new serial.
        # Only read-only answers are kept (`answer`): a mutation runs every time.
        self._results: OrderedDict[tuple[int, int, Any], bytes] = OrderedDict()

    def document(self, query: str) -> Prepared:
        hit = self._documents.get(query)
        if hit is not None:
            self._documents.move_to_end(query)
            return hit
        document, errors = self._prepare(query)
        hit = Prepared(document, dump({"errors": errors}) if document is None else b"")
        if len(query) <= CACHE_MAX_QUERY:
            self._documents[query] = hit
            if len(self._documents) > CACHE_SIZE:
                self._documents.popitem(last=False)
        return hit

    def _prepare(self, query: str) -> tuple[DocumentNode | None, list[dict]]:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as exc:
            return None, [_formatted(exc, "parseError")]
        except RecursionError:
            return None, [{"message": "Query is nested too deeply",
                           "extensions": {"code": "parseError"}}]
        try:
            errors = validate(self.schema, document)
        except RecursionError:
            return None, [{"message": "Query is nested too deeply",
                           "extensions": {"code": "validationError"}}]
        if not errors:
            return document, []
        out = []
        for rule in specified_rules:  # which rule each error came from: its graphql-ruby code
            for exc in validate(self.schema, document, rules=[rule]):
                out.append(_formatted(exc, RULE_CODES.get(rule.__name__, "validationError"),
                                      _path(document, exc)))
        return None, out or [_formatted(e, "validationError") for e in errors]

    def recall(self, store: "GrooveStore", request: Any) -> bytes | None:
        """The answer kept for this request on this store's data, if any."""
        hit = self._results.get((store.serial, store.version, request))
        if hit is not None:
            self._results.move_to_end((store.serial, store.version, request))
        return hit

    def remember(self, store: "GrooveStore", request: Any, body: bytes) -> None:
        """Keep an answer `answer` called reusable, for `recall`."""
        if len(body) <= RESULT_MAX_BYTES:
            self._results[(store.serial, store.version, request)] = body
            if len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)

    def answer(self, query: str, variables: dict[str, Any] | None, operation: str | None,
               context: Context) -> tuple[bytes, bool]:
        """The JSON body answering this request (always a 200), and whether the same request
        on the same data gets the same answer (no mutation ran)."""
        prepared = self.document(query)
        document = prepared.document
        if document is None:
            return prepared.errors, True
        out, complete = self.execute(document, variables, operation, context)
        return dump(out), complete and prepared.read_only

    def execute(self, document: DocumentNode, variables: dict[str, Any] | None,
                operation: str | None, context: Context) -> tuple[dict[str, Any], bool]:
        """The answer, and False when it ran out of stack (that may not happen again)."""
        try:
            # No resolver is async: saves graphql-core's awaitable check on every field value.
            result = execute(self.schema, document, variable_values=variables,
                             operation_name=operation, context_value=context,
                             is_awaitable=_never)
        except RecursionError:
            return {"errors": [{"message": "Query is nested too deeply",
                                "extensions": {"code": "executionError"}}]}, False
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [_formatted(e, "executionError") for e in result.errors]
        if result.data is not None:  # none when the request failed before any field ran
            out["data"] = result.data
        return out, True


def _never(_: Any) -> bool:
    return False


def _formatted(exc: GraphQLError, code: str, path: list[str] | None = None) -> dict[str, Any]:
    out = exc.formatted
    extensions = dict(out.get("extensions") or {})
    extensions.setdefault("code", code)
    out["extensions"] = extensions
    if path is not None and "path" not in out:
        out["path"] = path
    return out


def _path(document: DocumentNode, exc: GraphQLError) -> list[str] | None:
    """graphql-ruby names where a validation error sits: the operation ("query", "mutation
    Name") and the field names down to it."""
    target = exc.nodes[0] if exc.nodes else None
    if target is None:
        return None
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        kind = {OperationType.QUERY: "query", OperationType.MUTATION: "mutation"}.get(
            definition.operation, definition.operation.value)
        head = f"{kind} {definition.name.value}" if definition.name else kind
        if definition is target:
            return [head]
        found = _find(definition.selection_set, target, [head])
        if found is not None:
            return found
    return None


def _find(selection_set: Any, target: Any, trail: list[str], depth: int = 0) -> list[str] | None:
    if selection_set is None or depth > 100:
        return None
    for selection in selection_set.selections:
        step = trail
        if isinstance(selection, FieldNode):
            step = trail + [(selection.alias or selection.name).value]
        if selection is target or target in (getattr(selection, "arguments", None) or ()):
            return step
        found = _find(getattr(selection, "selection_set", None), target, step, depth + 1)
        if found is not None:
            return found
    return None
