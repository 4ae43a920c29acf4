"""The graphql-core executor for subscription events, and its wiring into Ariadne's WebSocket handlers.

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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
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

# A collection: the root fields (one grouped field set, once collected) and graphql-core's memo
# of collected sub-fields, keyed by the identity of the field lists in those root fields.
Collection = tuple[list[GroupedFieldSet], dict[Any, Any]]


class SharedCollections:
    """Field collections of subscription operations, one per schema and parsed operation.

    Bounded: beyond `size` operations the least recently used is forgotten
    (its subscriptions keep theirs). Entries hold the schema and the operation,
    so their ids, the key, stay theirs. Servers in threads of one process
    (the tests) share it, hence the lock.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, int], tuple[Any, Any, Collection | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, schema: Any, operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
    ) -> Collection | None:
        """The operation's shared collection; None when it has directives (variables may decide fields)."""
        key = (id(schema), id(operation))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is schema and entry[1] is operation:
                self._entries.move_to_end(key)
                return entry[2]
            collection = None if _has_directives(operation, fragments) else ([], {})
            self._entries[key] = (schema, operation, collection)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return collection


def _has_directives(operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    selection_sets = [operation.selection_set, *(fragment.selection_set for fragment in fragments.values())]
    while selection_sets:
        for selection in selection_sets.pop().selections:
            if selection.directives:
                return True
            if getattr(selection, "selection_set", None) is not None:
                selection_sets.append(selection.selection_set)
    return False


shared_collections = SharedCollections(size=256)


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
    """An executor whose per-event copies share one collection of the operation's root fields,
    itself shared with the other subscriptions of the same operation when no directive is used."""


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
