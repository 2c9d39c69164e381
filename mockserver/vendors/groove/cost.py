"""graphql-ruby's static analysis of a query before it runs: its depth (`QueryDepth`) and its
complexity (`QueryComplexity`), and the refusals of `max_depth` and `max_complexity`.

Counted as graphql-ruby counts them by default, over the selected operation with fragments
expanded and @skip/@include applied:
- depth: the most fields on one path from the root, the leaf included (introspection fields
  count, as `count_introspection_fields` is true by default);
- complexity: every field costs 1 plus its children, fields under one response key counting
  once (graphql-ruby merges them as execution does, so an alias counts each time and a repeated
  key once); a connection field (its type's name ends in "Connection") multiplies what its
  `edges` and `nodes` select by its page: `first` or `last` (the larger when both, literal or
  variable), else the default page size. `pageInfo` and `__typename` under it are not
  multiplied. Lists that are not connections count once, as in graphql-ruby.

The answer's bound (`Cost.bound`) is counted the same way, each object besides its fields, every
page as the server caps it and every other list as long as it can be (`lists`): the most fields
and objects the answer can hold, which is what building it costs.

The analysis is memoised per selection set and per fragment (a fragment spread a thousand times
is counted once per distinct place), so a hostile document costs about what its validation
costs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLEnumType,
                     GraphQLError, GraphQLIncludeDirective, GraphQLInputObjectType,
                     GraphQLInterfaceType, GraphQLList, GraphQLNamedType, GraphQLNonNull,
                     GraphQLObjectType, GraphQLSchema, GraphQLSkipDirective, InlineFragmentNode,
                     OperationDefinitionNode, NamedTypeNode, OperationType, SelectionSetNode,
                     get_argument_values, get_directive_values, get_named_type,
                     get_operation_ast, get_variable_values, is_abstract_type, is_leaf_type)

ITEMS = ("edges", "nodes")          # a connection's fields whose selections its page multiplies
PAGE_ARGUMENTS = ("first", "last")
COSTS_KEPT = 16                     # analyses kept per document (variable values differ)
READ_TYPES = ("Int", "Boolean")     # the types of the variables an analysis can read


# (type name, field name) -> the most items that list field can hold, for the answer's bound
Lists = Mapping[tuple[str, str], int]


def list_items(schema: GraphQLSchema, known: Lists) -> dict[tuple[str, str], int]:
    """The most items each list of objects in the schema can hold, other than a connection's
    (its page bounds them): introspection's as the schema has them, the others from `known`
    (a KeyError names a list field the schema gained and `known` lacks)."""
    types = list(schema.type_map.values())
    fielded = [t for t in types if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType))]
    fields = [f for t in fielded for f in t.fields.values()]
    most = {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(schema.directives),
        ("__Type", "fields"): max((len(t.fields) for t in fielded), default=0),
        ("__Type", "interfaces"): max((len(t.interfaces) for t in fielded), default=0),
        ("__Type", "possibleTypes"): max((len(schema.get_possible_types(t)) for t in types
                                          if is_abstract_type(t)), default=0),
        ("__Type", "enumValues"): max((len(t.values) for t in types
                                       if isinstance(t, GraphQLEnumType)), default=0),
        ("__Type", "inputFields"): max((len(t.fields) for t in types
                                        if isinstance(t, GraphQLInputObjectType)), default=0),
        ("__Field", "args"): max((len(f.args) for f in fields), default=0),
        ("__Directive", "args"): max((len(d.args) for d in schema.directives), default=0),
    }
    out = {}
    for parent in fielded:
        if is_connection(parent):
            continue
        for name, field in parent.fields.items():
            if _is_list(field.type) and not is_leaf_type(get_named_type(field.type)):
                key = (parent.name, name)
                out[key] = most[key] if key in most else known[key]
    return out


def _is_list(type_: Any) -> bool:
    return isinstance(type_.of_type if isinstance(type_, GraphQLNonNull) else type_,
                      GraphQLList)


def depth_refusal(depth: int, limit: int) -> str:
    return f"Query has depth of {depth}, which exceeds max depth of {limit}"


def complexity_refusal(complexity: int, limit: int) -> str:
    return f"Query has complexity of {complexity}, which exceeds max complexity of {limit}"


@dataclass(frozen=True)
class Cost:
    """What the analysis found for one operation under one set of variable values.

    `bound` counts the fields and objects its answer can hold at most: every page as the server
    caps it, every other list as long as `lists` says it can be."""

    depth: int
    complexity: int | None      # None when the document nests too deeply to count it
    bound: int | None           # None likewise
    query: bool                 # a query, which writes nothing (not a mutation)


def is_connection(named: GraphQLNamedType) -> bool:
    """graphql-ruby's `Field#connection?` default: its type's name ends in "Connection"."""
    return named.name.endswith("Connection") and named.name != "Connection"


class Analysis:
    """Depth and complexity of one operation under one set of coerced variable values."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: Any, default_page: int, page_cap: int | None = None,
                 lists: Lists | None = None) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page = default_page
        # With a cap, this is the answer's bound instead: pages as the server caps them, each
        # object counted besides its fields (an object may select none), and each list field
        # other than a connection's items times the most items `lists` gives it.
        self.page_cap = page_cap
        self.objects = page_cap is not None
        self.lists = lists if lists is not None else {}
        # Every table is keyed by node identity (AST nodes hash by value, which is deep).
        self._parts: dict[int, tuple[list[FieldNode], list[SelectionSetNode]]] = {}
        self._sources: dict[int, tuple[SelectionSetNode, ...]] = {}
        self._fields: dict[int, dict[str, list[FieldNode]]] = {}
        self._depths: dict[int, int] = {}
        self._keys: dict[tuple, int] = {}
        self._groups: dict[tuple, int] = {}
        self._sourced: dict[tuple, int] = {}
        self._widths: dict[tuple, int] = {}
        self._composite: dict[tuple, bool] = {}
        self.visits = 0             # fields costed: what the memoisation saves, for tests

    # -- the document's structure -----------------------------------------------------------
    def _included(self, node: Any) -> bool:
        """@skip and @include, read with the request's variables."""
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip["if"]:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and not include["if"])

    def parts(self, selection_set: SelectionSetNode) -> tuple[list[FieldNode],
                                                               list[SelectionSetNode]]:
        """The included fields written directly in a selection set, and the selection sets of
        its included inline fragments and fragment spreads (each fragment once). Type
        conditions are not read: as graphql-ruby's analysis visitor, every branch is visited
        (this schema has no interfaces or unions, so a valid document's branches all apply)."""
        hit = self._parts.get(id(selection_set))
        if hit is not None:
            return hit
        fields: list[FieldNode] = []
        nested: list[SelectionSetNode] = []
        seen: set[str] = set()
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                nested.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    nested.append(fragment.selection_set)
        self._parts[id(selection_set)] = hit = (fields, nested)
        return hit

    def sources(self, selection_set: SelectionSetNode) -> tuple[SelectionSetNode, ...]:
        """Every selection set whose own fields a selection set selects: itself and, through
        its fragments, theirs (each once)."""
        hit = self._sources.get(id(selection_set))
        if hit is not None:
            return hit
        found = {id(selection_set): selection_set}
        for inner in self.parts(selection_set)[1]:
            for source in self.sources(inner):
                found.setdefault(id(source), source)
        self._sources[id(selection_set)] = hit = tuple(found.values())
        return hit

    def _children(self, nodes: list[FieldNode]) -> tuple[SelectionSetNode, ...]:
        if len(nodes) == 1:
            return self.sources(nodes[0].selection_set) if nodes[0].selection_set else ()
        found: dict[int, SelectionSetNode] = {}
        for node in nodes:
            if node.selection_set:
                for source in self.sources(node.selection_set):
                    found.setdefault(id(source), source)
        return tuple(found.values())

    def fields(self, source: SelectionSetNode) -> dict[str, list[FieldNode]]:
        """A source's own fields by response key."""
        hit = self._fields.get(id(source))
        if hit is None:
            hit = {}
            for node in self.parts(source)[0]:
                hit.setdefault((node.alias or node.name).value, []).append(node)
            self._fields[id(source)] = hit
        return hit

    # -- depth ----------------------------------------------------------------------------------
    def depth(self, selection_set: SelectionSetNode) -> int:
        """The most fields on one path below a selection set (graphql-ruby's QueryDepth)."""
        hit = self._depths.get(id(selection_set))
        if hit is not None:
            return hit
        fields, nested = self.parts(selection_set)
        deepest = 0
        for node in fields:
            deepest = max(deepest, 1 + (self.depth(node.selection_set)
                                        if node.selection_set else 0))
        for inner in nested:
            deepest = max(deepest, self.depth(inner))
        self._depths[id(selection_set)] = deepest
        return deepest

    # -- complexity -----------------------------------------------------------------------------
    def group(self, parent: GraphQLNamedType, sources: tuple[SelectionSetNode, ...],
              page: int | None) -> int:
        """The cost of the fields these sources select together on `parent`; with a `page`,
        they are a connection's fields and its items are multiplied. Each source's own total
        is memoised; only response keys that several sources share are merged again."""
        if not sources:
            return 0
        if len(sources) == 1:
            return self._source(parent, sources[0], page)
        key = (parent.name, tuple(map(id, sources)), page)
        hit = self._groups.get(key)
        if hit is not None:
            return hit
        maps = [self.fields(s) for s in sources]
        total = sum(self._source(parent, s, page) for s in sources)
        largest = max(range(len(maps)), key=lambda i: len(maps[i]))
        shared: dict[str, None] = {}
        for i, fields in enumerate(maps):
            if i != largest:
                shared.update(dict.fromkeys(fields))
        for name in shared:
            holders = [m[name] for m in maps if name in m]
            if len(holders) > 1:
                total -= sum(self._weighted(parent, nodes, page) for nodes in holders)
                total += self._weighted(parent, [n for nodes in holders for n in nodes], page)
        self._groups[key] = total
        return total

    def _source(self, parent: GraphQLNamedType, source: SelectionSetNode,
                page: int | None) -> int:
        key = (parent.name, id(source), page)
        hit = self._sourced.get(key)
        if hit is None:
            hit = sum(self._weighted(parent, nodes, page)
                      for nodes in self.fields(source).values())
            self._sourced[key] = hit
        return hit

    def _weighted(self, parent: GraphQLNamedType, nodes: list[FieldNode],
                  page: int | None) -> int:
        """A field's cost inside its parent: graphql-ruby's `Field#calculate_complexity` for a
        connection splits its children into metadata (each child's own 1, plus the size of
        the selection of a child other than edges and nodes) and items (the rest), and
        multiplies the items by the page."""
        cost = self.key(parent, nodes)
        if page is None:
            return cost
        if nodes[0].name.value in ITEMS:
            metadata = 1
        else:
            metadata = 1 + self._width(parent, nodes)
            if self.objects and self._composite[(parent.name, id(nodes[0]))]:
                metadata += 1
        return metadata + page * (cost - metadata)

    def _width(self, parent: GraphQLNamedType, nodes: list[FieldNode]) -> int:
        """How many response keys a field selects below it."""
        key = (parent.name, tuple(map(id, nodes)))
        hit = self._widths.get(key)
        if hit is None:
            names: dict[str, None] = {}
            for source in self._children(nodes):
                names.update(dict.fromkeys(self.fields(source)))
            self._widths[key] = hit = len(names)
        return hit

    def key(self, parent: GraphQLNamedType, nodes: list[FieldNode]) -> int:
        """The cost of one response key: 1, plus its children (its page times its items for
        a connection)."""
        key = (parent.name, tuple(map(id, nodes)))
        hit = self._keys.get(key)
        if hit is not None:
            return hit
        self.visits += 1
        cost = 1
        field = self.schema.get_field(parent, nodes[0].name.value)  # type: ignore[arg-type]
        composite = False
        if field is not None:
            named = get_named_type(field.type)
            if not is_leaf_type(named):
                composite = True
                sources = self._children(nodes)
                page = self.page(field, nodes[0]) if is_connection(named) else None
                items = self.lists.get((parent.name, nodes[0].name.value), 1) \
                    if self.objects else 1
                cost += items * (self.objects + self.group(named, sources, page))
        self._composite[(parent.name, id(nodes[0]))] = composite
        self._keys[key] = cost
        return cost

    def page(self, field: Any, node: FieldNode) -> int:
        """graphql-ruby's page for a connection's complexity: `first`, or `last` when larger,
        else the default page size. A negative size (an error when the field runs) counts as
        0 so that it cannot offset the cost of other fields."""
        try:
            args = get_argument_values(field, node, self.variables)
        except GraphQLError:
            args = {}
        sizes = [v for v in (args.get(a) for a in PAGE_ARGUMENTS) if isinstance(v, int)]
        size = max(sizes) if sizes else self.default_page
        size = max(size, 0)
        return min(size, self.page_cap) if self.page_cap is not None else size


class Costs:
    """The analyses of one parsed, valid document, kept per operation name and the values of
    the variables an analysis can read: those of type Int or Boolean (`first`, `last` and a
    directive's `if` take no other), so the same document with the same values of these has
    the same cost."""

    __slots__ = ("document", "fragments", "kept")

    def __init__(self, document: Any) -> None:
        self.document = document
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.kept: dict[tuple, Cost] = {}

    def of(self, schema: GraphQLSchema, operation_name: str | None,
           variables: dict[str, Any] | None, default_page: int, page_cap: int,
           lists: Lists | None = None) -> Cost | None:
        """The cost of the operation the request selects; None when the request cannot run
        (no such operation, variables that do not coerce), which execution then reports.
        `lists` must be the same on every call (the costs kept do not name it)."""
        operation = get_operation_ast(self.document, operation_name)
        if operation is None:
            return None
        values = variables or {}
        read = tuple(_typed(values.get(d.variable.name.value))
                     for d in operation.variable_definitions or ()
                     if _type_name(d.type) in READ_TYPES)
        key = (operation_name, read) if all(r is not None for r in read) else None
        if key is not None and key in self.kept:
            return self.kept[key]
        cost = self._analyse(schema, operation, values, default_page, page_cap, lists)
        # Kept only when the variables coerced: a request whose others do not would
        # otherwise leave None for the same page values sent with valid ones.
        if key is not None and cost is not None:
            if len(self.kept) >= COSTS_KEPT:
                self.kept.pop(next(iter(self.kept)))
            self.kept[key] = cost
        return cost

    def _analyse(self, schema: GraphQLSchema, operation: OperationDefinitionNode,
                 values: dict[str, Any], default_page: int, page_cap: int,
                 lists: Lists | None) -> Cost | None:
        root = schema.get_root_type(operation.operation)
        if root is None:
            return None
        coerced = get_variable_values(schema, operation.variable_definitions or (), values)
        if isinstance(coerced, list):   # errors: the request fails before any field runs
            return None
        analysis = Analysis(schema, self.fragments, coerced, default_page)
        depth = analysis.depth(operation.selection_set)
        try:
            complexity = analysis.group(root, analysis.sources(operation.selection_set), None)
            capped = Analysis(schema, self.fragments, coerced, default_page, page_cap, lists)
            bound = 1 + capped.group(root, capped.sources(operation.selection_set), None)
        except RecursionError:
            complexity = bound = None
        return Cost(depth, complexity, bound, operation.operation is OperationType.QUERY)


def _type_name(type_node: Any) -> str:
    while not isinstance(type_node, NamedTypeNode):
        type_node = type_node.type
    return type_node.name.value


def _typed(value: Any) -> tuple[str, Any] | None:
    """A variable's value as part of a cache key: its type too (True == 1 in Python), None
    for a value that cannot be a key (a list or an object: it will not coerce to an Int or a
    Boolean anyway)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    return None


def refusals(cost: Cost, max_depth: int | None,
             max_complexity: int | None) -> list[tuple[str, str]]:
    """graphql-ruby's analysis errors, in its order (MaxQueryDepth's, then
    MaxQueryComplexity's), each with the code the mock gives it."""
    out = []
    if max_depth is not None and cost.depth > max_depth:
        out.append((depth_refusal(cost.depth, max_depth), "maxDepthExceeded"))
    if max_complexity is not None and cost.complexity is not None \
            and cost.complexity > max_complexity:
        out.append((complexity_refusal(cost.complexity, max_complexity),
                    "maxComplexityExceeded"))
    return out
