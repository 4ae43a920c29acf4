"""A plan answers every operation exactly as graphql-core's executor does, and serves what clients send.

Each operation runs twice on a schema built to reach every case a plan
handles (resolvers that fail, nulls where the type forbids them, values a
scalar rejects, lists of every kind, asynchronous resolvers and list items,
arguments from literals, variables and defaults, aliases, `__typename`,
mutations in order), once through graphql-core and once through its plan,
and the two results must be equal: data, and errors with their messages,
locations and paths. The app's own operations are compared over HTTP in
tests/test_http_fast_path.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from inspect import isawaitable
from typing import Any

import pytest
from ariadne import EnumType, MutationType, ObjectType, QueryType, SubscriptionType, make_executable_schema
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    Executor,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    execute,
    get_named_type,
    parse,
    print_ast,
    validate,
)
from graphql.execution.values import get_variable_values
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from app import schema as app_schema
from plans import compile_event_plan, compile_plan
from tests import operations

SDL = """
directive @tag(name: String) on QUERY | FIELD | FRAGMENT_DEFINITION | FRAGMENT_SPREAD | INLINE_FRAGMENT
enum Color { RED GREEN }
input Filter { name: String, tags: [String!], limit: Int = 3 }
interface Named { name: String }
union Anything = Item | Person
type Person implements Named { name: String nick: String badge: String! }
type Item implements Named {
  id: ID!
  name: String
  color: Color
  tags: [String!]
  looseTags: [String]
  strictName: String!
  brokenName: String!
  maybe: Item
  deep: Item!
  price: Float
  count: Int
  lazy(times: Int = 2): String
  displayName: String
  parentName: String
  whoAsks: String
  exploding: String
  explodingStrict: String!
  explodingLater: String
}
type Query {
  item(id: ID!): Item
  items(filter: Filter, first: Int): [Item]
  strictItems: [Item!]!
  asyncItem(id: ID!): Item
  asyncItems: [Item]
  awaitableItems: [Item!]
  streamed: [String]
  echo(text: String, number: Int, flag: Boolean, color: Color, list: [Int], filter: Filter,
       float: Float, camelArg: String, required: String!): String
  failing: String
  failingNonNull: String!
  asyncFailing: String
  badInt: Int
  notAList: [String]
  nested: Item!
  exceptionValue: String
  gathered: [String]
  person: Person
  named: Named
}
type Subscription {
  event(label: String): Item
  deleted: ID!
}
type Mutation {
  record(label: String!): [String]
  asyncRecord(label: String!): String
  failRecord(label: String!): String!
}
"""


class Thing:
    """An object source (the default resolver reads attributes; a callable one is called)."""

    def __init__(self, id_: str, name: str | None, tags: list[Any] | None = None) -> None:
        self.id = id_
        self.name = name
        self.tags = tags
        self.loose_tags = tags
        self.display_name = f"The {name}"
        self.color = "RED"
        self.price = 2.5
        self.count = "7"
        self.strict_name = name

    @property
    def exploding(self) -> str:
        raise ValueError(f"reading {self.name} failed")

    @property
    def exploding_strict(self) -> str:
        raise ValueError("strict reading failed")

    async def exploding_later(self, info: GraphQLResolveInfo) -> str:
        calls.append(f"exploding later {self.name}")
        raise ValueError(f"reading {self.name} failed later")

    def lazy(self, info: GraphQLResolveInfo, times: int) -> str:
        return f"{self.name}x{times} at {info.path.as_list()}"


def thing(id_: str) -> Any:
    """Every other item is a dict, so both ways of reading a source are exercised."""
    if id_ == "missing":
        return None
    if int(id_) % 2:
        return Thing(id_, f"thing {id_}", ["a", "b"] if id_ != "3" else ["a", None, "c"])
    return {"id": id_, "name": None, "tags": ["x"], "looseTags": [None], "color": "GREEN", "count": 3.5}


query, mutation, item, subscription = QueryType(), MutationType(), ObjectType("Item"), SubscriptionType()
calls: list[str] = []


@query.field("item")
def resolve_item(_: Any, __: Any, id: str) -> Any:
    return thing(id)


@query.field("items")
def resolve_items(_: Any, __: Any, filter: dict | None = None, first: int | None = None) -> list:
    return [thing(str(n)) for n in range(1, min(first or 4, 6) + 1)] + [None]  # generated `first`s are huge


@query.field("strictItems")
def resolve_strict_items(*_: Any) -> list:
    return [thing("1"), None, thing("3")]


@query.field("asyncItem")
async def resolve_async_item(_: Any, __: Any, id: str) -> Any:
    await asyncio.sleep(0)
    return thing(id)


@query.field("asyncItems")
async def resolve_async_items(*_: Any) -> list:
    return [thing("1"), thing("2")]


@query.field("awaitableItems")
def resolve_awaitable_items(*_: Any) -> list:
    async def later(id_: str) -> Any:
        await asyncio.sleep(0)
        if id_ == "boom":
            raise ValueError("item failed")
        return thing(id_)

    return [later("1"), later("2"), later("missing")]


@query.field("streamed")
def resolve_streamed(*_: Any) -> Any:
    async def words():
        for word in ("one", "two"):
            yield word

    return words()


@query.field("echo")
def resolve_echo(_: Any, info: GraphQLResolveInfo, **args: Any) -> str:
    return f"{info.field_name} {info.path.as_list()} {sorted(args.items(), key=str)}"


@query.field("failing")
def resolve_failing(*_: Any) -> str:
    raise RuntimeError("this field failed")


@query.field("failingNonNull")
def resolve_failing_non_null(*_: Any) -> None:
    return None


@query.field("asyncFailing")
async def resolve_async_failing(*_: Any) -> str:
    raise KeyError("async failure")


@query.field("badInt")
def resolve_bad_int(*_: Any) -> str:
    return "not a number"


@query.field("notAList")
def resolve_not_a_list(*_: Any) -> int:
    return 5


@query.field("nested")
def resolve_nested(*_: Any) -> Any:
    return thing("1")


@query.field("gathered")
async def resolve_gathered(_: Any, info: GraphQLResolveInfo) -> list:
    async def word(text: str) -> str:
        await asyncio.sleep(0)
        return text

    return await info.async_helpers.gather([word("one"), word("two")])


@query.field("exceptionValue")
def resolve_exception_value(*_: Any) -> Exception:
    return ValueError("returned, not raised")


@query.field("person")
def resolve_person(*_: Any) -> dict:
    return {"name": "pat", "nick": "p", "badge": None}


@item.field("brokenName")
def resolve_broken_name(*_: Any) -> None:
    return None


@item.field("maybe")
def resolve_maybe(source: Any, *_: Any) -> Any:
    return thing("2") if isinstance(source, Thing) else None


@item.field("deep")
def resolve_deep(source: Any, *_: Any) -> Any:
    return thing("1") if isinstance(source, dict) else {"id": None}


@item.field("parentName")
def resolve_parent_name(source: Any, info: GraphQLResolveInfo) -> str:
    return f"{info.parent_type.name}.{info.field_name} {info.return_type} {len(info.field_nodes)}"


@item.field("whoAsks")
def resolve_who_asks(_: Any, info: GraphQLResolveInfo) -> str:
    return (
        f"{info.context['viewer']} {info.operation.operation.value} {info.variable_values.coerced}"
        f" fragments {sorted(info.fragments)}"
    )


@mutation.field("record")
def resolve_record(_: Any, __: Any, label: str) -> list[str]:
    calls.append(label)
    return list(calls)


@mutation.field("asyncRecord")
async def resolve_async_record(_: Any, __: Any, label: str) -> str:
    await asyncio.sleep(0)
    calls.append(label)
    return ",".join(calls)


@mutation.field("failRecord")
def resolve_fail_record(_: Any, __: Any, label: str) -> None:
    calls.append(label)
    return None


@subscription.field("event")
def resolve_event(event: Any, _: Any, label: str | None = None) -> Any:
    return event if label is None else {"id": label, "name": f"{label} of {event}"}


@subscription.field("deleted")
def resolve_deleted(event: Any, *_: Any) -> Any:
    return event if isinstance(event, str) else None


schema = make_executable_schema(
    SDL,
    query,
    mutation,
    item,
    subscription,
    EnumType("Color", {"RED": "RED", "GREEN": "GREEN"}),
    convert_names_case=True,
)

ITEM_FIELDS = "id name color tags looseTags price count displayName lazy parentName whoAsks"

CONDITIONAL_FIELD = 'query ($x: Boolean!) { item(id: "1") { id name @include(if: $x) tags @skip(if: $x) } }'
CONDITIONAL_SPREADS = (
    'query ($x: Boolean!, $y: Boolean = true) { item(id: "1") { ...A @include(if: $x)'
    " ... @skip(if: $y) { tags } ... on Item @include(if: $y) @skip(if: $x) { color }"
    " name @skip(if: false) @include(if: $y) } }"
    " fragment A on Item { id name }"
)
CONDITIONAL_IN_FRAGMENT = (
    'query ($x: Boolean!) { item(id: "1") { ...F } failing @include(if: $x) }'
    " fragment F on Item { id @skip(if: $x) name }"
)

# (name, operation, variables, operation name): each must get a plan and answer as graphql-core does.
CASES: list[tuple[str, str, dict[str, Any] | None, str | None]] = [
    ("scalars of an object source", f'{{ item(id: "1") {{ {ITEM_FIELDS} }} }}', None, None),
    ("scalars of a dict source", f'{{ item(id: "2") {{ {ITEM_FIELDS} }} }}', None, None),
    (
        "an attribute that raises",
        '{ item(id: "1") { id exploding name } items { id exploding } }',
        None,
        None,
    ),
    ("a non-null attribute that raises", '{ item(id: "1") { id explodingStrict } }', None, None),
    ("missing object", '{ item(id: "missing") { id } }', None, None),
    (
        "aliases and __typename",
        '{ a: item(id: "1") { __typename x: id y: name } b: echo(required: "r") }',
        None,
        None,
    ),
    ("float coerced to Int fails", '{ item(id: "2") { count } }', None, None),
    ("argument default and override", '{ item(id: "1") { lazy a: lazy(times: 5) } }', None, None),
    ("null in a list of non-null", '{ item(id: "3") { tags looseTags } }', None, None),
    ("null item in a nullable list", '{ item(id: "2") { looseTags } }', None, None),
    ("non-null field null: propagates to the parent", '{ item(id: "1") { id brokenName name } }', None, None),
    ("non-null object null: propagates two levels", '{ item(id: "1") { deep { deep { id } } } }', None, None),
    ("non-null root field null: no data at all", '{ echo(required: "r") failingNonNull }', None, None),
    ("nested nullable objects", '{ item(id: "1") { maybe { id maybe { id } deep { name } } } }', None, None),
    ("list with a null and objects", "{ items { id name } }", None, None),
    ("list of non-null objects with a null", "{ strictItems { id } }", None, None),
    (
        "an async field, then a null that propagates to the root",
        '{ asyncItem(id: "1") { id } failingNonNull }',
        None,
        None,
    ),
    ("resolver raises", '{ failing echo(required: "after") }', None, None),
    # One root field (most operations) is executed on its own path.
    ("one non-null root field null", "{ failingNonNull }", None, None),
    ("one async root field", '{ asyncItem(id: "1") { id name } }', None, None),
    ("one async root field that raises", "{ asyncFailing }", None, None),
    ("one root field, a non-null object whose field is null", "{ nested { id brokenName } }", None, None),
    ("async resolver raises", "{ asyncFailing failing }", None, None),
    # An async field still running when a null wipes out what it belongs to: its error is dropped.
    ("an async field fails after the root was nulled", "{ asyncFailing failingNonNull }", None, None),
    (
        "an async field fails after its object was nulled",
        '{ item(id: "1") { explodingLater brokenName } asyncItem(id: "1") { id } }',
        None,
        None,
    ),
    ("scalar rejects the value", "{ badInt }", None, None),
    ("not a list", "{ notAList }", None, None),
    ("resolver returns an exception", "{ exceptionValue }", None, None),
    ("async resolvers", '{ asyncItem(id: "1") { id name maybe { id } } asyncItems { id } }', None, None),
    ("awaitable list items", "{ awaitableItems { id name } }", None, None),
    ("async iterable as a list", "{ streamed }", None, None),
    ("the resolve info's async helpers", "{ gathered }", None, None),
    ("non-null root object", "{ nested { id strictName deep { id } } }", None, None),
    (
        "literal arguments of every kind",
        '{ echo(text: "t", number: 3, flag: true, color: GREEN, list: [1, 2], float: 1,'
        ' filter: {name: "n", tags: ["a"]}, camelArg: "c", required: "r") }',
        None,
        None,
    ),
    (
        "variables as whole arguments",
        "query Q($t: String, $n: Int, $f: Boolean, $c: Color, $l: [Int], $fl: Filter, $r: String!) {"
        " echo(text: $t, number: $n, flag: $f, color: $c, list: $l, filter: $fl, required: $r) }",
        {"t": "x", "n": 4, "f": False, "c": "RED", "l": [5], "fl": {"name": "n"}, "r": "r"},
        None,
    ),
    (
        "variables left out and null",
        "query ($t: String, $n: Int, $r: String!) { echo(text: $t, number: $n, required: $r) }",
        {"n": None, "r": "r"},
        None,
    ),
    (
        "a variable with a default",
        'query ($t: String = "fallback", $r: String!) { echo(text: $t, required: $r) }',
        {"r": "r"},
        None,
    ),
    (
        "a variable inside a list and an object",
        'query ($n: Int, $name: String) { echo(list: [$n, 2], filter: {name: $name}, required: "r") }',
        {"n": 1, "name": "inner"},
        None,
    ),
    (
        "a variable for an argument with a default",
        'query ($t: Int) { item(id: "1") { lazy(times: $t) } }',
        {},
        None,
    ),
    (
        "a variable given for that argument",
        'query ($t: Int) { item(id: "1") { lazy(times: $t) } }',
        {"t": 7},
        None,
    ),
    (
        "resolve info",
        'query Who($x: Int) { item(id: "1") { whoAsks parentName lazy(times: $x) } }',
        {"x": 1},
        None,
    ),
    (
        "named operation among several",
        'query One { failing } query Two { item(id: "1") { id } }',
        None,
        "Two",
    ),
    (
        "mutations run in order",
        'mutation { a: record(label: "a") b: asyncRecord(label: "b") c: record(label: "c") }',
        None,
        None,
    ),
    (
        "a failing non-null mutation stops the ones after it",
        'mutation { a: record(label: "a") failRecord(label: "f") c: record(label: "c") }',
        None,
        None,
    ),
    # Fragments, repeated response keys and literal @skip/@include: collected once, as graphql-core
    # collects them on every request.
    (
        "a named fragment",
        '{ item(id: "1") { ...Parts } } fragment Parts on Item { id name tags whoAsks }',
        None,
        None,
    ),
    (
        "nested fragments, in document order",
        '{ ...Root failing } fragment Root on Query { item(id: "2") { ...Outer } }'
        " fragment Outer on Item { id ...Inner color } fragment Inner on Item { name maybe { id } }",
        None,
        None,
    ),
    (
        "the same fragment spread twice, collected once",
        '{ item(id: "1") { ...Who x: id ...Who } } fragment Who on Item { parentName name }',
        None,
        None,
    ),
    (
        "inline fragments without and with a matching type condition",
        '{ item(id: "1") { ... { id } ... on Item { name } } }',
        None,
        None,
    ),
    (
        "type conditions on an interface and a union the type belongs to",
        '{ item(id: "3") { ... on Named { name } ...Any } person { ...Any ... on Named { name } } }'
        " fragment Any on Anything { __typename ... on Item { id } }",
        None,
        None,
    ),
    (
        "a condition on another object type inside an interface's fragment",
        '{ item(id: "1") { ...Named } person { ...Named } }'
        " fragment Named on Named { name ... on Person { nick } ... on Item { id } }",
        None,
        None,
    ),
    (
        "a repeated leaf key",
        '{ item(id: "1") { id name id parentName parentName } echo(required: "r") echo(required: "r") }',
        None,
        None,
    ),
    (
        "a repeated object key, its selections merged (one from a fragment)",
        '{ item(id: "2") { deep { id } ...More deep { name maybe { parentName } } } item(id: "2") { name } }'
        " fragment More on Item { deep { tags maybe { id parentName } } }",
        None,
        None,
    ),
    (
        "a merged non-null field that fails, located at every node",
        '{ item(id: "1") { brokenName ...Broken } } fragment Broken on Item { id brokenName }',
        None,
        None,
    ),
    (
        "errors inside fragments, in lists",
        "{ items { ...Strict } asyncItems { ... on Item { exploding } } }"
        " fragment Strict on Item { id explodingStrict }",
        None,
        None,
    ),
    (
        "an error in a fragment whose null reaches the root",
        "{ strictItems { ...Strict } } fragment Strict on Item { id explodingStrict }",
        None,
        None,
    ),
    (
        "a non-null field failing in a fragment on a nullable object",
        "{ person { ... on Person { name badge } } }",
        None,
        None,
    ),
    (
        "literal @skip and @include on fields",
        '{ item(id: "1") { id @skip(if: true) name @skip(if: false) tags @include(if: false)'
        " color @include(if: true) price @skip(if: false) @include(if: false) count @skip(if: true)"
        " @include(if: true) } }",
        None,
        None,
    ),
    (
        "literal @skip and @include on spreads and inline fragments",
        '{ item(id: "1") { ...A @skip(if: true) ...B @include(if: true) ... @include(if: false) { tags }'
        " ... on Item @skip(if: false) { color } ...A } }"
        " fragment A on Item { id } fragment B on Item { name }",
        None,
        None,
    ),
    (
        "a skipped repeat of a key keeps the other",
        '{ item(id: "1") { name @skip(if: true) id name } failing @include(if: false) }',
        None,
        None,
    ),
    ("every field skipped", '{ item(id: "1") { id @skip(if: true) } failing @skip(if: true) }', None, None),
    (
        "aliases mixed with fragments",
        '{ first: item(id: "1") { ...Named } second: item(id: "2") { ...Named n: name } }'
        " fragment Named on Item { n: name name: id }",
        None,
        None,
    ),
    (
        "variables in fragments",
        'query ($t: Int, $r: String!) { ...Q } fragment Q on Query { item(id: "1") { lazy(times: $t) }'
        " echo(required: $r) }",
        {"t": 4, "r": "r"},
        None,
    ),
    *((f"a variable condition on a field ({x})", CONDITIONAL_FIELD, {"x": x}, None) for x in (True, False)),
    *(
        (
            f"variable conditions on spreads and inline fragments ({x}, {y})",
            CONDITIONAL_SPREADS,
            {"x": x, "y": y},
            None,
        )
        for x in (True, False)
        for y in (True, False)
    ),
    *(
        (f"a variable condition in a fragment definition ({x})", CONDITIONAL_IN_FRAGMENT, {"x": x}, None)
        for x in (True, False)
    ),
    (
        "mutations from a fragment, a repeated key resolved once",
        'mutation { record(label: "a") ...M }'
        ' fragment M on Mutation { record(label: "a") b: record(label: "b") }',
        None,
        None,
    ),
]


def settle(start: Any) -> Any:
    """What `start()` gives, awaited, run in an event loop as the server runs it (and whatever it
    leaves to settle in the background given time to)."""

    async def wait() -> Any:
        value = start()
        value = await value if isawaitable(value) else value
        for _ in range(5):
            await asyncio.sleep(0)
        return value

    return asyncio.run(wait())


def both_ways(text: str, variables: dict | None, operation_name: str | None) -> tuple[dict, dict, list, list]:
    document = parse(text)
    assert validate(schema, document) == []
    context = {"viewer": "ann"}
    calls.clear()
    expected = settle(
        lambda: execute(
            schema, document, context_value=context, variable_values=variables, operation_name=operation_name
        )
    )
    expected_calls = list(calls)
    plan = compile_plan(schema, document, operation_name)
    assert plan is not None, "this operation should get a plan"
    calls.clear()
    actual = settle(lambda: plan.run(context, variables))
    return actual.formatted, expected.formatted, list(calls), expected_calls


@pytest.mark.parametrize(
    ("text", "variables", "operation_name"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_a_plan_answers_as_graphql_core_does(text, variables, operation_name):
    actual, expected, actual_calls, expected_calls = both_ways(text, variables, operation_name)
    assert actual == expected
    assert repr(actual) == repr(expected)  # keys in the same order too
    assert actual_calls == expected_calls


@st.composite
def reshaped(draw: st.DrawFn, operations: Any) -> tuple[str, dict[str, bool]]:
    """A generated operation reshaped as clients write them: fields aliased (keys may repeat, to be
    merged) and repeated, selections moved into inline and named fragments, and @skip/@include
    with literal or variable conditions; with values for those variables."""
    document = parse(draw(operations(SDL)))
    fragments: list[FragmentDefinitionNode] = []
    conditions: dict[str, bool] = {}
    often, sometimes = st.integers(0, 3).map(lambda n: n == 0), st.integers(0, 6).map(lambda n: n == 0)

    def name(value: str) -> NameNode:
        return NameNode(value=value)

    def condition(node: Any) -> Any:
        if not draw(sometimes):
            return node
        if draw(st.booleans()):
            value: Any = BooleanValueNode(value=draw(st.booleans()))
        else:
            variable = draw(st.sampled_from(["x", "y"]))
            conditions[variable] = draw(st.booleans())
            value = VariableNode(name=name(variable))
        directive = DirectiveNode(
            name=name(draw(st.sampled_from(["skip", "include"]))),
            arguments=(ArgumentNode(name=name("if"), value=value),),
        )
        return replace(node, directives=(directive,))

    def reshape(selection_set: SelectionSetNode, parent: Any) -> SelectionSetNode:
        selections: list[Any] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                child = None
                if selection.selection_set is not None:
                    child = get_named_type(parent.fields[selection.name.value].type)
                selection = FieldNode(
                    name=selection.name,
                    alias=name(draw(st.sampled_from(["a", "b", "id", "name"]))) if draw(sometimes) else None,
                    arguments=selection.arguments,
                    directives=(),
                    selection_set=reshape(selection.selection_set, child) if child else None,
                )
            else:  # an inline fragment on a member of an abstract type
                inner = schema.get_type(selection.type_condition.name.value)
                selection = InlineFragmentNode(
                    type_condition=selection.type_condition,
                    directives=(),
                    selection_set=reshape(selection.selection_set, inner),
                )
            if draw(sometimes):
                selection = InlineFragmentNode(
                    type_condition=NamedTypeNode(name=name(parent.name)) if draw(st.booleans()) else None,
                    directives=(),
                    selection_set=SelectionSetNode(selections=(selection,)),
                )
            elif draw(sometimes):
                fragment = f"F{len(fragments)}"
                fragments.append(
                    FragmentDefinitionNode(
                        name=name(fragment),
                        type_condition=NamedTypeNode(name=name(parent.name)),
                        directives=(),
                        selection_set=SelectionSetNode(selections=(selection,)),
                    )
                )
                selection = FragmentSpreadNode(name=name(fragment), directives=())
            selections.append(condition(selection))
            if draw(often):
                selections.append(selection)  # the same key again
        return SelectionSetNode(selections=tuple(selections))

    operation = document.definitions[0]
    root = schema.get_root_type(operation.operation)
    selection_set = reshape(operation.selection_set, root)
    variables = tuple(
        VariableDefinitionNode(
            variable=VariableNode(name=name(variable)),
            type=NonNullTypeNode(type=NamedTypeNode(name=name("Boolean"))),
            directives=(),
        )
        for variable in sorted(conditions)
    )
    operation = OperationDefinitionNode(
        operation=operation.operation,
        variable_definitions=variables,
        directives=(),
        selection_set=selection_set,
    )
    text = print_ast(DocumentNode(definitions=(operation, *fragments)))
    assume(validate(schema, parse(text)) == [])  # aliases may collide where fields cannot merge
    return text, conditions


GENERATED = {
    "queries": queries(SDL).map(lambda text: (text, None)),
    "mutations": mutations(SDL).map(lambda text: (text, None)),
    "reshaped queries": reshaped(queries),
    "reshaped mutations": reshaped(mutations),
}


@pytest.mark.parametrize("kind", list(GENERATED))
def test_generated_operations_answer_as_graphql_core_does(kind):
    """Operations generated from the schema (random selections, arguments, nulls, ids that fail to
    parse), as they come and reshaped as clients write them (aliases, repeated keys, fragments,
    conditions): each one with a plan answers as graphql-core does; most get one."""
    planned = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=GENERATED[kind])
    def check(case: tuple[str, dict[str, bool] | None]) -> None:
        text, variables = case
        if compile_plan(schema, parse(text), None) is None:
            return  # abstract types, which graphql-core runs (tested above)
        actual, expected, actual_calls, expected_calls = both_ways(text, variables, None)
        assert repr(actual) == repr(expected)  # data and errors, keys in the same order
        assert actual_calls == expected_calls
        planned.append(text)

    check()
    assert len(planned) >= 100


def test_the_cases_reach_errors_nulls_and_every_kind_of_value():
    """The comparison is only worth as much as the cases it covers."""
    results = {name: both_ways(*case)[0] for name, *case in CASES}
    with_errors = [name for name, result in results.items() if result.get("errors")]
    assert len(with_errors) >= 10
    assert results["non-null root field null: no data at all"]["data"] is None
    assert results["non-null field null: propagates to the parent"]["data"] == {"item": None}
    assert results["mutations run in order"]["data"]["c"] == ["a", "b", "c"]
    assert results["awaitable list items"]["data"]["awaitableItems"] is None  # a non-null item was null
    assert results["async iterable as a list"]["data"] == {"streamed": ["one", "two"]}
    assert "[('number', None), ('required', 'r')]" in results["variables left out and null"]["data"]["echo"]
    paths = {tuple(error["path"]) for result in results.values() for error in result.get("errors", [])}
    assert ("item", "tags", 1) in paths
    assert ("strictItems", 1) in paths


def test_variables_that_do_not_coerce_are_left_to_graphql_core():
    document = parse('query ($n: Int!) { echo(number: $n, required: "r") }')
    plan = compile_plan(schema, document, None)
    assert plan.run({}, {"n": "three"}) is None
    assert plan.run({}, {}) is None
    assert settle(lambda: plan.run({}, {"n": 3})).data == {
        "echo": "echo ['echo'] [('number', 3), ('required', 'r')]"
    }


def test_fragments_conditions_and_repeated_keys_are_planned_as_graphql_core_collects_them():
    """The new cases are planned, and reach what makes them differ from plain fields."""
    results = {name: both_ways(*case)[0] for name, *case in CASES}
    data = {name: result["data"] for name, result in results.items()}
    merged = results["a merged non-null field that fails, located at every node"]["errors"]
    assert [len(error["locations"]) for error in merged] == [2]
    # `parentName` reports how many field nodes its resolve info has: both, or the fragment's once.
    assert data["a repeated leaf key"]["item"]["parentName"].endswith(" 2")
    assert data["the same fragment spread twice, collected once"]["item"]["parentName"].endswith(" 1")
    assert list(data["nested fragments, in document order"]["item"]) == ["id", "name", "maybe", "color"]
    assert data["a condition on another object type inside an interface's fragment"] == {
        "item": {"name": "thing 1", "id": "1"},
        "person": {"name": "pat", "nick": "p"},
    }
    assert data["literal @skip and @include on fields"] == {"item": {"name": "thing 1", "color": "RED"}}
    assert data["literal @skip and @include on spreads and inline fragments"] == {
        "item": {"name": "thing 1", "color": "RED", "id": "1"}
    }
    assert data["mutations from a fragment, a repeated key resolved once"]["b"] == ["a", "b"]
    # Variables decide: each combination gets its own fields, in the order graphql-core collects them.
    assert data["a variable condition on a field (True)"] == {"item": {"id": "1", "name": "thing 1"}}
    assert data["a variable condition on a field (False)"] == {"item": {"id": "1", "tags": ["a", "b"]}}
    spreads = {
        (x, y): data[f"variable conditions on spreads and inline fragments ({x}, {y})"]["item"]
        for x in (True, False)
        for y in (True, False)
    }
    assert list(spreads[True, True]) == ["id", "name"]
    assert list(spreads[True, False]) == ["id", "name", "tags"]
    assert list(spreads[False, True]) == ["color", "name"]
    assert list(spreads[False, False]) == ["tags"]
    assert data["a variable condition in a fragment definition (True)"] == {
        "item": {"name": "thing 1"},
        "failing": None,
    }
    assert data["a variable condition in a fragment definition (False)"] == {
        "item": {"id": "1", "name": "thing 1"}
    }


@pytest.mark.parametrize(
    ("text", "operation_name"),
    [
        (  # more variables deciding conditions than plans take (2 ** 4 variants)
            "query ($a: Boolean!, $b: Boolean!, $c: Boolean!, $d: Boolean!) { a: failing @include(if: $a)"
            " b: failing @skip(if: $b) c: badInt @include(if: $c) d: badInt @skip(if: $d) }",
            None,
        ),
        ("{ failing @tag }", None),
        ("{ ...F @tag } fragment F on Query { failing }", None),
        ("{ ... @tag { failing } }", None),
        ("{ ...F } fragment F on Query @tag { failing }", None),
        ("query @tag { failing }", None),
        ("query @skip(if: false) { failing }", None),
        ("{ __schema { queryType { name } } }", None),
        ('{ __type(name: "Item") { name } }', None),
        ("{ named { name } }", None),
        ("{ ...F } fragment F on Query { named { ... on Item { id } } }", None),
        ("{ failing } query Two { failing }", None),  # which operation: graphql-core says
        ("query One { failing }", "Nope"),
    ],
)
def test_what_plans_do_not_cover_gets_none(text, operation_name):
    assert compile_plan(schema, parse(text), operation_name) is None


def test_variable_conditions_get_one_variant_per_combination_and_a_null_one_goes_to_graphql_core():
    plan = compile_plan(schema, parse(CONDITIONAL_SPREADS), None)
    assert plan.condition_names == ("x", "y") and len(plan.variants) == 4
    three = (
        "query ($a: Boolean!, $b: Boolean!, $c: Boolean!)"
        " { a: failing @include(if: $a) b: failing @skip(if: $b) c: badInt @include(if: $c) }"
    )
    assert len(compile_plan(schema, parse(three), None).variants) == 8
    # `$y` has a default, so null may be given for it; the condition is then null, and graphql-core
    # words the error.
    assert plan.run({}, {"x": True, "y": None}) is None
    assert execute(schema, parse(CONDITIONAL_SPREADS), variable_values={"x": True, "y": None}).errors
    # A subscription's events run on the variant its variables choose.
    event = parse("subscription ($x: Boolean!) { event { id name @include(if: $x) } }")
    assert len(compile_event_plan(schema, event.definitions[0], {}).variants) == 2


def test_what_plans_do_not_cover_is_what_graphql_core_runs():
    """The operations above are ones graphql-core accepts (but for choosing among operations)."""
    for text in (
        "query ($a: Boolean!, $b: Boolean!, $c: Boolean!, $d: Boolean!) { a: failing @include(if: $a)"
        " b: failing @skip(if: $b) c: badInt @include(if: $c) d: badInt @skip(if: $d) }",
        "{ ...F @tag } fragment F on Query @tag { failing @tag }",
        "{ ...F } fragment F on Query { named { ... on Item { id } } }",
    ):
        assert validate(schema, parse(text)) == [], text


def test_the_apps_operations_all_get_plans():
    """What the tutorial and the clients send runs on a plan, not on graphql-core's executor."""
    texts = [value for name, value in vars(operations).items() if name.isupper() and isinstance(value, str)]
    texts = [text for text in texts if not text.lstrip().startswith("subscription")]
    assert len(texts) >= 6
    for text in texts:
        assert compile_plan(app_schema, parse(text), None) is not None, text


EVENT_OPERATIONS = [
    f"subscription {{ event {{ {ITEM_FIELDS} maybe {{ id }} }} }}",
    "subscription ($yes: Boolean!) { event { id name @include(if: $yes) ... @skip(if: $yes) { tags } } }",
    "subscription ($no: Boolean!) { event { id name @include(if: $no) ... @skip(if: $no) { tags } } }",
    "subscription { ...Root } fragment Root on Subscription { event { id ...Parts name maybe { id } } }"
    " fragment Parts on Item { name tags brokenName maybe { name } ... on Named { name } }",
    "subscription ($label: String) { event(label: $label) { id name __typename } }",
    "subscription { event { id brokenName } }",
    "subscription { e: event { id tags looseTags deep { deep { id } } } }",
    "subscription { deleted }",
]


@pytest.mark.parametrize("text", EVENT_OPERATIONS)
@pytest.mark.parametrize("event", [Thing("1", "one", ["a", None]), {"id": "2", "tags": []}, None, "gone"])
def test_an_event_plan_answers_as_graphql_core_does(text, event):
    """A subscription's selection runs on its plan for each event as graphql-core runs it."""
    document = parse(text)
    assert validate(schema, document) == []
    variables = {"label": "L", "yes": True, "no": False}
    operation = document.definitions[0]
    used = {node.variable.name.value for node in operation.variable_definitions or ()}
    executor = Executor.build(
        schema,
        document,
        context_value={"viewer": "ann"},
        raw_variable_values={name: value for name, value in variables.items() if name in used},
    )
    expected = settle(lambda: executor.build_per_event_executor(event).execute_operation(False))
    plan = compile_event_plan(schema, operation, executor.fragment_definitions)
    assert plan is not None
    plan = plan.chosen(executor.variable_values)  # the variant, where variables decide conditions
    actual = settle(lambda: plan.execute({"viewer": "ann"}, executor.variable_values, event))
    assert actual.formatted == expected.formatted
    assert repr(actual.formatted) == repr(expected.formatted)  # keys in the same order too


def test_generated_event_selections_answer_as_graphql_core_does():
    """Selections generated for `item` (an Item, as `event` is), run as a subscription's selection
    on its plan for each kind of event, answer as graphql-core answers them."""
    planned = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(text=queries(SDL, fields=["item"]))
    def check(text: str) -> None:
        item_field = parse(text).definitions[0].selection_set.selections[0]
        document = parse(f"subscription {{ event {print_ast(item_field.selection_set)} }}")
        plan = compile_event_plan(schema, document.definitions[0], {})
        if plan is None:
            return  # abstract types, which graphql-core runs
        for event in (Thing("1", "one", ["a", None]), {"id": "2", "tags": []}, None):
            executor = Executor.build(schema, document, context_value={"viewer": "ann"})
            calls.clear()
            expected = settle(partial(executor.build_per_event_executor(event).execute_operation, False))
            expected_calls = list(calls)
            calls.clear()
            actual = settle(partial(plan.execute, {"viewer": "ann"}, executor.variable_values, event))
            assert repr(actual.formatted) == repr(expected.formatted)
            assert calls == expected_calls
        planned.append(text)

    check()
    assert len(planned) >= 100


def test_requests_and_events_each_get_only_their_own_kind_of_plan():
    subscribe, ask = parse("subscription { deleted }"), parse("{ failing }")
    assert compile_plan(schema, subscribe, None) is None
    assert compile_event_plan(schema, ask.definitions[0], {}) is None
    assert compile_event_plan(schema, subscribe.definitions[0], {}) is not None


class Text(str):
    """A str subclass: String's coercion accepts it, and so the plan leaves it to graphql-core."""


@pytest.mark.parametrize(
    "inputs",
    [
        {"s": "a", "i": "1", "b": True},
        {"s": "a", "i": "1", "b": None},
        {"s": "a", "i": "1"},
        {"s": "a", "i": 7, "b": False},  # an Int for an ID: coerced to "7", by graphql-core
        {"s": "a", "i": 7.5},
        {"s": 1, "i": "1"},
        {"s": True, "i": "1"},
        {"s": None, "i": "1"},
        {"i": "1"},
        {"s": "a", "i": "1", "b": 1},
        {"s": "a", "i": "1", "b": "true"},
        {"s": Text("a"), "i": "1"},
        {"s": "a", "i": "1", "extra": object()},
        {},
    ],
)
@pytest.mark.parametrize(
    "definitions",
    [
        "$s: String!, $i: ID, $b: Boolean",
        "$s: String, $i: ID!, $b: Boolean!",
        '$s: String = "default", $i: ID, $b: Boolean',
        "$s: String!, $i: ID, $b: Boolean, $n: Int",
        "$s: String!, $i: ID, $b: Boolean, $c: Color",
    ],
)
def test_variables_coerce_as_graphql_core_coerces_them(definitions, inputs):
    """Coercion alone: the operation's selection does not matter here."""
    document = parse(f"query ({definitions}) {{ failing }}")
    plan = compile_plan(schema, document, None)
    expected = get_variable_values(schema, document.definitions[0].variable_definitions, inputs)
    assert _comparable(plan.coerce(inputs)) == _comparable(expected)


def _comparable(variables: Any) -> Any:
    """Variable values with each source's type by name (graphql-core makes new wrapping types each time)."""
    if isinstance(variables, list | None):
        return None  # errors (the plan leaves them to graphql-core, to word them)
    sources = {
        name: (source.signature.name, str(source.signature.type), source.signature.default, source.value)
        for name, source in variables.sources.items()
    }
    return sources, {name: (type(value), value) for name, value in variables.coerced.items()}


def test_plain_variables_are_coerced_without_graphql_cores_walk(monkeypatch):
    plain = compile_plan(schema, parse("query ($s: String!, $i: ID, $b: Boolean) { failing }"), None)
    general = compile_plan(schema, parse("query ($s: String!, $n: Int) { failing }"), None)
    walked = []
    monkeypatch.setattr("plans.get_variable_values", lambda *args, **kwargs: walked.append(args) or [])
    assert plain.coerce({"s": "a", "b": True}).coerced == {"s": "a", "b": True}
    assert walked == []
    assert plain.coerce({"s": 5}) is None  # not plain: graphql-core's walk (here, stubbed to fail)
    assert general.coerce({"s": "a", "n": 1}) is None
    assert len(walked) == 2


def test_resolvers_of_any_callable_kind_are_planned_and_a_failure_to_plan_is_graphql_cores_to_run(
    caplog, monkeypatch
):
    class Greeter:
        def __call__(self, _source: Any, _info: Any) -> str:
            return "hello"

    odd = make_executable_schema("type Query { hello: String }")
    odd.query_type.fields["hello"].resolve = Greeter()
    plan = compile_plan(odd, parse("{ hello }"), None)
    assert settle(lambda: plan.run({}, None)).data == {"hello": "hello"}

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug in planning")

    monkeypatch.setattr("plans._plan_selection", broken)
    assert compile_plan(odd, parse("{ hello }"), None) is None  # and graphql-core runs it
    assert "Could not plan an operation" in caplog.text


def test_what_a_propagated_null_leaves_behind_still_settles():
    """An async sibling of a field whose null reaches the root still runs to its end, unawaited by
    the response (graphql-core settles it in the background too), and leaves no warning."""
    import gc
    import warnings

    plan = compile_plan(
        schema, parse('{ asyncItem(id: "1") { id } a: awaitableItems { id } failingNonNull }'), None
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = settle(lambda: plan.run({}, None))
        gc.collect()
    assert result.data is None
    assert [str(warning.message) for warning in caught if "never awaited" in str(warning.message)] == []


def test_async_fields_wait_together_as_on_graphql_core():
    """Resolvers waiting on I/O (a database's answer) wait at the same time, as graphql-core lets
    them: root fields, and the fields of a list's items. One after the other, each would wait for
    a partner that is not there yet."""
    meeting = QueryType()
    arrived: list[str] = []

    async def meet(name: str) -> str:
        arrived.append(name)
        for _ in range(100):  # until the others have arrived too, or a tenth of a second
            if len(arrived) >= 3:
                break
            await asyncio.sleep(0.001)
        return f"{name} met {len(arrived) - 1}"

    @meeting.field("meet")
    def resolve_meet(_: Any, __: Any, name: str) -> Any:
        return meet(name)

    @meeting.field("people")
    def resolve_people(*_: Any) -> list[dict]:
        return [{"name": "ann"}, {"name": "bob"}, {"name": "cid"}]

    person = ObjectType("Person")

    @person.field("met")
    def resolve_met(source: dict, *_: Any) -> Any:
        return meet(source["name"])

    meeting_schema = make_executable_schema(
        "type Query { meet(name: String!): String people: [Person] }"
        " type Person { name: String met: String }",
        meeting,
        person,
    )
    all_met = {"a": "ann met 2", "b": "bob met 2", "c": "cid met 2"}
    for text, expected in [
        ('{ a: meet(name: "ann") b: meet(name: "bob") c: meet(name: "cid") }', all_met),
        ("{ people { met } }", {"people": [{"met": value} for value in all_met.values()]}),
    ]:
        arrived.clear()
        assert settle(partial(execute, meeting_schema, parse(text))).formatted == {"data": expected}
        arrived.clear()
        plan = compile_plan(meeting_schema, parse(text), None)
        assert settle(partial(plan.run, {}, None)).formatted == {"data": expected}
