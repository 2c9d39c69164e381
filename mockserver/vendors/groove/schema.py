"""Groove's GraphQL API: the documented SDL (contracts/groove/schema.graphql) executed with
graphql-core over the tenant's store, answering in graphql-ruby's shape.

Parsed and validated documents are cached per query string (bounded), so a suite that repeats its
queries parses each once; a query string not yet cached is prepared in a worker thread, off the
event loop, and run on the loop (`Executor.prepare_off_loop`). The encoded answers of read-only
documents are cached too, per store and data version (see `Executor.recall`). Every error
carries `extensions.code`: validation errors the code graphql-ruby gives that rule, resolver
errors their own.

Before a valid document runs, graphql-ruby's `max_depth` and `max_complexity` are checked
(cost.py, the tenant's limits); while it runs, its answer is bounded (`ANSWER_MAX`).
"""
from __future__ import annotations

import base64
import binascii
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

import anyio
from anyio.lowlevel import RunVar
from graphql import (GraphQLEnumType, GraphQLError, GraphQLSchema, OperationType,
                     OverlappingFieldsCanBeMergedRule, assert_valid_schema, build_schema, execute,
                     parse, specified_rules, validate)
from graphql.execution import Executor as GraphQLExecutor
from graphql.language import DocumentNode, FieldNode, OperationDefinitionNode
from graphql.language.visitor import EnterLeaveVisitor

from ...core.http import dump
from ...core.memo import Memo
from ...core.paths import data_dir
from .cost import Cost, Costs, list_items, refusals

if TYPE_CHECKING:
    from .store import Flow, GrooveStore

DEFAULT_PAGE_SIZE = 25      # a connection read without first/last
MAX_PAGE_SIZE = 100         # first/last above it are capped, as graphql-ruby's max_page_size
MAX_TOKENS = 1_000          # longer documents are refused before parsing: parsing and
                            # validating cost 25 to 60 us a token (graphql-core's fullest
                            # introspection query is 183 tokens)
CACHE_SIZE = 512             # prepared documents kept (core/memo.py)
CACHE_TOKENS = 10_000        # tokens of the documents kept, all together: a kept document holds
                             # about 3 objects a token, and each full garbage collection walks
                             # them all with every client waiting (512 documents of the largest
                             # size, 1.4 million objects: about a second; 10,000 tokens: ~10 ms)
CACHE_MAX_QUERY = 16 * 1024  # longer documents are parsed, not memoised
RESULT_CACHE_SIZE = 256      # encoded answers kept, all tenants together
RESULT_MAX_REQUEST = 16 * 1024  # larger request bodies are answered, not memoised
RESULT_MAX_BYTES = 16 * 1024  # and so are larger answers: at most about 8 MB in all
ANSWER_MAX = 2_500           # fields and objects in one answer: past it the query is refused
                             # (a list the complexity counts once, `flows` or introspection's,
                             # can multiply it); about 10 us each to build
MERGE_BUDGET = 2_000         # graphql-core's work budget for OverlappingFieldsCanBeMergedRule
                             # (its own default, 500,000, is seconds of comparisons)
OFF_LOOP_AT_ONCE = 1         # documents prepared or run in worker threads at once: the work
                             # holds the interpreter lock, so a second thread adds no throughput
                             # and only makes the event loop wait longer for the lock
OFF_LOOP_SIZE = 500          # a query whose answer can hold more fields and objects than this
                             # (Cost.bound) runs in a worker thread. Measured: building and
                             # encoding an answer costs 10 to 15 us a field or object, a thread
                             # hop about 0.2 ms; so the loop is held at most 5 to 8 ms, and a
                             # query that hops saves 25 times the hop. The ordinary queries stay
                             # on the loop: the bench's flow query (bound 82), the README's (20),
                             # a Relay page of 25 steps' edges (185), or of both connections'
                             # edges and nodes (473)

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


def refusal(*messages: tuple[str, str]) -> bytes:
    """An answer to a request refused before it ran: errors only, no `data`."""
    return dump({"errors": [{"message": m, "extensions": {"code": c}} for m, c in messages]})


ANSWER_REFUSAL = (f"Query's answer exceeds max answer size of {ANSWER_MAX} fields and objects",
                  "answerTooLarge")
TOO_DEEP = "Query is nested too deeply"


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


class Page:
    """A Relay page: its page info at once, its edges and nodes only when a query selects them
    (a page asked for its `pageInfo` alone builds no edges)."""

    __slots__ = ("_items", "_start", "_end", "pageInfo")

    def __init__(self, items: Sequence[Any], start: int, end: int,
                 page_info: dict[str, Any]) -> None:
        self._items, self._start, self._end = items, start, end
        self.pageInfo = page_info

    @property
    def edges(self) -> list[dict[str, Any]]:
        return [{"cursor": cursor(i + 1), "node": self._items[i]}
                for i in range(self._start, self._end)]

    @property
    def nodes(self) -> list[Any]:
        return list(self._items[self._start:self._end])


def connection(items: Sequence[Any], after: str | None = None, before: str | None = None,
               first: int | None = None, last: int | None = None) -> Page:
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
    return Page(items, start, end, {
        "startCursor": cursor(start + 1) if end > start else None,
        "endCursor": cursor(end) if end > start else None,
        "hasNextPage": high - low > first if first is not None
        else before_at is not None and before_at <= total,
        "hasPreviousPage": high - low > last if last is not None
        else after_at is not None and after_at > 0,
    })


# -- resolvers --------------------------------------------------------------------------------
def _flows(_: Any, info: Any) -> tuple["Flow", ...]:
    return info.context.store.flow_list


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
    # graphql-core fills a few memos on a schema when first used: its validity and each enum's
    # values (validation), each enum's lookup of names (execution). Filled here, nothing writes
    # to the schema afterwards, so a worker thread validating one document never reads what
    # the event loop, executing another, is writing.
    assert_valid_schema(schema)
    for named in schema.type_map.values():
        if isinstance(named, GraphQLEnumType) and named.values:
            named.coerce_output_value(next(iter(named.values.values())).value)
    return schema


# -- validation, once ---------------------------------------------------------------------------
class _Tags:
    """One validation's bookkeeping: the rule whose visitor runs now (its index in
    `specified_rules`) and, for each error reported, the rule that reported it."""

    __slots__ = ("current", "rules")

    def __init__(self) -> None:
        self.current: int | None = None
        self.rules: list[int | None] = []


_TAGS: ContextVar[_Tags] = ContextVar("groove_validation_tags")


def _running(tags: _Tags, index: int, fn: Any) -> Any:
    if fn is None:
        return None

    def run(*args: Any) -> Any:
        tags.current = index
        result = fn(*args)
        tags.current = None     # a rule that raises (an abort) stays named
        return result
    return run


def _tagged(index: int, rule: Any) -> Any:
    """graphql-core's rule, naming itself on each error it reports, so that one validation
    gives every error its graphql-ruby code."""

    class Tagged(rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: Any) -> None:
            super().__init__(context)
            tags = getattr(context, "groove_tags", None)
            if tags is None:   # the first rule of this validation: hook its error callback
                tags = context.groove_tags = _TAGS.get()
                report = context.on_error

                def on_error(exc: GraphQLError) -> None:
                    report(exc)
                    tags.rules.append(tags.current)
                context.on_error = on_error
            self.groove_tags = tags
            if isinstance(self, OverlappingFieldsCanBeMergedRule):
                self.rule_context.remaining_complexity_budget = MERGE_BUDGET

        def get_enter_leave_for_kind(self, kind: str) -> EnterLeaveVisitor:
            enter, leave = super().get_enter_leave_for_kind(kind)
            return EnterLeaveVisitor(_running(self.groove_tags, index, enter),
                                     _running(self.groove_tags, index, leave))

    Tagged.__name__ = Tagged.__qualname__ = rule.__name__
    return Tagged


RULES = [_tagged(i, rule) for i, rule in enumerate(specified_rules)]
CODES = [RULE_CODES.get(rule.__name__, "validationError") for rule in specified_rules]


def _validate(schema: GraphQLSchema, document: DocumentNode) -> list[tuple[GraphQLError, int]]:
    """The document's errors, each with the index of the rule that found it (past the last
    rule for an error no rule reported), ordered by rule as graphql-ruby's codes list them."""
    tags = _Tags()
    token = _TAGS.set(tags)
    try:
        errors = validate(schema, document, rules=RULES)
    finally:
        _TAGS.reset(token)
    last = len(RULES)
    # Errors past the reported ones are validate()'s own aborts: a budget or an error limit
    # reached in a rule (still running), or fragments nested too deeply (no rule).
    rules = tags.rules + [tags.current] * (len(errors) - len(tags.rules))
    tagged = [(e, last if r is None else r) for e, r in zip(errors, rules)]
    return sorted(tagged, key=lambda pair: pair[1])


# -- running a request ------------------------------------------------------------------------
class Prepared:
    """A query string, parsed and validated: its document, or its errors already encoded."""

    __slots__ = ("document", "errors", "read_only", "costs", "tokens")

    def __init__(self, document: DocumentNode | None, errors: bytes) -> None:
        self.document = document
        self.errors = errors
        # Only queries (no mutation, no subscription) may have their answers cached.
        self.read_only = document is not None and all(
            d.operation is OperationType.QUERY for d in document.definitions
            if isinstance(d, OperationDefinitionNode))
        # its depth and complexity, computed once per operation and page variables
        self.costs = Costs(document) if document is not None else None
        self.tokens = _unlinked(document) if document is not None else 0


def _unlinked(document: DocumentNode) -> int:
    """The tokens of a parsed document (the measure of what it holds), unlinked. The lexer
    links them both ways: a cycle through the whole document, so a kept document, once
    dropped from the cache, waited for a full garbage collection, which holds every client
    (a client sending new documents left about 32,000 objects to each one, 9,500 once
    unlinked). Unlinked, it is freed at once. Nothing reads the links after parsing: a node's
    location keeps its own first and last tokens, an error's location is read from the
    source."""
    count = 0
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        count += 1
        following = token.next
        token.prev = token.next = None
        token = following
    return count


class _Pending:
    """A query string being prepared in a worker thread: what requests for it wait on."""

    __slots__ = ("done", "prepared")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.prepared: Prepared | None = None   # still None once done: it failed


# The worker threads preparing and running documents, per event loop (an anyio limiter belongs
# to one loop). One limiter for both: either work holds the interpreter lock the loop needs.
_OFF_LOOP: RunVar[anyio.CapacityLimiter] = RunVar("groove_off_loop")


def _off_loop() -> anyio.CapacityLimiter:
    limiter = _OFF_LOOP.get(None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(OFF_LOOP_AT_ONCE)
        _OFF_LOOP.set(limiter)
    return limiter


class _Meter:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


class _Metered(GraphQLExecutor):
    """graphql-core's executor, counting the answer's fields and objects as it builds each
    object: past the meter's bound it builds no more (each further object is left empty) and
    the caller discards the answer. One count per object, none per field, keeps it cheap."""

    def __init__(self, *args: Any, meter: _Meter, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.meter = meter

    def execute_fields(self, parent_type: Any, source_value: Any, path: Any,
                       grouped_field_set: Any, position_context: Any) -> Any:
        meter = self.meter
        meter.left -= len(grouped_field_set) + 1
        if meter.left < 0:
            return {}
        return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                      position_context)


class Executor:
    def __init__(self, flows: int = 1) -> None:
        """`flows`: how many flows `flows` lists (the fixtures'), for the answer's bound."""
        self.schema = build()
        self.lists = list_items(self.schema, {("Query", "flows"): flows})
        # query string -> Prepared: saves parsing and validating the documents a suite or a
        # client repeats (see bench/README.md)
        self._documents: Memo[str, Prepared] = Memo(CACHE_SIZE, max_weight=CACHE_TOKENS)
        # (store serial, store version, request) -> the encoded answer: saves decoding the
        # body, executing the query and encoding its answer when a client repeats a request
        # (about 90% of a flow query's cost). The request is the raw body and its content type,
        # which are all a GraphQL answer reads besides the store's data (no query resolver
        # reads the clock, the token or its scope); the version names the data, moved on every
        # write (GrooveStore.changed), the tenant's query limits too; a reset or an import
        # makes a store with a new serial.
        # Only read-only answers are kept (`respond`): a mutation runs every time.
        self._results: Memo[tuple[int, int, Any], bytes] = Memo(RESULT_CACHE_SIZE)
        # query string -> its preparation under way in a worker thread (prepare_off_loop)
        self._pending: dict[str, _Pending] = {}

    # Both caches and `_pending` are read and written on the event loop only; a worker thread
    # preparing a document reads the query string, the request's variables and the schema
    # (written by nobody once built) and writes only the Prepared it makes, which nobody sees
    # before it is done. A worker thread running a query: see `respond`.
    def cached(self, query: str) -> Prepared | None:
        """The prepared document of a query string seen before, if kept."""
        return self._documents.get(query)

    def document(self, query: str) -> Prepared:
        """The prepared document of a query string, prepared here if not kept."""
        hit = self.cached(query)
        if hit is None:
            hit = self.prepare(query)
            self._keep(query, hit)
        return hit

    async def prepare_off_loop(self, query: str, variables: dict[str, Any] | None,
                               operation: str | None) -> Prepared:
        """A query string not kept, prepared in a worker thread and then kept: parsing and
        validating a new document of the largest allowed size take tens of milliseconds,
        which would hold every other client's answer. A request for a string being prepared
        already waits for that preparation instead of repeating it."""
        while (pending := self._pending.get(query)) is not None:
            await pending.done.wait()
            if pending.prepared is not None:
                return pending.prepared
        pending = self._pending[query] = _Pending()
        try:
            prepared = await anyio.to_thread.run_sync(self.prepare, query, variables, operation,
                                                      limiter=_off_loop())
            self._keep(query, prepared)
            pending.prepared = prepared
        finally:
            del self._pending[query]
            pending.done.set()
        return prepared

    def prepare(self, query: str, variables: dict[str, Any] | None = None,
                operation: str | None = None) -> Prepared:
        """Parse and validate a query string and, for a valid document, analyse the cost of
        the operation and variables given (kept on the document, as `cost` keeps it).
        Reads nothing but its arguments and the schema: safe in a worker thread."""
        document, errors = self._prepare(query)
        prepared = Prepared(document, dump({"errors": errors}) if document is None else b"")
        if document is not None:
            try:
                self.cost(prepared, variables, operation)
            except RecursionError:
                pass        # `refused` meets it again and refuses the request
        return prepared

    def _keep(self, query: str, prepared: Prepared) -> None:
        if len(query) > CACHE_MAX_QUERY or query in self._documents:
            return
        self._documents.keep(query, prepared, prepared.tokens)

    def _prepare(self, query: str) -> tuple[DocumentNode | None, list[dict]]:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as exc:
            return None, [_formatted(exc, "parseError")]
        except RecursionError:
            return None, [{"message": TOO_DEEP, "extensions": {"code": "parseError"}}]
        try:
            errors = _validate(self.schema, document)
        except RecursionError:
            return None, [{"message": TOO_DEEP, "extensions": {"code": "validationError"}}]
        if not errors:
            return document, []
        return None, [_formatted(exc, CODES[rule] if rule < len(CODES) else "validationError",
                                 _path(document, exc) if rule < len(CODES) else None)
                      for exc, rule in errors]

    def recall(self, store: "GrooveStore", request: Any) -> bytes | None:
        """The answer kept for this request on this store's data, if any."""
        return self._results.get((store.serial, store.version, request))

    def remember(self, data: tuple[int, int], request: Any, body: bytes) -> None:
        """Keep an answer for `recall`, under the data `respond` said it read."""
        if len(body) <= RESULT_MAX_BYTES:
            self._results.keep((*data, request), body)

    def cost(self, prepared: Prepared, variables: dict[str, Any] | None,
             operation: str | None) -> Cost | None:
        """The selected operation's depth and complexity (None when it cannot run)."""
        assert prepared.costs is not None
        return prepared.costs.of(self.schema, operation, variables, DEFAULT_PAGE_SIZE,
                                 MAX_PAGE_SIZE, self.lists)

    def answer(self, prepared: Prepared, variables: dict[str, Any] | None,
               operation: str | None, context: Context) -> tuple[bytes, bool]:
        """The JSON body answering this request (always a 200), and whether the same request
        on the same data gets the same answer (no mutation ran); run here, on the caller's
        thread."""
        if prepared.document is None:
            return prepared.errors, True
        refused, _ = self._checked(prepared, variables, operation, context.store)
        if refused is not None:
            return refused, prepared.read_only
        return self._run(prepared.document, variables, operation, context, prepared.read_only)

    async def respond(self, prepared: Prepared, variables: dict[str, Any] | None,
                      operation: str | None,
                      context: Context) -> tuple[bytes, tuple[int, int] | None]:
        """`answer`, with a query whose answer can pass OFF_LOOP_SIZE run in a worker thread
        (one at a time, as preparations): the JSON body, and the data (store serial, version)
        it may be kept under for `recall`, None when it may not (a mutation ran, or it ran out
        of stack). The data is read before the thread starts: a write meanwhile moves the
        version on, so the answer kept is one nobody asks for again, never a wrong one.

        What a query's resolvers read in the thread, while the loop may write to the store:
        the template's flows (fixtures: no call changes them, an import keeps the server's
        template), `flows` as a tuple and `flow(id)` with one dict.get; `people` and
        `by_salesforce`, each read with dict.gets (the tenant's additions, then the template's;
        Groove deletes no person), each atomic under the interpreter lock while the loop adds a
        person (people first, so an id found has its person); the flows'
        steps and label instances, tuples of frozen objects; and the schema (introspection),
        written by nobody once built. Memberships, tokens and the clock are read by mutations
        only, and mutations always run on the loop. A reset or an import swaps in a new store
        and leaves this one as it was: the request answers from the store it started on. The
        answer's meter and the stack's end (RecursionError) are caught in `execute`, whichever
        thread runs it."""
        store = context.store
        data = (store.serial, store.version)
        if prepared.document is None:
            return prepared.errors, data
        refused, cost = self._checked(prepared, variables, operation, store)
        if refused is not None:
            return refused, data if prepared.read_only else None
        if cost is not None and cost.query and cost.bound is not None \
                and cost.bound > OFF_LOOP_SIZE:
            body, reusable = await anyio.to_thread.run_sync(
                self._run, prepared.document, variables, operation, context, prepared.read_only,
                limiter=_off_loop())
        else:
            body, reusable = self._run(prepared.document, variables, operation, context,
                                       prepared.read_only)
        return body, data if reusable else None

    def _run(self, document: DocumentNode, variables: dict[str, Any] | None,
             operation: str | None, context: Context, read_only: bool) -> tuple[bytes, bool]:
        """Execute and encode (on the loop, or in a worker thread for `respond`)."""
        out, complete = self.execute(document, variables, operation, context)
        return dump(out), complete and read_only

    def refused(self, prepared: Prepared, variables: dict[str, Any] | None,
                operation: str | None, store: "GrooveStore") -> bytes | None:
        """graphql-ruby's analysis errors for a valid document, before anything runs: its
        depth and its complexity against the tenant's limits; and this server's bound on an
        answer, for an operation (a mutation) that could not be stopped halfway."""
        return self._checked(prepared, variables, operation, store)[0]

    def _checked(self, prepared: Prepared, variables: dict[str, Any] | None,
                 operation: str | None, store: "GrooveStore") -> tuple[bytes | None,
                                                                     Cost | None]:
        """`refused`, and the cost when it could be counted."""
        try:
            cost = self.cost(prepared, variables, operation)
        except RecursionError:
            return refusal((TOO_DEEP, "validationError")), None
        if cost is None:
            return None, None
        messages = refusals(cost, store.max_depth, store.max_complexity)
        if messages:
            return refusal(*messages), cost
        if cost.complexity is None:
            return refusal((TOO_DEEP, "validationError")), cost
        if not cost.query and cost.bound is not None and cost.bound > ANSWER_MAX:
            return refusal(ANSWER_REFUSAL), cost
        return None, cost

    def execute(self, document: DocumentNode, variables: dict[str, Any] | None,
                operation: str | None, context: Context) -> tuple[dict[str, Any], bool]:
        """The answer, and False when it ran out of stack (that may not happen again)."""
        meter = _Meter(ANSWER_MAX)
        try:
            # No resolver is async: saves graphql-core's awaitable check on every field value.
            result = execute(self.schema, document, variable_values=variables,
                             operation_name=operation, context_value=context,
                             is_awaitable=_never, executor_class=_Metered, meter=meter)
        except RecursionError:
            return {"errors": [{"message": TOO_DEEP,
                                "extensions": {"code": "executionError"}}]}, False
        if meter.left < 0:
            message, code = ANSWER_REFUSAL
            return {"errors": [{"message": message, "extensions": {"code": code}}]}, True
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
