"""graphql-core's executor, fitted to this server: for subscription events (with their wiring into
Ariadne's WebSocket handlers) and for queries and mutations (`RequestExecutor`, below).

A subscription's events run on its operation's plan (plans.py), one plan for
all the subscriptions of that operation (one variant for those whose
variables give @skip/@include the same values), fragments included, wherever
it has one; what follows about field collection concerns the operations
without (other directives, abstract types), which graphql-core's executor
still runs, as it runs the queries and mutations without a plan.

graphql-core 3.3 runs each subscription event on a copy of the subscription's
executor, and each copy collects the operation's root fields anew. The memo
of collected sub-fields is keyed by the identity of those new field lists and
is shared by all the copies, so it misses on every event and keeps one more
entry each time: every event pays for a full field collection, and a
subscription's memory grows with every message it delivers.
`SubscriptionExecutor` collects the root fields once per subscription and
gives every event the same lists: the memo then hits, and holds one entry per
selection for the subscription's whole life. Nothing else changes; the
fields collected depend only on the document, its variables and the schema,
which are fixed for a subscription.

Without @skip/@include they depend on the document and the schema alone, and
the document cache hands every client sending the same text the same parsed
document: such subscriptions then share one collection (`SharedCollections`),
so ten thousand subscribers of one operation keep one memo, not ten thousand,
and a subscription's first message allocates nothing that outlives it.

One published message often reaches many subscriptions that would compute
the same result: a user's many tabs and devices subscribe with the same
operation text (the document cache then gives them the same parsed
document) and the same variables. The hub hands every subscription the
message in one `Delivery`, and the first of those subscriptions to execute
it leaves its result there for the others with the same sharing key: the
operation, the coerced variables, and what the per-event resolvers read
from the context, which is only where `Attachment.url` points (the viewer,
the store and the limits are read by the source, once, at subscribe time).
A resolver reachable from a subscription that reads more of the context
must add it to `_context_key`. The shared result's data is a
`json_codec.JSONOnce`, so its JSON is also written once, whatever number of
frames carry it. Nothing is kept anywhere else: a delivery and its results
are garbage once each of its subscriptions has moved on to the next event
(graphql-core's stream holds the latest one) or ended. Results with errors
are not shared (their tracebacks would keep the first subscriber's frames
alive), nor are replayed messages, which come alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import partial
from typing import Any

from ariadne.asgi.handlers import graphql_transport_ws, graphql_ws
from ariadne.graphql import subscribe
from graphql import (
    ExecutionResult,
    Executor,
    FragmentDefinitionNode,
    GraphQLObjectType,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import DeferUsage, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue

from identity_cache import MISSING, IdentityCache
from json_codec import JSONOnce
from plans import Plan, compile_event_plan, walk_selections


class Delivery:
    """One event (a message, a deleted message's id) on its way to many subscriptions.

    The hub wraps each event once per publish and offers the same object to
    every subscription it reaches; the subscription fields' resolvers read
    `event`. `results` holds what its subscriptions computed for it, for the
    others with the same sharing key; it lives only as long as the delivery.
    """

    __slots__ = ("__weakref__", "event", "results")

    def __init__(self, event: Any) -> None:
        self.event = event
        # sharing key -> (the operation, kept so its id stays its own; the result)
        self.results: dict[Hashable, tuple[Any, ExecutionResult]] = {}


def delivered(item: Any) -> Any:
    """The event itself, whether it came in a `Delivery` (live) or alone (replayed from the store)."""
    return item.event if type(item) is Delivery else item


def _frozen(value: Any) -> Hashable:
    """A hashable form of coerced variable values, with types kept (so 1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return (dict, tuple(sorted((key, _frozen(item)) for key, item in value.items())))
    if isinstance(value, list | tuple):
        return (list, tuple(_frozen(item) for item in value))
    hash(value)  # TypeError for a value that cannot be a key
    return (type(value), value)


def _context_key(context: Any) -> Hashable:
    """What the per-event resolvers read from the context: where `Attachment.url` points.

    `url_for` builds it from the app's router and the connection's base URL
    (scheme, host, root path). Without a request to read them from, the
    subscription shares with no other.
    """
    request = context.get("request") if isinstance(context, dict) else None
    scope = getattr(request, "scope", None)
    base_url = getattr(request, "base_url", None) if isinstance(scope, dict) else None
    if base_url is None:
        return object()  # the key holds it, so no other key equals this one
    return id(scope.get("router") or scope.get("app")), str(base_url)


# A collection: the root fields (one grouped field set, once collected) and graphql-core's memo
# of collected sub-fields, keyed by the identity of the field lists in those root fields.
Collection = tuple[list[GroupedFieldSet], dict[Any, Any]]


class SharedCollections:
    """Field collections of operations, one per schema and parsed operation (bounded: the document
    cache, in front, keeps the operations in use; a forgotten one's executors keep theirs)."""

    def __init__(self, size: int) -> None:
        self._cache = IdentityCache(size)

    def get(
        self, schema: Any, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
    ) -> Collection | None:
        """The operation's shared collection; None when it has directives (variables may decide fields)."""
        key = (id(schema), id(operation))
        collection = self._cache.lookup(key)
        if collection is MISSING:
            collection = None if _has_directives(operation, fragments) else ([], {})
            self._cache.remember(key, (schema, operation), collection)
        return collection

    def __len__(self) -> int:
        return len(self._cache)


def _has_directives(operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    return any(selection.directives for selection in walk_selections(operation, fragments))


shared_collections = SharedCollections(size=256)
# Subscription operations' plans (plans.py), by schema and operation.
event_plans = IdentityCache(size=256)


class SharingExecutor(Executor):
    """An executor taking its operation's field collection from `shared_collections` when it can."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared by the per-event copies of a subscription (graphql-core makes them with copy.copy).
        shared = shared_collections.get(self.schema, self.operation, self.fragment_definitions)
        if shared is None:
            self._root_fields: list[GroupedFieldSet] = []
        else:
            self._root_fields, self._relevant_sub_fields = shared

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._root_fields:
            self._root_fields.append(grouped_field_set)
        return super().execute_collected_root_fields(
            root_type, root_value, self._root_fields[0], serially, new_defer_usages
        )


class SubscriptionExecutor(SharingExecutor):
    """An executor whose per-event copies share one collection of the operation's fields (itself
    shared with the other subscriptions of the same operation when no directive is used), and
    whose events' results are shared with the other subscriptions of the same `Delivery`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared by the per-event copies, like the collection.
        self._sharing_key: list[Hashable] = []
        self._event_plan: list[Plan | None] = []

    def __copy__(self) -> SubscriptionExecutor:
        """A shallow copy, as `copy.copy` makes one, without its generic (and slow) protocol.

        graphql-core copies the executor for every event of every subscription.
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def sharing_key(self) -> Hashable:
        """What decides an event's result besides the event itself; fixed for the subscription."""
        if not self._sharing_key:
            try:
                variables = _frozen(self.variable_values.coerced)
            except TypeError:  # a value that cannot be hashed: share with no other subscription
                variables = object()
            key = (id(self.schema), id(self.operation), variables, _context_key(self.context_value))
            self._sharing_key.append(key)
        return self._sharing_key[0]

    def execute_operation(self, serially: bool | None = None) -> Any:
        if serially is not False:
            return super().execute_operation(serially)  # not an event
        delivery = self.root_value
        if type(delivery) is not Delivery:
            return self.execute_event()  # a replayed event: it comes alone
        key = self.sharing_key()
        shared = delivery.results.get(key)
        if shared is not None:
            return shared[1]
        result = self.execute_event()
        if type(result) is ExecutionResult and not result.errors and result.data is not None:
            result = ExecutionResult(JSONOnce(result.data))
            delivery.results[key] = (self.operation, result)
        return result

    def execute_event(self) -> Any:
        """The event's result on the operation's plan (shared by all its subscriptions; where variables
        decide @skip/@include, the variant this subscription's values choose), or graphql-core's."""
        if not self._event_plan:
            key = (id(self.schema), id(self.operation))
            plan = event_plans.lookup(key)
            if plan is MISSING:
                plan = compile_event_plan(self.schema, self.operation, self.fragment_definitions)
                event_plans.remember(key, (self.schema, self.operation), plan)
            self._event_plan.append(None if plan is None else plan.chosen(self.variable_values))
        plan = self._event_plan[0]
        if plan is None:
            return super().execute_operation(False)
        return plan.execute(self.context_value, self.variable_values, self.root_value)


class RequestExecutor(SharingExecutor):
    """graphql-core's executor for queries and mutations, sharing field collections, leaving no
    reference cycle behind.

    An executor keeps helpers made of its own bound methods, a cycle that only
    the cyclic garbage collector can free, with everything the request
    touched (its context, variables, collected fields): about twenty objects
    per small query, fifty per `createMessage`. Collecting them costs time on
    every request and, as they pile up between passes, long full passes that
    stall delivery. The response is the executor's last step (the schema has
    no @defer/@stream), so the cycle is broken there and reference counting
    frees the request's objects as soon as it is answered.
    """

    def build_response(self, data: dict[str, Any] | None) -> ExecutionResult:
        response = super().build_response(data)
        del self.async_helpers
        return response


def use_subscription_executor() -> None:
    """Make Ariadne's two WebSocket handlers run subscriptions on `SubscriptionExecutor`.

    They call Ariadne's `subscribe` without an executor class, and it passes
    extra keyword arguments on to graphql-core: the module-level name each
    handler calls is pointed at `subscribe` with that one argument added.
    """
    subscribe_with_executor = partial(subscribe, executor_class=SubscriptionExecutor)
    graphql_transport_ws.subscribe = subscribe_with_executor
    graphql_ws.subscribe = subscribe_with_executor
