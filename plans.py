"""Execution plans: queries and mutations run without graphql-core's general executor.

graphql-core executes a request by walking the document and the schema
anew: it finds the operation, collects the fields, looks up each field's
definition, builds a resolve info and a path for every field, and checks
every value against its type in general terms. For a small query that is
three quarters of the server's own work. The document cache hands every
client sending the same text the same parsed document, so that walk can be
done once: a `Plan` is the operation compiled against the schema, a tree of
`FieldPlan`s that knows each field's resolver, arguments and how to complete
its value, and running it does only the per-request part.

Plans cover what clients of this API send: fields (with aliases and
`__typename`) of object, list, non-null, scalar and enum types, arguments as
literals or variables, fragments, and @skip/@include (fields are collected
once, see `_collect`; where up to three variables decide conditions, once
for each combination of their values). Anything else (other directives,
introspection, abstract types, subscription requests) gets no plan and runs
on graphql-core, as do requests whose variables do not coerce (graphql-core
then words the errors).
A plan answers as graphql-core would: the same resolvers with the same
arguments and resolve info, values completed by the same type methods, and
the same errors at the same paths with the same null propagation, and the
same concurrency: resolvers that wait (on a database, say) wait together, as
graphql-core gathers them; a mutation's root fields run one after another.
`tests/test_plans.py` runs every operation both ways and compares, the
curated cases and operations generated from the schema.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from functools import partial
from inspect import isawaitable
from itertools import product
from types import CoroutineType, GeneratorType, MappingProxyType
from typing import Any, NamedTuple

from ariadne.resolvers import resolve_to
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_argument_values,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
    is_scalar_type,
    located_error,
)
from graphql.execution.collect_fields import does_fragment_condition_match
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource, get_variable_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable
from graphql.pyutils.is_awaitable import is_awaitable as default_is_awaitable
from graphql.type.definition import GraphQLResolveInfoHelpers
from graphql.type.scalars import (
    coerce_boolean,
    coerce_id,
    coerce_string,
    serialize_boolean,
    serialize_id,
    serialize_string,
)

logger = logging.getLogger("chat.plans")

# Types whose values are never awaitable (the plain ones, and each other type found not to be, but
# generators, which are when they are generator-based coroutines): checked before `isawaitable`.
_never_awaitable = {str, int, float, bool, type(None), dict, list, tuple}
# Shared by every request without variables, so read-only.
_NO_VARIABLES = VariableValues(MappingProxyType({}), MappingProxyType({}))  # type: ignore[arg-type]
# Ariadne's `resolve_to(name)` reads one attribute (or key), as the default resolver does.
_RESOLVE_TO_CODE = resolve_to("_").__code__


# Built-in scalars whose output coercion returns a value of exactly this type unchanged.
_SERIALIZED_AS_IS = {serialize_string: str, serialize_id: str, serialize_boolean: bool}


class _OnlyNull:
    """The type of no value: a field read as is with it is answered at once only when null."""


# Whether values of a type are mappings (read by key) or objects (read by attribute), as found.
_mapping_types: dict[type, bool] = {dict: True}


def _is_mapping(value: Any) -> bool:
    kind = type(value)
    known = _mapping_types.get(kind)
    if known is None:
        known = _mapping_types[kind] = isinstance(value, Mapping)
    return known


def is_awaitable(value: Any) -> bool:
    """`inspect.isawaitable`, answered from the value's type alone for coroutines (the awaitables
    resolvers give) and for types known not to be."""
    kind = type(value)
    if kind is CoroutineType:
        return True
    if kind in _never_awaitable:
        return False
    if isawaitable(value):
        return True
    if kind is not GeneratorType:
        _never_awaitable.add(kind)
    return False


def _track(values: Iterable[Any]) -> None:
    """Settle awaitables nobody will await, in the background (also `info.async_helpers.track`)."""
    awaitables = [value for value in values if is_awaitable(value)]
    if not awaitables:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # run outside an event loop (never in the server): nothing can settle them
        for awaitable in awaitables:
            _close(awaitable)
        return
    future = asyncio.gather(*awaitables, return_exceptions=True)
    _settling.add(future)
    future.add_done_callback(_settling.discard)


def _awaitables_left(iterator: Iterator[Any]) -> list[Any]:
    """The awaitables a list's iterator still holds after its completion failed (graphql-core's
    `collect_iterator_awaitables`): they settle rather than being left unawaited."""
    awaitables = []
    with suppress(Exception):
        awaitables.extend(item for item in iterator if is_awaitable(item))
    return awaitables


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


_settling: set[asyncio.Future] = set()
_HELPERS = GraphQLResolveInfoHelpers(lambda values: gather_with_cancel(*values), _track)
# graphql-core's named tuples made per field or variable, from a tuple of their fields in order,
# without the keyword handling of their constructors.
_new_info = partial(tuple.__new__, GraphQLResolveInfo)
_new_path = partial(tuple.__new__, Path)
_new_source = partial(tuple.__new__, VariableValueSource)
_new_values = partial(tuple.__new__, VariableValues)


# A document's fragment definitions by name.
Fragments = Mapping[str, FragmentDefinitionNode]


class Compiling(NamedTuple):
    """What planning a selection reads besides the schema: the document's fragments, and the values
    of the variables deciding @skip/@include (for one variant of a plan; see `Plan`)."""

    fragments: Fragments
    conditions: Mapping[str, bool]


# At most 2 ** this many variants of a plan; an operation with more conditions runs on graphql-core.
MAX_CONDITION_VARIABLES = 3


class Unplannable(Exception):
    """The operation uses something plans do not cover; graphql-core runs it."""


class Run:
    """One request's state: what resolvers see besides their source, and the errors so far."""

    __slots__ = ("context", "error_positions", "errors", "plan", "root_value", "variables")

    def __init__(self, plan: Plan, context: Any, variables: VariableValues, root_value: Any) -> None:
        self.plan = plan
        self.context = context
        self.variables = variables
        self.root_value = root_value
        self.errors: list[GraphQLError] = []
        self.error_positions: set[Path | None] | None = None  # made at the first error

    def add_error(self, error: GraphQLError, path: Path | None) -> None:
        """graphql-core's `CollectedErrors.add`: an error where nothing above it was nulled yet.

        A field still running when its parent (or the whole result) was nulled may fail later;
        its error is not the client's to see.
        """
        positions = self.error_positions
        if positions is None:
            positions = self.error_positions = set()
        else:
            position = path
            while position is not None:
                if position in positions:
                    return
                position = position.prev
            if None in positions:
                return
        positions.add(path)
        self.errors.append(error)


class FieldPlan:
    """One field of a selection: how to resolve it and complete its value."""

    __slots__ = (
        "attribute",
        "complete",
        "field_def",
        "key",
        "name",
        "needs_path",
        "nodes",
        "non_null",
        "parent_type",
        "read_as_is",
        "resolve",
        "static_args",
        "typename",
        "variable_args",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        parent_type: GraphQLObjectType,
        nodes: list[FieldNode],
        compiling: Compiling,
    ) -> None:
        """`nodes`: the field's nodes of one response key, as collected (the first one's arguments count)."""
        node = nodes[0]
        self.key = node.alias.value if node.alias else node.name.value
        self.name = node.name.value
        self.nodes = nodes
        self.parent_type = parent_type
        self.typename = parent_type.name
        self.read_as_is: type | None = None
        if self.name == "__typename":
            self.field_def = None
            self.non_null = True
            return
        if self.name.startswith("__"):
            raise Unplannable("introspection")
        field_def = parent_type.fields.get(self.name)
        if field_def is None:
            raise Unplannable("unknown field")
        self.field_def: GraphQLField | None = field_def
        self.non_null = is_non_null_type(field_def.type)
        self.resolve = field_def.resolve
        self.attribute = self.name
        if getattr(self.resolve, "__code__", None) is _RESOLVE_TO_CODE:
            closure = self.resolve.__closure__ or ()
            names = [cell.cell_contents for cell in closure if isinstance(cell.cell_contents, str)]
            if len(names) == 1 and "." not in names[0]:
                self.resolve, self.attribute = None, names[0]
        self.static_args, self.variable_args = _plan_arguments(field_def, node)
        self.complete = _completer(schema, compiling, self, field_def.type)
        nullable_type = field_def.type.of_type if self.non_null else field_def.type
        self.needs_path = not is_leaf_type(nullable_type)
        if self.resolve is None:
            # What `_execute_fields` may read and answer at once: a null where allowed, and for
            # a leaf a value of the type its scalar passes unchanged.
            self.read_as_is = (
                _SERIALIZED_AS_IS.get(nullable_type.coerce_output_value, _OnlyNull)
                if is_leaf_type(nullable_type)
                else _OnlyNull
            )

    def path(self, parent_path: Path | None) -> Path:
        """The field's path under its parent's (`Path(parent_path, key, typename)`, made faster)."""
        return _new_path((parent_path, self.key, self.typename))

    def info(self, run: Run, path: Path) -> GraphQLResolveInfo:
        plan = run.plan
        return _new_info(
            (
                self.name,
                self.nodes,
                self.field_def.type,
                self.parent_type,
                path,
                plan.schema,
                plan.fragments,
                run.root_value,
                plan.operation,
                run.variables,
                run.context,
                default_is_awaitable,
                None,
                _HELPERS,
            )
        )

    def arguments(self, run: Run) -> dict[str, Any]:
        if self.variable_args is None:
            return self.static_args
        coerced = run.variables.coerced
        args = {}
        for out_name, variable, nullable in self.variable_args:
            value = coerced.get(variable, Undefined)
            if value is Undefined or (value is None and not nullable):
                break  # absent, or null where it may not be: graphql-core's rules (defaults, errors)
            args[out_name] = value
        else:  # every variable read (an empty list: never, see `_plan_arguments`)
            if self.variable_args:
                return args
        return get_argument_values(self.field_def, self.nodes[0], run.variables)

    def run(self, run: Run, source: Any, parent_path: Path | None) -> Any:
        """The field's completed value (or an awaitable of it); a located error for a non-null one."""
        if self.field_def is None:
            return self.typename
        if self.resolve is None:
            try:
                value = (
                    source.get(self.attribute)
                    if _is_mapping(source)
                    else getattr(source, self.attribute, None)
                )
            except Exception as error:
                return self.failed(run, parent_path, error)
            return self.read(run, parent_path, value)
        # A leaf's path is only needed for its resolve info or its error: made then.
        path = self.path(parent_path) if self.needs_path else None
        try:
            info = self.info(run, path or self.path(parent_path))
            return self._complete(run, parent_path, path, self.resolve(source, info, **self.arguments(run)))
        except Exception as error:
            return self.failed(run, parent_path, error)

    def read(self, run: Run, parent_path: Path | None, value: Any) -> Any:
        """`run` from the value the default resolver read from the source (called if callable)."""
        path = self.path(parent_path) if self.needs_path else None
        try:
            if callable(value):
                info = self.info(run, path or self.path(parent_path))
                value = value(info, **self.arguments(run))
            return self._complete(run, parent_path, path, value)
        except Exception as error:
            return self.failed(run, parent_path, error)

    def _complete(self, run: Run, parent_path: Path | None, path: Path | None, value: Any) -> Any:
        if is_awaitable(value):
            return self._complete_later(run, parent_path, path, value)
        completed = self.complete(run, path, value)
        if is_awaitable(completed):
            return self._await_completed(run, parent_path, completed)
        return completed

    def failed(self, run: Run, parent_path: Path | None, error: Exception) -> None:
        _report(run, error, self.nodes, self.path(parent_path), self.non_null)

    async def _complete_later(
        self, run: Run, parent_path: Path | None, path: Path | None, value: Awaitable[Any]
    ) -> Any:
        try:
            completed = self.complete(run, path, await value)
            if is_awaitable(completed):
                completed = await completed
            return completed
        except Exception as error:
            return self.failed(run, parent_path, error)

    async def _await_completed(self, run: Run, parent_path: Path | None, completed: Awaitable[Any]) -> Any:
        try:
            return await completed
        except Exception as error:
            return self.failed(run, parent_path, error)


def _report(run: Run, error: Exception, nodes: list[FieldNode], path: Path, non_null: bool) -> None:
    """graphql-core's `handle_field_error`: the error located, raised where null may not stand, else kept."""
    located = located_error(error, nodes, path.as_list())
    if non_null:
        raise located
    run.add_error(located, path)


def _plan_arguments(
    field_def: GraphQLField, node: FieldNode
) -> tuple[dict[str, Any], list[tuple[str, str, bool]] | None]:
    """Arguments known from the document alone, and those read from variables on each request.

    A variable used other than as an argument's whole value, or an argument
    left out that has a default, makes graphql-core's `get_argument_values`
    do the work on each request (`variable_args` is then empty, never None).
    """
    given = {argument.name.value: argument.value for argument in node.arguments or []}
    variable_names = {
        name: value.name.value for name, value in given.items() if isinstance(value, VariableNode)
    }
    if not variable_names and not any(_uses_variables(value) for value in given.values()):
        try:
            return get_argument_values(field_def, node, _NO_VARIABLES), None
        except GraphQLError as error:
            raise Unplannable("argument") from error
    defaults_left_out = any(
        name not in given and argument.default_value is not Undefined
        for name, argument in field_def.args.items()
    )
    if defaults_left_out or len(variable_names) != len(given):
        return {}, []
    variable_args = [
        (field_def.args[name].out_name or name, variable, not is_non_null_type(field_def.args[name].type))
        for name, variable in variable_names.items()
    ]
    return {}, variable_args


def _uses_variables(value_node: ValueNode) -> bool:
    if isinstance(value_node, VariableNode):
        return True
    if isinstance(value_node, ListValueNode):
        return any(_uses_variables(item) for item in value_node.values)
    if isinstance(value_node, ObjectValueNode):
        return any(_uses_variables(field.value) for field in value_node.fields)
    return False


# A field's value completed for its type: (the request, the field's path if it needs one, the value).
Completer = Callable[[Run, Path | None, Any], Any]


def _completer(
    schema: GraphQLSchema, compiling: Compiling, field: FieldPlan, type_: GraphQLOutputType
) -> Completer:
    """graphql-core's `complete_value` for one field's type, decided once."""
    if isinstance(type_, GraphQLNonNull):
        inner = _completer(schema, compiling, field, type_.of_type)
        message = f"Cannot return null for non-nullable field {field.typename}.{field.name}."

        def complete_non_null(run: Run, path: Path, value: Any) -> Any:
            completed = inner(run, path, value)
            if completed is None:
                raise TypeError(message)
            return completed

        return complete_non_null

    if isinstance(type_, GraphQLList):
        return _list_completer(schema, compiling, field, type_)

    if is_leaf_type(type_):
        coerce = type_.coerce_output_value
        as_is = _SERIALIZED_AS_IS.get(coerce)

        def complete_leaf(_run: Run, _path: Path | None, value: Any) -> Any:
            if type(value) is as_is:
                return value
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                return None
            coerced = coerce(value)
            if coerced is Undefined or coerced is None:
                raise TypeError(
                    f"Expected `{inspect(type_)}.coerce_output_value({inspect(value)})`"
                    f" to return non-nullable value, returned: {inspect(coerced)}"
                )
            return coerced

        return complete_leaf

    if is_object_type(type_) and type_.is_type_of is None:
        selection_sets = [node.selection_set for node in field.nodes]
        if None in selection_sets:
            raise Unplannable("object without selection")
        sub_fields = _plan_selection(schema, type_, selection_sets, compiling)

        def complete_object(run: Run, path: Path, value: Any) -> Any:
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                return None
            return _execute_fields(run, sub_fields, value, path)

        return complete_object

    raise Unplannable(f"type {type_}")


def _list_completer(
    schema: GraphQLSchema, compiling: Compiling, field: FieldPlan, type_: GraphQLList
) -> Completer:
    item_type = type_.of_type
    complete_item = _completer(schema, compiling, field, item_type)
    item_non_null = is_non_null_type(item_type)
    message = f"Expected Iterable, but did not find one for field '{field.typename}.{field.name}'."

    def item_failed(run: Run, item_path: Path, error: Exception) -> None:
        _report(run, error, field.nodes, item_path, item_non_null)

    def complete_one(run: Run, item_path: Path, item: Any) -> Any:
        try:
            if is_awaitable(item):
                return complete_later(run, item_path, item)
            done = complete_item(run, item_path, item)
            if is_awaitable(done):
                return complete_later(run, item_path, done, completed=True)
            return done
        except Exception as error:
            return item_failed(run, item_path, error)

    async def complete_later(run: Run, item_path: Path, item: Any, completed: bool = False) -> Any:
        try:
            done = await item if completed else complete_item(run, item_path, await item)
            return await done if is_awaitable(done) else done
        except Exception as error:
            return item_failed(run, item_path, error)

    async def complete_async_iterable(run: Run, path: Path, value: Any) -> list[Any]:
        items = [item async for item in value]
        completed = complete_items(run, path, items)
        return await completed if is_awaitable(completed) else completed

    def complete_items(run: Run, path: Path, items: Iterable[Any]) -> Any:
        completed = []
        waiting = []
        remaining = iter(items)
        try:
            for index, item in enumerate(remaining):
                done = complete_one(run, _new_path((path, index, None)), item)
                if is_awaitable(done):
                    waiting.append(index)
                completed.append(done)
        except Exception:  # a null that propagates: what the items started, or hold, still settles
            _track([*(completed[index] for index in waiting), *_awaitables_left(remaining)])
            raise
        return _await_values(completed, waiting) if waiting else completed

    def complete_list(run: Run, path: Path, value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        if hasattr(value, "__aiter__"):
            return complete_async_iterable(run, path, value)
        if not is_iterable(value):
            raise GraphQLError(message)
        return complete_items(run, path, value)

    return complete_list


def _plan_selection(
    schema: GraphQLSchema,
    parent_type: GraphQLObjectType,
    selection_sets: list[SelectionSetNode],
    compiling: Compiling,
) -> list[FieldPlan]:
    """The fields of one object type's selection sets (a field's, merged over its nodes), planned."""
    grouped = _collect(schema, parent_type, selection_sets, compiling, set())
    return [FieldPlan(schema, parent_type, nodes, compiling) for nodes in grouped.values()]


def _collect(
    schema: GraphQLSchema,
    parent_type: GraphQLObjectType,
    selection_sets: list[SelectionSetNode],
    compiling: Compiling,
    visited: set[str],
) -> dict[str, list[FieldNode]]:
    """graphql-core's `collect_fields` / `collect_subfields`: each response key's field nodes, in order.

    The parent type is always an object type, and conditions are literals, so
    what graphql-core decides on every request is decided here once. Like
    graphql-core, a fragment is spread once per collection (`visited`), and
    only once it is known to apply.
    """
    grouped: dict[str, list[FieldNode]] = {}
    for selection_set in selection_sets:
        for selection in selection_set.selections:
            if not _included(selection, compiling.conditions):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
                continue
            inline = isinstance(selection, InlineFragmentNode)
            fragment = selection if inline else compiling.fragments.get(selection.name.value)
            if fragment is None or not does_fragment_condition_match(schema, fragment, parent_type):
                continue
            if not inline:
                if fragment.directives or fragment.variable_definitions:
                    raise Unplannable("fragment definition's directives or variables")
                if fragment.name.value in visited:
                    continue
                visited.add(fragment.name.value)
            inner = _collect(schema, parent_type, [fragment.selection_set], compiling, visited)
            for key, nodes in inner.items():
                grouped.setdefault(key, []).extend(nodes)
    return grouped


_CONDITIONS = {"skip": GraphQLSkipDirective, "include": GraphQLIncludeDirective}


def _included(selection: SelectionNode, conditions: Mapping[str, bool]) -> bool:
    """graphql-core's `should_include_node`, for @skip/@include whose condition is a literal or one
    of the variables in `conditions`; other directives are not planned."""
    included = True
    for directive in selection.directives or ():
        definition = _CONDITIONS.get(directive.name.value)
        if definition is None:
            raise Unplannable("directive")
        variables = [
            argument.value for argument in directive.arguments or () if _uses_variables(argument.value)
        ]
        if variables:
            if not isinstance(variables[0], VariableNode) or variables[0].name.value not in conditions:
                raise Unplannable("directive")
            condition = conditions[variables[0].name.value]
        else:
            try:
                condition = get_argument_values(definition, directive, _NO_VARIABLES)["if"]
            except GraphQLError as error:
                raise Unplannable("directive") from error
        skipped = condition if definition is GraphQLSkipDirective else not condition
        included = included and not skipped
    return included


def walk_selections(operation: OperationDefinitionNode, fragments: Fragments) -> Iterator[SelectionNode]:
    """Every selection of an operation and of the document's fragments, at any depth."""
    selection_sets = [operation.selection_set, *(fragment.selection_set for fragment in fragments.values())]
    while selection_sets:
        for selection in selection_sets.pop().selections:
            yield selection
            if getattr(selection, "selection_set", None) is not None:
                selection_sets.append(selection.selection_set)


def _condition_variables(operation: OperationDefinitionNode, fragments: Fragments) -> tuple[str, ...]:
    """The variables that decide an @skip/@include in the operation or its fragments, sorted."""
    return tuple(
        sorted(
            {
                argument.value.name.value
                for selection in walk_selections(operation, fragments)
                for directive in selection.directives or ()
                if directive.name.value in _CONDITIONS
                for argument in directive.arguments or ()
                if isinstance(argument.value, VariableNode)
            }
        )
    )


def _execute_fields(run: Run, fields: list[FieldPlan], source: Any, path: Path | None) -> Any:
    """An object's completed fields, or an awaitable of them when a resolver was asynchronous.

    Every field's resolver is called before any is awaited, as graphql-core does. A
    field read from the source whose value is null where allowed, or a leaf whose value
    its scalar passes unchanged (most of them), is answered here, without the field's
    general path.
    """
    data: dict[str, Any] = {}
    waiting = []
    mapping = None
    try:
        for field in fields:
            as_is = field.read_as_is
            if as_is is not None:
                if mapping is None:
                    mapping = _is_mapping(source)
                try:
                    value = source.get(field.attribute) if mapping else getattr(source, field.attribute, None)
                except Exception as error:
                    value = field.failed(run, path, error)
                else:
                    if type(value) is not as_is and (value is not None or field.non_null):
                        value = field.read(run, path, value)
            else:
                value = field.run(run, source, path)
            if is_awaitable(value):
                waiting.append(field.key)
            data[field.key] = value
    except BaseException:  # a null that propagates: the object is gone; what it started still settles
        _track([data[key] for key in waiting])
        raise
    return _await_values(data, waiting) if waiting else data


async def _await_values(values: Any, waiting: list[Any]) -> Any:
    """`values` (a dict or a list) with the awaitables at `waiting` replaced by their results.

    As graphql-core does: one is awaited in place; several run concurrently (resolvers waiting
    on I/O wait together), and the first failure (a null that propagates) cancels the others.
    """
    if len(waiting) == 1:
        index = waiting[0]
        values[index] = await values[index]
        return values
    results = await gather_with_cancel(*(values[index] for index in waiting))
    for index, result in zip(waiting, results, strict=True):
        values[index] = result
    return values


class Plan:
    """One operation of a document, compiled against a schema; run once per request or event.

    Where variables decide an @skip/@include, the plan holds one variant for each combination of
    their values (`variants`), compiled as if they were literals, and a request runs on the one its
    variables choose.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Fragments,
        conditions: Mapping[str, bool] | None = None,
    ) -> None:
        """`conditions`: the values of the variables deciding @skip/@include, for a variant."""
        if operation.directives:
            raise Unplannable("operation directive")
        root_type = schema.get_root_type(operation.operation)
        if root_type is None:
            raise Unplannable("no root type")
        self.schema = schema
        self.operation = operation
        self.fragments = fragments  # what resolvers see as `info.fragments`
        self.serially = operation.operation is OperationType.MUTATION
        self.variables = _plan_variables(schema, operation)
        self.condition_names = _condition_variables(operation, fragments) if conditions is None else ()
        self.variants: dict[tuple[bool, ...], Plan] | None = None
        self.fields: list[FieldPlan] = []
        if self.condition_names:
            if len(self.condition_names) > MAX_CONDITION_VARIABLES:
                raise Unplannable("too many condition variables")
            self.variants = {
                values: Plan(
                    schema, operation, fragments, dict(zip(self.condition_names, values, strict=True))
                )
                for values in product((False, True), repeat=len(self.condition_names))
            }
        else:
            compiling = Compiling(fragments, conditions or {})
            self.fields = _plan_selection(schema, root_type, [operation.selection_set], compiling)
        self.single_field = self.fields[0] if len(self.fields) == 1 and not self.serially else None

    def run(self, context: Any, raw_variables: dict[str, Any] | None) -> Any:
        """A request's result (or an awaitable of it); None when its variables do not coerce (or
        leave a condition null)."""
        variables = self.coerce(raw_variables or {})
        if variables is None:
            return None
        plan = self if self.variants is None else self.chosen(variables)  # no call on the usual path
        return None if plan is None else plan.execute(context, variables)

    def chosen(self, variables: VariableValues) -> Plan | None:
        """The plan (this one, or the variant its conditions' values choose) that runs with these
        variables; None when a condition is null (graphql-core words the error)."""
        if self.variants is None:
            return self
        coerced = variables.coerced
        return self.variants.get(tuple(coerced.get(name) for name in self.condition_names))

    def coerce(self, raw: dict[str, Any]) -> VariableValues | None:
        """graphql-core's `get_variable_values`, or its answer without the walk when it is plain.

        Plain: every variable a String, ID or Boolean without a default, given a
        value of exactly the type its coercion returns unchanged (or null, or left
        out, where the type allows). None when they do not coerce.
        """
        if self.variables is not None:
            sources, coerced = {}, {}
            for name, signature, non_null, accepted in self.variables:
                value = raw.get(name, Undefined)
                if value is Undefined:
                    if non_null:
                        break
                    sources[name] = VariableValueSource(signature)
                    continue
                if (value is None and non_null) or (value is not None and type(value) is not accepted):
                    break
                sources[name] = _new_source((signature, value))
                coerced[name] = value
            else:
                return _new_values((sources, coerced)) if sources else _NO_VARIABLES
        variables = get_variable_values(
            self.schema, self.operation.variable_definitions or (), raw, max_errors=50
        )
        return None if isinstance(variables, list) else variables

    def execute(self, context: Any, variables: VariableValues, root_value: Any = None) -> Any:
        """The result (or an awaitable of it) for coerced variables: a request's, or an event's.

        A plan with variants has no fields of its own: run the one `chosen(variables)` returns.
        """
        run = Run(self, context, variables, root_value)
        if self.serially:
            return self._execute_serially(run, root_value)
        if self.single_field is not None:  # most operations: one coroutine fewer when it waits
            return self._execute_single_field(run, root_value)
        try:
            data = _execute_fields(run, self.fields, root_value, None)
        except GraphQLError as error:
            return _without_data(run, error)
        if is_awaitable(data):
            return self._finish(run, data)
        return ExecutionResult(data, run.errors or None)

    def _execute_single_field(self, run: Run, root_value: Any) -> Any:
        """`_execute_fields` for an operation of one root field, awaiting it within `_finish`."""
        field = self.single_field
        try:
            value = field.run(run, root_value, None)
        except GraphQLError as error:
            return _without_data(run, error)
        if is_awaitable(value):
            return self._finish(run, value, field.key)
        return ExecutionResult({field.key: value}, run.errors or None)

    async def _finish(self, run: Run, data: Awaitable[Any], key: str | None = None) -> ExecutionResult:
        """The result once `data` (the root fields, or the one root field at `key`) is there."""
        try:
            value = await data
        except GraphQLError as error:
            return _without_data(run, error)
        return ExecutionResult(value if key is None else {key: value}, run.errors or None)

    async def _execute_serially(self, run: Run, root_value: Any) -> ExecutionResult:
        """A mutation: each root field resolved and completed before the next one starts."""
        data: dict[str, Any] = {}
        try:
            for field in self.fields:
                value = field.run(run, root_value, None)
                data[field.key] = await value if is_awaitable(value) else value
        except GraphQLError as error:
            return _without_data(run, error)
        return ExecutionResult(data, run.errors or None)


def _without_data(run: Run, error: GraphQLError) -> ExecutionResult:
    """The response when a non-null root field's error reaches the root: no data at all."""
    run.add_error(error, None)
    return ExecutionResult(None, run.errors)


# Built-in scalars whose input coercion returns a value of exactly this type unchanged.
_AS_IS = {coerce_string: str, coerce_id: str, coerce_boolean: bool}


def _plan_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> list[tuple[str, GraphQLVariableSignature, bool, type]] | None:
    """Each variable's signature, whether it is non-null and the type taken as is; None unless all plain."""
    variables = []
    for node in operation.variable_definitions or ():
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError) or node.default_value:
            return None
        non_null = is_non_null_type(signature.type)
        named = signature.type.of_type if non_null else signature.type
        accepted = _AS_IS.get(named.coerce_input_value) if is_scalar_type(named) else None
        if accepted is None:
            return None
        variables.append((signature.name, signature, non_null, accepted))
    return variables


def compile_plan(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Plan | None:
    """The plan of a validated query or mutation, or None where graphql-core must run it."""
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    fragments = {
        node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)
    }
    if len(operations) + len(fragments) != len(document.definitions):
        return None  # not an executable document (or a fragment name twice): graphql-core words it
    if operation_name is None:
        chosen = operations if len(operations) == 1 else []
    else:
        chosen = [node for node in operations if node.name and node.name.value == operation_name]
    if len(chosen) != 1 or chosen[0].operation is OperationType.SUBSCRIPTION:
        return None  # graphql-core words the error
    return _compiled(schema, chosen[0], fragments)


def compile_event_plan(
    schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Fragments
) -> Plan | None:
    """The plan that runs a subscription's selection for each of its events, or None."""
    if operation.operation is not OperationType.SUBSCRIPTION:
        return None
    return _compiled(schema, operation, fragments)


def _compiled(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Fragments) -> Plan | None:
    try:
        return Plan(schema, operation, fragments)
    except (Unplannable, RecursionError):
        return None
    except Exception:  # a bug here must not fail the request: graphql-core runs it
        logger.exception("Could not plan an operation; graphql-core runs it")
        return None
